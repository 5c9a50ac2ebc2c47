"""A job run again and again while its inputs and code change and its workers are killed,
checked after every run that exits 0 against plain Python over the inputs and code as
they were when that run started. Shared by tests/integration/test_property_runs.py (a
small Hypothesis profile, in CI) and ``python -m benchmarks.property_runs`` (a long one).

A scenario is drawn by Hypothesis: a few small text files; ``task_bytes``/``split_bytes``;
``cache`` on or off; then up to four runs, each after some changes: a file added (its name
sorting first, so every task's position shifts), deleted, rewritten (same size or not),
the job's code edited (its minimum word length, in a module of a temporary job package),
and a worker killed at a commit point (once, or on every attempt). ``lmr run`` runs as a
user runs it, a process with a worker pool.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "lmrpropjobs"
WORDS = ["alpha", "be", "gamma", "do", "epsilon", "f", "kappa", "omega", "pi", "sigma"]
KILL_POINTS = ("map.before_write", "map.mid_write", "map.before_commit", "reduce.before_commit")

JOB = '''from pyspark.sql import functions as F

from engine import Mapper, Reducer

MIN_LENGTH = {min_length}


class Words(Mapper):
    input_format = "text"

    def map(self, df, ctx):
        words = F.explode(F.split(F.lower(F.col("value")), "[^a-z]+")).alias("word")
        return df.select(words).where(F.length("word") >= MIN_LENGTH)


class Count(Reducer):
    output_format = "csv"

    def reduce(self, df, ctx):
        return df.groupBy("word").count()
'''


@dataclass
class Counts:
    runs: int = 0
    succeeded: int = 0
    killed: int = 0
    checked: int = 0
    changes: Counter = field(default_factory=Counter)


def text(draw) -> str:
    lines = draw(st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6), min_size=1, max_size=6))
    return "".join(" ".join(line) + "\n" for line in lines)


@st.composite
def scenarios(draw) -> dict:
    files = {f"f{i}.txt": text(draw) for i in range(draw(st.integers(1, 3)))}
    runs = []
    for _ in range(draw(st.integers(1, 4))):
        runs.append({
            "change": draw(st.sampled_from(["none", "add_first", "delete", "rewrite", "rewrite_same_size", "code"])),
            "text": text(draw),
            "min_length": draw(st.integers(1, 5)),
            "kill": draw(st.sampled_from([None, *KILL_POINTS])),
            "kill_once": draw(st.booleans()),
        })
    return {"files": files, "task_bytes": draw(st.sampled_from([1, 40, 1 << 20])),
            "split_bytes": draw(st.sampled_from([None, 64, 100])), "cache": draw(st.booleans()),
            "min_length": draw(st.integers(1, 5)), "runs": runs}


def oracle(folder: Path, min_length: int) -> dict[str, int]:
    counts: Counter = Counter()
    for path in sorted(folder.glob("*.txt")):
        for word in re.split(r"[^a-z]+", path.read_text().lower()):
            if word and len(word) >= min_length:
                counts[word] += 1
    return dict(counts)


def published(out: Path) -> dict[str, int]:
    marker = json.loads((out / "_SUCCESS").read_text())
    counts: dict[str, int] = {}
    for name in marker["files"]:
        lines = (out / name).read_text().splitlines()
        for line in lines[1:] if lines and lines[0] == "word,count" else lines:
            if line:
                word, count = line.rsplit(",", 1)
                counts[word] = counts.get(word, 0) + int(count)
    return counts


def _change(data: Path, run: dict, counts: Counts) -> None:
    files = sorted(data.glob("*.txt"))
    change = run["change"]
    if change == "add_first":
        (data / f"a{len(files)}-{counts.runs}.txt").write_text(run["text"])   # sorts before f*.txt
    elif change == "delete" and len(files) > 1:
        files[0].unlink()
    elif change == "rewrite" and files:
        files[-1].write_text(run["text"])
    elif change == "rewrite_same_size" and files:
        old = files[-1].read_text()
        new = "".join("x" if c.isalpha() else c for c in old)   # other words, the same size
        before = files[-1].stat()
        files[-1].write_text(new)
        os.utime(files[-1], ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    else:
        return
    counts.changes[change] += 1


def play(scenario: dict, tmp: Path, counts: Counts) -> None:
    """Run the scenario; raise AssertionError when a run exits 0 with a wrong output."""
    data, package = tmp / "in", tmp / "pkg" / PACKAGE
    data.mkdir(parents=True)
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name, body in scenario["files"].items():
        (data / name).write_text(body)
    min_length = scenario["min_length"]
    (package / "job.py").write_text(JOB.format(min_length=min_length))
    manifest = tmp / "job.json"
    manifest.write_text(json.dumps({
        "name": "prop", "mapper": f"{PACKAGE}.job:Words", "reducer": f"{PACKAGE}.job:Count",
        "task_bytes": scenario["task_bytes"], "cache": scenario["cache"], "retries": 1,
        **({"split_bytes": scenario["split_bytes"]} if scenario["split_bytes"] else {}),
        "input": {"prefix": str(data), "glob": "*.txt"}, "output": {"path": str(tmp / "out")}}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp / "pkg"), str(REPO)]),
           "LMR_JOB_PACKAGES": f"jobs,{PACKAGE}", "LMR_RETRY_BASE_SECONDS": "0.01"}
    for i, run in enumerate(scenario["runs"]):
        if i:
            _change(data, run, counts)
            if run["change"] == "code":
                min_length = run["min_length"]
                (package / "job.py").write_text(JOB.format(min_length=min_length))
                counts.changes["code"] += 1
        expected = oracle(data, min_length)
        run_env = dict(env)
        if run["kill"]:
            run_env["LMR_FAULT"] = run["kill"]
            if run["kill_once"]:
                run_env["LMR_FAULT_ONCE_DIR"] = str(tmp / f"once-{i}")
        done = subprocess.run([sys.executable, "-m", "engine.cli.main", "run", str(manifest), "--workers", "1",
                               "--work-dir", str(tmp / "work")], cwd=REPO, env=run_env,
                              capture_output=True, text=True, timeout=600)
        counts.runs += 1
        counts.killed += bool(run["kill"])
        if done.returncode == 0:
            counts.succeeded += 1
            got = published(tmp / "out")
            assert got == expected, (f"run {i + 1} exited 0 with a wrong output\nscenario: {scenario}\n"
                                     f"stdout: {done.stdout[-2000:]}")
            counts.checked += 1
        else:
            assert done.returncode in (1, 2), done.stdout[-2000:] + done.stderr[-2000:]

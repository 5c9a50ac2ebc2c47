"""The AppCDS class archive with real JVMs: a local run caches one and the next run maps
it; an archive that does not fit (here: garbage) is ignored and Spark starts anyway."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO
from tests.oracles import word_counts

WORDCOUNT = {"name": "wc-cds", "mapper": "jobs.wordcount:SplitWords", "reducer": "jobs.wordcount:SumCounts"}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO), **env})


def session_lines(work, job_id: str) -> list[str]:
    text = "".join(p.read_text() for p in (work / "jobs" / job_id / "logs").glob("*.log"))
    return [json.loads(line)["message"] for line in text.splitlines()
            if line.startswith("{") and "spark session started" in line]


def test_a_local_run_caches_a_class_archive_and_the_next_run_maps_it(samples, tmp_path):
    files = sorted((samples / "wordcount").glob("*.txt"))
    manifest = tmp_path / "wc.json"
    manifest.write_text(json.dumps({**WORDCOUNT, "input": {"files": [str(f) for f in files]},
                                    "output": {"path": str(tmp_path / "out"), "format": "csv"},
                                    "work_dir": str(tmp_path / "work")}))
    env = {"LMR_CACHE_DIR": str(tmp_path / "cache")}
    for key in ("LMR_CDS", "LMR_CDS_ARCHIVE"):
        env[key] = ""
    first = run(["-m", "engine.cli.main", "run", str(manifest), "--fresh", "--json"], env)
    assert first.returncode == 0, first.stderr
    job_id = json.loads(first.stdout)["job_id"]
    assert any("writing a class archive at exit" in m for m in session_lines(tmp_path / "work", job_id))
    [archive] = (tmp_path / "cache").iterdir()          # one archive, renamed whole: no .tmp left
    assert archive.suffix == ".jsa" and archive.stat().st_size > 10_000_000

    second = run(["-m", "engine.cli.main", "run", str(manifest), "--fresh", "--json"], env)
    assert second.returncode == 0, second.stderr
    assert any(f"class archive {archive}" in m for m in session_lines(tmp_path / "work", job_id))
    published = json.loads((tmp_path / "out" / "_SUCCESS").read_text())["files"]
    got = {line.split(",")[0]: int(line.split(",")[1])
           for name in published for line in (tmp_path / "out" / name).read_text().splitlines()[1:]}
    assert got == dict(word_counts(files))


def test_a_class_archive_that_does_not_fit_is_ignored(tmp_path):
    bad = tmp_path / "bad.jsa"
    bad.write_bytes(os.urandom(200_000))
    code = ("from engine.spark import session; s = session.get_spark(); "
            "print(s.range(1000).selectExpr('sum(id)').first()[0])")
    done = run(["-c", code], {"LMR_CDS_ARCHIVE": str(bad)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(sum(range(1000)))

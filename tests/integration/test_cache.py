"""The cache across jobs ("cache": true), run locally with real Spark: a job whose Mapper
and inputs did not change reuses the committed map tasks of an earlier job; changed
code or a changed input runs again; a deleted job's tasks are never read as cached.

The job's code is a module written into a temporary package, so a test can edit it as
a user would. Each Mapper call leaves a file in $LMR_TEST_SCRATCH: the count of those
files is how many map tasks really ran. Outputs are compared with plain Python.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from engine.job.layout import JobLayout
from tests.conftest import run_local

PACKAGE = "lmrcachejobs"

HEADER = '''
import os
import uuid

from pyspark.sql import functions as F

from engine import Mapper, Reducer
'''

# Both Mappers emit (word, length): a pruning engine would drop `length` for COUNT_ALL.
MAPPER_AS_IS = '''
class Words(Mapper):
    input_format = "text"

    def map(self, df, ctx):
        open(os.path.join(os.environ["LMR_TEST_SCRATCH"], f"mapped-{ctx.task_id}-{uuid.uuid4().hex}"), "w").close()
        word = F.explode(F.split(F.col("value"), " ")).alias("word")
        return df.select(word).where("word != ''").select("word", F.length("word").alias("length"))
'''
MAPPER_LOWER = MAPPER_AS_IS.replace('F.col("value")', 'F.lower(F.col("value"))')

COUNT_ALL = '''
class Count(Reducer):
    output_format = "csv"

    def reduce(self, df, ctx):
        return df.groupBy("word").count()
'''
COUNT_LONG = '''
class Count(Reducer):
    output_format = "csv"

    def reduce(self, df, ctx):
        return df.where("length > 3").groupBy("word").count()
'''

TEXTS = {"a.txt": "The cat saw the Dog\nthe end", "b.txt": "Dog days of summer", "c.txt": "a cat a hat The hat"}


def expected(inputs: Path, lower: bool = False, min_length: int = 0) -> dict[str, int]:
    words = Counter()
    for path in sorted(inputs.iterdir()):
        for word in path.read_text().replace("\n", " ").split(" "):
            word = word.lower() if lower else word
            if word and len(word) > min_length:
                words[word] += 1
    return dict(words)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path -> content hash)."""
    import hashlib

    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def output(folder: Path) -> dict[str, int]:
    frames = [pd.read_csv(p, keep_default_na=False) for p in sorted(folder.glob("*.csv"))]
    got = pd.concat(frames)
    return dict(zip(got["word"], got["count"]))


class Job:
    """A user's job package in tmp_path, edited between runs."""

    def __init__(self, tmp_path: Path, monkeypatch):
        self.root, self.scratch = tmp_path / "code", tmp_path / "scratch"
        self.inputs, self.out, self.tmp = tmp_path / "inputs", tmp_path / "out", tmp_path
        for folder in (self.root / PACKAGE, self.scratch, self.inputs):
            folder.mkdir(parents=True)
        (self.root / PACKAGE / "__init__.py").write_text("")
        for name, text in TEXTS.items():
            (self.inputs / name).write_text(text)
        monkeypatch.syspath_prepend(str(self.root))
        monkeypatch.setenv("LMR_JOB_PACKAGES", f"jobs,tests,{PACKAGE}")
        monkeypatch.setenv("LMR_TEST_SCRATCH", str(self.scratch))

    def write(self, mapper: str, reducer: str) -> None:
        shutil.rmtree(self.root / PACKAGE / "__pycache__", ignore_errors=True)
        (self.root / PACKAGE / "wc.py").write_text(HEADER + mapper + reducer)
        for name in [m for m in sys.modules if m.startswith(PACKAGE)]:
            del sys.modules[name]
        importlib.invalidate_caches()

    def run(self, cache: bool = True):
        """(status, spec, how many map tasks ran)."""
        for mapped in self.scratch.glob("mapped-*"):
            mapped.unlink()
        status, spec, _ = run_local(
            {"name": "words", "mapper": f"{PACKAGE}.wc:Words", "reducer": f"{PACKAGE}.wc:Count",
             "cache": cache, "task_bytes": 1, "input": {"prefix": str(self.inputs)},
             "output": {"path": str(self.out), "format": "csv"}}, self.tmp)
        return status, spec, len(list(self.scratch.glob("mapped-*")))

    def forget(self, job_id: str) -> None:
        """What a user's clean-up does: the job's whole folder goes."""
        shutil.rmtree(JobLayout(str(self.tmp / "work"), job_id).job_dir)


@pytest.fixture
def job(tmp_path, monkeypatch, spark):
    yield Job(tmp_path, monkeypatch)
    for name in [m for m in sys.modules if m.startswith(PACKAGE)]:
        del sys.modules[name]


def test_only_what_changed_runs_again(job):
    job.write(MAPPER_AS_IS, COUNT_ALL)
    first, spec1, ran = job.run()
    assert (first.state, ran, first.tasks_cached) == ("SUCCEEDED", 3, 0)
    assert output(job.out) == expected(job.inputs)

    # Only the Reducer changed: a new job, whose map tasks all come from the first one.
    job.write(MAPPER_AS_IS, COUNT_LONG)
    second, spec2, ran = job.run()
    assert spec2.job_id != spec1.job_id
    assert (second.state, ran, second.tasks_cached) == ("SUCCEEDED", 0, 3)
    assert {(t.status, t.source_job) for t in second.tasks} == {("CACHED", spec1.job_id)}
    assert output(job.out) == expected(job.inputs, min_length=3)

    # The Mapper changed: every map task runs.
    job.write(MAPPER_LOWER, COUNT_LONG)
    third, spec3, ran = job.run()
    assert (third.state, ran, third.tasks_cached) == ("SUCCEEDED", 3, 0)
    assert output(job.out) == expected(job.inputs, lower=True, min_length=3)

    # One input changed (and the Reducer, so that it is a new job): only its task runs.
    (job.inputs / "b.txt").write_text("Summer dogs bark at summer cats")
    job.write(MAPPER_LOWER, COUNT_ALL)
    fourth, _, ran = job.run()
    assert (fourth.state, ran, fourth.tasks_cached) == ("SUCCEEDED", 1, 2)
    ran_again = [t for t in fourth.tasks if t.status != "CACHED"]
    assert [t.inputs for t in ran_again] == [[str(job.inputs / "b.txt")]]
    assert output(job.out) == expected(job.inputs, lower=True)


def test_a_deleted_jobs_tasks_are_never_read_as_cached(job):
    job.write(MAPPER_AS_IS, COUNT_ALL)
    _, spec1, ran = job.run()
    assert ran == 3

    # The cache entries point at a job whose folder is gone: the tasks run again.
    job.forget(spec1.job_id)
    job.write(MAPPER_AS_IS, COUNT_LONG)
    second, spec2, ran = job.run()
    assert (second.state, ran, second.tasks_cached) == ("SUCCEEDED", 3, 0)
    assert output(job.out) == expected(job.inputs, min_length=3)

    # A job whose tasks were reused, run again after their source job was deleted: its
    # markers point nowhere, so those tasks run again rather than read missing parts.
    job.write(MAPPER_AS_IS, COUNT_ALL)
    third, spec3, ran = job.run()
    assert (ran, third.tasks_cached) == (0, 3)
    job.forget(spec2.job_id)
    before = snapshot(job.tmp)
    again, spec3_again, ran = job.run()
    assert spec3_again.job_id == spec3.job_id
    # Dropping the dangling pointers deletes only this job's own CACHED markers and their
    # summaries; everything outside the job's folder and the output it replaces stands.
    after = snapshot(job.tmp)
    own, entries = f"work/jobs/{spec3.job_id}/", ("work/jobs/_cache/", "scratch/")   # re-pointed; map traces
    assert {p: h for p, h in before.items() if not p.startswith((own, *entries, "out/"))} == \
        {p: h for p, h in after.items() if not p.startswith((own, *entries, "out/"))}
    assert {p for p in before if p.startswith(entries[0])} == {p for p in after if p.startswith(entries[0])}
    gone = sorted(p[len(own):] for p in set(before) - set(after) if p.startswith(own))
    assert [p for p in gone if not ("/_COMMITTED." in p or p.startswith("done/"))] == []
    assert sum(p.startswith("done/") for p in gone) == 3   # the pointers' summaries (their markers are rewritten)
    assert (again.state, ran, again.tasks_cached) == ("SUCCEEDED", 3, 0)
    assert output(job.out) == expected(job.inputs)


def test_without_cache_nothing_is_reused(job):
    job.write(MAPPER_AS_IS, COUNT_ALL)
    job.run()
    job.write(MAPPER_AS_IS, COUNT_LONG)
    status, _, ran = job.run(cache=False)
    assert (status.state, ran, status.tasks_cached) == ("SUCCEEDED", 3, 0)
    assert output(job.out) == expected(job.inputs, min_length=3)


def test_a_source_whose_parts_are_gone_is_not_reused(job):
    """A partial clean-up (an expiry rule took the parts, not the markers): the marker
    alone does not make a cache entry valid."""
    job.write(MAPPER_AS_IS, COUNT_ALL)
    _, spec1, _ = job.run()
    intermediate = Path(JobLayout(str(job.tmp / "work"), spec1.job_id).job_dir) / "intermediate"
    parts = [p for p in intermediate.rglob("*") if p.is_file() and not p.name.startswith("_COMMITTED")]
    assert parts
    parts[0].unlink()
    job.write(MAPPER_AS_IS, COUNT_LONG)
    second, _, ran = job.run()
    assert (second.state, ran, second.tasks_cached) == ("SUCCEEDED", 1, 2)
    assert output(job.out) == expected(job.inputs, min_length=3)


def test_a_job_whose_code_changed_is_not_resumed_with_the_new_code(job, capsys):
    """A job's tasks all run the code it started with: `lmr resume` refuses, naming what
    changed, and writes nothing; the manifest run again is a new job."""
    from engine.cli.main import main
    from engine.job.status import read_status
    from engine.store.storage import Storage

    job.write(MAPPER_AS_IS, COUNT_ALL)
    _, spec, _ = job.run()
    before = read_status(spec.work_dir, spec.job_id, Storage())
    job.write(MAPPER_LOWER, COUNT_ALL)
    capsys.readouterr()
    assert main(["resume", spec.job_id, "--work-dir", spec.work_dir]) == 2
    err = capsys.readouterr().err
    assert f"job {spec.job_id} cannot be resumed: its mapper and reducer code changed" in err and len(err.splitlines()) == 1
    assert read_status(spec.work_dir, spec.job_id, Storage()) == before

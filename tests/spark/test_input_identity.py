"""A task's identity is what it reads, and what is read is what was planned.

A job that failed part-way is run again after its inputs changed (a file added before the
others, one deleted, one rewritten with the same size): the output must be the word count
of the inputs as they are at that run, computed in plain Python. An input that changes
between planning and reading fails its task naming the file; a local input swapped for a
symlink to a file outside the allowed locations is refused at read time (a retried task or
a resumed run plans nothing anew)."""

from __future__ import annotations

import csv
import json
import os

import pytest

from engine.errors import InputChangedError, PermanentStorageError
from engine.job.planning import plan_job
from engine.job.manifest import load_manifest
from engine.task.map import run_map_task
from engine.task.reduce import run_reduce_task
from tests.conftest import run_local
from tests.oracles import word_counts

TEXTS = {"b.txt": "alpha beta beta\n", "c.txt": "gamma gamma\n", "d-broken.txt": "delta\n"}


def published_counts(out) -> dict[str, int]:
    marker = json.loads((out / "_SUCCESS").read_text())
    counts: dict[str, int] = {}
    for name in marker["files"]:
        rows = list(csv.reader((out / name).read_text().splitlines()))
        for word, count in rows[1:] if rows and rows[0] == ["word", "count"] else rows:
            counts[word] = counts.get(word, 0) + int(count)
    return counts


@pytest.mark.parametrize("change", ["add_before", "delete_first", "rewrite_same_size"])
def test_a_rerun_after_the_inputs_changed_publishes_the_inputs_as_they_are(spark, tmp_path, monkeypatch, change):
    monkeypatch.setenv("LMR_TEST_SCRATCH", str(tmp_path))
    data = tmp_path / "in"
    data.mkdir()
    for name, text in TEXTS.items():
        (data / name).write_text(text)
    manifest = {"name": "identity", "mapper": "tests.testjobs:FailsUntilFixed", "reducer": "jobs.wordcount:SumCounts",
                "task_bytes": 1, "input": {"prefix": str(data), "glob": "*.txt"},
                "output": {"path": str(tmp_path / "out")}}
    first, _, _ = run_local(manifest, tmp_path)
    assert first.state == "FAILED"            # d-broken.txt failed; b and c committed

    if change == "add_before":                # shifts every task's position by one
        (data / "a.txt").write_text("omega omega omega\n")
    elif change == "delete_first":
        (data / "b.txt").unlink()
    else:                                     # same size, other words: only the mtime tells
        before = (data / "c.txt").stat()
        (data / "c.txt").write_text("kappa kappa\n")
        os.utime(data / "c.txt", ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    (tmp_path / "fixed").touch()

    second, _, _ = run_local(manifest, tmp_path)
    assert second.state == "SUCCEEDED"
    assert published_counts(tmp_path / "out") == dict(word_counts(sorted(data.glob("*.txt"))))


def _planned(tmp_path, name: str, text: str, job: dict):
    """(spec, tasks, input path): a job of one input ``in/<name>`` holding ``text``, planned."""
    data = tmp_path / "in"
    data.mkdir(exist_ok=True)
    (data / name).write_text(text)
    path = tmp_path / "m.json"
    path.write_text(json.dumps({**job, "input": {"files": [str(data / name)]}, "output": {"path": str(tmp_path / "out")}}))
    spec = load_manifest(str(path), work_dir=str(tmp_path / "work"))
    return spec, plan_job(spec).tasks, data / name


def _one_task(tmp_path, text: str):
    spec, (task,), path = _planned(tmp_path, "a.txt", text, {"name": "pinned", "mapper": "jobs.wordcount:SplitWords",
                                                             "reducer": "jobs.wordcount:SumCounts"})
    return spec, task, path


def test_an_input_rewritten_after_planning_fails_its_task_naming_the_file(spark, tmp_path):
    spec, task, path = _one_task(tmp_path, "one two three\n")
    path.write_text("one two three four\n")
    with pytest.raises(InputChangedError, match="a.txt changed since the job was planned"):
        run_map_task(spec, task)


def _swap_for_a_link_outside(tmp_path, path, text: str, monkeypatch) -> None:
    """Replace the input ``path`` by a symlink to a file holding ``text`` outside the
    allowed locations (which are the job's input, output and work folders)."""
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / path.name).write_text(text)
    monkeypatch.setenv("LMR_ALLOWED_LOCATIONS", f"{tmp_path / 'in'}/,{tmp_path / 'out'}/,{tmp_path / 'work'}/")
    path.unlink()
    path.symlink_to(secret / path.name)


def test_an_input_swapped_for_a_symlink_outside_the_allowed_locations_is_refused_at_read_time(
        spark, tmp_path, monkeypatch):
    spec, task, path = _one_task(tmp_path, "alpha beta wins\n")
    _swap_for_a_link_outside(tmp_path, path, "hunter2 hunter2\n", monkeypatch)   # the same size as planned
    with pytest.raises(PermanentStorageError, match="outside the allowed locations"):
        run_map_task(spec, task)


def test_an_s3_object_rewritten_after_planning_fails_its_task_naming_it(spark, s3, bucket, tmp_path):
    """Reads are conditional on the planned ETag (If-Match), whole files and ranges alike."""
    s3.put_object(Bucket=bucket, Key="in/a.txt", Body=b"one two three\n")
    s3.put_object(Bucket=bucket, Key="in/big.txt", Body=b"word\n" * 2000)
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"name": "pinned-s3", "mapper": "jobs.wordcount:SplitWords",
                                "reducer": "jobs.wordcount:SumCounts", "split_bytes": 4096, "task_bytes": 1,
                                "input": {"files": [f"s3://{bucket}/in/a.txt", f"s3://{bucket}/in/big.txt"]},
                                "output": {"path": f"s3://{bucket}/out"}}))
    spec = load_manifest(str(path), work_dir=f"s3://{bucket}/")
    tasks = plan_job(spec).tasks
    (whole,) = [t for t in tasks if [f.uri for f in t.inputs] == [f"s3://{bucket}/in/a.txt"]]
    ranged = next(t for t in tasks if any(f.is_split for f in t.inputs))
    s3.put_object(Bucket=bucket, Key="in/a.txt", Body=b"one two tree!\n")     # the same size
    s3.put_object(Bucket=bucket, Key="in/big.txt", Body=b"xxxx\n" * 2000)
    for task, name in ((whole, "a.txt"), (ranged, "big.txt")):
        with pytest.raises(InputChangedError, match=f"{name} changed since the job was planned"):
            run_map_task(spec, task)


def test_a_succeeded_job_whose_inputs_changed_is_run_again_not_answered_with_its_old_output(spark, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    (data / "b.txt").write_text("alpha beta\n")
    manifest = {"name": "done-then-changed", "mapper": "jobs.wordcount:SplitWords", "reducer": "jobs.wordcount:SumCounts",
                "task_bytes": 1, "input": {"prefix": str(data), "glob": "*.txt"}, "output": {"path": str(tmp_path / "out")}}
    first, _, _ = run_local(manifest, tmp_path)
    assert first.state == "SUCCEEDED"
    (data / "a.txt").write_text("gamma gamma\n")

    from engine.cli.main import main

    assert main(["run", str(tmp_path / "manifest.json"), "--work-dir", str(tmp_path / "work"), "--workers", "0"]) == 0
    assert published_counts(tmp_path / "out") == dict(word_counts(sorted(data.glob("*.txt"))))


def _reducer_only(tmp_path, text: str):
    return _planned(tmp_path, "a.jsonl", text, {"name": "pinned-reducer", "mode": "REDUCER_ONLY",
                                                "reducer": "tests.testjobs:LanguageCountsFromRaw"})


def test_a_reducer_only_job_reads_its_inputs_as_planned(spark, tmp_path):
    """The one reducer of a REDUCER_ONLY job reads the job's inputs: the same pinned reads."""
    spec, tasks, path = _reducer_only(tmp_path, '{"language": "en"}\n')
    path.write_text('{"language": "fr"}\n')
    with pytest.raises(InputChangedError, match="a.jsonl changed since the job was planned"):
        run_reduce_task(spec, list(tasks))
    assert not (tmp_path / "out").exists()


def test_a_reducer_only_input_swapped_for_a_symlink_outside_the_allowed_locations_is_refused(
        spark, tmp_path, monkeypatch):
    spec, tasks, path = _reducer_only(tmp_path, '{"language": "en"}\n')
    _swap_for_a_link_outside(tmp_path, path, '{"language": "xx"}\n', monkeypatch)   # the same size as planned
    with pytest.raises(PermanentStorageError, match="outside the allowed locations"):
        run_reduce_task(spec, list(tasks))
    assert not (tmp_path / "out").exists()

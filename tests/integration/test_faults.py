"""Faults injected into real `lmr run` processes: a task killed at each named point
(engine/faults.py), a worker killed with SIGKILL from outside. Whatever happens, the job
ends with output identical to a fault-free run (the oracle), never duplicated rows, and a
partial output is never left looking complete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO
from tests.oracles import word_counts

# One task per file (no packing): the faults target tasks by id.
WORDCOUNT = {"name": "wc-faults", "mapper": "jobs.wordcount:SplitWords", "reducer": "jobs.wordcount:SumCounts",
             "task_bytes": 1}


def lmr(*args: str, env: dict[str, str] | None = None, popen: bool = False):
    cmd = [sys.executable, "-m", "engine.cli.main", *args]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    if popen:
        return subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=600)


def write_manifest(samples: Path, tmp_path: Path, **fields) -> tuple[Path, list[Path]]:
    files = sorted((samples / "wordcount").glob("*.txt"))
    manifest = tmp_path / "wc.json"
    manifest.write_text(json.dumps({**WORDCOUNT, "input": {"files": [str(f) for f in files]},
                                    "output": {"path": str(tmp_path / "out"), "format": "csv"},
                                    "work_dir": str(tmp_path / "work"), **fields}))
    return manifest, files


def read_counts(out: Path) -> dict[str, int]:
    """The published output; fails if it is incomplete or holds a word twice."""
    marker = json.loads((out / "_SUCCESS").read_text())
    assert sorted(p.name for p in out.iterdir() if p.name != "_SUCCESS") == sorted(marker["files"])
    got = pd.concat([pd.read_csv(out / f, keep_default_na=False) for f in marker["files"]])
    assert not got["word"].duplicated().any(), "a word appears twice: rows were duplicated"
    return dict(zip(got["word"], got["count"]))


def job_dir(tmp_path: Path) -> Path:
    [found] = (tmp_path / "work" / "jobs").glob("wc-faults-*")
    return found


def assert_intermediates_are_exactly_the_committed_parts(tmp_path: Path) -> None:
    """Every part a marker lists is there, and the winning attempt's folder holds nothing
    else (a killed attempt's files stay in its own folder, which no reader looks at)."""
    for task_dir in (job_dir(tmp_path) / "intermediate").iterdir():
        [marker_file] = task_dir.glob("_COMMITTED.*")
        marker = json.loads(marker_file.read_text())
        [winner] = {p.split("/")[0] for p in marker["parts"]}
        assert sorted(f"{winner}/{p.name}" for p in (task_dir / winner).iterdir()) == sorted(marker["parts"])


def test_tasks_killed_at_every_map_point_are_retried_in_the_same_run(samples, tmp_path):
    manifest, files = write_manifest(samples, tmp_path)
    done = lmr("run", str(manifest), "--workers", "1", env={
        "LMR_FAULT": "map.before_write@t00000,map.mid_write@t00001,map.before_commit@t00002",
        "LMR_FAULT_ONCE_DIR": str(tmp_path / "fired")})
    assert done.returncode == 0, done.stdout + done.stderr
    fired = sorted(p.name for p in (tmp_path / "fired").iterdir())
    assert fired == ["map.before_commit@t00002", "map.before_write@t00000", "map.mid_write@t00001"]
    for task_id in ("t00000", "t00001", "t00002"):
        assert f"{task_id} retry attempt 2" in done.stdout and "WorkerDiedError" in done.stdout
    assert read_counts(tmp_path / "out") == dict(word_counts(files))
    assert_intermediates_are_exactly_the_committed_parts(tmp_path)
    status = json.loads((job_dir(tmp_path) / "status.json").read_text())
    assert status["state"] == "SUCCEEDED" and status["rows_out"] == sum(t["rows_out"] for t in status["tasks"])


# Every map point is also killed (and recovered by retry) in the test above; each case here
# costs three Spark start-ups, so it covers one map point and the reducer's.
@pytest.mark.parametrize("point", ["map.mid_write", "reduce.before_commit"])
def test_a_run_killed_at_a_point_leaves_no_output_and_a_rerun_finishes_it(samples, tmp_path, point):
    manifest, files = write_manifest(samples, tmp_path, retries=0)
    fault = f"{point}@t00001" if point.startswith("map.") else point
    first = lmr("run", str(manifest), "--workers", "1", env={"LMR_FAULT": fault})
    assert first.returncode == 1, first.stdout + first.stderr
    assert "WorkerDiedError" in first.stdout
    assert not (tmp_path / "out").exists()          # nothing published, not even in part
    committed = sorted(p.parent.name for p in job_dir(tmp_path).glob("intermediate/*/_COMMITTED.*"))
    # t00000 may die with t00001's worker (a task per core on threads); it is then re-run
    # alone, uncharged, and commits: only the task that kills a worker by itself fails.
    assert committed == (["t00000", "t00002"] if point.startswith("map.") else ["t00000", "t00001", "t00002"])

    # `lmr run` on the same manifest resumes; so does `lmr resume JOB` (used for the reducer case).
    again = (lmr("run", str(manifest), "--workers", "1") if point.startswith("map.") else
             lmr("resume", job_dir(tmp_path).name, "--work-dir", str(tmp_path / "work"), "--workers", "1"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resuming job" in again.stdout
    assert again.stdout.count("skipped (committed earlier)") == len(committed)
    assert read_counts(tmp_path / "out") == dict(word_counts(files))
    assert_intermediates_are_exactly_the_committed_parts(tmp_path)
    assert not list(tmp_path.glob(".out.lmr-*"))     # a killed publisher's leftovers are gone


def test_a_worker_killed_with_sigkill_mid_task_is_noticed_and_the_task_retried(samples, tmp_path):
    manifest, files = write_manifest(samples, tmp_path, mapper="tests.testjobs:HangOnce")
    proc = lmr("run", str(manifest), "--workers", "1", env={"LMR_TEST_SCRATCH": str(tmp_path)}, popen=True)
    pid_file, deadline = tmp_path / "hang.pid", time.monotonic() + 300
    while not pid_file.exists():     # the mapper writes it when it starts hanging
        assert proc.poll() is None and time.monotonic() < deadline, "the task never started"
        time.sleep(0.2)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, out + err
    assert "t00001 retry attempt 2" in out and "WorkerDiedError" in out
    assert read_counts(tmp_path / "out") == dict(word_counts(files))


def test_only_the_task_that_kills_its_worker_is_charged_not_the_one_beside_it(samples, tmp_path):
    # doc-000 kills its worker every time, with doc-001 beside it whenever they share one.
    # With one retry, charging doc-001 for those deaths would fail it too; it must succeed.
    (samples / "wordcount" / "doc-002.txt").unlink()
    manifest, files = write_manifest(samples, tmp_path, mapper="tests.testjobs:KillsItsWorker",
                                     retries=1, min_success_ratio=0.5)
    done = lmr("run", str(manifest), "--workers", "1", env={"LMR_TEST_SCRATCH": str(tmp_path)})
    assert done.returncode == 3, done.stdout + done.stderr                 # PARTIAL
    status = json.loads((job_dir(tmp_path) / "status.json").read_text())
    assert [(f["task_id"], f["error_type"]) for f in status["failed"]] == [("t00000", "WorkerDiedError")]
    assert [t["task_id"] for t in status["tasks"]] == ["t00001"]
    assert read_counts(tmp_path / "out") == dict(word_counts(files[1:]))


def test_fault_points_are_checked_and_off_by_default(monkeypatch):
    from engine.faults import checkpoint

    monkeypatch.delenv("LMR_FAULT", raising=False)
    checkpoint("map.before_write", "t0")            # no fault configured: returns
    monkeypatch.setenv("LMR_FAULT", "map.before_write@t9")
    checkpoint("map.before_write", "t0")            # another task's fault: returns
    monkeypatch.setenv("LMR_FAULT", "map.typo")
    with pytest.raises(ValueError, match="unknown point 'map.typo'"):
        checkpoint("map.before_write", "t0")


# --- the same commit points with every file on the moto S3 server ---------------------

def s3_job(s3, bucket: str, samples: Path, **fields) -> tuple[str, list[Path]]:
    files = sorted((samples / "wordcount").glob("*.txt"))
    for path in files:
        s3.upload_file(str(path), bucket, f"in/{path.name}")
    manifest = {**WORDCOUNT, "input": {"prefix": f"s3://{bucket}/in"},
                "output": {"path": f"s3://{bucket}/out", "format": "csv"}, **fields}
    s3.put_object(Bucket=bucket, Key="manifests/wc.json", Body=json.dumps(manifest))
    return f"s3://{bucket}/manifests/wc.json", files


def s3_counts(s3, bucket: str) -> dict[str, int]:
    """The published output on S3; fails if the folder holds anything its marker does not list."""
    import io

    marker = json.loads(s3.get_object(Bucket=bucket, Key="out/_SUCCESS")["Body"].read())
    present = sorted(o["Key"][len("out/"):] for o in s3.list_objects_v2(Bucket=bucket, Prefix="out/")["Contents"])
    assert present == sorted([*marker["files"], "_SUCCESS"])
    got = pd.concat([pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=f"out/{f}")["Body"].read()),
                                 keep_default_na=False) for f in marker["files"]])
    assert not got["word"].duplicated().any(), "a word appears twice: rows were duplicated"
    return dict(zip(got["word"], got["count"]))


def s3_committed_parts_exist(s3, bucket: str) -> None:
    keys = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="jobs/")
            for o in page.get("Contents", [])}
    markers = [k for k in keys if "/intermediate/" in k and "/_COMMITTED." in k]
    assert len(markers) == 3
    for key in markers:
        folder = key[: key.rindex("/") + 1]
        for part in json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["parts"]:
            assert folder + part in keys


def test_on_s3_tasks_killed_at_every_map_point_are_retried_in_the_same_run(s3, bucket, samples, tmp_path):
    manifest, files = s3_job(s3, bucket, samples)
    done = lmr("run", manifest, "--workers", "1", env={
        "LMR_FAULT": "map.before_write@t00000,map.mid_write@t00001,map.before_commit@t00002",
        "LMR_FAULT_ONCE_DIR": str(tmp_path / "fired")})
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(list((tmp_path / "fired").iterdir())) == 3
    assert s3_counts(s3, bucket) == dict(word_counts(files))
    s3_committed_parts_exist(s3, bucket)


def test_on_s3_a_publisher_killed_before_its_marker_leaves_no_output_and_a_rerun_finishes(s3, bucket, samples,
                                                                                           monkeypatch):
    manifest, files = s3_job(s3, bucket, samples, retries=0)
    first = lmr("run", manifest, "--workers", "1", env={"LMR_FAULT": "reduce.before_commit"})
    assert first.returncode == 1, first.stdout + first.stderr
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="out/").get("Contents", [])
    assert listed and "out/_SUCCESS" not in {o["Key"] for o in listed}   # files, but nothing marked complete
    # The rerun knows the killed attempt's files as this job's own (its record says so),
    # and, the record being stale, removes them once its own output is in.
    again = lmr("run", manifest, "--workers", "1", env={"LMR_PUBLISH_LEASE_SECONDS": "0"})
    assert again.returncode == 0, again.stdout + again.stderr
    assert s3_counts(s3, bucket) == dict(word_counts(files))


# --- R > 1 reducers: each reduce task's commit points, and the publish after them ------

REDUCE_FAULTS = {
    # each reduce task killed at another of its points: none commits in the first run
    "reduce tasks": ("partition.before_write@reduce-0,partition.mid_write@reduce-1,"
                     "partition.before_commit@reduce-2", []),
    # every reduce task committed, the publish killed before the destination's marker
    "publish": ("reduce.before_commit", ["00000", "00001", "00002"]),
}


@pytest.mark.parametrize("case", list(REDUCE_FAULTS))
def test_three_reducers_killed_at_each_commit_point_resume_to_the_same_output(samples, tmp_path, case):
    fault, committed = REDUCE_FAULTS[case]
    manifest, files = write_manifest(samples, tmp_path, retries=0, reducer="jobs.wordcount:SumCountsPerWord",
                                     reducers=3)
    first = lmr("run", str(manifest), "--workers", "1", env={"LMR_FAULT": fault})
    assert first.returncode == 1, first.stdout + first.stderr
    assert "WorkerDiedError" in first.stdout
    assert not (tmp_path / "out").exists()          # nothing published, not even in part
    assert sorted(p.parent.name for p in job_dir(tmp_path).glob("reduce/*/*/_COMMITTED")) == committed

    again = lmr("run", str(manifest), "--workers", "1")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("skipped (committed earlier)") == 3     # the map tasks
    assert ("reduce: started, 3 reduce tasks" if not committed else
            "reduce: started, 0 of 3 reduce tasks to run") in again.stdout
    assert read_counts(tmp_path / "out") == dict(word_counts(files))
    # Each reduce task's winning attempt folder holds exactly the files its marker lists;
    # the output holds exactly those, once.
    listed = []
    for marker in job_dir(tmp_path).glob("reduce/*/*/_COMMITTED"):
        files_ = json.loads(marker.read_text())["files"]
        [winner] = {f.split("/")[0] for f in files_}
        assert sorted(f"{winner}/{p.name}" for p in (marker.parent / winner).iterdir()) == sorted(files_)
        listed += [f"r{marker.parent.name}-{f.split('/')[1]}" for f in files_]
    assert sorted(json.loads((tmp_path / "out" / "_SUCCESS").read_text())["files"]) == sorted(listed)

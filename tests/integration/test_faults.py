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
    cmd = [sys.executable, "-m", "engine.cli", *args]
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
    for task_dir in (job_dir(tmp_path) / "intermediate").iterdir():
        marker = json.loads((task_dir / "_COMMITTED").read_text())
        assert sorted(p.name for p in task_dir.iterdir() if p.name != "_COMMITTED") == sorted(marker["parts"])


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
    committed = sorted(p.parent.name for p in job_dir(tmp_path).glob("intermediate/*/_COMMITTED"))
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
    assert not list(tmp_path.glob("out.lmr-*"))      # a killed publisher's leftovers are gone


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

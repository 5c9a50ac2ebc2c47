"""A new user's usual mistakes, through the `lmr` command as they run it: each names its
cause in one line, is not retried when retrying cannot help, and leaves a job that the
next run resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from tests.conftest import REPO
from tests.oracles import word_counts

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def lmr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli.main", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env=ENV)


def _words(tmp_path: Path, mapper: str, reducer: str = "jobs.wordcount:SumCounts", files: int = 2) -> Path:
    data = tmp_path / "in"
    data.mkdir(exist_ok=True)
    for i in range(files):
        (data / f"f{i:02d}.txt").write_text("".join(f"w{i} word{j % 5}\n" for j in range(20)))
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"name": "first-hour", "mapper": mapper, "reducer": reducer, "task_bytes": 1,
                                    "retries": 2, "input": {"prefix": str(data), "glob": "*.txt"},
                                    "output": {"path": str(tmp_path / "out")}}))
    return manifest


def _status(tmp_path: Path) -> dict:
    return json.loads(next((tmp_path / "work" / "jobs").glob("*/status.json")).read_text())


def test_a_mapper_returning_something_else_than_a_dataframe_is_named_and_not_retried(tmp_path):
    done = lmr("run", str(_words(tmp_path, "tests.testjobs:MapReturnsRows")), "--work-dir", str(tmp_path / "work"))
    assert done.returncode == 1
    expected = "Mapper.map returned a value of type list, not a Spark DataFrame"
    assert expected in done.stderr.splitlines()[-1]
    failed = _status(tmp_path)["failed"]
    assert [f["attempts"] for f in failed] == [1, 1]            # retries: 2, yet never retried
    assert all(f["error_type"] == "UserCodeError" and expected in f["error"] for f in failed)
    assert "Traceback" not in done.stderr and "AttributeError" not in done.stdout + done.stderr


def test_a_reducer_returning_a_dict_is_named_and_not_retried(tmp_path):
    done = lmr("run", str(_words(tmp_path, "jobs.wordcount:SplitWords", "tests.testjobs:ReduceReturnsDict")),
               "--work-dir", str(tmp_path / "work"))
    assert done.returncode == 1
    last = done.stderr.splitlines()[-1]
    assert "Reducer.reduce returned a value of type dict, not a Spark DataFrame" in last
    assert "Traceback" not in done.stderr and "retry" not in done.stdout.lower()
    logs = list((tmp_path / "work" / "jobs").glob("*/logs/reduce.log"))
    assert logs and logs[0].read_text().count("--- attempt") == 1


def test_the_users_exception_and_line_are_shown_not_a_java_stack(tmp_path):
    manifest = _words(tmp_path, "tests.testjobs:RaisesOnSomeRows")
    (tmp_path / "in" / "f01.txt").write_text("fine\nthis line is poison\nfine too\n")
    done = lmr("run", str(manifest), "--work-dir", str(tmp_path / "work"))
    assert done.returncode == 1
    raised = "ValueError: cannot parse 'this line is poison'"
    line = _line_of("raise ValueError(f\"cannot parse")
    frame = f"tests/testjobs.py:{line} in _parse_line"
    shown = next(line for line in done.stdout.splitlines() if line.lstrip().startswith("t00001 FAILED"))
    assert raised in shown and frame in shown
    assert raised in done.stderr.splitlines()[-1]               # the job's one-line reason
    [failure] = _status(tmp_path)["failed"]
    assert failure["error"].splitlines()[0].endswith(f"{raised} (at {frame})")
    job = next((tmp_path / "work" / "jobs").iterdir()).name
    logs = lmr("logs", job, "--failed", "--work-dir", str(tmp_path / "work"))
    assert logs.returncode == 0 and raised in logs.stdout.splitlines()[1]
    assert "\tat org.apache" not in logs.stdout and "lines of Java stack trace" in logs.stdout
    full = lmr("logs", job, "--failed", "--full", "--work-dir", str(tmp_path / "work"))
    assert "\tat org.apache" in full.stdout


def _line_of(text: str) -> int:
    lines = (REPO / "tests" / "testjobs.py").read_text().splitlines()
    return next(i for i, line in enumerate(lines, start=1) if text in line)


def test_ctrl_c_leaves_an_interrupted_job_that_the_next_run_resumes(tmp_path):
    manifest = _words(tmp_path, "tests.testjobs:SlowWords", files=12)
    args = [sys.executable, "-m", "engine.cli.main", "run", str(manifest), "--workers", "1",
            "--work-dir", str(tmp_path / "work")]
    # As a terminal's Ctrl-C does: SIGINT to the whole process group (lmr and its workers).
    # A shell starts a background job with SIGINT ignored, which the test run may inherit:
    # lmr starts as from a terminal, with SIGINT's default disposition.
    proc = subprocess.Popen(args, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if " ok " in line:   # a task committed: stop mid-job
            break
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    [said] = [line for line in err.splitlines() if line.strip()]
    assert "INTERRUPTED" in said and "resume" in said
    status = _status(tmp_path)
    assert status["state"] == "INTERRUPTED" and status["runs"][-1]["state"] == "INTERRUPTED"
    committed = status["tasks_succeeded"]
    assert 1 <= committed < 12 and f"after {committed} of 12 map tasks committed" in status["reason"]
    # The tasks that were running were stopped, not left to commit after the status was written.
    assert len(list((tmp_path / "work").glob("jobs/*/intermediate/*/_COMMITTED.*"))) == committed
    deadline = time.monotonic() + 20
    while _alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = subprocess.run(["ps", "-o", "pid,args", "-g", str(proc.pid)], capture_output=True, text=True).stdout
    assert not _alive(proc.pid), left                               # no worker or JVM left behind

    again = lmr("run", str(manifest), "--work-dir", str(tmp_path / "work"))
    assert again.returncode == 0, again.stderr
    assert "resuming job" in again.stdout
    status = _status(tmp_path)
    assert status["state"] == "SUCCEEDED" and [r["state"] for r in status["runs"]] == ["INTERRUPTED", "SUCCEEDED"]
    ran_again = [t for t in status["tasks"] if t["started_at"] >= status["runs"][1]["started_at"]]
    assert len(ran_again) == 12 - committed                         # the committed ones were kept
    marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    got = pd.concat([pd.read_csv(tmp_path / "out" / f, keep_default_na=False) for f in marker["files"]])
    assert dict(zip(got["word"], got["count"])) == dict(word_counts(sorted((tmp_path / "in").glob("*.txt"))))

    # The job is found again by its id, its name or its manifest; `lmr run` said where its report is.
    report = tmp_path / "work" / "jobs" / status["job_id"] / "report.html"
    assert f"report: {report}" in again.stdout
    for named in (status["job_id"], "first-hour", str(manifest)):
        shown = lmr("status", named, "--work-dir", str(tmp_path / "work"))
        assert shown.returncode == 0, shown.stderr
        assert f"job {status['job_id']}  SUCCEEDED" in shown.stdout and f"report: {report}" in shown.stdout
    written = lmr("report", "first-hour", "--json", "--work-dir", str(tmp_path / "work"))
    assert json.loads(written.stdout)["report"] == str(report) and report.is_file()
    unknown = lmr("status", "no-such-job", "--work-dir", str(tmp_path / "work"))
    assert unknown.returncode == 2 and unknown.stderr.strip().startswith("lmr status: no job no-such-job")


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _refusal_cases(tmp_path: Path) -> dict[str, tuple[dict, dict, str]]:
    """name -> (manifest changes, environment, what both must say)"""
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("someone's file\n")
    (tmp_path / "in" / "big.txt.gz").write_bytes(os.urandom(3 * 2**20))   # compressed: never split
    return {
        "a destination holding someone's file": (
            {"output": {"path": str(tmp_path / "taken")}}, {}, "notes.txt"),
        "an input bigger than a mapper's /tmp may stage": (
            {"input": {"files": [str(tmp_path / "in" / "big.txt.gz")], "format": "text"}},
            {"LMR_MAPPER_EPHEMERAL_MB": "1"}, "big.txt.gz is 3 MiB and cannot be split"),
        "a reducer budget that is not a number": (
            {"reducers": "auto", "reducer": "jobs.wordcount:SumCountsPerWord"}, {"LMR_REDUCER_BUDGET_MB": "lots"},
            "LMR_REDUCER_BUDGET_MB"),
    }


def test_validate_refuses_what_run_refuses_before_it_starts(tmp_path):
    """Every refusal `lmr run` makes without Spark, `lmr validate` makes too, in the same
    words; neither writes anything."""
    base = json.loads(_words(tmp_path, "jobs.wordcount:SplitWords").read_text())
    for name, (changes, env, said) in _refusal_cases(tmp_path).items():
        manifest = tmp_path / "case.json"
        manifest.write_text(json.dumps({**base, **changes}))
        before = sorted(str(p) for p in tmp_path.rglob("*") if p != manifest)
        runs = [subprocess.run([sys.executable, "-m", "engine.cli.main", command, str(manifest),
                                "--work-dir", str(tmp_path / "work")], cwd=REPO, capture_output=True, text=True,
                               timeout=600, env={**ENV, **env}) for command in ("validate", "run")]
        for done in runs:
            assert done.returncode == 2, (name, done.args[3], done.stdout, done.stderr)
            assert said in done.stdout + done.stderr, (name, done.args[3], done.stdout, done.stderr)
            assert "Traceback" not in done.stderr
        assert sorted(str(p) for p in tmp_path.rglob("*") if p != manifest) == before, name

"""The `lmr` command as a user runs it: a real process, a real worker pool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.conftest import REPO
from tests.oracles import word_counts


def lmr(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_run_with_worker_processes(samples, tmp_path):
    files = sorted((samples / "wordcount").glob("*.txt"))
    manifest = tmp_path / "wc.json"
    manifest.write_text(json.dumps({"name": "wc", "mapper": "jobs.wordcount:SplitWords",
                                    "reducer": "jobs.wordcount:SumCounts",
                                    "input": {"prefix": str(samples / "wordcount"), "glob": "*.txt"},
                                    "output": {"path": "out"}, "task_bytes": 1}))
    done = lmr("run", str(manifest), "--workers", "2", "--work-dir", str(tmp_path / "work"))
    assert done.returncode == 0, done.stderr
    for task_id in ("t00000", "t00001", "t00002"):
        assert f"{task_id} ok" in done.stdout               # progress, one line per task
    assert "SUCCEEDED" in done.stdout and str(tmp_path / "out") in done.stdout
    marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    got = pd.concat([pd.read_csv(tmp_path / "out" / f, keep_default_na=False) for f in marker["files"]])
    assert dict(zip(got["word"], got["count"])) == dict(word_counts(files))
    status = json.loads(next((tmp_path / "work" / "jobs").glob("*/status.json")).read_text())
    # Spark's own chatter went to the job's log folder, not the user's terminal.
    assert "WARN" not in done.stdout
    [job] = (tmp_path / "work" / "jobs").iterdir()
    # Every task ran in a worker process (not the lmr process), each with its own log file.
    workers = {"pid-" + p.stem.split("-", 1)[1] for p in job.glob("logs/workers/worker-*.log")}
    assert workers and {t["worker"] for t in status["tasks"]} <= workers
    # Each task has its own log: our lines as JSON carrying the job, the task and its input.
    for task_id, path in zip(("t00000", "t00001", "t00002"), files):
        text = (job / "logs" / f"{task_id}.log").read_text()
        lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        committed = [x for x in lines if x["message"].startswith("map task committed")]
        assert committed and committed[0]["task_id"] == task_id and committed[0]["input"] == str(path)
        assert committed[0]["job_id"] == job.name
    shown = lmr("logs", job.name, "--task", "t00001", "--work-dir", str(tmp_path / "work"))
    assert shown.returncode == 0 and "map task committed" in shown.stdout and "t00000" not in shown.stdout


def test_validate_prints_every_problem(tmp_path):
    manifest = tmp_path / "bad.json"
    manifest.write_text(json.dumps({"name": "x", "mode": "MAPPER_AND_REDUCER", "mapper": "os:system",
                                    "colour": "red", "input": {"files": ["nope.jsonl", "also-nope.jsonl"]},
                                    "output": {"path": "out"}}))
    done = lmr("validate", str(manifest))
    assert done.returncode == 2
    for expected in ("mapper: 'os:system' is outside the allowed job packages",
                     "reducer: is required in mode MAPPER_AND_REDUCER", "colour: unknown field",
                     "input.files[0]: ", "nope.jsonl does not exist", "input.files[1]: "):
        assert expected in done.stdout, done.stdout
    assert "5 problems" in done.stdout


def test_validate_accepts_the_shipped_manifests():
    for name in ("crawl-p90.json", "wordcount.json"):
        done = lmr("validate", f"manifests/{name}")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "valid" in done.stdout


def test_failed_job_exits_1_with_a_one_line_reason(samples, tmp_path):
    poison = tmp_path / "poison.jsonl"
    poison.write_text((samples / "crawl" / "part-00000.jsonl").read_text())
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"name": "p", "mapper": "tests.testjobs:FailOnPoison",
                                    "reducer": "jobs.crawl:P90ContentLengthByLanguage",
                                    "input": {"files": [str(poison)]}, "output": {"path": "out"}}))
    done = lmr("run", str(manifest), "--workers", "0", "--work-dir", str(tmp_path / "w"))
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("job p-") and "FAILED: 0 of 1 map tasks succeeded" in last


def test_init_scaffolds_a_job_whose_test_passes_out_of_the_box(tmp_path):
    made = lmr("init", "fruit_sums", "--dir", str(tmp_path), "--json")
    assert made.returncode == 0, made.stderr
    files = sorted(Path(p).relative_to(tmp_path).as_posix() for p in json.loads(made.stdout)["files"])
    assert files == ["jobs/__init__.py", "jobs/fruit_sums.py", "manifests/data/fruit_sums/sample.jsonl",
                     "manifests/fruit_sums.json", "tests/test_fruit_sums.py"]
    # The scaffold's own test, run as its user would (its jobs/ package comes first).
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_fruit_sums.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    again = lmr("init", "fruit_sums", "--dir", str(tmp_path))
    assert again.returncode == 2 and "would overwrite" in again.stderr


def test_locally_a_partial_job_resumes_a_succeeded_one_is_not_recomputed(samples, tmp_path, monkeypatch,
                                                                          capsys, spark):
    """The same rules as on AWS (tests/integration/test_aws_flow.py): a PARTIAL job's
    manifest run again resumes it as run 2 with only the failed task; a SUCCEEDED one is
    not recomputed unless --fresh."""
    from engine.cli.main import main

    monkeypatch.setenv("LMR_TEST_SCRATCH", str(tmp_path))
    docs = sorted((samples / "wordcount").glob("*.txt"))
    inputs = tmp_path / "in"
    inputs.mkdir()
    for key, doc in zip(("a.txt", "broken.txt", "c.txt"), docs):
        (inputs / key).write_bytes(doc.read_bytes())
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"name": "resume-local", "mapper": "tests.testjobs:FailsUntilFixed",
                                    "reducer": "jobs.wordcount:SumCounts", "task_bytes": 1,
                                    "min_success_ratio": 0.5, "input": {"prefix": str(inputs)},
                                    "output": {"path": str(tmp_path / "out"), "format": "csv"}}))
    run = ["run", str(manifest), "--workers", "0", "--work-dir", str(tmp_path / "work")]

    def mapped() -> list[str]:
        found = sorted(p.name.split("-")[1] for p in tmp_path.glob("mapped-*"))
        for p in tmp_path.glob("mapped-*"):
            p.unlink()
        return found

    assert main(run) == 3                                   # PARTIAL
    assert mapped() == ["t00000", "t00001", "t00002"]
    (tmp_path / "fixed").touch()
    capsys.readouterr()
    assert main(run) == 0
    assert "resuming job resume-local-" in capsys.readouterr().out
    assert mapped() == ["t00001"]                           # only the failed task ran again
    [status_file] = (tmp_path / "work" / "jobs").glob("*/status.json")
    status = json.loads(status_file.read_text())
    assert [(r["run"], r["state"]) for r in status["runs"]] == [(1, "PARTIAL"), (2, "SUCCEEDED")]
    marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    got = pd.concat([pd.read_csv(tmp_path / "out" / f, keep_default_na=False) for f in marker["files"]])
    assert dict(zip(got["word"], got["count"])) == dict(word_counts(docs))

    assert main(run) == 0                                   # SUCCEEDED: not recomputed
    assert f"already SUCCEEDED (run 2): its output is {tmp_path / 'out'}" in capsys.readouterr().out
    assert main(["resume", status_file.parent.name, "--workers", "0", "--work-dir", str(tmp_path / "work")]) == 0
    assert "already SUCCEEDED (run 2)" in capsys.readouterr().out
    assert mapped() == []
    assert main([*run, "--fresh"]) == 0                     # --fresh recomputes every task
    assert mapped() == ["t00000", "t00001", "t00002"]
    assert [r["run"] for r in json.loads(status_file.read_text())["runs"]] == [1]

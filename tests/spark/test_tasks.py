"""Task functions: commit markers, idempotence, rejects, retries and the outcome rule."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from engine.errors import RejectedRecordsError
from engine.job.commits import committed_result, uncommit
from engine.job.layout import JobLayout
from engine.job.planning import load_tasks, plan_job
from engine.job.manifest import load_manifest
from engine.store.storage import Storage
from engine.task.map import run_map_task
from tests.conftest import run_local
from tests.oracles import crawl_records

# One task per file (task_bytes 1): these tests are about single tasks and their failures.
CRAWL = {"name": "crawl", "mapper": "jobs.crawl:ExtractDocuments",
         "reducer": "jobs.crawl:P90ContentLengthByLanguage", "task_bytes": 1}


def make_spec(tmp_path, files, **fields):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({**CRAWL, "input": {"files": [str(f) for f in files]},
                                "output": {"path": str(tmp_path / "out")}, **fields}))
    return load_manifest(str(path), work_dir=str(tmp_path / "work"))


def test_rejected_records_name_file_line_and_reason(samples, tmp_path):
    files = sorted((samples / "crawl").glob("*.jsonl"))
    spec = make_spec(tmp_path, files)
    plan = plan_job(spec)
    layout = JobLayout(spec.work_dir, spec.job_id)
    for task, path in zip(plan.tasks, files):
        result = run_map_task(spec, task)
        _, rows_in, rejected = crawl_records([path])
        assert (result.rows_in, result.rejected) == (rows_in, rejected)
        errors = [json.loads(x) for x in open(layout.errors(task.task_id))] if rejected else []
        assert len(errors) == rejected
        lines = path.read_text().splitlines()
        for err in errors:
            assert err["input"] == str(path)
            assert lines[err["line"] - 1] == err["record"]        # the line number is right
            try:
                json.loads(err["record"])
                assert err["reason"] == "a value does not fit the declared schema"
            except json.JSONDecodeError:
                assert err["reason"].startswith("invalid JSON")


def test_a_task_with_many_rejects_lists_the_first_ones_in_file_order(tmp_path):
    """260 bad lines in a file Spark reads as two partitions (60 in the first half, 200 in
    the second): the errors file holds the first 100 bad lines, by line number, and the
    count stays exact; a sample taken per partition, or of the last ones, would show here."""
    src, bad, half = tmp_path / "many.jsonl", [], 30_000
    with open(src, "w") as fh:
        for n in range(1, 2 * half + 1):
            if (n <= half and n % 500 == 7) or (n > half and n % 150 == 11):
                fh.write(f"{{broken {n}\n")
                bad.append(n)
            else:
                fh.write(json.dumps({"url": f"u{n}", "language": "en", "content_length": n,
                                     "text": "x" * 150}) + "\n")
    assert (sum(n <= half for n in bad), sum(n > half for n in bad)) == (60, 200)
    spec = make_spec(tmp_path, [src], max_rejected_ratio=0.5)
    task = plan_job(spec).tasks[0]
    result = run_map_task(spec, task)
    assert result.rejected == len(bad)
    errors = [json.loads(x) for x in open(JobLayout(spec.work_dir, spec.job_id).errors(task.task_id))]
    assert [e["line"] for e in errors] == bad[:100]
    assert [e["record"] for e in errors] == [f"{{broken {n}" for n in bad[:100]]


def test_map_task_commits_last_and_is_idempotent(samples, tmp_path):
    spec = make_spec(tmp_path, sorted((samples / "crawl").glob("*.jsonl"))[:1])
    task = plan_job(spec).tasks[0]
    layout = JobLayout(spec.work_dir, spec.job_id)
    first = run_map_task(spec, task)
    marker = json.loads(open(layout.committed_marker(task.task_id, task.identity)).read())
    assert marker["parts"] == first.parts and first.status == "SUCCEEDED"

    assert run_map_task(spec, task).status == "SKIPPED"          # committed: not run again

    # An attempt that died before committing left files in its own folder; a new attempt
    # writes to a folder of its own, and its marker lists only its own parts.
    storage = Storage()
    storage.delete(layout.committed_marker(task.task_id, task.identity))
    storage.write_text(layout.part(task.task_id, "deadattempt/part-99999-stray.parquet"), "half written")
    again = run_map_task(spec, task)
    assert again.status == "SUCCEEDED" and again.rows_out == first.rows_out
    folders = {p.split("/")[0] for p in again.parts}
    assert len(folders) == 1 and folders.isdisjoint({"deadattempt", *(p.split("/")[0] for p in first.parts)})
    marker = json.loads(open(layout.committed_marker(task.task_id, task.identity)).read())
    assert marker["parts"] == again.parts
    assert storage.read_text(layout.part(task.task_id, "deadattempt/part-99999-stray.parquet")) == "half written"


def test_too_many_rejects_fail_fast_and_commit_nothing(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"url": "u1", "language": "en", "content_length": 1}\n{broken\n{"url": "u2"\n')
    spec = make_spec(tmp_path, [src], max_rejected_ratio=0.5)
    task = plan_job(spec).tasks[0]
    with pytest.raises(RejectedRecordsError) as info:
        run_map_task(spec, task)
    message = str(info.value)
    assert "rejected 2 of 3 records" in message and str(src) in message and "at line 2" in message
    layout = JobLayout(spec.work_dir, spec.job_id)
    assert not Storage().exists(layout.committed_marker(task.task_id, task.identity))


def test_user_error_is_not_retried_and_below_min_success_the_job_fails(samples, tmp_path):
    files = sorted((samples / "crawl").glob("*.jsonl"))
    poison = tmp_path / "poison.jsonl"
    shutil.copy(files[0], poison)
    status, spec, events = run_local({**CRAWL, "mapper": "tests.testjobs:FailOnPoison",
                                      "input": {"files": [str(f) for f in files[:2]] + [str(poison)]},
                                      "output": {"path": str(tmp_path / "out")}}, tmp_path)
    assert status.state == "FAILED" and status.reduce is None
    assert "2 of 3 map tasks succeeded, below min_success_ratio 1.0" in status.reason
    [failed] = status.failed
    assert failed.inputs == [str(poison)] and failed.error_type == "UserCodeError"
    assert failed.attempts == 1 and "refusing" in failed.error
    assert not (tmp_path / "out").exists()
    assert not [e for e in events if e["event"] == "task_retry"]


def test_partial_job_reduces_committed_tasks_and_lists_failures(samples, tmp_path):
    files = sorted((samples / "crawl").glob("*.jsonl"))
    poison = tmp_path / "poison.jsonl"
    shutil.copy(files[0], poison)
    status, spec, _ = run_local({**CRAWL, "mapper": "tests.testjobs:FailOnPoison",
                                 "input": {"files": [str(f) for f in files] + [str(poison)]},
                                 "output": {"path": str(tmp_path / "out")}, "min_success_ratio": 0.75},
                                tmp_path)
    kept, _, _ = crawl_records(files)
    assert status.state == "PARTIAL"
    assert (status.tasks_total, status.tasks_succeeded, status.tasks_failed) == (5, 4, 1)
    assert status.reduce.rows_in == len(kept)               # only committed tasks were reduced
    assert sum(t.counters.get("mapped_files", 0) for t in status.tasks) == 4
    on_disk = json.loads(open(JobLayout(spec.work_dir, spec.job_id).status_json).read())
    assert on_disk["state"] == "PARTIAL" and on_disk["failed"][0]["inputs"] == [str(poison)]


def test_platform_errors_are_retried(samples, tmp_path, monkeypatch):
    """A transient error (here: the first staging attempt fails) is retried with backoff."""
    import engine.task.reduce as tasks

    real_stage, calls = tasks.stage, []

    def flaky_stage(storage, uris, folder):
        calls.append(uris)
        if len(calls) == 1:
            raise OSError("connection reset by peer")
        return real_stage(storage, uris, folder)

    monkeypatch.setattr(tasks, "stage", flaky_stage)
    files = sorted((samples / "crawl").glob("*.jsonl"))[:1]
    status, _, events = run_local({**CRAWL, "input": {"files": [str(f) for f in files]},
                                   "output": {"path": str(tmp_path / "out")}}, tmp_path)
    assert status.state == "SUCCEEDED"
    [retry] = [e for e in events if e["event"] == "task_retry"]
    # Reported as a mapper Lambda reports it: the retryable wrapper, naming the cause.
    assert retry["error"] == {"errorType": "RetryableTaskError", "errorMessage": "OSError: connection reset by peer"}


def test_resume_runs_only_uncommitted_tasks(samples, tmp_path):
    files = sorted((samples / "crawl").glob("*.jsonl"))
    manifest = {**CRAWL, "input": {"files": [str(f) for f in files]}, "output": {"path": str(tmp_path / "out")}}
    first, spec, _ = run_local(manifest, tmp_path)
    first_output = sorted(open(tmp_path / "out" / f).read() for f in first.reduce.files)
    layout = JobLayout(spec.work_dir, spec.job_id)
    # As if that task had died before committing: neither its marker nor its summary.
    task = load_tasks(spec, Storage())[1]
    uncommit(spec, committed_result(spec, task, Storage()), Storage())
    assert not os.path.exists(layout.committed_marker("t00001", task.identity)) and not any(
        n.startswith("t00001.") for n in os.listdir(layout.summaries))
    second, _, events = run_local(manifest, tmp_path)
    started = [e["task_id"] for e in events if e["event"] == "task_started"]
    assert started == ["t00001"]
    assert second.state == "SUCCEEDED" and second.rows_out == first.rows_out
    assert sorted(open(tmp_path / "out" / f).read() for f in second.reduce.files) == first_output


def test_record_contents_go_to_the_errors_file_never_to_logs(tmp_path, caplog):
    import logging

    source = tmp_path / "private.jsonl"
    source.write_text('{"url": "u1", "language": "en", "text": "ok"}\n'
                      '{"url": "u2", "language": "en", "text": "PRIVATE-TOKEN-1" \n'
                      '{"url": "u3", "language": "en", "content_length": "PRIVATE-TOKEN-2"}\n'
                      + '{"url": "u4", "language": "en", "text": "fine"}\n' * 20)
    spec = make_spec(tmp_path, [source])
    with caplog.at_level(logging.DEBUG):
        status, _, _ = run_local({**CRAWL, "input": {"files": [str(source)]},
                                  "output": {"path": str(tmp_path / "out")}}, tmp_path)
    assert status.state == "SUCCEEDED" and status.rejected == 2
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert logged and "PRIVATE-TOKEN" not in logged
    [errors_file] = (tmp_path / "work").glob(f"jobs/{spec.job_id}/errors/*.jsonl")
    assert "PRIVATE-TOKEN-1" in errors_file.read_text() and "PRIVATE-TOKEN-2" in errors_file.read_text()


def test_an_allowed_spark_conf_key_reaches_the_users_spark(spark, tmp_path):
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    try:
        status, spec, _ = run_local({"name": "tz", "mode": "MAPPER_ONLY", "mapper": "tests.testjobs:SessionTimeZone",
                                     "input": {"files": [str(tmp_path / "a.txt")]},
                                     "output": {"path": str(tmp_path / "out")},
                                     "spark_conf": {"spark.sql.session.timeZone": "Europe/Paris"}}, tmp_path)
    finally:   # the warm session is shared by every test: put the engine's UTC back
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    assert status.state == "SUCCEEDED", status.reason
    marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    lines = [line for f in marker["files"] for line in (tmp_path / "out" / f).read_text().splitlines()[1:]]
    assert lines == ["Europe/Paris", "Europe/Paris"]


@pytest.mark.parametrize("task_bytes", [1, 64 * 2**20], ids=["a task each", "packed"])
def test_zero_byte_files_are_inputs_with_no_records(spark, tmp_path, task_bytes):
    # Like the 28 empty __init__.py files of CPython's standard library among its modules.
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "a.txt").write_text("import os\nimport sys\n")
    (folder / "__init__.py").write_bytes(b"")
    (folder / "b.txt").write_text("import os\n")
    (folder / "zz_empty.txt").write_bytes(b"")
    status, spec, _ = run_local({"name": "empties", "mapper": "jobs.wordcount:SplitWords",
                                 "reducer": "jobs.wordcount:SumCounts", "task_bytes": task_bytes,
                                 "input": {"files": sorted(str(p) for p in folder.iterdir())},
                                 "output": {"path": str(tmp_path / "out")}}, tmp_path)
    assert status.state == "SUCCEEDED", status.reason
    assert status.rows_in == 3 and status.tasks_total == (4 if task_bytes == 1 else 1)
    inputs = sorted(u for t in status.tasks for u in t.inputs)
    assert inputs == sorted(str(p) for p in folder.iterdir())          # every file counted
    marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    rows = [line for f in marker["files"] for line in (tmp_path / "out" / f).read_text().splitlines()[1:]]
    assert sorted(rows) == ["import,3", "os,2", "sys,1"]


def test_a_job_of_only_empty_files_publishes_an_empty_output(spark, tmp_path):
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_bytes(b"")
    status, spec, _ = run_local({"name": "all-empty", "mapper": "jobs.wordcount:SplitWords",
                                 "reducer": "jobs.wordcount:SumCounts",
                                 "input": {"files": [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]},
                                 "output": {"path": str(tmp_path / "out")}}, tmp_path)
    assert status.state == "SUCCEEDED" and status.rows_in == 0 and status.tasks_succeeded == 1
    assert json.loads((tmp_path / "out" / "_SUCCESS").read_text())["files"] == []
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["_SUCCESS"]

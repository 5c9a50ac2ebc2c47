"""R > 1 reducers without Spark (engine/job/partitions.py): a job's commits decide the
round and the reduce tasks still to run; a bucketed task's summary rebuilds its parts;
partition_by and the bucket count shape the cache key; R > 1 reaches the job id."""

from __future__ import annotations

import io
import json

from engine.cli.progress import Progress
from engine.job import cache
from engine.job.commits import commit, committed_results, summary_name
from engine.job.layout import part_name
from engine.job.partitions import AUTO_BUCKETS, commit_partition, plan_reduce, reducer_count
from engine.job.planning import InputFile, MapTask, Plan, save_plan
from engine.job.results import MapResult, ReduceResult
from engine.job.manifest import load_job_json
from engine.job.spec import InputSpec, JobSpec, OutputSpec
from engine.store.storage import Storage


def job(tmp_path, reducers=3, **fields) -> tuple[JobSpec, list[MapTask]]:
    spec = JobSpec(name="parts", mode="MAPPER_AND_REDUCER", mapper="jobs.wordcount:SplitWords",
                   reducer="jobs.wordcount:SumCountsPerWord", input=InputSpec(prefix=str(tmp_path / "in")),
                   output=OutputSpec(path=str(tmp_path / "out")), work_dir=str(tmp_path / "work"),
                   reducers=reducers, **fields)
    tasks = [MapTask(f"t{i:05d}", (InputFile(str(tmp_path / f"in/{i}.txt"), 10 + i, ""),)) for i in range(4)]
    save_plan(Plan(spec, tuple(tasks)), Storage())
    return spec, tasks


def result(task: MapTask, buckets: list[int], bytes_out: int = 100) -> MapResult:
    return MapResult(task_id=task.task_id, status="SUCCEEDED", inputs=task.input_uris, rows_in=5, rows_out=5,
                     rejected=0, bytes_in=task.bytes, bytes_out=bytes_out, duration_ms=10, cold_start=False,
                     started_at=1.8e9, parts=[f"a{task.task_id}/{part_name(0, '.snappy.parquet', b)}" for b in buckets],
                     identity=task.identity)


def reduced(partition: int) -> ReduceResult:
    return ReduceResult(status="SUCCEEDED", rows_in=1, rows_out=1, bytes_out=1, duration_ms=1, cold_start=False,
                        started_at=1.8e9, output="", files=[f"x/part-{partition}.csv"], partition=partition)


def test_a_bucketed_tasks_summary_rebuilds_its_parts(tmp_path):
    spec, tasks = job(tmp_path)
    storage = Storage()
    written = result(tasks[0], [0, 2, 63])
    assert summary_name(written) is not None
    commit(spec, written, storage)
    (tmp_path / "work" / "jobs" / spec.job_id / "intermediate" / "t00000" / f"_COMMITTED.{tasks[0].identity}").unlink()  # summary only
    assert committed_results(spec, tasks, storage)["t00000"].parts == written.parts


def test_the_reduce_plan_skips_below_min_success_ratio_and_lists_what_has_not_committed(tmp_path):
    spec, tasks = job(tmp_path, min_success_ratio=1.0)
    storage = Storage()
    for task in tasks[:3]:
        commit(spec, result(task, [0, 1, 2]), storage)
    assert plan_reduce(spec, tasks, storage).skipped == "3 of 4 map tasks succeeded, below min_success_ratio 1.0"

    commit(spec, result(tasks[3], [0, 1, 2]), storage)
    first = plan_reduce(spec, tasks, storage)
    assert (first.skipped, first.partitions, first.pending) == ("", 3, [0, 1, 2])
    commit_partition(spec, first.round, reduced(1), storage)
    again = plan_reduce(spec, tasks, storage)
    assert (again.round, again.pending) == (first.round, [0, 2])      # resumed: the same round


def test_new_map_commits_make_a_new_round_where_every_reduce_task_runs_again(tmp_path):
    spec, tasks = job(tmp_path, min_success_ratio=0.5)
    storage = Storage()
    for task in tasks[:3]:
        commit(spec, result(task, [0, 1, 2]), storage)
    first = plan_reduce(spec, tasks, storage)
    for p in range(3):
        commit_partition(spec, first.round, reduced(p), storage)
    assert plan_reduce(spec, tasks, storage).pending == []
    commit(spec, result(tasks[3], [1]), storage)          # a resumed PARTIAL job: one more task
    second = plan_reduce(spec, tasks, storage)
    assert second.round != first.round and second.pending == [0, 1, 2]


def test_auto_is_one_reducer_per_gigabyte_up_to_the_bucket_count(tmp_path):
    spec, _ = job(tmp_path, reducers="auto")
    gb = 2**30
    assert [reducer_count(spec, n) for n in (0, 1, gb, gb + 1, 10 * gb, 1000 * gb)] == [1, 1, 1, 2, 10, AUTO_BUCKETS]
    assert reducer_count(job(tmp_path / "7", reducers=7)[0], 1000 * gb) == 7


def test_the_bucket_count_is_in_the_cache_key_and_r_in_the_job_id(tmp_path):
    one, tasks = job(tmp_path / "a", reducers=1)
    three, _ = job(tmp_path / "a", reducers=3)
    assert cache.task_key(one, tasks[0]) != cache.task_key(three, tasks[0])
    assert one.job_id != three.job_id
    assert load_job_json(json.loads(json.dumps(three.to_dict()))).reducers == 3


def test_progress_shows_the_reduce_tasks():
    stream = io.StringIO()
    progress = Progress(total=4, live=True, stream=stream)
    progress.update({"event": "reduce_started", "job_id": "j", "partitions": 4, "pending": 3})
    progress.update({"event": "partition_done", "result": reduced(0), "attempt": 1})
    progress.update({"event": "partition_failed", "task_id": "reduce-2", "inputs": [], "attempts": 1,
                     "error": {"errorType": "UserCodeError", "errorMessage": "boom"}})
    out = stream.getvalue()
    assert out.splitlines()[-1].endswith("reduce [" + "#" * 22 + "-" * 8 + "] 2/4 reduce tasks done, 1 failed")
    assert "reduce: started, 3 of 4 reduce tasks to run" in out and "reduce-2 FAILED after 1 attempt(s)" in out


def test_a_bad_reducer_budget_is_named_before_anything_is_written(tmp_path, monkeypatch, capsys):
    from engine.cli.main import main

    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"name": "auto", "mapper": "jobs.wordcount:SplitWords",
                                    "reducer": "jobs.wordcount:SumCountsPerWord", "reducers": "auto",
                                    "input": {"files": [str(tmp_path / "a.txt")]}, "output": {"path": str(tmp_path / "out")}}))
    (tmp_path / "a.txt").write_text("a b\n")
    monkeypatch.setenv("LMR_REDUCER_BUDGET_MB", "lots")
    assert main(["run", str(manifest), "--work-dir", str(tmp_path / "work")]) == 2   # bad input: exit 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"{manifest}: 1 problem", "  - reducers: LMR_REDUCER_BUDGET_MB='lots': must be a positive number"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "m.json"]

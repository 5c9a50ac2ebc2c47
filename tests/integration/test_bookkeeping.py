"""Bookkeeping at scale, on the moto S3 server: how many requests the reducer's and
finalize's reading of the commit markers makes at 1,000 and at 10,000 committed tasks.
Markers are written directly (no Spark), as a mapper commits them. Requests are counted
with botocore's event hooks; this is a count, not a timing."""

from __future__ import annotations

import json

import boto3
import pytest

from engine.job.commits import commit, committed_results, summary_name
from engine.job.layout import JobLayout
from engine.job.lifecycle import finish
from engine.job.planning import InputFile, MapTask, Plan, save_plan
from engine.job.results import MapResult
from engine.job.spec import InputSpec, JobSpec, OutputSpec
from engine.store.storage import Storage
from engine.store.uris import split_s3


def committed_job(bucket: str, n: int, storage: Storage, name: str,
                  direct: bool = True) -> tuple[JobSpec, list[MapTask]]:
    """A job with ``n`` committed map tasks. ``direct``: their markers and summaries, as
    :func:`commit` names and fills them, go straight into moto's backend (10,000 PUTs over
    HTTP would take minutes); else through :func:`commit` itself."""
    spec = JobSpec(name=name, mode="MAPPER_AND_REDUCER", mapper="jobs.wordcount:SplitWords",
                   reducer="jobs.wordcount:SumCounts", input=InputSpec(prefix=f"s3://{bucket}/in"),
                   output=OutputSpec(path=f"s3://{bucket}/out/{name}"), work_dir=f"s3://{bucket}")
    tasks = [MapTask(f"t{i:05d}", (InputFile(f"s3://{bucket}/in/{i}.jsonl", 100 + i, f"etag{i}"),))
             for i in range(n)]
    save_plan(Plan(spec, tuple(tasks)), storage)
    layout = JobLayout(spec.work_dir, spec.job_id)
    results = [MapResult(task_id=t.task_id, status="SUCCEEDED", inputs=t.input_uris, rows_in=10 + i, rows_out=i,
                         rejected=i % 3, bytes_in=100 + i, bytes_out=50, duration_ms=1000 + i, cold_start=i == 0,
                         started_at=1.8e9 + i, parts=[f"a{i:011d}/part-00000.snappy.parquet"], attempts=1 + i % 2,
                         identity=t.identity)
               for i, t in enumerate(tasks)]
    if not direct:
        for result in results:
            commit(spec, result, storage)
        return spec, tasks
    from moto.s3.models import s3_backends

    backend = s3_backends["123456789012"]["aws"]
    for result in results:
        backend.put_object(bucket, split_s3(layout.committed_marker(result.task_id, result.identity))[1],
                           json.dumps(result.to_dict()).encode())
        backend.put_object(bucket, split_s3(layout.summaries + summary_name(result))[1], b"")
    return spec, tasks


def counting(client) -> list[str]:
    calls: list[str] = []
    client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    return calls


@pytest.mark.parametrize("n", [1_000, 10_000])
def test_reading_the_markers_takes_a_request_per_thousand_tasks(moto_server, bucket, n):
    client = boto3.client("s3", endpoint_url=moto_server)
    storage = Storage(client)
    spec, tasks = committed_job(bucket, n, storage, f"scale-{n}")
    calls = counting(client)
    results = committed_results(spec, tasks, storage)
    reducer_requests = len(calls)
    # Every committed task is found, with what its mapper committed.
    assert len(results) == n
    assert sum(r.rows_in for r in results.values()) == sum(10 + i for i in range(n))
    assert results["t00007"].parts == ["a00000000007/part-00000.snappy.parquet"]
    assert results["t00007"].inputs == tasks[7].input_uris and results["t00007"].attempts == 2

    del calls[:]
    status = finish(spec, tasks, None, "", storage)
    assert status.tasks_succeeded == n and status.rejected == sum(i % 3 for i in range(n))
    reads = [c for c in calls if c in ("GetObject", "HeadObject", "ListObjectsV2")]
    # One LIST per 1,000 markers, a few fixed reads (status.json, the failures folder, ...),
    # and the report's reasons of rejected records from a fixed few errors files: never one per task.
    from engine.report.page import MAX_REJECT_FILES

    assert reducer_requests <= n // 1000 + 2, reducer_requests
    assert len(reads) <= n // 1000 + 5 + MAX_REJECT_FILES, (len(reads), sorted(set(calls)))


def test_a_task_whose_summary_is_missing_is_still_found_by_its_marker(moto_server, bucket):
    """A mapper killed between creating its marker and writing its summary: the marker
    is what counts, so the reader falls back to it for that task alone."""
    client = boto3.client("s3", endpoint_url=moto_server)
    storage = Storage(client)
    spec, tasks = committed_job(bucket, 20, storage, "fallback", direct=False)
    layout = JobLayout(spec.work_dir, spec.job_id)
    [summary] = [f.uri for f in storage.list(layout.summaries) if "/t00003." in f.uri]
    storage.delete(summary)
    results = committed_results(spec, tasks, storage)
    assert len(results) == 20 and results["t00003"].rows_in == 13


def test_a_cached_jobs_lookups_at_its_start_are_made_many_at_once(moto_server, bucket):
    """With "cache": true a new job looks up every task's cache entry (a few requests per
    task) before it runs: on S3 they go out many at a time, not one task after another.
    The most requests in flight at once is counted with botocore's hooks."""
    import threading
    from dataclasses import replace

    from engine.job.lifecycle import Start, pending_tasks

    client = boto3.client("s3", endpoint_url=moto_server)
    storage = Storage(client)
    spec, tasks = committed_job(bucket, 0, storage, "lookups")
    spec = replace(spec, cache=True)
    tasks = [MapTask(f"t{i:05d}", (InputFile(f"s3://{bucket}/in/{i}.jsonl", 100 + i, f"etag{i}"),))
             for i in range(200)]
    lock, flight = threading.Lock(), {"now": 0, "most": 0, "calls": 0}

    def sent(**_):
        with lock:
            flight["now"] += 1
            flight["calls"] += 1
            flight["most"] = max(flight["most"], flight["now"])

    def back(**_):
        with lock:
            flight["now"] -= 1

    client.meta.events.register("before-call.s3", sent)
    client.meta.events.register("after-call.s3", back)
    pending = pending_tasks(Plan(spec, tuple(tasks)), Start("new", 1, None), storage)
    assert [t.task_id for t in pending] == [t.task_id for t in tasks]     # nothing cached yet
    assert flight["calls"] >= 200 and flight["most"] >= 8, flight


def test_a_reduce_task_finds_its_own_commit_without_reading_the_others(moto_server, bucket):
    """A retried reduce task of R checks its own marker, not all R (R tasks doing that
    would read R x R markers)."""
    from dataclasses import replace

    from engine.job.partitions import commit_partition
    from engine.job.results import ReduceResult
    from engine.task.reduce import run_partition_task

    client = boto3.client("s3", endpoint_url=moto_server)
    storage = Storage(client)
    spec, tasks = committed_job(bucket, 3, storage, "own-marker")
    spec = replace(spec, reducers=200)
    for p in range(200):
        commit_partition(spec, "round1", ReduceResult(status="SUCCEEDED", rows_in=p, rows_out=p, bytes_out=0,
                                                      duration_ms=0, cold_start=False, started_at=0.0, output="",
                                                      partition=p), storage)
    calls = counting(client)
    found = run_partition_task(spec, tasks, "round1", 7, 200, storage)
    assert (found.status, found.partition, found.rows_out) == ("SKIPPED", 7, 7)
    assert len(calls) <= 2, calls

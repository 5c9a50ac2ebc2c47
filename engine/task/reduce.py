"""Reduce tasks: the job's one reducer (which publishes the destination itself), reduce
task p of R (which commits its own files, engine/task/attempt.py; the destination is
published once all R committed, engine/job/partitions.py), and MAPPER_ONLY's publish of
the map tasks' files. Each reads what the committed map tasks list, or in REDUCER_ONLY
mode the job's inputs as planned (pinned, checked).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace

from .. import model_files
from ..errors import PartitionError, UserCodeError
from ..faults import checkpoint
from ..interfaces import Reducer, TaskContext
from ..job.commits import committed_results, part_uris
from ..job.layout import REDUCE_TASK, JobLayout, reduce_task_id
from ..job.params import frozen
from ..job.partitions import (bucket_count, commit_partition, committed_partition, partition_inputs,
                              reduce_gate, round_id)
from ..job.planning import MapTask
from ..job.results import SKIPPED, SUCCEEDED, MapResult, ReduceResult
from ..job.spec import MAPPER_ONLY, REDUCER_ONLY, JobSpec
from ..store.publish import publish
from ..store.staging import stage, stage_inputs
from ..store.storage import Storage
from ..store.uris import basename, join
from ..user_code import run_user, run_user_frame
from .attempt import commit_attempt, new_attempt, run_attempt
from .user import task_logger, user_instance


def run_reduce_task(spec: JobSpec, tasks: list[MapTask], storage: Storage | None = None,
                    results: dict[str, MapResult] | None = None) -> ReduceResult:
    """Apply the Reducer to every committed map output (or, in REDUCER_ONLY mode, to the
    job's input files) and publish the destination."""
    storage = storage or Storage()
    layout = JobLayout(spec.work_dir, spec.job_id)
    started_at = time.time()
    if spec.mode == REDUCER_ONLY:   # the job's inputs, read as planned (pinned, checked)
        inputs = [f for t in tasks for f in t.inputs]
        sources = [f.uri for f in inputs]
        stage_to = lambda folder: stage_inputs(storage, inputs, folder)[0]  # noqa: E731
        workload = sum(t.bytes for t in tasks)
    else:
        results = committed_results(spec, tasks, storage) if results is None else results
        if not results:
            raise UserCodeError(f"job {spec.job_id}: no map task committed; nothing to reduce")
        sources = [u for r in results.values() for u in part_uris(spec, r)]
        if not sources:   # every input was empty: an empty output, nothing for Spark to read
            published = publish(storage, [], spec.output.path, {"job_id": spec.job_id, "rows": 0}, layout)
            return ReduceResult(status=SUCCEEDED, rows_in=0, rows_out=0, bytes_out=0, duration_ms=0,
                                cold_start=False, started_at=started_at, output=spec.output.path,
                                files=published)
        stage_to = lambda folder: stage(storage, sources, folder)  # noqa: E731
        workload = sum(r.bytes_out for r in results.values())

    def publish_files(out_dir: str, names: list[str], rows_out: int) -> list[str]:
        return publish(storage, [(os.path.join(out_dir, n), n) for n in names], spec.output.path,
                       {"job_id": spec.job_id, "rows": rows_out}, layout)

    result = _reduce(spec, REDUCE_TASK, sources, stage_to, workload, publish_files)
    return replace(result, output=spec.output.path)


def run_partition_task(spec: JobSpec, tasks: list[MapTask], round_: str, partition: int, partitions: int,
                       storage: Storage | None = None, attempt_no: int = 1) -> ReduceResult:
    """Reduce task ``partition`` of R: apply the Reducer to its hash buckets of every
    committed map output and commit its own files (the first attempt to commit wins; the
    destination is published once all R committed, engine/job/partitions.py)."""
    storage = storage or Storage()
    return run_attempt(spec, reduce_task_id(partition), [], "reduce", attempt_no, storage,
                       _partition, spec, tasks, round_, partition, partitions, storage, attempt_no)


def _partition(spec: JobSpec, tasks: list[MapTask], round_: str, partition: int, partitions: int,
               storage: Storage, attempt_no: int) -> ReduceResult:
    slot = JobLayout(spec.work_dir, spec.job_id).reduce_slot(round_, partition)
    found = committed_partition(spec, round_, partition, storage)
    if found is not None:
        return replace(found, status=SKIPPED)
    results = committed_results(spec, tasks, storage)
    if round_id(results, partitions, bucket_count(spec)) != round_:
        raise PartitionError(f"the job's committed map tasks are not those reduce round {round_} was "
                             "planned on; run the job again")
    sources = partition_inputs(spec, results, partition, partitions)
    this_attempt = new_attempt()

    def keep_files(out_dir: str, names: list[str], rows_out: int) -> list[str]:
        checkpoint("partition.before_write", slot.task_id)
        for name in names:
            storage.upload(os.path.join(out_dir, name), join(slot.attempt_dir(this_attempt), name))
            checkpoint("partition.mid_write", slot.task_id)
        return [f"{this_attempt}/{n}" for n in names]

    if sources:
        workload = sum(r.bytes_out for r in results.values()) // max(1, partitions)
        result = _reduce(spec, slot.task_id, sources, lambda folder: stage(storage, sources, folder), workload,
                         keep_files)
    else:   # no row hashed here: an empty part of the output
        result = ReduceResult(status=SUCCEEDED, rows_in=0, rows_out=0, bytes_out=0, duration_ms=0,
                              cold_start=False, started_at=time.time(), output="")
    result = replace(result, partition=partition, attempts=attempt_no)
    checkpoint("partition.before_commit", slot.task_id)
    if not commit_attempt(slot, this_attempt, lambda: commit_partition(spec, round_, result, storage), storage):
        return replace(committed_partition(spec, round_, partition, storage), status=SKIPPED)
    return result


def _reduce(spec: JobSpec, task_id: str, sources: list[str], stage_to, workload: int,
            keep) -> ReduceResult:
    """Run the Reducer over ``sources`` (map parts, or REDUCER_ONLY's inputs), which
    ``stage_to(folder)`` puts on local disk, into a scratch folder; ``keep(out_dir, names,
    rows_out)`` puts the files where they belong and returns the names to report."""
    from ..spark import session

    started_at, t0 = time.time(), time.monotonic()
    cold = not session.is_started()
    # As in a map task: a cold JVM boots while pyspark is imported and the inputs staged.
    session.start(spec.spark_conf, workload_bytes=workload)
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from ..spark.readers import observe_rejects, spark_paths, without_rejects, write_frame

    ctx = TaskContext(spec.job_id, task_id, sources, task_logger(spec.job_id, task_id, sources),
                      params=frozen(spec.params))
    model_files.new_task()
    reducer = user_instance(spec, "reducer", Reducer, ctx)

    with tempfile.TemporaryDirectory(prefix=f"lmr-{task_id}-") as scratch:
        local = stage_to(os.path.join(scratch, "in"))
        spark = session.get_spark(spec.spark_conf)
        if spec.mode == REDUCER_ONLY:
            df = run_user_frame("Reducer.read", reducer.read, spark, local, ctx)
        else:
            # The staged parts, flat in one folder (as a folder: one listing, not one per part).
            df = spark.read.parquet(*spark_paths(local))
        seen, written = Observation(), Observation()
        df, corrupt = observe_rejects(df, seen)
        df = without_rejects(df, corrupt)
        out = run_user_frame("Reducer.reduce", reducer.reduce, df, ctx)
        out_dir = os.path.join(scratch, "out")
        run_user("writing the reducer's output", write_frame,
                 out.observe(written, F.count(F.lit(1)).alias("rows")), out_dir,
                 spec.output.format or reducer.output_format)
        names = sorted(n for n in os.listdir(out_dir) if not n.startswith((".", "_")))
        metrics = seen.get
        rows_in, rejected, rows_out = metrics["rows"], metrics["bad"], written.get["rows"]
        files = keep(out_dir, names, rows_out)
        bytes_out = sum(os.path.getsize(os.path.join(out_dir, n)) for n in names)

    ctx.logger.info("%s committed: %d rows in, %d out", task_id, rows_in, rows_out)
    return ReduceResult(status=SUCCEEDED, rows_in=rows_in, rows_out=rows_out, rejected=rejected,
                        bytes_out=bytes_out, duration_ms=int((time.monotonic() - t0) * 1000),
                        cold_start=cold, started_at=started_at, output="", files=files,
                        counters=dict(ctx.counters))


def commit_mapper_output(spec: JobSpec, tasks: list[MapTask], storage: Storage | None = None,
                         results: dict[str, MapResult] | None = None) -> ReduceResult:
    """MAPPER_ONLY: publish every committed task's files as the destination (no Spark)."""
    storage = storage or Storage()
    started_at, t0 = time.time(), time.monotonic()
    results = committed_results(spec, tasks, storage) if results is None else results
    pairs = [(uri, f"{r.task_id}-{basename(uri)}") for r in results.values() for uri in part_uris(spec, r)]
    rows = sum(r.rows_out for r in results.values())
    published = publish(storage, pairs, spec.output.path, {"job_id": spec.job_id, "rows": rows},
                        JobLayout(spec.work_dir, spec.job_id))
    return ReduceResult(status=SUCCEEDED, rows_in=rows, rows_out=rows, bytes_out=0,
                        duration_ms=int((time.monotonic() - t0) * 1000), cold_start=False,
                        started_at=started_at, output=spec.output.path, files=published)


def reduce_job(spec: JobSpec, tasks: list[MapTask], storage: Storage | None = None,
               attempt_no: int = 1) -> ReduceResult:
    """The job's last step, wherever it runs: if enough map tasks committed (the job's
    ``min_success_ratio``), reduce them, or in MAPPER_ONLY mode publish them; else skip.
    A failure is recorded as the ``reduce`` task's (the job's status and report show it)."""
    storage = storage or Storage()
    result = run_attempt(spec, REDUCE_TASK, [], "reduce", attempt_no, storage, _reduce_job, spec, tasks, storage)
    # Its commit is the destination's _SUCCESS (engine/store/publish.py): no marker of its own.
    storage.delete(JobLayout(spec.work_dir, spec.job_id).failure(REDUCE_TASK))
    return result


def _reduce_job(spec: JobSpec, tasks: list[MapTask], storage: Storage) -> ReduceResult:
    results, skipped = reduce_gate(spec, tasks, storage)   # the commits are read once, for both
    if skipped:
        return ReduceResult.skipped(spec.output.path, skipped)
    if spec.mode == MAPPER_ONLY:
        return commit_mapper_output(spec, tasks, storage, results)
    return run_reduce_task(spec, tasks, storage, results if spec.uses_mapper else None)

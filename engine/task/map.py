"""A map task: read the task's inputs (pinned, as planned), apply the Mapper (and the
Reducer's combine and column pruning), write Parquet parts into this attempt's own
folder, and commit them (engine/task/attempt.py). A task whose marker exists is skipped;
one whose output a cached task of an earlier job already holds commits a pointer to it.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

from .. import model_files
from ..errors import RejectedRecordsError, UserCodeError
from ..faults import checkpoint
from ..interfaces import Mapper, Reducer, TaskContext
from ..job import cache
from ..job.commits import commit, committed_result, read_marker
from ..job.layout import BUCKET_COLUMN, JobLayout, Slot, part_name
from ..job.params import frozen
from ..job.partitions import bucket_count
from ..job.planning import MapTask
from ..job.results import SUCCEEDED, MapResult
from ..job.spec import MAPPER_AND_REDUCER, MAPPER_ONLY, JobSpec, partition_columns
from ..spark.rejects import collect_rejects
from ..store.splits import csv_header, split_blocker
from ..store.staging import stage_inputs
from ..store.storage import Storage
from ..store.uris import join
from ..user_code import run_user, run_user_frame
from .attempt import commit_attempt, new_attempt, run_attempt
from .user import task_logger, user_instance


def run_map_task(spec: JobSpec, task: MapTask, storage: Storage | None = None, attempt: int = 1) -> MapResult:
    """Read the task's inputs, apply the Mapper, write Parquet parts, commit.

    ``attempt`` (1 for the first) goes into the result. A failure is recorded in the
    job's failures/ folder (for the job's status) and raised.
    """
    storage = storage or Storage()
    return run_attempt(spec, task.task_id, task.input_uris, "map", attempt, storage, _map, spec, task, storage, attempt)


def _map(spec: JobSpec, task: MapTask, storage: Storage, attempt_no: int) -> MapResult:
    from ..spark import session

    prior = committed_result(spec, task, storage)
    if prior is not None:
        return prior.skipped()
    if spec.cache:   # where the planner could not (a coordinator without pyspark has another key)
        found = cache.lookup(spec, task, storage)
        if found is not None:
            return cache.reuse(spec, task, *found, storage)
    slot = JobLayout(spec.work_dir, spec.job_id).map_slot(task.task_id, task.identity)
    logger = task_logger(spec.job_id, task.task_id, task.input_uris)
    key = cache.task_key(spec, task) if spec.cache else ""
    if task.bytes == 0:
        # Only empty files: no records, and nothing for Spark to read (it makes no
        # partitions of them, so it would report no counts either).
        empty = MapResult(task_id=task.task_id, status=SUCCEEDED, inputs=task.input_uris, rows_in=0,
                          rows_out=0, rejected=0, bytes_in=0, bytes_out=0, duration_ms=0,
                          cold_start=False, started_at=time.time(), worker=f"pid-{os.getpid()}",
                          attempts=attempt_no, cache_key=key, identity=task.identity)
        return _commit(spec, slot, empty, None, storage, logger)

    started_at, t0 = time.time(), time.monotonic()
    cold = not session.is_started()
    # A cold JVM boots while pyspark and the user's code are imported and inputs staged.
    session.start(spec.spark_conf, workload_bytes=task.bytes)
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from ..spark.readers import observe_rejects, without_rejects, write_frame

    ctx = TaskContext(spec.job_id, task.task_id, task.input_uris, logger, params=frozen(spec.params))
    model_files.new_task()   # fetch_file checks each object again in every task
    mapper = user_instance(spec, "mapper", Mapper, ctx)
    # MAPPER_ONLY: the intermediate files ARE the destination's files, in its format.
    # (job.json may lack a format: the coordinator cannot import classes to fill it in.)
    out_format = (spec.output.format or mapper.output_format) if spec.mode == MAPPER_ONLY else "parquet"

    with tempfile.TemporaryDirectory(prefix=f"lmr-{task.task_id}-") as scratch:
        header = mapper.input_format == "csv" and csv_header(mapper.read_options)
        blocker = split_blocker(mapper.input_format, mapper.read_options)
        if blocker and any(f.is_split for f in task.inputs):
            raise UserCodeError(
                f"task {task.task_id} holds a byte range of {task.inputs[0].uri}, but the Mapper reads with "
                f"{blocker}; set that option in the manifest's input.options (the planner then reads each file "
                "whole) or split_bytes above the file's size")
        local, offsets = stage_inputs(storage, list(task.inputs), os.path.join(scratch, "in"),
                                      mapper.input_format, header)
        ctx.staged = {os.path.basename(path): f.uri for path, f in zip(local, task.inputs)}
        spark = session.get_spark(spec.spark_conf)
        df = run_user_frame("Mapper.read", mapper.read, spark, local, ctx)
        seen = Observation()
        df_seen, corrupt = observe_rejects(df, seen)
        good = without_rejects(df_seen, corrupt)
        mapped = run_user_frame("Mapper.map", mapper.map, good, ctx)
        produced = written = Observation()
        out = mapped.observe(produced, F.expr("count(1) AS rows"))
        if spec.mode == MAPPER_AND_REDUCER:
            out, combined = _for_reducer(spec, spark, out, ctx)
            if combined:   # partials, not rows: count what is written as well
                written = Observation()
                out = out.observe(written, F.expr("count(1) AS rows"))
        out_dir = os.path.join(scratch, "out")
        bucketed = bucket_count(spec) > 1
        run_user("writing the mapper's output", write_frame, out, out_dir, out_format,
                 BUCKET_COLUMN if bucketed else None)
        # Each ``get`` is a round trip to the JVM and a conversion of every metric: once each.
        metrics = seen.get
        rows_in, rejected = metrics["rows"], metrics["bad"]
        rows_out = produced.get["rows"]
        rows_written = rows_out if written is produced else written.get["rows"]

        # Parts go to this attempt's own folder; the first attempt to create the marker wins.
        checkpoint("map.before_write", task.task_id)
        this_attempt = new_attempt()
        if rejected:
            records = collect_rejects(df, local, task.input_uris, mapper.input_format, offsets, header)
            errors = JobLayout(spec.work_dir, spec.job_id).errors(task.task_id)
            storage.write_text(errors,
                               "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
            if rejected > spec.max_rejected_ratio * rows_in:
                raise RejectedRecordsError(
                    f"task {task.task_id} rejected {rejected} of {rows_in} records "
                    f"({rejected / rows_in:.1%} > max_rejected_ratio {spec.max_rejected_ratio:.1%}) "
                    f"in {', '.join(task.input_uris)}; first: {records[0]['reason']} "
                    f"at {_position(records[0])}; all in {errors}")
        bytes_out, parts = 0, []
        for path, part in _written_parts(out_dir, bucketed):
            bytes_out += os.path.getsize(path)
            storage.upload(path, join(slot.attempt_dir(this_attempt), part))
            parts.append(f"{this_attempt}/{part}")
            checkpoint("map.mid_write", task.task_id)

    result = MapResult(
        task_id=task.task_id, status=SUCCEEDED, inputs=task.input_uris,
        rows_in=rows_in, rows_out=rows_out, rejected=rejected, bytes_in=task.bytes,
        bytes_out=bytes_out, rows_written=rows_written, duration_ms=int((time.monotonic() - t0) * 1000),
        cold_start=cold, started_at=started_at, parts=parts,
        counters=dict(ctx.counters), worker=f"pid-{os.getpid()}", attempts=attempt_no, cache_key=key,
        identity=task.identity)
    return _commit(spec, slot, result, this_attempt, storage, ctx.logger)


def _written_parts(out_dir: str, bucketed: bool) -> list[tuple[str, str]]:
    """(local file, part name) for what Spark wrote: ``part-<i><ext>``, or per hash bucket
    (Spark's ``<column>=<b>/`` folders) ``bucket-<b>-<i><ext>``: names a task's summary
    can rebuild (engine/job/commits.py)."""
    def files(folder: str) -> list[str]:
        return sorted(n for n in os.listdir(folder) if not n.startswith((".", "_")))

    def ext(name: str) -> str:
        return name[name.find("."):] if "." in name else ""

    if not bucketed:
        return [(os.path.join(out_dir, n), part_name(i, ext(n))) for i, n in enumerate(files(out_dir))]
    out = []
    for folder in sorted(os.listdir(out_dir)):
        if folder.startswith(f"{BUCKET_COLUMN}="):
            bucket, path = int(folder.split("=", 1)[1]), os.path.join(out_dir, folder)
            out += [(os.path.join(path, n), part_name(i, ext(n), bucket)) for i, n in enumerate(files(path))]
    return out


def _position(record: dict) -> str:
    """Where a reject is: its line, or (in a split of a large file) its byte offset."""
    return f"byte {record['offset']}" if record.get("offset") is not None else f"line {record.get('line')}"


def _commit(spec: JobSpec, slot: Slot, result: MapResult, this_attempt: str | None,
            storage: Storage, logger) -> MapResult:
    """Commit the task (engine/task/attempt.py); the loser returns the winner's result."""
    checkpoint("map.before_commit", result.task_id)
    if not commit_attempt(slot, this_attempt, lambda: commit(spec, result, storage), storage):
        return read_marker(spec.work_dir, spec.job_id, result.task_id, result.identity, storage).skipped()
    cache.remember(spec, result, storage)
    logger.info("map task committed: %d rows in, %d out, %d rejected",
                result.rows_in, result.rows_out, result.rejected)
    return result


def _for_reducer(spec: JobSpec, spark, mapped, ctx: TaskContext):
    """(What the reducer will read of this task, whether a combiner made it): the
    combiner's partials (if the Reducer has one), and only the columns its query uses
    (all of them in a cached job: a later job's Reducer may read others)."""
    from ..spark.buckets import with_buckets
    from ..spark.pruning import used_columns, written_columns

    reducer = user_instance(spec, "reducer", Reducer, ctx, in_map_task=True)
    combined = type(reducer).combine is not Reducer.combine
    out = run_user_frame("Reducer.combine", reducer.combine, mapped, ctx) if combined else mapped
    used = None if spec.cache else written_columns(reducer, out.columns, used_columns(spark, reducer, out.schema, ctx))
    if used:
        ctx.logger.info("columns not written (the reducer never reads them): %s",
                        ", ".join(c for c in out.columns if c not in used))
    buckets = bucket_count(spec)
    if buckets > 1:   # R > 1 reducers: hash the partition columns before pruning may drop them
        out = with_buckets(out, partition_columns(type(reducer)), buckets, spec.reducer)
        used = used and [*used, BUCKET_COLUMN]
    return (out.select(*used) if used else out), combined

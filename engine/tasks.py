"""The task functions: what a mapper or reducer Lambda does, and what a local worker does.

Nothing here knows who called it. Each function takes a resolved spec and its task,
does its work through :class:`engine.store.storage.Storage`, and returns a small JSON-able
result. A map task is idempotent: each attempt writes its parts into a folder of its
own, then creates the ``_COMMITTED.<identity>`` marker (holding its result and listing its parts)
only if no other attempt has: the first committer wins, a later attempt returns the
winner's result and removes only its own parts. A task whose marker exists is skipped.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import uuid
from dataclasses import replace

from .errors import CommitConflict, PartitionError, RejectedRecordsError, UserCodeError, error_to_dict, first_line
from . import model_files
from .faults import checkpoint
from .interfaces import ArrowMapper, Mapper, Reducer, TaskContext
from .job import cache
from .job.commits import commit, committed_result, committed_results, part_uris, read_marker, record_failure
from .job.layout import BUCKET_COLUMN, REDUCE_TASK, JobLayout, part_name, reduce_task_id
from .job.partitions import (bucket_count, commit_partition, committed_partition,
                             partition_inputs, round_id)
from .job.loading import resolve_class
from .job.params import frozen
from .job.planning import MapTask
from .job.results import SKIPPED, SUCCEEDED, MapResult, ReduceResult
from .job.spec import MAPPER_AND_REDUCER, MAPPER_ONLY, REDUCER_ONLY, JobSpec, partition_columns
from .spark.rejects import collect_rejects
from .spark.session import platform_failure
from .store.publish import check_destination, publish
from .store.splits import csv_header, split_blocker
from .store.staging import stage, stage_inputs
from .store.storage import Storage
from .store.uris import basename, join
from .user_code import run_user, run_user_frame, shared_instance

log = logging.getLogger("lmr.task")


def task_logger(job_id: str, task_id: str, inputs: list[str]) -> logging.LoggerAdapter:
    return logging.LoggerAdapter(log, {"job_id": job_id, "task_id": task_id,
                                       "input": inputs[0] if len(inputs) == 1 else inputs})


def _user_instance(spec: JobSpec, role: str, base: type, ctx: TaskContext, in_map_task: bool = False,
                   plan_only: bool = False):
    """The job's Mapper or Reducer, set up once in this process (engine/user_code.py).
    ``in_map_task``: the Reducer a map task uses for its combine and column pruning, set
    up only if it has a combine (a lookup table loaded for ``reduce`` stays out of mappers).
    ``plan_only``: never set up (its query is only planned, over no rows)."""
    try:
        cls = resolve_class(getattr(spec, role), base)
    except ValueError as exc:
        raise UserCodeError(f"{role} {getattr(spec, role)!r}: {exc}") from None
    # Manifest settings win over the class defaults (they were filled from them at load).
    settings: dict = {}
    if spec.input.format:
        settings["input_format"] = spec.input.format
    if spec.input.schema:
        settings["schema"] = spec.input.schema
    if spec.input.options:
        settings["read_options"] = {**cls.read_options, **spec.input.options}
    if issubclass(cls, ArrowMapper) or plan_only:
        set_up = False   # in Spark's Python workers, where its batches are mapped
    else:
        set_up = not in_map_task or cls.combine is not Reducer.combine
    return shared_instance(cls, settings, ctx, base.__name__, set_up=set_up)


def run_map_task(spec: JobSpec, task: MapTask, storage: Storage | None = None, attempt: int = 1) -> MapResult:
    """Read the task's inputs, apply the Mapper, write Parquet parts, commit.

    ``attempt`` (1 for the first) goes into the result. A failure is recorded in the
    job's failures/ folder (for the job's status) and raised.
    """
    storage = storage or Storage()
    return _attempt(spec, task.task_id, task.input_uris, "map", attempt, storage, _map, spec, task, storage, attempt)


def _attempt(spec: JobSpec, task_id: str, inputs: list[str], kind: str, attempt_no: int, storage: Storage,
             fn, *args):
    """One attempt of a task (``kind``: "map" or "reduce"), ``fn(*args)``: its failure is
    classified (engine/spark/session.platform_failure), recorded for the job's status and
    report (engine/job/commits.record_failure) and raised."""
    started_at = time.time()
    try:
        return fn(*args)
    except Exception as exc:
        error = platform_failure(exc, kind)
        record_failure(spec, task_id, inputs, error_to_dict(error), attempt_no, storage, started_at)
        if error is exc:
            raise
        raise error from exc


def _map(spec: JobSpec, task: MapTask, storage: Storage, attempt_no: int) -> MapResult:
    from .spark import session

    prior = committed_result(spec, task, storage)
    if prior is not None:
        return prior.skipped()
    if spec.cache:   # where the planner could not (a coordinator without pyspark has another key)
        found = cache.lookup(spec, task, storage)
        if found is not None:
            return cache.reuse(spec, task, *found, storage)
    layout = JobLayout(spec.work_dir, spec.job_id)
    logger = task_logger(spec.job_id, task.task_id, task.input_uris)
    key = cache.task_key(spec, task) if spec.cache else ""
    if task.bytes == 0:
        # Only empty files: no records, and nothing for Spark to read (it makes no
        # partitions of them, so it would report no counts either).
        empty = MapResult(task_id=task.task_id, status=SUCCEEDED, inputs=task.input_uris, rows_in=0,
                          rows_out=0, rejected=0, bytes_in=0, bytes_out=0, duration_ms=0,
                          cold_start=False, started_at=time.time(), worker=f"pid-{os.getpid()}",
                          attempts=attempt_no, cache_key=key, identity=task.identity)
        return _commit(spec, layout, empty, None, storage, logger)

    started_at, t0 = time.time(), time.monotonic()
    cold = not session.is_started()
    # A cold JVM boots while pyspark and the user's code are imported and inputs staged.
    session.start(spec.spark_conf, workload_bytes=task.bytes)
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from .spark.readers import observe_rejects, without_rejects, write_frame

    ctx = TaskContext(spec.job_id, task.task_id, task.input_uris, logger, params=frozen(spec.params))
    model_files.new_task()   # fetch_file checks each object again in every task
    mapper = _user_instance(spec, "mapper", Mapper, ctx)
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
        attempt = uuid.uuid4().hex[:12]
        if rejected:
            records = collect_rejects(df, local, task.input_uris, mapper.input_format, offsets, header)
            storage.write_text(layout.errors(task.task_id),
                               "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
            if rejected > spec.max_rejected_ratio * rows_in:
                raise RejectedRecordsError(
                    f"task {task.task_id} rejected {rejected} of {rows_in} records "
                    f"({rejected / rows_in:.1%} > max_rejected_ratio {spec.max_rejected_ratio:.1%}) "
                    f"in {', '.join(task.input_uris)}; first: {records[0]['reason']} "
                    f"at {_position(records[0])}; all in {layout.errors(task.task_id)}")
        bytes_out, parts = 0, []
        for path, part in _written_parts(out_dir, bucketed):
            bytes_out += os.path.getsize(path)
            storage.upload(path, join(layout.attempt_dir(task.task_id, attempt), part))
            parts.append(f"{attempt}/{part}")
            checkpoint("map.mid_write", task.task_id)

    result = MapResult(
        task_id=task.task_id, status=SUCCEEDED, inputs=task.input_uris,
        rows_in=rows_in, rows_out=rows_out, rejected=rejected, bytes_in=task.bytes,
        bytes_out=bytes_out, rows_written=rows_written, duration_ms=int((time.monotonic() - t0) * 1000),
        cold_start=cold, started_at=started_at, parts=parts,
        counters=dict(ctx.counters), worker=f"pid-{os.getpid()}", attempts=attempt_no, cache_key=key,
        identity=task.identity)
    return _commit(spec, layout, result, attempt, storage, ctx.logger)


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


def _commit(spec: JobSpec, layout: JobLayout, result: MapResult, attempt: str | None,
            storage: Storage, logger) -> MapResult:
    """Create the task's marker unless another attempt did first. The loser returns the
    winner's result and removes only its own parts."""
    checkpoint("map.before_commit", result.task_id)
    try:
        commit(spec, result, storage)
    except CommitConflict:
        # Another attempt (a Lambda retry while this one still ran, a redrive) committed first.
        if attempt is not None:
            storage.delete_prefix(layout.attempt_dir(result.task_id, attempt), owner=layout.job_dir)
        logger.info("map task already committed by another attempt; this one's parts removed")
        return read_marker(spec.work_dir, spec.job_id, result.task_id, result.identity, storage).skipped()
    storage.delete(layout.failure(result.task_id))   # an earlier attempt's error no longer applies
    cache.remember(spec, result, storage)
    logger.info("map task committed: %d rows in, %d out, %d rejected",
                result.rows_in, result.rows_out, result.rejected)
    return result


def _for_reducer(spec: JobSpec, spark, mapped, ctx: TaskContext):
    """(What the reducer will read of this task, whether a combiner made it): the
    combiner's partials (if the Reducer has one), and only the columns its query uses
    (all of them in a cached job: a later job's Reducer may read others)."""
    from .spark.buckets import with_buckets
    from .spark.pruning import used_columns, written_columns

    reducer = _user_instance(spec, "reducer", Reducer, ctx, in_map_task=True)
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


# What a Mapper reads when it declares no schema, for the formats whose rows are fixed.
_FIXED_SCHEMAS = {"text": "value STRING", "binary": "path STRING, content BINARY"}


def preview_columns(spec: JobSpec) -> tuple[list[str], list[str]] | str:
    """For ``lmr validate``: (the columns map tasks write, those column pruning leaves out),
    or why that cannot be told before a task reads its input. The Mapper and the Reducer
    are planned over no rows (Spark starts; nothing is read, no ``setup`` runs)."""
    from .spark import session
    from .spark.pruning import used_columns, written_columns

    if spec.mode != MAPPER_AND_REDUCER:
        return "no reducer reads the mapper's output"
    if spec.cache:
        return "a cached job writes every column (a later job's Reducer may read others)"
    ctx = TaskContext(spec.job_id, "validate", [], task_logger(spec.job_id, "validate", []),
                      params=frozen(spec.params))
    try:
        mapper = _user_instance(spec, "mapper", Mapper, ctx, plan_only=True)
        schema = mapper.schema or _FIXED_SCHEMAS.get(mapper.input_format)
        if schema is None:
            return ("the Mapper declares no schema (its schema, or input.schema): each map task's log "
                    "names the columns it did not write")
        with session.jvm_output_discarded():
            spark = session.get_spark(spec.spark_conf)
        mapped = run_user_frame("Mapper.map", mapper.map, spark.createDataFrame([], schema), ctx)
        reducer = _user_instance(spec, "reducer", Reducer, ctx, plan_only=True)
        if type(reducer).combine is not Reducer.combine:
            mapped = run_user_frame("Reducer.combine", reducer.combine, mapped, ctx)
        written = written_columns(reducer, mapped.columns, used_columns(spark, reducer, mapped.schema, ctx))
    except Exception as exc:   # noqa: BLE001 - a preview: say why, the job's own checks still run
        return f"could not plan the job over no rows: {first_line(str(exc)) or type(exc).__name__}"
    written = written or mapped.columns
    return written, [c for c in mapped.columns if c not in written]


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
    return _attempt(spec, reduce_task_id(partition), [], "reduce", attempt_no, storage,
                    _partition, spec, tasks, round_, partition, partitions, storage, attempt_no)


def _partition(spec: JobSpec, tasks: list[MapTask], round_: str, partition: int, partitions: int,
               storage: Storage, attempt_no: int) -> ReduceResult:
    layout = JobLayout(spec.work_dir, spec.job_id)
    found = committed_partition(spec, round_, partition, storage)
    if found is not None:
        return replace(found, status=SKIPPED)
    results = committed_results(spec, tasks, storage)
    if round_id(results, partitions, bucket_count(spec)) != round_:
        raise PartitionError(f"the job's committed map tasks are not those reduce round {round_} was "
                             "planned on; run the job again")
    sources = partition_inputs(spec, results, partition, partitions)
    attempt = uuid.uuid4().hex[:12]
    task_id = reduce_task_id(partition)

    def keep_files(out_dir: str, names: list[str], rows_out: int) -> list[str]:
        checkpoint("partition.before_write", task_id)
        for name in names:
            storage.upload(os.path.join(out_dir, name), join(layout.reduce_dir(round_, partition), attempt, name))
            checkpoint("partition.mid_write", task_id)
        return [f"{attempt}/{n}" for n in names]

    if sources:
        workload = sum(r.bytes_out for r in results.values()) // max(1, partitions)
        result = _reduce(spec, task_id, sources, lambda folder: stage(storage, sources, folder), workload,
                         keep_files)
    else:   # no row hashed here: an empty part of the output
        result = ReduceResult(status=SUCCEEDED, rows_in=0, rows_out=0, bytes_out=0, duration_ms=0,
                              cold_start=False, started_at=time.time(), output="")
    result = replace(result, partition=partition, attempts=attempt_no)
    checkpoint("partition.before_commit", task_id)
    try:
        commit_partition(spec, round_, result, storage)
    except CommitConflict:
        storage.delete_prefix(join(layout.reduce_dir(round_, partition), attempt, ""), owner=layout.job_dir)
        log.info("reduce task %d already committed by another attempt; this one's files removed", partition)
        return replace(committed_partition(spec, round_, partition, storage), status=SKIPPED)
    storage.delete(layout.failure(task_id))   # an earlier attempt's error no longer applies
    return result


def _reduce(spec: JobSpec, task_id: str, sources: list[str], stage_to, workload: int,
            keep) -> ReduceResult:
    """Run the Reducer over ``sources`` (map parts, or REDUCER_ONLY's inputs), which
    ``stage_to(folder)`` puts on local disk, into a scratch folder; ``keep(out_dir, names,
    rows_out)`` puts the files where they belong and returns the names to report."""
    from .spark import session

    started_at, t0 = time.time(), time.monotonic()
    cold = not session.is_started()
    # As in a map task: a cold JVM boots while pyspark is imported and the inputs staged.
    session.start(spec.spark_conf, workload_bytes=workload)
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from .spark.readers import observe_rejects, spark_paths, without_rejects, write_frame

    ctx = TaskContext(spec.job_id, task_id, sources, task_logger(spec.job_id, task_id, sources),
                      params=frozen(spec.params))
    model_files.new_task()
    reducer = _user_instance(spec, "reducer", Reducer, ctx)

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
    result = _attempt(spec, REDUCE_TASK, [], "reduce", attempt_no, storage, _reduce_job, spec, tasks, storage)
    storage.delete(JobLayout(spec.work_dir, spec.job_id).failure(REDUCE_TASK))   # an earlier attempt's
    return result


def _reduce_job(spec: JobSpec, tasks: list[MapTask], storage: Storage) -> ReduceResult:
    from .job.status import may_reduce, too_few_succeeded

    # Before any work: a destination holding someone else's files is refused, untouched.
    check_destination(storage, spec.output.path, JobLayout(spec.work_dir, spec.job_id))
    results = None
    if spec.mode != REDUCER_ONLY:   # the commits are read once, for the check and the work
        results = committed_results(spec, tasks, storage)
        if not may_reduce(len(tasks), len(results), spec.min_success_ratio):
            return ReduceResult.skipped(spec.output.path,
                                        too_few_succeeded(len(results), len(tasks), spec.min_success_ratio))
    if spec.mode == MAPPER_ONLY:
        return commit_mapper_output(spec, tasks, storage, results)
    return run_reduce_task(spec, tasks, storage, results)

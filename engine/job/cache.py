"""The cache across jobs (``"cache": true``): a map task is reused instead of run when an
earlier job in the same work dir committed a task with the same key.

The key covers everything a map task's output depends on: its inputs (URI, size, ETag
on S3 or mtime locally, byte range), the Mapper's source and, when the job reduces, the
Reducer's ``combine`` and ``partition_by`` (engine/job/fingerprints.py), the engine's own source, and the
settings that shape what is written (mode, input format, schema and options, the output
format of a MAPPER_ONLY job, the hash buckets of R > 1 reducers, spark_conf, max_rejected_ratio, cache_version, params). A cached
job's map tasks write every column the Mapper returns, so a changed Reducer may read
any of them.

An entry (``cache/<key>.json``) is only a pointer: ``{job_id, task_id}`` of the task
that ran. It is trusted only while that task's marker still says the same key and every
part it lists is there; an entry whose job folder was deleted is ignored and replaced.
A reused task's own marker is a pointer too (status CACHED, with the source job), checked
again whenever the job starts a run. Importable without pyspark.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace

from ..errors import CommitConflict
from ..store.storage import Storage
from .commits import commit, read_marker
from .fingerprints import digest, engine_fingerprint, runtime_fingerprint
from .layout import JobLayout
from .partitions import bucket_count
from .planning import MapTask
from .results import CACHED, SUCCEEDED, MapResult
from .spec import MAPPER_AND_REDUCER, MAPPER_ONLY, JobSpec

log = logging.getLogger(__name__)


def task_key(spec: JobSpec, task: MapTask) -> str:
    """What the task's output depends on, as one hash."""
    settings = {
        "engine": engine_fingerprint(),
        # Python, pyspark, pyarrow, Java: a coordinator without pyspark computes another key
        # than its mapper Lambdas, so there a task looks itself up (engine/task/map.py).
        "runtime": runtime_fingerprint(),
        "mode": spec.mode,
        "mapper": spec.mapper,
        "mapper_source": spec.code.get("mapper", ""),
        "combiner_source": spec.code.get("combiner", "") if spec.mode == MAPPER_AND_REDUCER else "",
        "input": {"format": spec.input.format, "schema": spec.input.schema, "options": spec.input.options},
        "output_format": spec.output.format if spec.mode == MAPPER_ONLY else None,
        "spark_conf": spec.spark_conf,
        "max_rejected_ratio": spec.max_rejected_ratio,
        "cache_version": spec.cache_version,
        "params": spec.params,
        "buckets": bucket_count(spec),
        "inputs": [f.to_dict() for f in task.inputs],
    }
    return digest(json.dumps(settings, sort_keys=True))


def remember(spec: JobSpec, result: MapResult, storage: Storage) -> None:
    """After a task committed: point the key's entry at it (replacing an older entry,
    which may point at a deleted job)."""
    if not (spec.cache and result.cache_key and result.status == SUCCEEDED):
        return
    entry = {"job_id": spec.job_id, "task_id": result.task_id, "key": result.cache_key}
    try:
        storage.write_text(JobLayout(spec.work_dir, spec.job_id).cache_entry(result.cache_key), json.dumps(entry))
    except Exception:   # the task committed; only later jobs miss the reuse
        log.exception("could not write the cache entry of task %s", result.task_id)


def source_of(spec: JobSpec, job_id: str, task_id: str, identity: str, key: str,
              storage: Storage) -> MapResult | None:
    """The committed result of ``job_id``'s task ``task_id`` (which read what ``identity``
    says) if it still stands for ``key``: its marker says that key and every part it lists
    exists. Else None."""
    try:
        result = read_marker(spec.work_dir, job_id, task_id, identity, storage)
    except (ValueError, KeyError, TypeError):
        return None
    if result is None or result.status != SUCCEEDED or result.cache_key != key:
        return None
    layout = JobLayout(spec.work_dir, job_id)
    present = {f.uri for f in storage.list(layout.intermediate(task_id) + "/")}
    if any(layout.part(task_id, p) not in present for p in result.parts):
        return None
    return result


def lookup(spec: JobSpec, task: MapTask, storage: Storage) -> tuple[str, MapResult] | None:
    """(job id, committed result) of an earlier job's task this task can reuse, or None."""
    key = task_key(spec, task)
    uri = JobLayout(spec.work_dir, spec.job_id).cache_entry(key)
    if not storage.exists(uri):
        return None
    try:
        entry = json.loads(storage.read_text(uri))
        job_id, task_id = str(entry["job_id"]), str(entry["task_id"])
    except (ValueError, KeyError, TypeError):
        return None
    if job_id == spec.job_id:
        return None   # its own earlier run: that marker is the task's own, not a pointer
    source = source_of(spec, job_id, task_id, task.identity, key, storage)   # the same inputs: the key says so
    return (job_id, source) if source is not None else None


def reuse(spec: JobSpec, task: MapTask, source_job: str, source: MapResult, storage: Storage) -> MapResult:
    """Commit ``task`` as a pointer to the parts of ``source_job``'s task ``source``; the
    committed result is returned (another attempt's, if one committed first)."""
    result = replace(source, task_id=task.task_id, status=CACHED, inputs=task.input_uris, identity=task.identity,
                     source_job=source_job, source_task=source.task_id,
                     duration_ms=0, attempts=0, cold_start=False)
    try:
        commit(spec, result, storage)
    except CommitConflict:
        return read_marker(spec.work_dir, spec.job_id, task.task_id, task.identity, storage)
    return result


def pointer_stands(spec: JobSpec, result: MapResult, storage: Storage) -> bool:
    """Whether a CACHED marker's source is still there (its job folder not deleted)."""
    return source_of(spec, result.source_job, result.source_task, result.identity, result.cache_key,
                     storage) is not None

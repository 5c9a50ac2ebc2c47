"""What a job's folder says about its map tasks: the commit markers (a task's result and
its parts, or a pointer to another job's parts when the task came from the cache) and
the failure records. The job's status is computed from these, locally and on AWS.

Reading a marker per task costs a request per task (400 s of a reducer's 15 minutes at
10,000 tasks). So a task that commits also writes an empty object whose *name* holds
its result, compressed (``done/<task_id>.<summary>``): one LIST reads a thousand of
them. The marker is the commit: a summary is written only after it, and removed
before it (``uncommit``), so a summary always has its marker; a task with no summary
(its mapper died between the two writes, or its result does not fit a name) is read
from its marker, in parallel.
Importable without pyspark.
"""

from __future__ import annotations

import base64
import json
import logging
import posixpath
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

from ..store.storage import Storage
from ..store.uris import basename
from .layout import JobLayout, Slot, bucket_of, is_reduce_task, part_name
from .planning import MapTask
from .results import CACHED, MapResult
from .spec import JobSpec

log = logging.getLogger(__name__)


def read_slot(slot: Slot, storage: Storage) -> dict | None:
    """What a task's commit marker holds (map or reduce task alike), or None: not committed."""
    if not storage.exists(slot.marker):
        return None
    return json.loads(storage.read_text(slot.marker))


def create_marker(slot: Slot, body: dict, storage: Storage) -> None:
    """Create a task's commit marker holding ``body``, only if no attempt has: CommitConflict
    when one did (a conditional create, S3's ``IfNoneMatch`` or an exclusive local create)."""
    storage.create(slot.marker, json.dumps(body))


def read_marker(work_dir: str, job_id: str, task_id: str, identity: str, storage: Storage) -> MapResult | None:
    """The result a task's marker for ``identity`` (what it read) holds, or None."""
    body = read_slot(JobLayout(work_dir, job_id).map_slot(task_id, identity), storage)
    result = None if body is None else MapResult.from_dict(body)
    return result if result is not None and result.identity == identity else None


def committed_result(spec: JobSpec, task: MapTask, storage: Storage) -> MapResult | None:
    """The result an earlier attempt committed for this task as planned now (or reused
    from the cache); a commit for other inputs under the same task id is not it."""
    return read_marker(spec.work_dir, spec.job_id, task.task_id, task.identity, storage)


def commit(spec: JobSpec, result: MapResult, storage: Storage) -> None:
    """Create the task's marker (CommitConflict if another attempt did first), then its
    summary. The marker is the commit; a summary that could not be written only costs a
    reader one request."""
    layout = JobLayout(spec.work_dir, spec.job_id)
    create_marker(layout.map_slot(result.task_id, result.identity), result.to_dict(), storage)
    name = summary_name(result)
    if name:
        try:
            storage.write_bytes(layout.summaries + name, b"")
        except Exception:
            log.exception("could not write the summary of task %s", result.task_id)


def uncommit(spec: JobSpec, result: MapResult, storage: Storage) -> None:
    """Remove a committed task's summary and marker (a CACHED pointer whose source is gone)."""
    layout = JobLayout(spec.work_dir, spec.job_id)
    name = summary_name(result)
    if name:
        storage.delete(layout.summaries + name)
    storage.delete(layout.committed_marker(result.task_id, result.identity))


def committed_results(spec: JobSpec, tasks, storage: Storage) -> dict[str, MapResult]:
    """task_id -> committed result, for every task that committed (the others are absent):
    the summaries by LIST, then the markers of the tasks without one, in parallel."""
    by_id = {t.task_id: t for t in tasks}
    found: dict[str, MapResult] = {}
    for f in storage.list(JobLayout(spec.work_dir, spec.job_id).summaries):
        task_id, _, code = posixpath.basename(f.uri).partition(".")
        if task_id in by_id and task_id not in found:
            result = _from_summary(code, by_id[task_id])
            if result is not None and result.identity == by_id[task_id].identity:
                found[task_id] = result
    missing = [task_id for task_id in by_id if task_id not in found]
    for task_id, result in zip(missing, in_parallel(lambda t: committed_result(spec, by_id[t], storage),
                                                    missing)):
        if result is not None:
            found[task_id] = result
    return {task_id: found[task_id] for task_id in by_id if task_id in found}


def in_parallel(fn, items: list) -> list:
    """``[fn(item) for item in items]``, ``_READERS`` at a time: work of a request or a few
    per task waits on the store's latency, not on this machine."""
    if len(items) < 2:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(min(_READERS, len(items))) as pool:
        return list(pool.map(fn, items))


# A local file name holds 255 bytes; a longer summary is left out (its marker is read).
_MAX_NAME = 240
_READERS = 32   # requests at once (markers of tasks without a summary, cache lookups)
_NUMBERS = ("rows_in", "rows_out", "rejected", "bytes_in", "bytes_out", "rows_written", "duration_ms", "attempts")


def summary_name(result: MapResult) -> str | None:
    """``<task_id>.<the result, compressed>``, or None when it does not fit a name. Parts
    must be named as map tasks name them (:func:`engine.job.layout.part_name`) to be summarized."""
    parts = _part_pattern(result.parts)
    if parts is None:
        return None
    body = {"s": result.status, "n": [getattr(result, k) for k in _NUMBERS], "t": result.started_at,
            "c": int(result.cold_start), "p": parts, "w": result.worker, "k": result.counters,
            "h": result.cache_key, "j": result.source_job, "u": result.source_task, "i": result.identity}
    raw = zlib.compress(json.dumps({k: v for k, v in body.items() if v not in ("", {}, None)},
                                   separators=(",", ":")).encode(), 9)
    name = f"{result.task_id}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}"
    return name if len(name) <= _MAX_NAME else None


def _from_summary(code: str, task: MapTask) -> MapResult | None:
    try:
        body = json.loads(zlib.decompress(base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))))
        return MapResult(task_id=task.task_id, inputs=task.input_uris, status=body["s"],
                         **dict(zip(_NUMBERS, body["n"])), started_at=body["t"], cold_start=bool(body["c"]),
                         parts=_parts(body.get("p") or []),
                         worker=body.get("w", ""), counters=body.get("k", {}), cache_key=body.get("h", ""),
                         source_job=body.get("j", ""), source_task=body.get("u", ""), identity=body.get("i", ""))
    except (ValueError, KeyError, TypeError, zlib.error):
        return None   # not a summary this engine wrote: the marker is read instead


def _part_pattern(parts: list[str]) -> list | None:
    """[attempt, how many, extension] when parts are ``<attempt>/part-00000<ext>``, ...;
    [attempt, -1, extension, buckets as a hex bit mask] when they are one file per hash
    bucket (R > 1 reducers); [] for none; None for any other naming."""
    if not parts:
        return []
    attempt, _, first = parts[0].partition("/")
    ext = first[first.find("."):] if "." in first else ""
    if parts == [f"{attempt}/{part_name(i, ext)}" for i in range(len(parts))]:
        return [attempt, len(parts), ext]
    buckets = [bucket_of(p) for p in parts]
    if None not in buckets and parts == [f"{attempt}/{part_name(0, ext, b)}" for b in buckets]:
        return [attempt, -1, ext, format(sum(1 << b for b in set(buckets)), "x")]
    return None


def _parts(pattern: list) -> list[str]:
    """The part names a :func:`_part_pattern` stands for."""
    if not pattern:
        return []
    attempt, count, ext, *mask = pattern
    if count >= 0:
        return [f"{attempt}/{part_name(i, ext)}" for i in range(count)]
    bits = int(mask[0], 16)
    return [f"{attempt}/{part_name(0, ext, b)}" for b in range(bits.bit_length()) if bits >> b & 1]


def part_uris(spec: JobSpec, result: MapResult) -> list[str]:
    """The parts a committed task's marker lists: its own, or (CACHED) the source job's."""
    if result.status == CACHED:
        layout, task_id = JobLayout(spec.work_dir, result.source_job), result.source_task
    else:
        layout, task_id = JobLayout(spec.work_dir, spec.job_id), result.task_id
    return [layout.part(task_id, p) for p in result.parts]


def record_failure(spec: JobSpec, task_id: str, inputs: list[str], error: dict, attempt: int,
                   storage: Storage, started_at: float | None = None) -> None:
    """Record the error (``{errorType, errorMessage}``) of a task's failed attempt (the last
    one is what the status says): a map task's, or a reduce task's (``reduce-<p>``, R > 1).
    ``started_at``: when this attempt started. The first attempt's start is kept, so the
    report draws the task as long as it was tried."""
    uri = JobLayout(spec.work_dir, spec.job_id).failure(task_id)
    try:
        earlier = recorded_failure(spec, task_id, storage) or {}
        now = time.time()
        storage.write_text(uri, json.dumps({
            "task_id": task_id, "inputs": inputs, **error, "attempts": attempt,
            "started_at": earlier.get("started_at", started_at or now), "finished_at": now}))
    except Exception:  # the original error matters more than its record
        log.exception("could not record the failure of task %s at %s", task_id, uri)


def reduce_failures(spec: JobSpec, storage: Storage) -> list[tuple[str, dict]]:
    """(task id, record) of each reduce task's recorded failure (the reducer's, or with
    R > 1 each reduce task's): an attempt that succeeds removes its own, so what is left failed."""
    layout = JobLayout(spec.work_dir, spec.job_id)
    names = sorted(basename(info.uri)[:-len(".json")] for info in storage.list(layout.failures)
                   if info.uri.endswith(".json"))
    records = [(name, recorded_failure(spec, name, storage)) for name in names if is_reduce_task(name)]
    return [(name, record) for name, record in records if record]


def recorded_failure(spec: JobSpec, task_id: str, storage: Storage) -> dict | None:
    uri = JobLayout(spec.work_dir, spec.job_id).failure(task_id)
    return json.loads(storage.read_text(uri)) if storage.exists(uri) else None

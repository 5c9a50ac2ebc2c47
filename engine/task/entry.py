"""The task entry: one event shape, two callers. A mapper or reducer Lambda and a local
worker process both hand it the same small event, and it calls the task function:

- map: ``{job_id, job, task_id, inputs, retry_count}``
- reduce: ``{job_id, job, retry_count}``
- reduce task p of R: ``{job_id, job, round, partition, partitions, retry_count}``
- publishing the R reduce tasks' output: ``{job_id, job, step: "publish", retry_count}``

``job`` is the job's ``job.json`` (read once per process), ``retry_count`` how many
attempts came before this one (``$$.State.RetryCount`` on AWS). What a task raises is
reported under the class name the retriers match: an engine error as it is, anything
else as RetryableTaskError, and a retryable one as RetriesExhaustedError once the job's
``retries`` are spent (engine/job/lifecycle.py). Importable without pyspark.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..errors import EngineError, RetryableTaskError
from ..job.lifecycle import final_error
from ..job.partitions import publish_partitions
from ..job.planning import InputFile, MapTask, load_tasks
from ..job.manifest import read_job_json
from ..job.spec import JobSpec
from ..spark.session import platform_failure
from ..store.storage import Storage


@lru_cache(maxsize=16)
def load_spec(job_uri: str, storage: Storage) -> JobSpec:
    """A job's resolved spec; a warm container or worker runs many of its tasks."""
    return read_job_json(job_uri, storage)


def attempt(event: dict[str, Any]) -> int:
    """The event's attempt number, 1 for the first."""
    return int(event.get("retry_count") or 0) + 1


def _run(spec: JobSpec, event: dict[str, Any], fn, *args):
    try:
        return fn(*args)
    except Exception as exc:
        error = platform_failure(exc, "map" if "task_id" in event else "reduce")
        if not isinstance(error, EngineError):
            error = RetryableTaskError(f"{type(exc).__name__}: {exc}")
        final = final_error(error, attempt(event), spec.retries)
        if final is exc:
            raise
        raise final from exc


def map_event(event: dict[str, Any], storage: Storage) -> dict[str, Any]:
    """Run one map task; its result (small: the commit marker keeps the part list)."""
    from .map import run_map_task

    spec = load_spec(event["job"], storage)
    task = MapTask(event["task_id"], tuple(InputFile.from_dict(f) for f in event["inputs"]))
    out = _run(spec, event, run_map_task, spec, task, storage, attempt(event)).to_dict()
    out.pop("parts")
    return out


def reduce_event(event: dict[str, Any], storage: Storage) -> dict[str, Any]:
    """Run the reducer over the job's committed map tasks (or publish, MAPPER_ONLY); with
    ``partition`` in the event, reduce task ``partition`` of ``partitions``; with ``step:
    publish``, publish the R reduce tasks' output (R > 1)."""
    from .reduce import reduce_job, run_partition_task

    spec = load_spec(event["job"], storage)
    tasks = load_tasks(spec, storage)
    if event.get("step") == "publish":
        return _run(spec, event, publish_partitions, spec, tasks, storage).to_dict()
    if "partition" in event:
        return _run(spec, event, run_partition_task, spec, tasks, event["round"], int(event["partition"]),
                    int(event["partitions"]), storage, attempt(event)).to_dict()
    return _run(spec, event, reduce_job, spec, tasks, storage, attempt(event)).to_dict()


def partition_event(job_id: str, job_uri: str, round_: str, partition: int, partitions: int,
                    attempt_no: int = 1) -> dict[str, Any]:
    """The event reduce task ``partition`` of R runs with (the reduce Map state's item)."""
    return {"job_id": job_id, "job": job_uri, "round": round_, "partition": partition,
            "partitions": partitions, "retry_count": attempt_no - 1}


def task_event(job_id: str, job_uri: str, task: MapTask | None, attempt_no: int = 1) -> dict[str, Any]:
    """The event a map task (or, with ``task`` None, the reducer) runs with: what the state
    machine sends a Lambda, built here for a local worker."""
    event: dict[str, Any] = {"job_id": job_id, "job": job_uri, "retry_count": attempt_no - 1}
    if task is not None:
        event.update(task_id=task.task_id, inputs=[f.to_dict() for f in task.inputs])
    return event

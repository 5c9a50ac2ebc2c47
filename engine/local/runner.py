"""The local runner: worker processes stand in for warm Lambda containers.

Each worker keeps one warm SparkSession across the tasks it runs and calls the very
same task functions a Lambda handler calls. By default there is one worker running a
task per core on threads (one JVM start, one JIT warm-up, Spark's ``local[cores]``
sharing the cores between the tasks' jobs); ``workers=N`` splits the cores between N
processes; ``workers=0`` runs every task in this process (what debuggers want).
"""

from __future__ import annotations

import io
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cache
from typing import Callable

from ..task import entry
from ..errors import EngineError, error_to_dict
from ..job import lifecycle, partitions
from ..job.commits import committed_results, record_failure
from ..job.layout import REDUCE_TASK, JobLayout, reduce_task_id
from ..job.lifecycle import may_retry
from ..job.planning import MapTask, Plan
from ..job.results import SKIPPED, MapResult, ReduceResult
from ..job.spec import JobSpec
from ..job.status import INTERRUPTED, JobStatus, read_status
from ..logs import JsonFormatter, append_task_log, quiet_spark_loggers
from ..spark import cds, session
from ..store.storage import Storage
from ..store.uris import is_s3
from ..runner import Prepared, Refused
from .job import REDUCER_FAILED, LocalJob
from .pool import WorkerPool

#: The runner reports progress as small dicts: {"event": "task_done", "task_id": ..., ...}.
EventSink = Callable[[dict], None]
RETRY_BASE_ENV = "LMR_RETRY_BASE_SECONDS"   # first retry delay; doubles per attempt
WORKER_LOG_LEVEL_ENV = "LMR_LOG_LEVEL"
_MAX_BACKOFF_S = 30.0
WORKER_DIED = "WorkerDiedError"

log = logging.getLogger(__name__)


def retry_delay(spec: JobSpec, error_type: str, attempt: int) -> float | None:
    """Seconds to wait before the next attempt, or None when the error is permanent or the
    job's ``retries`` are used up. Exponential backoff from LMR_RETRY_BASE_SECONDS."""
    if not may_retry(error_type, attempt, spec.retries):
        return None
    return min(_MAX_BACKOFF_S, float(os.environ.get(RETRY_BASE_ENV, "1.0")) * 2 ** (attempt - 1))


# --- what runs inside a worker -------------------------------------------------------

_worker_log: str | None = None   # this worker's log file (stderr and stdout of the JVM)
_task_output = threading.local()  # the output of the task this thread runs, while it runs


class _TaskStreams(io.TextIOBase):
    """sys.stdout / sys.stderr of a worker: what a task's thread writes (our log lines, the
    user's prints) goes to that task's buffer; anything else to the worker log."""

    def __init__(self, fallback):
        self._fallback = fallback

    def write(self, text: str) -> int:
        buffer = getattr(_task_output, "buffer", None)
        (buffer if buffer is not None else self._fallback).write(text)
        return len(text)

    def flush(self) -> None:
        self._fallback.flush()


def _init_worker(cores: int, log_dir: str, workload_bytes: int) -> None:
    global _worker_log
    # A Ctrl-C reaches the whole process group: the lmr process decides (it stops the
    # workers and records the job INTERRUPTED); a worker must not go on to commit a task.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["LMR_SPARK_CORES"] = str(cores)
    cds.use_local_cache()
    session.expect_workload(workload_bytes)
    # Spark's JVM inherits fds 1 and 2: its output lands in the worker log, not on the
    # terminal; each task gets the JVM lines written while it ran.
    os.makedirs(log_dir, exist_ok=True)
    _worker_log = os.path.join(log_dir, f"worker-{os.getpid()}.log")
    fd = os.open(_worker_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for target in (1, 2):
        os.dup2(fd, target)
    os.close(fd)
    sys.stdout, sys.stderr = _TaskStreams(sys.stdout), _TaskStreams(sys.stderr)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=os.environ.get(WORKER_LOG_LEVEL_ENV, "INFO"), handlers=[handler])
    quiet_spark_loggers()


def _exit_worker() -> None:
    """At pool shutdown: stop Spark, and keep the class archive its JVM wrote, if any."""
    session.stop_spark()
    cds.commit_archive()


def _guard(fn, event: dict) -> dict:
    """Run a task entry; errors come back as JSON, never pickled exceptions."""
    try:
        return {"ok": True, "result": fn(event, _worker_storage())}
    except Exception as exc:
        log.exception("task failed", extra={"job_id": event["job_id"]})
        return {"ok": False, "error": error_to_dict(exc)}


@cache
def _worker_storage() -> Storage:
    return Storage()   # one per worker process: its S3 client is reused across tasks


def _logged(fn, event: dict) -> dict:
    """Run ``fn`` on ``event``; append its output, and the JVM's lines meanwhile, to the
    task's log."""
    if not _worker_log:
        return _guard(fn, event)
    start = os.path.getsize(_worker_log)
    _task_output.buffer = buffer = io.StringIO()
    try:
        return _guard(fn, event)
    finally:
        _task_output.buffer = None
        with open(_worker_log, "rb") as f:
            f.seek(start)
            jvm = f.read().decode("utf-8", "replace")
        task_id = event.get("task_id") or (reduce_task_id(event["partition"]) if "partition" in event
                                           else event.get("step") or REDUCE_TASK)
        header = f"attempt {entry.attempt(event)}, worker pid {os.getpid()}, {time.strftime('%H:%M:%S')}"
        try:
            spec = entry.load_spec(event["job"], _worker_storage())
            append_task_log(_worker_storage(), spec.work_dir, spec.job_id, task_id, buffer.getvalue() + jvm, header)
        except Exception:
            log.exception("could not write the log of task %s", task_id)


def map_in_worker(event: dict) -> dict:
    """A worker's map task: the same entry and event shape as the mapper Lambda's."""
    return _logged(entry.map_event, event)


def reduce_in_worker(event: dict) -> dict:
    """A worker's reduce, reduce task or publish step: the same entry and event shapes as
    the reducer Lambda's (and, for ``step: publish``, the finalize Lambda's)."""
    return _logged(entry.reduce_event, event)


# --- the runner -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Kind:
    """What the pool runs: map tasks (events ``task_*``) or reduce tasks (``partition_*``)."""

    name: str
    entry: Callable[[dict], dict]            # what a worker runs
    event: Callable[[object, int], dict]     # (task, attempt) -> the worker's event
    task_id: Callable[[object], str]
    inputs: Callable[[object], list[str]]
    result: Callable[[dict], object]         # a worker's result -> MapResult / ReduceResult


class LocalRunner:
    """Runs jobs on this machine (engine/runner.py's Runner). ``work_dir``: where jobs
    live when a manifest does not say (``--work-dir``; default ./.lmr or LMR_WORK_DIR)."""

    def __init__(self, workers: int | None = None, storage: Storage | None = None,
                 on_event: EventSink | None = None, work_dir: str | None = None):
        self.workers, self.work_dir = workers, work_dir
        self.storage = storage or Storage()
        self.on_event = on_event or (lambda event: None)
        self._pools: list[Executor] = []

    def _executor(self, plan: Plan) -> Executor:
        """A new pool for the job's tasks (kept in ``self._pools``: a Ctrl-C stops them all)."""
        pool = self._new_executor(plan)
        self._pools.append(pool)
        return pool

    def _new_executor(self, plan: Plan) -> Executor:
        if self.workers == 0:
            return ThreadPoolExecutor(max_workers=1)   # this process, its one Spark session
        n = self.workers or 1   # one JVM running a task per core; more only if asked
        n = max(1, min(n, plan.spec.max_concurrency))
        cores = max(1, (os.cpu_count() or 1) // n)
        log_dir = os.path.join(tempfile.gettempdir(), "lmr-workers", plan.job_id)
        if not is_s3(plan.spec.work_dir):
            log_dir = os.path.join(JobLayout(plan.spec.work_dir, plan.job_id).job_dir, "logs", "workers")
        # A task per core in each worker: Spark's local[cores] runs their jobs side by side.
        share = sum(t.bytes for t in plan.tasks) // n
        return WorkerPool(n, cores, initializer=_init_worker, initargs=(cores, log_dir, share),
                          finalizer=_exit_worker)

    def _pool_size(self, executor: Executor) -> int:
        return executor.slots if isinstance(executor, WorkerPool) else 1

    # --- the runner interface (engine/runner.py) ---

    def prepare(self, manifest: str, overrides: dict, fresh: bool = False) -> Prepared:
        from ..job.preflight import preflight
        from ..job.manifest import load_manifest

        spec = load_manifest(manifest, overrides, work_dir=self.work_dir)
        plan = preflight(spec, self.storage, manifest)
        return Prepared(spec, lifecycle.start_for(plan, self.storage, fresh=fresh), plan, manifest)

    def prepare_resume(self, job_id: str) -> Prepared:
        from ..job.planning import load_plan
        from .job import local_work_dir

        plan = load_plan(local_work_dir(self.work_dir), job_id, self.storage)
        changed = lifecycle.code_changed(plan.spec)
        if changed:
            raise Refused(f"job {plan.job_id} cannot be resumed: {changed}")
        return Prepared(plan.spec, lifecycle.start_for(plan, self.storage, saved=True), plan, job_id)

    def start(self, prepared: Prepared, on_event: EventSink | None = None) -> LocalJob:
        """Run the job here, to its end; a Ctrl-C ends it INTERRUPTED (its status says so)."""
        if on_event is not None:
            self.on_event = on_event
        job = LocalJob(prepared.spec.work_dir, prepared.spec.job_id, self.storage)
        try:
            self.run(prepared.plan, prepared.start)
        except KeyboardInterrupt:
            status = job.status()
            if status is None or status.state != INTERRUPTED:
                raise   # stopped before the run began: nothing recorded, nothing to resume
        return job   # run() stopped every worker and recorded the job INTERRUPTED

    def job(self, ref: str) -> LocalJob:
        return LocalJob.find(ref, self.work_dir, self.storage)

    # --- running a job ---

    def run(self, plan: Plan, start: lifecycle.Start | None = None) -> JobStatus:
        """Run the job as ``start`` says (by default a new run of it, when it ran before)
        and return its final status."""
        spec, storage, emit = plan.spec, self.storage, self.on_event
        start = start or lifecycle.next_start(read_status(spec.work_dir, plan.job_id, storage))
        _, pending = lifecycle.begin(plan, storage, start)
        emit({"event": "job_started", "job_id": plan.job_id, "tasks": len(plan.tasks),
              "work_dir": spec.work_dir})
        executor = None
        reduce: ReduceResult | None = None
        reason = ""
        waiting = {t.task_id for t in pending}
        earlier = [t for t in plan.tasks if t.task_id not in waiting] if spec.uses_mapper else []
        for result in committed_results(spec, earlier, storage).values():   # an earlier run's, or cached
            emit({"event": "task_done", "result": result.skipped(), "attempt": 0})
        try:
            if pending:
                executor = self._map_phase(plan, pending, self._executor(plan))[0]
            executor = executor or self._executor(plan)
            if partitions.partitioned(spec):
                reduce, reason, executor = self._partitioned_reduce(plan, executor)
            else:
                reduce, reason, executor = self._reduce_phase(plan, executor)
        except KeyboardInterrupt:   # Ctrl-C: stop every worker now (mid-task or not), keep what committed
            for pool in self._pools:
                pool.shutdown(wait=False, cancel_futures=True)
            executor = None
            status = lifecycle.interrupt(spec, list(plan.tasks), storage)
            emit({"event": "job_done", "status": status})
            raise
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        status = lifecycle.finish(spec, list(plan.tasks), reduce, reason, storage)
        emit({"event": "job_done", "status": status})
        return status

    def _map_phase(self, plan: Plan, pending: list[MapTask], executor: Executor) -> tuple[Executor, list, list]:
        job_json = JobLayout(plan.spec.work_dir, plan.job_id).job_json
        kind = _Kind("task", map_in_worker, lambda t, n: entry.task_event(plan.job_id, job_json, t, n),
                     lambda t: t.task_id, lambda t: t.input_uris, MapResult.from_dict)
        return self._run_tasks(plan, pending, executor, kind)

    def _run_tasks(self, plan: Plan, pending: list, executor: Executor,
                   kind: "_Kind") -> tuple[Executor, list, list]:
        """Run tasks (map tasks, R > 1 reduce tasks, or the reducer) on the pool, retrying
        retryable failures; returns the pool, the tasks that failed (task, error, attempts)
        and the results of those that did not.

        A worker runs several tasks at once, so when one dies nobody knows which task killed
        it: each task it held is run again *alone*, not charged a retry. A task that kills
        a worker while alone is the culprit and is charged (a crash that repeats fails it).
        """
        spec, emit = plan.spec, self.on_event
        queue: deque[tuple[object, int, int]] = deque((t, 1, 0) for t in pending)   # (task, attempt, charged)
        alone: deque[tuple[object, int, int]] = deque()   # suspects: each runs by itself
        delayed: list[tuple[float, object, int, int]] = []
        running: dict[Future, tuple[object, int, int]] = {}
        failed: list = []
        results: list = []
        limit = min(self._pool_size(executor), spec.max_concurrency)

        def settle(task, attempt: int, charged: int, error: dict) -> None:
            task_id = kind.task_id(task)
            delay = retry_delay(spec, error["errorType"], charged + 1)
            if delay is not None:
                delayed.append((time.monotonic() + delay, task, attempt + 1, charged + 1))
                emit({"event": "task_retry", "task_id": task_id, "attempt": attempt,
                      "delay_s": delay, "error": error})
            else:
                if error["errorType"] == WORKER_DIED:   # the task could not record it itself
                    record_failure(spec, task_id, kind.inputs(task), error, charged + 1, self.storage)
                error = lifecycle.root_cause(spec, task_id, error, self.storage)
                failed.append((task, error, attempt))
                emit({"event": f"{kind.name}_failed", "task_id": task_id, "inputs": kind.inputs(task),
                      "error": error, "attempts": attempt})

        def submit(task, attempt: int, charged: int) -> None:
            # The retry budget counts charged attempts (a re-run after a worker died running
            # several tasks is not charged), as the state machine counts its retries.
            running[executor.submit(kind.entry, kind.event(task, charged + 1))] = (task, attempt, charged)
            emit({"event": f"{kind.name}_started", "task_id": kind.task_id(task), "attempt": attempt})

        while queue or alone or delayed or running:
            now = time.monotonic()
            for item in [d for d in delayed if d[0] <= now]:
                delayed.remove(item)
                queue.append(item[1:])
            if alone:
                if not running:
                    submit(*alone.popleft())
            else:
                while queue and len(running) < limit:
                    submit(*queue.popleft())
            timeout = max(0.05, min(d[0] for d in delayed) - now) if delayed else None
            held = len(running)
            done, _ = wait(list(running), timeout=timeout, return_when=FIRST_COMPLETED)
            lost: list[tuple[MapTask, int, int]] = []
            for future in done:
                item = running.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    lost.append(item)
                    continue
                task, attempt, charged = item
                if outcome["ok"]:
                    results.append(kind.result(outcome["result"]))
                    emit({"event": f"{kind.name}_done", "result": results[-1], "attempt": attempt})
                else:
                    settle(task, attempt, charged, outcome["error"])
            if not lost:
                continue
            # A dead worker breaks the whole pool: every task still in it is lost too.
            lost += running.values()
            running.clear()
            executor.shutdown(wait=False, cancel_futures=True)
            executor = self._executor(plan)
            if held == 1:
                [(task, attempt, charged)] = lost
                settle(task, attempt, charged, {
                    "errorType": WORKER_DIED,
                    "errorMessage": "the worker process died (killed by the OS or a signal)"})
                continue
            for task, attempt, charged in lost:
                alone.append((task, attempt + 1, charged))
                emit({"event": "task_retry", "task_id": kind.task_id(task), "attempt": attempt, "delay_s": 0.0,
                      "error": {"errorType": WORKER_DIED,
                                "errorMessage": f"lost with a worker process that died running {held} "
                                                "tasks; re-run alone, not counted against retries"}})
        return executor, failed, results

    def _partitioned_reduce(self, plan: Plan, executor: Executor) -> tuple[ReduceResult | None, str, Executor]:
        """R > 1: the reduce tasks that have not committed run on the pool like map tasks;
        once all R committed, the destination is published here (no Spark needed)."""
        spec, emit, tasks = plan.spec, self.on_event, list(plan.tasks)
        try:
            reduce_plan = partitions.plan_reduce(spec, tasks, self.storage)
        except EngineError as exc:
            emit({"event": "reduce_failed", "error": error_to_dict(exc), "attempts": 1})
            return None, f"{REDUCER_FAILED}: {type(exc).__name__}: {exc}", executor
        if reduce_plan.skipped:
            emit({"event": "reduce_skipped", "reason": reduce_plan.skipped})
            return None, reduce_plan.skipped, executor
        emit({"event": "reduce_started", "job_id": plan.job_id, "partitions": reduce_plan.partitions,
              "pending": len(reduce_plan.pending)})
        job_json = JobLayout(spec.work_dir, plan.job_id).job_json
        kind = _Kind("partition", reduce_in_worker,
                     lambda p, n: entry.partition_event(plan.job_id, job_json, reduce_plan.round, p,
                                                         reduce_plan.partitions, n),
                     reduce_task_id, lambda p: [], ReduceResult.from_dict)
        executor, failed, _ = self._run_tasks(plan, reduce_plan.pending, executor, kind)
        if failed:
            p, error, _ = failed[0]
            return None, (f"{REDUCER_FAILED}: reduce task {p} of {reduce_plan.partitions}: "
                          f"{error['errorType']}: {error['errorMessage']}"), executor
        return self._reduce_phase(plan, executor, step="publish")

    def _reduce_phase(self, plan: Plan, executor: Executor,
                      step: str | None = None) -> tuple[ReduceResult | None, str, Executor]:
        """The reducer (or with R > 1, ``step="publish"``: publishing the reduce tasks'
        output), run on the pool as one task, retried as a map task is (a dead worker included)."""
        emit, spec = self.on_event, plan.spec
        if step is None:
            emit({"event": "reduce_started", "job_id": plan.job_id})
        job_json = JobLayout(spec.work_dir, plan.job_id).job_json

        def event(_, attempt: int) -> dict:
            return {**entry.task_event(plan.job_id, job_json, None, attempt), **({"step": step} if step else {})}

        kind = _Kind("reducer", reduce_in_worker, event, lambda _: REDUCE_TASK, lambda _: [], ReduceResult.from_dict)
        executor, failed, done = self._run_tasks(plan, [REDUCE_TASK], executor, kind)
        if failed:
            [(_, error, attempts)] = failed
            emit({"event": "reduce_failed", "error": error, "attempts": attempts})
            return None, f"{REDUCER_FAILED}: {error['errorType']}: {error['errorMessage']}", executor
        [result] = done
        if result.status == SKIPPED:
            emit({"event": "reduce_skipped", "reason": result.reason})
            return None, result.reason, executor
        emit({"event": "reduce_done", "result": result})
        return result, "", executor

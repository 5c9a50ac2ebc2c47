"""What the Lambda handlers call: an AWS event in, one engine call, a small JSON out.

Handlers stay thin adapters (parse the event, call one function here, return its
dict). Importable without pyspark: the coordinator and finalize functions are small
zip functions; only the mapper and reducer images carry Spark.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from typing import Any

from ..errors import DestinationError, EngineError, ManifestError, PermanentStorageError, PlanError
from ..job.layout import JobLayout
from ..job.lifecycle import ALIVE, DONE, begin, finish, start_for
from ..job.partitions import partition_failure, partitioned, plan_reduce
from ..job.planning import Plan, load_tasks
from ..job.preflight import preflight
from ..job.results import SKIPPED, SUCCEEDED, ReduceResult
from ..job.spec import MAPPER_ONLY
from ..job.manifest import load_manifest
from ..job.status import FAILED, RUNNING, JobStatus, write_status
from ..store.storage import Storage
from ..store.uris import s3_uri, split_s3
from ..task.entry import load_spec

# How an execution ends when finalize could not write the job's status.
EXECUTION_DIED = ("FAILED", "TIMED_OUT", "ABORTED")
STATE_MACHINE_ENV = "STATE_MACHINE_ARN"   # set on the coordinator by template.yaml
DATA_BUCKET_ENV = "DATA_BUCKET"           # the stack's bucket: manifests/ in, jobs/ inside

log = logging.getLogger("lmr.aws")


def execution_input(plan: Plan, run: int = 1) -> dict[str, Any]:
    """The state machine's input: pointers only (Step Functions caps payloads at 256 KB).
    The Map state reads the tasks this run has to run (engine/job/lifecycle.py wrote them)."""
    layout = JobLayout(plan.spec.work_dir, plan.job_id)
    bucket, tasks_key = split_s3(layout.run_tasks(run))
    return {"job_id": plan.job_id, "job": layout.job_json, "tasks": layout.tasks_json,
            "bucket": bucket, "tasks_key": tasks_key, "run": run,
            "mode": plan.spec.mode, "max_concurrency": plan.spec.max_concurrency,
            "partitioned": partitioned(plan.spec)}


def invalid_job_id(manifest_uri: str, raw: bytes) -> str:
    """An id for a manifest too broken to have a spec: its file name + a hash of its bytes."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", manifest_uri.rsplit("/", 1)[-1].rsplit(".", 1)[0]).strip("-")
    return f"{(stem or 'manifest')[:50]}-{hashlib.sha256(raw).hexdigest()[:10]}"


def submit_manifest(manifest_uri: str, work_dir: str, state_machine_arn: str, sfn_client,
                    storage: Storage | None = None) -> dict[str, Any]:
    """Coordinator: validate and plan a manifest, write the job files, start the execution
    named after the job id. An invalid manifest gets a FAILED status.json and no execution;
    a manifest whose job already ran is a no-op."""
    storage = storage or Storage()
    try:
        # The coordinator has no pyspark: classes are checked without importing them.
        spec = load_manifest(manifest_uri, storage=storage, check_classes=False, work_dir=work_dir)
        plan = preflight(spec, storage, manifest_uri)
    except (ManifestError, PlanError) as exc:
        return _reject_manifest(manifest_uri, work_dir, exc, storage)

    start = start_for(plan, storage, lambda previous: _run_alive(sfn_client, state_machine_arn,
                                                                 last_execution(previous)))
    if start.action == DONE:
        previous = start.previous
        log.info("job %s already SUCCEEDED: its output is %s; nothing to do", plan.job_id, previous.output)
        return {"job_id": plan.job_id, "state": previous.state, "started": False, "output": previous.output}
    if start.action == ALIVE:
        log.info("job %s is running: this upload is a no-op", plan.job_id)
        return {"job_id": plan.job_id, "state": RUNNING, "started": False}
    name = execution_name(plan.job_id, start.run)
    _, pending = begin(plan, storage, start, execution=name)
    try:
        # Same name + same input on a running execution is idempotent in Step Functions (it
        # returns that execution), so the same manifest uploaded twice at once makes one job.
        arn = sfn_client.start_execution(stateMachineArn=state_machine_arn, name=name,
                                         input=json.dumps(execution_input(plan, start.run)))["executionArn"]
    except sfn_client.exceptions.ExecutionAlreadyExists:
        log.info("job %s: execution %s already exists; this upload is a no-op", plan.job_id, name)
        return {"job_id": plan.job_id, "state": RUNNING, "started": False}
    log.info("job %s run %d started: %d of %d map tasks to run", plan.job_id, start.run, len(pending),
             len(plan.tasks))
    return {"job_id": plan.job_id, "state": RUNNING, "started": True, "execution_arn": arn,
            "tasks": len(plan.tasks), "to_run": len(pending), "run": start.run}


def execution_name(job_id: str, run: int) -> str:
    """A job's first execution is named after it; a resumed run adds its number (Step
    Functions keeps execution names unique: a name is never reused)."""
    return job_id if run <= 1 else f"{job_id}-r{run}"


def last_execution(status: JobStatus) -> str:
    """The name of the execution of a job's latest run."""
    return status.runs[-1].get("execution", status.job_id) if status.runs else status.job_id


def execution_arn(state_machine_arn: str, job_id: str) -> str:
    """Executions are named after their job: arn:...:stateMachine:NAME -> arn:...:execution:NAME:JOB."""
    prefix, name = state_machine_arn.rsplit(":stateMachine:", 1)
    return f"{prefix}:execution:{name}:{job_id}"


def _run_alive(sfn_client, state_machine_arn: str, name: str) -> bool | None:
    """Whether the execution is going on (True), died before finalize could write the
    status (False: FAILED, TIMED_OUT or ABORTED), or was never started because an earlier
    coordinator died first (None). An execution ends SUCCEEDED only after finalize wrote
    the status, so it counts as going on: never start a run twice."""
    try:
        found = sfn_client.describe_execution(executionArn=execution_arn(state_machine_arn, name))
    except sfn_client.exceptions.ExecutionDoesNotExist:
        return None
    return found["status"] not in EXECUTION_DIED


def _reject_manifest(uri: str, work_dir: str, exc: ManifestError | PlanError, storage: Storage) -> dict:
    try:
        raw = storage.read_bytes(uri)
    except EngineError:
        raw = uri.encode()
    job_id = invalid_job_id(uri, raw)
    messages = [str(p) for p in exc.problems]
    now = time.time()
    status = JobStatus(job_id=job_id, name=job_id, mode="", state=FAILED, tasks_total=0,
                       tasks_succeeded=0, tasks_failed=0, rows_in=0, rows_out=0, rejected=0,
                       bytes_in=0, output="", started_at=now, finished_at=now,
                       reason=f"invalid manifest {uri}: " + "; ".join(messages))
    write_status(status, work_dir, storage)
    log.warning("manifest %s rejected: %s", uri, "; ".join(messages))
    return {"job_id": job_id, "state": FAILED, "started": False, "problems": messages}


def plan_reduce_event(event: dict[str, Any], storage: Storage) -> dict[str, Any]:
    """R > 1, after the map phase: R, the round, and the reduce tasks that have not
    committed (the reduce Map state's items), or why the reducers do not run."""
    spec = load_spec(event["job"], storage)
    return plan_reduce(spec, load_tasks(spec, storage), storage).to_event()


def finalize_event(event: dict[str, Any], storage: Storage) -> dict[str, Any]:
    """Finalize: ``{job_id, job, reduce?, error?}`` -> status.json, computed from the commit
    markers and the job's min_success_ratio (the engine decides the outcome, not the
    state machine's failure tolerance)."""
    from ..task.reduce import reduce_job

    spec = load_spec(event["job"], storage)
    tasks = load_tasks(spec, storage)
    reduce_data = (event.get("reduce") or {}).get("result")
    publish_error = ""
    if spec.mode == MAPPER_ONLY and reduce_data is None and not event.get("error"):
        try:
            reduce_data = reduce_job(spec, tasks, storage).to_dict()   # publish: no Spark needed
        except (DestinationError, PermanentStorageError) as exc:   # the job FAILED; say why
            publish_error = f"publishing failed: {type(exc).__name__}: {exc}"
    reduce = ReduceResult.from_dict(reduce_data) if reduce_data else None
    reason = reduce.reason if reduce is not None and reduce.status == SKIPPED else publish_error
    if reduce is not None and reduce.status != SUCCEEDED:
        reduce = None
    skipped = (event.get("reduce_plan") or {}).get("skipped")
    if skipped:   # R > 1: too few map tasks committed for the reduce tasks to run
        reason = skipped
    if event.get("error"):
        error = event["error"]
        # A reduce task's own record says more than "the reduce Map state failed".
        reason = ((partitioned(spec) and partition_failure(spec, storage))
                  or f"{error.get('Error', 'Error')}: {_cause(error.get('Cause', ''))}")
    status = finish(spec, tasks, reduce, reason, storage)
    return {"job_id": spec.job_id, "state": status.state, "tasks_succeeded": status.tasks_succeeded,
            "tasks_failed": status.tasks_failed, "reason": status.reason,
            "status": JobLayout(spec.work_dir, spec.job_id).status_json}


def _cause(cause: str) -> str:
    """A Lambda error's Cause is JSON with errorMessage; show just that."""
    try:
        return json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        return cause


def manifest_uri(bucket: str, key: str) -> str:
    return s3_uri(bucket, key)

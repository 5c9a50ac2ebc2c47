"""A deployed stack, seen from a laptop: what the stack runner (engine/stack/runner.py) asks of it.

The stack is found by name through its CloudFormation outputs (DataBucket,
StateMachineArn). Submitting uploads the manifest under manifests/, which is all the
coordinator needs; the job id is computed here exactly as the coordinator will.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..job.layout import JobLayout, manifest_upload
from ..job.manifest import read_job_json
from ..job.spec import JobSpec
from ..job.status import FAILED, RUNNING, read_status
from ..runner import TERMINAL
from ..store.storage import Storage
from ..store.uris import s3_uri
from .functions import EXECUTION_DIED, execution_arn, last_execution


@dataclass(frozen=True)
class Deployment:
    bucket: str
    state_machine_arn: str

    @property
    def root(self) -> str:
        return s3_uri(self.bucket)

    @classmethod
    def from_stack(cls, stack: str, cfn_client) -> "Deployment":
        try:
            [described] = cfn_client.describe_stacks(StackName=stack)["Stacks"]
        except cfn_client.exceptions.ClientError as exc:
            raise ValueError(f"stack {stack!r}: {exc.response['Error']['Message']}") from None
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        missing = [k for k in ("DataBucket", "StateMachineArn") if k not in outputs]
        if missing:
            raise ValueError(f"stack {stack!r} has no output {', '.join(missing)}: is it a Lambda MR stack?")
        return cls(outputs["DataBucket"], outputs["StateMachineArn"])


def upload(name: str, spec: JobSpec, deployment: Deployment, storage: Storage) -> str:
    """Upload a checked spec as the manifest ``manifests/<name>.json``, resolved, as JSON (the
    coordinator computes the same job id from it when it runs the same code: deploy what
    you checked); the uploaded URI."""
    uri = manifest_upload(deployment.root, name)
    storage.write_text(uri, json.dumps(spec.to_manifest(), indent=2))
    return uri


def job_progress(job_id: str, deployment: Deployment, sfn_client, storage: Storage | None = None) -> dict:
    """status.json (once written), the execution's status, and the map run's item counts."""
    storage = storage or Storage()
    status = read_status(deployment.root, job_id, storage)
    out: dict[str, Any] = {"job_id": job_id, "state": status.state if status else None,
                           "status": status.to_dict() if status else None, "execution": None,
                           "map_run": None, "status_uri": JobLayout(deployment.root, job_id).status_json}
    arn = execution_arn(deployment.state_machine_arn, last_execution(status) if status else job_id)
    try:
        execution = sfn_client.describe_execution(executionArn=arn)
    except sfn_client.exceptions.ExecutionDoesNotExist:
        return out
    out["execution"] = {"arn": arn, "status": execution["status"]}
    runs = sfn_client.list_map_runs(executionArn=arn).get("mapRuns", [])
    if runs:
        run = sfn_client.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
        out["map_run"] = {k: run["itemCounts"].get(k, 0) for k in
                          ("total", "pending", "running", "succeeded", "failed", "timedOut", "aborted")}
    if out["state"] == RUNNING and execution["status"] in EXECUTION_DIED:
        out["state"] = FAILED   # the state machine died before finalize could write status.json
    return out


def resume(job_id: str, deployment: Deployment, storage: Storage) -> str:
    """Upload a job's saved spec as a manifest again: the coordinator resumes a job that
    FAILED, ended PARTIAL or died, as a new run that keeps its committed tasks. Returns the
    uploaded URI."""
    return upload(job_id, read_job_json(JobLayout(deployment.root, job_id).job_json, storage), deployment, storage)


def format_progress(progress: dict) -> str:
    state = progress["state"] or ("SUBMITTED" if progress["execution"] is None else RUNNING)
    line = f"job {progress['job_id']}  {state}"
    if progress["execution"]:
        line += f"  execution {progress['execution']['status']}"
    counts = progress["map_run"]
    if counts:
        line += (f"  map tasks {counts['succeeded']}/{counts['total']} done, {counts['running']} running, "
                 f"{counts['failed'] + counts['timedOut'] + counts['aborted']} failed")
    status = progress["status"]
    if status and state in TERMINAL:
        line += f"  rows in {status['rows_in']:,} out {status['rows_out']:,} rejected {status['rejected']:,}"
        if status["reason"]:
            line += f"\n  reason: {status['reason']}"
        line += f"\n  output: {status['output']}\n  status: {progress['status_uri']}"
    for run in (status or {}).get("runs", []):
        line += (f"\n  run {run['run']}: {run['state']}"
                 + (f"  execution {run['execution']}" if run.get("execution") else ""))
    return line


LOGGED_FUNCTIONS = ("coordinator", "mapper", "reducer", "finalize")


def log_group(stack: str, function: str) -> str:
    """The log group template.yaml gives each function (LoggingConfig.LogGroup)."""
    return f"/lambda-mr/{stack}/{function}"


def fetch_logs(stack: str, job_id: str, logs_client, task_ids: set[str] | None = None) -> list[dict]:
    """The functions' JSON log lines about one job (optionally some of its tasks), oldest
    first. CloudWatch narrows by the job id as a quoted term; the fields decide."""
    lines = []
    for function in LOGGED_FUNCTIONS:
        kwargs = {"logGroupName": log_group(stack, function), "filterPattern": f'"{job_id}"'}
        try:
            pages = logs_client.get_paginator("filter_log_events").paginate(**kwargs)
            events = [e for page in pages for e in page.get("events", [])]
        except logs_client.exceptions.ResourceNotFoundException:
            continue
        for event in events:
            try:
                line = json.loads(event["message"])
            except ValueError:
                continue
            if not isinstance(line, dict) or line.get("job_id") != job_id:
                continue
            if task_ids is not None and line.get("task_id") not in task_ids:
                continue
            lines.append({"function": function, "timestamp": event["timestamp"], **line})
    return sorted(lines, key=lambda x: x["timestamp"])

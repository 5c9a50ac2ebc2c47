"""Runs jobs on a deployed stack (engine/runner.py's Runner): a job starts when its
manifest is uploaded under the stack's manifests/ (the coordinator decides how it starts:
new, resumed or already done), and its handle follows the state machine's execution."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Callable

from ..job.layout import JobLayout, data_locations
from ..job.manifest import ManifestParser
from ..job.manifest_file import manifest_dir, read_manifest
from ..job.status import JobStatus, read_status
from ..runner import Prepared, Refused
from ..store.publish import refuse_unsafe_destination
from ..store.storage import Storage
from .client import Deployment, fetch_logs, format_progress, job_progress, resume, upload


class StackRunner:
    """``deployment`` finds the stack's bucket and state machine, when first needed (the
    functions' logs need only the stack's ``name``)."""

    def __init__(self, deployment: Callable[[], Deployment], name: str = "", storage: Storage | None = None,
                 clients: Callable[[str], object] | None = None):
        import boto3

        self._find, self.name = deployment, name   # name: the stack's (log groups, the hints printed)
        self.storage = storage or Storage()
        self.clients = clients or boto3.client

    @cached_property
    def deployment(self) -> Deployment:
        return self._find()

    def prepare(self, manifest: str, overrides: dict, fresh: bool = False) -> Prepared:
        """Check the manifest here (every problem at once), as the coordinator will: its
        inputs and output must lie where the stack lets jobs read and write."""
        if fresh:
            raise Refused("--fresh is for a job run here; on a stack, a job whose inputs or code "
                          "changed is run again by itself")
        data = read_manifest(manifest, overrides)
        data.pop("work_dir", None)   # on AWS the stack's bucket holds jobs/
        root = self.deployment.root
        spec = ManifestParser(manifest, manifest_dir(manifest), check_classes=True,
                              allowed=data_locations(root), work_dir=root).parse(data)
        refuse_unsafe_destination(self.storage, spec.output.path, JobLayout(root, spec.job_id), manifest)
        return Prepared(spec, None, source=manifest)

    def prepare_resume(self, job_id: str) -> Prepared:
        """A job the stack ran: the coordinator resumes it (a job that FAILED, ended PARTIAL
        or died) as a new run that keeps its committed tasks."""
        layout = JobLayout(self.deployment.root, job_id)
        if not self.storage.exists(layout.job_json):
            raise Refused(f"no job {job_id} in {self.deployment.root} ({layout.job_json} does not exist)")
        return Prepared(None, None, source=job_id)

    def start(self, prepared: Prepared, on_event=None) -> "StackJob":
        """Upload the manifest (resolved, as JSON: the coordinator computes the same job id
        from it when it runs the same code), or a resumed job's saved spec."""
        if prepared.spec is None:   # a resume: the job's own spec, uploaded again
            job_id = prepared.source
            return StackJob(self, job_id, resume(job_id, self.deployment, self.storage), resumed=True)
        uri = upload(Path(prepared.source).stem, prepared.spec, self.deployment, self.storage)
        return StackJob(self, prepared.spec.job_id, uri)

    def job(self, ref: str) -> "StackJob":
        return StackJob(self, ref)


class StackJob:
    def __init__(self, runner: StackRunner, job_id: str, uploaded: str = "", resumed: bool = False):
        self.runner, self.job_id, self.uploaded, self.resumed = runner, job_id, uploaded, resumed

    def status(self) -> JobStatus | None:
        return read_status(self.runner.deployment.root, self.job_id, self.runner.storage)

    def progress(self) -> dict:
        return job_progress(self.job_id, self.runner.deployment, self.runner.clients("stepfunctions"),
                            self.runner.storage)

    def missing(self, progress: dict) -> str | None:
        if progress["state"] is None and progress["execution"] is None:
            return (f"no job {self.job_id} in {self.runner.deployment.root} (not submitted, or the "
                    "coordinator has not picked it up yet)")
        return None

    def describe(self, progress: dict) -> str:
        return format_progress(progress)

    def follow(self) -> tuple[str, dict]:
        follow = f"`lmr status {self.job_id} --stack {self.runner.name or '...'} --watch`"
        how = "resumes as a new run" if self.resumed else ""
        return (f"uploaded {self.uploaded}\njob {self.job_id}{' ' + how if how else ''}: follow it with {follow}",
                {"job_id": self.job_id, "manifest": self.uploaded, "bucket": self.runner.deployment.bucket})

    def logs(self, task: str | None, failed: bool, full: bool, as_json: bool) -> str:
        task_ids = {task} if task else None
        if failed:
            status = self.status()
            task_ids = {f.task_id for f in status.failed} if status else set()
        lines = fetch_logs(self.runner.name, self.job_id, self.runner.clients("logs"), task_ids)
        if as_json:
            return "\n".join(json.dumps(line) for line in lines)
        return "\n".join(f"{line['function']:<11} {line.get('task_id', '-'):<8} {line.get('level', '')[:5]:<5} "
                         f"{line.get('message', '')}" for line in lines)

    def where(self) -> str:
        return (f"  report: {self.report()}\n  (again: lmr status {self.job_id} --stack {self.runner.name or '...'}; "
                f"lmr logs {self.job_id} --stack {self.runner.name or '...'} --failed)")

    def report(self) -> str:
        """The report the stack's finalize function wrote."""
        return JobLayout(self.runner.deployment.root, self.job_id).report_html

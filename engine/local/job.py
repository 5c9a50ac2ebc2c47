"""A job run on this machine, as the CLI sees it (:class:`engine.runner.JobHandle`):
found by its id, its name or its manifest; its status, logs and report read from its
folder under the work dir."""

from __future__ import annotations

import json
import os

from ..job.layout import REDUCE_TASK, JobLayout, jobs_folder
from ..job.spec import DEFAULT_LOCAL_WORK_DIR, WORK_DIR_ENV
from ..job.manifest import load_manifest
from ..job.status import SUCCEEDED, JobStatus, read_status
from ..logs import condensed, read_task_logs
from ..runner import Refused
from ..store.storage import Storage

# How a job's reason starts when its reducer failed.
REDUCER_FAILED = "reducer failed"


def local_work_dir(work_dir: str | None) -> str:
    return work_dir or os.environ.get(WORK_DIR_ENV) or DEFAULT_LOCAL_WORK_DIR


class LocalJob:
    def __init__(self, work_dir: str, job_id: str, storage: Storage):
        self.work_dir, self.job_id, self.storage = work_dir, job_id, storage

    @classmethod
    def find(cls, ref: str, work_dir_flag: str | None, storage: Storage) -> "LocalJob":
        """The job ``ref`` names: its id, the start of its id (its name), or its manifest
        (``work_dir_flag``: ``--work-dir``, if given)."""
        work_dir, job_id = local_work_dir(work_dir_flag), ref
        if os.path.isfile(ref):   # a manifest: the job it describes, where it runs
            spec = load_manifest(ref, work_dir=work_dir_flag)
            work_dir, job_id = spec.work_dir, spec.job_id
        if read_status(work_dir, job_id, storage) is None:
            jobs = jobs_folder(work_dir)
            names = sorted(n for n in (os.listdir(jobs) if os.path.isdir(jobs) else ())
                           if n.startswith(f"{job_id}-") and storage.exists(JobLayout(work_dir, n).status_json))
            if len(names) != 1:
                raise Refused(f"no job {job_id} under {work_dir}" + (
                    f"; it names several: {', '.join(names[:10])}" if names else
                    " (give a job id, its name, or its manifest; --work-dir if it ran elsewhere)"))
            job_id = names[0]
        return cls(work_dir, job_id, storage)

    def status(self) -> JobStatus | None:
        return read_status(self.work_dir, self.job_id, self.storage)

    def progress(self) -> dict:
        status = self.status()
        return status.to_dict() if status else {"job_id": self.job_id, "state": None}

    def missing(self, progress: dict) -> str | None:
        return f"no job {self.job_id} under {self.work_dir}" if progress["state"] is None else None

    def describe(self, progress: dict) -> str:
        from ..report.summary import format_summary

        if progress["state"] is None:
            return self.missing(progress)
        status = JobStatus.from_dict(progress)
        lines = [format_summary(status).lstrip("\n"), self.where()]
        if status.state != SUCCEEDED:
            lines.append(f"job {status.job_id} {status.state}: {status.reason or 'some inputs failed'}")
        return "\n".join(lines)

    def where(self) -> str:
        report = JobLayout(self.work_dir, self.job_id).report_html
        return (f"  report: {report}\n  (again: lmr status {self.job_id}; lmr report {self.job_id} --open; "
                f"lmr logs {self.job_id} --failed)")

    def follow(self) -> None:
        return None   # a local run goes on until the job ends

    def logs(self, task: str | None, failed: bool, full: bool, as_json: bool) -> str:
        status = self.status()
        if task:
            task_ids = [task]
        elif failed:
            task_ids = [f.task_id for f in status.failed] + (
                [REDUCE_TASK] if status.reason.startswith(REDUCER_FAILED) else [])
        else:
            task_ids = [t.task_id for t in status.tasks] + [f.task_id for f in status.failed] + [REDUCE_TASK]
        logs = read_task_logs(self.storage, self.work_dir, self.job_id, sorted(set(task_ids), key=task_ids.index))
        if as_json:
            return json.dumps(logs)
        errors = {f.task_id: f"{f.error_type}: {f.error}" for f in status.failed}
        if status.reason.startswith(REDUCER_FAILED):
            errors[REDUCE_TASK] = status.reason.removeprefix(REDUCER_FAILED).lstrip(": ")
        out = []
        for task_id, text in logs.items():
            out.append(f"=== {task_id} ===")
            if task_id in errors:
                out.append(f"failed: {errors[task_id]}\n--- log ---")
            out.append(text if full else condensed(text) if text else "(no log: run in-process, or never started)")
        return "\n".join(out)

    def report(self) -> str:
        from ..report.page import write_report

        return write_report(self.status(), self.work_dir, self.storage)

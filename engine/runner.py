"""Where a job runs, behind one interface (as mrjob's runners, or Beam's PipelineRunner
and PipelineResult): the local runner (worker processes on this machine,
engine/local/) and the stack runner (a deployed stack, engine/stack/). The CLI holds a
:class:`Runner` and the :class:`JobHandle` it returns, and never asks which it holds.

A run is two steps: :meth:`Runner.prepare` checks everything and decides how the job
starts (engine/job/lifecycle.py: new, resumed, or already done), writing nothing;
:meth:`Runner.start` starts it. Locally the run goes on until the job ends; on a stack
it goes on in the cloud, and the handle follows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from .job.lifecycle import Start
from .job.planning import Plan
from .job.spec import JobSpec
from .job.status import FAILED, PARTIAL, SUCCEEDED, JobStatus

#: The states a job ends in; a handle in another state is still going.
TERMINAL = (SUCCEEDED, PARTIAL, FAILED)


class Refused(Exception):
    """What was asked cannot be done (no such job, a job that may not be resumed): one
    line saying why. Nothing was written."""


@dataclass(frozen=True)
class Prepared:
    """A checked job, ready to start: its spec (None for a job resumed on a stack: the
    stack's own saved spec), how it starts (None when the stack's coordinator decides
    that), its plan (made here, locally) and where it came from (a manifest, or the id of
    the job to resume)."""

    spec: JobSpec | None
    start: Start | None
    plan: Plan | None = None
    source: str = ""


class JobHandle(Protocol):
    """One job, wherever it runs."""

    job_id: str

    def status(self) -> JobStatus | None:
        """The job's status (``jobs/<id>/status.json``), or None before it is written."""

    def progress(self) -> dict:
        """What ``lmr status --json`` prints: JSON-able, with ``state`` (None: not started)."""

    def missing(self, progress: dict) -> str | None:
        """Why ``progress`` shows no job (not submitted, not started yet), or None."""

    def describe(self, progress: dict) -> str:
        """What ``lmr status`` prints of ``progress``."""

    def follow(self) -> tuple[str, dict] | None:
        """How to follow a job that goes on after ``lmr run`` returns (a line saying where
        it went and how to follow it, and the same as JSON); None when it ran to its end."""

    def where(self) -> str:
        """Where the job's report is, and the commands that show the job again."""

    def logs(self, task: str | None, failed: bool, full: bool, as_json: bool) -> str:
        """The job's logs (one task's, or the failed tasks' after their errors)."""

    def report(self) -> str:
        """Write the job's report; where it is."""


class Runner(Protocol):
    def prepare(self, manifest: str, overrides: dict, fresh: bool = False) -> Prepared:
        """Check a manifest (every check a run makes before it writes) and decide how the
        job starts. ``fresh``: start over, discarding the job's committed tasks."""

    def prepare_resume(self, job_id: str) -> Prepared:
        """A job that ran before, to be run again from its saved plan."""

    def start(self, prepared: Prepared, on_event: Callable[[dict], None]) -> JobHandle:
        """Start the job; ``on_event`` gets its progress events (locally: each task's)."""

    def job(self, ref: str) -> JobHandle:
        """A job by its id (locally also by its name or its manifest file)."""

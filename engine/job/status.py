"""Job status: the outcome rule and the status.json document.

The engine decides the outcome, not Step Functions: a job whose share of succeeded
map tasks is below ``min_success_ratio`` is FAILED and its reducer does not run; at or
above it the reducer runs over the committed tasks and the job is SUCCEEDED (all
tasks) or PARTIAL (some failed, listed with their errors). Importable without pyspark.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import first_line
from ..store.storage import Storage
from .layout import JobLayout
from .results import CACHED, SUCCEEDED, MapResult, ReduceResult
from .spec import REDUCER_ONLY, JobSpec

# A job's states; SUCCEEDED is the word a task's and the reducer's results use too.
# INTERRUPTED: a local run stopped by the user (Ctrl-C); the next run resumes it.
PARTIAL, FAILED, RUNNING, INTERRUPTED = "PARTIAL", "FAILED", "RUNNING", "INTERRUPTED"


def may_reduce(total: int, succeeded: int, min_success_ratio: float) -> bool:
    """Whether enough map tasks committed for the reducer to run."""
    return total > 0 and succeeded > 0 and succeeded / total >= min_success_ratio


def too_few_succeeded(succeeded: int, total: int, min_success_ratio: float) -> str:
    """Why the reducer does not run: the one wording, wherever it is decided."""
    return f"{succeeded} of {total} map tasks succeeded, below min_success_ratio {min_success_ratio}"


FIRST_FAILURE = "; first failure: "


def outcome(total: int, succeeded: int, min_success_ratio: float, reduced_ok: bool) -> str:
    if not may_reduce(total, succeeded, min_success_ratio) or not reduced_ok:
        return FAILED
    return SUCCEEDED if succeeded == total else PARTIAL


@dataclass(frozen=True)
class FailedTask:
    task_id: str
    inputs: list[str]
    error_type: str
    error: str
    attempts: int
    started_at: float = 0.0     # first attempt's start and last attempt's end (0: unknown)
    finished_at: float = 0.0

    @property
    def duration_s(self) -> float:
        """How long the task was tried, first attempt's start to last attempt's end."""
        return max(0.0, self.finished_at - self.started_at) if self.started_at else 0.0


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    name: str
    mode: str
    state: str
    tasks_total: int
    tasks_succeeded: int
    tasks_failed: int
    rows_in: int
    rows_out: int
    rejected: int
    bytes_in: int
    output: str
    started_at: float
    finished_at: float
    reason: str = ""
    failed: list[FailedTask] = field(default_factory=list)
    tasks: list[MapResult] = field(default_factory=list)
    reduce: ReduceResult | None = None
    # Every run of the job, oldest first: {run, state, started_at, finished_at, execution?}
    runs: list[dict] = field(default_factory=list)
    tasks_cached: int = 0       # of tasks_succeeded: reused from earlier jobs ("cache": true)
    partitions: list[ReduceResult] = field(default_factory=list)   # R > 1: each reduce task
    # The reducer's (or, R > 1, each reduce task's) failure, when the job's reduce failed.
    failed_reduce: list[FailedTask] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.finished_at - self.started_at

    @property
    def dropped(self) -> int:
        """Rows the committed tasks read that their mappers did not return."""
        return sum(t.dropped for t in self.tasks)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["duration_s"] = round(self.duration_s, 3)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobStatus":
        data = dict(data)
        data.pop("duration_s", None)
        data["failed"] = [FailedTask(**f) for f in data.get("failed", [])]
        data["failed_reduce"] = [FailedTask(**f) for f in data.get("failed_reduce", [])]
        data["tasks"] = [MapResult.from_dict(t) for t in data.get("tasks", [])]
        data["partitions"] = [ReduceResult.from_dict(p) for p in data.get("partitions", [])]
        if data.get("reduce"):
            data["reduce"] = ReduceResult.from_dict(data["reduce"])
        return cls(**data)


def build_status(spec: JobSpec, results: list[MapResult], failed: list[FailedTask],
                 reduce: ReduceResult | None, started_at: float, finished_at: float,
                 reason: str = "", runs: list[dict] | None = None) -> JobStatus:
    total = len(results) + len(failed)
    if spec.mode == REDUCER_ONLY:  # no map tasks: the reducer alone decides
        state = SUCCEEDED if reduce is not None else FAILED
    else:
        state = outcome(total, len(results), spec.min_success_ratio, reduce is not None)
    if state == FAILED and not reason:
        reason = (too_few_succeeded(len(results), total, spec.min_success_ratio)
                  if not may_reduce(total, len(results), spec.min_success_ratio) else "the reducer failed")
    if state == FAILED and failed and FIRST_FAILURE not in reason:
        first = failed[0]
        reason = f"{reason}{FIRST_FAILURE}{first.task_id}: {first.error_type}: {first_line(first.error)}"
    return JobStatus(
        job_id=spec.job_id, name=spec.name, mode=spec.mode, state=state, tasks_total=total,
        tasks_succeeded=len(results), tasks_failed=len(failed),
        rows_in=sum(r.rows_in for r in results), rows_out=sum(r.rows_out for r in results),
        rejected=sum(r.rejected for r in results),
        bytes_in=sum(r.bytes_in for r in results), output=spec.output.path,
        started_at=started_at, finished_at=finished_at, reason=reason, failed=failed,
        tasks=sorted(results, key=lambda r: r.task_id), reduce=reduce, runs=list(runs or []),
        tasks_cached=sum(r.status == CACHED for r in results))


def write_status(status: JobStatus, work_dir: str, storage: Storage) -> str:
    uri = JobLayout(work_dir, status.job_id).status_json
    storage.write_text(uri, json.dumps(status.to_dict(), indent=2))
    return uri


def read_status(work_dir: str, job_id: str, storage: Storage) -> JobStatus | None:
    uri = JobLayout(work_dir, job_id).status_json
    if not storage.exists(uri):
        return None
    return JobStatus.from_dict(json.loads(storage.read_text(uri)))

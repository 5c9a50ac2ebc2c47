"""What task functions return: small, JSON-able, the same locally and on Lambda."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

# What a map task's result says of it.
SUCCEEDED = "SUCCEEDED"   # it ran and committed
SKIPPED = "SKIPPED"       # an earlier attempt or run had committed it; nothing ran
CACHED = "CACHED"         # reused from a matching task of an earlier job (source_job)


def _from_dict(cls, data: dict[str, Any]):
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class MapResult:
    task_id: str
    status: str                 # SUCCEEDED | SKIPPED | CACHED
    inputs: list[str]
    rows_in: int
    rows_out: int
    rejected: int
    bytes_in: int
    bytes_out: int
    duration_ms: int
    cold_start: bool
    started_at: float           # epoch seconds, for the timeline
    parts: list[str] = field(default_factory=list)   # file names in the task's folder
    counters: dict[str, int] = field(default_factory=dict)
    worker: str = ""
    attempts: int = 1           # set by the runner: 2+ means the task was retried
    rows_written: int = 0       # rows in the intermediate parts: the combiner's partials
    cache_key: str = ""         # with "cache": what the task's output depends on (engine/job/cache.py)
    source_job: str = ""        # CACHED: the job and task whose parts these are
    source_task: str = ""
    identity: str = ""          # the task's MapTask.identity: what it read

    @property
    def dropped(self) -> int:
        """Rows the task read that its mapper did not return (its filters): rows in =
        rejected + rows the mapper read. 0 when it returned as many or more (an explode)."""
        return max(0, self.rows_in - self.rejected - self.rows_out)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MapResult":
        return _from_dict(cls, data)

    def skipped(self) -> "MapResult":
        return replace(self, status=SKIPPED) if self.status == SUCCEEDED else self


@dataclass(frozen=True)
class ReduceResult:
    status: str
    rows_in: int
    rows_out: int
    bytes_out: int
    duration_ms: int
    cold_start: bool
    started_at: float
    output: str
    rejected: int = 0
    files: list[str] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    partition: int | None = None   # with R > 1: which reduce task (None: the job's whole reduce)
    attempts: int = 1

    @classmethod
    def skipped(cls, output: str, reason: str) -> "ReduceResult":
        """The reducer did not run (too few map tasks committed)."""
        return cls(status=SKIPPED, rows_in=0, rows_out=0, bytes_out=0, duration_ms=0,
                   cold_start=False, started_at=0.0, output=output, reason=reason)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ReduceResult":
        return _from_dict(cls, data)

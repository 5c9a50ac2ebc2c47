"""Runners decide *who* calls the task functions (a local process pool, or Lambda via
Step Functions); never *what* the task functions do."""

from __future__ import annotations

from typing import Callable, Protocol

from ..planning import Plan
from ..status import JobStatus

#: A runner reports progress as small dicts: {"event": "task_done", "task_id": ..., ...}.
EventSink = Callable[[dict], None]


class JobHandle(Protocol):
    job_id: str

    @property
    def state(self) -> str: ...

    def wait(self, timeout: float | None = None) -> JobStatus: ...

    def result(self) -> JobStatus: ...


class Runner(Protocol):
    def run(self, plan: Plan) -> JobHandle: ...

"""Runners decide *who* calls the task functions (a local process pool, or Lambda via
Step Functions); never *what* the task functions do."""

from __future__ import annotations

from typing import Callable

#: A runner reports progress as small dicts: {"event": "task_done", "task_id": ..., ...}.
EventSink = Callable[[dict], None]

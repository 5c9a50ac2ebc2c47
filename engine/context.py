"""What user code may know about the task it runs in. Importable without pyspark."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TaskContext:
    """What user code may know about the task it runs in.

    ``counters`` is a plain :class:`collections.Counter`; whatever the user adds ends up
    in the task's result and the job's status. ``params`` is the manifest's ``params``
    object (with ``--param`` overrides), read-only.
    """

    job_id: str
    task_id: str
    inputs: list[str]
    logger: logging.LoggerAdapter
    counters: Counter = field(default_factory=Counter)
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def input_path(self) -> str:
        """The first (usually the only) input of this task, as named in the manifest."""
        return self.inputs[0] if self.inputs else ""

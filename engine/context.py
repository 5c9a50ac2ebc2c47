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
    # The task's staged copies (file name -> the input as the manifest names it): a task
    # reads local copies, so Spark's input_file_name() names a copy, not the input.
    staged: Mapping[str, str] = field(default_factory=dict)

    @property
    def input_path(self) -> str:
        """The first (usually the only) input of this task, as named in the manifest."""
        return self.inputs[0] if self.inputs else ""

    def source_column(self):
        """A Spark Column: each row's input file as the manifest names it (``s3://...`` or a
        local path), in packed tasks and byte-range splits alike. Use it in ``map`` on the
        DataFrame the reader gave, before any shuffle (Spark knows a row's file only in
        the stage that scans it)."""
        from pyspark.sql import functions as F

        scanned = F.input_file_name()
        if not self.staged:
            return scanned
        copies = F.create_map(*[F.lit(x) for pair in sorted(self.staged.items()) for x in pair])
        return F.coalesce(copies[F.regexp_extract(scanned, r"([^/]+)$", 1)], scanned)

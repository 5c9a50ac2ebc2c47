"""The job's Mapper or Reducer as a task meets it: resolved from the spec, given the
manifest's settings, set up once per process (engine/user_code.py); and a task's logger."""

from __future__ import annotations

import logging

from ..errors import UserCodeError
from ..interfaces import ArrowMapper, Reducer, TaskContext
from ..job.loading import resolve_class
from ..job.spec import JobSpec
from ..user_code import shared_instance

log = logging.getLogger("lmr.task")


def task_logger(job_id: str, task_id: str, inputs: list[str]) -> logging.LoggerAdapter:
    return logging.LoggerAdapter(log, {"job_id": job_id, "task_id": task_id,
                                       "input": inputs[0] if len(inputs) == 1 else inputs})


def user_instance(spec: JobSpec, role: str, base: type, ctx: TaskContext, in_map_task: bool = False,
                  plan_only: bool = False):
    """The job's Mapper or Reducer, set up once in this process (engine/user_code.py).
    ``in_map_task``: the Reducer a map task uses for its combine and column pruning, set
    up only if it has a combine (a lookup table loaded for ``reduce`` stays out of mappers).
    ``plan_only``: never set up (its query is only planned, over no rows)."""
    try:
        cls = resolve_class(getattr(spec, role), base)
    except ValueError as exc:
        raise UserCodeError(f"{role} {getattr(spec, role)!r}: {exc}") from None
    # Manifest settings win over the class defaults (they were filled from them at load).
    settings: dict = {}
    if spec.input.format:
        settings["input_format"] = spec.input.format
    if spec.input.schema:
        settings["schema"] = spec.input.schema
    if spec.input.options:
        settings["read_options"] = {**cls.read_options, **spec.input.options}
    if issubclass(cls, ArrowMapper) or plan_only:
        set_up = False   # in Spark's Python workers, where its batches are mapped
    else:
        set_up = not in_map_task or cls.combine is not Reducer.combine
    return shared_instance(cls, settings, ctx, base.__name__, set_up=set_up)

"""The attempt-and-commit protocol, one for map and reduce tasks alike.

A task may run more than once at a time (a Lambda retried while the first attempt still
runs, a redriven execution, a local worker that looked dead). So every attempt:

1. writes its files under its own folder, ``<slot folder>/<attempt>/`` (:func:`new_attempt`);
2. creates the task's commit marker only if no attempt has (:func:`commit_attempt`): the first
   committer wins; a loser removes its own folder, nothing else, and returns the winner's
   result;
3. is run through :func:`run_attempt`: a failure is classified, recorded in the task's
   failure record (the job's status and report read it) and raised; the attempt that
   commits removes that record, since the task's result now stands.

Where a task commits (its :class:`engine.job.layout.Slot`) and how a marker is created
and read (engine/job/commits.py) are the job model's; this module is the protocol.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Callable

from ..errors import CommitConflict, error_to_dict
from ..job.commits import record_failure
from ..job.layout import Slot
from ..job.spec import JobSpec
from ..spark.session import platform_failure
from ..store.storage import Storage

log = logging.getLogger("lmr.task")


def run_attempt(spec: JobSpec, task_id: str, inputs: list[str], kind: str, attempt_no: int, storage: Storage, fn, *args):
    """One attempt of task ``task_id`` (``kind``: "map" or "reduce"), ``fn(*args)``."""
    started_at = time.time()
    try:
        result = fn(*args)
    except Exception as exc:
        error = platform_failure(exc, kind)
        record_failure(spec, task_id, inputs, error_to_dict(error), attempt_no, storage, started_at)
        if error is exc:
            raise
        raise error from exc
    return result


def new_attempt() -> str:
    """A fresh attempt's name: the folder under its task's slot it writes its files to."""
    return uuid.uuid4().hex[:12]


def commit_attempt(slot: Slot, attempt: str | None, create: Callable[[], None], storage: Storage) -> bool:
    """Commit attempt ``attempt`` (None: it wrote no files): ``create()`` makes the slot's
    marker, raising CommitConflict if another attempt's exists. True when this attempt
    committed; False when another did first, after removing this attempt's own folder
    (and nothing else): the caller then reads the winner's result from the marker."""
    try:
        create()
    except CommitConflict:
        if attempt is not None:
            storage.delete_prefix(slot.attempt_dir(attempt), owner=slot.owner)
        log.info("task %s already committed by another attempt; this one's files removed", slot.task_id)
        return False
    storage.delete(slot.failure)   # an earlier attempt's error no longer applies
    return True

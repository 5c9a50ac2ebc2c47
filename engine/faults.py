"""TEST-ONLY fault injection: SIGKILL this process, or pause it, at a named point of a task.

Off unless the environment variable ``LMR_FAULT`` names points; a manifest cannot reach
it (no spec field reads the environment). Each item is ``POINT``, ``POINT@TASK_ID``, and
either with ``:pause`` after it::

    LMR_FAULT="map.mid_write@t1,reduce.before_commit"

With ``LMR_FAULT_ONCE_DIR`` set, each point fires once per task (a marker file in that
folder remembers it), so a retry or a re-run gets past it. ``:pause`` needs that folder:
the first caller to reach the point creates ``<POINT>@<TASK>.paused`` there and waits
until a test creates ``<POINT>@<TASK>.resume`` (a race test lets another attempt run
meanwhile); later callers pass.
"""

from __future__ import annotations

import os
import signal
import time

FAULT_ENV, ONCE_ENV = "LMR_FAULT", "LMR_FAULT_ONCE_DIR"
POINTS = (
    "map.before_write",    # output computed, nothing written yet
    "map.mid_write",       # some of the task's part files uploaded
    "map.before_commit",   # every part uploaded, no _COMMITTED marker
    "partition.before_write",   # R > 1: a reduce task's output computed, nothing uploaded
    "partition.mid_write",      # some of its files uploaded
    "partition.before_commit",  # all uploaded, no _COMMITTED marker
    "reduce.before_commit",  # destination files copied, no _SUCCESS / not swapped in
)


def checkpoint(point: str, task_id: str = "") -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    for item in spec.split(","):
        item, _, action = item.strip().partition(":")
        name, _, task = item.partition("@")
        if name not in POINTS:
            raise ValueError(f"{FAULT_ENV}: unknown point {name!r} (known: {', '.join(POINTS)})")
        if action not in ("", "pause"):
            raise ValueError(f"{FAULT_ENV}: unknown action {action!r} (known: pause)")
        if name == point and task in ("", task_id):
            _pause(point, task_id) if action == "pause" else _fire(point, task_id)


def _pause(point: str, task_id: str, timeout_s: float = 300.0) -> None:
    marker = os.path.join(os.environ[ONCE_ENV], f"{point}@{task_id or 'job'}")
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    try:
        os.close(os.open(marker + ".paused", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return   # another caller paused here already: this one passes
    deadline = time.monotonic() + timeout_s
    while not os.path.exists(marker + ".resume"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{FAULT_ENV}: nobody resumed {point}@{task_id} in {timeout_s} s")
        time.sleep(0.02)


def _fire(point: str, task_id: str) -> None:
    once = os.environ.get(ONCE_ENV)
    if once:
        marker = os.path.join(once, f"{point}@{task_id or 'job'}")
        if os.path.exists(marker):
            return
        os.makedirs(once, exist_ok=True)
        open(marker, "w").close()
    os.kill(os.getpid(), signal.SIGKILL)

"""TEST-ONLY fault injection: SIGKILL this process at a named point of a task.

Off unless the environment variable ``LMR_FAULT`` names points; a manifest cannot reach
it (no spec field reads the environment). Each item is ``POINT`` or ``POINT@TASK_ID``::

    LMR_FAULT="map.mid_write@t1,reduce.before_commit"

With ``LMR_FAULT_ONCE_DIR`` set, each point fires once per task (a marker file in that
folder remembers it), so a retry or a re-run gets past it.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV, ONCE_ENV = "LMR_FAULT", "LMR_FAULT_ONCE_DIR"
POINTS = (
    "map.before_write",    # output computed, nothing written yet
    "map.mid_write",       # some of the task's part files uploaded
    "map.before_commit",   # every part uploaded, no _COMMITTED marker
    "reduce.before_commit",  # destination files copied, no _SUCCESS / not swapped in
)


def checkpoint(point: str, task_id: str = "") -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    for item in spec.split(","):
        name, _, task = item.strip().partition("@")
        if name not in POINTS:
            raise ValueError(f"{FAULT_ENV}: unknown point {name!r} (known: {', '.join(POINTS)})")
        if name == point and task in ("", task_id):
            _fire(point, task_id)


def _fire(point: str, task_id: str) -> None:
    once = os.environ.get(ONCE_ENV)
    if once:
        marker = os.path.join(once, f"{point}@{task_id or 'job'}")
        if os.path.exists(marker):
            return
        os.makedirs(once, exist_ok=True)
        open(marker, "w").close()
    os.kill(os.getpid(), signal.SIGKILL)

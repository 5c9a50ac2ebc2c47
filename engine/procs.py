"""Processes on this machine: the files a killed writer left (a half-written class
archive, a publisher's hidden folder) are removed only once its pid is dead."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs here (someone else's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

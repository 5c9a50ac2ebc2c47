"""Numbers an operator sets in the environment: read in one place, one message when bad."""

from __future__ import annotations

import os

from .errors import EngineError


def env_number(name: str, default: float) -> float:
    """``$name`` as a positive number, ``default`` when unset; an EngineError naming the
    variable otherwise."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise EngineError(f"{name}={raw!r}: must be a positive number")
    return value

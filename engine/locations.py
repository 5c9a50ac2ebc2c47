"""Where a manifest may read and write: the allowed locations.

``LMR_ALLOWED_LOCATIONS`` is a comma-separated list of folder prefixes (``s3://bucket/inputs/``,
``/data/``). When it is set, every input and output a manifest names must lie under one
of them; unset, any location is allowed (a laptop). The deployed stack sets it to its
bucket's ``inputs/`` and ``outputs/``. Matching is by whole path segments.
"""

from __future__ import annotations

import os

ALLOWED_ENV = "LMR_ALLOWED_LOCATIONS"


def allowed_locations() -> tuple[str, ...] | None:
    raw = os.environ.get(ALLOWED_ENV, "").strip()
    if not raw:
        return None
    return tuple(_as_folder(p.strip()) for p in raw.split(",") if p.strip())


def _as_folder(prefix: str) -> str:
    return prefix if prefix.endswith("/") else prefix + "/"


def outside(uri: str, allowed: tuple[str, ...] | None) -> str | None:
    """Why ``uri`` may not be used, or None if it may."""
    if allowed is None:
        return None
    segments = uri.split("://", 1)[-1].split("/")
    if ".." in segments:
        return f"{uri} contains '..'"
    if any(_as_folder(uri).startswith(prefix) for prefix in allowed):
        return None
    return f"{uri} is outside the allowed locations ({', '.join(allowed)})"

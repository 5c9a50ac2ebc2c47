"""Where a path points: URI syntax, the allowed locations, and which places overlap.

One owner for "is this path inside that folder". Paths are compared by whole segments
after resolving: a local path through ``realpath`` (``..`` and symlinks), an S3 URI as
bucket + key segments (S3 has no ``..``: a key holding one is refused). A folder given
without a trailing ``/`` means that folder, never its siblings (``inputs`` does not match
``inputs-private``).

``LMR_ALLOWED_LOCATIONS`` is a comma-separated list of folders (``s3://bucket/inputs/``,
``/data/``). When it is set, every place a manifest names must lie in one of them; unset,
any location is allowed (a laptop). The deployed stack sets it to its bucket's
``inputs/`` and ``outputs/``. Importable without pyspark.
"""

from __future__ import annotations

import os
import re

ALLOWED_ENV = "LMR_ALLOWED_LOCATIONS"
S3_SCHEME = "s3://"
# S3 keys are at most 1,024 bytes; local paths at most PATH_MAX (4,096) on Linux.
MAX_URI_CHARS = 4096
# How much of a user's value a message quotes.
QUOTE_CHARS = 200
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.\-_]{0,254}\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """``repr`` of a user's value for a message, cut to about ``limit`` characters."""
    return _cut(repr(value), limit)


def shorten(uri: str, limit: int = QUOTE_CHARS) -> str:
    """A path or URI for a message: as it is (``repr`` if it holds control characters),
    cut to about ``limit`` characters."""
    return _cut(repr(uri) if _CONTROL.search(uri) else uri, limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"


def uri_problem(uri: str, *, needs_key: bool = False) -> str | None:
    """Why ``uri`` is not a usable location (control characters, a malformed ``s3://``
    URI, no key where a key is needed), or None."""
    if len(uri) > MAX_URI_CHARS:
        return f"{shorten(uri)} is longer than {MAX_URI_CHARS} characters"
    if _CONTROL.search(uri):
        return f"{quote(uri)} contains a control character"
    if uri.lower().startswith(S3_SCHEME) and not uri.startswith(S3_SCHEME):
        return f"{shorten(uri)}: write the scheme as lower-case 's3://'"
    if "://" in uri and not uri.startswith(S3_SCHEME):
        return f"{shorten(uri)}: only local paths and s3:// URIs are supported"
    if uri.startswith(S3_SCHEME):
        bucket, _, key = uri[len(S3_SCHEME):].partition("/")
        if not bucket:
            return f"{shorten(uri)} names no bucket (s3://BUCKET/KEY)"
        if not _BUCKET.match(bucket):
            return f"{shorten(uri)}: {quote(bucket)} is not a valid bucket name"
        parts = key.split("/")
        if any(p in (".", "..") for p in parts):
            return f"{shorten(uri)} contains '.' or '..' (S3 keys do not resolve them)"
        if "" in parts[:-1]:
            return f"{shorten(uri)} contains an empty path segment ('//')"
        if needs_key and not key.strip("/"):
            return f"{shorten(uri)} names no key: a bucket alone is not allowed here"
    return None


def resolve_local(path: str) -> str:
    """An absolute path with ``~``, ``..`` and symlinks resolved (as far as they exist)."""
    return os.path.realpath(os.path.abspath(os.path.expanduser(path)))


def segments(uri: str, resolved: bool = False) -> tuple[str, ...]:
    """``s3://b/a/x`` -> ``("s3:", "b", "a", "x")``; ``/a/x`` -> ``("", "a", "x")`` after
    resolving (``resolved``: the caller resolved it already). A trailing slash makes no
    difference."""
    if uri.startswith(S3_SCHEME):
        return ("s3:", *(p for p in uri[len(S3_SCHEME):].split("/") if p))
    return ("", *(p for p in (uri if resolved else resolve_local(uri)).split(os.sep) if p))


def within(uri: str, folder: str) -> bool:
    """Whether ``uri`` is ``folder`` or lies inside it, by whole segments."""
    inner, outer = segments(uri), segments(folder)
    return inner[:len(outer)] == outer


def is_root(uri: str) -> bool:
    """A bucket root (``s3://b``, ``s3://b/``) or the filesystem root."""
    parts = segments(uri)
    return len(parts) <= (2 if parts[0] == "s3:" else 1)


def destination_conflict(output: str, place: str, what: str) -> str | None:
    """Why ``output`` may not be written because of ``place`` (an input, the work dir ...):
    publishing replaces the output folder, so neither may hold the other."""
    if within(place, output):
        return f"{shorten(output)} holds {what} ({shorten(place)}); the output must be a folder of its own"
    if within(output, place):
        return f"{shorten(output)} lies inside {what} ({shorten(place)}); the output must be a folder of its own"
    return None


def allowed_locations() -> tuple[str, ...] | None:
    raw = os.environ.get(ALLOWED_ENV, "").strip()
    if not raw:
        return None
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def outside(uri: str, allowed: tuple[str, ...] | None) -> str | None:
    """Why ``uri`` may not be used, or None if it may."""
    if allowed is None:
        return None
    if any(within(uri, folder) for folder in allowed):
        return None
    shown = ", ".join(allowed)
    if not uri.startswith(S3_SCHEME) and resolve_local(uri) != os.path.abspath(os.path.expanduser(uri)):
        return f"{shorten(uri)} resolves to {shorten(resolve_local(uri))}, outside the allowed locations ({shown})"
    return f"{shorten(uri)} is outside the allowed locations ({shown})"

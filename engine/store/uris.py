"""URIs: local paths and ``s3://bucket/key``, joined and taken apart in one place, path
globs, and what a listing says of a file. Importable without pyspark."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import PermanentStorageError
from .locations import S3_SCHEME, quote


def is_s3(uri: str) -> bool:
    return uri.startswith(S3_SCHEME)


def split_s3(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    bucket, _, key = uri[len(S3_SCHEME):].partition("/")
    if not bucket:
        raise PermanentStorageError(f"{uri!r} names no bucket")
    return bucket, key


def join(base: str, *parts: str) -> str:
    """Join path segments onto a local path or an S3 URI with ``/``."""
    out = base.rstrip("/") if base not in ("/", S3_SCHEME) else base
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


def s3_uri(bucket: str, key: str = "") -> str:
    """The one place ``s3://`` URIs are built: ``s3://bucket`` or ``s3://bucket/key``."""
    return f"{S3_SCHEME}{bucket}/{key}" if key else f"{S3_SCHEME}{bucket}"


def s3_root(uri: str) -> str:
    """``s3://bucket/a/b`` -> ``s3://bucket``."""
    return s3_uri(split_s3(uri)[0])


def basename(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def glob_regex(pattern: str) -> re.Pattern:
    """A path glob: ``*`` and ``?`` stay within one folder, ``**/`` spans any folders."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape("["))
                i += 1
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                out.append(f"[^{body[1:]}]" if body.startswith("!") else f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable glob below a prefix, or None."""
    if not pattern or len(pattern) > 1024:
        return "must be 1 to 1,024 characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in pattern):
        return f"{quote(pattern)} contains a control character"
    if pattern.startswith("/") or ".." in pattern.split("/"):
        return f"{quote(pattern)} must stay below the prefix (no leading '/', no '..')"
    try:
        glob_regex(pattern)
    except re.error as exc:
        return f"{quote(pattern)} is not a valid glob: {exc}"
    return None


@dataclass(frozen=True)
class FileInfo:
    uri: str
    size: int
    etag: str | None = None
    is_dir: bool = False
    mtime_ns: int | None = None   # local files: with the size, what says the file changed

"""Reading a manifest file: bounded in size and depth, JSON with unique keys, or a text
list of input URIs (LetsData's format). What the fields mean is :mod:`engine.job.spec`'s.
Importable without pyspark."""

from __future__ import annotations

import json
import os
from typing import Any

from ..errors import ManifestError, Problem
from ..store.locations import shorten
from ..store.storage import Storage
from ..store.uris import is_s3

# A manifest is untrusted input: bounded in size and in depth before anything else reads it.
# 100,000 input URIs of 200 characters fit in 32 MiB.
MAX_MANIFEST_BYTES = 32 * 2**20
MAX_DEPTH = 16


def read_manifest(uri: str, overrides: dict[str, Any] | None = None, *,
                  storage: Storage | None = None) -> dict[str, Any]:
    """The manifest's fields as a dict, overrides applied, not yet validated."""
    storage = storage or Storage()
    try:
        info = storage.stat(uri)
        if info is not None and info.size > MAX_MANIFEST_BYTES:
            raise ManifestError(uri, [Problem("", f"manifest is {info.size:,} bytes; at most "
                                                  f"{MAX_MANIFEST_BYTES:,} are read")])
        text = storage.read_text(uri)
    except ManifestError:
        raise
    except UnicodeDecodeError as exc:
        raise ManifestError(uri, [Problem("", f"manifest is not UTF-8 text: {exc}")]) from None
    except Exception as exc:
        raise ManifestError(uri, [Problem("", f"cannot read manifest: {exc}")]) from None
    data = parse_manifest_text(text, uri)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def manifest_dir(uri: str) -> str:
    """Relative paths in a manifest resolve against this folder."""
    return uri.rsplit("/", 1)[0] if is_s3(uri) else os.path.dirname(os.path.abspath(uri))


def parse_manifest_text(text: str, source: str) -> dict[str, Any]:
    """JSON object, or (LetsData's format) one input URI per line; '#' starts a comment."""
    stripped = text.strip()
    if not stripped:
        raise ManifestError(source, [Problem("", "manifest is empty")])
    if stripped[0] in "{[" or source.endswith(".json"):
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            raise ManifestError(source, [Problem(
                "", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")]) from None
        except _DuplicateKey as exc:
            raise ManifestError(source, [Problem(str(exc), "appears twice in the same object")]) from None
        except RecursionError:
            raise ManifestError(source, [Problem("", f"nested deeper than {MAX_DEPTH} levels")]) from None
        if _depth(data) > MAX_DEPTH:
            raise ManifestError(source, [Problem("", f"nested deeper than {MAX_DEPTH} levels")])
        if not isinstance(data, dict):
            raise ManifestError(source, [Problem("", f"must be a JSON object, not {kind_of(data)}")])
        return data
    lines = [ln.strip() for ln in text.splitlines()]
    return {"input": {"files": [ln for ln in lines if ln and not ln.startswith("#")]}}


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object hook: a key given twice is an error, not "the last one wins"."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(shorten(key, 80))
        out[key] = value
    return out


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def kind_of(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(value), type(value).__name__)

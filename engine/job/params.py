"""Job parameters: the manifest's ``params`` object (model version, thresholds, paths),
given to user code as ``ctx.params``.

A manifest is untrusted input, so params are allow-listed by shape: an object of at
most ``MAX_PARAMS`` keys named like identifiers, holding JSON values (strings, finite
numbers, booleans, null, lists and objects, nested at most ``MAX_DEPTH`` deep), at most
``MAX_PARAMS_BYTES`` as JSON. They are part of the job id and of the cache key: other
params, another job. Importable without pyspark.
"""

from __future__ import annotations

import json
import math
import re
from types import MappingProxyType
from typing import Any

MAX_PARAMS = 100
MAX_PARAMS_BYTES = 16 * 1024
MAX_DEPTH = 8
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}\Z")


def params_problem(params: Any) -> tuple[str, str] | None:
    """(field path, reason) for the first way ``params`` breaks the rules, or None."""
    if not isinstance(params, dict):
        return "params", f"must be an object, not {type(params).__name__}"
    if len(params) > MAX_PARAMS:
        return "params", f"has {len(params):,} keys; at most {MAX_PARAMS}"
    for key, value in params.items():
        if not isinstance(key, str) or not _KEY.match(key):
            return f"params.{str(key)[:80]}", "a key must be 1-64 letters, digits, '_', '.' or '-', not starting " \
                                              "with a digit, '.' or '-'"
        reason = _value_problem(value, 1)
        if reason:
            return f"params.{key}", reason
    size = len(json.dumps(params, separators=(",", ":")).encode())
    if size > MAX_PARAMS_BYTES:
        return "params", f"is {size:,} bytes as JSON; at most {MAX_PARAMS_BYTES:,}"
    return None


def _value_problem(value: Any, depth: int) -> str | None:
    if depth > MAX_DEPTH:
        return f"is nested more than {MAX_DEPTH} deep"
    if value is None or isinstance(value, (bool, str, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "must be a finite number"
    if isinstance(value, list):
        return next(filter(None, (_value_problem(v, depth + 1) for v in value)), None)
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            return "an object's keys must be strings"
        return next(filter(None, (_value_problem(v, depth + 1) for v in value.values())), None)
    return f"must be a JSON value, not {type(value).__name__}"


def parse_param_flag(text: str) -> tuple[str, Any]:
    """``--param key=value``: the value as JSON when it parses (``0.7``, ``true``,
    ``[1,2]``), else as the string it is (``s3://models/v3.npz``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--param {text!r}: expected key=value")
    try:
        value = json.loads(raw)
    except RecursionError:   # json.loads recurses per level: a deep value must not trace back
        raise ValueError(f"--param {key}: the value is nested more than {MAX_DEPTH} deep") from None
    except ValueError:
        value = raw
    return key, value


def frozen(params: dict[str, Any]) -> MappingProxyType:
    """A read-only view of a copy of ``params`` for user code: one task cannot change
    what the next one sees."""
    return MappingProxyType(json.loads(json.dumps(params)))

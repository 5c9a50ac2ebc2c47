"""What a job's code is: hashes of its source, read without running it (the coordinator
cannot import job modules). They are part of the job's id, so that changed code is a
new job, and of a map task's cache key (engine/job/cache.py).

- ``mapper``: the Mapper's module, less the Reducer classes defined there, so that
  editing only a Reducer keeps the map tasks' key (and so does using another one).
- ``combiner``: the Reducer's ``combine`` method and ``partition_by`` (they shape what a
  map task writes: the combiner's partials, in hash buckets of those columns).
- ``reducer``: the Reducer's whole module.

Code the module imports from elsewhere is not read: a manifest's ``cache_version`` says
when that changed. Importable without pyspark.
"""

from __future__ import annotations

import ast
import hashlib
import os
from functools import cache

from .loading import class_node, module_source

_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__))


def digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def code_fingerprints(mapper: str | None, reducer: str | None) -> dict[str, str]:
    """The hashes of a job's code; a module that cannot be found is left out (the
    manifest check reports it)."""
    out: dict[str, str] = {}
    try:
        if mapper:
            out["mapper"] = digest(mapper, _mapper_source(mapper))
        if reducer:
            out["reducer"] = digest(reducer, module_source(reducer)[1])
            out["combiner"] = digest(_combiner_source(reducer))
    except (ValueError, SyntaxError):
        pass
    return out


def _mapper_source(mapper: str) -> str:
    origin, source = module_source(mapper)
    lines = source.splitlines(keepends=True)
    for node in reversed(ast.parse(source, origin).body):
        if isinstance(node, ast.ClassDef) and node.name != mapper.split(":")[1] and _is_reducer(node):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            del lines[first - 1:node.end_lineno]
    return "".join(lines)


def _is_reducer(node: ast.ClassDef) -> bool:
    """Whether a class says it subclasses ``Reducer`` (by that name)."""
    return any(_base_name(b) == "Reducer" for b in node.bases)


def _base_name(base: ast.expr) -> str:
    return base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""


def _combiner_source(reducer: str) -> str:
    """The source of the Reducer's own ``combine`` and ``partition_by``, "" when it has
    neither. A Reducer that
    inherits from a class of its own counts its whole module (it may inherit one)."""
    origin, source = module_source(reducer)
    node = class_node(ast.parse(source, origin), reducer.split(":")[1])
    if node is None:
        return source
    shaping = [ast.get_source_segment(source, item) or source for item in node.body
               if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "combine"
               or _assigns(item, "partition_by")]
    if shaping:
        return "\n".join(shaping)
    plain = all(_base_name(b) == "Reducer" for b in node.bases)
    return "" if plain else source


def _assigns(node: ast.stmt, name: str) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return any(isinstance(t, ast.Name) and t.id == name for t in targets)


@cache
def engine_fingerprint() -> str:
    """The hash of the engine's own source: a changed engine never reuses a cached task."""
    files = []
    for folder, dirs, names in os.walk(_ENGINE_DIR):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
        for name in sorted(names):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as fh:
                    files += [os.path.relpath(path, _ENGINE_DIR), fh.read()]
    return digest(*files)

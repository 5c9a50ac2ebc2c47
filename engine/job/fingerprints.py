"""What a job's code is: hashes of its source, read without running it (the coordinator
cannot import job modules). They are part of the job's id, so that changed code is a
new job, and of a map task's cache key (engine/job/cache.py).

- ``mapper``: the Mapper's module, less the Reducer classes defined there, so that
  editing only a Reducer keeps the map tasks' key (and so does using another one), plus
  every module of the same package it imports (helpers), transitively.
- ``combiner``: what shapes a map task's output on the Reducer's side. For a Reducer
  with a ``combine`` (or a base other than ``Reducer``, which may give it one): its whole
  module and the package modules it imports (``combine`` may use what ``setup`` made and
  any helper). Without one: its ``partition_by`` (the hash buckets), "" for neither.
- ``reducer``: the Reducer's whole module and the package modules it imports.

Code from other packages (pip-installed libraries) is not read: a manifest's
``cache_version`` says when that changed; the engine's own source and the versions of
Python, pyspark, pyarrow and Java are in the cache key (engine/job/cache.py). Importable
without pyspark.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import shutil
import sys
from functools import cache

from .loading import class_node, job_packages, module_source

# The whole engine package (readers, splits, tasks ... shape a task's output, not only job/).
_ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
            out["mapper"] = digest(mapper, _mapper_source(mapper), *_imported_sources(mapper))
        if reducer:
            out["reducer"] = digest(reducer, module_source(reducer)[1], *_imported_sources(reducer))
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
    """What can shape a map task's output on the Reducer's side: "" for a plain Reducer
    (no ``combine``, no ``partition_by``, only ``Reducer`` as its base); else its whole
    module and the package modules it imports (``combine`` may use ``setup``'s objects
    and any helper; a Reducer with another base may inherit a ``combine``)."""
    origin, source = module_source(reducer)
    node = class_node(ast.parse(source, origin), reducer.split(":")[1])
    if node is not None and all(_base_name(b) == "Reducer" for b in node.bases):
        if not any(isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "combine"
                   for item in node.body):
            # No combiner: only the bucket columns shape what a map task writes.
            return "\n".join(ast.get_source_segment(source, item) or "" for item in node.body
                             if _assigns(item, "partition_by"))
    return "\n".join([source, *_imported_sources(reducer)])


def _imported_sources(ref: str, limit: int = 200) -> list[str]:
    """The sources of the job-package modules (``ref``'s own package and the allowed job
    packages: user code, not libraries) that ``ref``'s module imports, transitively (at
    most ``limit``), in a stable order."""
    start = ref.split(":", 1)[0]
    packages = {start.split(".")[0], *(p.split(".")[0] for p in job_packages())}
    seen, todo, out = {start}, [start], []
    while todo and len(seen) <= limit:
        name = todo.pop()
        origin = _module_file(name)
        if origin is None:
            continue   # a name imported from a module, not a module
        try:
            with open(origin, encoding="utf-8") as fh:
                source = fh.read()
            tree = ast.parse(source, origin)
        except (OSError, SyntaxError, ValueError):
            continue
        if name != start:
            out.append(f"{name}\n{source}")
        for imported in _imports(tree, name, origin):
            if imported.split(".")[0] in packages and imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return sorted(out)


def _module_file(name: str) -> str | None:
    """The file of module ``name`` inside its top-level package's folder, found without
    importing anything below the package (a job module imports pyspark)."""
    top, *rest = name.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return spec.origin if spec and spec.origin and spec.origin.endswith(".py") and not rest else None
    for folder in spec.submodule_search_locations:
        base = os.path.join(folder, *rest)
        for candidate in (base + ".py", os.path.join(base, "__init__.py")) if rest else (
                os.path.join(folder, "__init__.py"),):
            if os.path.isfile(candidate):
                return candidate
    return None


def _imports(tree: ast.Module, module: str, origin: str) -> list[str]:
    """Modules a module imports (``import a.b``, ``from a.b import c`` as ``a.b`` and
    ``a.b.c``, relative imports resolved against ``module``)."""
    is_package = os.path.basename(origin) == "__init__.py"
    parent = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = parent.split(".") if parent else []
                anchor = anchor[:len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                base = ".".join([*anchor, *([base] if base else [])])
            if base:
                found.append(base)
                found += [f"{base}.{a.name}" for a in node.names if a.name != "*"]
    return found


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
            if name.endswith((".py", ".properties")):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as fh:
                    files += [os.path.relpath(path, _ENGINE_DIR), fh.read()]
    return digest(*files)


@cache
def runtime_fingerprint() -> str:
    """The versions that can change a task's output besides the code: Python, pyspark,
    pyarrow (as installed here; "none" where not) and Java (its ``release`` file). Read
    without importing pyspark or starting a JVM."""
    from importlib import metadata

    versions = [sys.version.split()[0]]
    for name in ("pyspark", "pyarrow"):
        try:
            versions.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name}=none")
    java = os.environ.get("JAVA_HOME") or os.path.dirname(os.path.dirname(os.path.realpath(
        shutil.which("java") or "/nonexistent/bin/java")))
    try:
        with open(os.path.join(java, "release"), encoding="utf-8") as fh:
            versions.append(next((line.strip() for line in fh if line.startswith("JAVA_VERSION=")), "java=?"))
    except OSError:
        versions.append("java=none")
    return digest(*versions)

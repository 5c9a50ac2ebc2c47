"""The engine's modules form no import cycle and no import runs up a layer, counting
imports inside functions too: a cycle is how "the Spark runtime imports the task code that
imports the Spark runtime" comes back, and an arrow up is how a layer that must run
without pyspark (the job model, on the coordinator) starts to need it."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ENGINE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in ENGINE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                deps.update(t for t in [target, *(f"{target}.{a.name}" for a in node.names)] if t in files)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in files)
        # A package's __init__ runs first anyway: importing it is not an edge back.
        graph[name] = {d for d in deps if d != name and not name.startswith(d + ".") and d != "engine"}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_engine_module_imports_one_that_imports_it_back():
    graph = import_graph()
    assert "engine.spark.session" in graph["engine.task.map"] and "engine.task.map" in graph["engine.task.entry"]
    assert cycles(graph) == []


# Bottom to top: a module imports only from its own layer and those below. The package
# root (engine/__init__.py: the user API, and where the layers are wired) is above all.
LAYERS = [
    ("base", ("engine.errors", "engine.env", "engine.procs", "engine.faults")),
    ("storage", ("engine.store",)),
    ("job model", ("engine.job", "engine.logs", "engine.report")),
    ("user code support", ("engine.context", "engine.user_code", "engine.model_files")),
    ("spark runtime", ("engine.spark",)),
    ("tasks", ("engine.interfaces", "engine.task")),
    ("runners", ("engine.runner", "engine.local", "engine.stack")),
    ("cli", ("engine.cli",)),
]


def layer_of(module: str) -> int | None:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


def arrows_up(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} ({LAYERS[layer_of(m)][0]}) imports {d} ({LAYERS[layer_of(d)][0]})"
                  for m, deps in graph.items() if m != "engine" for d in deps
                  if d != "engine" and layer_of(d) > layer_of(m))


def test_the_layer_check_finds_an_arrow_up():
    assert arrows_up({"engine.job.spec": {"engine.spark.readers"}, "engine.spark.readers": {"engine.job.formats"},
                      "engine.job.formats": set()}) == [
        "engine.job.spec (job model) imports engine.spark.readers (spark runtime)"]


def test_every_engine_module_has_a_layer_and_no_import_runs_up_one():
    graph = import_graph()
    assert [m for m in graph if m != "engine" and layer_of(m) is None] == []
    assert arrows_up(graph) == []

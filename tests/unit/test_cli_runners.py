"""The CLI's commands hold a runner and a job handle (engine/runner.py) and never ask where
a job runs: only the function that picks the runner reads the flags that say so."""

from __future__ import annotations

import ast
from pathlib import Path

COMMANDS = Path(__file__).resolve().parents[2] / "engine" / "cli" / "commands.py"
WHERE = {"stack", "bucket", "state_machine"}
# runner_for picks the runner; _deployment finds the stack; submit insists on one.
ALLOWED = {"runner_for", "_deployment", "cmd_submit"}


def where_readers(source: str) -> list[str]:
    """The top-level functions that read ``args.stack`` (or ``bucket``, ``state_machine``)."""
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            reads = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)} | {
                n.args[1].value for n in ast.walk(node) if isinstance(n, ast.Call) and getattr(n.func, "id", "") ==
                "getattr" and len(n.args) > 1 and isinstance(n.args[1], ast.Constant)}
            if reads & WHERE:
                found.append(node.name)
    return found


def test_the_finder_finds_a_branch_on_where_a_job_runs():
    assert where_readers("def cmd_logs(args):\n    if args.stack:\n        pass\n") == ["cmd_logs"]
    assert where_readers("def f(args):\n    return getattr(args, 'bucket', None)\n") == ["f"]


def test_only_the_runner_choice_reads_where_a_job_runs():
    assert set(where_readers(COMMANDS.read_text())) <= ALLOWED

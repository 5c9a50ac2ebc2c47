"""Resolve ``module:Class`` references from a manifest, safely.

A manifest is untrusted input: it may only name classes inside the configured job
packages (``LMR_JOB_PACKAGES``, comma-separated, default ``jobs``), and the class must
subclass the expected interface. ``os:system`` or ``subprocess:Popen`` never resolve.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re

JOB_PACKAGES_ENV = "LMR_JOB_PACKAGES"
DEFAULT_JOB_PACKAGES = ("jobs",)
_REF = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_]\w*$")


def job_packages() -> tuple[str, ...]:
    raw = os.environ.get(JOB_PACKAGES_ENV)
    if not raw:
        return DEFAULT_JOB_PACKAGES
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def check_reference(ref: str, packages: tuple[str, ...] | None = None) -> str | None:
    """The reason ``ref`` is not an allowed reference, or None. Imports nothing."""
    if not isinstance(ref, str) or not _REF.match(ref):
        return f"{ref!r} is not of the form 'package.module:ClassName'"
    packages = packages or job_packages()
    module = ref.split(":", 1)[0]
    if module.split(".", 1)[0] not in packages:
        return (f"{ref!r} is outside the allowed job packages ({', '.join(packages)}); "
                f"set {JOB_PACKAGES_ENV} to allow more")
    return None


# The user-facing base class of each role ("mapper", "reducer"), registered by the package
# that defines them (engine/__init__.py): the job model names no module above it.
_ROLE_BASES: dict[str, type] = {}


def register_role_bases(**bases: type) -> None:
    _ROLE_BASES.update(bases)


def resolve_role_class(ref: str, role: str) -> type:
    """:func:`resolve_class` for a role's base class, and the class's own check of its
    declaration (``definition_problem``, e.g. an ArrowMapper's output_schema). Raises
    ValueError with a reason fit to show the user."""
    cls = resolve_class(ref, _ROLE_BASES[role])
    problem = getattr(cls, "definition_problem", lambda: None)()
    if problem:
        raise ValueError(problem)
    return cls


def resolve_class(ref: str, base: type, packages: tuple[str, ...] | None = None) -> type:
    """Import ``ref`` and check that it is a subclass of ``base``.

    Raises ValueError with a reason fit to show the user.
    """
    reason = check_reference(ref, packages)
    if reason:
        raise ValueError(reason)
    module_name, class_name = ref.split(":", 1)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ValueError(f"cannot import module {module_name!r} ({exc})") from exc
    except Exception as exc:
        raise ValueError(f"importing {module_name!r} raised {type(exc).__name__}: {exc}") from exc
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ValueError(f"module {module_name!r} has no attribute {class_name!r}")
    if not (isinstance(cls, type) and issubclass(cls, base) and cls is not base):
        raise ValueError(f"{ref!r} is not a subclass of {base.__module__}.{base.__name__}")
    return cls


def module_source(ref: str) -> tuple[str, str]:
    """(file, source) of the module ``ref`` names, found without running it. Raises
    ValueError with a reason fit to show the user."""
    module_name = ref.split(":", 1)[0]
    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError) as exc:
        raise ValueError(f"cannot find module {module_name!r} ({exc})") from None
    if found is None or not found.origin or not found.origin.endswith(".py"):
        raise ValueError(f"cannot find module {module_name!r}")
    with open(found.origin, encoding="utf-8") as fh:
        return found.origin, fh.read()


def class_node(tree: ast.Module, class_name: str) -> ast.ClassDef | None:
    """The top-level definition of ``class_name`` in a parsed module (the last one wins,
    as when the module runs)."""
    found = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name]
    return found[-1] if found else None


def check_statically(ref: str, packages: tuple[str, ...] | None = None) -> str | None:
    """Like :func:`resolve_class`, without running the module: its source must define the
    class. For the coordinator, which cannot import job modules (they import pyspark).
    Whether the class subclasses the interface is checked when a task loads it."""
    reason = check_reference(ref, packages)
    if reason:
        return reason
    try:
        origin, source = module_source(ref)
    except ValueError as exc:
        return str(exc)
    module_name, class_name = ref.split(":", 1)
    if class_node(ast.parse(source, origin), class_name) is None:
        return f"module {module_name!r} defines no class {class_name!r}"
    return None

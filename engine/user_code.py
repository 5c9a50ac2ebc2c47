"""Running the user's code: its instances, their ``setup``, and what its errors mean.

A Mapper or Reducer is created and set up ONCE per process for a given class, settings
and params (a local worker process, a warm Lambda container, or one of Spark's Python
workers for an ArrowMapper), then kept and reused by every later task there: a model
loaded in ``setup`` is loaded once, not once per task. A process keeps the
``MAX_INSTANCES`` most recently used. Tasks running on threads of one
process share the instance, so ``map``/``reduce`` must not keep per-task state on it
(``ctx`` is the task's own). An instance whose ``setup`` raised is not kept: the next
task tries again. Any error from user code is a :class:`UserCodeError` naming the
method, so it is not retried as a platform failure.
"""

from __future__ import annotations

import json
import os
import re
import threading
import traceback
from collections import OrderedDict

from .errors import EngineError, UserCodeError, first_line

# The most set-up instances a process keeps (the least recently used goes first): a warm
# container that serves jobs with other params must not keep every model it ever loaded.
MAX_INSTANCES = 4
_instances: OrderedDict[str, tuple[object, bool]] = OrderedDict()   # key -> (instance, set up)
_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _user_errors():
    """Spark errors that come from the user's code or plan, not from the platform."""
    from pyspark.errors import AnalysisException, PythonException

    return (AnalysisException, PythonException)


def run_user(what: str, fn, *args):
    """``fn(*args)``, with an error from user code raised as a UserCodeError naming ``what``,
    the exception and the line of the user's file it came from (its first line says it all;
    the Python traceback follows)."""
    try:
        return fn(*args)
    except EngineError:
        raise  # already classified (e.g. a StorageError from engine storage inside user code)
    except NotImplementedError as exc:
        raise UserCodeError(f"{what} failed: {exc}") from exc
    except Exception as exc:
        if _is_spark_user_error(exc):
            raise UserCodeError(describe_spark_error(what, str(exc))) from exc
        if type(exc).__module__.startswith(("py4j", "pyspark")):
            raise  # platform trouble (JVM, I/O): retryable
        frames = [(f.filename, f.lineno, f.name) for f in traceback.extract_tb(exc.__traceback__)]
        raise UserCodeError(f"{what} raised {_one_line(exc)}{_where(frames)}") from exc


def run_user_frame(what: str, fn, *args):
    """:func:`run_user` for a method that must return a Spark DataFrame: anything else is
    a UserCodeError naming what it returned (never an AttributeError deep in the engine,
    which would be retried as a platform failure)."""
    out = run_user(what, fn, *args)
    from pyspark.sql import DataFrame

    if not isinstance(out, DataFrame):
        raise UserCodeError(f"{what} returned a value of type {type(out).__qualname__}, "
                            "not a Spark DataFrame: return the DataFrame your transforms build")
    return out


_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<name>.+)$')


def describe_spark_error(what: str, text: str) -> str:
    """A one-line account of a Spark error from the user's code, then its Python traceback.

    An exception in a UDF reaches the driver as a PythonException whose text is Spark's
    preamble, the worker's traceback and, often, pages of Java stack: the first line the
    user needs is the exception and the line of their file that raised it."""
    start = text.find("Traceback (most recent call last):")
    if start < 0:
        return f"{what} failed: {first_line(text)}"
    trace = text[start:]
    for stop in ("\nJVM stacktrace:", "\n SQLSTATE", "\n\tat "):
        if stop in trace:
            trace = trace[:trace.index(stop)]
    lines = trace.rstrip().splitlines()
    frames = [(m["file"], int(m["line"]), m["name"]) for m in map(_FRAME.match, lines) if m]
    raised = next((ln.strip() for ln in reversed(lines) if ln.strip() and not ln.startswith(" ")), "an exception")
    return f"{what}: the Python code raised {raised}{_where(frames)}\n{trace.rstrip()}"


def _where(frames: list[tuple[str, int, str]]) -> str:
    """`` (at file:line in name)`` of the innermost frame outside the engine and pyspark."""
    for filename, line, name in reversed(frames):
        if not _is_ours(filename):
            return f" (at {_shown(filename)}:{line} in {name})"
    return ""


def _is_ours(filename: str) -> bool:
    path = os.path.abspath(filename)
    return any(path.startswith(root + os.sep) for root in _library_roots())


def _library_roots() -> tuple[str, ...]:
    roots = [os.path.dirname(os.path.abspath(__file__))]
    try:
        import pyspark

        roots.append(os.path.dirname(os.path.abspath(pyspark.__file__)))
    except ImportError:
        pass
    return tuple(roots)


def _shown(filename: str) -> str:
    rel = os.path.relpath(os.path.abspath(filename))
    return filename if rel.startswith("..") else rel


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {first_line(str(exc))}" if str(exc) else type(exc).__name__



def _is_spark_user_error(exc: Exception) -> bool:
    try:
        return isinstance(exc, _user_errors())
    except ImportError:   # no pyspark here (a unit test, the coordinator): not a Spark error
        return False


def settings_of(instance) -> dict:
    """The settings :func:`shared_instance` configured ``instance`` with (an ArrowMapper
    hands them to Spark's Python workers, which make their own instance)."""
    return dict(getattr(instance, "_lmr_settings", {}))


def shared_instance(cls: type, settings: dict, ctx, role: str, set_up: bool = True):
    """The instance of ``cls`` for these ``settings`` (attributes the engine sets on it,
    from the manifest) and ``ctx.params``: made and configured on first use in this
    process, then reused; set up (``setup(ctx)``) the first time it is asked for with
    ``set_up``. ``role`` ("Mapper", "Reducer") names it in errors. ``set_up=False``: an
    instance whose ``setup`` runs elsewhere (an ArrowMapper's, in Spark's Python workers)
    or is not needed (a Reducer a map task only plans with)."""
    key = json.dumps([f"{cls.__module__}:{cls.__qualname__}", id(cls), settings, dict(ctx.params)],
                     sort_keys=True, default=str)
    with _guard:
        if key in _instances:
            _instances.move_to_end(key)
            instance, ready = _instances[key]
            if ready or not set_up:
                return instance
        lock = _locks.setdefault(key, threading.Lock())
    with lock:   # one setup per key, even when several tasks start at once
        with _guard:
            instance, ready = _instances.get(key, (None, False))
        if instance is not None and (ready or not set_up):
            return instance
        if instance is None:
            instance = cls()
            for name, value in settings.items():
                setattr(instance, name, value)
            instance._lmr_settings = dict(settings)
        if set_up:
            run_user(f"{role}.setup", instance.setup, ctx)
        with _guard:
            _instances[key] = (instance, set_up or ready)
            _instances.move_to_end(key)
            while len(_instances) > MAX_INSTANCES:
                gone, _ = _instances.popitem(last=False)
                _locks.pop(gone, None)
        return instance

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
import threading
from collections import OrderedDict

from .errors import EngineError, UserCodeError

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
    """``fn(*args)``, with an error from user code raised as a UserCodeError naming ``what``."""
    try:
        return fn(*args)
    except EngineError:
        raise  # already classified (e.g. a StorageError from engine storage inside user code)
    except NotImplementedError as exc:
        raise UserCodeError(f"{what} failed: {exc}") from exc
    except Exception as exc:
        if _is_spark_user_error(exc):
            raise UserCodeError(f"{what} failed: {exc}") from exc
        if type(exc).__module__.startswith(("py4j", "pyspark")):
            raise  # platform trouble (JVM, I/O): retryable
        raise UserCodeError(f"{what} raised {type(exc).__name__}: {exc}") from exc


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

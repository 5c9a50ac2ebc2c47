"""Worker processes that each run several tasks at once, on threads sharing one JVM.

A :class:`ProcessPoolExecutor` process runs one call at a time, so N concurrent tasks
need N processes and N JVMs: N cold starts, N JIT warm-ups, N x 0.6 GB. Here each
worker process serves ``slots`` calls at a time on threads, and Spark (``local[slots]``)
schedules their jobs on the same cores. A worker that dies fails every call it held
with :class:`BrokenProcessPool`, as the standard pool does.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from multiprocessing.connection import wait


def _serve(conn, slots: int, initializer, initargs, finalizer) -> None:
    """The worker's main loop: receive calls, run them on ``slots`` threads, send results;
    on shutdown, run ``finalizer``."""
    if initializer is not None:
        initializer(*initargs)
    send_lock = threading.Lock()

    def reply(call_id: int, future: Future) -> None:
        error = future.exception()
        with send_lock:
            conn.send((call_id, False, error) if error else (call_id, True, future.result()))

    with ThreadPoolExecutor(max_workers=slots, thread_name_prefix="lmr-task") as threads:
        while True:
            message = conn.recv()
            if message is None:
                break
            call_id, fn, args = message
            threads.submit(fn, *args).add_done_callback(lambda f, i=call_id: reply(i, f))
    if finalizer is not None:
        finalizer()
    conn.close()


class _Worker:
    def __init__(self, slots: int, initializer, initargs, finalizer):
        ctx = get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, slots, initializer, initargs, finalizer),
                                   daemon=True, name="lmr-worker")
        self.process.start()
        child.close()
        self.pending: dict[int, Future] = {}
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._collect, daemon=True, name="lmr-worker-reader")
        self.reader.start()

    def submit(self, call_id: int, fn, args) -> Future:
        future: Future = Future()
        with self.lock:
            self.pending[call_id] = future
            self.conn.send((call_id, fn, args))
        return future

    def _collect(self) -> None:
        while True:
            ready = wait([self.conn, self.process.sentinel])
            if self.conn in ready:
                try:
                    call_id, ok, value = self.conn.recv()
                except (EOFError, OSError):
                    break
                with self.lock:
                    future = self.pending.pop(call_id)
                future.set_result(value) if ok else future.set_exception(value)
            elif self.process.sentinel in ready:
                break
        with self.lock:   # the process is gone: whatever it held is lost
            lost, self.pending = list(self.pending.values()), {}
        for future in lost:
            future.set_exception(BrokenProcessPool(
                f"worker process {self.process.pid} died (exit code {self.process.exitcode})"))

    def stop(self, wait_for: bool) -> None:
        try:
            self.conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        if wait_for:
            self.process.join()
        elif self.process.is_alive():
            self.process.kill()
        self.reader.join(timeout=5)


class WorkerPool(Executor):
    """``workers`` processes x ``slots`` threads; a call goes to the least busy worker."""

    def __init__(self, workers: int, slots: int, initializer=None, initargs=(), finalizer=None):
        self.slots = workers * slots
        self._workers = [_Worker(slots, initializer, initargs, finalizer) for _ in range(workers)]
        self._ids = itertools.count()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        if kwargs:
            raise TypeError("WorkerPool.submit takes positional arguments only")
        worker = min(self._workers, key=lambda w: len(w.pending))
        return worker.submit(next(self._ids), fn, args)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        for worker in self._workers:
            worker.stop(wait)

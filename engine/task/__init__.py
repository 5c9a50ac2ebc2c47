"""Task execution: what a mapper or reducer Lambda does, and what a local worker does.

- ``entry``: the one entry both call, with the same small event;
- ``map`` and ``reduce``: the tasks themselves;
- ``attempt``: the attempt-and-commit protocol both follow;
- ``user``: the job's Mapper or Reducer as a task meets it;
- ``preview``: what ``lmr validate`` shows of column pruning.

Nothing here knows who called it: each function takes a resolved spec and its task, does
its work through :class:`engine.store.storage.Storage`, and returns a small JSON-able result.
"""

"""Every check a job gets before it writes anything, that needs no Spark: one list, run by
``lmr run``, ``lmr validate`` and the coordinator alike (a check one of them skipped would
be a hole, or a job that validates and is then refused).

What it cannot check without running the job: how the records parse, and what the user's
``map``/``reduce`` do with them (``lmr validate`` says so).
"""

from __future__ import annotations

from ..errors import EngineError, PlanError, Problem
from ..store.publish import refuse_unsafe_destination
from ..store.storage import Storage
from .layout import JobLayout
from .partitions import check_settings
from .planning import Plan, plan_job
from .spec import JobSpec

# What preflight checks, in the words `lmr validate` prints.
CHECKED = ("the manifest's fields and classes", "every input (listed, sized, inside the allowed locations, "
           "under its format's limits, planned into tasks)", "the destination (no files lmr did not publish)",
           "the reducer settings")
NOT_CHECKED = "records parsing and your map/reduce code (they need Spark: lmr run)"


def preflight(spec: JobSpec, storage: Storage, source: str) -> Plan:
    """The job's plan, after every check: its inputs planned, its destination safe to
    publish to, its settings usable. Raises PlanError naming ``source`` (the manifest)."""
    try:
        plan = plan_job(spec, storage)
    except PlanError as exc:   # name the manifest the inputs came from, not just the job
        raise PlanError(source, exc.problems) from None
    # Before anything is read from the work dir or written: a destination someone has
    # written into (even since an earlier run of this job) is named now.
    refuse_unsafe_destination(storage, spec.output.path, JobLayout(spec.work_dir, spec.job_id), source)
    try:
        check_settings(spec)
    except EngineError as exc:
        raise PlanError(source, [Problem("reducers", str(exc))]) from None
    return plan

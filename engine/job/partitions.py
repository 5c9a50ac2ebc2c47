"""More than one reducer (``"reducers": R`` or ``"auto"``): the rules both runners follow.

Map tasks write B hash buckets (``pmod(hash(partition_by), B)``, Spark's own Murmur3, so
every task agrees): B = R, or :data:`AUTO_BUCKETS` with ``"auto"``, where R is chosen
after the map phase from the committed intermediate bytes (one reducer per
:data:`REDUCER_BUDGET_BYTES`, at most B). Reduce task p reads the buckets b with
``b % R == p`` from every committed map task, and commits its own output under
``reduce/<round>/<p>/`` (first committer wins). Once all R committed, the destination is
published once, from their files.

A *round* names what a reduce task's output depends on: the committed map tasks (their
parts), R and B. A resumed run whose map commits are unchanged keeps the round, so only
the reduce tasks that had not committed run again; new map commits make a new round, and
every reduce task runs again. Importable without pyspark.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from ..env import env_number
from ..errors import PartitionError
from ..store.publish import check_destination, publish
from ..store.storage import Storage
from ..store.uris import basename, join
from .commits import committed_results, create_marker, in_parallel, part_uris, read_slot, reduce_failures
from .fingerprints import digest
from .layout import REDUCE_TASK, JobLayout, bucket_of, partition_of
from .planning import MapTask
from .results import SUCCEEDED, MapResult, ReduceResult
from .spec import AUTO, JobSpec
from .status import may_reduce, too_few_succeeded

AUTO_BUCKETS = 64                        # buckets map tasks write with "reducers": "auto"
REDUCER_BUDGET_BYTES = 1 << 30           # "auto": intermediate bytes per reduce task
BUDGET_ENV = "LMR_REDUCER_BUDGET_MB"     # overrides it (tests, tuning)


def partitioned(spec: JobSpec) -> bool:
    """Whether the job reduces in R > 1 tasks (or lets the engine choose R)."""
    return spec.reducers != 1


def bucket_count(spec: JobSpec) -> int:
    """How many hash buckets a map task writes: 1 (no buckets), R, or AUTO_BUCKETS."""
    if not partitioned(spec):
        return 1
    return AUTO_BUCKETS if spec.reducers == AUTO else int(spec.reducers)


def check_settings(spec: JobSpec) -> None:
    """Before a job writes anything: the environment it will plan its reduce with is
    usable (an EngineError naming the variable otherwise)."""
    if spec.reducers == AUTO:
        reducer_budget()


def reducer_budget() -> int:
    return int(env_number(BUDGET_ENV, REDUCER_BUDGET_BYTES / 2**20) * 2**20)


def reducer_count(spec: JobSpec, intermediate_bytes: int) -> int:
    """R: the manifest's, or (``"auto"``) one per budget of intermediate bytes, 1..B."""
    if spec.reducers != AUTO:
        return int(spec.reducers)
    return max(1, min(AUTO_BUCKETS, math.ceil(intermediate_bytes / reducer_budget())))


def round_id(results: dict[str, MapResult], partitions: int, buckets: int) -> str:
    """What a round's reduce tasks read: each committed task's parts (or cache pointer), R, B."""
    body = sorted((r.task_id, r.source_job, r.source_task, r.parts) for r in results.values())
    return digest(json.dumps([body, partitions, buckets]))


@dataclass(frozen=True)
class ReducePlan:
    """The reduce phase of a run: its round, R, and the reduce tasks that have not
    committed; or why it does not run (``skipped``)."""

    round: str = ""
    partitions: int = 0
    pending: list[int] = field(default_factory=list)
    skipped: str = ""

    def to_event(self) -> dict:
        """What the state machine passes on: the reduce Map state's items are ``pending``."""
        return {"round": self.round, "partitions": self.partitions, "items": self.pending,
                "skipped": self.skipped}


def reduce_gate(spec: JobSpec, tasks: list[MapTask], storage: Storage) -> tuple[dict[str, MapResult], str]:
    """What every reduce (the one reducer, or R reduce tasks) checks before any work: a
    destination holding someone else's files is refused, untouched (DestinationError);
    then (the committed map tasks, why the reduce is skipped: "" when it runs). A
    REDUCER_ONLY job has no map tasks: it reads its inputs."""
    check_destination(storage, spec.output.path, JobLayout(spec.work_dir, spec.job_id))
    if not spec.uses_mapper:
        return {}, ""
    results = committed_results(spec, tasks, storage)
    if not may_reduce(len(tasks), len(results), spec.min_success_ratio):
        return results, too_few_succeeded(len(results), len(tasks), spec.min_success_ratio)
    return results, ""


def plan_reduce(spec: JobSpec, tasks: list[MapTask], storage: Storage) -> ReducePlan:
    """Before the reduce tasks: refuse a destination holding someone's files, apply
    ``min_success_ratio`` to the map tasks, choose R, find the uncommitted reduce tasks."""
    results, skipped = reduce_gate(spec, tasks, storage)
    if skipped:
        return ReducePlan(skipped=skipped)
    this_round, partitions = current_round(spec, results)
    done = _committed_ids(spec, this_round, storage)
    return ReducePlan(this_round, partitions, [p for p in range(partitions) if p not in done])


def current_round(spec: JobSpec, results: dict[str, MapResult]) -> tuple[str, int]:
    """(round, R) that the job's committed map tasks make now."""
    partitions = reducer_count(spec, sum(r.bytes_out for r in results.values()))
    return round_id(results, partitions, bucket_count(spec)), partitions


def partition_inputs(spec: JobSpec, results: dict[str, MapResult], partition: int, partitions: int) -> list[str]:
    """The parts reduce task ``partition`` of R reads: buckets b with b % R == partition."""
    out = []
    for result in results.values():
        for uri in part_uris(spec, result):
            bucket = bucket_of(uri)
            if bucket is None:
                raise PartitionError(f"map task {result.task_id} wrote unbucketed parts; "
                                   "its job cannot have more than one reducer")
            if bucket % partitions == partition:
                out.append(uri)
    return out


def commit_partition(spec: JobSpec, round_: str, result: ReduceResult, storage: Storage) -> None:
    """Create reduce task ``result.partition``'s marker (CommitConflict if another attempt did)."""
    create_marker(JobLayout(spec.work_dir, spec.job_id).reduce_slot(round_, result.partition), result.to_dict(),
                  storage)


def _committed_ids(spec: JobSpec, round_: str, storage: Storage) -> list[int]:
    """The reduce tasks of a round that have committed: one LIST, no marker read."""
    base = JobLayout(spec.work_dir, spec.job_id).reduce_round(round_)
    return sorted({int(f.uri[len(base):].split("/", 1)[0]) for f in storage.list(base)
                   if f.uri.endswith("/_COMMITTED")})


def committed_partition(spec: JobSpec, round_: str, partition: int, storage: Storage) -> ReduceResult | None:
    """What reduce task ``partition`` committed in a round, or None: its marker alone."""
    body = read_slot(JobLayout(spec.work_dir, spec.job_id).reduce_slot(round_, partition), storage)
    return None if body is None else ReduceResult.from_dict(body)


def committed_partitions(spec: JobSpec, round_: str, storage: Storage) -> dict[int, ReduceResult]:
    """partition -> committed result in a round: one LIST, then the markers in parallel."""
    found = _committed_ids(spec, round_, storage)
    return dict(zip(found, in_parallel(lambda p: committed_partition(spec, round_, p, storage), found)))


def current_partitions(spec: JobSpec, tasks: list[MapTask], storage: Storage,
                       results: dict[str, MapResult] | None = None) -> list[ReduceResult]:
    """The reduce tasks committed in the round the job's map commits make now (for the status)."""
    if not partitioned(spec):
        return []
    results = committed_results(spec, tasks, storage) if results is None else results
    found = committed_partitions(spec, current_round(spec, results)[0], storage)
    return [found[p] for p in sorted(found)]


def publish_partitions(spec: JobSpec, tasks: list[MapTask], storage: Storage) -> ReduceResult:
    """Publish the destination from the R committed reduce tasks' files: one ``_SUCCESS``
    listing every file, with the single reducer's atomic rules (engine/store/publish.py)."""
    plan = plan_reduce(spec, tasks, storage)
    if plan.skipped:
        return ReduceResult.skipped(spec.output.path, plan.skipped)
    if plan.pending:
        raise PartitionError(f"reduce task(s) {', '.join(map(str, plan.pending))} of {plan.partitions} "
                           "have not committed; nothing published")
    layout = JobLayout(spec.work_dir, spec.job_id)
    done = committed_partitions(spec, plan.round, storage)
    parts = [done[p] for p in range(plan.partitions)]
    pairs = [(join(layout.reduce_dir(plan.round, r.partition), f), f"r{r.partition:05d}-{basename(f)}")
             for r in parts for f in r.files]
    rows = sum(r.rows_out for r in parts)
    files = publish(storage, pairs, spec.output.path,
                    {"job_id": spec.job_id, "rows": rows, "reducers": plan.partitions}, layout)
    start = min(r.started_at for r in parts)
    end = max(r.started_at + r.duration_ms / 1000 for r in parts)
    counters: dict[str, int] = {}
    for r in parts:
        for k, v in r.counters.items():
            counters[k] = counters.get(k, 0) + v
    return ReduceResult(status=SUCCEEDED, rows_in=sum(r.rows_in for r in parts), rows_out=rows,
                        rejected=sum(r.rejected for r in parts), bytes_out=sum(r.bytes_out for r in parts),
                        duration_ms=int((end - start) * 1000), cold_start=any(r.cold_start for r in parts),
                        started_at=start, output=spec.output.path, files=files, counters=counters,
                        partition=None)




def partition_failure(spec: JobSpec, storage: Storage) -> str | None:
    """Why a reduce task failed, as its last attempt recorded it (the state machine only
    sees that the reduce Map state failed), or None."""
    for name, record in reduce_failures(spec, storage):
        if name != REDUCE_TASK:
            return (f"reduce task {partition_of(name)} failed: "
                    f"{record.get('errorType')}: {record.get('errorMessage')}")
    return None

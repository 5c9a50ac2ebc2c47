"""The one place that knows where a job's files live: :class:`JobLayout`. Every path is
built with :func:`engine.store.uris.join`, never with f-strings elsewhere; ``root`` is a
local folder or an S3 URI. :func:`listing` names each path with what it holds (the docs'
layout listing is generated from it, docs/gen.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..store.uris import join

COMMITTED = "_COMMITTED"
# Where the state machine's Distributed Maps write their results (infra/statemachine.asl.json).
MAP_RUNS = "_map-runs"
# The deployed stack's coordinator is notified of every *.json uploaded under this prefix.
MANIFESTS_PREFIX = "manifests"
# In the stack's bucket, jobs read only under inputs/ and write only under outputs/.
DATA_PREFIXES = ("inputs", "outputs")


_BUCKET_PART = re.compile(r"bucket-(\d{5})-\d{5}")
# A job's one reducer is the task "reduce"; with R > 1 reducers, reduce task p is "reduce-<p>".
REDUCE_TASK = "reduce"


def reduce_task_id(partition: int | None = None) -> str:
    """The id of the job's reducer (``partition`` None) or of reduce task ``partition``."""
    return REDUCE_TASK if partition is None else f"{REDUCE_TASK}-{partition}"


def partition_of(task_id: str) -> int | None:
    """The partition of reduce task ``reduce-<p>`` (R > 1), or None for any other task."""
    number = task_id[len(REDUCE_TASK) + 1:] if task_id.startswith(f"{REDUCE_TASK}-") else ""
    return int(number) if number.isdigit() else None


def is_reduce_task(task_id: str) -> bool:
    return task_id == REDUCE_TASK or partition_of(task_id) is not None


# The column map tasks partition their output by (R > 1 reducers): Spark writes each hash
# bucket to a folder ``<column>=<b>/``, whose files become ``bucket-<b>-<i>`` parts.
BUCKET_COLUMN = "_lmr_bucket"


def part_name(index: int, ext: str, bucket: int | None = None) -> str:
    """A map task's part file: ``part-<i><ext>``, or with R > 1 ``bucket-<b>-<i><ext>``
    (the i-th file of hash bucket b)."""
    return f"part-{index:05d}{ext}" if bucket is None else f"bucket-{bucket:05d}-{index:05d}{ext}"


def bucket_of(part: str) -> int | None:
    """The hash bucket a part holds (see :func:`part_name`), or None for an unbucketed part."""
    found = _BUCKET_PART.search(part.rsplit("/", 1)[-1])
    return int(found[1]) if found else None


def jobs_folder(root: str) -> str:
    """The folder of every job's folder in a work dir (``<root>/jobs/``)."""
    return join(root, "jobs", "")


def manifest_upload(bucket_root: str, name: str) -> str:
    return join(bucket_root, MANIFESTS_PREFIX, f"{name}.json")


def data_locations(bucket_root: str) -> tuple[str, ...]:
    """The folders a deployed stack lets manifests name (its LMR_ALLOWED_LOCATIONS)."""
    return tuple(join(bucket_root, prefix, "") for prefix in DATA_PREFIXES)


@dataclass(frozen=True)
class Slot:
    """Where one task commits, map or reduce (engine/task/attempt.py): each attempt writes
    its files under ``folder/<attempt>/``; ``marker`` is created once, by the first attempt
    to commit; ``failure`` records the task's failed attempts; nothing outside ``owner``
    (the job's folder) is ever deleted."""

    task_id: str
    folder: str
    marker: str
    failure: str
    owner: str

    def attempt_dir(self, attempt: str) -> str:
        """One attempt's files: its own folder, so that it never writes over another's."""
        return join(self.folder, attempt, "")


@dataclass(frozen=True)
class JobLayout:
    root: str
    job_id: str

    @property
    def job_dir(self) -> str:
        """The job's folder, with a trailing '/': as a prefix it never matches a sibling
        job whose id starts the same (``jobs/a-1/`` is not ``jobs/a-1-x/``)."""
        return join(jobs_folder(self.root), self.job_id, "")

    @property
    def job_json(self) -> str:
        return join(self.job_dir, "job.json")

    @property
    def tasks_json(self) -> str:
        return join(self.job_dir, "tasks.json")

    @property
    def status_json(self) -> str:
        return join(self.job_dir, "status.json")

    def run_tasks(self, run: int) -> str:
        """The map tasks one run of the job has to run: those not committed when it began."""
        return join(self.job_dir, "runs", str(run), "tasks.json")

    def cache_entry(self, key: str) -> str:
        """The work dir's cache entry for a map task's key (engine/job/cache.py)."""
        return join(self.root, "jobs", "_cache", f"{key}.json")

    def intermediate(self, task_id: str) -> str:
        return join(self.job_dir, "intermediate", task_id)

    def map_slot(self, task_id: str, identity: str) -> Slot:
        """Map task ``task_id``'s commit for what it read (``MapTask.identity``)."""
        return Slot(task_id, join(self.intermediate(task_id), ""), self.committed_marker(task_id, identity),
                    self.failure(task_id), self.job_dir)

    def reduce_slot(self, round_id: str, partition: int) -> Slot:
        """Reduce task ``partition``'s commit in one reduce round (R > 1)."""
        task_id, folder = reduce_task_id(partition), self.reduce_dir(round_id, partition)
        return Slot(task_id, folder, join(folder, COMMITTED), self.failure(task_id), self.job_dir)

    def part(self, task_id: str, name: str) -> str:
        """A part a commit marker lists (``<attempt>/<file>``, relative to the task folder)."""
        return join(self.intermediate(task_id), name)

    @property
    def publish_records(self) -> str:
        """Where each publish attempt records what it is about to write into the
        destination (S3): the job as the owner engine/store/publish.py takes."""
        return join(self.job_dir, "publish", "")

    @property
    def summaries(self) -> str:
        """The folder of committed tasks' summaries (one LIST reads a thousand)."""
        return join(self.job_dir, "done", "")

    def committed_marker(self, task_id: str, identity: str) -> str:
        """The task's commit for what it read (``MapTask.identity``): a re-planned task
        reading other inputs has another marker, so it never takes this one's parts."""
        return join(self.intermediate(task_id), f"{COMMITTED}.{identity}")

    def reduce_dir(self, round_id: str, partition: int) -> str:
        """Reduce task ``partition``'s folder in one reduce round (R > 1)."""
        return join(self.job_dir, "reduce", round_id, f"{partition:05d}", "")

    def reduce_round(self, round_id: str) -> str:
        return join(self.job_dir, "reduce", round_id, "")

    def task_log(self, task_id: str) -> str:
        return join(self.job_dir, "logs", f"{task_id}.log")

    @property
    def report_html(self) -> str:
        return join(self.job_dir, "report.html")

    def errors(self, task_id: str) -> str:
        return join(self.job_dir, "errors", f"{task_id}.jsonl")

    @property
    def failures(self) -> str:
        return join(self.job_dir, "failures", "")

    def failure(self, task_id: str) -> str:
        return join(self.failures, f"{task_id}.json")


def listing(root: str = "<root>", job_id: str = "<job_id>") -> list[tuple[str, str]]:
    """(path, what it holds) for every file and folder of a job, built by :class:`JobLayout`
    itself, with placeholders in angle brackets."""
    layout = JobLayout(root, job_id)
    return [
        (layout.job_json, "the resolved spec"),
        (layout.tasks_json, "the plan: one item per map task"),
        (layout.run_tasks("<n>"), "the map tasks run <n> has to run (AWS reads it)"),
        (layout.map_slot("<task_id>", "<identity>").attempt_dir("<attempt>"), "one attempt's Parquet parts"),
        (layout.committed_marker("<task_id>", "<identity>"),
         "created once, conditionally: the task's result and the winner's parts (or a pointer to another "
         "job's: CACHED), for what it read"),
        (layout.summaries + "<task_id>.<summary>", "empty: a committed task's result in its name, so one LIST "
                                                   "reads a thousand (engine/job/commits.py)"),
        (join(layout.reduce_round("<round>"), "<p>", "<attempt>", ""),
         "R > 1: reduce task <p>'s output files; <round> names the map commits and R it reduced"),
        (join(layout.reduce_round("<round>"), "<p>", COMMITTED), "reduce task <p>'s commit (created once)"),
        (layout.errors("<task_id>"), "rejected records, with file, line and reason"),
        (layout.failure("<task_id>"), "the last error of a task that has not committed"),
        (layout.publish_records + "<attempt>.json", "the files a publish attempt writes into the output"),
        (layout.status_json, "job state, counts, timings, failed inputs, runs"),
        (layout.task_log("<task_id>"), "a task's output, every attempt (local runs)"),
        (layout.report_html, "timeline, slowest tasks, failures, cost"),
        (layout.cache_entry("<key>"), '"cache": the job and task that committed a key'),
        (join(jobs_folder(root), MAP_RUNS, "<map run id>", ""), "Step Functions' ResultWriter output (AWS)"),
        (manifest_upload(root, "<name>"), "AWS: an upload here starts a job"),
    ]

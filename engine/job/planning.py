"""Planning: turn a job spec's inputs into map tasks.

Each input's size (and ETag on S3) is captured at planning time, so a task knows what
it was planned against. A task holds a *list* of inputs: small files are packed together
(in manifest order) until a task holds ``task_bytes`` or ``task_max_files``; a file at
least that large is a task of its own. Importable without pyspark (the coordinator plans
jobs).
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..errors import PlanError, Problem
from ..store.locations import (allowed_locations, destination_conflict, outside, resolve_local, segments,
                               uri_problem)
from ..store.splits import split_file, splittable
from ..store.storage import Storage
from ..store.uris import FileInfo, is_s3, join
from .layout import JobLayout
from .manifest import read_job_json
from .spec import DEFAULT_TASK_BYTES, MAX_TASK_BYTES, InputSpec, JobSpec

# The mapper function's /tmp in MB (set on the coordinator by template.yaml); a task stages
# at most STAGE_SHARE of it.
EPHEMERAL_ENV = "LMR_MAPPER_EPHEMERAL_MB"
STAGE_SHARE = 0.4
# Below this many explicit S3 files in one folder, HEAD each; above it, one LIST is cheaper.
_LIST_THRESHOLD = 8


@dataclass(frozen=True)
class InputFile:
    uri: str
    size: int
    etag: str | None = None
    mtime_ns: int | None = None   # local files (S3 has the ETag)
    # A split of a large file (engine/store/splits.py): bytes [start, end) of a file of
    # file_size bytes; ``size`` is then the range's length.
    start: int | None = None
    end: int | None = None
    file_size: int | None = None

    @property
    def is_split(self) -> bool:
        return self.start is not None

    def to_dict(self) -> dict[str, Any]:
        out = {"uri": self.uri, "size": self.size, "etag": self.etag}
        if self.mtime_ns is not None:
            out["mtime_ns"] = self.mtime_ns
        if self.is_split:
            out.update(range=[self.start, self.end], file_size=self.file_size)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "InputFile":
        start, end = data.get("range") or (None, None)
        return cls(data["uri"], int(data["size"]), data.get("etag"), data.get("mtime_ns"), start, end,
                   data.get("file_size"))


@dataclass(frozen=True)
class MapTask:
    task_id: str
    inputs: tuple[InputFile, ...]

    @property
    def input_uris(self) -> list[str]:
        return [f.uri for f in self.inputs]

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.inputs)

    @cached_property   # read for every task by each bookkeeping pass: hashed once
    def identity(self) -> str:
        """What the task reads, as a short hash: each input's URI, byte range, size and
        version (ETag, or mtime for a local file). A task's commit is its marker for this
        identity: a task planned over other inputs (a file added before it shifted the
        packing, a file rewritten) never reuses it."""
        raw = json.dumps([f.to_dict() for f in self.inputs], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "inputs": [f.to_dict() for f in self.inputs]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MapTask":
        return cls(data["task_id"], tuple(InputFile.from_dict(f) for f in data["inputs"]))


@dataclass(frozen=True)
class Plan:
    spec: JobSpec
    tasks: tuple[MapTask, ...]

    @property
    def job_id(self) -> str:
        return self.spec.job_id

    @property
    def inputs(self) -> list[InputFile]:
        return [f for t in self.tasks for f in t.inputs]


def plan_job(spec: JobSpec, storage: Storage | None = None) -> Plan:
    """List the inputs and cut them into tasks: large line-delimited files into byte
    ranges, small files packed together, no task staging more than the budget. Raises
    PlanError naming every bad input."""
    budget = stage_budget()
    files = list_inputs(spec, storage or Storage())
    split_bytes = min(spec.split_bytes or max(spec.task_bytes, DEFAULT_TASK_BYTES), budget or MAX_TASK_BYTES)
    if spec.uses_mapper:   # a REDUCER_ONLY job's one reducer reads whole files
        files = [part for f in files
                 for part in (split_file(f, split_bytes) if splittable(f.uri, spec.input.format, spec.input.options)
                              else [f])]
    too_big = [f for f in files if budget and f.size > budget]
    if too_big:
        raise PlanError(spec.name, [Problem("input", (
            f"{f.uri} is {f.size / 2**20:,.0f} MiB and cannot be split (compressed, or not a jsonl, csv, "
            f"text or parquet file); a map task may stage at most {budget / 2**20:,.0f} MiB "
            f"({STAGE_SHARE:.0%} of the mapper's {_ephemeral_mb():,} MB of /tmp, {EPHEMERAL_ENV})"))
            for f in too_big[:20]])
    groups = pack(files, min(spec.task_bytes, budget or spec.task_bytes), spec.task_max_files)
    width = max(5, len(str(len(groups))))
    tasks = tuple(MapTask(f"t{i:0{width}d}", tuple(g)) for i, g in enumerate(groups))
    return Plan(spec, tasks)


def stage_budget() -> int | None:
    """The most bytes a map task may stage: a share of the mapper function's /tmp (the
    rest is Spark's scratch and the task's output), or None where no limit is set (a
    laptop's disk)."""
    mb = _ephemeral_mb()
    return int(mb * 2**20 * STAGE_SHARE) if mb else None


def _ephemeral_mb() -> int:
    raw = os.environ.get(EPHEMERAL_ENV, "")
    return int(raw) if raw.isdigit() else 0


def pack(files: list[InputFile], target_bytes: int, max_files: int) -> list[list[InputFile]]:
    """Consecutive files grouped until a group would pass ``target_bytes`` or holds
    ``max_files``. Deterministic: the same inputs give the same tasks (resume relies on it)."""
    groups: list[list[InputFile]] = []
    current: list[InputFile] = []
    size = 0
    for f in files:
        if current and (size + f.size > target_bytes or len(current) >= max_files):
            groups.append(current)
            current, size = [], 0
        current.append(f)
        size += f.size
    if current:
        groups.append(current)
    return groups


def list_inputs(spec: JobSpec, storage: Storage) -> list[InputFile]:
    return list_input_files(spec.input, storage, spec.name, output=spec.output.path)


def list_input_files(inp: InputSpec, storage: Storage, source: str,
                     output: str | None = None) -> list[InputFile]:
    """Every input file with its size (and ETag). Raises PlanError naming each bad one,
    and each file over its format's hard limit."""
    files = _list_input_files(inp, storage, source, output)
    limit = FORMAT_MAX_BYTES.get(inp.format or "")
    too_big = [f for f in files if limit and f.size > limit]
    if too_big:
        raise PlanError(source, [Problem("input", f"{f.uri} is {f.size:,} bytes; Spark reads a {inp.format} "
                                                  f"file as one value of at most {limit:,} bytes") for f in too_big[:20]])
    return files


# Hard limits of a format: Spark's binaryFile reads a file into one byte array (2 GiB - 1).
FORMAT_MAX_BYTES = {"binary": 2**31 - 1}


def _list_input_files(inp: InputSpec, storage: Storage, source: str,
                      output: str | None = None) -> list[InputFile]:
    """Every input file with its size (and ETag). Raises PlanError naming each bad one.

    A prefix is a folder: ``inputs`` lists ``inputs/...``, never ``inputs-private/``.
    Local files found under it are checked against the allowed locations after their
    symlinks are resolved."""
    if inp.prefix:
        allowed = allowed_locations()
        found, problems = [], []
        for f in storage.list(join(inp.prefix, ""), inp.glob):
            if _hidden(f.uri):
                continue
            reason = None if is_s3(f.uri) else outside(f.uri, allowed)   # symlinks resolved
            if reason:
                problems.append(Problem("input.prefix", reason))
            found.append(f)
        if problems:
            raise PlanError(source, problems[:20])
        if not found:
            what = f"{inp.prefix} (glob {inp.glob!r})" if inp.glob else inp.prefix
            raise PlanError(source, [Problem("input.prefix", f"no input files under {what}")])
        return [InputFile(f.uri, f.size, f.etag, f.mtime_ns) for f in found]
    if inp.list:
        uris = _read_list(inp.list, storage, output)
        field = "input.list"
    else:
        uris, field = list(inp.files), "input.files"
    return _stat_all(uris, field, storage, source)


def _hidden(uri: str) -> bool:
    """Spark/Hadoop conventions: _SUCCESS, .crc and other dot/underscore files are not data."""
    name = posixpath.basename(uri)
    return name.startswith(("_", "."))


def _read_list(uri: str, storage: Storage, output: str | None) -> list[str]:
    """The files a list names, each checked as a manifest's own input would be."""
    try:
        text = storage.read_text(uri)
    except Exception as exc:
        raise PlanError(uri, [Problem("input.list", f"cannot read {uri}: {exc}")]) from None
    base = uri.rsplit("/", 1)[0] if is_s3(uri) else os.path.dirname(uri)
    allowed, out, problems = allowed_locations(), [], []
    # A list may name a million files: the fixed places are resolved once, each folder
    # once, and a file's own place is checked on its resolved segments; the messages are
    # built (the slow way) only for a line that has a problem.
    allowed_segments = [segments(a) for a in allowed] if allowed else None
    output_segments = segments(output) if output else None
    folders: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            listed = None if uri_problem(line) else line if is_s3(line) else _under(base, line, folders)
            reason = uri_problem(listed or line, needs_key=True)
            if not reason and not _clear(segments(listed, resolved=True), allowed_segments, output_segments):
                reason = outside(listed, allowed) or (output and destination_conflict(output, listed,
                                                                                      "an input it lists"))
            if reason:
                problems.append(Problem(f"input.list line {lineno}", reason))
            out.append(listed)
    if problems:
        raise PlanError(uri, problems[:20])
    if not out:
        raise PlanError(uri, [Problem("input.list", f"{uri} lists no files")])
    return out


def _under(base: str, rel: str, folders: dict[str, str]) -> str:
    """``rel`` below ``base``, resolved as :func:`resolve_local` resolves it; each folder's
    real path is looked up once (``folders``), then only the file itself is checked for
    being a link."""
    if is_s3(base):
        return join(base, rel)
    path = os.path.abspath(os.path.expanduser(os.path.join(base, rel)))
    head, tail = os.path.split(path)
    if head not in folders:
        folders[head] = resolve_local(head)
    candidate = os.path.join(folders[head], tail)
    return resolve_local(candidate) if os.path.islink(candidate) else candidate


def _clear(place: tuple, allowed: list[tuple] | None, output: tuple | None) -> bool:
    """Whether a place (its segments) lies in an allowed location and neither holds nor
    lies in the output: the checks :func:`outside` and ``destination_conflict`` make."""
    if allowed is not None and not any(place[:len(a)] == a for a in allowed):
        return False
    return output is None or (place[:len(output)] != output and output[:len(place)] != place)


def _stat_all(uris: list[str], field: str, storage: Storage, source: str) -> list[InputFile]:
    infos = _stat_many(uris, storage)
    problems, out = [], []
    for i, uri in enumerate(uris):
        info = infos.get(uri)
        where = f"{field}[{i}]"
        if info is None:
            problems.append(Problem(where, f"{uri} does not exist"))
        elif info.is_dir:
            problems.append(Problem(where, f"{uri} is a directory; use input.prefix for folders"))
        else:   # an empty file is an input with no records, as Spark reads it
            out.append(InputFile(uri, info.size, info.etag, info.mtime_ns))
    if problems:
        raise PlanError(source, problems)
    return out


def _stat_many(uris: list[str], storage: Storage) -> dict[str, FileInfo | None]:
    """Stat every URI; on S3, folders with many explicit files are LISTed once instead."""
    out: dict[str, FileInfo | None] = {}
    by_folder: dict[str, list[str]] = defaultdict(list)
    for uri in uris:
        if is_s3(uri):
            by_folder[uri.rsplit("/", 1)[0]].append(uri)
        else:
            out[uri] = storage.stat(uri)
    for folder, members in by_folder.items():
        if len(members) < _LIST_THRESHOLD:
            out.update((u, storage.stat(u)) for u in members)
            continue
        listed = {f.uri: f for f in storage.list(folder + "/")}
        for u in members:
            out[u] = listed.get(u) or storage.stat(u)  # stat tells "missing" from "a folder"
    return out


def save_plan(plan: Plan, storage: Storage) -> None:
    """Write job.json (the resolved spec) and tasks.json (one item per map task).

    tasks.json is what the state machine's Distributed Map reads with its ItemReader.
    """
    layout = JobLayout(plan.spec.work_dir, plan.job_id)
    storage.write_text(layout.job_json, json.dumps(plan.spec.to_dict(), indent=2))
    storage.write_text(layout.tasks_json, json.dumps([t.to_dict() for t in plan.tasks]))


def load_tasks(spec: JobSpec, storage: Storage) -> list[MapTask]:
    """The tasks :func:`save_plan` wrote for this job."""
    data = json.loads(storage.read_text(JobLayout(spec.work_dir, spec.job_id).tasks_json))
    return [MapTask.from_dict(t) for t in data]


def load_plan(work_dir: str, job_id: str, storage: Storage) -> Plan:
    """A saved job, as it was planned (``lmr resume``): job.json and tasks.json."""
    layout = JobLayout(work_dir, job_id)
    if not storage.exists(layout.job_json):
        raise PlanError(job_id, [Problem("job", f"no job {job_id} under {work_dir} ({layout.job_json} "
                                                "does not exist)")])
    spec = read_job_json(layout.job_json, storage)
    return Plan(spec, tuple(load_tasks(spec, storage)))


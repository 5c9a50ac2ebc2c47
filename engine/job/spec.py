"""The job spec: parse and validate a manifest, once, at the boundary.

A manifest is JSON, or a newline-separated text list of input URIs (LetsData's
format) with everything else given as overrides (CLI flags). Every field is checked
and *every* problem is reported at once, each with its field path. Relative local
paths resolve against the manifest's folder. Importable without pyspark.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import ManifestError, Problem
from . import spark_conf as conf_rules
from .formats import ENGINE_READER_OPTIONS, INPUT_FORMATS, OUTPUT_FORMATS, READER_OPTIONS
from ..store.locations import (
    allowed_locations,
    destination_conflict,
    is_root,
    outside,
    quote,
    resolve_local,
    shorten,
    uri_problem,
)
from ..store.storage import Storage
from ..store.uris import glob_problem, is_s3, join, s3_root
from .fingerprints import code_fingerprints
from .layout import MANIFESTS_PREFIX, engine_area
from .loading import check_statically, resolve_role_class
from .manifest_file import kind_of, manifest_dir, read_manifest
from .params import params_problem

WORK_DIR_ENV = "LMR_WORK_DIR"
DEFAULT_LOCAL_WORK_DIR = ".lmr"

MAPPER_AND_REDUCER, MAPPER_ONLY, REDUCER_ONLY = "MAPPER_AND_REDUCER", "MAPPER_ONLY", "REDUCER_ONLY"
MODES = (MAPPER_AND_REDUCER, MAPPER_ONLY, REDUCER_ONLY)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}\Z")  # fits a Step Functions execution name
TOP_FIELDS = {"name", "mode", "mapper", "reducer", "input", "output", "max_concurrency",
              "retries", "min_success_ratio", "max_rejected_ratio", "spark_conf", "work_dir",
              "task_bytes", "task_max_files", "split_bytes", "cache", "cache_version", "params",
              "reducers"}
_CACHE_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
# Packing: small files share a map task until it holds this many bytes (or files). A map
# task has a fixed cost (0.4 s warm, seconds cold), so one per 20 KB file would dominate.
AUTO = "auto"            # "reducers": "auto": R chosen from the intermediate bytes
MAX_REDUCERS = 1000
DEFAULT_TASK_BYTES = 64 * 2**20
DEFAULT_TASK_MAX_FILES = 1000
# A task's input is staged on the function's /tmp (10 GiB at most on Lambda).
MAX_TASK_BYTES = 10 * 2**30
INPUT_FIELDS = {"files", "prefix", "glob", "list", "format", "schema", "options"}
OUTPUT_FIELDS = {"path", "format"}
MAX_SCHEMA_CHARS = 64 * 1024
MAX_VALUE_CHARS = 4096


@dataclass(frozen=True)
class InputSpec:
    files: tuple[str, ...] = ()
    prefix: str | None = None
    glob: str | None = None
    list: str | None = None
    format: str | None = None
    schema: str | None = None
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OutputSpec:
    path: str
    format: str | None = None


@dataclass(frozen=True)
class JobSpec:
    name: str
    mode: str
    mapper: str | None
    reducer: str | None
    input: InputSpec
    output: OutputSpec
    work_dir: str
    max_concurrency: int = 100
    retries: int = 2
    min_success_ratio: float = 1.0
    max_rejected_ratio: float = 0.1
    spark_conf: dict[str, str] = field(default_factory=dict)
    task_bytes: int = DEFAULT_TASK_BYTES
    task_max_files: int = DEFAULT_TASK_MAX_FILES
    split_bytes: int | None = None   # a splittable file larger than this is cut (None: task_bytes, >= 64 MiB)
    cache: bool = False          # reuse matching map tasks of earlier jobs (engine/job/cache.py)
    cache_version: str = ""      # part of the cache key: bump it when code the hashes miss changed
    code: dict[str, str] = field(default_factory=dict)   # source hashes (engine/job/fingerprints.py)
    params: dict[str, Any] = field(default_factory=dict)  # ctx.params (engine/job/params.py)
    reducers: int | str = 1      # R reduce tasks, or "auto" (engine/job/partitions.py)

    @property
    def uses_mapper(self) -> bool:
        return self.mode != REDUCER_ONLY

    @property
    def job_id(self) -> str:
        """Name + a short hash of what the job computes: the same manifest and the same
        code (``code``, its source hashes) are one job; changed code is a new job.

        The work folder is left out: it says where the job runs, not what it computes.
        """
        body = self.to_dict()
        body.pop("work_dir")
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        return f"{self.name}-{digest[:10]}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["input"]["files"] = list(self.input.files)
        out["input"] = {k: v for k, v in out["input"].items() if v not in (None, (), [], {})}
        out["output"] = {k: v for k, v in out["output"].items() if v is not None}
        return out

    def to_manifest(self) -> dict[str, Any]:
        """The spec as a manifest to upload: what whoever runs it (the stack's coordinator)
        decides is left out: the work dir, and the code hashes, taken from the code it runs."""
        return {k: v for k, v in self.to_dict().items() if k not in ("work_dir", "code")}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "job spec") -> "JobSpec":
        """Rebuild a spec written by :meth:`to_dict` (already resolved), checking it again.
        Its work dir was chosen by whoever ran the job, not by the manifest, and its code
        hashes were taken when it was planned (the source may have changed since)."""
        data = dict(data)
        return ManifestParser(source, base_dir=None, check_classes=False, work_dir=data.pop("work_dir", None),
                              code=data.pop("code", None)).parse(data)


def load_manifest(uri: str, overrides: dict[str, Any] | None = None, *,
                  storage: Storage | None = None, check_classes: bool = True,
                  work_dir: str | None = None) -> JobSpec:
    """Read, parse and validate a manifest file (local path or ``s3://``).

    ``overrides`` are manifest fields given another way (CLI flags); they win over the
    file's. ``work_dir``, given by whoever runs the job (not by the manifest), is trusted:
    the allowed locations do not apply to it. ``check_classes`` imports the mapper/reducer
    to check they subclass the interfaces (the coordinator, which has no pyspark, only
    checks the reference).
    Raises :class:`ManifestError` listing every problem.
    """
    data = read_manifest(uri, overrides, storage=storage)
    return ManifestParser(uri, manifest_dir(uri), check_classes, work_dir=work_dir).parse(data)


class ManifestParser:
    """Walks a manifest dict, collecting every problem before raising once."""

    def __init__(self, source: str, base_dir: str | None, check_classes: bool,
                 allowed: tuple[str, ...] | None = None, work_dir: str | None = None,
                 code: dict[str, str] | None = None):
        self.source, self.base_dir, self.check_classes = source, base_dir, check_classes
        self.allowed = allowed if allowed is not None else allowed_locations()
        self.work_dir = work_dir   # given by the operator, not the manifest: trusted
        self.code = code           # from a saved job.json: trusted
        self.problems: list[Problem] = []

    def fail(self, path: str, reason: str) -> None:
        self.problems.append(Problem(path, reason))

    def want(self, data: dict, path: str, key: str, types: type | tuple, *, required=False,
             default=None):
        if key not in data or data[key] is None:
            if required:
                self.fail(_join(path, key), "is required")
            return default
        value = data[key]
        # bool is an int in Python; a manifest's `true` is never a number here
        if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            self.fail(_join(path, key), f"must be {_type_name(types)}, not a boolean")
            return default
        if not isinstance(value, types):
            self.fail(_join(path, key), f"must be {_type_name(types)}, not {kind_of(value)}")
            return default
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS and key != "schema":
            self.fail(_join(path, key), f"is {len(value):,} characters long; at most {MAX_VALUE_CHARS:,}")
            return default
        return value

    def unknown(self, data: dict, path: str, allowed: set[str]) -> None:
        for key in sorted(set(data) - allowed):
            self.fail(_join(path, shorten(key, 80)), f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def resolve(self, uri: str) -> str:
        if is_s3(uri):
            return uri
        if self.base_dir is None:
            return resolve_local(uri)
        if is_s3(self.base_dir):
            return uri if uri.startswith("/") else join(self.base_dir, uri)
        return resolve_local(os.path.join(self.base_dir, os.path.expanduser(uri)))

    def parse(self, data: dict[str, Any]) -> JobSpec:
        self.unknown(data, "", TOP_FIELDS)
        name = self.want(data, "", "name", str, required=True)
        if name is not None and not _NAME.match(name):
            self.fail("name", f"{quote(name)} must be 1-63 letters, digits, '-' or '_', "
                              "starting with a letter or digit")
        mode = self.want(data, "", "mode", str, default=MAPPER_AND_REDUCER)
        if mode not in MODES:
            self.fail("mode", f"{mode!r} is not one of {', '.join(MODES)}")
        mapper = self.want(data, "", "mapper", str)
        reducer = self.want(data, "", "reducer", str)
        mapper_cls = self.job_class("mapper", mapper, needed=mode != REDUCER_ONLY, mode=mode)
        reducer_cls = self.job_class("reducer", reducer, needed=mode != MAPPER_ONLY, mode=mode)
        inp = self.parse_input(data)
        out = self.parse_output(data)
        max_concurrency = self.number(data, "max_concurrency", int, 100, lo=1, hi=10_000)
        retries = self.number(data, "retries", int, 2, lo=0, hi=10)
        min_success = self.number(data, "min_success_ratio", (int, float), 1.0, lo=0, hi=1)
        max_rejected = self.number(data, "max_rejected_ratio", (int, float), 0.1, lo=0, hi=1)
        task_bytes = self.number(data, "task_bytes", int, DEFAULT_TASK_BYTES, lo=1, hi=MAX_TASK_BYTES)
        task_max_files = self.number(data, "task_max_files", int, DEFAULT_TASK_MAX_FILES, lo=1, hi=100_000)
        split_bytes = self.number(data, "split_bytes", int, None, lo=1, hi=MAX_TASK_BYTES)
        spark_conf = self.want(data, "", "spark_conf", dict, default={})
        for key, value in spark_conf.items():
            if not isinstance(value, (str, int, float, bool)):
                self.fail(f"spark_conf.{shorten(key, 80)}", f"must be a string or number, not {kind_of(value)}")
                continue
            reason = conf_rules.problem(key, _conf_value(value))
            if reason:
                self.fail(f"spark_conf.{shorten(key, 80)}", reason)
        reducers = self.reducers(data, mode, reducer_cls, reducer)
        use_cache = self.want(data, "", "cache", bool, default=False)
        cache_version = self.want(data, "", "cache_version", str, default="")
        if cache_version and not _CACHE_VERSION.match(cache_version):
            self.fail("cache_version", f"{quote(cache_version)} must be 1-64 letters, digits, '.', '-' or '_'")
        elif cache_version and not use_cache:
            self.fail("cache_version", "only applies with \"cache\": true")
        params = data.get("params") if data.get("params") is not None else {}
        problem = params_problem(params)
        if problem:
            self.fail(*problem)
        work_dir = self.work_dir or self.want(data, "", "work_dir", str)
        if work_dir and not self.work_dir:
            work_dir = self.location("work_dir", work_dir)
        work_dir = (self.resolve(work_dir) if work_dir else None) or default_work_dir(out.path)
        self.check_destination(inp, out, work_dir)
        self.input = inp  # kept for `lmr validate`, which checks the files even when fields fail
        if self.problems:
            raise ManifestError(self.source, self.problems)

        # Fill in what the classes declare, so job.json says exactly what will run.
        owner = mapper_cls if mode != REDUCER_ONLY else reducer_cls
        if owner is not None and inp.format is None:
            inp = replace(inp, format=owner.input_format)
        writer = reducer_cls if mode != MAPPER_ONLY else mapper_cls
        if writer is not None and out.format is None:
            out = replace(out, format=writer.output_format)
        return JobSpec(
            name=name, mode=mode,
            mapper=mapper if mode != REDUCER_ONLY else None,
            reducer=reducer if mode != MAPPER_ONLY else None,
            input=inp, output=out,
            work_dir=work_dir,
            max_concurrency=max_concurrency, retries=retries,
            min_success_ratio=float(min_success), max_rejected_ratio=float(max_rejected),
            spark_conf={k: _conf_value(v) for k, v in spark_conf.items()},
            task_bytes=task_bytes, task_max_files=task_max_files, split_bytes=split_bytes,
            cache=use_cache, cache_version=cache_version, params=params, reducers=reducers,
            code=self.code if self.code is not None else code_fingerprints(
                mapper if mode != REDUCER_ONLY else None, reducer if mode != MAPPER_ONLY else None),
        )

    def location(self, where: str, uri: str, *, needs_key: bool = False) -> str | None:
        """``uri`` resolved, or None after recording why it cannot be used: malformed,
        or outside the allowed locations (checked after resolving ``..`` and symlinks)."""
        reason = uri_problem(uri, needs_key=needs_key)
        if reason is None:   # again once resolved: a relative '../x' under an s3:// manifest
            given, uri = uri, self.resolve(uri)
            if not is_s3(uri):   # as given, so that a message can say what it resolves to
                given = os.path.join(self.base_dir or "", os.path.expanduser(given))
            reason = uri_problem(uri, needs_key=needs_key) or outside(given if not is_s3(uri) else uri,
                                                                      self.allowed)
        if reason:
            self.fail(where, reason)
            return None
        return uri

    def check_destination(self, inp: InputSpec, out: OutputSpec, work_dir: str) -> None:
        """The output is a folder of its own: not a root, and not overlapping what the job
        reads, the engine's own files or the stack's manifests (a publish replaces it)."""
        if not out.path:
            return
        if is_root(out.path):
            self.fail("output.path", f"{shorten(out.path)} is a bucket or filesystem root; "
                                     "name a folder for the output")
            return
        protected = [("the manifest", self.source)] if self.base_dir is not None else []
        protected += [(f"input.files[{i}]", f) for i, f in enumerate(inp.files)]
        protected += [("input.prefix", inp.prefix), ("input.list", inp.list),
                      ("the work dir", engine_area(work_dir))]
        if is_s3(work_dir):
            protected.append(("the stack's manifests/", join(s3_root(work_dir), MANIFESTS_PREFIX)))
        for what, uri in protected:
            reason = uri and destination_conflict(out.path, uri, what)
            if reason:
                self.fail("output.path", reason)

    def reducers(self, data: dict, mode: str, reducer_cls, reducer: str | None) -> int | str:
        """R: an int 1..MAX_REDUCERS or "auto"; more than one needs a MAPPER_AND_REDUCER job
        whose Reducer declares ``partition_by`` (checked where the class can be imported)."""
        value = data.get("reducers", 1)
        if value != AUTO and (isinstance(value, bool) or not isinstance(value, int)
                              or not 1 <= value <= MAX_REDUCERS):
            self.fail("reducers", f"must be an integer from 1 to {MAX_REDUCERS} or \"auto\", not {quote(value)}")
            return 1
        if value == 1:
            return 1
        if mode != MAPPER_AND_REDUCER:
            self.fail("reducers", f"more than one reducer needs mode {MAPPER_AND_REDUCER} (map tasks write "
                                  f"the hash buckets reduce tasks read), not {mode}")
        elif reducer_cls is not None and not partition_columns(reducer_cls):
            self.fail("reducers", f"{quote(value)} needs the Reducer's partition_by (the columns whose hash "
                                  f"decides which reduce task gets a row: each reduce task sees every row "
                                  f"of its keys); {reducer} declares none")
        return value

    def number(self, data, key, types, default, *, lo, hi):
        value = self.want(data, "", key, types, default=default)
        if value is not None and not lo <= value <= hi:
            self.fail(key, f"must be between {lo} and {hi}, not {value}")
        return value

    def job_class(self, role: str, ref: str | None, *, needed: bool, mode: str):
        if ref is None:
            if needed:
                self.fail(role, f"is required in mode {mode}")
            return None
        if not needed:
            self.fail(role, f"must not be set in mode {mode}")
            return None
        if not self.check_classes:
            reason = check_statically(ref)
            if reason:
                self.fail(role, reason)
            return None
        try:
            return resolve_role_class(ref, role)
        except ValueError as exc:
            self.fail(role, str(exc))
            return None

    def parse_input(self, data: dict) -> InputSpec:
        inp = self.want(data, "", "input", dict, required=True)
        if inp is None:
            return InputSpec()
        self.unknown(inp, "input", INPUT_FIELDS)
        kinds = [k for k in ("files", "prefix", "list") if inp.get(k) is not None]
        if len(kinds) != 1:
            self.fail("input", "needs exactly one of 'files', 'prefix' or 'list'"
                      + (f" (got {', '.join(kinds)})" if kinds else ""))
        files: list[str] = []
        raw_files = self.want(inp, "input", "files", list)
        if raw_files is not None:
            if not raw_files:
                self.fail("input.files", "is empty: a job needs at least one input file")
            seen: dict[str, int] = {}
            for i, item in enumerate(raw_files):
                if not isinstance(item, str) or not item.strip():
                    self.fail(f"input.files[{i}]", f"must be a non-empty string, not {kind_of(item)}")
                    continue
                resolved = self.location(f"input.files[{i}]", item, needs_key=True)
                if resolved is None:
                    continue
                if resolved in seen:
                    self.fail(f"input.files[{i}]", f"duplicates input.files[{seen[resolved]}] ({item})")
                    continue
                seen[resolved] = i
                files.append(resolved)
        prefix = self.want(inp, "input", "prefix", str)
        if prefix is not None:
            prefix = self.location("input.prefix", prefix)
        glob = self.want(inp, "input", "glob", str)
        if glob is not None and inp.get("prefix") is None:
            self.fail("input.glob", "only applies with input.prefix")
        elif glob is not None and glob_problem(glob):
            self.fail("input.glob", glob_problem(glob))
        listing = self.want(inp, "input", "list", str)
        if listing is not None:
            listing = self.location("input.list", listing, needs_key=True)
        fmt = self.want(inp, "input", "format", str)
        if fmt is not None and fmt not in INPUT_FORMATS:
            self.fail("input.format", f"{quote(fmt)} is not one of {', '.join(INPUT_FORMATS)}")
        schema = self.want(inp, "input", "schema", str)
        if schema is not None and len(schema) > MAX_SCHEMA_CHARS:
            self.fail("input.schema", f"is {len(schema):,} characters long; at most {MAX_SCHEMA_CHARS:,}")
        options = self.want(inp, "input", "options", dict, default={})
        self.check_reader_options(options, fmt)
        return InputSpec(
            files=tuple(files), prefix=prefix, glob=glob, list=listing, format=fmt, schema=schema,
            options={str(k): _conf_value(v) for k, v in options.items()})

    def check_reader_options(self, options: dict, fmt: str | None) -> None:
        """Options the manifest passes to Spark's reader: an allow-list per format (the
        format may still come from the Mapper class: then any format's options pass here)."""
        allowed = READER_OPTIONS.get(fmt) if fmt else set().union(*READER_OPTIONS.values())
        for key, value in options.items():
            where = f"input.options.{shorten(key, 80)}"
            if key in ENGINE_READER_OPTIONS and (allowed is None or key not in allowed):
                self.fail(where, "collides with the engine's own reader options (it reads "
                                 "PERMISSIVE into _corrupt_record and names the files itself)")
            elif allowed is None or key not in allowed:
                self.fail(where, f"is not a reader option the engine allows for {fmt or 'any format'} "
                                 f"(allowed: {shorten(', '.join(sorted(allowed or ())) or 'none', 150)})")
            elif not isinstance(value, (str, int, float, bool)) or len(_conf_value(value)) > 256:
                self.fail(where, "must be a string or number of at most 256 characters")

    def parse_output(self, data: dict) -> OutputSpec:
        out = self.want(data, "", "output", dict, required=True)
        if out is None:
            return OutputSpec(path="")
        self.unknown(out, "output", OUTPUT_FIELDS)
        path = self.want(out, "output", "path", str, required=True) or ""
        if path:
            path = self.location("output.path", path) or ""
        fmt = self.want(out, "output", "format", str)
        if fmt is not None and fmt not in OUTPUT_FORMATS:
            self.fail("output.format", f"{quote(fmt)} is not one of {', '.join(OUTPUT_FORMATS)}")
        return OutputSpec(path=path, format=fmt)


def partition_columns(reducer_cls) -> tuple[str, ...]:
    """A Reducer's ``partition_by`` as a tuple of column names ("" when it is malformed)."""
    cols = reducer_cls.partition_by
    cols = (cols,) if isinstance(cols, str) else tuple(cols or ())
    return cols if cols and all(isinstance(c, str) and c for c in cols) else ()


def default_work_dir(output_path: str) -> str:
    """Explicit manifest field > LMR_WORK_DIR > the output's bucket (S3) or ./.lmr."""
    env = os.environ.get(WORK_DIR_ENV)
    if env:
        return env if is_s3(env) else os.path.abspath(env)
    if is_s3(output_path):
        return s3_root(output_path)
    return os.path.abspath(DEFAULT_LOCAL_WORK_DIR)


def _conf_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_name(types) -> str:
    names = {str: "a string", int: "an integer", float: "a number", dict: "an object",
             list: "a list", bool: "a boolean"}
    types = types if isinstance(types, tuple) else (types,)
    if set(types) == {int, float}:
        return "a number"
    return " or ".join(names.get(t, t.__name__) for t in types)

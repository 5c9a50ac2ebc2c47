"""Reading a manifest: every field it may set (:data:`FIELDS`, the one table the parser
checks against and the docs' field reference is generated from), and the parser that
checks each one, collecting *every* problem with its field path before raising once.

A manifest is JSON, or a newline-separated text list of input URIs (LetsData's format)
with everything else given as overrides (CLI flags). Relative local paths resolve
against the manifest's folder. Importable without pyspark.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from typing import Any

from ..errors import ManifestError, Problem
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
from . import spark_conf as conf_rules
from .fingerprints import code_fingerprints
from .formats import ENGINE_READER_OPTIONS, INPUT_FORMATS, OUTPUT_FORMATS, READER_OPTIONS
from .layout import MANIFESTS_PREFIX, jobs_folder
from .loading import check_statically, resolve_role_class
from .manifest_file import kind_of, manifest_dir, read_manifest
from .params import params_problem
from .spec import (
    AUTO,
    DEFAULT_TASK_BYTES,
    DEFAULT_TASK_MAX_FILES,
    MAPPER_AND_REDUCER,
    MAPPER_ONLY,
    MAX_REDUCERS,
    MAX_TASK_BYTES,
    MODES,
    REDUCER_ONLY,
    InputSpec,
    JobSpec,
    OutputSpec,
    conf_value as _conf_value,
    default_work_dir,
    partition_columns,
)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}\Z")  # fits a Step Functions execution name
_CACHE_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
MAX_SCHEMA_CHARS = 64 * 1024
MAX_VALUE_CHARS = 4096


@dataclass(frozen=True)
class Field:
    """One field a manifest may set: its path, what it takes, its default, what it does.
    ``bounds``: (lowest, highest) of a number, which the parser enforces."""

    path: str
    takes: str
    default: str
    doc: str
    bounds: tuple[int, int] | None = None
    default_value: Any = None


# The docs' field reference is generated from this table (docs/gen.py): ``{docs}`` in a
# field's text is where the docs pages are, relative to the page it lands in.
FIELDS: tuple[Field, ...] = (
    Field("name", "string", "required",
          "1-63 letters, digits, `-`, `_`. The job id is `name-<hash of the manifest and the code>`: the same "
          "manifest with the same Mapper and Reducer source is the same job; edit either and it is a new job "
          "(see [Running a job again]({docs}running.md#running-a-job-again-the-same-rules-everywhere))."),
    Field("mode", "string", f"`{MAPPER_AND_REDUCER}`",
          f"`{MAPPER_AND_REDUCER}`; `{MAPPER_ONLY}` (the mapper's output is the destination); "
          f"`{REDUCER_ONLY}` (one reducer reads every input file itself)."),
    Field("mapper", "`package.module:Class`", "required by the mode",
          "A `Mapper` (or `ArrowMapper`) subclass inside the allowed job packages "
          "(see [Security]({docs}security.md))."),
    Field("reducer", "`package.module:Class`", "required by the mode",
          "A `Reducer` subclass inside the allowed job packages."),
    Field("input", "object", "required", "What the job reads: exactly one of `files`, `prefix` or `list`."),
    Field("input.files", "list of strings", "", "An explicit list of files (local paths or `s3://` URIs)."),
    Field("input.prefix", "string", "", "Every file under a folder or S3 prefix; `_*` and `.*` files are skipped."),
    Field("input.glob", "string", "every file",
          "With `prefix`: the files to take; `*` stays within a folder, `**/` spans folders."),
    Field("input.list", "string", "", "A text file of input URIs, one a line (`#` comments)."),
    Field("input.format", "string", "the Mapper's `input_format`",
          f"One of {', '.join(f'`{f}`' for f in INPUT_FORMATS)}: `json` reads whole documents, `jsonl` a "
          "record a line."),
    Field("input.schema", "string", "the Mapper's `schema`", "The schema records are read with (Spark DDL)."),
    Field("input.options", "object", "the Mapper's `read_options`",
          "Spark reader options, from an allow-list per format (e.g. `sep`, `header`, `quote`, `multiLine` for "
          "CSV); the engine's own (`mode`, `columnNameOfCorruptRecord`, `path`) are refused."),
    Field("output", "object", "required", "Where the job writes."),
    Field("output.path", "string", "required",
          "The destination folder (local or `s3://`): a folder of its own, see "
          "[Destinations]({docs}reliability.md#destinations-nothing-lost)."),
    Field("output.format", "string", "the class's `output_format`",
          f"One of {', '.join(f'`{f}`' for f in OUTPUT_FORMATS)}."),
    Field("max_concurrency", "integer", "100", "Tasks running at once (local workers are also capped by the "
          "machine).", (1, 10_000), 100),
    Field("retries", "integer", "2", "Extra attempts for a task that hit a retryable error; the same locally "
          "and on AWS.", (0, 10), 2),
    Field("min_success_ratio", "number", "1.0", "The share of map tasks that must succeed for the reducer to run.",
          (0, 1), 1.0),
    Field("max_rejected_ratio", "number", "0.1", "The share of a task's records that may be rejected.",
          (0, 1), 0.1),
    Field("spark_conf", "object", "`{}`", "Spark tuning settings, from an allow-list "
          "(see [Security]({docs}security.md))."),
    Field("task_bytes", "integer", f"{DEFAULT_TASK_BYTES} (64 MiB)",
          "Small files are packed into one map task until it holds this many bytes; a file at least this "
          "large is a task of its own (`1`: one task per file).", (1, MAX_TASK_BYTES), DEFAULT_TASK_BYTES),
    Field("task_max_files", "integer", str(DEFAULT_TASK_MAX_FILES), "At most this many files in one task.",
          (1, 100_000), DEFAULT_TASK_MAX_FILES),
    Field("split_bytes", "integer", "`task_bytes`, at least 64 MiB",
          "An uncompressed jsonl, csv or text file, or a Parquet file, larger than this is cut into byte "
          "ranges, a map task each (see [Large files]({docs}performance.md#large-files-split-by-byte-range)).",
          (1, MAX_TASK_BYTES), None),
    Field("cache", "boolean", "`false`", "`true`: reuse the map tasks of earlier jobs in the same work dir whose "
          "inputs and Mapper did not change (see [Caching across jobs]({docs}running.md#caching-across-jobs))."),
    Field("cache_version", "string", '`""`',
          "1-64 letters, digits, `.-_`; part of the cache key: change it when code the engine cannot see changed."),
    Field("reducers", "integer or `\"auto\"`", "1",
          f"R reduce tasks (1-{MAX_REDUCERS:,}) over hash partitions of the Reducer's `partition_by`, or "
          f"`\"{AUTO}\"` (one per GiB of intermediate data, at most 64; see [More than one reducer]"
          "({docs}writing-jobs.md#more-than-one-reducer-partition_by-and-reducers))."),
    Field("params", "object", "`{}`", "Given to your code as `ctx.params`; `--param KEY=VALUE` overrides a key "
          "(see [Model-evaluation jobs]({docs}writing-jobs.md#model-evaluation-jobs-params-setup-arrow-batches-"
          "binary-inputs))."),
    Field("work_dir", "string", "`./.lmr`, or the output's bucket for S3 output",
          "Where `jobs/<job_id>/` lives; set in a manifest, it must lie in the allowed locations "
          "(env `LMR_WORK_DIR` and `--work-dir` set it too)."),
)
TOP_FIELDS = {f.path for f in FIELDS if "." not in f.path}
INPUT_FIELDS = {f.path.split(".", 1)[1] for f in FIELDS if f.path.startswith("input.")}
OUTPUT_FIELDS = {f.path.split(".", 1)[1] for f in FIELDS if f.path.startswith("output.")}
NUMBERS = {f.path: (*f.bounds, f.default_value) for f in FIELDS if f.bounds}


def load_job_json(data: dict[str, Any], source: str = "job spec") -> JobSpec:
    """Rebuild a spec written by :meth:`JobSpec.to_dict` (a job's ``job.json``, already
    resolved), checking it again. Its work dir was chosen by whoever ran the job, not by
    the manifest, and its code hashes were taken when it was planned (the source may have
    changed since)."""
    data = dict(data)
    return ManifestParser(source, base_dir=None, check_classes=False, work_dir=data.pop("work_dir", None),
                          code=data.pop("code", None)).parse(data)


def read_job_json(uri: str, storage: Storage) -> JobSpec:
    """A job's saved ``job.json`` (local or ``s3://``), rebuilt and checked again."""
    try:
        data = json.loads(storage.read_text(uri))
    except ValueError as exc:
        raise ManifestError(uri, [Problem("job.json", f"is not JSON: {exc}")]) from None
    if not isinstance(data, dict):
        raise ManifestError(uri, [Problem("job.json", f"must be an object, not {kind_of(data)}")])
    return load_job_json(data, source=uri)


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
        max_concurrency = self.number(data, "max_concurrency")
        retries = self.number(data, "retries")
        min_success = self.number(data, "min_success_ratio")
        max_rejected = self.number(data, "max_rejected_ratio")
        task_bytes = self.number(data, "task_bytes")
        task_max_files = self.number(data, "task_max_files")
        split_bytes = self.number(data, "split_bytes")
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
                      ("the work dir", jobs_folder(work_dir))]
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

    def number(self, data, key):
        """A numeric top-level field, with the type, default and bounds FIELDS gives it."""
        lo, hi, default = NUMBERS[key]
        types = (int, float) if isinstance(default, float) else int
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




def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_name(types) -> str:
    names = {str: "a string", int: "an integer", float: "a number", dict: "an object",
             list: "a list", bool: "a boolean"}
    types = types if isinstance(types, tuple) else (types,)
    if set(types) == {int, float}:
        return "a number"
    return " or ".join(names.get(t, t.__name__) for t in types)

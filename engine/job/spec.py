"""The job spec: what a job computes and where, once its manifest is checked
(engine/job/manifest.py parses and checks it). Importable without pyspark.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from ..store.uris import is_s3, s3_root

WORK_DIR_ENV = "LMR_WORK_DIR"
DEFAULT_LOCAL_WORK_DIR = ".lmr"

MAPPER_AND_REDUCER, MAPPER_ONLY, REDUCER_ONLY = "MAPPER_AND_REDUCER", "MAPPER_ONLY", "REDUCER_ONLY"
MODES = (MAPPER_AND_REDUCER, MAPPER_ONLY, REDUCER_ONLY)
AUTO = "auto"            # "reducers": "auto": R chosen from the intermediate bytes
MAX_REDUCERS = 1000
# Packing: small files share a map task until it holds this many bytes (or files). A map
# task has a fixed cost (0.4 s warm, seconds cold), so one per 20 KB file would dominate.
DEFAULT_TASK_BYTES = 64 * 2**20
DEFAULT_TASK_MAX_FILES = 1000
# A task's input is staged on the function's /tmp (10 GiB at most on Lambda).
MAX_TASK_BYTES = 10 * 2**30


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


def conf_value(value: Any) -> str:
    """A manifest's setting as the text Spark takes (``true``, not ``True``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)

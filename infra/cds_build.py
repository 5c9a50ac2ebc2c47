"""Building a class archive: run a representative job in a fresh process whose JVM
writes the archive when it exits (engine/spark/cds.py then finds and uses it). A build
tool, not part of the engine's runtime: it runs the engine's task functions on the
example jobs.

``python -m infra.cds_build build ARCHIVE`` (the image, infra/Dockerfile) or
``python -m infra.cds_build cache`` (the local cache, now).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from engine.spark.cds import ARCHIVE_ENV, BUILD_FLAG, CDS_ENV, cached_archive, partial_path


def _representative_job() -> None:
    """Map and reduce a small crawl file: loads the classes a real task loads."""
    from jobs.datagen import write_crawl

    from engine.job.planning import plan_job
    from engine.job.manifest import load_manifest
    from engine.task.map import run_map_task
    from engine.task.reduce import reduce_job

    with tempfile.TemporaryDirectory() as tmp:
        write_crawl(os.path.join(tmp, "in"), files=1, records=200)
        manifest = os.path.join(tmp, "m.json")
        with open(manifest, "w") as fh:
            json.dump({"name": "cds", "mapper": "jobs.crawl:ExtractDocuments",
                       "reducer": "jobs.crawl:P90ContentLengthSketch",
                       "input": {"prefix": "in"}, "output": {"path": "out"}, "work_dir": "work"}, fh)
        spec = load_manifest(manifest)
        plan = plan_job(spec)
        for task in plan.tasks:
            run_map_task(spec, task)
        reduce_job(spec, list(plan.tasks))
    from engine.spark.session import stop_spark

    stop_spark()   # waits for the JVM to exit, which is when it writes the archive


def build(path: str) -> None:
    """Run the representative job in a fresh process whose JVM writes ``path`` at exit."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = partial_path(path)   # renamed when whole: never a truncated archive at path
    env = {k: v for k, v in os.environ.items() if k != CDS_ENV}
    env.update({ARCHIVE_ENV: partial, BUILD_FLAG: "1"})
    subprocess.run([sys.executable, "-c", "from infra.cds_build import _representative_job as r; r()"],
                   env=env, check=True)
    if not os.path.isfile(partial):
        raise RuntimeError(f"the JVM wrote no class archive at {partial}")
    os.replace(partial, path)
    print(f"class archive {path}: {os.path.getsize(path) / 1e6:.0f} MB")


def ensure_cached() -> str | None:
    """The local cache's archive for this JDK + pyspark, built now if missing (None: no java)."""
    path = cached_archive()
    if path is not None and not os.path.isfile(path):
        build(path)
    return path


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "build":
        build(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "cache":
        print(ensure_cached() or "no java found: set JAVA_HOME or put java on PATH")
    else:
        sys.exit("usage: python -m infra.cds_build build ARCHIVE_PATH | python -m infra.cds_build cache")

"""AppCDS: a class-data archive that cuts the JVM's cold start (measured here 12 s -> 6 s).

The archive is made by running one representative job in a JVM started with
``-XX:ArchiveClassesAtExit``; later JVMs map it with ``-XX:SharedArchiveFile``. It must
come from the same JDK and classpath; a JVM that finds a mismatched archive ignores it
(``-Xshare:auto``, the default) and starts as usual, only slower.

    python -m engine.cds build /opt/lmr/spark.jsa     # at image build time (infra/Dockerfile)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

ARCHIVE_ENV = "LMR_CDS_ARCHIVE"   # path of the archive to use, if it exists
_BUILD_FLAG = "LMR_CDS_BUILDING"  # set while building: the JVM writes the archive at exit


def archive_flags() -> list[str]:
    """JVM flags for the session: write the archive (when building) or use it (if present)."""
    path = os.environ.get(ARCHIVE_ENV)
    if not path:
        return []
    if os.environ.get(_BUILD_FLAG):
        return [f"-XX:ArchiveClassesAtExit={path}"]
    return [f"-XX:SharedArchiveFile={path}"] if os.path.isfile(path) else []


def _representative_job() -> None:
    """Map and reduce a small crawl file: loads the classes a real task loads."""
    from .planning import plan_job
    from .spec import load_manifest
    from .tasks import reduce_job, run_map_task
    from jobs.datagen import write_crawl

    with tempfile.TemporaryDirectory() as tmp:
        write_crawl(os.path.join(tmp, "in"), files=1, records=200)
        manifest = os.path.join(tmp, "m.json")
        with open(manifest, "w") as fh:
            json.dump({"name": "cds", "mapper": "jobs.crawl:ExtractDocuments",
                       "reducer": "jobs.crawl:P90ContentLengthByLanguage",
                       "input": {"prefix": "in"}, "output": {"path": "out"}, "work_dir": "work"}, fh)
        spec = load_manifest(manifest)
        plan = plan_job(spec)
        for task in plan.tasks:
            run_map_task(spec, task)
        reduce_job(spec, list(plan.tasks))


def build(path: str) -> None:
    """Run the representative job in a fresh process whose JVM writes ``path`` at exit."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    env = {**os.environ, ARCHIVE_ENV: os.path.abspath(path), _BUILD_FLAG: "1"}
    subprocess.run([sys.executable, "-c", "from engine.cds import _representative_job as r; r()"],
                   env=env, check=True)
    if not os.path.isfile(path):
        raise RuntimeError(f"the JVM wrote no class archive at {path}")
    print(f"class archive {path}: {os.path.getsize(path) / 1e6:.0f} MB")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "build":
        sys.exit("usage: python -m engine.cds build ARCHIVE_PATH")
    build(sys.argv[2])

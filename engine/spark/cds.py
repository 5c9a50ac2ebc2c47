"""AppCDS: a class-data archive that cuts the JVM's cold start (see the README's figures).

A JVM started with ``-XX:ArchiveClassesAtExit=F`` writes the classes it loaded to F when
it exits; later JVMs map F with ``-XX:SharedArchiveFile=F`` instead of loading and
verifying those classes again. An archive only fits the JDK and classpath that made it;
a JVM handed one that does not fit ignores it (``-Xshare:auto``, the default) and starts
as usual, only slower. Two ways to get one:

* The image: ``python -m infra.cds_build build /opt/lmr/spark.jsa`` runs a representative job
  at image build time (infra/Dockerfile) and ``LMR_CDS_ARCHIVE`` points at it.
* Locally: a worker whose cache has no archive yet writes one at its exit (the first
  run pays a few seconds); later runs use it. The cache file is named after the JDK and
  the pyspark install, so a new JDK or pyspark gets a new archive.

Building one (running a representative job) is infra/cds_build.py's: this module
only finds, uses and keeps archives, and imports no task code.
"""

from __future__ import annotations

import hashlib
import json
import os

from ..procs import pid_alive
from . import jvm

ARCHIVE_ENV = "LMR_CDS_ARCHIVE"   # an archive to use (the image's); disables the local cache
CDS_ENV = "LMR_CDS"               # "off": no class archive at all
CACHE_ENV = "LMR_CACHE_DIR"       # local cache folder; default ~/.cache/lambda-mr
BUILD_FLAG = "LMR_CDS_BUILDING"  # set while building: the JVM writes the archive at exit

_caching = False                  # set by local workers: they can finish an archive at exit
_pending: tuple[str, str] | None = None   # (file the JVM writes at exit, where it goes)


def use_local_cache() -> None:
    """This process will call :func:`commit_archive` after its JVM exits."""
    global _caching
    _caching = True


def archive_flags() -> list[str]:
    """JVM flags for a new session: use an archive, or write one at exit, or nothing."""
    global _pending
    if os.environ.get(CDS_ENV, "").lower() in ("off", "0", "false", "no"):
        return []
    path = os.environ.get(ARCHIVE_ENV)
    if path:
        if os.environ.get(BUILD_FLAG):
            return [f"-XX:ArchiveClassesAtExit={path}"]
        return [f"-XX:SharedArchiveFile={path}"] if os.path.isfile(path) else []
    if not _caching:
        return []
    final = cached_archive()
    if final is None:
        return []
    if os.path.isfile(final):
        return [f"-XX:SharedArchiveFile={final}"]
    os.makedirs(os.path.dirname(final), exist_ok=True)
    _remove_abandoned(final)
    _pending = (partial_path(final), final)
    return [f"-XX:ArchiveClassesAtExit={_pending[0]}"]


def partial_path(final: str, pid: int | None = None) -> str:
    """Where a process writes an archive before renaming it to ``final`` when whole."""
    return f"{final}.{os.getpid() if pid is None else pid}.tmp"


def describe(flags: list[str]) -> str:
    """What the flags do, for the session's log line."""
    for flag in flags:
        if flag.startswith("-XX:SharedArchiveFile="):
            return f"class archive {flag.split('=', 1)[1]}"
        if flag.startswith("-XX:ArchiveClassesAtExit="):
            return "writing a class archive at exit"
    return "no class archive"


def _remove_abandoned(final: str) -> None:
    """Half-written archives of processes that died (a SIGKILLed worker never renames its own)."""
    folder, name = os.path.split(final)
    for entry in os.listdir(folder):
        pid = entry[len(name) + 1:-len(".tmp")]
        path = os.path.join(folder, entry)
        if pid.isdigit() and path == partial_path(final, int(pid)) and not pid_alive(int(pid)):
            try:
                os.remove(path)
            except OSError:
                pass


def commit_archive() -> str | None:
    """After this process's JVM exited: move the archive it wrote into the cache (an
    atomic rename; of two workers writing at once, either archive is fine)."""
    global _pending
    if _pending is None:
        return None
    written, final = _pending
    _pending = None
    if os.path.isfile(written) and os.path.getsize(written) > 0:
        os.replace(written, final)
        return final
    if os.path.exists(written):
        os.remove(written)
    return None


def cached_archive() -> str | None:
    """Where this JDK + Spark jars' archive lives in the local cache (None: no java or no pyspark)."""
    java = jvm.java_path()
    if java is None:
        return None
    home = jvm.spark_home()
    if home is None:
        return None
    modules = os.path.join(os.path.dirname(os.path.dirname(java)), "lib", "modules")
    jars = os.path.join(home, "jars")
    identity = json.dumps([java, _stamp(modules), jars, _stamp(jars), sorted(os.listdir(jars))])
    key = hashlib.sha256(identity.encode()).hexdigest()[:16]
    cache = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lambda-mr")
    return os.path.join(cache, f"spark-{key}.jsa")


def _stamp(path: str) -> list[float]:
    try:
        st = os.stat(path)
    except OSError:
        return []
    return [st.st_mtime, st.st_size]

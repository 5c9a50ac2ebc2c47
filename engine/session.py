"""The Spark session factory: one module-global SparkSession per process.

Tuned for short-lived, single-node use (a Lambda container or a local worker): UI off,
bound to 127.0.0.1, few shuffle partitions, every scratch dir under one temp root, and
JVM flags for a fast start. Settings resolve explicit argument -> environment -> default.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
import time

from . import cds

CORES_ENV = "LMR_SPARK_CORES"            # Spark's local[N]; default: every core
DRIVER_MEMORY_ENV = "LMR_DRIVER_MEMORY"  # e.g. "2g"; default: from Lambda's memory, or 1g
JVM_PROFILE_ENV = "LMR_JVM_PROFILE"      # "auto" (default), "startup" or "throughput"
TMP_ENV = "LMR_SPARK_TMP"                # scratch root; default: <system temp>/lmr-spark-<pid>
LAMBDA_MEMORY_ENV = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"  # set by Lambda, in MB

# Share of a Lambda's memory given to the JVM heap; the rest is Python, off-heap, page cache.
_LAMBDA_HEAP_SHARE = 0.6
# Spark refuses to start below 450 MB of heap (INVALID_DRIVER_MEMORY.SYSTEM_MEMORY).
_MIN_HEAP_MB = 512
JVM_PROFILES = ("auto", "startup", "throughput")
# "auto": C1-only JIT saves about 3 s of start but maps about 27 instead of 47 MB/s here
# (FACTS.md), so it pays below about 190 MB of input per JVM; we switch well below that.
STARTUP_MAX_BYTES = 128 * 2**20

_session = None
_started_at: float | None = None
_startup_seconds: float | None = None
_expected_bytes: int | None = None   # what this process's JVM will read in all (a worker's share)
_lock = threading.Lock()

log = logging.getLogger(__name__)


def is_started() -> bool:
    return _session is not None


def startup_seconds() -> float | None:
    """How long creating this process's session took (None before it exists)."""
    return _startup_seconds


def driver_memory(explicit: str | None = None) -> str:
    """JVM heap for the driver: explicit > LMR_DRIVER_MEMORY > share of Lambda memory > 1g."""
    if explicit:
        return explicit
    if os.environ.get(DRIVER_MEMORY_ENV):
        return os.environ[DRIVER_MEMORY_ENV]
    lambda_mb = os.environ.get(LAMBDA_MEMORY_ENV)
    if lambda_mb and lambda_mb.isdigit():
        return f"{max(_MIN_HEAP_MB, int(int(lambda_mb) * _LAMBDA_HEAP_SHARE))}m"
    return "1g"


def expect_workload(total_bytes: int) -> None:
    """Tell the session factory how much this process will read over its life (a local
    worker's share of the job), so ``auto`` picks the JVM profile for that, not for the
    first task."""
    global _expected_bytes
    _expected_bytes = total_bytes


def jvm_profile(profile: str | None = None, workload_bytes: int | None = None) -> str:
    """``startup`` or ``throughput``: explicit > LMR_JVM_PROFILE > ``auto``, which picks
    ``startup`` for a JVM that will read at most STARTUP_MAX_BYTES (one small task in a
    cold container) and ``throughput`` otherwise (or when the workload is unknown)."""
    profile = profile or os.environ.get(JVM_PROFILE_ENV) or "auto"
    if profile not in JVM_PROFILES:
        raise ValueError(f"{JVM_PROFILE_ENV} must be one of {', '.join(JVM_PROFILES)}, not {profile!r}")
    if profile != "auto":
        return profile
    workload = _expected_bytes if _expected_bytes is not None else workload_bytes
    return "startup" if workload is not None and workload <= STARTUP_MAX_BYTES else "throughput"


def jvm_options(profile: str = "throughput", tmp_root: str | None = None) -> str:
    """JVM flags. ``startup`` adds C1-only JIT: a faster start, about half the steady
    throughput (measured), so it suits one small file per cold container, not a warm
    worker that maps many files."""
    flags = ["-XX:+UseSerialGC", "-XX:-UsePerfData"]
    if profile == "startup":
        flags.append("-XX:TieredStopAtLevel=1")
    if tmp_root:
        flags += [f"-Djava.io.tmpdir={tmp_root}", f"-Dderby.system.home={tmp_root}"]
    return " ".join(flags + cds.archive_flags())


def base_conf(cores: int | None = None, memory: str | None = None,
              tmp_root: str | None = None, profile: str = "throughput") -> dict[str, str]:
    cores = cores or int(os.environ.get(CORES_ENV) or os.cpu_count() or 1)
    tmp_root = tmp_root or os.environ.get(TMP_ENV) or os.path.join(
        tempfile.gettempdir(), f"lmr-spark-{os.getpid()}")
    os.makedirs(tmp_root, exist_ok=True)
    return {
        "spark.master": f"local[{cores}]",
        "spark.app.name": "lambda-mr",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.memory": driver_memory(memory),
        "spark.driver.extraJavaOptions": jvm_options(profile, tmp_root),
        "spark.sql.shuffle.partitions": str(max(2, cores)),
        "spark.default.parallelism": str(max(2, cores)),
        "spark.local.dir": os.path.join(tmp_root, "local"),
        "spark.sql.warehouse.dir": os.path.join(tmp_root, "warehouse"),
        "spark.sql.session.timeZone": "UTC",
        # No _SUCCESS or .crc files: the engine writes its own commit markers.
        "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
        "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
        "spark.hadoop.fs.file.impl.disable.cache": "true",
        "spark.hadoop.parquet.summary.metadata.level": "NONE",
    }


def get_spark(extra_conf: dict[str, str] | None = None, workload_bytes: int | None = None):
    """This process's SparkSession, created on first call.

    ``extra_conf`` (a job's ``spark_conf``) applies in full to a new session; on a warm
    session only runtime-modifiable keys (``spark.sql.*`` mostly) can still change.
    ``workload_bytes`` (what the caller is about to read) lets ``auto`` pick the JVM profile.
    """
    with _lock:   # tasks on a worker's threads share the session: create it once
        return _get_or_create(extra_conf, workload_bytes)


def _get_or_create(extra_conf: dict[str, str] | None, workload_bytes: int | None):
    global _session, _started_at, _startup_seconds
    if _session is None:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Python workers must run this interpreter (a venv), not whatever python3 is on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        from pyspark.sql import SparkSession

        profile = jvm_profile(workload_bytes=workload_bytes)
        conf = {**base_conf(profile=profile), **(extra_conf or {})}
        builder = SparkSession.builder
        for key, value in conf.items():
            builder = builder.config(key, value)
        _started_at = time.monotonic()
        threading.Thread(target=_import_what_pyspark_needs_next, daemon=True, name="lmr-prefetch").start()
        _session = builder.getOrCreate()
        _session.sparkContext.setLogLevel("WARN")
        _startup_seconds = time.monotonic() - _started_at
        log.info("spark session started in %.1fs (%s, %s JVM profile, %s)", _startup_seconds,
                 conf["spark.master"], profile, cds.describe(conf["spark.driver.extraJavaOptions"].split()))
    elif extra_conf:
        apply_runtime_conf(_session, extra_conf)
    return _session


def _import_what_pyspark_needs_next() -> None:
    """pyspark's first call into a new JVM imports pyspark.testing.utils (pandas, numpy:
    about 0.4 s) after the JVM is up. Imported here, on a thread, while the JVM boots and
    the main thread waits for it, that time is hidden. A failure here is not reported:
    the main thread's own import of the module raises it."""
    try:
        import pyspark.testing.utils  # noqa: F401
    except ImportError:
        pass


def apply_runtime_conf(spark, conf: dict[str, str]) -> None:
    for key, value in conf.items():
        if spark.conf.isModifiable(key):
            spark.conf.set(key, value)
        elif spark.conf.get(key, None) != value:
            log.warning("spark conf %s only applies to a new session; this warm one keeps %s",
                        key, spark.conf.get(key, None))


def stop_spark() -> None:
    """Stop the session and let its JVM exit (a JVM writing a class archive does it then)."""
    global _session
    if _session is None:
        return
    from pyspark import SparkContext

    proc = getattr(SparkContext._gateway, "proc", None)
    _session.stop()
    _session = None
    if proc is not None and proc.stdin is not None:
        proc.stdin.close()   # the gateway JVM exits on EOF of its stdin
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            log.warning("the Spark JVM (pid %s) did not exit in 120 s", proc.pid)

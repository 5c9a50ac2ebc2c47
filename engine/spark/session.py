"""The Spark session factory: one module-global SparkSession per process.

Tuned for short-lived, single-node use (a Lambda container or a local worker): UI off,
bound to 127.0.0.1, few shuffle partitions, every scratch dir under one temp root, and
JVM flags for a fast start. Settings resolve explicit argument -> environment -> default.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import NamedTuple

from . import cds, gateway, identity
from ..job.spark_conf import merged

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
LOG4J_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "log4j2.properties")

_session = None
_expected_bytes: int | None = None   # what this process's JVM will read in all (a worker's share)
_starting: "_Start | None" = None    # what start() set going, until the session exists
_lock = threading.Lock()

log = logging.getLogger(__name__)


def is_started() -> bool:
    return _session is not None


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
    worker that maps many files. On two cores or fewer it also keeps to one compiler
    thread: a second one takes a core from Spark's start (0.13 s to user code, measured)."""
    flags = ["-XX:+UseSerialGC", "-XX:-UsePerfData", f"-Dlog4j2.configurationFile={LOG4J_CONFIG}"]
    if profile == "startup":
        flags.append("-XX:TieredStopAtLevel=1")
        if (os.cpu_count() or 1) <= 2:
            flags.append("-XX:CICompilerCount=1")
    if tmp_root:
        flags += [f"-Djava.io.tmpdir={tmp_root}", f"-Dderby.system.home={tmp_root}"]
    return " ".join(flags + identity.jvm_flags(tmp_root) + cds.archive_flags())


def base_conf(cores: int | None = None, memory: str | None = None,
              tmp_root: str | None = None, profile: str = "throughput") -> dict[str, str]:
    cores = cores or int(os.environ.get(CORES_ENV) or os.cpu_count() or 1)
    tmp_root = tmp_root or os.environ.get(TMP_ENV) or os.path.join(
        tempfile.gettempdir(), f"lmr-spark-{os.getpid()}")
    os.makedirs(tmp_root, exist_ok=True)
    check_scratch(tmp_root)
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


def check_scratch(tmp_root: str) -> None:
    """Spark extracts native libraries (snappy's) into its temp folder and maps them as
    code: on a noexec mount that fails deep inside a write (measured: TASK_WRITE_FAILED).
    Say so before the JVM starts. Lambda's /tmp allows exec; Docker's default tmpfs does not."""
    from ..errors import PlatformError

    if os.statvfs(tmp_root).f_flag & os.ST_NOEXEC:
        raise PlatformError(
            f"Spark's scratch folder {tmp_root} is on a filesystem mounted noexec; Spark loads native "
            f"libraries it extracts there. Mount it with exec (Lambda's /tmp allows it; with Docker: "
            f"--tmpfs /tmp:rw,exec) or point {TMP_ENV} at a folder that allows it")


def start(extra_conf: dict[str, str] | None = None, workload_bytes: int | None = None) -> None:
    """Start this process's JVM without waiting for it, so that it boots while pyspark is
    imported and the caller stages inputs; :func:`get_spark` then connects. Does nothing if
    a session exists or is on its way. (When only spark-submit can start the JVM, see
    engine/spark/gateway.py, it starts in get_spark.)"""
    global _starting
    with _lock:
        if _session is None and _starting is None:
            started_at = time.monotonic()
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            # Python workers must run this interpreter (a venv), not whatever python3 is on PATH.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
            for name, value in identity.process_env().items():   # a user with no passwd entry
                os.environ.setdefault(name, value)
            profile = jvm_profile(workload_bytes=workload_bytes)
            conf = merged(base_conf(profile=profile), extra_conf or {})
            _starting = _Start(conf, profile, gateway.start(conf), started_at)
            _import_what_pyspark_needs()


class _Start(NamedTuple):
    conf: dict[str, str]
    profile: str
    launch: gateway.Launch | None   # None: pyspark starts the JVM with spark-submit
    started_at: float


@contextlib.contextmanager
def jvm_output_discarded():
    """Within it, a JVM this process starts writes its output (Spark's start-up warnings,
    its log) nowhere: for a command whose terminal shows only its own lines (``lmr
    validate``). The process's own stdout and stderr are back once it ends."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def get_spark(extra_conf: dict[str, str] | None = None, workload_bytes: int | None = None):
    """This process's SparkSession, created on first call (with the conf :func:`start`
    was given, if it was called).

    ``extra_conf`` (a job's ``spark_conf``) applies in full to a new session; on a warm
    session only runtime-modifiable keys (``spark.sql.*`` mostly) can still change.
    ``workload_bytes`` (what the caller is about to read) lets ``auto`` pick the JVM profile.
    """
    start(extra_conf, workload_bytes)
    with _lock:   # tasks on a worker's threads share the session: create it once
        if _session is None:
            return _create()
        if extra_conf:
            apply_runtime_conf(_session, extra_conf)
        return _session


def _create():
    global _session, _starting
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    conf, profile, launch, started_at = _starting
    _starting = None   # a failed start is not retried with a dead JVM
    if launch is not None:
        gw = launch.connect()
        identity.log_in(gw.jvm)   # before anything makes a Hadoop file system
        threading.Thread(target=_warm_up, args=(gw,), daemon=True, name="lmr-warm-up").start()
        try:
            SparkContext(conf=SparkConf().setAll(conf.items()), gateway=gw)
        except BaseException:
            launch.proc.kill()
            _forget_gateway()
            raise
    builder = SparkSession.builder   # with no gateway given, pyspark runs spark-submit
    for key, value in conf.items():
        builder = builder.config(key, value)
    _session = builder.getOrCreate()
    if launch is None:
        identity.log_in(_session.sparkContext._jvm)
    _session.sparkContext.setLogLevel("WARN")
    log.info("spark session started in %.1fs (%s, %s JVM profile, %s, %s)", time.monotonic() - started_at,
             conf["spark.master"], profile, cds.describe(conf["spark.driver.extraJavaOptions"].split()),
             "started directly" if launch else "started by spark-submit")
    return _session


def _import_what_pyspark_needs() -> None:
    """Import, while the JVM boots, pyspark and what its first call into a new JVM imports
    (pyspark.testing.utils: pandas and numpy, about 0.4 s), instead of after. In this
    thread: two threads importing pyspark at once can see half-initialized modules. A
    failure here is not reported: the later import of the module raises it."""
    try:
        import pyspark.sql  # noqa: F401
        import pyspark.testing.utils  # noqa: F401
    except ImportError:
        pass


def _warm_up(gw) -> list[str]:
    """Initialize, on a second JVM thread while the main one starts the SparkContext and
    the session, what the main thread would otherwise stop for, in the order it needs it:

    - MLlib's session extension, whose UDFs' type tags start Scala's runtime reflection
      (about 0.35 s here, single-threaded): creating the SparkSession waits for it;
    - Spark's SQL parser (about 0.15 s), which a reader's DDL schema and every SQL
      expression go through, while the main thread builds the session's state;
    - the data-source registry (a scan of every jar's service files) for the first read.

    Best effort: returns what failed (a renamed class after a Spark upgrade), and the
    main thread then pays for it as before."""
    jvm = gw.jvm
    steps = {
        "MLlib's session extension": lambda: jvm.java.lang.Class.forName(
            "org.apache.spark.sql.ml.InternalFunctionRegistration$", True,
            jvm.java.lang.Thread.currentThread().getContextClassLoader()),
        "the SQL parser": lambda: jvm.org.apache.spark.sql.types.DataType.fromDDL("warm_up INT"),
        "the data-source registry": lambda: jvm.org.apache.spark.sql.execution.datasources.DataSource
        .lookupDataSource("parquet", jvm.org.apache.spark.sql.internal.SQLConf.get()),
    }
    failed = []
    for name, step in steps.items():
        try:
            step()
        except Exception as exc:   # noqa: BLE001 - an optimisation; the session still works
            log.debug("JVM warm-up of %s skipped: %s", name, exc)
            failed.append(name)
    return failed


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
    _forget_gateway()


def jvm_exit_code(wait: float = 0.0) -> int | None:
    """The exit code of this process's Spark JVM if it has died; None while it runs (or
    when there is none). ``wait``: how long to give a JVM that is going down."""
    if _session is None:
        return None
    from pyspark import SparkContext

    proc = getattr(SparkContext._gateway, "proc", None)
    if proc is None:
        return None
    try:
        return proc.wait(timeout=wait) if wait else proc.poll()
    except subprocess.TimeoutExpired:
        return None


def platform_failure(exc: BaseException, role: str) -> BaseException:
    """``exc``, or the error that names what the function's environment did to the task:

    - the Spark JVM died under it (Python sees only a lost connection, ConnectionRefusedError
      or Py4JNetworkError, which would otherwise be blamed on the user's code): a
      MemoryLimitError when it was killed (SIGKILL: the kernel's out-of-memory killer), else
      a RetryableTaskError. The dead session is dropped, so the next task (a warm Lambda
      container's next invocation) starts a new JVM;
    - ``/tmp`` is full (ENOSPC anywhere in the error's chain): a PlatformError naming the
      function's EphemeralStorage.

    ``role``: "map" or "reduce", for the setting the message names."""
    from ..errors import MemoryLimitError, PlatformError, RetryableTaskError

    prefix = "Mapper" if role == "map" else "Reducer"
    code = jvm_exit_code(wait=3.0 if _in_chain(exc, _is_lost_connection) else 0.0)
    if code is not None:
        _discard_session()
        if code == -9:
            memory = os.environ.get(LAMBDA_MEMORY_ENV)
            where = (f"the function has {memory} MB ({LAMBDA_MEMORY_ENV}); raise {prefix}MemorySize in "
                     "template.yaml" if memory else
                     f"raise this machine's memory share per worker ({DRIVER_MEMORY_ENV}, fewer workers)")
            return MemoryLimitError(f"the Spark JVM was killed (SIGKILL), most likely for memory: {where}, "
                                    f"or make the tasks smaller (task_bytes, split_bytes); it was running: {exc}")
        return RetryableTaskError(f"the Spark JVM exited with code {code}; it was running: {exc}")
    if _in_chain(exc, _is_disk_full):
        tmp = tempfile.gettempdir()
        return PlatformError(f"no space left in {tmp}: a task stages its inputs, Spark's scratch files and its "
                             f"output there; raise {prefix}EphemeralStorage in template.yaml (the function's /tmp) "
                             f"or make the tasks smaller (task_bytes, split_bytes): {exc}")
    return exc


def _in_chain(exc: BaseException | None, test) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if test(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _is_lost_connection(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionError) or type(exc).__name__ == "Py4JNetworkError" \
        or "Connection refused" in str(exc) or "Answer from Java side is empty" in str(exc)


def _is_disk_full(exc: BaseException) -> bool:
    return (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left on device" in str(exc)


def _discard_session() -> None:
    """Forget a session whose JVM is gone (pyspark would otherwise keep handing it out)."""
    global _session
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    proc = getattr(SparkContext._gateway, "proc", None)
    if proc is not None and proc.poll() is None:
        proc.kill()
    _session = None
    SparkContext._active_spark_context = None
    SparkSession._instantiatedSession = None
    SparkSession._activeSession = None
    _forget_gateway()


def _forget_gateway() -> None:
    """pyspark keeps its gateway after the JVM is gone and would reuse it: drop it, so the
    next session starts a JVM of its own."""
    from pyspark import SparkContext

    SparkContext._gateway = None
    SparkContext._jvm = None

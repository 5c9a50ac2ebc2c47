"""Starting the Spark driver JVM directly, not through ``bin/spark-submit``.

pyspark starts its JVM with ``spark-submit``: two bash scripts, then a launcher JVM that
prints the real ``java`` command, then that command; and it looks for the gateway's port
file every 0.1 s. That costs about 0.2 s of a 2 s cold start (measured: the driver JVM
started 0.2 s after pyspark asked for it). For the settings the engine passes, the
command is known, so :func:`start` runs it at once and returns without waiting: the
caller stages inputs and imports code while the JVM boots, then :meth:`Launch.connect`.

Whatever this module does not reproduce falls back to ``spark-submit`` (``start`` returns
None): a conf dir with ``spark-env.sh``, ``spark-defaults.conf`` or ``java-opts``, the
environment variables the scripts read (``SPARK_SUBMIT_OPTS``, ``HADOOP_CONF_DIR``, ...),
driver class or library paths, jars other than Spark 4's, or ``LMR_SPARK_LAUNCH=submit``.
``tests/integration/test_gateway.py`` compares the command with the one Spark's launcher prints.
"""

from __future__ import annotations

import glob
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
import time

from . import jvm

log = logging.getLogger(__name__)

LAUNCH_ENV = "LMR_SPARK_LAUNCH"   # "direct" (default) or "submit" (pyspark's own way)

# Spark 4's org.apache.spark.launcher.JavaModuleOptions.defaultModuleOptions(), which the
# launcher adds to every driver command, then the one option it adds after them.
MODULE_OPTIONS = (
    "-XX:+IgnoreUnrecognizedVMOptions",
    "--add-modules=jdk.incubator.vector",
    *(f"--add-opens={module}=ALL-UNNAMED" for module in (
        "java.base/java.lang", "java.base/java.lang.invoke", "java.base/java.lang.reflect",
        "java.base/java.io", "java.base/java.net", "java.base/java.nio", "java.base/java.util",
        "java.base/java.util.concurrent", "java.base/java.util.concurrent.atomic",
        "java.base/jdk.internal.ref", "java.base/sun.nio.ch", "java.base/sun.nio.cs",
        "java.base/sun.security.action", "java.base/sun.util.calendar",
        "java.security.jgss/sun.security.krb5")),
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.type=pooled",
    "-Dio.netty.handler.ssl.defaultEndpointVerificationAlgorithm=NONE",
    "--sun-misc-unsafe-memory-access=allow",
    "--enable-native-access=ALL-UNNAMED",
    "-Dderby.connection.requireAuthentication=false",
)
# What the scripts or the launcher would read and this module does not.
_SCRIPT_ENV = ("SPARK_CONF_DIR", "SPARK_SUBMIT_OPTS", "SPARK_DIST_CLASSPATH", "SPARK_PREPEND_CLASSES",
               "HADOOP_CONF_DIR", "YARN_CONF_DIR", "PYSPARK_SUBMIT_ARGS", "SPARK_ENV_LOADED")
_CONF_FILES = ("spark-env.sh", "spark-defaults.conf", "java-opts")
_DRIVER_PATHS = ("spark.driver.extraClassPath", "spark.driver.defaultExtraClassPath",
                 "spark.driver.extraLibraryPath", "spark.driver.defaultJavaOptions")


def why_not_direct(conf: dict[str, str], home: str | None) -> str | None:
    """Why this conf and environment need spark-submit (None: the direct command is exact)."""
    if os.environ.get(LAUNCH_ENV, "direct") == "submit":
        return f"{LAUNCH_ENV}=submit"
    if home is None:
        return "no pyspark installed"
    if not glob.glob(os.path.join(home, "jars", "spark-core_*-4.*.jar")):
        return f"no Spark 4 jars in {home}/jars (the direct command is Spark 4's)"
    if jvm.java_path() is None:
        return "no java found (JAVA_HOME or PATH)"
    for name in _SCRIPT_ENV:
        if os.environ.get(name):
            return f"{name} is set"
    for name in _CONF_FILES:
        if os.path.exists(os.path.join(home, "conf", name)):
            return f"{os.path.join(home, 'conf', name)} exists"
    for key in _DRIVER_PATHS:
        if key in conf:
            return f"{key} is set"
    return None


def command(conf: dict[str, str], home: str) -> list[str]:
    """The driver command Spark's launcher builds for ``pyspark-shell`` with this conf."""
    jars = os.path.join(home, "jars")
    # The launcher puts slf4j's API jar first, so that its binding is found before others'.
    slf4j = sorted(glob.glob(os.path.join(jars, "slf4j-api-*.jar")))
    classpath = ":".join([os.path.join(home, "conf"), *slf4j[:1], os.path.join(jars, "*")])
    memory = conf.get("spark.driver.memory") or os.environ.get("SPARK_DRIVER_MEMORY") \
        or os.environ.get("SPARK_MEM") or "1g"
    submit_args = [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]
    return [jvm.java_path(), "-cp", classpath, f"-Xmx{memory}",
            *shlex.split(conf.get("spark.driver.extraJavaOptions", "")), *MODULE_OPTIONS,
            "org.apache.spark.deploy.SparkSubmit", *submit_args, "pyspark-shell"]


class Launch:
    """A driver JVM on its way up: :meth:`connect` waits for its py4j gateway."""

    def __init__(self, conf: dict[str, str], home: str):
        self._folder = tempfile.mkdtemp(prefix="lmr-gateway-")
        self._info = os.path.join(self._folder, "conn-info")
        env = {**os.environ,
               # What bin/spark-submit and load-spark-env.sh export for a pip-installed pyspark.
               "SPARK_HOME": home, "SPARK_CONF_DIR": os.path.join(home, "conf"),
               "SPARK_ENV_LOADED": "1", "SPARK_SCALA_VERSION": "2.13", "PYTHONHASHSEED": "0",
               # What pyspark's launch_gateway sets: classic Spark, where to write the port.
               "SPARK_CONNECT_MODE": "0", "_PYSPARK_DRIVER_CONN_INFO_PATH": self._info}
        # stdin is a pipe: the gateway exits on its EOF, so the JVM dies with this process.
        # Its own session: a Ctrl-C meant for this process does not reach it (pyspark ignores
        # SIGINT in a preexec_fn instead, which is unsafe once threads run, as in a worker).
        self.proc = subprocess.Popen(command(conf, home), stdin=subprocess.PIPE, env=env,
                                     start_new_session=True)

    def connect(self, timeout: float = 300.0):
        """The gateway, as pyspark's ``launch_gateway`` returns it (with ``proc`` set)."""
        from pyspark.errors import PySparkRuntimeError
        from pyspark.java_gateway import launch_gateway
        from pyspark.serializers import UTF8Deserializer, read_int

        deadline = time.monotonic() + timeout
        try:
            # The JVM writes the file under another name and renames it: whole once seen.
            while not os.path.isfile(self._info):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.proc.kill()
                    raise PySparkRuntimeError(errorClass="JAVA_GATEWAY_EXITED", messageParameters={})
                time.sleep(0.005)
            with open(self._info, "rb") as info:
                port, secret = read_int(info), UTF8Deserializer().loads(info)
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)
        # pyspark connects to a gateway it did not start when these are set; they are
        # read here only (the JVM's own environment was fixed when it started).
        saved = {name: os.environ.get(name) for name in ("PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET")}
        os.environ.update(PYSPARK_GATEWAY_PORT=str(port), PYSPARK_GATEWAY_SECRET=secret)
        try:
            gateway = launch_gateway()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        gateway.proc = self.proc
        return gateway


def start(conf: dict[str, str]) -> Launch | None:
    """Start the driver JVM for this conf, or None if only spark-submit can (see above)."""
    home = jvm.spark_home()
    reason = why_not_direct(conf, home)
    if reason:
        log.info("starting Spark with spark-submit: %s", reason)
        return None
    return Launch(conf, home)

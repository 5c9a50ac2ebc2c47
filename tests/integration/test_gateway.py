"""The Spark driver JVM started directly (engine/spark/gateway.py), with real JVMs: its command is
the one Spark's own launcher builds; sessions started either way work; a JVM that dies
while starting is reported, and the next start works; the start's warm-up reaches Spark."""

from __future__ import annotations

import os
import subprocess
import sys

from engine.spark import gateway, jvm, session
from tests.conftest import REPO


def launcher_command(conf: dict[str, str], home: str) -> list[str]:
    """What bin/spark-class would exec: Spark's launcher prints a NUL line, then it, NUL-separated."""
    args = [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]
    env = {**os.environ, "SPARK_HOME": home, "SPARK_CONF_DIR": os.path.join(home, "conf"),
           "SPARK_SCALA_VERSION": "2.13", "SPARK_ENV_LOADED": "1"}
    out = subprocess.run([jvm.java_path(), "-Xmx128m", "-cp", os.path.join(home, "jars", "*"),
                          "org.apache.spark.launcher.Main", "org.apache.spark.deploy.SparkSubmit",
                          *args, "pyspark-shell"], env=env, capture_output=True, check=True).stdout
    return [arg for arg in out.decode().split("\0\n", 1)[1].split("\0") if arg]


def split(command: list[str]) -> tuple[list[str], set[str]]:
    """(the JVM's arguments up to the main class, the --conf pairs after it: in map order)."""
    main = command.index("org.apache.spark.deploy.SparkSubmit")
    rest = command[main + 1:]
    assert rest[-1] == "pyspark-shell"
    return command[:main + 1], set(rest[1:-1:2])


def test_the_direct_command_is_the_one_sparks_launcher_builds(tmp_path):
    conf = {**session.base_conf(tmp_root=str(tmp_path), profile="startup"),
            "spark.driver.memory": "700m", "spark.sql.shuffle.partitions": "3",
            "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -Dlmr.probe='a b'"}
    home = jvm.spark_home()
    assert gateway.why_not_direct(conf, home) is None
    ours, theirs = split(gateway.command(conf, home)), split(launcher_command(conf, home))
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]
    assert "-Xmx700m" in ours[0] and "-Dlmr.probe=a b" in ours[0]


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(REPO), **env})


QUERY_BOTH_WAYS = """
from pyspark import SparkContext
from engine.spark import session
for attempt in range(2):   # a second session after the first one's JVM exited
    spark = session.get_spark()
    print(session.is_started(), SparkContext._gateway.proc.args[0],
          spark.range(1000).selectExpr("sum(id)").first()[0])
    session.stop_spark()
"""


def test_a_directly_started_session_works_and_restarts_after_stop():
    done = run_python(QUERY_BOTH_WAYS)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        started, program, total = line.split()
        assert started == "True" and os.path.basename(program) == "java" and int(total) == sum(range(1000))


def test_spark_submit_still_starts_a_session_when_asked_to():
    done = run_python(QUERY_BOTH_WAYS, LMR_SPARK_LAUNCH="submit")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        started, program, total = line.split()
        assert program.endswith("bin/spark-submit") and int(total) == sum(range(1000))


def test_a_jvm_that_dies_while_starting_is_reported_and_the_next_start_works():
    code = """
from engine.spark import session
try:
    session.get_spark({"spark.driver.memory": "lots"})
except Exception as exc:
    print("failed:", type(exc).__name__, exc)
spark = session.get_spark()
print("then:", spark.range(10).count())
"""
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    failed, then = done.stdout.splitlines()[-2:]
    assert failed.startswith("failed: PySparkRuntimeError") and "JAVA_GATEWAY_EXITED" in failed
    assert then == "then: 10"
    assert "Invalid maximum heap size: -Xmxlots" in done.stderr   # the JVM's own reason reaches the user


def test_every_warm_up_step_reaches_the_spark_it_runs_against(spark):
    """The warm-up names Spark internals; one renamed by a Spark upgrade shows here, not as
    a start that is quietly slower again."""
    from pyspark import SparkContext

    assert session._warm_up(SparkContext._gateway) == []

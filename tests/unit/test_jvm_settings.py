"""JVM profile and class-archive choices (no JVM is started here)."""

from __future__ import annotations

import os

import pytest

from engine.spark import cds, gateway, jvm, session

MB = 2**20


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    for var in (session.JVM_PROFILE_ENV, cds.CDS_ENV, cds.ARCHIVE_ENV, cds.CACHE_ENV):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(session, "_expected_bytes", None)
    monkeypatch.setattr(cds, "_caching", False)
    monkeypatch.setattr(cds, "_pending", None)


def test_auto_picks_startup_for_a_small_one_shot_workload_and_throughput_otherwise():
    assert session.jvm_profile(workload_bytes=10 * MB) == "startup"
    assert session.jvm_profile(workload_bytes=128 * MB) == "startup"
    assert session.jvm_profile(workload_bytes=128 * MB + 1) == "throughput"
    assert session.jvm_profile() == "throughput"            # unknown workload: steady speed


def test_a_workers_expected_share_outweighs_its_first_small_task():
    session.expect_workload(400 * MB)
    assert session.jvm_profile(workload_bytes=1 * MB) == "throughput"


def test_an_explicit_profile_wins_and_a_bad_one_is_named(monkeypatch):
    monkeypatch.setenv(session.JVM_PROFILE_ENV, "startup")
    assert session.jvm_profile(workload_bytes=10**12) == "startup"
    monkeypatch.setenv(session.JVM_PROFILE_ENV, "fast")
    with pytest.raises(ValueError, match="LMR_JVM_PROFILE must be one of auto, startup, throughput, not 'fast'"):
        session.jvm_profile()


def test_startup_profile_flags(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert "-XX:TieredStopAtLevel=1" in session.jvm_options("startup")
    assert "-XX:CICompilerCount=1" in session.jvm_options("startup")
    assert "-XX:TieredStopAtLevel=1" not in session.jvm_options("throughput")
    assert "CICompilerCount" not in session.jvm_options("throughput")
    monkeypatch.setattr(os, "cpu_count", lambda: 8)   # a compiler thread no longer costs the start a core
    assert "CICompilerCount" not in session.jvm_options("startup")


def test_archive_flags_use_an_existing_archive_write_a_missing_one_or_stay_off(tmp_path, monkeypatch):
    monkeypatch.setenv(cds.CACHE_ENV, str(tmp_path))
    assert cds.archive_flags() == []                        # not a caching worker: nothing
    cds.use_local_cache()
    path = cds.cached_archive()
    assert path is not None and path.startswith(str(tmp_path))
    [flag] = cds.archive_flags()                            # no archive yet: write one at exit
    assert flag.startswith("-XX:ArchiveClassesAtExit=") and flag.endswith(".tmp")
    written = flag.split("=", 1)[1]
    open(written, "wb").write(b"archive")
    assert cds.commit_archive() == path and os.path.isfile(path) and not os.path.exists(written)
    assert cds.archive_flags() == [f"-XX:SharedArchiveFile={path}"]
    monkeypatch.setenv(cds.CDS_ENV, "off")
    assert cds.archive_flags() == []


def test_an_empty_archive_from_a_killed_jvm_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setenv(cds.CACHE_ENV, str(tmp_path))
    cds.use_local_cache()
    [flag] = cds.archive_flags()
    open(flag.split("=", 1)[1], "wb").close()               # the JVM died while writing
    assert cds.commit_archive() is None and os.listdir(tmp_path) == []


def test_the_image_archive_is_used_only_if_present(tmp_path, monkeypatch):
    monkeypatch.setenv(cds.ARCHIVE_ENV, str(tmp_path / "spark.jsa"))
    assert cds.archive_flags() == []
    (tmp_path / "spark.jsa").write_bytes(b"x")
    assert cds.archive_flags() == [f"-XX:SharedArchiveFile={tmp_path / 'spark.jsa'}"]


def test_half_written_archives_of_dead_processes_are_removed_live_ones_kept(tmp_path, monkeypatch):
    import subprocess

    monkeypatch.setenv(cds.CACHE_ENV, str(tmp_path))
    final = cds.cached_archive()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / f"{os.path.basename(final)}.{dead.pid}.tmp").write_bytes(b"half")
    (tmp_path / f"{os.path.basename(final)}.{os.getppid()}.tmp").write_bytes(b"writing")
    (tmp_path / "unrelated.tmp").write_bytes(b"x")
    cds.use_local_cache()
    cds.archive_flags()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{os.path.basename(final)}.{os.getppid()}.tmp", "unrelated.tmp"])


@pytest.fixture()
def spark_home(tmp_path, monkeypatch):
    """A SPARK_HOME with Spark 4's jar names, and none of what makes spark-submit necessary."""
    for var in ("LMR_SPARK_LAUNCH", *gateway._SCRIPT_ENV):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "jars").mkdir()
    for name in ("spark-core_2.13-4.3.0.jar", "slf4j-api-2.0.17.jar", "scala-library-2.13.18.jar"):
        (tmp_path / "jars" / name).write_bytes(b"")
    monkeypatch.setenv("SPARK_HOME", str(tmp_path))
    monkeypatch.setattr(jvm, "java_path", lambda: "/opt/jdk/bin/java")
    return tmp_path


def test_the_direct_command_carries_the_conf_memory_and_java_options(spark_home):
    conf = {"spark.master": "local[2]", "spark.driver.memory": "700m",
            "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -Dx='a b'"}
    assert jvm.spark_home() == str(spark_home)
    assert gateway.why_not_direct(conf, str(spark_home)) is None
    cmd = gateway.command(conf, str(spark_home))
    jars = spark_home / "jars"
    assert cmd[:4] == ["/opt/jdk/bin/java", "-cp", f"{spark_home}/conf:{jars}/slf4j-api-2.0.17.jar:{jars}/*",
                       "-Xmx700m"]
    assert cmd[4:6] == ["-XX:+UseSerialGC", "-Dx=a b"]   # quoted as the launcher parses it
    main = cmd.index("org.apache.spark.deploy.SparkSubmit")
    assert cmd[main + 1:] == ["--conf", "spark.master=local[2]", "--conf", "spark.driver.memory=700m",
                              "--conf", "spark.driver.extraJavaOptions=-XX:+UseSerialGC -Dx='a b'",
                              "pyspark-shell"]


@pytest.mark.parametrize("setup, reason", [
    (lambda home, mp: mp.setenv("LMR_SPARK_LAUNCH", "submit"), "LMR_SPARK_LAUNCH=submit"),
    (lambda home, mp: mp.setenv("SPARK_SUBMIT_OPTS", "-Dx=1"), "SPARK_SUBMIT_OPTS is set"),
    (lambda home, mp: mp.setenv("HADOOP_CONF_DIR", "/etc/hadoop"), "HADOOP_CONF_DIR is set"),
    (lambda home, mp: (home / "conf").mkdir() or (home / "conf" / "spark-env.sh").write_text("X=1"),
     "conf/spark-env.sh exists"),
    (lambda home, mp: (home / "conf").mkdir() or (home / "conf" / "spark-defaults.conf").write_text(""),
     "conf/spark-defaults.conf exists"),
    (lambda home, mp: (home / "jars" / "spark-core_2.13-4.3.0.jar").rename(home / "jars" / "spark-core_2.13-3.5.1.jar"),
     "no Spark 4 jars"),
    (lambda home, mp: mp.setattr(jvm, "java_path", lambda: None), "no java found"),
])
def test_what_the_direct_command_does_not_reproduce_falls_back_to_spark_submit(spark_home, monkeypatch, setup, reason):
    setup(spark_home, monkeypatch)
    assert reason in gateway.why_not_direct({}, str(spark_home))
    assert gateway.start({}) is None


def test_a_driver_class_path_falls_back_to_spark_submit(spark_home):
    conf = {"spark.driver.extraClassPath": "/opt/extra.jar"}
    assert gateway.why_not_direct(conf, str(spark_home)) == "spark.driver.extraClassPath is set"

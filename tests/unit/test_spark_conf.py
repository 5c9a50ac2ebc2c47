"""A manifest's spark_conf: an allow-list of tuning keys, merged under the engine's JVM flags."""

from __future__ import annotations

import json

import pytest

from engine.errors import ManifestError
from engine.job.manifest import load_manifest
from engine.spark import gateway, session
from engine.job.spark_conf import ALLOW_ENV, merged
from tests.unit.test_jvm_settings import spark_home  # noqa: F401  (fixture)

GOOD = {"name": "conf", "mapper": "jobs.crawl:ExtractDocuments", "reducer": "jobs.crawl:P90ContentLengthByLanguage",
        "input": {"files": ["a.jsonl"]}, "output": {"path": "out"}}

# One key of each family a manifest must never set, as the issue lists them.
FORBIDDEN = {
    "JVM options": ("spark.driver.extraJavaOptions", "-javaagent:/tmp/evil.jar"),
    "executor JVM options": ("spark.executor.extraJavaOptions", "-XX:OnOutOfMemoryError=sh"),
    "class path": ("spark.driver.extraClassPath", "/tmp/evil"),
    "jars": ("spark.jars", "https://example.com/evil.jar"),
    "packages": ("spark.jars.packages", "evil:evil:1.0"),
    "repositories": ("spark.jars.repositories", "https://example.com/m2"),
    "plugins": ("spark.plugins", "evil.Plugin"),
    "SQL extensions": ("spark.sql.extensions", "evil.Extension"),
    "listeners": ("spark.extraListeners", "evil.Listener"),
    "query listeners": ("spark.sql.queryExecutionListeners", "evil.Listener"),
    "committer class": ("spark.sql.parquet.output.committer.class", "evil.Committer"),
    "master": ("spark.master", "spark://evil:7077"),
    "Python executable": ("spark.pyspark.python", "/tmp/evil"),
    "driver Python": ("spark.pyspark.driver.python", "/tmp/evil"),
    "environment variables": ("spark.executorEnv.LD_PRELOAD", "/tmp/evil.so"),
    "log configuration": ("spark.log.level", "ALL"),
    "UI": ("spark.ui.enabled", "true"),
    "proxy": ("spark.ui.proxyBase", "/evil"),
    "driver memory": ("spark.driver.memory", "100g"),
    "files": ("spark.files", "/etc/passwd"),
}


def problems(tmp_path, conf: dict) -> list[str]:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({**GOOD, "spark_conf": conf}))
    with pytest.raises(ManifestError) as info:
        load_manifest(str(path), check_classes=False)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("family", list(FORBIDDEN))
def test_each_forbidden_family_is_refused_with_the_field_named(tmp_path, family):
    key, value = FORBIDDEN[family]
    assert problems(tmp_path, {key: value}) == [
        f"spark_conf.{key}: {key!r} is not an allowed Spark setting: spark_conf takes tuning keys only "
        f"(SQL, shuffle, adaptive execution, time zone, memory fractions); an operator can allow more "
        f"with {ALLOW_ENV}"]


def test_an_allowed_key_takes_only_a_plain_value(tmp_path):
    assert problems(tmp_path, {"spark.sql.session.timeZone": "UTC -Dx=1"}) == [
        "spark_conf.spark.sql.session.timeZone: 'UTC -Dx=1' is not a plain value (letters, digits and "
        ". _ : / + - only)"]


def test_allowed_keys_pass_and_an_operator_can_allow_more(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    conf = {"spark.sql.shuffle.partitions": 8, "spark.sql.session.timeZone": "Europe/Paris",
            "spark.sql.adaptive.enabled": True}
    path.write_text(json.dumps({**GOOD, "spark_conf": conf}))
    spec = load_manifest(str(path), check_classes=False)
    assert spec.spark_conf == {"spark.sql.shuffle.partitions": "8", "spark.sql.session.timeZone": "Europe/Paris",
                               "spark.sql.adaptive.enabled": "true"}
    path.write_text(json.dumps({**GOOD, "spark_conf": {"spark.kryoserializer.buffer.max": "128m"}}))
    with pytest.raises(ManifestError):
        load_manifest(str(path), check_classes=False)
    monkeypatch.setenv(ALLOW_ENV, "spark.kryoserializer.buffer.max")
    assert load_manifest(str(path), check_classes=False).spark_conf == {"spark.kryoserializer.buffer.max": "128m"}


def test_allowed_settings_never_replace_the_engines_jvm_flags(spark_home, monkeypatch):  # noqa: F811
    engine = session.base_conf(cores=2, memory="700m", tmp_root=str(spark_home / "tmp"))
    conf = merged(engine, {"spark.sql.shuffle.partitions": "7"})
    assert conf["spark.sql.shuffle.partitions"] == "7"          # the job's tuning applies
    cmd = gateway.command(conf, str(spark_home))
    for flag in engine["spark.driver.extraJavaOptions"].split():
        assert flag in cmd                                      # every engine flag reaches the JVM
    # Even a JVM flag an operator allowed is added before the engine's, which win.
    conf = merged(engine, {"spark.driver.extraJavaOptions": "-XX:+UseParallelGC"})
    cmd = gateway.command(conf, str(spark_home))
    assert cmd.index("-XX:+UseParallelGC") < cmd.index("-XX:+UseSerialGC")
    assert conf["spark.master"] == engine["spark.master"] and conf["spark.driver.memory"] == "700m"

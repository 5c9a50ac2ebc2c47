"""The hashes of a job's code (engine/job/fingerprints.py): which edits change which hash.
The job's module is written into a temporary package and edited as a user would."""

from __future__ import annotations

import importlib
import sys

import pytest

from engine.job.fingerprints import code_fingerprints

PACKAGE = "lmrprintjobs"

SOURCE = '''
from engine import Mapper, Reducer

LIMIT = 10


def clean(df):
    return df


class Words(Mapper):
    def map(self, df, ctx):
        return clean(df).limit(LIMIT)


class Count(Reducer):
    def reduce(self, df, ctx):
        return df.groupBy("word").count()


class Other(Reducer):
    def reduce(self, df, ctx):
        return df
'''


@pytest.fixture
def module(tmp_path, monkeypatch):
    (tmp_path / PACKAGE).mkdir()
    (tmp_path / PACKAGE / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("LMR_JOB_PACKAGES", PACKAGE)
    importlib.invalidate_caches()
    path = tmp_path / PACKAGE / "wc.py"

    def write(source: str) -> dict[str, str]:
        path.write_text(source)
        return code_fingerprints(f"{PACKAGE}.wc:Words", f"{PACKAGE}.wc:Count")
    yield write
    for name in [m for m in sys.modules if m.startswith(PACKAGE)]:   # found in this test's folder only
        del sys.modules[name]


def test_editing_a_reducer_keeps_the_mappers_hash(module):
    before = module(SOURCE)
    after = module(SOURCE.replace('groupBy("word").count()', 'groupBy("word").count().limit(5)'))
    assert after["mapper"] == before["mapper"] and after["combiner"] == before["combiner"]
    assert after["reducer"] != before["reducer"]
    # Another Reducer of the module, too: the Mapper's key does not depend on which one runs.
    assert module(SOURCE.replace("        return df\n", "        return df.distinct()\n"))["mapper"] == before["mapper"]


@pytest.mark.parametrize("edit", [
    ("return clean(df).limit(LIMIT)", "return clean(df).limit(LIMIT + 1)"),   # the Mapper itself
    ("LIMIT = 10", "LIMIT = 11"),                                             # a constant it uses
    ("def clean(df):\n    return df", "def clean(df):\n    return df.dropna()"),   # a helper it calls
])
def test_editing_the_mapper_or_what_it_uses_changes_its_hash(module, edit):
    before = module(SOURCE)
    after = module(SOURCE.replace(*edit))
    assert after["mapper"] != before["mapper"]


COMBINING = SOURCE.replace('''class Count(Reducer):
''', '''class Count(Reducer):
    def setup(self, ctx):
        self.weight = 1

    def combine(self, df, ctx):
        return df.groupBy("word").count()

''')


def test_a_reducer_without_a_combiner_shapes_map_output_only_by_its_buckets(module):
    plain = module(SOURCE)
    assert plain["combiner"] == module(SOURCE.replace('groupBy("word").count()', 'distinct()'))["combiner"]
    assert module(COMBINING)["combiner"] != plain["combiner"]
    partitioned = SOURCE.replace("class Count(Reducer):\n", "class Count(Reducer):\n    partition_by = (\"word\",)\n")
    by_word = module(partitioned)
    # Another reduce over the same buckets reuses the map tasks (no combine to run there).
    assert module(partitioned.replace('groupBy("word").count()', 'distinct()'))["combiner"] == by_word["combiner"]


@pytest.mark.parametrize("edit", [
    ('def combine(self, df, ctx):\n        return df.groupBy("word").count()',
     'def combine(self, df, ctx):\n        return df.groupBy("word").count().limit(9)'),   # combine itself
    ("self.weight = 1", "self.weight = 1000"),             # setup, whose objects combine may use
    ("LIMIT = 10", "LIMIT = 11"),                           # a module constant or helper
])
def test_with_a_combiner_what_combine_may_use_changes_the_combiner_hash(module, edit):
    """Editing only setup (a weight from 1 to 1000) must not reuse map tasks: when in
    doubt, miss. (Editing reduce of a combining Reducer misses too.)"""
    before = module(COMBINING)
    assert module(COMBINING.replace(*edit))["combiner"] != before["combiner"]


def test_a_helper_module_of_the_job_package_is_in_the_hashes(module, tmp_path):
    helper = tmp_path / PACKAGE / "helpers.py"
    helper.write_text("def clean(df):\n    return df\n")
    source = SOURCE.replace("def clean(df):\n    return df\n", f"from {PACKAGE}.helpers import clean\n")
    before = module(source)
    helper.write_text("def clean(df):\n    return df.dropna()\n")
    after = module(source)
    assert after["mapper"] != before["mapper"] and after["reducer"] != before["reducer"]


def test_changed_code_is_a_new_job(module, tmp_path):
    from engine.job.manifest import ManifestParser

    def job_id(source: str) -> str:
        module(source)
        data = {"name": "words", "mapper": f"{PACKAGE}.wc:Words", "reducer": f"{PACKAGE}.wc:Count",
                "input": {"files": [str(tmp_path / "in.txt")]}, "output": {"path": str(tmp_path / "out")}}
        return ManifestParser("m.json", None, check_classes=False).parse(data).job_id

    same = job_id(SOURCE)
    assert job_id(SOURCE) == same
    assert job_id(SOURCE.replace("LIMIT = 10", "LIMIT = 12")) != same
    assert job_id(SOURCE.replace('groupBy("word").count()', 'groupBy("word").count().limit(5)')) != same


def test_partition_by_is_in_the_combiner_hash(module):
    """It decides which bucket a map task writes a row to, like combine decides the rows."""
    plain = module(SOURCE)
    partitioned = SOURCE.replace("class Count(Reducer):\n", "class Count(Reducer):\n    partition_by = (\"word\",)\n")
    by_word = module(partitioned)
    assert by_word["combiner"] != plain["combiner"]
    assert module(partitioned.replace('("word",)', '("word", "file")'))["combiner"] != by_word["combiner"]


def test_the_engine_hash_covers_the_whole_engine_package(tmp_path, monkeypatch):
    """Readers, splits and tasks shape a task's output as much as engine/job does."""
    import shutil

    from engine.job import fingerprints

    copy = tmp_path / "engine"
    shutil.copytree(fingerprints._ENGINE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprints, "_ENGINE_DIR", str(copy))
    fingerprints.engine_fingerprint.cache_clear()
    before = fingerprints.engine_fingerprint()
    splits = copy / "store" / "splits.py"
    splits.write_text(splits.read_text() + "\n# a changed splitter\n")
    fingerprints.engine_fingerprint.cache_clear()
    assert fingerprints.engine_fingerprint() != before
    fingerprints.engine_fingerprint.cache_clear()


def test_the_runtime_hash_follows_java_and_the_libraries(tmp_path, monkeypatch):
    from importlib import metadata

    from engine.job import fingerprints

    java = tmp_path / "jdk"
    java.mkdir()
    (java / "release").write_text('JAVA_VERSION="17.0.15"\n')
    monkeypatch.setenv("JAVA_HOME", str(java))
    fingerprints.runtime_fingerprint.cache_clear()
    before = fingerprints.runtime_fingerprint()
    (java / "release").write_text('JAVA_VERSION="21.0.4"\n')
    fingerprints.runtime_fingerprint.cache_clear()
    newer_java = fingerprints.runtime_fingerprint()
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "99.0" if name == "pyarrow" else real(name))
    fingerprints.runtime_fingerprint.cache_clear()
    newer_arrow = fingerprints.runtime_fingerprint()
    fingerprints.runtime_fingerprint.cache_clear()
    assert len({before, newer_java, newer_arrow}) == 3

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


def test_the_combiner_hash_follows_only_combine(module):
    plain = module(SOURCE)
    combining = SOURCE.replace('''class Count(Reducer):
''', '''class Count(Reducer):
    def combine(self, df, ctx):
        return df.groupBy("word").count()

''')
    with_combine = module(combining)
    assert with_combine["combiner"] != plain["combiner"]
    edited_reduce = module(combining.replace('return df.groupBy("word").count()\n\n\nclass Other',
                                             'return df.groupBy("word").count().limit(3)\n\n\nclass Other'))
    assert edited_reduce["combiner"] == with_combine["combiner"]
    edited_combine = module(combining.replace('def combine(self, df, ctx):\n        return df.groupBy("word").count()',
                                              'def combine(self, df, ctx):\n        return df.groupBy("word").count().limit(9)'))
    assert edited_combine["combiner"] != with_combine["combiner"]


def test_changed_code_is_a_new_job(module, tmp_path):
    from engine.job.spec import ManifestParser

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
    assert module(partitioned.replace('groupBy("word").count()', 'groupBy("word").count().limit(2)'))["combiner"] \
        == by_word["combiner"]

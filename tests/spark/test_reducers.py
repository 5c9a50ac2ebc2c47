"""More than one reducer ("reducers": R), locally with real Spark: the output is the same
for R = 1, 3 and 7 and matches plain Python; rows go to reduce task pmod(hash(key), R)
as Spark computes it; skew is correct and shows in the report; "auto" picks R from the
intermediate bytes; a failed reduce task is resumed alone."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from engine.job.layout import JobLayout
from engine.store.storage import Storage
from tests.conftest import run_local
from tests.oracles import word_counts
from tests.snapshots import snapshot


def wordcount(samples: Path, reducer: str = "jobs.wordcount:SumCountsPerWord", **fields) -> dict:
    files = sorted((samples / "wordcount").glob("*.txt"))
    return {"name": "wc-reducers", "mapper": "jobs.wordcount:SplitWords", "reducer": reducer,
            "input": {"files": [str(f) for f in files]}, "task_bytes": 1, **fields}


def published(out: Path) -> dict[str, pd.DataFrame]:
    """name -> rows of every file the destination's _SUCCESS lists (and nothing else is there)."""
    marker = json.loads((out / "_SUCCESS").read_text())
    assert sorted(p.name for p in out.iterdir()) == sorted([*marker["files"], "_SUCCESS"])
    return {name: pd.read_csv(out / name, keep_default_na=False) for name in marker["files"]}


def counts(out: Path) -> dict[str, int]:
    got = pd.concat(published(out).values())
    assert not got["word"].duplicated().any(), "a word is in two reduce tasks' output"
    return dict(zip(got["word"], got["count"]))


@pytest.mark.parametrize("reducers", [1, 3, 7])
def test_word_count_is_the_same_with_1_3_and_7_reducers(samples, tmp_path, reducers):
    files = sorted((samples / "wordcount").glob("*.txt"))
    status, spec, events = run_local(wordcount(samples, reducers=reducers), tmp_path,
                                     output={"path": str(tmp_path / "out")})
    assert status.state == "SUCCEEDED", status.reason
    expected = word_counts(files)
    assert counts(tmp_path / "out") == dict(expected)
    if reducers == 1:
        assert status.partitions == [] and not (Path(JobLayout(spec.work_dir, spec.job_id).job_dir) / "reduce").exists()
        return
    assert [p.partition for p in status.partitions] == list(range(reducers))
    assert sum(p.rows_out for p in status.partitions) == status.reduce.rows_out == len(expected)
    assert [e["event"] for e in events].count("partition_done") == reducers
    # Each map task wrote a file per bucket, and its marker lists them.
    for marker in Path(spec.work_dir).glob("jobs/*/intermediate/*/_COMMITTED.*"):
        parts = json.loads(marker.read_text())["parts"]
        assert sorted(int(re.search(r"bucket-(\d+)-", p)[1]) for p in parts) == list(range(reducers))


def test_a_row_goes_to_the_reduce_task_sparks_hash_of_its_key_names(samples, tmp_path, spark):
    from pyspark.sql import functions as F

    status, _, _ = run_local(wordcount(samples, reducers=3), tmp_path, output={"path": str(tmp_path / "out")})
    assert status.state == "SUCCEEDED", status.reason
    for name, rows in published(tmp_path / "out").items():
        partition = int(re.match(r"r(\d+)-", name)[1])
        words = spark.createDataFrame([(w,) for w in rows["word"]], "word STRING")
        assert {r.b for r in words.select(F.pmod(F.hash("word"), F.lit(3)).alias("b")).distinct().collect()} \
            == {partition}, name


@pytest.mark.parametrize("reducers", [1, 3, 7])
def test_a_join_per_key_in_the_reducer_is_the_same_with_1_3_and_7_reducers(samples, tmp_path, reducers):
    files = sorted((samples / "wordcount").glob("*.txt"))
    expected = word_counts(files)
    # A lookup table for about half of the words: a join the reducer does per key.
    lookup = {w: ("short" if len(w) < 5 else "long") for i, w in enumerate(sorted(expected)) if i % 2 == 0}
    table = tmp_path / "lookup.csv"
    table.write_text("word,group\n" + "".join(f"{w},{g}\n" for w, g in lookup.items()))
    status, _, _ = run_local(wordcount(samples, "tests.testjobs:JoinWordGroups", reducers=reducers,
                                       params={"lookup": str(table)}),
                             tmp_path, output={"path": str(tmp_path / "out")})
    assert status.state == "SUCCEEDED", status.reason
    got = pd.concat(published(tmp_path / "out").values())
    assert sorted(zip(got["word"], got["count"], got["group"])) == \
        sorted((w, n, lookup.get(w, "none")) for w, n in expected.items())


def test_one_key_with_90_percent_of_the_rows_is_correct_and_the_report_shows_the_skew(tmp_path):
    words = ["hot"] * 9000 + [f"w{i}" for i in range(1000)]
    inputs = []
    for i in range(4):
        path = tmp_path / f"in-{i}.txt"
        path.write_text("\n".join(" ".join(words[j:j + 10]) for j in range(i * 2500, (i + 1) * 2500, 10)) + "\n")
        inputs.append(path)
    status, spec, _ = run_local({"name": "skew", "mapper": "tests.testjobs:EachWord",
                                 "reducer": "jobs.wordcount:SumCountsPerWord", "reducers": 4, "task_bytes": 1,
                                 "input": {"files": [str(p) for p in inputs]},
                                 "output": {"path": str(tmp_path / "out")}}, tmp_path)
    assert status.state == "SUCCEEDED", status.reason
    assert counts(tmp_path / "out") == dict(Counter(words))
    [hot] = [p for p in status.partitions if p.rows_in >= 9000]
    assert sum(p.rows_in for p in status.partitions) == len(words)

    html = Path(JobLayout(spec.work_dir, spec.job_id).report_html).read_text()
    widths = {task: int(w) for task, w in
              re.findall(r"class='reduce-bar rows' data-task='(reduce-\d+)' width='(\d+)'", html)}
    assert sorted(widths) == [f"reduce-{p}" for p in range(4)]
    longest = max(widths, key=widths.get)
    assert longest == f"reduce-{hot.partition}"
    assert all(w <= widths[longest] / 5 for t, w in widths.items() if t != longest)   # one long bar
    data = json.loads(re.search(r'id="report-data" type="application/json">(.*?)</script>', html, re.S)[1])
    assert sorted(r["label"] for r in data["reduces"]) == [f"reduce-{p}" for p in range(4)]


def test_auto_picks_one_reducer_per_budget_of_intermediate_bytes(samples, tmp_path, monkeypatch):
    files = sorted((samples / "wordcount").glob("*.txt"))
    monkeypatch.setenv("LMR_REDUCER_BUDGET_MB", "0.004")   # about 4 KB per reduce task
    status, _, _ = run_local(wordcount(samples, reducers="auto"), tmp_path, output={"path": str(tmp_path / "out")})
    assert status.state == "SUCCEEDED", status.reason
    intermediate = sum(t.bytes_out for t in status.tasks)
    assert len(status.partitions) == min(64, math.ceil(intermediate / (0.004 * 2**20))) > 1
    assert counts(tmp_path / "out") == dict(word_counts(files))


def test_auto_keeps_one_reducer_for_a_small_job(samples, tmp_path):
    files = sorted((samples / "wordcount").glob("*.txt"))
    status, _, _ = run_local(wordcount(samples, reducers="auto"), tmp_path, output={"path": str(tmp_path / "out")})
    assert status.state == "SUCCEEDED", status.reason
    assert len(status.partitions) == 1 and len(published(tmp_path / "out")) == 1
    assert counts(tmp_path / "out") == dict(word_counts(files))


def test_a_failed_reduce_task_fails_the_job_and_a_resume_runs_only_that_one(samples, tmp_path, monkeypatch):
    files = sorted((samples / "wordcount").glob("*.txt"))
    monkeypatch.setenv("LMR_TEST_SCRATCH", str(tmp_path))
    manifest = wordcount(samples, "tests.testjobs:FailsInReduceTaskOne", reducers=3, retries=0,
                         output={"path": str(tmp_path / "out")})
    status, spec, _ = run_local(manifest, tmp_path)
    assert status.state == "FAILED"
    assert "reduce task 1 of 3" in status.reason and "reduce task 1 cannot run yet" in status.reason
    assert not (tmp_path / "out").exists()                      # nothing published
    assert sorted(p.partition for p in status.partitions) == [0, 2]

    (tmp_path / "fixed").touch()
    ran = {p.name for p in tmp_path.glob("reduced-*")}
    roots = [str(tmp_path), str(samples / "wordcount")]
    before = snapshot(Storage(), roots)
    status, _, events = run_local(manifest, tmp_path)
    assert status.state == "SUCCEEDED", status.reason
    # The run removed one file: the failed reduce task's own record. The inputs are as they were.
    after = snapshot(Storage(), roots)
    failure = JobLayout(spec.work_dir, spec.job_id).failure("reduce-1")
    assert set(before) - set(after) == {failure}
    assert {u: b for u, b in after.items() if u.startswith(roots[1])} == \
        {u: b for u, b in before.items() if u.startswith(roots[1])}
    again = sorted(p.name.split("-")[2] for p in tmp_path.glob("reduced-*") if p.name not in ran)
    assert again == ["1"]                                       # only reduce task 1 ran again
    assert [e["event"] for e in events].count("task_started") == 0   # and no map task
    assert counts(tmp_path / "out") == dict(word_counts(files))


def test_a_partition_column_the_mapper_does_not_produce_fails_the_map_tasks_naming_it(samples, tmp_path):
    status, _, _ = run_local(wordcount(samples, "tests.testjobs:PartitionByMissingColumn", reducers=2),
                             tmp_path, output={"path": str(tmp_path / "out")})
    assert status.state == "FAILED" and len(status.failed) == 3
    assert {f.error_type for f in status.failed} == {"UserCodeError"}
    assert "partition_by names 'nope', not a column of what the reducer reads (word, count)" in status.failed[0].error
    assert not (tmp_path / "out").exists()


def test_with_cache_a_new_reducer_over_the_same_buckets_runs_no_map_task(samples, tmp_path):
    files = sorted((samples / "wordcount").glob("*.txt"))
    (tmp_path / "lookup.csv").write_text("word,group\nthe,common\n")
    params = {"lookup": str(tmp_path / "lookup.csv")}   # params are in the cache key: the same in both
    first, _, _ = run_local(wordcount(samples, reducers=3, cache=True, params=params), tmp_path,
                            output={"path": str(tmp_path / "a")})
    second, _, events = run_local(wordcount(samples, "tests.testjobs:JoinWordGroups", reducers=3, cache=True,
                                            params=params),
                                  tmp_path, output={"path": str(tmp_path / "b")})
    assert first.state == second.state == "SUCCEEDED", second.reason
    assert second.tasks_cached == 3 and [e["event"] for e in events].count("task_started") == 0
    got = pd.concat(published(tmp_path / "b").values())
    assert dict(zip(got["word"], got["count"])) == dict(word_counts(files))
    # Another R writes other buckets: its map tasks run.
    third, _, _ = run_local(wordcount(samples, reducers=2, cache=True, params=params), tmp_path,
                            output={"path": str(tmp_path / "c")})
    assert third.tasks_cached == 0 and counts(tmp_path / "c") == dict(word_counts(files))


def test_the_example_manifest_runs_with_three_reducers(tmp_path):
    from engine.job.planning import plan_job
    from engine.job.manifest import load_manifest
    from engine.local.runner import LocalRunner
    from tests.conftest import REPO, SAMPLES

    spec = load_manifest(str(REPO / "manifests" / "wordcount-reducers.json"),
                         {"output": {"path": str(tmp_path / "out")}}, work_dir=str(tmp_path / "work"))
    status = LocalRunner(workers=0).run(plan_job(spec))
    assert status.state == "SUCCEEDED" and len(status.partitions) == 3
    assert counts(tmp_path / "out") == dict(word_counts(sorted((SAMPLES / "wordcount").glob("*.txt"))))

"""The example jobs, run by the local runner, against independent computations."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from tests.conftest import run_local
from tests.oracles import crawl_records, crawl_rejects, p90_by_language, percentile_bounds, word_counts

# One task per file unless a test packs them (task_bytes 1: every file is "large").
CRAWL = {"name": "crawl-p90", "mapper": "jobs.crawl:ExtractDocuments",
         "reducer": "jobs.crawl:P90ContentLengthByLanguage", "task_bytes": 1}


def run_crawl(files: list[Path], tmp_path: Path, manifest: dict = CRAWL, **fields):
    """Run the crawl job (or ``manifest``, changed by ``fields``) over ``files``; it must succeed."""
    status, spec, _ = run_local({**manifest, "input": {"files": [str(f) for f in files]},
                                 "output": {"path": str(tmp_path / "out")}, **fields}, tmp_path)
    assert status.state == "SUCCEEDED", status.reason
    return status, spec


def read_json_lines(folder: Path) -> pd.DataFrame:
    marker = json.loads((folder / "_SUCCESS").read_text())
    frames = [pd.read_json(folder / name, lines=True) for name in marker["files"]]
    return pd.concat(frames, ignore_index=True)


def test_crawl_p90_matches_plain_python(samples, tmp_path):
    files = sorted((samples / "crawl").glob("*.jsonl"))
    status, spec, _ = run_local({**CRAWL, "input": {"prefix": str(samples / "crawl"), "glob": "*.jsonl"},
                                 "output": {"path": str(tmp_path / "out")}}, tmp_path)
    kept, rows_in, rejected = crawl_records(files)
    expected = p90_by_language(kept)
    assert status.state == "SUCCEEDED", status.reason
    assert (status.rows_in, status.rejected, status.rows_out) == (rows_in, rejected, len(kept))
    got = read_json_lines(tmp_path / "out").set_index("language")
    assert sorted(got.index) == sorted(expected)
    for language, (count, lengths) in expected.items():
        assert got.loc[language, "documents"] == count
        # percentile_approx(accuracy=10,000): relative rank error <= 1/10,000.
        lo, hi = percentile_bounds(lengths, 0.9, 1 / 10_000)
        assert lo <= got.loc[language, "p90_content_length"] <= hi, language
    assert len(status.tasks) == len(files) and not status.failed


def test_small_files_packed_into_one_task_give_the_same_result(samples, tmp_path):
    files = sorted((samples / "crawl").glob("*.jsonl"))
    manifest = {k: v for k, v in CRAWL.items() if k != "task_bytes"}   # default packing
    status, spec = run_crawl(files, tmp_path, manifest)
    [task] = status.tasks
    assert task.inputs == [str(f) for f in files]
    kept, rows_in, rejected = crawl_records(files)
    assert (task.rows_in, task.rejected, task.rows_out) == (rows_in, rejected, len(kept))
    got = read_json_lines(tmp_path / "out").set_index("language")
    assert {lang: got.loc[lang, "documents"] for lang in got.index} == \
        {lang: count for lang, (count, _) in p90_by_language(kept).items()}
    # Each reject is traced to its own file and line, not to the task's first file.
    errors = [json.loads(x) for x in open(tmp_path / "work" / "jobs" / spec.job_id / "errors" / f"{task.task_id}.jsonl")]
    assert sorted((e["input"], e["line"]) for e in errors) == sorted(crawl_rejects(files))
    assert len({e["input"] for e in errors}) > 1


def test_combiner_writes_partials_and_the_reducer_merges_them(samples, tmp_path):
    files = sorted((samples / "crawl").glob("*.jsonl"))
    status, _ = run_crawl(files, tmp_path, reducer="jobs.crawl:P90ContentLengthSketch")
    kept, _, _ = crawl_records(files)
    expected = p90_by_language(kept)
    got = read_json_lines(tmp_path / "out").set_index("language")
    assert sorted(got.index) == sorted(expected)
    for language, (count, lengths) in expected.items():
        assert got.loc[language, "documents"] == count
        lo, hi = percentile_bounds(lengths, 0.9, 0.0165)   # KLL, k=200: rank error <= 1.65%
        assert lo <= got.loc[language, "p90_content_length"] <= hi, language
    # Each task wrote one partial row per language it saw, not its documents.
    for task in status.tasks:
        records = crawl_records([Path(task.inputs[0])])[0]
        assert task.rows_out == len(records)
        assert task.rows_written == len({language for language, _ in records})
    assert status.rows_out == len(kept)


def test_map_tasks_write_only_the_columns_the_reducer_reads(samples, tmp_path):
    files = sorted((samples / "crawl").glob("*.jsonl"))
    status, spec = run_crawl(files, tmp_path)
    parts = sorted((tmp_path / "work" / "jobs" / spec.job_id / "intermediate").glob("*/*/*.parquet"))
    assert parts
    # The mapper emits url, language and content_length; the reducer groups by language
    # and takes a percentile of content_length: url is never written.
    for part in parts:
        assert pq.read_schema(part).names == ["language", "content_length"]


def test_planning_the_reducer_for_pruning_leaves_the_map_tasks_counters_alone(samples, tmp_path):
    files = sorted((samples / "crawl").glob("*.jsonl"))
    status, _ = run_crawl(files, tmp_path, reducer="tests.testjobs:CountingP90")
    assert [t.counters.get("reduce_calls", 0) for t in status.tasks] == [0] * len(files)
    assert status.reduce.counters == {"reduce_calls": 1}


def test_wordcount_matches_collections_counter(samples, tmp_path):
    files = sorted((samples / "wordcount").glob("*.txt"))
    status, spec, _ = run_local({"name": "wc", "mapper": "jobs.wordcount:SplitWords",
                                 "reducer": "jobs.wordcount:SumCounts",
                                 "input": {"files": [str(f) for f in files]},
                                 "output": {"path": str(tmp_path / "out")}}, tmp_path)
    assert status.state == "SUCCEEDED", status.reason
    marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    got = pd.concat([pd.read_csv(tmp_path / "out" / f, keep_default_na=False) for f in marker["files"]])
    assert dict(zip(got["word"], got["count"])) == dict(word_counts(files))


def test_mapper_only_writes_mapper_output_to_the_destination(samples, tmp_path):
    files = sorted((samples / "crawl").glob("*.jsonl"))
    status, spec, _ = run_local({"name": "extract", "mode": "MAPPER_ONLY",
                                 "mapper": "jobs.crawl:ExtractDocuments",
                                 "input": {"files": [str(f) for f in files]},
                                 "output": {"path": str(tmp_path / "out")}}, tmp_path)
    assert status.state == "SUCCEEDED", status.reason
    out = tmp_path / "out"
    marker = json.loads((out / "_SUCCESS").read_text())
    assert sorted(p.name for p in out.iterdir() if p.name != "_SUCCESS") == sorted(marker["files"])
    table = pq.read_table([str(out / f) for f in marker["files"]])
    kept, _, _ = crawl_records(files)
    assert sorted(zip(table.column("language").to_pylist(), table.column("content_length").to_pylist())) \
        == sorted(kept)
    # one task's files each, prefixed with the task id
    assert {f.split("-", 1)[0] for f in marker["files"]} == {t.task_id for t in status.tasks}


def test_reducer_only_reads_the_inputs_directly(samples, tmp_path):
    files = sorted((samples / "crawl").glob("*.jsonl"))
    status, spec, _ = run_local({"name": "langs", "mode": "REDUCER_ONLY",
                                 "reducer": "tests.testjobs:LanguageCountsFromRaw",
                                 "input": {"files": [str(f) for f in files]},
                                 "output": {"path": str(tmp_path / "out")}}, tmp_path)
    assert status.state == "SUCCEEDED", status.reason
    assert status.tasks == [] and status.reduce.rows_out > 0
    marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    table = pq.read_table([str(tmp_path / "out" / f) for f in marker["files"]])
    got = dict(zip(table.column("language").to_pylist(), table.column("count").to_pylist()))
    expected: dict[str, int] = {}
    for path in files:
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            cl = rec.get("content_length")
            if cl is not None and not isinstance(cl, int):
                continue   # rejected: does not fit the schema
            language = (rec.get("language") or "").strip(" ").lower()
            if rec.get("language") is not None and language:
                expected[language] = expected.get(language, 0) + 1
    assert got == expected


def test_csv_input_with_schema_and_csv_output(tmp_path):
    src = tmp_path / "scores.csv"
    src.write_text("id,name,score\n1,ann,3.5\n2,bob,-1\n3,cy,not-a-number\n4,dee,7\n5,eve\n")
    status, spec, _ = run_local({"name": "csv", "mode": "MAPPER_ONLY", "mapper": "tests.testjobs:CsvPassThrough",
                                 "input": {"files": [str(src)]}, "output": {"path": str(tmp_path / "out")},
                                 "max_rejected_ratio": 0.5}, tmp_path)
    assert status.state == "SUCCEEDED", status.reason
    marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    got = pd.concat([pd.read_csv(tmp_path / "out" / f) for f in marker["files"]])
    assert sorted(got["name"]) == ["ann", "dee"]
    assert (status.rows_in, status.rejected) == (5, 2)   # a bad number, a short row


def test_gzip_inputs_are_read(samples, tmp_path):
    import gzip

    src = sorted((samples / "crawl").glob("*.jsonl"))[0]
    gz = tmp_path / "part.jsonl.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    status, spec, _ = run_local({**CRAWL, "input": {"files": [str(gz)]},
                                 "output": {"path": str(tmp_path / "out")}}, tmp_path)
    kept, rows_in, rejected = crawl_records([src])
    assert status.state == "SUCCEEDED", status.reason
    assert (status.rows_in, status.rejected, status.rows_out) == (rows_in, rejected, len(kept))


def test_a_large_file_split_by_byte_range_gives_the_same_counts_and_rejects_by_offset(samples, tmp_path):
    """The crawl samples as one file, split into 8 ranges (8 map tasks): every record is
    read once (counts and p90 as plain Python computes them), and each reject in a split
    after the first names its line's byte offset in the whole file."""
    sources = sorted((samples / "crawl").glob("*.jsonl"))
    big = tmp_path / "all.jsonl"
    big.write_bytes(b"".join(f.read_bytes() if f.read_bytes().endswith(b"\n") else f.read_bytes() + b"\n"
                             for f in sources))
    split = big.stat().st_size // 8 + 1
    status, spec = run_crawl([big], tmp_path, max_rejected_ratio=0.5, split_bytes=split, task_bytes=split)
    kept, rows_in, rejected = crawl_records([big])
    assert len(status.tasks) == 8
    assert (status.rows_in, status.rejected, status.rows_out) == (rows_in, rejected, len(kept))
    got = read_json_lines(tmp_path / "out").set_index("language")
    assert {lang: got.loc[lang, "documents"] for lang in got.index} == \
        {lang: count for lang, (count, _) in p90_by_language(kept).items()}

    offsets, at = {}, 0                                    # line number -> byte offset, by hand
    for number, line in enumerate(big.read_bytes().splitlines(keepends=True), start=1):
        offsets[number], at = at, at + len(line)
    expected = {offsets[n] for _, n in crawl_rejects([big]) if offsets[n] >= split}
    errors = [json.loads(line) for t in status.tasks if t.rejected
              for line in open(f"{spec.work_dir}/jobs/{spec.job_id}/errors/{t.task_id}.jsonl")]
    by_offset = {e["offset"] for e in errors if "offset" in e}
    assert by_offset and by_offset == expected              # under 100 rejects a task: every one is listed
    assert all(e["line"] is None for e in errors if "offset" in e)
    lines = {e["line"] for e in errors if "offset" not in e}   # the first split: line numbers, as in the file
    assert lines == {n for _, n in crawl_rejects([big]) if offsets[n] < split}


def test_a_large_parquet_file_split_by_row_group_counts_every_row_once(tmp_path):
    """A Parquet file of 12 row groups, cut into 4 splits (4 map tasks, 3 row groups each):
    the word counts are those pyarrow computes from the whole file."""
    import collections

    import pyarrow as pa

    words = [f"w{(i * 7919) % 31}" for i in range(12 * 5000)]
    big = tmp_path / "big.parquet"
    pq.write_table(pa.table({"id": range(len(words)), "word": words}), big, row_group_size=5000)
    split = big.stat().st_size // 4 + 1
    status, _, _ = run_local({"name": "pq-split", "mapper": "tests.testjobs:CountParquetWords",
                              "reducer": "jobs.wordcount:SumCounts", "input": {"files": [str(big)]},
                              "output": {"path": str(tmp_path / "out")}, "split_bytes": split,
                              "task_bytes": split}, tmp_path)
    assert status.state == "SUCCEEDED", status.reason
    assert len(status.tasks) == 4 and all(t.rows_in > 0 for t in status.tasks)
    assert status.rows_in == len(words)
    marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    got = pd.concat(pd.read_csv(tmp_path / "out" / f) for f in marker["files"])
    assert dict(zip(got["word"], got["count"])) == collections.Counter(pq.read_table(big).column("word").to_pylist())

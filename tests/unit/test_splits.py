"""Splitting large line-delimited files: every line is staged by exactly one split,
whatever the cut. Checked for every split size, from 1 byte to the whole file, against
the file itself: the splits' staged bytes, in order, are the file."""

from __future__ import annotations

import gzip
import json

import pytest

from engine.errors import PlanError
from engine.job.planning import InputFile, plan_job
from engine.job.manifest import load_manifest
from engine.store.splits import split_file
from engine.store.staging import stage_inputs
from engine.store.storage import Storage

CASES = {
    "lines crossing every boundary": b"".join(b'{"n": %d, "pad": "%s"}\n' % (i, b"x" * (i % 7)) for i in range(40)),
    "a boundary on a newline": b"aaaa\nbbbb\ncccc\ndddd\n",
    "CRLF line endings": b"one\r\ntwo\r\nthree\r\nfour\r\n",
    "a last line without a newline": b"first\nsecond\nthird",
    "multi-byte UTF-8 at the cut": "ü€𝄞\nß\n日本語のテキスト\nend\n".encode(),
    "one line longer than a split": b"s\n" + b"L" * 300 + b"\nt\n",
    "empty lines": b"\n\na\n\n\nb\n\n",
}


def staged_splits(path, split_bytes: int, header: bool = False) -> tuple[list[bytes], list[int]]:
    size = path.stat().st_size
    parts = split_file(InputFile(str(path), size), split_bytes)
    folder = path.parent / f"staged-{split_bytes}"
    local, offsets = stage_inputs(Storage(), parts, str(folder), csv_header=header)
    return [open(p, "rb").read() for p in local], offsets


@pytest.mark.parametrize("name", CASES)
def test_every_line_is_staged_by_exactly_one_split_at_every_split_size(tmp_path, name):
    data = CASES[name]
    path = tmp_path / "big.jsonl"
    path.write_bytes(data)
    for split_bytes in range(1, len(data) + 1):
        pieces, offsets = staged_splits(path, split_bytes)
        assert b"".join(pieces) == data, split_bytes
        for piece, offset in zip(pieces, offsets):
            offset = offset or 0   # None: the whole file, staged as it is
            if piece:
                # whole lines only, each where the file has it
                assert data[offset:offset + len(piece)] == piece
                assert offset == 0 or data[offset - 1:offset] == b"\n"
                assert piece.endswith(b"\n") or offset + len(piece) == len(data)


def test_a_csv_split_after_the_first_gets_the_header_line(tmp_path):
    header = b"id,name\n"
    rows = b"".join(b"%d,row-%d\n" % (i, i) for i in range(30))
    path = tmp_path / "big.csv"
    path.write_bytes(header + rows)
    pieces, _ = staged_splits(path, 50, header=True)
    assert len(pieces) > 3
    assert all(p.startswith(header) for p in pieces if p)
    assert pieces[0][len(header):] + b"".join(p[len(header):] for p in pieces[1:]) == rows


def test_s3_ranged_staging_on_the_moto_server(s3, bucket, tmp_path):
    data = CASES["lines crossing every boundary"]
    s3.put_object(Bucket=bucket, Key="in/big.jsonl", Body=data)
    parts = split_file(InputFile(f"s3://{bucket}/in/big.jsonl", len(data)), 97)
    local, offsets = stage_inputs(Storage(), parts, str(tmp_path / "staged"))
    pieces = [open(p, "rb").read() for p in local]
    assert b"".join(pieces) == data
    assert max(len(p) for p in pieces) < 97 + max(len(line) for line in data.splitlines(keepends=True))


def manifest(tmp_path, files, **fields):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"name": "split", "mapper": "jobs.wordcount:SplitWords",
                                "reducer": "jobs.wordcount:SumCounts", "input": {"files": files},
                                "output": {"path": str(tmp_path / "out")}, **fields}))
    return load_manifest(str(path), work_dir=str(tmp_path / "work"))


def test_planning_splits_large_text_files_and_keeps_gzip_whole(tmp_path):
    (tmp_path / "big.txt").write_bytes(b"word " * 2000)                       # 10,000 bytes
    with gzip.open(tmp_path / "big.txt.gz", "wb") as fh:
        fh.write(b"word\n" * 20000)
    (tmp_path / "small.txt").write_bytes(b"a b c\n")
    files = [str(tmp_path / n) for n in ("big.txt", "big.txt.gz", "small.txt")]
    plan = plan_job(manifest(tmp_path, files, split_bytes=3000, task_bytes=3000))
    ranges = [(f.uri.rsplit("/", 1)[1], f.start, f.end) for t in plan.tasks for f in t.inputs]
    assert ranges[:4] == [("big.txt", 0, 3000), ("big.txt", 3000, 6000), ("big.txt", 6000, 9000),
                          ("big.txt", 9000, 10000)]
    assert ("big.txt.gz", None, None) in ranges                               # not splittable: whole
    assert ("small.txt", None, None) in ranges


def test_a_file_too_large_for_the_mappers_tmp_is_refused_at_plan_time(tmp_path, monkeypatch):
    with gzip.open(tmp_path / "big.txt.gz", "wb", compresslevel=0) as fh:
        fh.write(b"x" * 3 * 2**20)
    monkeypatch.setenv("LMR_MAPPER_EPHEMERAL_MB", "5")                        # 40%: 2 MiB a task
    with pytest.raises(PlanError) as info:
        plan_job(manifest(tmp_path, [str(tmp_path / "big.txt.gz")]))
    assert "big.txt.gz is 3 MiB and cannot be split" in str(info.value)
    assert "a map task may stage at most 2 MiB (40% of the mapper's 5 MB of /tmp" in str(info.value)
    # A splittable file that large is planned smaller instead.
    (tmp_path / "big.txt").write_bytes(b"word\n" * (3 * 2**20 // 5))
    plan = plan_job(manifest(tmp_path, [str(tmp_path / "big.txt")]))
    assert len(plan.tasks) == 2 and max(t.bytes for t in plan.tasks) <= 2 * 2**20


def parquet_file(path, groups: int = 6, rows: int = 50):
    """A Parquet file of ``groups`` row groups of ``rows`` rows (ids 0..groups*rows-1)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = list(range(groups * rows))
    table = pa.table({"id": ids, "word": [f"w{i % 13}" * (1 + i % 3) for i in ids]})
    pq.write_table(table, path, row_group_size=rows)
    assert pq.ParquetFile(path).metadata.num_row_groups == groups
    return ids


def staged_parquet_ids(storage, uri: str, size: int, split_bytes: int, folder) -> list[list[int]]:
    import pyarrow.parquet as pq

    parts = split_file(InputFile(uri, size), split_bytes)
    local, offsets = stage_inputs(storage, parts, str(folder), fmt="parquet")
    assert offsets == [None] * len(parts)
    return [pq.read_table(p).column("id").to_pylist() for p in local]


def test_parquet_splits_by_row_group_each_row_once_at_every_split_size(tmp_path):
    path = tmp_path / "big.parquet"
    ids = parquet_file(path)
    size = path.stat().st_size
    for split_bytes in sorted({*range(64, size + 64, max(1, size // 97)), size // 6, size // 2}):
        pieces = staged_parquet_ids(Storage(), str(path), size, split_bytes, tmp_path / f"staged-{split_bytes}")
        assert [i for piece in pieces for i in piece] == ids, split_bytes
        # every row group whole, in one split
        assert all(len(piece) % 50 == 0 for piece in pieces), split_bytes
    assert max(len(p) for p in staged_parquet_ids(Storage(), str(path), size, size // 6 + 1, tmp_path / "six")) < 300


def test_parquet_splits_stage_by_ranged_reads_on_the_moto_server(s3, bucket, tmp_path):
    path = tmp_path / "big.parquet"
    ids = parquet_file(path, groups=4, rows=40000)
    data = path.read_bytes()
    s3.put_object(Bucket=bucket, Key="in/big.parquet", Body=data)
    storage, fetched = Storage(), []
    storage.s3.client.meta.events.register(
        "before-parameter-build.s3.GetObject", lambda params, **_: fetched.append(params.get("Range")))
    pieces = staged_parquet_ids(storage, f"s3://{bucket}/in/big.parquet", len(data), len(data) // 4 + 1,
                                tmp_path / "staged")
    assert [i for piece in pieces for i in piece] == ids
    assert all(len(piece) % 40000 == 0 for piece in pieces) and sum(1 for piece in pieces if piece) >= 3
    # ranged GETs only, none of them the whole object
    spans = [tuple(map(int, r.removeprefix("bytes=").split("-"))) for r in fetched]
    assert spans and all(last - first + 1 < len(data) for first, last in spans)

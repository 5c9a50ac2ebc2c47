"""fetch_file: a model file from S3 (moto server) downloaded once into a size-capped
cache under /tmp, least recently used files removed first; local paths used in place."""

from __future__ import annotations

import os
import time

import pytest

from engine import model_files
from engine.model_files import fetch_file
from engine.store.storage import Storage


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LMR_FILE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(model_files, "_known", {})
    return tmp_path / "cache"


def counting_storage() -> tuple[Storage, list[str]]:
    storage, calls = Storage(), []
    storage.s3.client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    return storage, calls


def test_an_object_is_fetched_once_then_served_from_disk(s3, bucket, cache):
    s3.put_object(Bucket=bucket, Key="models/v1.npz", Body=b"weights-v1")
    storage, calls = counting_storage()
    first = fetch_file(f"s3://{bucket}/models/v1.npz", storage)
    again = fetch_file(f"s3://{bucket}/models/v1.npz", storage)
    assert first == again and open(first, "rb").read() == b"weights-v1"
    assert calls.count("GetObject") == 1 and os.path.dirname(first) == str(cache)
    # another process of the same container: finds the file by name (one HEAD, no GET)
    model_files._known.clear()
    assert fetch_file(f"s3://{bucket}/models/v1.npz", storage) == first
    assert calls.count("GetObject") == 1


def test_a_replaced_object_is_fetched_again(s3, bucket, cache):
    s3.put_object(Bucket=bucket, Key="m.bin", Body=b"old")
    old = fetch_file(f"s3://{bucket}/m.bin")
    s3.put_object(Bucket=bucket, Key="m.bin", Body=b"new!")
    model_files._known.clear()               # a new container, or process
    new = fetch_file(f"s3://{bucket}/m.bin")
    assert new != old and open(new, "rb").read() == b"new!"


def test_the_least_recently_used_files_make_room(s3, bucket, cache, monkeypatch):
    monkeypatch.setenv("LMR_FILE_CACHE_MB", "3")
    for name in "abcd":
        s3.put_object(Bucket=bucket, Key=f"shard-{name}", Body=name.encode() * 2**20)   # 1 MiB each
    a = fetch_file(f"s3://{bucket}/shard-a")
    time.sleep(0.02)
    b = fetch_file(f"s3://{bucket}/shard-b")
    time.sleep(0.02)
    c = fetch_file(f"s3://{bucket}/shard-c")
    time.sleep(0.02)
    assert fetch_file(f"s3://{bucket}/shard-a") == a      # used again: now b is the oldest
    time.sleep(0.02)
    d = fetch_file(f"s3://{bucket}/shard-d")
    assert sorted(os.listdir(cache)) == sorted(os.path.basename(p) for p in (a, c, d))
    assert not os.path.exists(b)


def test_refusals(s3, bucket, cache, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no such object"):
        fetch_file(f"s3://{bucket}/missing.npz")
    monkeypatch.setenv("LMR_FILE_CACHE_MB", "1")
    s3.put_object(Bucket=bucket, Key="huge", Body=b"x" * (2 * 2**20))
    with pytest.raises(ValueError, match="more than the file cache's 1 MB"):
        fetch_file(f"s3://{bucket}/huge")
    local = tmp_path / "model.npz"
    local.write_bytes(b"w")
    assert fetch_file(str(local)) == str(local)            # in place, not copied
    with pytest.raises(FileNotFoundError):
        fetch_file(str(tmp_path / "nope.npz"))


def test_making_room_never_touches_a_file_the_cache_did_not_write(s3, bucket, cache, monkeypatch):
    """LMR_FILE_CACHE_DIR may point at a folder holding other files: every file and folder
    there is snapshotted before and compared after evictions."""
    monkeypatch.setenv("LMR_FILE_CACHE_MB", "1")
    cache.mkdir()
    (cache / "notes.txt").write_bytes(b"n" * 2**20)                   # older and large
    (cache / "model.npz").write_bytes(b"m" * 2**19)
    (cache / "lmr-old").mkdir()
    (cache / "lmr-old" / "shard").write_bytes(b"s" * 2**19)
    os.utime(cache / "notes.txt", (1, 1))
    before = {p: p.read_bytes() for p in cache.rglob("*") if p.is_file()}
    for name in "ab":
        s3.put_object(Bucket=bucket, Key=f"shard-{name}", Body=name.encode() * (2**20 - 100))
    a = fetch_file(f"s3://{bucket}/shard-a")
    b = fetch_file(f"s3://{bucket}/shard-b")                         # makes room: a goes, nothing else
    after = {p: p.read_bytes() for p in cache.rglob("*") if p.is_file()}
    assert not os.path.exists(a) and os.path.exists(b)
    assert {p: d for p, d in after.items() if str(p) != b} == before

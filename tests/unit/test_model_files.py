"""fetch_file: a model file from S3 (moto server) downloaded once into a size-capped
cache under /tmp, least recently used files removed first; local paths used in place."""

from __future__ import annotations

import os
import time

import pytest

from engine import model_files
from engine.model_files import fetch_file
from engine.errors import PermanentStorageError
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


def test_each_task_checks_the_object_again_with_one_head(s3, bucket, cache):
    """The README's promise: a replaced object is fetched anew, in the same warm process,
    from the next task on (one HEAD a task; none for a second call in the same task)."""
    s3.put_object(Bucket=bucket, Key="m.bin", Body=b"old")
    storage, calls = counting_storage()
    model_files.new_task()
    old = fetch_file(f"s3://{bucket}/m.bin", storage)
    assert fetch_file(f"s3://{bucket}/m.bin", storage) == old and calls.count("HeadObject") == 1
    s3.put_object(Bucket=bucket, Key="m.bin", Body=b"new!")
    model_files.new_task()
    new = fetch_file(f"s3://{bucket}/m.bin", storage)
    assert open(new, "rb").read() == b"new!" and calls.count("HeadObject") == 2


def test_fetch_file_obeys_the_allowed_locations(s3, bucket, cache, tmp_path, monkeypatch):
    s3.put_object(Bucket=bucket, Key="private/key.pem", Body=b"secret")
    (tmp_path / "secret.txt").write_text("secret")
    monkeypatch.setenv("LMR_ALLOWED_LOCATIONS", f"s3://{bucket}/models/")
    for where in (f"s3://{bucket}/private/key.pem", str(tmp_path / "secret.txt")):
        with pytest.raises(PermanentStorageError, match="outside the allowed locations"):
            fetch_file(where)


def test_the_cache_folder_is_private_and_dead_downloads_are_cleaned(s3, bucket, cache):
    cache.mkdir(mode=0o777)
    os.chmod(cache, 0o777)
    (cache / ".fetch-999999999-abcd1234").write_bytes(b"x" * 100)  # a download whose process died
    (cache / f".fetch-{os.getpid()}-live0000").write_bytes(b"y")    # one under way in a live process
    (cache / ".fetch-999999999-notes.txt").write_bytes(b"z")        # not a name fetch_file gives
    s3.put_object(Bucket=bucket, Key="m.bin", Body=b"data")
    fetch_file(f"s3://{bucket}/m.bin")
    assert os.stat(cache).st_mode & 0o777 == 0o700
    assert not (cache / ".fetch-999999999-abcd1234").exists() and (cache / f".fetch-{os.getpid()}-live0000").exists()
    assert (cache / ".fetch-999999999-notes.txt").read_bytes() == b"z"


def test_a_cache_folder_of_another_user_is_refused(s3, bucket, cache):
    if os.getuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root; this test needs it to give the folder to another user")
        pytest.skip("needs root to give the folder to another user")
    cache.mkdir()
    os.chown(cache, 65534, 65534)
    s3.put_object(Bucket=bucket, Key="m.bin", Body=b"data")
    with pytest.raises(PermanentStorageError, match="not a folder of this user's"):
        fetch_file(f"s3://{bucket}/m.bin")


def test_the_size_cap_holds_across_processes(s3, bucket, cache, moto_server):
    """Four processes fetch a 2 MiB object each at once into a 3 MiB cache: the cache's
    lock makes each make room and download in turn."""
    import subprocess
    import sys

    from tests.conftest import REPO

    for i in range(4):
        s3.put_object(Bucket=bucket, Key=f"shard-{i}", Body=bytes([i]) * 2 * 2**20)
    env = {**os.environ, "LMR_FILE_CACHE_MB": "3", "LMR_FILE_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", f"from engine import fetch_file; fetch_file('s3://{bucket}/shard-{i}')"],
                              cwd=REPO, env=env) for i in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    kept = [p for p in cache.iterdir() if p.name.startswith("lmr-")]
    assert sum(p.stat().st_size for p in kept) <= 3 * 2**20

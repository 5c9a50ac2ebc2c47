"""JVM profile and class-archive choices (no JVM is started here)."""

from __future__ import annotations

import os

import pytest

from engine import cds, session

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


def test_startup_profile_flags():
    assert "-XX:TieredStopAtLevel=1" in session.jvm_options("startup")
    assert "-XX:TieredStopAtLevel=1" not in session.jvm_options("throughput")


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

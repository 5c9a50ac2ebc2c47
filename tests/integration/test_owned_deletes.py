"""Storage.delete_prefix, the one way the engine removes a folder (a losing attempt's
parts, a losing reduce task's files): only a folder ending in '/' inside the job's own
folder, on local disk and on the moto S3 server. Every file and object is snapshotted
before and compared after."""

from __future__ import annotations

import pytest

from engine.store.storage import Storage
from engine.store.uris import join
from tests.snapshots import snapshot

FILES = ["jobs/a-1/intermediate/t0/att/part-0", "jobs/a-1/intermediate/t0/att/part-1",
         "jobs/a-1/intermediate/t0/att2/part-0",          # another attempt: its name starts the same
         "jobs/a-1/intermediate/t0/_COMMITTED",
         "jobs/a-1-x/intermediate/t0/att/part-0",          # a sibling job whose id starts the same
         "inputs/data.txt"]


@pytest.fixture(params=["local", "s3"])
def root(request, tmp_path):
    if request.param == "local":
        return str(tmp_path)
    return f"s3://{request.getfixturevalue('bucket')}"


@pytest.mark.parametrize("prefix, owner", [
    ("jobs/a-1/intermediate/t0/att", "jobs/a-1/"),        # no trailing '/': would take att2 along
    ("jobs/a-1-x/intermediate/t0/att/", "jobs/a-1/"),     # outside the job's folder
    ("jobs/a-1/", "jobs/a-1"),                            # an owner without '/' would match a-1-x
    ("inputs/", "jobs/a-1/"),
])
def test_a_folder_outside_the_jobs_own_is_refused_and_nothing_changes(root, prefix, owner):
    storage = Storage()
    for i, name in enumerate(FILES):
        storage.write_text(join(root, name), f"file {i}")
    before = snapshot(storage, [root])
    with pytest.raises(ValueError, match="refusing to delete"):
        storage.delete_prefix(join(root, prefix) + ("/" if prefix.endswith("/") else ""),
                              owner=join(root, owner) + ("/" if owner.endswith("/") else ""))
    assert snapshot(storage, [root]) == before


def test_an_attempts_folder_goes_and_nothing_else(root):
    storage = Storage()
    for i, name in enumerate(FILES):
        storage.write_text(join(root, name), f"file {i}")
    before = snapshot(storage, [root])
    storage.delete_prefix(join(root, "jobs/a-1/intermediate/t0/att", ""), owner=join(root, "jobs/a-1", ""))
    assert snapshot(storage, [root]) == {k: v for k, v in before.items()
                                       if not k.startswith(join(root, "jobs/a-1/intermediate/t0/att", ""))}
    assert len(before) - len(snapshot(storage, [root])) == 2


def test_a_local_folder_that_climbs_out_of_the_job_is_refused(tmp_path):
    """(On S3 ``..`` is part of a key, not a step up: such a prefix is still under the job.)"""
    storage, root = Storage(), str(tmp_path)
    for i, name in enumerate(FILES):
        storage.write_text(join(root, name), f"file {i}")
    before = snapshot(storage, [root])
    with pytest.raises(ValueError, match="refusing to delete"):
        storage.delete_prefix(join(root, "jobs/a-1/intermediate/../../a-1-x/"), owner=join(root, "jobs/a-1/"))
    assert snapshot(storage, [root]) == before


def test_a_reducers_failure_record_is_the_only_file_its_success_removes(spark, tmp_path, monkeypatch):
    """The two deletes of reduce failure records (a run's start clears the last run's, a
    reducer that succeeds clears its own earlier attempt's) remove exactly
    jobs/<id>/failures/reduce.json: not a sibling job's record whose id starts the same, not
    an input, not a foreign file beside the output. Everything is snapshotted."""
    from tests.conftest import run_local

    monkeypatch.setenv("LMR_TEST_SCRATCH", str(tmp_path))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("alpha beta alpha\n")
    manifest = {"name": "reduce-record", "mapper": "jobs.wordcount:SplitWords",
                "reducer": "tests.testjobs:ReduceFailsUntilFixed", "input": {"prefix": str(tmp_path / "in")},
                "output": {"path": str(tmp_path / "out")}}
    first, spec, _ = run_local(manifest, tmp_path)
    assert first.state == "FAILED" and [f.task_id for f in first.failed_reduce] == ["reduce"]
    job = tmp_path / "work" / "jobs" / spec.job_id
    sibling = tmp_path / "work" / "jobs" / f"{spec.job_id}-x" / "failures"
    sibling.mkdir(parents=True)
    (sibling / "reduce.json").write_text('{"errorType": "X", "errorMessage": "a sibling job\'s"}')
    (sibling / "reduce-1.json").write_text('{"errorType": "X", "errorMessage": "a sibling job\'s"}')
    (tmp_path / "notes.txt").write_text("someone's file beside the output\n")
    storage = Storage()
    before = snapshot(storage, [str(tmp_path)])

    (tmp_path / "fixed").touch()
    second, _, _ = run_local(manifest, tmp_path)
    assert second.state == "SUCCEEDED" and second.failed_reduce == []
    after = snapshot(storage, [str(tmp_path)])
    gone = sorted(set(before) - set(after))
    assert gone == [str(job / "failures" / "reduce.json")]
    # Outside the job's own folder, nothing that was there changed (the output is new).
    outside = {uri: data for uri, data in before.items() if not uri.startswith(str(job) + "/")}
    assert {uri: after.get(uri) for uri in outside} == outside

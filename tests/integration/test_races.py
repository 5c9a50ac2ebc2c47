"""Races between attempts, on local folders and on the moto S3 server.

A slow attempt is paused at a commit point (engine/faults.py, ``:pause``) while another
attempt runs to the end; then the slow one goes on. The first committer wins, the late
one removes only what it wrote, and readers see one complete result.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from engine.job.layout import JobLayout
from engine.job.planning import plan_job
from engine.job.manifest import load_manifest
from engine.store.publish import publish
from engine.store.storage import Storage
from engine.store.uris import join
from engine.task.map import run_map_task
from tests.oracles import word_counts
from tests.snapshots import snapshot

POINTS = ["map.before_write", "map.mid_write", "map.before_commit"]


def paused_while(point_env: str, fault_dir: Path, slow, fast):
    """Run ``slow`` in a thread until it pauses at the fault point, run ``fast`` to the end,
    let ``slow`` go on. Returns (slow's result, fast's result)."""
    os.environ.update({"LMR_FAULT": point_env, "LMR_FAULT_ONCE_DIR": str(fault_dir)})
    out: dict = {}

    def target():
        try:
            out["slow"] = slow()
        except BaseException as exc:   # surfaced below
            out["error"] = exc

    thread = threading.Thread(target=target)
    try:
        thread.start()
        deadline = time.monotonic() + 300
        while not list(fault_dir.glob("*.paused")):
            assert thread.is_alive() and time.monotonic() < deadline, out.get("error")
            time.sleep(0.02)
        fast_result = fast()
    finally:
        for paused in fault_dir.glob("*.paused"):
            paused.with_suffix(".resume").touch()
        thread.join(300)
        os.environ.pop("LMR_FAULT"), os.environ.pop("LMR_FAULT_ONCE_DIR")
    if "error" in out:
        raise out["error"]
    return out["slow"], fast_result


def files_under(storage: Storage, folder: str) -> list[str]:
    return sorted(f.uri[len(join(folder, "")):] for f in storage.list(join(folder, "")))


@pytest.fixture(params=["local", "s3"])
def work_root(request, tmp_path):
    if request.param == "local":
        return str(tmp_path / "work")
    s3 = request.getfixturevalue("s3")
    name = f"lmr-race-{os.getpid()}-{time.monotonic_ns() % 10**9}"
    s3.create_bucket(Bucket=name)
    return f"s3://{name}"


@pytest.mark.parametrize("point", POINTS)
def test_a_late_map_attempt_never_removes_the_committed_one(spark, samples, tmp_path, work_root, point):
    files = sorted((samples / "wordcount").glob("*.txt"))[:1]
    manifest = tmp_path / "wc.json"
    manifest.write_text(json.dumps({"name": "race", "mapper": "jobs.wordcount:SplitWords",
                                    "reducer": "jobs.wordcount:SumCounts",
                                    "input": {"files": [str(f) for f in files]},
                                    "output": {"path": f"{work_root}/out" if work_root.startswith("s3://")
                                               else str(tmp_path / "out")}}))
    spec = load_manifest(str(manifest), work_dir=work_root)
    [task] = plan_job(spec).tasks
    storage = Storage()
    layout = JobLayout(spec.work_dir, spec.job_id)
    # An earlier attempt's failure record (the winner removes it), and files the engine did
    # not write beside everything the attempts touch: a sibling task folder whose name
    # starts the same, a sibling's failure record, a file in the output folder.
    storage.write_text(layout.failure(task.task_id), json.dumps({"errorType": "StorageError", "errorMessage": "x"}))
    foreign = [join(layout.intermediate(task.task_id) + "0", "keep.parquet"), layout.failure(task.task_id + "0"),
               join(spec.output.path, "keep.txt")]
    for uri in foreign:
        storage.write_text(uri, "not the engine's")
    roots = [work_root, str(samples)] + ([] if work_root.startswith("s3://") else [str(tmp_path / "out")])
    before = snapshot(storage, roots)

    slow, fast = paused_while(f"{point}@{task.task_id}:pause", tmp_path / "faults",
                              lambda: run_map_task(spec, task, storage), lambda: run_map_task(spec, task, storage))

    assert fast.status == "SUCCEEDED" and slow.status == "SKIPPED"
    assert slow.parts == fast.parts and slow.rows_out == fast.rows_out
    # Outside the task's own folder and the summaries, only its failure record went.
    after = snapshot(storage, roots)
    ours = (layout.intermediate(task.task_id) + "/", layout.summaries)
    assert {k: v for k, v in after.items() if not k.startswith(ours)} == {
        k: v for k, v in before.items() if k != layout.failure(task.task_id)}
    assert all(after[uri] == before[uri] for uri in foreign)
    marker = json.loads(storage.read_text(layout.committed_marker(task.task_id, task.identity)))
    assert marker["parts"] == fast.parts
    # Only the winner's parts remain: the late attempt removed its own folder, nothing else.
    assert files_under(storage, layout.intermediate(task.task_id)) == sorted([f"_COMMITTED.{task.identity}", *fast.parts])
    # And they hold the file's word counts (compared with plain Python).
    counts: dict[str, int] = {}
    for part in marker["parts"]:
        table = pq.read_table(io.BytesIO(storage.read_bytes(layout.part(task.task_id, part))))
        for word, count in zip(table.column("word").to_pylist(), table.column("count").to_pylist()):
            counts[word] = counts.get(word, 0) + count
    assert counts == dict(word_counts(files))


def _sources(tmp_path: Path, tag: str, n: int = 2) -> list[tuple[str, str]]:
    folder = tmp_path / f"src-{tag}"
    folder.mkdir()
    pairs = []
    for i in range(n):
        path = folder / f"part-{i}-{tag}.csv"
        path.write_text(f"word,count\n{tag},{i}\n")
        pairs.append((str(path), path.name))
    return pairs


def _dest(work_root: str, tmp_path: Path) -> str:
    return f"{work_root}/published" if work_root.startswith("s3://") else str(tmp_path / "published")


@pytest.mark.parametrize("earlier_output", [False, True], ids=["new", "replacing"])
def test_two_publishers_of_one_job_end_with_one_complete_output(tmp_path, work_root, earlier_output):
    storage, dest = Storage(), _dest(work_root, tmp_path)
    layout = JobLayout(work_root, "job-1")
    old_files = []
    if earlier_output:
        old_files = publish(storage, _sources(tmp_path, "old"), dest, {"job_id": "job-0"}, layout)
    slow, fast = paused_while("reduce.before_commit:pause", tmp_path / "faults",
                              lambda: publish(storage, _sources(tmp_path, "slow"), dest, {"job_id": "job-1"}, layout),
                              lambda: publish(storage, _sources(tmp_path, "fast"), dest, {"job_id": "job-1"}, layout))
    marker = json.loads(storage.read_text(join(dest, "_SUCCESS")))
    assert marker["files"] == fast == slow                        # the late one returns the winner's
    assert files_under(storage, dest) == sorted(["_SUCCESS", *fast])         # exactly what it lists
    assert not set(old_files) & set(files_under(storage, dest))
    for name in fast:
        assert storage.read_text(join(dest, name)).startswith("word,count\nfast,")
    if not work_root.startswith("s3://"):   # no half-built folders left beside it
        assert sorted(p.name for p in tmp_path.iterdir() if "published" in p.name) == ["published"]


def test_a_publisher_of_another_job_loses_cleanly(tmp_path, work_root):
    """Locally the paused publisher's files are in its own folder: the other job wins and
    the paused one loses at its swap. On S3 they are already in the destination: the
    other job refuses them as not its own, and the paused one wins. Either way one job's
    complete output is left, and the loser deleted nothing."""
    from engine.errors import DestinationError

    storage, dest = Storage(), _dest(work_root, tmp_path)
    with pytest.raises(DestinationError, match="another publisher wrote|not published there by lmr"):
        paused_while("reduce.before_commit:pause", tmp_path / "faults",
                     lambda: publish(storage, _sources(tmp_path, "slow"), dest, {"job_id": "job-a"},
                                     JobLayout(work_root, "job-a")),
                     lambda: publish(storage, _sources(tmp_path, "fast"), dest, {"job_id": "job-b"},
                                     JobLayout(work_root, "job-b")))
    marker = json.loads(storage.read_text(join(dest, "_SUCCESS")))
    winner = {"job-a": "slow", "job-b": "fast"}[marker["job_id"]]
    assert winner == ("slow" if work_root.startswith("s3://") else "fast")
    assert files_under(storage, dest) == sorted(["_SUCCESS", *marker["files"]])
    for name in marker["files"]:
        assert storage.read_text(join(dest, name)).startswith(f"word,count\n{winner},")


@pytest.mark.parametrize("point", ["partition.before_write", "partition.mid_write", "partition.before_commit"])
def test_a_late_reduce_task_attempt_removes_only_its_own_files(spark, samples, tmp_path, work_root, point):
    from engine.job.partitions import plan_reduce
    from engine.task.reduce import run_partition_task

    files = sorted((samples / "wordcount").glob("*.txt"))
    manifest = tmp_path / "wc.json"
    manifest.write_text(json.dumps({"name": "race-r", "mapper": "jobs.wordcount:SplitWords",
                                    "reducer": "jobs.wordcount:SumCountsPerWord", "reducers": 3, "task_bytes": 1,
                                    "input": {"files": [str(f) for f in files]},
                                    "output": {"path": f"{work_root}/out" if work_root.startswith("s3://")
                                               else str(tmp_path / "out")}}))
    spec = load_manifest(str(manifest), work_dir=work_root)
    tasks = list(plan_job(spec).tasks)
    storage = Storage()
    for task in tasks:
        run_map_task(spec, task, storage)
    plan = plan_reduce(spec, tasks, storage)
    layout = JobLayout(spec.work_dir, spec.job_id)
    roots = [work_root, str(samples)]
    before = snapshot(storage, roots)

    def attempt():
        return run_partition_task(spec, tasks, plan.round, 1, plan.partitions, storage)

    slow, fast = paused_while(f"{point}@reduce-1:pause", tmp_path / "faults", attempt, attempt)
    assert fast.status == "SUCCEEDED" and slow.status == "SKIPPED" and slow.files == fast.files
    after = snapshot(storage, roots)
    ours = layout.reduce_dir(plan.round, 1)
    # Nothing outside reduce task 1's folder changed; inside it, only the winner's files and marker.
    assert {k: v for k, v in after.items() if not k.startswith(ours)} == before
    assert files_under(storage, ours) == sorted(["_COMMITTED", *fast.files])
    # And they hold exactly the words that hash to reduce task 1, with their counts.
    rows = pd.concat([pd.read_csv(io.BytesIO(storage.read_bytes(join(ours, f))), keep_default_na=False)
                      for f in fast.files])
    expected = word_counts(files)
    got = dict(zip(rows["word"], rows["count"]))
    assert got and all(expected[w] == n for w, n in got.items())

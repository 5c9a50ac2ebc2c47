"""Planning: inputs listed and checked, tasks cut, plan files written."""

from __future__ import annotations

import json
import os

import pytest

from engine.errors import PlanError
from engine.job.layout import JobLayout
from engine.job.planning import plan_job, save_plan
from engine.job.manifest import load_manifest
from engine.store.storage import Storage

BASE = {"name": "p", "mapper": "jobs.crawl:ExtractDocuments",
        "reducer": "jobs.crawl:P90ContentLengthByLanguage", "output": {"path": "out"}}


def spec_for(tmp_path, fields=None, **input_):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({**BASE, **(fields or {}), "input": input_}))
    return load_manifest(str(path), work_dir=str(tmp_path / "work"))


def touch(path, data=b"{}\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_prefix_and_glob_list_matching_files_with_sizes(tmp_path):
    for name in ["d/a.jsonl", "d/b.jsonl", "d/sub/c.jsonl", "d/notes.txt", "d/_SUCCESS", "d/.hidden.jsonl"]:
        touch(tmp_path / name, b"x" * (len(name)))
    plan = plan_job(spec_for(tmp_path, prefix="d", glob="*.jsonl"))
    assert [(f.uri.rsplit("/", 1)[1], f.size) for f in plan.inputs] == [("a.jsonl", 9), ("b.jsonl", 9)]
    plan = plan_job(spec_for(tmp_path, prefix="d", glob="**/*.jsonl"))
    assert len(plan.inputs) == 3      # ** spans folders; hidden files never count
    plan = plan_job(spec_for(tmp_path, prefix="d"))
    assert len(plan.inputs) == 4


def test_each_task_holds_a_list_of_inputs(tmp_path):
    touch(tmp_path / "a.jsonl")
    touch(tmp_path / "b.jsonl")
    plan = plan_job(spec_for(tmp_path, {"task_bytes": 1}, files=["a.jsonl", "b.jsonl"]))
    assert [t.task_id for t in plan.tasks] == ["t00000", "t00001"]
    assert [t.input_uris for t in plan.tasks] == [[str(tmp_path / "a.jsonl")], [str(tmp_path / "b.jsonl")]]


def test_every_bad_input_is_named(tmp_path):
    touch(tmp_path / "ok.jsonl")
    touch(tmp_path / "empty.jsonl", b"")
    (tmp_path / "adir").mkdir()
    with pytest.raises(PlanError) as info:
        plan_job(spec_for(tmp_path, files=["ok.jsonl", "missing.jsonl", "empty.jsonl", "adir"]))
    found = [str(p) for p in info.value.problems]
    assert len(found) == 2     # an empty file is a valid input with no records
    assert found[0].startswith("input.files[1]: ") and "missing.jsonl does not exist" in found[0]
    assert found[1].startswith("input.files[3]: ") and "is a directory" in found[1]


def test_zero_byte_files_are_inputs_with_no_records(tmp_path):
    touch(tmp_path / "a.jsonl")
    touch(tmp_path / "empty.jsonl", b"")
    plan = plan_job(spec_for(tmp_path, files=["a.jsonl", "empty.jsonl"]))
    assert [(f.uri.rsplit("/", 1)[1], f.size) for f in plan.inputs] == [
        ("a.jsonl", (tmp_path / "a.jsonl").stat().st_size), ("empty.jsonl", 0)]


def test_prefix_matching_nothing_is_an_error(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(PlanError, match="no input files under .*d .glob '\\*.csv'"):
        plan_job(spec_for(tmp_path, prefix="d", glob="*.csv"))


def test_list_file_of_keys(tmp_path):
    touch(tmp_path / "in" / "a b é.jsonl")   # spaces and non-ASCII
    touch(tmp_path / "in" / "c.jsonl")
    (tmp_path / "keys.txt").write_text("# inputs\nin/a b é.jsonl\n\nin/c.jsonl\n", encoding="utf-8")
    plan = plan_job(spec_for(tmp_path, list="keys.txt"))
    assert [f.uri.rsplit("/", 1)[1] for f in plan.inputs] == ["a b é.jsonl", "c.jsonl"]


def test_save_plan_writes_job_and_tasks_json(tmp_path):
    touch(tmp_path / "a.jsonl")
    plan = plan_job(spec_for(tmp_path, files=["a.jsonl"]))
    save_plan(plan, Storage())
    layout = JobLayout(plan.spec.work_dir, plan.job_id)
    tasks = json.loads(open(layout.tasks_json).read())
    mtime = os.stat(tmp_path / "a.jsonl").st_mtime_ns
    assert tasks == [{"task_id": "t00000", "inputs": [{"uri": str(tmp_path / "a.jsonl"), "size": 3, "etag": None,
                                                       "mtime_ns": mtime}]}]
    assert json.loads(open(layout.job_json).read())["name"] == "p"


def test_a_manifest_of_100000_files_plans(tmp_path):
    """Issue 4: must work (its speed is measured by `python -m benchmarks`, not here)."""
    folder = tmp_path / "many"
    folder.mkdir()
    names = [f"part {i:06d} é.jsonl" for i in range(100_000)]
    for name in names:
        (folder / name).write_bytes(b"{}\n")
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"name": "many", "mapper": "jobs.crawl:ExtractDocuments",
                                    "reducer": "jobs.crawl:P90ContentLengthByLanguage",
                                    "input": {"files": [f"many/{n}" for n in names]},
                                    "output": {"path": "out"}}))
    plan = plan_job(load_manifest(str(manifest)))
    # 3-byte files: packed task_max_files (1000) to a task, in manifest order.
    assert len(plan.tasks) == 100 and len({t.task_id for t in plan.tasks}) == 100
    assert [f.uri for f in plan.inputs] == [str(folder / n) for n in names]
    assert sum(t.bytes for t in plan.tasks) == 3 * 100_000


def test_small_files_are_packed_by_bytes_and_count_large_ones_stand_alone(tmp_path):
    sizes = [10, 30, 25, 100, 5, 5, 5, 5, 60, 1]
    for i, size in enumerate(sizes):
        touch(tmp_path / f"f{i}.jsonl", b"x" * size)
    files = [f"f{i}.jsonl" for i in range(len(sizes))]
    plan = plan_job(spec_for(tmp_path, {"task_bytes": 64, "task_max_files": 3}, files=files))
    groups = [[int(f.uri.rsplit("f", 1)[1].split(".")[0]) for f in t.inputs] for t in plan.tasks]
    # Worked by hand: 10+30 fits and +25 would pass 64; 100 stands alone; three 5s reach
    # the file cap; the fourth 5 + 60 = 65 passes 64, so 60 starts a task and 1 joins it.
    assert groups == [[0, 1], [2], [3], [4, 5, 6], [7], [8, 9]]
    assert [t.bytes for t in plan.tasks] == [40, 25, 100, 15, 5, 61]
    assert [t.task_id for t in plan.tasks] == [f"t{i:05d}" for i in range(6)]
    # Every input is in exactly one task, in order.
    assert [f.uri for f in plan.inputs] == [str(tmp_path / f) for f in files]


def test_default_packing_puts_many_small_files_in_few_tasks(tmp_path):
    for i in range(50):
        touch(tmp_path / "d" / f"{i:02d}.jsonl", b"x" * 20_000)
    plan = plan_job(spec_for(tmp_path, prefix="d"))
    assert len(plan.tasks) == 1 and len(plan.tasks[0].inputs) == 50
    plan = plan_job(spec_for(tmp_path, {"task_bytes": 100_000}, prefix="d"))
    assert [len(t.inputs) for t in plan.tasks] == [5] * 10


def test_a_symlinked_folder_under_the_prefix_is_followed_and_checked(tmp_path, monkeypatch):
    """Not skipped without a word: its files are inputs, each checked, after resolving,
    against the allowed locations; a link back up is followed once, not forever."""
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    (data / "own").mkdir(parents=True)
    elsewhere.mkdir()
    (data / "own" / "a.jsonl").write_text("{}\n")
    (elsewhere / "b.jsonl").write_text("{}\n")
    (data / "linked").symlink_to(elsewhere, target_is_directory=True)
    (data / "own" / "loop").symlink_to(data, target_is_directory=True)
    spec = spec_for(tmp_path, prefix=str(data))
    names = sorted(os.path.basename(f.uri) for t in plan_job(spec).tasks for f in t.inputs)
    assert names == ["a.jsonl", "b.jsonl"]

    monkeypatch.setenv("LMR_ALLOWED_LOCATIONS", f"{data}/,{tmp_path / 'out'}/,{tmp_path / 'work'}/")
    with pytest.raises(PlanError, match=r"linked/b.jsonl resolves to .*elsewhere/b.jsonl, outside the allowed"):
        plan_job(spec_for(tmp_path, prefix=str(data)))


def test_a_binary_input_over_spark_s_limit_is_refused_when_planned(tmp_path):
    big = tmp_path / "data" / "huge.bin"
    big.parent.mkdir()
    with open(big, "wb") as fh:      # sparse: 2 GiB on paper, nothing on disk
        fh.truncate(2**31)
    (tmp_path / "data" / "small.bin").write_bytes(b"x")
    spec = spec_for(tmp_path, prefix=str(tmp_path / "data"), format="binary")
    with pytest.raises(PlanError, match=r"huge.bin is 2,147,483,648 bytes; Spark reads a binary file as one value"):
        plan_job(spec)


def test_a_listed_symlink_to_a_place_outside_the_allowed_locations_is_refused_by_line(tmp_path, monkeypatch):
    """A list may name a million files, so folders are resolved once each: a file that is
    itself a link is still resolved and checked."""
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    data.mkdir()
    elsewhere.mkdir()
    (data / "a.jsonl").write_text("{}\n")
    (elsewhere / "secret.jsonl").write_text("{}\n")
    (data / "b.jsonl").symlink_to(elsewhere / "secret.jsonl")
    (data / "list.txt").write_text("a.jsonl\nb.jsonl\n")
    monkeypatch.setenv("LMR_ALLOWED_LOCATIONS", f"{data}/,{tmp_path / 'out'}/,{tmp_path / 'work'}/")
    with pytest.raises(PlanError, match=r"input.list line 2: .*elsewhere/secret.jsonl is outside the allowed"):
        plan_job(spec_for(tmp_path, list=str(data / "list.txt")))

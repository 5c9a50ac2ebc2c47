"""Planning: inputs listed and checked, tasks cut, plan files written."""

from __future__ import annotations

import json

import pytest

from engine.errors import PlanError
from engine.layout import JobLayout
from engine.planning import Plan, plan_job, save_plan
from engine.spec import load_manifest
from engine.storage import Storage

BASE = {"name": "p", "mapper": "jobs.crawl:ExtractDocuments",
        "reducer": "jobs.crawl:P90ContentLengthByLanguage", "output": {"path": "out"}}


def spec_for(tmp_path, **input_):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({**BASE, "input": input_}))
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
    plan = plan_job(spec_for(tmp_path, files=["a.jsonl", "b.jsonl"]))
    assert [t.task_id for t in plan.tasks] == ["t00000", "t00001"]
    assert [t.input_uris for t in plan.tasks] == [[str(tmp_path / "a.jsonl")], [str(tmp_path / "b.jsonl")]]


def test_every_bad_input_is_named(tmp_path):
    touch(tmp_path / "ok.jsonl")
    touch(tmp_path / "empty.jsonl", b"")
    (tmp_path / "adir").mkdir()
    with pytest.raises(PlanError) as info:
        plan_job(spec_for(tmp_path, files=["ok.jsonl", "missing.jsonl", "empty.jsonl", "adir"]))
    found = [str(p) for p in info.value.problems]
    assert len(found) == 3
    assert found[0].startswith("input.files[1]: ") and "missing.jsonl does not exist" in found[0]
    assert found[1].startswith("input.files[2]: ") and "is empty (0 bytes)" in found[1]
    assert found[2].startswith("input.files[3]: ") and "is a directory" in found[2]


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
    assert tasks == [{"task_id": "t00000", "inputs": [{"uri": str(tmp_path / "a.jsonl"), "size": 3, "etag": None}]}]
    assert json.loads(open(layout.job_json).read())["name"] == "p"
    assert isinstance(plan, Plan)


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
    assert len(plan.tasks) == 100_000 and len({t.task_id for t in plan.tasks}) == 100_000
    assert [t.inputs[0].uri for t in plan.tasks[:2]] == [str(folder / names[0]), str(folder / names[1])]
    assert sum(t.bytes for t in plan.tasks) == 3 * 100_000

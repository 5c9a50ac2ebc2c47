"""Job parameters: checked by shape, given by the manifest or --param, part of the job id
and of the cache key; read-only in user code."""

from __future__ import annotations

import json

import pytest

from engine.cli.commands import overrides_from
from engine.cli.parser import build_parser
from engine.errors import ManifestError
from engine.job.cache import task_key
from engine.job.params import MAX_PARAMS_BYTES, frozen, parse_param_flag
from engine.job.planning import plan_job
from engine.job.manifest import load_manifest


def manifest(tmp_path, **fields) -> str:
    (tmp_path / "a.txt").write_text("a b\n")
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"name": "p", "mapper": "jobs.wordcount:SplitWords", "reducer": "jobs.wordcount:SumCounts",
                                "input": {"files": ["a.txt"]}, "output": {"path": "out"}, **fields}))
    return str(path)


@pytest.mark.parametrize("params, expected", [
    ([1, 2], "params: must be an object, not list"),
    ("v3", "params: must be an object, not str"),
    ({"1st": 1}, "params.1st: a key must be 1-64 letters"),
    ({"a b": 1}, "params.a b: a key must be 1-64 letters"),
    ({"t": float("nan")}, "params.t: must be a finite number"),
    ({"t": [1, {"x": float("inf")}]}, "params.t: must be a finite number"),
    ({"deep": [[[[[[[[[1]]]]]]]]]}, "params.deep: is nested more than 8 deep"),
    ({"blob": "x" * MAX_PARAMS_BYTES}, "params: is 16,395 bytes as JSON; at most 16,384"),
    ({f"k{i}": i for i in range(101)}, "params: has 101 keys; at most 100"),
])
def test_bad_params_are_refused_naming_the_field(tmp_path, params, expected):
    path = tmp_path / "m.json"
    body = json.loads(open(manifest(tmp_path)).read())
    path.write_text(json.dumps({**body, "params": params}, allow_nan=True))
    with pytest.raises(ManifestError) as info:
        load_manifest(str(path))
    assert any(str(p).startswith(expected) for p in info.value.problems), info.value.problems


def test_params_are_part_of_the_job_id_and_the_cache_key(tmp_path):
    a = load_manifest(manifest(tmp_path, params={"threshold": 0.5, "model": "m.npz"}))
    same = load_manifest(manifest(tmp_path, params={"model": "m.npz", "threshold": 0.5}))
    other = load_manifest(manifest(tmp_path, params={"threshold": 0.7, "model": "m.npz"}))
    none = load_manifest(manifest(tmp_path))
    assert a.job_id == same.job_id
    assert len({a.job_id, other.job_id, none.job_id}) == 3
    task = plan_job(a).tasks[0]
    assert task_key(a, task) == task_key(same, task) != task_key(other, task)


@pytest.mark.parametrize("command", ["run", "submit", "validate"])
def test_param_flags_override_the_manifests_params_key_by_key(tmp_path, command):
    args = build_parser().parse_args([command, manifest(tmp_path, params={"threshold": 0.5, "model": "m.npz"}),
                                      "--param", "threshold=0.9", "--param", "labels=[\"a\",\"b\"]",
                                      "--param", "model=s3://b/models/v3.npz"])
    spec = load_manifest(args.manifest, overrides_from(args))
    assert spec.params == {"threshold": 0.9, "model": "s3://b/models/v3.npz", "labels": ["a", "b"]}


def test_param_flag_values_are_json_when_they_parse_else_text():
    assert parse_param_flag("t=0.7") == ("t", 0.7)
    assert parse_param_flag("on=true") == ("on", True)
    assert parse_param_flag("name=v3") == ("name", "v3")
    assert parse_param_flag("expr=a=b") == ("expr", "a=b")
    with pytest.raises(ValueError, match="expected key=value"):
        parse_param_flag("threshold")


def test_a_bad_param_flag_exits_2_with_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["run", "m.json", "--param", "threshold"])
    assert info.value.code == 2
    assert "--param 'threshold': expected key=value" in capsys.readouterr().err


def test_user_code_gets_a_read_only_copy():
    source = {"labels": ["a"]}
    view = frozen(source)
    with pytest.raises(TypeError):
        view["labels"] = ["b"]
    view["labels"].append("b")          # a copy: the job's params are not changed
    assert source == {"labels": ["a"]} and frozen(source)["labels"] == ["a"]


def test_a_param_flag_nested_20000_deep_is_a_one_line_refusal_not_a_traceback():
    import subprocess
    import sys

    from tests.conftest import REPO

    done = subprocess.run([sys.executable, "-m", "engine.cli.main", "validate", "manifests/wordcount.json",
                           "--param", "x=" + "[" * 20000], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == \
        "lmr validate: error: argument --param: --param x: the value is nested more than 8 deep"
    assert "Traceback" not in done.stderr

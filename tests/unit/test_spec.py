"""Manifest validation: each bad manifest gets its own, specific message."""

from __future__ import annotations

import json

import pytest

from engine.errors import ManifestError
from engine.job.manifest import load_job_json, load_manifest

GOOD = {
    "name": "crawl-p90",
    "mapper": "jobs.crawl:ExtractDocuments",
    "reducer": "jobs.crawl:P90ContentLengthByLanguage",
    "input": {"files": ["a.jsonl"]},
    "output": {"path": "out"},
}


def write(tmp_path, body, name="m.json"):
    path = tmp_path / name
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return str(path)


def problems_of(tmp_path, body, name="m.json") -> list[str]:
    with pytest.raises(ManifestError) as info:
        load_manifest(write(tmp_path, body, name))
    return [str(p) for p in info.value.problems]


def with_(**changes):
    body = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


@pytest.mark.parametrize("body, expected", [
    ("{not json", "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
    ("[1, 2]", "must be a JSON object, not a list"),
    ("", "manifest is empty"),
    (with_(colour="blue"), "colour: unknown field"),
    (with_(input={"files": ["a"], "fromat": "csv"}), "input.fromat: unknown field"),
    (with_(retries="3"), "retries: must be an integer, not a string"),
    (with_(retries=True), "retries: must be an integer, not a boolean"),
    (with_(retries=-1), "retries: must be between 0 and 10, not -1"),
    (with_(min_success_ratio=1.5), "min_success_ratio: must be between 0 and 1, not 1.5"),
    (with_(task_bytes=0), "task_bytes: must be between 1 and 10737418240, not 0"),
    (with_(task_bytes="64MB"), "task_bytes: must be an integer, not a string"),
    (with_(task_max_files=0), "task_max_files: must be between 1 and 100000, not 0"),
    (with_(input={"files": []}), "input.files: is empty: a job needs at least one input file"),
    (with_(input={"files": ["a", 7]}), "input.files[1]: must be a non-empty string, not an integer"),
    (with_(input={"files": ["a.jsonl", "./a.jsonl"]}), "input.files[1]: duplicates input.files[0]"),
    (with_(input={}), "input: needs exactly one of 'files', 'prefix' or 'list'"),
    (with_(input={"files": ["a"], "prefix": "data"}), "input: needs exactly one of 'files', 'prefix' or 'list' (got files, prefix)"),
    (with_(input={"files": ["a"], "glob": "*.json"}), "input.glob: only applies with input.prefix"),
    (with_(input={"files": ["a"], "format": "xml"}), "input.format: 'xml' is not one of"),
    (with_(input=...), "input: is required"),
    (with_(output={"format": "json"}), "output.path: is required"),
    (with_(output={"path": "o", "format": "avro"}), "output.format: 'avro' is not one of parquet, json, csv"),
    (with_(mode="MAP_ONLY"), "mode: 'MAP_ONLY' is not one of MAPPER_AND_REDUCER, MAPPER_ONLY, REDUCER_ONLY"),
    (with_(reducer=...), "reducer: is required in mode MAPPER_AND_REDUCER"),
    (with_(mode="MAPPER_ONLY"), "reducer: must not be set in mode MAPPER_ONLY"),
    (with_(name="has space"), "name: 'has space' must be 1-63 letters"),
    (with_(mapper="jobs.crawl:NoSuchClass"), "mapper: module 'jobs.crawl' has no attribute 'NoSuchClass'"),
    (with_(mapper="jobs.nosuchmodule:X"), "mapper: cannot import module 'jobs.nosuchmodule'"),
    (with_(mapper="jobs.crawl:P90ContentLengthByLanguage"), "mapper: 'jobs.crawl:P90ContentLengthByLanguage' is not a subclass of engine.interfaces.Mapper"),
    (with_(mapper="jobs.crawl:SCHEMA"), "is not a subclass of engine.interfaces.Mapper"),
    (with_(mapper="os:system"), "mapper: 'os:system' is outside the allowed job packages ("),
    (with_(reducer="subprocess:Popen"), "reducer: 'subprocess:Popen' is outside the allowed job packages"),
    (with_(mapper="jobs.crawl"), "mapper: 'jobs.crawl' is not of the form 'package.module:ClassName'"),
    (with_(cache="yes"), "cache: must be a boolean, not a string"),
    (with_(cache_version="2"), 'cache_version: only applies with "cache": true'),
    (with_(cache=True, cache_version="v 2"), "cache_version: 'v 2' must be 1-64 letters, digits"),
    (with_(code={"mapper": "0"}), "code: unknown field"),   # code hashes come from the code, never a manifest
    (with_(reducers=0), 'reducers: must be an integer from 1 to 1000 or "auto", not 0'),
    (with_(reducers="many"), "reducers: must be an integer from 1 to 1000 or \"auto\", not 'many'"),
    (with_(reducers=True), "reducers: must be an integer from 1 to 1000"),
    (with_(reducers=3), "reducers: 3 needs the Reducer's partition_by (the columns whose hash decides which "
                        "reduce task gets a row: each reduce task sees every row of its keys); "
                        "jobs.crawl:P90ContentLengthByLanguage declares none"),
    (with_(reducers="auto"), "reducers: 'auto' needs the Reducer's partition_by"),
    (with_(mode="MAPPER_ONLY", reducer=..., reducers=2), "reducers: more than one reducer needs mode MAPPER_AND_REDUCER"),
])
def test_bad_manifest_gets_its_specific_message(tmp_path, body, expected):
    found = problems_of(tmp_path, body)
    assert any(expected in p for p in found), found


def test_every_problem_is_reported_not_just_the_first(tmp_path):
    found = problems_of(tmp_path, with_(colour=1, retries="x", mode="NOPE", input={"files": []}))
    fields = sorted(p.split(":")[0] for p in found)
    assert fields == ["colour", "input.files", "mode", "retries"], found


def test_relative_paths_resolve_against_the_manifest_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    spec = load_manifest(write(tmp_path / "sub", with_(input={"files": ["../a.jsonl", "b.jsonl"]})))
    assert spec.input.files == (str(tmp_path / "a.jsonl"), str(tmp_path / "sub" / "b.jsonl"))
    assert spec.output.path == str(tmp_path / "sub" / "out")


def test_class_defaults_fill_formats_and_manifest_wins(tmp_path):
    spec = load_manifest(write(tmp_path, GOOD))
    assert (spec.input.format, spec.output.format) == ("jsonl", "json")
    spec = load_manifest(write(tmp_path, with_(output={"path": "o", "format": "csv"})))
    assert spec.output.format == "csv"


def test_job_id_is_name_plus_content_hash(tmp_path):
    a = load_manifest(write(tmp_path, GOOD, "a.json"))
    b = load_manifest(write(tmp_path, json.dumps(GOOD, indent=4), "b.json"))  # same content, other bytes
    c = load_manifest(write(tmp_path, with_(retries=5), "c.json"))
    assert a.job_id == b.job_id and a.job_id.startswith("crawl-p90-")
    assert c.job_id != a.job_id


def test_spec_round_trips_through_job_json(tmp_path):
    spec = load_manifest(write(tmp_path, with_(spark_conf={"spark.sql.shuffle.partitions": 4})))
    again = load_job_json(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.job_id == spec.job_id
    assert spec.spark_conf == {"spark.sql.shuffle.partitions": "4"}


def test_text_manifest_takes_the_rest_from_overrides(tmp_path):
    path = write(tmp_path, "# crawl inputs\ns3://in/a.jsonl\n\ns3://in/b.jsonl\n", "inputs.txt")
    spec = load_manifest(path, {"name": "t", "mapper": "jobs.crawl:ExtractDocuments",
                                "reducer": "jobs.crawl:P90ContentLengthByLanguage",
                                "output": {"path": "s3://out/p90"}})
    assert spec.input.files == ("s3://in/a.jsonl", "s3://in/b.jsonl")
    assert spec.work_dir == "s3://out"   # S3 output: the job's files go to the output's bucket


def test_text_manifest_without_overrides_names_the_missing_fields(tmp_path):
    found = problems_of(tmp_path, "a.jsonl\n", "inputs.txt")
    assert {p.split(":")[0] for p in found} == {"name", "mapper", "reducer", "output"}


def test_job_packages_are_configurable(tmp_path, monkeypatch):
    monkeypatch.setenv("LMR_JOB_PACKAGES", "mycompany_jobs")
    found = problems_of(tmp_path, GOOD)
    assert any("outside the allowed job packages (mycompany_jobs)" in p for p in found)


def test_driver_memory_follows_lambda_memory_and_respects_sparks_floor(monkeypatch):
    from engine.spark.session import driver_memory

    monkeypatch.delenv("LMR_DRIVER_MEMORY", raising=False)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008")
    assert driver_memory() == "1804m"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
    assert driver_memory() == "512m"          # Spark will not start below 450 MB
    monkeypatch.setenv("LMR_DRIVER_MEMORY", "2g")
    assert driver_memory() == "2g"


def test_an_arrow_mapper_without_an_output_schema_is_refused_at_load(tmp_path):
    problems = problems_of(tmp_path, with_(mode="MAPPER_ONLY", mapper="tests.testjobs:ArrowWithoutSchema",
                                           reducer=...))
    assert problems == ['mapper: tests.testjobs:ArrowWithoutSchema is an ArrowMapper without an output_schema '
                        '(a DDL string such as "label STRING, score DOUBLE")']


@pytest.mark.parametrize("text, reason", [("{not json", "is not JSON"), ("[1, 2]", "must be an object, not a list")])
def test_a_broken_job_json_is_named_not_a_traceback(tmp_path, text, reason):
    from engine.job.manifest import read_job_json
    from engine.store.storage import Storage

    path = tmp_path / "job.json"
    path.write_text(text)
    with pytest.raises(ManifestError) as info:
        read_job_json(str(path), Storage())
    [problem] = info.value.problems
    assert problem.field == "job.json" and reason in problem.reason and str(path) in str(info.value)

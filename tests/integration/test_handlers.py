"""Each Lambda handler called directly with the event shapes AWS (or our state machine)
delivers, kept as JSON fixtures in tests/fixtures/events. S3 is the moto server; the
mapper and reducer run real Spark. The chain coordinator -> mapper -> reducer -> finalize
is driven by hand here; test_aws_flow drives it through the real state machine."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from engine.job.planning import MapTask
from tests.lambda_context import LambdaContext
from tests.oracles import word_counts

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events"
ASL = Path(__file__).resolve().parents[2] / "infra" / "statemachine.asl.json"
WORDCOUNT = {"name": "wc-handlers", "mapper": "jobs.wordcount:SplitWords",
             "reducer": "jobs.wordcount:SumCounts"}


def event(name: str, **values) -> dict:
    """A fixture with its ${PLACEHOLDERS} filled: a quoted placeholder takes any JSON value."""
    text = (EVENTS / name).read_text()
    for key, value in values.items():
        text = text.replace(f'"${{{key}}}"', json.dumps(value))
        text = text.replace(f"${{{key}}}", str(value))
    assert "${" not in text, f"unfilled placeholder in {name}"
    return json.loads(text)


def context(name: str) -> LambdaContext:
    return LambdaContext(name, 3008, f"arn:aws:lambda:us-east-1:123456789012:function:{name}")


@pytest.fixture
def captured_logs():
    """Everything the powertools logger (and the engine loggers sharing its handler) writes."""
    from lambdas._shared import logger

    handler, stream = logger.registered_handler, io.StringIO()
    previous = handler.setStream(stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    handler.setStream(previous)


@pytest.fixture
def deployed(moto_server, bucket, s3, samples, monkeypatch):
    """The bucket with inputs and a manifest under a key S3 URL-encodes, and a state machine
    to start (a Pass state: this test drives the handlers itself)."""
    import boto3

    files = sorted((samples / "wordcount").glob("*.txt"))
    for path in files:
        s3.upload_file(str(path), bucket, f"inputs/wc/{path.name}")
    manifest = {**WORDCOUNT, "input": {"prefix": f"s3://{bucket}/inputs/wc/"},
                "output": {"path": f"s3://{bucket}/outputs/wc", "format": "csv"}, "max_concurrency": 2}
    s3.put_object(Bucket=bucket, Key="manifests/team a/crawl p90 été.json", Body=json.dumps(manifest))
    sfn = boto3.client("stepfunctions", endpoint_url=moto_server)
    arn = sfn.create_state_machine(
        name=f"{bucket}-jobs", roleArn="arn:aws:iam::123456789012:role/sfn",
        definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("DATA_BUCKET", bucket)
    return {"bucket": bucket, "files": files, "sfn": sfn, "arn": arn}


def read_json(s3, bucket, key):
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_event_fixtures_have_the_shape_the_state_machine_sends():
    states = json.loads(ASL.read_text())["States"]
    payload = states["Map"]["ItemProcessor"]["States"]["MapTask"]["Parameters"]["Payload"]
    assert {k.removesuffix(".$") for k in payload} == set(event("mapper_task.json", JOB_ID="j", BUCKET="b",
                                                                TASK_ID="t", INPUTS=[]))
    selector = states["Map"]["ItemSelector"]
    assert {k.removesuffix(".$") for k in selector} == {k.removesuffix(".$") for k in payload} - {"retry_count"}
    reduce = states["Reduce"]["Parameters"]["Payload"]
    assert {k.removesuffix(".$") for k in reduce} == set(event("reducer.json", JOB_ID="j", BUCKET="b"))
    # A local worker is handed the same events (one entry, engine/task/entry.py, two callers).
    from engine.job.planning import InputFile, MapTask
    from engine.task.entry import task_event

    task = MapTask("t0", (InputFile("/d/a.txt", 3),))
    assert set(task_event("j", "/w/jobs/j/job.json", task, 2)) == {k.removesuffix(".$") for k in payload}
    assert set(task_event("j", "/w/jobs/j/job.json", None)) == {k.removesuffix(".$") for k in reduce}


def test_handlers_chain_from_an_s3_event_to_status(deployed, s3, spark, captured_logs, capsys):
    from lambdas import coordinator, finalize, mapper, reducer

    bucket, sfn = deployed["bucket"], deployed["sfn"]
    upload = event("s3_put_manifest.json", BUCKET=bucket)
    [job] = coordinator.handler(upload, context("coordinator"))["jobs"]
    # The three small files are packed into one map task (default task_bytes).
    assert job["started"] and job["tasks"] == 1
    job_id = job["job_id"]
    [execution] = sfn.list_executions(stateMachineArn=deployed["arn"])["executions"]
    assert execution["name"] == job_id
    sent = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert sent["tasks"] == f"s3://{bucket}/jobs/{job_id}/tasks.json" and sent["max_concurrency"] == 2
    assert len(json.dumps(sent)) < 1024               # pointers only, far from the 256 KB cap
    assert read_json(s3, bucket, f"jobs/{job_id}/status.json")["state"] == "RUNNING"

    # The same upload again (S3 delivers at least once): a logged no-op.
    [again] = coordinator.handler(upload, context("coordinator"))["jobs"]
    assert again == {"job_id": job_id, "state": "RUNNING", "started": False}
    assert len(sfn.list_executions(stateMachineArn=deployed["arn"])["executions"]) == 1

    tasks = read_json(s3, bucket, f"jobs/{job_id}/tasks.json")
    assert [len(t["inputs"]) for t in tasks] == [len(deployed["files"])]   # packed
    results = [mapper.handler(event("mapper_task.json", JOB_ID=job_id, BUCKET=bucket,
                                    TASK_ID=t["task_id"], INPUTS=t["inputs"]), context("mapper"))
               for t in tasks]
    assert [r["status"] for r in results] == ["SUCCEEDED"] * len(tasks)
    for t in tasks:
        identity = MapTask.from_dict(t).identity
        s3.head_object(Bucket=bucket, Key=f"jobs/{job_id}/intermediate/{t['task_id']}/_COMMITTED.{identity}")
    reduced = reducer.handler(event("reducer.json", JOB_ID=job_id, BUCKET=bucket), context("reducer"))
    status = finalize.handler(event("finalize_after_reduce.json", JOB_ID=job_id, BUCKET=bucket,
                                    REDUCE_RESULT=reduced), context("finalize"))
    assert status["state"] == "SUCCEEDED" and status["tasks_succeeded"] == len(tasks)

    marker = read_json(s3, bucket, "outputs/wc/_SUCCESS")
    got = pd.concat([pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=f"outputs/wc/{n}")["Body"].read()),
                                 keep_default_na=False) for n in marker["files"]])
    assert dict(zip(got["word"], got["count"])) == dict(word_counts(deployed["files"]))

    # Every line the mapper wrote carries the job, the task and its input; EMF metrics printed.
    lines = captured_logs()
    mapper_lines = [line for line in lines if line.get("function_name") == "mapper"]
    assert mapper_lines and all(line["job_id"] == job_id and line["task_id"] and line["input"]
                                for line in mapper_lines)
    assert "lmr-fake-secret-never-logged" not in json.dumps(lines)    # no credentials in logs
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert {"RowsIn", "RowsOut", "Duration", "SparkColdStart"} <= {
        m["Name"] for doc in emf for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def test_finalize_after_a_caught_error_writes_failed_with_the_error(deployed, s3, captured_logs):
    from lambdas import coordinator, finalize

    bucket = deployed["bucket"]
    [job] = coordinator.handler(event("s3_put_manifest.json", BUCKET=bucket), context("coordinator"))["jobs"]
    status = finalize.handler(event("finalize_after_catch.json", JOB_ID=job["job_id"], BUCKET=bucket),
                              context("finalize"))
    assert status["state"] == "FAILED"
    assert status["reason"].startswith("States.ExceedToleratedFailureThreshold: The specified tolerated")
    written = read_json(s3, bucket, f"jobs/{job['job_id']}/status.json")
    assert written["state"] == "FAILED" and written["tasks_failed"] == 1   # one packed task
    assert not s3.list_objects_v2(Bucket=bucket, Prefix="outputs/").get("Contents")


def test_coordinator_rejects_an_invalid_manifest_without_starting_anything(deployed, s3):
    from lambdas import coordinator

    bucket = deployed["bucket"]
    s3.put_object(Bucket=bucket, Key="manifests/team a/crawl p90 été.json", Body=b'{"name": ')
    [job] = coordinator.handler(event("s3_put_manifest.json", BUCKET=bucket), context("coordinator"))["jobs"]
    assert job["state"] == "FAILED" and not job["started"]
    assert "not valid JSON" in job["problems"][0] and "line 1" in job["problems"][0]
    assert read_json(s3, bucket, f"jobs/{job['job_id']}/status.json")["state"] == "FAILED"
    assert not deployed["sfn"].list_executions(stateMachineArn=deployed["arn"])["executions"]


def test_the_same_manifest_uploaded_twice_at_once_makes_one_job(deployed, s3):
    from concurrent.futures import ThreadPoolExecutor

    from lambdas import coordinator

    upload = event("s3_put_manifest.json", BUCKET=deployed["bucket"])
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda name: coordinator.handler(upload, context(name))["jobs"][0],
                                ["coordinator-1", "coordinator-2"]))
    assert answers[0]["job_id"] == answers[1]["job_id"]
    executions = deployed["sfn"].list_executions(stateMachineArn=deployed["arn"])["executions"]
    assert [e["name"] for e in executions] == [answers[0]["job_id"]]
    status = read_json(s3, deployed["bucket"], f"jobs/{answers[0]['job_id']}/status.json")
    assert status["state"] == "RUNNING" and status["tasks_total"] == 1     # one packed task


def _all_objects(s3, bucket: str) -> dict[str, bytes]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


@pytest.mark.parametrize("output, expected", [
    ("outputs/theirs", "outputs/theirs/report.csv in the output folder was not published there by lmr"),
    ("inputs/wc/out", "lies inside input.prefix"),
])
def test_coordinator_refuses_an_unsafe_destination_and_touches_nothing(deployed, s3, output, expected):
    from lambdas import coordinator

    bucket = deployed["bucket"]
    s3.put_object(Bucket=bucket, Key="outputs/theirs/report.csv", Body=b"someone's report\n")
    manifest = {**WORDCOUNT, "input": {"prefix": f"s3://{bucket}/inputs/wc/"},
                "output": {"path": f"s3://{bucket}/{output}"}}
    s3.put_object(Bucket=bucket, Key="manifests/team a/crawl p90 été.json", Body=json.dumps(manifest))
    before = _all_objects(s3, bucket)
    [job] = coordinator.handler(event("s3_put_manifest.json", BUCKET=bucket), context("coordinator"))["jobs"]
    assert job["state"] == "FAILED" and not job["started"]
    assert any(p.startswith("output.path: ") and expected in p for p in job["problems"]), job["problems"]
    after = _all_objects(s3, bucket)
    assert [k for k in after.keys() - before.keys()] == [f"jobs/{job['job_id']}/status.json"]
    assert {k: after[k] for k in before} == before
    assert not deployed["sfn"].list_executions(stateMachineArn=deployed["arn"])["executions"]


def test_finalize_of_a_mapper_only_job_whose_destination_was_taken_ends_failed(deployed, s3, spark):
    from lambdas import coordinator, finalize, mapper

    bucket = deployed["bucket"]
    manifest = {"name": "wc-mo", "mode": "MAPPER_ONLY", "mapper": "jobs.wordcount:SplitWords",
                "input": {"prefix": f"s3://{bucket}/inputs/wc/"}, "output": {"path": f"s3://{bucket}/outputs/mo"}}
    s3.put_object(Bucket=bucket, Key="manifests/team a/crawl p90 été.json", Body=json.dumps(manifest))
    [job] = coordinator.handler(event("s3_put_manifest.json", BUCKET=bucket), context("coordinator"))["jobs"]
    for t in read_json(s3, bucket, f"jobs/{job['job_id']}/tasks.json"):
        mapper.handler(event("mapper_task.json", JOB_ID=job["job_id"], BUCKET=bucket, TASK_ID=t["task_id"],
                             INPUTS=t["inputs"]), context("mapper"))
    s3.put_object(Bucket=bucket, Key="outputs/mo/late.txt", Body=b"written meanwhile by someone\n")
    status = finalize.handler(event("finalize_after_reduce.json", JOB_ID=job["job_id"], BUCKET=bucket,
                                    REDUCE_RESULT=None), context("finalize"))
    assert status["state"] == "FAILED"
    assert status["reason"].startswith("publishing failed: DestinationError: ") and "late.txt" in status["reason"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="outputs/mo/")["Contents"]] == [
        "outputs/mo/late.txt"]


def test_a_warm_mapper_container_sets_up_once_and_params_reach_the_task(deployed, s3, spark, tmp_path):
    """Three map tasks of a job with params, invoked one after another in this process (a
    warm container): the mapper's setup ran once; every word carries the params' suffix."""
    from lambdas import coordinator, finalize, mapper, reducer

    bucket, marks = deployed["bucket"], tmp_path / "marks"
    marks.mkdir()
    manifest = {"name": "warm", "mapper": "tests.testjobs:WordsSetUpOnce", "reducer": "jobs.wordcount:SumCounts",
                "input": {"prefix": f"s3://{bucket}/inputs/wc/"}, "output": {"path": f"s3://{bucket}/outputs/warm"},
                "task_bytes": 1, "params": {"marks": str(marks), "suffix": "#v2"}}
    s3.put_object(Bucket=bucket, Key="manifests/warm.json", Body=json.dumps(manifest))
    upload = event("s3_put_manifest.json", BUCKET=bucket)
    upload["Records"][0]["s3"]["object"]["key"] = "manifests/warm.json"
    [job] = coordinator.handler(upload, context("coordinator"))["jobs"]
    job_id = job["job_id"]
    assert read_json(s3, bucket, f"jobs/{job_id}/job.json")["params"] == manifest["params"]
    tasks = read_json(s3, bucket, f"jobs/{job_id}/tasks.json")
    assert len(tasks) == 3
    for t in tasks:
        done = mapper.handler(event("mapper_task.json", JOB_ID=job_id, BUCKET=bucket, TASK_ID=t["task_id"],
                                    INPUTS=t["inputs"]), context("mapper"))
        assert done["status"] == "SUCCEEDED"
    assert [p.name.split("-")[0] for p in marks.iterdir()] == ["mapper"]
    reduced = reducer.handler(event("reducer.json", JOB_ID=job_id, BUCKET=bucket), context("reducer"))
    finalize.handler(event("finalize_after_reduce.json", JOB_ID=job_id, BUCKET=bucket, REDUCE_RESULT=reduced),
                     context("finalize"))
    marker = read_json(s3, bucket, "outputs/warm/_SUCCESS")
    got = pd.concat([pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=f"outputs/warm/{n}")["Body"].read()),
                                 keep_default_na=False) for n in marker["files"]])
    assert dict(zip(got["word"], got["count"])) == {w + "#v2": n for w, n in word_counts(deployed["files"]).items()}

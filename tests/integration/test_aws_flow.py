"""The whole AWS flow on moto: S3 upload -> notification -> coordinator -> the real state
machine definition (moto's interpreter) -> mapper and reducer handlers running real
Spark -> finalize -> status.json. Stack built from template.yaml's values."""

from __future__ import annotations

import io
import json
import logging
import re
import time

import boto3
import pandas as pd
import pytest

from tests.conftest import run_local
from tests.integration.aws_stack import deploy, in_process_lambdas
from tests.oracles import word_counts

# One map task per file (task_bytes 1), so the Distributed Map fans out over several.
CRAWL = {"mapper": "jobs.crawl:ExtractDocuments", "reducer": "jobs.crawl:P90ContentLengthByLanguage",
         "max_concurrency": 2, "task_bytes": 1}


@pytest.fixture(scope="module")
def stack(moto_server):
    # The interpreter logs whole tracebacks for failing states on purpose; keep test output readable.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    with in_process_lambdas():
        yield deploy(moto_server, "lmr-aws-flow", params={"JobPackages": "jobs,tests"})


@pytest.fixture
def aws(moto_server):
    import boto3

    return {name: boto3.client(name, endpoint_url=moto_server) for name in ("s3", "stepfunctions")}


def upload_inputs(s3, bucket, samples, prefix, names=None):
    files = sorted((samples / "crawl").glob("*.jsonl"))
    keys = []
    for i, path in enumerate(files):
        key = f"{prefix}/{names[i] if names else path.name}"
        s3.upload_file(str(path), bucket, key)
        keys.append(key)
    return files, keys


def submit(s3, bucket, name, manifest) -> None:
    s3.put_object(Bucket=bucket, Key=f"manifests/{name}.json", Body=json.dumps(manifest))


def wait_for_execution(sfn, state_machine_arn, prefix, timeout=300) -> dict:
    """Poll (bounded) until the job's execution leaves RUNNING."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [e for e in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
                if e["name"].startswith(prefix)]
        if runs and runs[0]["status"] != "RUNNING":
            return sfn.describe_execution(executionArn=runs[0]["executionArn"])
        time.sleep(0.5)
    raise AssertionError(f"no finished execution named {prefix}* within {timeout}s")


def read_json(s3, bucket, key):
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def read_output(s3, bucket, prefix) -> pd.DataFrame:
    marker = read_json(s3, bucket, f"{prefix}/_SUCCESS")
    frames = [pd.read_json(io.BytesIO(s3.get_object(Bucket=bucket, Key=f"{prefix}/{n}")["Body"].read()),
                           lines=True) for n in marker["files"]]
    return pd.concat(frames).sort_values("language").reset_index(drop=True)


def test_upload_runs_the_job_and_matches_the_local_run(stack, aws, samples, tmp_path, monkeypatch):
    s3, sfn = aws["s3"], aws["stepfunctions"]
    files, keys = upload_inputs(s3, stack.bucket, samples, "inputs/crawl")
    manifest = {"name": "crawl-aws", **CRAWL,
                "input": {"prefix": f"s3://{stack.bucket}/inputs/crawl/", "glob": "*.jsonl"},
                "output": {"path": f"s3://{stack.bucket}/outputs/crawl-p90"}}
    submit(s3, stack.bucket, "crawl aws é", manifest)   # a key S3 events URL-encode

    execution = wait_for_execution(sfn, stack.state_machine_arn, "crawl-aws-")
    job_id = execution["name"]
    status = read_json(s3, stack.bucket, f"jobs/{job_id}/status.json")
    assert execution["status"] == "SUCCEEDED", status["reason"]
    assert status["state"] == "SUCCEEDED" and status["tasks_succeeded"] == len(files)
    assert len(read_json(s3, stack.bucket, f"jobs/{job_id}/tasks.json")) == len(files)

    # The in-process functions' environment (aws_stack) restricts locations to the bucket.
    monkeypatch.delenv("LMR_ALLOWED_LOCATIONS", raising=False)
    local, _, _ = run_local({"name": "crawl-aws", **CRAWL, "input": {"files": [str(f) for f in files]},
                             "output": {"path": str(tmp_path / "out")}}, tmp_path)
    marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    expected = pd.concat([pd.read_json(tmp_path / "out" / f, lines=True) for f in marker["files"]])
    pd.testing.assert_frame_equal(read_output(s3, stack.bucket, "outputs/crawl-p90"),
                                  expected.sort_values("language").reset_index(drop=True))
    assert (status["rows_in"], status["rows_out"], status["rejected"]) == \
        (local.rows_in, local.rows_out, local.rejected)

    # The same manifest again is the same job: no second execution, status untouched.
    submit(s3, stack.bucket, "crawl aws é", manifest)
    runs = [e for e in sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
            if e["name"].startswith("crawl-aws-")]
    assert len(runs) == 1
    assert read_json(s3, stack.bucket, f"jobs/{job_id}/status.json")["state"] == "SUCCEEDED"


@pytest.mark.parametrize("ratio, state, execution_status", [(0.7, "PARTIAL", "SUCCEEDED"),
                                                            (1.0, "FAILED", "FAILED")])
def test_failing_input_is_retried_or_not_and_status_follows_min_success_ratio(
        stack, aws, samples, tmp_path, monkeypatch, ratio, state, execution_status):
    s3, sfn = aws["s3"], aws["stepfunctions"]
    monkeypatch.setenv("LMR_TEST_SCRATCH", str(tmp_path))
    name = f"faults-{str(ratio).replace('.', '')}"
    prefix = f"inputs/{name}"
    files, keys = upload_inputs(s3, stack.bucket, samples, prefix,
                                names=["a.jsonl", "flaky.jsonl", "c.jsonl", "poison.jsonl"])
    submit(s3, stack.bucket, name, {"name": name, **CRAWL, "mapper": "tests.testjobs:FlakyOnce",
                                    "input": {"prefix": f"s3://{stack.bucket}/{prefix}/"},
                                    "output": {"path": f"s3://{stack.bucket}/outputs/{name}"},
                                    "min_success_ratio": ratio})
    execution = wait_for_execution(sfn, stack.state_machine_arn, f"{name}-")
    assert execution["status"] == execution_status
    status = read_json(s3, stack.bucket, f"jobs/{execution['name']}/status.json")
    assert status["state"] == state
    assert (status["tasks_succeeded"], status["tasks_failed"]) == (3, 1)
    assert len(list(tmp_path.glob("flaky-*"))) == 1    # its first attempt failed: it was retried
    [failed] = status["failed"]
    assert failed["inputs"] == [f"s3://{stack.bucket}/{prefix}/poison.jsonl"]
    assert failed["error_type"] == "UserCodeError" and "refusing" in failed["error"]
    has_output = "Contents" in s3.list_objects_v2(Bucket=stack.bucket, Prefix=f"outputs/{name}/")
    assert has_output == (state == "PARTIAL")


def test_invalid_manifest_fails_with_every_message_and_starts_nothing(stack, aws):
    s3, sfn = aws["s3"], aws["stepfunctions"]
    before = len(sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"])
    submit(s3, stack.bucket, "broken", {"name": "broken", "mapper": "os:system", "colour": "red",
                                        "input": {"files": []}, "output": {"path": "s3://x/y"}})
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=stack.bucket, Prefix="jobs/broken-")["Contents"]]
    [status_key] = [k for k in keys if k.endswith("/status.json")]
    status = read_json(s3, stack.bucket, status_key)
    assert status["state"] == "FAILED"
    for expected in ("mapper: 'os:system' is outside the allowed job packages", "colour: unknown field",
                     "input.files: is empty", "reducer: is required"):
        assert expected in status["reason"]
    assert len(sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]) == before


def last_json_line(text: str, key: str) -> dict:
    return [d for d in map(json.loads, filter(None, text.splitlines())) if key in d][-1]


def create_stack_outputs(moto_server, name, stack) -> None:
    """A CloudFormation stack with the outputs `lmr --stack` reads (moto's CloudFormation
    cannot build the real one; see aws_stack)."""
    import boto3

    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {"DataBucket": {"Value": stack.bucket},
                            "StateMachineArn": {"Value": stack.state_machine_arn}}}
    boto3.client("cloudformation", endpoint_url=moto_server).create_stack(
        StackName=name, TemplateBody=json.dumps(template))


def test_lmr_submit_and_status_follow_a_job_to_the_end(stack, aws, samples, tmp_path, moto_server, capsys):
    from engine.cli.main import main
    from tests.oracles import word_counts

    s3 = aws["s3"]
    create_stack_outputs(moto_server, "lmr-cli", stack)
    files = sorted((samples / "wordcount").glob("*.txt"))
    for path in files:
        s3.upload_file(str(path), stack.bucket, f"inputs/wc-cli/{path.name}")
    manifest = tmp_path / "wc-cli.json"
    manifest.write_text(json.dumps({"name": "wc-cli", "mapper": "jobs.wordcount:SplitWords",
                                    "reducer": "jobs.wordcount:SumCounts",
                                    "input": {"prefix": f"s3://{stack.bucket}/inputs/wc-cli/"},
                                    "output": {"path": f"s3://{stack.bucket}/outputs/wc-cli"},
                                    "task_bytes": 1}))
    assert main(["submit", str(manifest), "--stack", "lmr-cli", "--json"]) == 0
    # (the in-process coordinator's log lines share this stdout; on AWS they do not)
    submitted = last_json_line(capsys.readouterr().out, "manifest")
    assert submitted["manifest"] == f"s3://{stack.bucket}/manifests/wc-cli.json"

    execution = wait_for_execution(aws["stepfunctions"], stack.state_machine_arn, "wc-cli-")
    assert execution["name"] == submitted["job_id"]       # the id printed is the coordinator's
    code = main(["status", submitted["job_id"], "--stack", "lmr-cli", "--watch", "--interval", "0.2", "--json"])
    final = last_json_line(capsys.readouterr().out, "map_run")
    assert code == 0 and final["state"] == "SUCCEEDED"
    assert final["map_run"]["total"] == final["map_run"]["succeeded"] == len(files)
    assert final["execution"]["status"] == "SUCCEEDED"
    marker = read_json(s3, stack.bucket, "outputs/wc-cli/_SUCCESS")
    got = pd.concat([pd.read_csv(io.BytesIO(s3.get_object(Bucket=stack.bucket, Key=f"outputs/wc-cli/{n}")["Body"].read()),
                                 keep_default_na=False) for n in marker["files"]])
    assert dict(zip(got["word"], got["count"])) == dict(word_counts(files))

    assert main(["status", submitted["job_id"], "--stack", "lmr-cli"]) == 0
    text = capsys.readouterr().out
    assert "SUCCEEDED" in text and f"map tasks {len(files)}/{len(files)} done" in text

    # The same job through `lmr run --stack` (the stack runner behind the runner interface):
    # the same checks, the same upload and id; the coordinator finds it SUCCEEDED.
    assert main(["run", str(manifest), "--stack", "lmr-cli", "--json"]) == 0
    again = last_json_line(capsys.readouterr().out, "manifest")
    assert (again["job_id"], again["manifest"]) == (submitted["job_id"], submitted["manifest"])
    assert main(["report", submitted["job_id"], "--stack", "lmr-cli"]) == 0
    report = capsys.readouterr().out.strip().splitlines()[-1]
    assert report == f"s3://{stack.bucket}/jobs/{submitted['job_id']}/report.html"
    assert s3.head_object(Bucket=stack.bucket, Key=f"jobs/{submitted['job_id']}/report.html")["ContentLength"] > 0


def test_lmr_submit_refuses_local_paths_and_unknown_stacks(stack, samples, tmp_path, moto_server, capsys):
    from engine.cli.main import main

    create_stack_outputs(moto_server, "lmr-cli-2", stack)
    manifest = tmp_path / "local.json"
    manifest.write_text(json.dumps({"name": "local", **CRAWL, "input": {"prefix": str(samples / "crawl")},
                                    "output": {"path": "out"}}))
    assert main(["submit", str(manifest), "--stack", "lmr-cli-2"]) == 2
    err = capsys.readouterr().err
    assert "input.prefix:" in err and "output.path:" in err
    assert f"is outside the allowed locations (s3://{stack.bucket}/inputs/, s3://{stack.bucket}/outputs/)" in err
    # A destination holding someone's objects is refused here, before anything is uploaded.
    s3 = boto3.client("s3", endpoint_url=moto_server)
    s3.put_object(Bucket=stack.bucket, Key="outputs/theirs/keep.csv", Body=b"theirs\n")
    s3.put_object(Bucket=stack.bucket, Key="inputs/sub/a.jsonl", Body=b'{"url": "u"}\n')
    manifest.write_text(json.dumps({"name": "taken", **CRAWL, "input": {"prefix": f"s3://{stack.bucket}/inputs/sub"},
                                    "output": {"path": f"s3://{stack.bucket}/outputs/theirs"}}))
    assert main(["submit", str(manifest), "--stack", "lmr-cli-2"]) == 2
    assert f"output.path: s3://{stack.bucket}/outputs/theirs/keep.csv in the output folder was not published" \
        in capsys.readouterr().err
    assert not s3.list_objects_v2(Bucket=stack.bucket, Prefix="manifests/taken").get("Contents")
    assert main(["submit", str(manifest), "--stack", "no-such-stack"]) == 2
    assert "no-such-stack" in capsys.readouterr().err
    assert main(["status", "nothing-0123456789", "--stack", "lmr-cli-2"]) == 2
    assert "no job nothing-0123456789" in capsys.readouterr().err


def test_lmr_logs_reads_a_jobs_lines_from_cloudwatch(stack, moto_server, capsys):
    """The functions' log groups hold powertools JSON lines of many jobs; `lmr logs` picks
    one job's (and one task's) lines."""
    import boto3

    from engine.cli.main import main
    from engine.stack.client import log_group

    logs = boto3.client("logs", endpoint_url=moto_server)
    lines = {"mapper": [{"level": "INFO", "message": "map task done", "job_id": "job-a", "task_id": "t00001"},
                        {"level": "INFO", "message": "map task done", "job_id": "job-a", "task_id": "t00002"},
                        {"level": "INFO", "message": "map task done", "job_id": "job-b", "task_id": "t00001"}],
             "reducer": [{"level": "INFO", "message": "reduce done", "job_id": "job-a", "task_id": "reduce"}]}
    for function, records in lines.items():
        group = log_group("lmr-logs", function)
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
            {"timestamp": int(time.time() * 1000) + i, "message": json.dumps(r)} for i, r in enumerate(records)])
    assert main(["logs", "job-a", "--stack", "lmr-logs", "--json"]) == 0
    got = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert sorted((g["function"], g["task_id"]) for g in got) == [
        ("mapper", "t00001"), ("mapper", "t00002"), ("reducer", "reduce")]
    assert main(["logs", "job-a", "--stack", "lmr-logs", "--task", "t00002"]) == 0
    assert capsys.readouterr().out.strip().splitlines() == ["mapper      t00002   INFO  map task done"]


def test_aws_errors_and_bad_arns_are_one_line_not_a_traceback(moto_server, capsys, monkeypatch):
    from engine.cli.main import main

    assert main(["status", "job-1", "--bucket", "b", "--state-machine", "not-an-arn"]) == 2
    assert "--state-machine: 'not-an-arn' is not a state machine ARN" in capsys.readouterr().err
    # Nothing listens on port 9: botocore cannot connect, the CLI says so in one line.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert main(["logs", "job-1", "--stack", "lmr-nothing"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lmr logs: AWS: ") and "127.0.0.1:9" in err and "Traceback" not in err


def test_retries_from_the_manifest_are_honoured_on_aws_and_locally(stack, aws, samples, tmp_path, monkeypatch):
    """With retries: 1, a task that fails retryably every time runs exactly twice, on the
    state machine (whose MaxAttempts is only a ceiling) and with the local runner."""
    s3, sfn = aws["s3"], aws["stepfunctions"]
    monkeypatch.setenv("LMR_TEST_SCRATCH", str(tmp_path))
    doc = sorted((samples / "wordcount").glob("*.txt"))[0]
    s3.upload_file(str(doc), stack.bucket, "inputs/retries/doc.txt")
    submit(s3, stack.bucket, "retries", {"name": "retries", "mapper": "tests.testjobs:AlwaysFlaky",
                                         "reducer": "jobs.wordcount:SumCounts", "retries": 1,
                                         "input": {"files": [f"s3://{stack.bucket}/inputs/retries/doc.txt"]},
                                         "output": {"path": f"s3://{stack.bucket}/outputs/retries"}})
    execution = wait_for_execution(sfn, stack.state_machine_arn, "retries-")
    status = read_json(s3, stack.bucket, f"jobs/{execution['name']}/status.json")
    assert status["state"] == "FAILED"
    assert [(f["error_type"], f["attempts"]) for f in status["failed"]] == [("StorageError", 2)]
    assert len(list(tmp_path.glob("attempt-*"))) == 2

    for attempt in tmp_path.glob("attempt-*"):
        attempt.unlink()
    monkeypatch.delenv("LMR_ALLOWED_LOCATIONS", raising=False)   # set by the in-process functions
    local, _, _ = run_local({"name": "retries", "mapper": "tests.testjobs:AlwaysFlaky",
                             "reducer": "jobs.wordcount:SumCounts", "retries": 1,
                             "input": {"files": [str(doc)]}, "output": {"path": str(tmp_path / "out")}}, tmp_path)
    assert local.state == "FAILED"
    assert [(f.error_type, f.attempts) for f in local.failed] == [("StorageError", 2)]
    assert len(list(tmp_path.glob("attempt-*"))) == 2


@pytest.mark.parametrize("how", ["re-upload", "lmr resume --stack"])
def test_a_partial_job_is_resumed_as_a_new_run_that_runs_only_the_failed_task(
        stack, aws, samples, tmp_path, moto_server, monkeypatch, capsys, how):
    from engine.cli.main import main

    s3, sfn = aws["s3"], aws["stepfunctions"]
    monkeypatch.setenv("LMR_TEST_SCRATCH", str(tmp_path))
    name = "resume-" + how.split()[0].replace("-", "")
    docs = sorted((samples / "wordcount").glob("*.txt"))
    for key, doc in zip(("a.txt", "broken.txt", "c.txt"), docs):
        s3.upload_file(str(doc), stack.bucket, f"inputs/{name}/{key}")
    manifest = {"name": name, "mapper": "tests.testjobs:FailsUntilFixed", "reducer": "jobs.wordcount:SumCounts",
                "task_bytes": 1, "min_success_ratio": 0.5, "max_concurrency": 2,
                "input": {"prefix": f"s3://{stack.bucket}/inputs/{name}"},
                "output": {"path": f"s3://{stack.bucket}/outputs/{name}", "format": "csv"}}
    submit(s3, stack.bucket, name, manifest)
    first = wait_for_execution(sfn, stack.state_machine_arn, f"{name}-")
    job_id = first["name"]
    assert read_json(s3, stack.bucket, f"jobs/{job_id}/status.json")["state"] == "PARTIAL"

    (tmp_path / "fixed").touch()                     # the input is fixed
    for mapped in tmp_path.glob("mapped-*"):
        mapped.unlink()
    create_stack_outputs(moto_server, f"lmr-{name}", stack)
    if how == "re-upload":
        submit(s3, stack.bucket, name, manifest)
    else:
        assert main(["resume", job_id, "--stack", f"lmr-{name}"]) == 0
    second = wait_for_execution(sfn, stack.state_machine_arn, f"{job_id}-r2")
    assert second["status"] == "SUCCEEDED"
    status = read_json(s3, stack.bucket, f"jobs/{job_id}/status.json")
    assert status["state"] == "SUCCEEDED" and status["tasks_succeeded"] == 3
    assert [(r["run"], r["state"], r["execution"]) for r in status["runs"]] == [
        (1, "PARTIAL", job_id), (2, "SUCCEEDED", f"{job_id}-r2")]
    # Only the task that failed ran again (the others found their commit markers).
    assert sorted(p.name.split("-")[1] for p in tmp_path.glob("mapped-*")) == ["t00001"]
    marker = read_json(s3, stack.bucket, f"outputs/{name}/_SUCCESS")
    got = pd.concat([pd.read_csv(io.BytesIO(s3.get_object(Bucket=stack.bucket, Key=f"outputs/{name}/{f}")["Body"]
                                            .read()), keep_default_na=False) for f in marker["files"]])
    assert dict(zip(got["word"], got["count"])) == dict(word_counts(docs))

    capsys.readouterr()
    assert main(["status", job_id, "--stack", f"lmr-{name}"]) == 0
    shown = capsys.readouterr().out
    assert f"run 1: PARTIAL  execution {job_id}" in shown and f"run 2: SUCCEEDED  execution {job_id}-r2" in shown

    # SUCCEEDED: the same manifest again starts nothing.
    submit(s3, stack.bucket, name, manifest)
    time.sleep(1)
    names = [e["name"] for e in sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]]
    assert sorted(n for n in names if n.startswith(job_id)) == [job_id, f"{job_id}-r2"]


def test_with_cache_a_job_that_changes_only_the_reduce_side_runs_no_map_task(stack, aws, samples, tmp_path,
                                                                             monkeypatch):
    """The coordinator reuses the first job's committed tasks: the second job's Map state
    gets no item at all, the reducer reads the first job's parts."""
    s3, sfn = aws["s3"], aws["stepfunctions"]
    monkeypatch.setenv("LMR_TEST_SCRATCH", str(tmp_path))   # each Mapper call leaves a mapped-* file
    docs = sorted((samples / "wordcount").glob("*.txt"))
    for doc in docs:
        s3.upload_file(str(doc), stack.bucket, f"inputs/cached/{doc.name}")
    manifest = {"name": "cached", "mapper": "tests.testjobs:FailsUntilFixed", "reducer": "jobs.wordcount:SumCounts",
                "cache": True, "task_bytes": 1, "max_concurrency": 2,
                "input": {"prefix": f"s3://{stack.bucket}/inputs/cached"},
                "output": {"path": f"s3://{stack.bucket}/outputs/cached", "format": "csv"}}
    submit(s3, stack.bucket, "cached", manifest)
    first = wait_for_execution(sfn, stack.state_machine_arn, "cached-")["name"]
    assert len(list(tmp_path.glob("mapped-*"))) == len(docs)

    for mapped in tmp_path.glob("mapped-*"):
        mapped.unlink()
    submit(s3, stack.bucket, "cached-json", {**manifest, "output": {
        "path": f"s3://{stack.bucket}/outputs/cached-json", "format": "json"}})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        later = [e for e in sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
                 if e["name"].startswith("cached-") and e["name"] != first and e["status"] != "RUNNING"]
        if later:
            break
        time.sleep(0.5)
    assert later and later[0]["status"] == "SUCCEEDED"
    status = read_json(s3, stack.bucket, f"jobs/{later[0]['name']}/status.json")
    assert (status["state"], status["tasks_cached"]) == ("SUCCEEDED", len(docs))
    assert {(t["status"], t["source_job"]) for t in status["tasks"]} == {("CACHED", first)}
    assert list(tmp_path.glob("mapped-*")) == []
    map_runs = sfn.list_map_runs(executionArn=later[0]["executionArn"])["mapRuns"]
    assert [sfn.describe_map_run(mapRunArn=r["mapRunArn"])["itemCounts"]["total"] for r in map_runs] in ([0], [])
    marker = read_json(s3, stack.bucket, "outputs/cached-json/_SUCCESS")
    got = pd.concat([pd.read_json(io.BytesIO(s3.get_object(Bucket=stack.bucket, Key=f"outputs/cached-json/{f}")
                                             ["Body"].read()), lines=True) for f in marker["files"]])
    assert dict(zip(got["word"], got["count"])) == dict(word_counts(docs))


def test_three_reducers_run_as_a_second_distributed_map_and_a_failed_one_is_resumed_alone(
        stack, aws, samples, tmp_path, monkeypatch):
    s3, sfn = aws["s3"], aws["stepfunctions"]
    monkeypatch.setenv("LMR_TEST_SCRATCH", str(tmp_path))
    name = "reducers-3"
    docs = sorted((samples / "wordcount").glob("*.txt"))
    for doc in docs:
        s3.upload_file(str(doc), stack.bucket, f"inputs/{name}/{doc.name}")
    manifest = {"name": name, "mapper": "jobs.wordcount:SplitWords", "reducer": "tests.testjobs:FailsInReduceTaskOne",
                "reducers": 3, "retries": 0, "task_bytes": 1, "max_concurrency": 2,
                "input": {"prefix": f"s3://{stack.bucket}/inputs/{name}"},
                "output": {"path": f"s3://{stack.bucket}/outputs/{name}", "format": "csv"}}
    submit(s3, stack.bucket, name, manifest)
    first = wait_for_execution(sfn, stack.state_machine_arn, f"{name}-")
    job_id = first["name"]
    status = read_json(s3, stack.bucket, f"jobs/{job_id}/status.json")
    assert first["status"] == "FAILED" and status["state"] == "FAILED"
    assert "reduce task 1 failed" in status["reason"] and "cannot run yet" in status["reason"], status["reason"]
    assert sorted(p["partition"] for p in status["partitions"]) == [0, 2]   # each reduce task its own Lambda
    assert "Contents" not in s3.list_objects_v2(Bucket=stack.bucket, Prefix=f"outputs/{name}/")
    ran = {p.name for p in tmp_path.glob("reduced-reduce-*")}
    # (a map task also plans reduce, for column pruning: task id "reduce", no number)
    assert sorted(re.findall(r"reduced-reduce-(\d+)-", " ".join(sorted(ran)))) == ["0", "1", "2"]

    (tmp_path / "fixed").touch()
    submit(s3, stack.bucket, name, manifest)
    second = wait_for_execution(sfn, stack.state_machine_arn, f"{job_id}-r2")
    status = read_json(s3, stack.bucket, f"jobs/{job_id}/status.json")
    assert second["status"] == "SUCCEEDED" and status["state"] == "SUCCEEDED", status["reason"]
    # Run 2 ran no map task and only the reduce task that had not committed.
    again = " ".join(p.name for p in tmp_path.glob("reduced-reduce-*") if p.name not in ran)
    assert re.findall(r"reduced-reduce-(\d+)-", again) == ["1"]
    assert [p["partition"] for p in status["partitions"]] == [0, 1, 2]
    marker = read_json(s3, stack.bucket, f"outputs/{name}/_SUCCESS")
    assert len(marker["files"]) == 3 and marker["reducers"] == 3
    got = pd.concat([pd.read_csv(io.BytesIO(s3.get_object(Bucket=stack.bucket, Key=f"outputs/{name}/{f}")["Body"]
                                            .read()), keep_default_na=False) for f in marker["files"]])
    assert not got["word"].duplicated().any()
    assert dict(zip(got["word"], got["count"])) == dict(word_counts(docs))
    assert status["reduce"]["rows_out"] == len(word_counts(docs))

"""The AWS flow with every Lambda invocation in a container: a manifest uploaded to the
moto S3 server, moto's Step Functions interpreter executing infra/statemachine.asl.json,
and each function (coordinator, mapper, reducer, finalize) run as Lambda runs it: the
built image (or, for the zip functions, the stand-in runtime with their code) through the
Lambda runtime emulator, cold on first use, with the function's MemorySize and
EphemeralStorage from template.yaml, a read-only root and a user with no passwd entry."""

from __future__ import annotations

import csv
import io
import json
import logging
import subprocess

import boto3
import pytest

from infra.containers import USER, FunctionPool
from tests.conftest import run_local
from tests.container.conftest import aws_env, functions_of
from tests.integration.aws_stack import container_lambdas, deploy
from tests.integration.test_aws_flow import read_json, submit, wait_for_execution
from tests.oracles import word_counts


@pytest.fixture(scope="module")
def stack(moto_server, lambda_image, layer):
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    deployed = deploy(moto_server, "lmr-containers", params={"JobPackages": "jobs,tests"}, stack="lmr-ctr")
    pool = FunctionPool(functions_of(deployed, lambda_image, layer), aws_env(moto_server))
    with container_lambdas(pool):
        yield deployed, pool
    pool.close()


def output_lines(read, names) -> list[str]:
    """Every data line of the destination's CSV files, sorted (header lines dropped)."""
    lines = []
    for name in names:
        rows = read(name).splitlines()
        lines += [r for r in rows[1:] if r] if rows and rows[0] == "word,count" else [r for r in rows if r]
    return sorted(lines)


@pytest.mark.parametrize("reducers", [1, 3])
def test_the_flow_in_containers_equals_the_local_run(stack, samples, tmp_path, monkeypatch, reducers):
    deployed, pool = stack
    s3 = boto3.client("s3")
    sfn = boto3.client("stepfunctions")
    files = sorted((samples / "wordcount").glob("*.txt"))
    for path in files:
        s3.upload_file(str(path), deployed.bucket, f"inputs/wc/{path.name}")
    name = f"wc-containers-r{reducers}"
    job = {"name": name, "mapper": "jobs.wordcount:SplitWords", "task_bytes": 1, "max_concurrency": 2,
           "reducer": "jobs.wordcount:SumCounts" if reducers == 1 else "jobs.wordcount:SumCountsPerWord",
           **({"reducers": reducers} if reducers > 1 else {})}
    before = len(pool.invocations)
    submit(s3, deployed.bucket, name, {**job, "input": {"prefix": f"s3://{deployed.bucket}/inputs/wc/",
                                                        "glob": "*.txt"},
                                       "output": {"path": f"s3://{deployed.bucket}/outputs/{name}"}})
    execution = wait_for_execution(sfn, deployed.state_machine_arn, f"{name}-", timeout=900)
    status = read_json(s3, deployed.bucket, f"jobs/{execution['name']}/status.json")
    assert execution["status"] == "SUCCEEDED", (status.get("reason"), pool.invocations[before:])
    assert status["state"] == "SUCCEEDED" and status["tasks_succeeded"] == len(files)

    marker = read_json(s3, deployed.bucket, f"outputs/{name}/_SUCCESS")
    got = output_lines(lambda n: s3.get_object(Bucket=deployed.bucket, Key=f"outputs/{name}/{n}")["Body"]
                       .read().decode(), marker["files"])

    monkeypatch.delenv("LMR_ALLOWED_LOCATIONS", raising=False)
    run_local({**job, "input": {"files": [str(f) for f in files]}, "output": {"path": str(tmp_path / "out")}},
              tmp_path)
    local_marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    assert got == output_lines(lambda n: (tmp_path / "out" / n).read_text(), local_marker["files"])
    assert {w: int(c) for w, c in csv.reader(io.StringIO("\n".join(got)))} == dict(word_counts(files))

    # Every function ran in a container of its own, through the emulator.
    ran = pool.invocations[before:]
    by_function = {}
    for inv in ran:
        by_function.setdefault(inv.function.rsplit("-", 1)[1], []).append(inv)
    mappers = [i for i in by_function["MapperFunction"] if i.error_type is None]
    assert len(mappers) == len(files)
    assert set(by_function) >= {"CoordinatorFunction", "MapperFunction", "ReducerFunction", "FinalizeFunction"}
    reduce_calls = [i for i in by_function["ReducerFunction"] if i.error_type is None]
    assert len(reduce_calls) == (1 if reducers == 1 else reducers)


def test_the_functions_run_as_a_user_without_a_passwd_entry_on_a_read_only_root(lambda_image):
    uid = USER.split(":")[0]
    found = subprocess.run(["docker", "run", "--rm", "--entrypoint", "getent", lambda_image, "passwd", uid],
                           capture_output=True, text=True)
    assert found.returncode == 2 and not found.stdout   # 2: no such entry
    wrote = subprocess.run(["docker", "run", "--rm", "--read-only", "--user", USER, "--entrypoint", "sh",
                            lambda_image, "-c", "touch /var/task/x || echo refused"], capture_output=True, text=True)
    assert "refused" in wrote.stdout

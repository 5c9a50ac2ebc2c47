"""Lambda's limits, for real, in containers: a mapper killed for memory, a /tmp that
forbids exec. Each runs a one-file job through the state machine, every function in a
container of the built image (or the stand-in runtime) through the runtime emulator."""

from __future__ import annotations

import logging

import boto3

from infra.containers import FunctionPool
from tests.container.conftest import aws_env, functions_of
from tests.integration.aws_stack import container_lambdas, deploy
from tests.integration.test_aws_flow import read_json, submit, wait_for_execution

SMALL_MB = 1024


def run_one_file_job(moto_server, image, layer, samples, name, mapper, params, overrides):
    """Deploy a stack of its own (template parameters ``params``, function ``overrides``),
    run ``mapper`` over one file, return (status, the mapper's invocations)."""
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    deployed = deploy(moto_server, f"lmr-{name}", params={"JobPackages": "jobs,tests", **params},
                      stack=f"lmr-{name}")
    settings = deployed.settings["MapperFunction"]
    overrides = {key: value(settings) for key, value in overrides.items()}
    pool = FunctionPool(functions_of(deployed, image, layer, MapperFunction=overrides), aws_env(moto_server))
    s3, sfn = boto3.client("s3"), boto3.client("stepfunctions")
    path = sorted((samples / "wordcount").glob("*.txt"))[0]
    s3.upload_file(str(path), deployed.bucket, f"inputs/{name}/{path.name}")
    try:
        with container_lambdas(pool):
            submit(s3, deployed.bucket, name, {
                "name": name, "mapper": mapper, "reducer": "jobs.wordcount:SumCounts", "retries": 1,
                "params": {"hog_mb": 2048},
                "input": {"files": [f"s3://{deployed.bucket}/inputs/{name}/{path.name}"]},
                "output": {"path": f"s3://{deployed.bucket}/outputs/{name}"}})
            execution = wait_for_execution(sfn, deployed.state_machine_arn, f"{name}-", timeout=900)
        status = read_json(s3, deployed.bucket, f"jobs/{execution['name']}/status.json")
        return status, [i for i in pool.invocations if i.function.endswith("MapperFunction")]
    finally:
        pool.close()


def test_a_mapper_killed_for_memory_is_named_retried_and_reported(moto_server, lambda_image, layer, samples):
    """A 1,024 MB mapper whose JVM is told it may take 3 GB of heap: the task fills 2 GB,
    the container passes MemorySize and the kernel kills the JVM, as Lambda's memory limit
    does to a process that outgrows it."""
    status, calls = run_one_file_job(
        moto_server, lambda_image, layer, samples, "hog", "tests.testjobs:HogsJvmMemory",
        {"MapperMemorySize": str(SMALL_MB)}, {"env": lambda s: {**s.env, "LMR_DRIVER_MEMORY": "3g"}})
    # Retried by the state machine's rules (MemoryLimitError is retryable), once: retries 1.
    assert [i.error_type for i in calls] == ["MemoryLimitError", "RetriesExhaustedError"], calls
    assert status["state"] == "FAILED"
    (failed,) = status["failed"]
    assert failed["error_type"] == "MemoryLimitError"
    assert f"the function has {SMALL_MB} MB" in failed["error"] and "MapperMemorySize" in failed["error"]


def test_a_tmp_that_forbids_exec_is_named_not_retried(moto_server, lambda_image, layer, samples):
    """Lambda's /tmp allows exec; a function without it must say so, not fail in Spark."""
    status, calls = run_one_file_job(
        moto_server, lambda_image, layer, samples, "noexec", "jobs.wordcount:SplitWords", {},
        {"tmp_exec": lambda s: False})
    assert [i.error_type for i in calls] == ["PlatformError"]
    (failed,) = status["failed"]
    assert failed["error_type"] == "PlatformError"
    assert "noexec" in failed["error"] and "/tmp" in failed["error"]

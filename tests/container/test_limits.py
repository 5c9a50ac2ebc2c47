"""Lambda's limits, for real, in containers: a mapper killed for memory, a /tmp that
forbids exec. Each runs a one-file job through the state machine, every function in a
container of the built image (or the stand-in runtime) through the runtime emulator."""

from __future__ import annotations

import logging
import os
import time

import boto3

from infra.containers import FunctionPool
from tests.container.conftest import aws_env, functions_of
from tests.integration.aws_stack import container_lambdas, deploy
from tests.integration.test_aws_flow import read_json, submit

SMALL_MB = 1024


def wait_for_status(s3, bucket, name, timeout=900) -> dict:
    """The job's final status.json (the coordinator writes one for a refused manifest, the
    finalize function at the end of an execution), polled for a bounded time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"jobs/{name}-").get("Contents", [])
        for key in (o["Key"] for o in listed if o["Key"].endswith("/status.json")):
            status = read_json(s3, bucket, key)
            if status["state"] != "RUNNING":
                return status
        time.sleep(0.5)
    raise AssertionError(f"no final status for {name} within {timeout}s")


def run_one_file_job(moto_server, image, layer, samples, name, mapper, params, overrides, path=None):
    """Deploy a stack of its own (template parameters ``params``, function ``overrides``),
    run ``mapper`` over one file (a sample, or ``path``), return (status, the mapper's
    invocations)."""
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    deployed = deploy(moto_server, f"lmr-{name}", params={"JobPackages": "jobs,tests", **params},
                      stack=f"lmr-{name}")
    settings = deployed.settings["MapperFunction"]
    overrides = {key: value(settings) for key, value in overrides.items()}
    pool = FunctionPool(functions_of(deployed, image, layer, MapperFunction=overrides), aws_env(moto_server))
    s3 = boto3.client("s3")
    path = path or sorted((samples / "wordcount").glob("*.txt"))[0]
    s3.upload_file(str(path), deployed.bucket, f"inputs/{name}/{path.name}")
    try:
        with container_lambdas(pool):
            submit(s3, deployed.bucket, name, {
                "name": name, "mapper": mapper, "reducer": "jobs.wordcount:SumCounts", "retries": 1,
                "params": {"hog_mb": 2048, "fill_mb": 600},
                "input": {"files": [f"s3://{deployed.bucket}/inputs/{name}/{path.name}"]},
                "output": {"path": f"s3://{deployed.bucket}/outputs/{name}"}})
            status = wait_for_status(s3, deployed.bucket, name)
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


def test_a_full_tmp_is_named_with_the_setting_to_raise(moto_server, lambda_image, layer, samples):
    """A task that outgrows the function's /tmp (EphemeralStorage 512 MB) fails naming it."""
    status, calls = run_one_file_job(
        moto_server, lambda_image, layer, samples, "fulltmp", "tests.testjobs:FillsTmp",
        {"MapperEphemeralStorage": "512"}, {})
    assert [i.error_type for i in calls] == ["PlatformError"], calls
    (failed,) = status["failed"]
    assert "no space left in /tmp" in failed["error"] and "MapperEphemeralStorage" in failed["error"]


def test_an_input_too_big_for_tmp_is_refused_at_plan_time(moto_server, lambda_image, layer, samples, tmp_path):
    """The coordinator, in its container, refuses a file that cannot be split and would not
    fit the mapper's /tmp: no mapper runs."""
    big = tmp_path / "big.jsonl.gz"
    with open(big, "wb") as fh:
        fh.write(os.urandom(210 * 2**20))     # over 40% of 512 MB, and gzip cannot be split
    status, calls = run_one_file_job(
        moto_server, lambda_image, layer, samples, "bigfile", "jobs.wordcount:SplitWords",
        {"MapperEphemeralStorage": "512"}, {}, path=big)
    assert calls == []
    assert status["state"] == "FAILED"
    assert "big.jsonl.gz" in status["reason"] and "LMR_MAPPER_EPHEMERAL_MB" in status["reason"], status

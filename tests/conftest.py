"""Shared fixtures: one SparkSession per test session, one moto S3 server over HTTP."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "manifests" / "data"

# Tiny inputs: a fast JVM start matters more than steady-state JIT speed here.
os.environ.setdefault("LMR_JVM_PROFILE", "startup")
os.environ.setdefault("LMR_RETRY_BASE_SECONDS", "0.05")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
# tests/testjobs.py holds mappers that fail on purpose.
os.environ.setdefault("LMR_JOB_PACKAGES", "jobs,tests")


def run_local(manifest: dict, folder: Path, workers: int = 0, **fields):
    """Write ``manifest`` into ``folder`` and run it with the local runner (in-process by
    default: the test session's one SparkSession). Returns (status, spec, events)."""
    import json

    from engine.job.planning import plan_job
    from engine.job.manifest import load_manifest
    from engine.local.runner import LocalRunner

    path = folder / "manifest.json"
    path.write_text(json.dumps({**manifest, **fields}))
    spec = load_manifest(str(path), work_dir=str(folder / "work"))
    events: list[dict] = []
    status = LocalRunner(workers=workers, on_event=events.append).run(plan_job(spec))
    return status, spec, events


@pytest.fixture(scope="session")
def spark():
    from engine.spark import session

    yield session.get_spark()
    # Stopped at exit by the JVM gateway; stopping here would break later in-process runs.


@pytest.fixture(scope="session")
def moto_server():
    """A real S3 endpoint on 127.0.0.1 (moto's server), reached over HTTP by boto3."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                                            "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update({"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "lmr-fake-secret-never-logged", "AWS_DEFAULT_REGION": "us-east-1"})
    yield f"http://{host}:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3(moto_server):
    import boto3

    return boto3.client("s3", endpoint_url=moto_server)


@pytest.fixture
def bucket(s3, request):
    name = "lmr-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def samples(tmp_path) -> Path:
    """A private copy of the shipped sample data (tests may add or break files)."""
    dest = tmp_path / "data"
    shutil.copytree(SAMPLES, dest)
    return dest

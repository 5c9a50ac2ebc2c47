"""Container tests: the built image (infra/Dockerfile on the stand-in base, infra/standin/)
run through the Lambda runtime emulator under each function's limits (infra/containers.py).

They need Docker. In CI (CI set) or with LMR_REQUIRE_DOCKER=1 a missing Docker fails them;
elsewhere they skip with one line saying how to enable them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.containers import Function, FunctionPool
from infra.standin import build as standin

REPO = Path(__file__).resolve().parents[2]
IMAGE = "lmr-lambda:test"
REQUIRE_ENV = "LMR_REQUIRE_DOCKER"
HOW = ("container tests need Docker: apt-get install docker.io debootstrap, start "
       "`dockerd --bridge=none --iptables=false &`, then run pytest (CI and LMR_REQUIRE_DOCKER=1 make this a failure)")


def docker_missing() -> str | None:
    if shutil.which("docker") is None:
        return "no docker command"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "the Docker daemon does not answer"
    return None


@pytest.fixture(scope="session")
def lambda_image() -> str:
    """The function image, built from infra/Dockerfile FROM the stand-in (cached)."""
    reason = docker_missing()
    if reason:
        if os.environ.get("CI") or os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{reason}; {HOW}")
        pytest.skip(f"{reason}; {HOW}")
    standin.build(log=lambda line: None)
    standin.build_function_image(IMAGE)
    return IMAGE


@pytest.fixture(scope="session")
def layer(lambda_image) -> str:
    return standin.powertools_layer()


def functions_of(stack, image: str, layer: str, **overrides) -> dict[str, Function]:
    """The stack's functions as containers: Image functions run the built image; zip
    functions (coordinator, finalize: no Spark) run the stand-in base with the code and the
    Powertools layer mounted, as `sam local invoke` does. tests/ is mounted for test jobs.
    ``overrides``: logical id -> dict of Function fields."""
    out = {}
    for logical_id, s in stack.settings.items():
        code = (("tests", "/var/task/tests"),) if s.image else \
            tuple((name, f"/var/task/{name}") for name in ("engine", "lambdas", "jobs", "tests"))
        mounts = tuple((str(REPO / host), inside) for host, inside in code)
        if not s.image:
            mounts += ((layer, "/opt/python"),)
        fields = dict(name=f"{stack.name}-{logical_id}", image=image if s.image else standin.STANDIN_IMAGE,
                      handler=s.handler, memory_mb=s.memory_mb, ephemeral_mb=s.ephemeral_mb,
                      timeout_s=s.timeout_s, env=s.env, mounts=mounts)
        fields.update(overrides.get(logical_id, {}))
        out[fields["name"]] = Function(**fields)
    return out


def aws_env(endpoint: str) -> dict[str, str]:
    """What a function needs to reach the moto server on 127.0.0.1 (host network)."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "lmr-fake-secret-never-logged", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1"}


@pytest.fixture
def pools():
    made: list[FunctionPool] = []

    def make(functions, extra_env) -> FunctionPool:
        made.append(FunctionPool(functions, extra_env))
        return made[-1]

    yield make
    for pool in made:
        pool.close()

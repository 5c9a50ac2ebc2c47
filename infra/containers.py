"""Run Lambda functions the way Lambda runs them, on one machine: each execution
environment is a container of the function's image, started cold, answering invocations
through the Lambda Runtime Interface Emulator (``aws-lambda-rie``, which the AWS base
image and our stand-in both carry) under the function's limits:

- memory capped at MemorySize (no swap), CPUs in proportion (1,769 MB = 1 vCPU);
- a read-only root; only ``/tmp`` writable (a tmpfs of EphemeralStorage, exec allowed, as
  on Lambda); ``HOME`` is not writable;
- a non-root user with no passwd entry (uid 993, as Lambda's own user, but unnamed);
- host networking, so the functions reach a moto server on 127.0.0.1, and nothing else.

A :class:`FunctionPool` keeps a function's idle environments and starts another when all
are busy, like Lambda's warm reuse. Used by the container tests (tests/container/) and
``benchmarks/container.py``. `sam local invoke` runs the same emulator (the README's Deploy
section); this module adds the limits and a pool of warm environments.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field

import requests

RIE = "/usr/local/bin/aws-lambda-rie"          # where the AWS base (and our stand-in) keep it
BOOTSTRAP = "/var/runtime/bootstrap"
USER = "993:990"                               # a uid with no passwd entry in either base
MB_PER_VCPU = 1769
INVOKE_PATH = "/2015-03-31/functions/function/invocations"


@dataclass(frozen=True)
class Function:
    """What template.yaml says of a function, as far as running it goes."""

    name: str
    image: str
    handler: str
    memory_mb: int = 3008
    ephemeral_mb: int = 512
    timeout_s: int = 900
    env: dict[str, str] = field(default_factory=dict)
    mounts: tuple[tuple[str, str], ...] = ()   # (host path, container path), read-only
    tmp_exec: bool = True                      # Lambda's /tmp allows exec; False to test the check
    tmp_dir: str | None = None                 # a host folder as /tmp instead of a tmpfs (whose pages
                                               # Docker counts as memory; Lambda's /tmp does not)

    def cpus(self) -> float:
        return round(min(os.cpu_count() or 1, max(0.25, self.memory_mb / MB_PER_VCPU)), 2)


@dataclass
class Invocation:
    function: str
    container: str
    cold: bool
    seconds: float
    error_type: str | None
    payload: dict


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Container:
    """One execution environment: started on :meth:`start`, invoked any number of times."""

    def __init__(self, function: Function, extra_env: dict[str, str] | None = None):
        self.function = function
        self.extra_env = dict(extra_env or {})
        self.port = free_port()
        self.api_port = free_port()
        self.id: str | None = None

    def command(self) -> list[str]:
        f = self.function
        env = {"AWS_LAMBDA_FUNCTION_NAME": f.name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(f.memory_mb),
               "AWS_LAMBDA_FUNCTION_TIMEOUT": str(f.timeout_s), "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
               **f.env, **self.extra_env}
        cmd = ["docker", "run", "-d", "--network", "host", "--read-only", "--user", USER,
               "--memory", f"{f.memory_mb}m", "--memory-swap", f"{f.memory_mb}m", "--cpus", str(f.cpus()),
               *(["-v", f"{f.tmp_dir}:/tmp:rw"] if f.tmp_dir else
                 ["--tmpfs", f"/tmp:rw,{'exec' if f.tmp_exec else 'noexec'},nosuid,size={f.ephemeral_mb}m,mode=1777"]),
               "--label", "org.lambda-mr.function=" + f.name, "--entrypoint", RIE]
        for key, value in sorted(env.items()):
            cmd += ["-e", f"{key}={value}"]
        for host, inside in f.mounts:
            cmd += ["-v", f"{host}:{inside}:ro"]
        return cmd + [f.image, "--log-level", "error",
                      "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
                      "--runtime-api-address", f"127.0.0.1:{self.api_port}", BOOTSTRAP, f.handler]

    def start(self, timeout: float = 30.0) -> "Container":
        self.id = subprocess.run(self.command(), check=True, capture_output=True, text=True).stdout.strip()
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline or not self.running():
                    raise RuntimeError(f"{self.function.name}: the emulator did not start\n{self.logs()}")
                time.sleep(0.05)

    def invoke(self, event: dict | str) -> tuple[dict, str | None]:
        """The handler's result, and the error type if it raised (Lambda's error shape)."""
        body = event if isinstance(event, str) else json.dumps(event)
        response = requests.post(f"http://127.0.0.1:{self.port}{INVOKE_PATH}", data=body,
                                 timeout=self.function.timeout_s + 60)
        try:
            payload = response.json()
        except ValueError:
            payload = {"errorType": "Runtime.InvalidResponse", "errorMessage": response.text[:2000]}
        error = payload.get("errorType") if isinstance(payload, dict) and "errorMessage" in payload else None
        return payload, error

    def running(self) -> bool:
        if self.id is None:
            return False
        out = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", self.id],
                             capture_output=True, text=True)
        return out.stdout.strip() == "true"

    def logs(self) -> str:
        if self.id is None:
            return ""
        out = subprocess.run(["docker", "logs", self.id], capture_output=True, text=True)
        return out.stdout + out.stderr

    def anon_memory_bytes(self) -> int | None:
        """The container's anonymous memory now (the processes' own pages, not page cache
        or tmpfs): what grows until the kernel kills a process for memory."""
        if self.id is None:
            return None
        for path, key in ((f"/sys/fs/cgroup/memory/docker/{self.id}/memory.stat", "total_rss"),
                          (f"/sys/fs/cgroup/system.slice/docker-{self.id}.scope/memory.stat", "anon"),
                          (f"/sys/fs/cgroup/docker/{self.id}/memory.stat", "anon")):
            try:
                with open(path) as fh:
                    for line in fh:
                        name, value = line.split()
                        if name == key:
                            return int(value)
            except (OSError, ValueError):
                continue
        return None

    def stop(self) -> None:
        if self.id is not None:
            subprocess.run(["docker", "rm", "-f", self.id], capture_output=True)
            self.id = None


class FunctionPool:
    """The execution environments of some functions: an idle one serves an invocation
    (warm), else a new one starts (cold). An environment whose runtime died is dropped."""

    def __init__(self, functions: dict[str, Function], extra_env: dict[str, str] | None = None):
        self.functions = functions
        self.extra_env = extra_env or {}
        self.invocations: list[Invocation] = []
        self._idle: dict[str, list[Container]] = {name: [] for name in functions}
        self._all: list[Container] = []
        self._lock = threading.Lock()

    def invoke(self, name: str, event: dict | str) -> tuple[dict, str | None]:
        with self._lock:
            container = self._idle[name].pop() if self._idle[name] else None
        cold = container is None
        if container is None:
            container = Container(self.functions[name], self.extra_env)
            with self._lock:
                self._all.append(container)
            container.start()
        started = time.monotonic()
        payload, error = container.invoke(event)
        with self._lock:
            self.invocations.append(Invocation(name, container.id or "", cold, time.monotonic() - started,
                                               error, payload))
            if error and error.startswith("Runtime.") or not container.running():
                container.stop()
            else:
                self._idle[name].append(container)
        return payload, error

    def containers(self) -> list[Container]:
        return list(self._all)

    def close(self) -> None:
        for container in self._all:
            container.stop()
        self._all.clear()

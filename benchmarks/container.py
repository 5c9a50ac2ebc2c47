"""``python -m benchmarks.container``: the Lambda image, measured the way Lambda runs it.

The image is infra/Dockerfile built on the stand-in base (infra/standin/); each mapper is a
container of it answering through the Lambda runtime emulator (infra/containers.py), read-
only root, a user with no passwd entry, the function's memory. S3 is a moto server on
127.0.0.1. Prints:

- image size; build time from nothing (``--no-cache``) and with Docker's cache;
- a mapper's cold start, container start to the user's ``map()`` and to task done, with
  and without the class archive (alternating, median of ``--rounds``), and a warm
  invocation of a task of the same size in the same container;
- peak memory of one map task (the container's anonymous memory, sampled every 0.1 s: the
  processes' own pages, not page cache or /tmp) at each input size, against MemorySize;
- the smallest MemorySize of 1,769 / 3,008 / 5,307 / 10,240 at which each size succeeds.

/tmp is a host folder here, not Docker's tmpfs, whose pages Docker counts as memory
(Lambda's /tmp does not count).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import tempfile
import threading
import time

from benchmarks.measure import ROOT, crawl_data
from infra.containers import Container, Function
from infra.standin import build as standin

TAG = "lmr-lambda:bench"
BUCKET = "lmr-bench"
MEMORY_SIZES = (1769, 3008, 5307, 10240)


def image_figures(cold: bool) -> dict:
    standin.build()
    out = {}
    if cold:
        started = time.monotonic()
        standin.docker("build", "--no-cache", "--network", "host", "-q", "--build-arg",
                       f"BASE_IMAGE={standin.STANDIN_IMAGE}", "-f", str(ROOT / "infra" / "Dockerfile"),
                       "-t", TAG, str(ROOT))
        out["build_cold_s"] = time.monotonic() - started
    out["build_cached_s"] = standin.build_function_image(TAG)
    size = json.loads(standin.docker("image", "inspect", TAG).stdout)[0]["Size"]
    out["image_mb"] = size / 1e6
    return out


class Bench:
    """A moto S3 server, the inputs uploaded, and one planned job per run."""

    def __init__(self, sizes_mb: list[int]):
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "lmr-fake-secret-never-logged", "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_REGION": "us-east-1"}
        os.environ.update(self.env)
        import boto3

        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        self.inputs: dict[int, str] = {}
        self.lines: dict[int, int] = {}
        for mb in sizes_mb:
            (path,) = sorted(crawl_data(1, mb).glob("*.jsonl"))
            key = f"inputs/crawl-{mb}mb.jsonl"
            s3.upload_file(str(path), BUCKET, key)
            self.inputs[mb] = f"s3://{BUCKET}/{key}"
            with open(path, "rb") as fh:    # every non-empty line is a record the task reads
                self.lines[mb] = sum(1 for line in fh if line.strip())
        self.scratch = tempfile.mkdtemp(prefix="lmr-bench-container-")
        self.runs = 0

    def event(self, mb: int) -> dict:
        """A new one-task job over the ``mb`` input: its map task's event."""
        from engine.job.layout import JobLayout
        from engine.job.planning import plan_job, save_plan
        from engine.job.manifest import load_manifest
        from engine.store.storage import Storage
        from engine.task.entry import task_event

        self.runs += 1
        manifest = os.path.join(self.scratch, "manifest.json")
        with open(manifest, "w") as fh:
            json.dump({"name": f"bench-{self.runs}", "mapper": "benchmarks.container_jobs:TimedExtract",
                       "reducer": "jobs.crawl:P90ContentLengthByLanguage", "max_rejected_ratio": 0.5,
                       "task_bytes": 2**33, "split_bytes": 2**33, "input": {"files": [self.inputs[mb]]},
                       "output": {"path": f"s3://{BUCKET}/outputs/bench-{self.runs}"}}, fh)
        os.environ["LMR_JOB_PACKAGES"] = "jobs,benchmarks"
        spec = load_manifest(manifest, work_dir=f"s3://{BUCKET}/")
        plan = plan_job(spec)
        save_plan(plan, Storage())
        (task,) = plan.tasks
        return task_event(plan.job_id, JobLayout(spec.work_dir, spec.job_id).job_json, task)

    def function(self, memory_mb: int, archive: bool = True) -> Function:
        tmp = tempfile.mkdtemp(dir=self.scratch)
        os.chmod(tmp, 0o1777)
        env = {"LMR_JOB_PACKAGES": "jobs,benchmarks", "LMR_JVM_PROFILE": "auto",
               **({} if archive else {"LMR_CDS": "off"})}
        return Function("bench-mapper", TAG, "lambdas.mapper.handler", memory_mb=memory_mb,
                        ephemeral_mb=10240, env=env, mounts=((str(ROOT / "benchmarks"), "/var/task/benchmarks"),),
                        tmp_dir=tmp)

    def cold(self, memory_mb: int, mb: int, archive: bool = True, warm_after: bool = False) -> dict:
        event = self.event(mb)
        started = time.time()
        container = Container(self.function(memory_mb, archive), self.env).start()
        peak = [0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], container.anon_memory_bytes() or 0)
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            payload, error = container.invoke(event)
            finished = time.time()
            done.set()
            sampler.join()
            out = {"memory_mb": memory_mb, "input_mb": mb, "archive": archive, "error": error,
                   "to_done_s": finished - started, "peak_mb": peak[0] / 2**20}
            if error is None:
                out["to_map_s"] = payload["counters"]["map_entered_ms"] / 1000 - started
                out["agrees"] = payload["rows_in"] == self.lines[mb]
                if warm_after:
                    second = self.event(mb)
                    t0 = time.monotonic()
                    _, warm_error = container.invoke(second)
                    out["warm_s"] = time.monotonic() - t0 if warm_error is None else None
            else:
                out["message"] = str(payload.get("errorMessage", ""))[:300]
            return out
        finally:
            done.set()
            container.stop()

    def close(self) -> None:
        self.server.stop()
        shutil.rmtree(self.scratch, ignore_errors=True)   # its own mkdtemp folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.container", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="cold starts per variant (alternating)")
    parser.add_argument("--sizes", default="50,1024", help="input sizes in MB for the memory figures")
    parser.add_argument("--memory", type=int, default=3008, help="MemorySize of the cold-start runs")
    parser.add_argument("--no-cold-build", action="store_true", help="skip the build from nothing")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    figures = image_figures(cold=not args.no_cold_build)
    for key, value in figures.items():
        print(f"{key}={value:.1f}")
    bench = Bench(sizes)
    try:
        runs = {True: [], False: []}
        for _ in range(args.rounds):
            for archive in (True, False):
                runs[archive].append(bench.cold(args.memory, sizes[0], archive, warm_after=archive))
        for archive, label in ((True, "archive"), (False, "no_archive")):
            ok = [r for r in runs[archive] if r["error"] is None]
            if not ok:
                print(f"cold_{label}: failed: {runs[archive][0]}")
                continue
            print(f"cold_{label}_to_map_s={statistics.median(r['to_map_s'] for r in ok):.2f} "
                  f"cold_{label}_to_done_s={statistics.median(r['to_done_s'] for r in ok):.2f} "
                  f"({args.memory} MB, {sizes[0]} MB input, median of {len(ok)})")
        warm = [r["warm_s"] for r in runs[True] if r.get("warm_s")]
        done = {a: [r["to_done_s"] for r in runs[a] if r["error"] is None] for a in runs}
        if warm and done[True]:
            print(f"warm_task_s={statistics.median(warm):.2f} (same size, same container); "
                  f"cold_overhead_s={statistics.median(done[True]) - statistics.median(warm):.2f} "
                  "(cold to done minus warm: the cost model's cold_s)")
        agree = all(r.get("agrees") for rs in runs.values() for r in rs)
        for mb in sizes:
            for memory in MEMORY_SIZES:
                run = bench.cold(memory, mb)
                if run["error"] is None:
                    print(f"input_{mb}mb: smallest_memory_mb={memory} peak_anon_mb={run['peak_mb']:.0f} "
                          f"to_done_s={run['to_done_s']:.1f}")
                    break
                print(f"input_{mb}mb: {memory} MB failed: {run['error']}: {run.get('message', '')[:160]}")
            else:
                print(f"input_{mb}mb: failed at every MemorySize")
            agree = agree and run.get("agrees", False)
    finally:
        bench.close()
    print(f"results agree (rows read = the input's lines): {'yes' if agree else 'NO'}")
    if done[True] and done[False]:
        print(f"cold_archive_ratio={statistics.median(done[True]) / statistics.median(done[False]):.2f}")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())

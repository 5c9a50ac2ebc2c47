"""``python -m benchmarks.scale``: what a job costs when it is large.

(a) One large JSONL file (``--gb``, default 2) through the crawl job with ``lmr run``,
    unsplit (one map task) and split (``split_bytes`` 256 MiB): wall time of each, and
    the most bytes any one task staged. Locally Spark already reads one file on both
    cores, so splitting must cost nothing here (``split_overhead`` <= 1.15); the gain is
    on Lambda, where one task must fit 15 minutes and /tmp.
(b) The S3 requests the reducer's and finalize's bookkeeping make at 1,000, 10,000 and
    100,000 committed tasks, counted with botocore event hooks on a moto server. The
    markers and summaries are written straight into moto's backend, as a mapper's commit
    names and fills them (no Spark, no HTTP).

Ends with ``split_overhead=X max_task_staged_mb=N bookkeeping_requests_100k=N``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
from pathlib import Path

from .measure import ROOT, crawl_manifest, lmr_run, measure

SPLIT_BYTES = 256 * 2**20


def _big_file(gb: float) -> Path:
    path = ROOT / "benchmarks" / "data" / f"crawl-one-{gb:g}gb.jsonl"
    if not path.exists() or path.stat().st_size < gb * 1e9 * 0.99:
        from jobs.datagen import write_crawl

        folder = path.parent / f"crawl-one-{gb:g}gb-parts"
        parts = write_crawl(str(folder), files=max(1, int(gb * 4)), mb=gb * 1000 / max(1, int(gb * 4)))
        with open(path, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    shutil.copyfileobj(fh, out, 2**24)
        shutil.rmtree(folder)
    return path


def split_run(gb: float, split_bytes: int, repeat: int) -> tuple[list[dict], float]:
    """Unsplit and split, ``repeat`` times each, alternating (a run's wall time varies by
    several seconds on this machine); each one's median run is kept."""
    data, work = _big_file(gb), Path(tempfile.mkdtemp(prefix="lmr-scale-"))
    by_name: dict[str, list[dict]] = {"unsplit": [], "split": []}
    for i in range(repeat):
        for name, fields in (("unsplit", {"split_bytes": 10 * 2**30}), ("split", {"split_bytes": split_bytes})):
            manifest = crawl_manifest(work / f"{name}.json", f"scale-{name}", {"files": [str(data)]},
                                      work / f"out-{name}", task_bytes=split_bytes, **fields)
            run = measure(name, lmr_run(manifest, work / "work"))
            status = json.loads(run.pop("stdout"))
            if status["state"] != "SUCCEEDED":
                raise SystemExit(f"{name}: {status['state']}: {status.get('reason')}")
            tasks = status["tasks"]
            by_name[name].append({**run, "tasks": len(tasks), "rows_in": status["rows_in"],
                                  "max_staged_mb": max(t["bytes_in"] for t in tasks) / 2**20,
                                  # a task's own time: from its start (the JVM's, for a first
                                  # task) to its commit
                                  "task_s": sorted(t["duration_ms"] / 1000 for t in tasks)})
            print(f"  run {i + 1}/{repeat} {name}: {run['wall_s']:.1f} s", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    runs = [sorted(rs, key=lambda r: r["wall_s"])[len(rs) // 2] for rs in by_name.values()]
    if runs[0]["rows_in"] != runs[1]["rows_in"]:
        raise SystemExit("split and unsplit read a different number of records")
    for r, rs in zip(runs, by_name.values()):
        r["all_wall_s"] = [x["wall_s"] for x in rs]
    return runs, data.stat().st_size / 2**20


def projections(runs: list[dict], mb: float) -> list[str]:
    """(c) Lambda projections from (a)'s measured costs, by benchmarks/cost_model.py:
    the per-vCPU rate is the unsplit task's (file MB over its time, its JVM's start
    included, over this machine's cores: on the low side); the per-task cost is what each
    extra split task added to the wall time, at least the cost model's warm task."""
    import os

    from engine.job.planning import STAGE_SHARE

    from .cost_model import LAMBDA_MAX_S, Assumptions, Job, on_lambda

    unsplit, split = runs
    cores = os.cpu_count() or 1
    rate = mb * 1.048576 / max(1e-9, unsplit["task_s"][0]) / cores     # MB/s per vCPU
    per_task = max(0.0, (split["wall_s"] - unsplit["wall_s"]) / max(1, split["tasks"] - unsplit["tasks"]))
    a = Assumptions(mb_s_per_vcpu=rate, warm_s=max(per_task, Assumptions().warm_s), lambda_memory_mb=10_240)
    vcpu = a.lambda_memory_mb / 1769
    out = [f"(c) projections on Lambda (10,240 MB: {vcpu:.1f} vCPU, 10 GB /tmp): measured {rate:.0f} MB/s per "
           f"vCPU, {per_task:.2f} s per extra task; cold start {a.cold_s} s (benchmarks.coldstart)"]
    for lambdas in (1_000, 10_000):
        job = Job(f"1 TB over {lambdas:,} Lambdas", lambdas, 1e6 / lambdas)
        est = on_lambda(job, Assumptions(**{**vars(a), "concurrency": lambdas}))
        out.append(f"  1 TB over {lambdas:>6,} Lambdas ({1e6 / lambdas:,.0f} MB a task): {est.wall_s:>6,.0f} s, "
                   f"${est.cost_usd:,.2f}{' (a raised concurrency limit: the default is 1,000)' if lambdas > 1000 else ''}{'  (' + est.note + ')' if 'Lambda' in est.note else ''}")
    one_task_s = a.cold_s + 1e5 / (rate * vcpu)
    budget_mb = 10_240 * STAGE_SHARE
    out.append(f"  100 GB file unsplit: 1 task; does not fit: it stages 100,000 MB on a /tmp of 10,240 MB "
               f"(the planner refuses above {budget_mb:,.0f} MB), and would need {one_task_s:,.0f} s "
               f"{'>' if one_task_s > LAMBDA_MAX_S else '<='} Lambda's {LAMBDA_MAX_S} s")
    split_mb = SPLIT_BYTES / 1e6
    tasks = int(1e5 // split_mb) + 1
    est = on_lambda(Job("100 GB split", tasks, 1e5 / tasks), Assumptions(**{**vars(a), "concurrency": 1000}))
    out.append(f"  100 GB file split by {SPLIT_BYTES // 2**20} MiB: {tasks} tasks at once: {est.wall_s:,.0f} s, "
               f"${est.cost_usd:,.2f}")
    return out


def bookkeeping_requests(n: int) -> dict:
    import boto3
    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    from engine.job.commits import committed_results, summary_name
    from engine.job.layout import JobLayout
    from engine.job.lifecycle import finish
    from engine.job.planning import InputFile, MapTask, Plan, save_plan
    from engine.job.results import MapResult
    from engine.job.spec import InputSpec, JobSpec, OutputSpec
    from engine.store.storage import Storage
    from engine.store.uris import split_s3

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                              aws_access_key_id="bench", aws_secret_access_key="bench")
        bucket = f"scale-{n}"
        client.create_bucket(Bucket=bucket)
        storage = Storage(client)
        spec = JobSpec(name=bucket, mode="MAPPER_AND_REDUCER", mapper="jobs.wordcount:SplitWords",
                       reducer="jobs.wordcount:SumCounts", input=InputSpec(prefix=f"s3://{bucket}/in"),
                       output=OutputSpec(path=f"s3://{bucket}/out"), work_dir=f"s3://{bucket}")
        tasks = [MapTask(f"t{i:06d}", (InputFile(f"s3://{bucket}/in/{i}.jsonl", 1000, f"e{i}"),)) for i in range(n)]
        save_plan(Plan(spec, tuple(tasks)), storage)
        layout, backend = JobLayout(spec.work_dir, spec.job_id), s3_backends["123456789012"]["aws"]
        for i, t in enumerate(tasks):
            result = MapResult(task_id=t.task_id, status="SUCCEEDED", inputs=t.input_uris, rows_in=100, rows_out=90,
                               rejected=1, bytes_in=1000, bytes_out=400, duration_ms=2000 + i % 500,
                               cold_start=i % 10 == 0, started_at=1.8e9 + i / 100,
                               parts=[f"{i:012x}/part-00000.snappy.parquet"], identity=t.identity)
            backend.put_object(bucket, split_s3(layout.committed_marker(t.task_id, t.identity))[1],
                               json.dumps(result.to_dict()).encode())
            backend.put_object(bucket, split_s3(layout.summaries + summary_name(result))[1], b"")
        calls: list[str] = []
        client.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
        found = committed_results(spec, tasks, storage)
        reducer = len(calls)
        del calls[:]
        status = finish(spec, tasks, None, "", storage)
        if len(found) != n or status.tasks_succeeded != n:
            raise SystemExit(f"{n} tasks: found {len(found)}, status says {status.tasks_succeeded}")
        return {"tasks": n, "reducer": reducer, "finalize": len(calls),
                "finalize_reads": sum(c in ("GetObject", "HeadObject", "ListObjectsV2") for c in calls)}
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0, help="size of the one large file for (a)")
    parser.add_argument("--split-mb", type=int, default=SPLIT_BYTES // 2**20, help="split_bytes for (a), MiB")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side of (a), alternating")
    parser.add_argument("--tasks", type=int, nargs="+", default=[1_000, 10_000, 100_000],
                        help="committed tasks for (b)")
    args = parser.parse_args(argv)
    runs, mb = split_run(args.gb, args.split_mb * 2**20, args.repeat)
    print(f"(a) one {mb:,.0f} MiB JSONL file, crawl job, lmr run from process start (median of {args.repeat})")
    print(f"{'':<10} {'tasks':>6} {'wall s':>8} {'peak MB':>8} {'max task MiB':>13}  all runs, s")
    for r in runs:
        print(f"{r['name']:<10} {r['tasks']:>6} {r['wall_s']:>8.2f} {r['peak_mb']:>8.0f} {r['max_staged_mb']:>13.1f}"
              f"  {', '.join(f'{w:.1f}' for w in r['all_wall_s'])}")
    print("(b) S3 requests of bookkeeping (moto server, botocore event hooks)")
    print(f"{'tasks':>8} {'reducer':>8} {'finalize':>9} {'of which reads':>15}")
    counts = [bookkeeping_requests(n) for n in args.tasks]
    for c in counts:
        print(f"{c['tasks']:>8,} {c['reducer']:>8} {c['finalize']:>9} {c['finalize_reads']:>15}")
    print("\n".join(projections(runs, mb)))
    last = counts[-1]
    print(f"split_overhead={runs[1]['wall_s'] / runs[0]['wall_s']:.2f} "
          f"max_task_staged_mb={runs[1]['max_staged_mb']:.0f} "
          f"bookkeeping_requests_{last['tasks'] // 1000}k={last['reducer'] + last['finalize']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

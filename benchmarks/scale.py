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


def split_run(gb: float, split_bytes: int) -> tuple[list[dict], float]:
    data, work = _big_file(gb), Path(tempfile.mkdtemp(prefix="lmr-scale-"))
    runs = []
    for name, fields in (("unsplit", {"split_bytes": 10 * 2**30}), ("split", {"split_bytes": split_bytes})):
        manifest = crawl_manifest(work / f"{name}.json", f"scale-{name}", {"files": [str(data)]},
                                  work / f"out-{name}", task_bytes=split_bytes, **fields)
        run = measure(name, lmr_run(manifest, work / "work"))
        status = json.loads(run.pop("stdout"))
        if status["state"] != "SUCCEEDED":
            raise SystemExit(f"{name}: {status['state']}: {status.get('reason')}")
        runs.append({**run, "tasks": len(status["tasks"]), "rows_in": status["rows_in"],
                     "max_staged_mb": max(t["bytes_in"] for t in status["tasks"]) / 2**20})
    shutil.rmtree(work, ignore_errors=True)
    if runs[0]["rows_in"] != runs[1]["rows_in"]:
        raise SystemExit("split and unsplit read a different number of records")
    return runs, data.stat().st_size / 2**20


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
    from engine.store.storage import Storage, split_s3

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
                               parts=[f"{i:012x}/part-00000.snappy.parquet"])
            backend.put_object(bucket, split_s3(layout.committed_marker(t.task_id))[1],
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
    parser.add_argument("--tasks", type=int, nargs="+", default=[1_000, 10_000, 100_000],
                        help="committed tasks for (b)")
    args = parser.parse_args(argv)
    runs, mb = split_run(args.gb, args.split_mb * 2**20)
    print(f"(a) one {mb:,.0f} MiB JSONL file, crawl job, lmr run from process start")
    print(f"{'':<10} {'tasks':>6} {'wall s':>8} {'peak MB':>8} {'max task MiB':>13}")
    for r in runs:
        print(f"{r['name']:<10} {r['tasks']:>6} {r['wall_s']:>8.2f} {r['peak_mb']:>8.0f} {r['max_staged_mb']:>13.1f}")
    print("(b) S3 requests of bookkeeping (moto server, botocore event hooks)")
    print(f"{'tasks':>8} {'reducer':>8} {'finalize':>9} {'of which reads':>15}")
    counts = [bookkeeping_requests(n) for n in args.tasks]
    for c in counts:
        print(f"{c['tasks']:>8,} {c['reducer']:>8} {c['finalize']:>9} {c['finalize_reads']:>15}")
    last = counts[-1]
    print(f"split_overhead={runs[1]['wall_s'] / runs[0]['wall_s']:.2f} "
          f"max_task_staged_mb={runs[1]['max_staged_mb']:.0f} "
          f"bookkeeping_requests_{last['tasks'] // 1000}k={last['reducer'] + last['finalize']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

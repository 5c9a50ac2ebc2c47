"""The same job with inputs, outputs and job files in S3 (a moto server over HTTP)."""

from __future__ import annotations

import io
import json

import pandas as pd

from engine.cli.main import main
from tests.oracles import crawl_records, p90_by_language, percentile_bounds


def read_output(s3, bucket: str, prefix: str) -> pd.DataFrame:
    marker = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/_SUCCESS")["Body"].read())
    frames = [pd.read_json(io.BytesIO(s3.get_object(Bucket=bucket, Key=f"{prefix}/{name}")["Body"].read()),
                           lines=True) for name in marker["files"]]
    return pd.concat(frames, ignore_index=True).sort_values("language").reset_index(drop=True)


def test_crawl_job_on_s3_matches_local_run_and_plain_python(s3, bucket, samples, tmp_path, capsys):
    files = sorted((samples / "crawl").glob("*.jsonl"))
    # Keys with spaces and non-ASCII characters must work end to end.
    for i, path in enumerate(files):
        s3.upload_file(str(path), bucket, f"in/crawl part {i} é.jsonl")
    manifest = {"name": "crawl-s3", "mapper": "jobs.crawl:ExtractDocuments",
                "reducer": "jobs.crawl:P90ContentLengthByLanguage",
                "input": {"prefix": f"s3://{bucket}/in/", "glob": "*.jsonl"},
                "output": {"path": f"s3://{bucket}/out/p90"}, "task_bytes": 1}
    s3.put_object(Bucket=bucket, Key="manifests/crawl.json", Body=json.dumps(manifest))

    assert main(["run", f"s3://{bucket}/manifests/crawl.json", "--workers", "0"]) == 0
    printed = capsys.readouterr().out
    assert "SUCCEEDED" in printed and f"s3://{bucket}/out/p90" in printed

    got = read_output(s3, bucket, "out/p90")
    kept, rows_in, rejected = crawl_records(files)
    expected = p90_by_language(kept)
    assert dict(zip(got["language"], got["documents"])) == {k: v[0] for k, v in expected.items()}
    for language, p90 in zip(got["language"], got["p90_content_length"]):
        lo, hi = percentile_bounds(expected[language][1], 0.9, 1e-4)
        assert lo <= p90 <= hi

    # The job's own files live in the output's bucket, under jobs/<job_id>/.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="jobs/")["Contents"]]
    job_id = keys[0].split("/")[1]
    status = json.loads(s3.get_object(Bucket=bucket, Key=f"jobs/{job_id}/status.json")["Body"].read())
    assert status["state"] == "SUCCEEDED" and status["rows_in"] == rows_in and status["rejected"] == rejected
    assert sum("/_COMMITTED." in k for k in keys) == len(files)
    assert f"jobs/{job_id}/tasks.json" in keys and f"jobs/{job_id}/job.json" in keys

    # Same job over the same files on local disk: identical results.
    local_manifest = tmp_path / "local.json"
    local_manifest.write_text(json.dumps({**manifest, "input": {"prefix": str(samples / "crawl")},
                                          "output": {"path": str(tmp_path / "out")}}))
    assert main(["run", str(local_manifest), "--workers", "0", "--work-dir", str(tmp_path / "w")]) == 0
    marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    local = pd.concat([pd.read_json(tmp_path / "out" / f, lines=True) for f in marker["files"]])
    pd.testing.assert_frame_equal(local.sort_values("language").reset_index(drop=True), got)


def test_missing_s3_inputs_are_named_and_nothing_is_written(s3, bucket, capsys):
    s3.put_object(Bucket=bucket, Key="in/a.jsonl", Body=b'{"url": "u"}\n')
    manifest = {"name": "miss", "mapper": "jobs.crawl:ExtractDocuments",
                "reducer": "jobs.crawl:P90ContentLengthByLanguage",
                "input": {"files": [f"s3://{bucket}/in/a.jsonl", f"s3://{bucket}/in/nope.jsonl"]},
                "output": {"path": f"s3://{bucket}/out"}}
    s3.put_object(Bucket=bucket, Key="m.json", Body=json.dumps(manifest))
    assert main(["run", f"s3://{bucket}/m.json", "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert f"input.files[1]: s3://{bucket}/in/nope.jsonl does not exist" in err
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert sorted(keys) == ["in/a.jsonl", "m.json"]


def test_an_input_deleted_after_planning_fails_at_once_and_is_named(s3, bucket, tmp_path, spark):
    from engine.job.planning import plan_job
    from engine.job.manifest import load_manifest
    from engine.local.runner import LocalRunner

    for name in ("a", "b"):
        s3.put_object(Bucket=bucket, Key=f"in/{name}.txt", Body=b"some words here\n")
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"name": "gone", "mapper": "jobs.wordcount:SplitWords",
                                "reducer": "jobs.wordcount:SumCounts", "task_bytes": 1, "retries": 3,
                                "min_success_ratio": 0.5,
                                "input": {"files": [f"s3://{bucket}/in/a.txt", f"s3://{bucket}/in/b.txt"]},
                                "output": {"path": f"s3://{bucket}/out"}}))
    plan = plan_job(load_manifest(str(path)))
    s3.delete_object(Bucket=bucket, Key="in/b.txt")      # gone between planning and the task
    events: list[dict] = []
    status = LocalRunner(workers=0, on_event=events.append).run(plan)
    assert status.state == "PARTIAL"
    [failed] = status.failed
    assert failed.error_type == "PermanentStorageError" and failed.attempts == 1   # never retried
    assert f"s3://{bucket}/in/b.txt" in failed.error
    assert not [e for e in events if e["event"] == "task_retry"]

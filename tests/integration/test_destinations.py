"""Destination safety, as a new user meets it: an output that points at inputs, their
parent, a bucket root, the work dir, a folder of someone's files, a sibling prefix.

Each case runs `lmr run` on real folders and on the moto S3 server. A refused case exits
2 naming output.path and writes nothing at all; a legitimate case runs. Either way every
file and object that existed before is byte-identical afterwards (snapshots compared).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from engine.cli.main import main
from tests.oracles import word_counts

WORDCOUNT = {"name": "dest", "mapper": "jobs.wordcount:SplitWords", "reducer": "jobs.wordcount:SumCounts"}


def snapshot_local(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (but the manifest the test writes), with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "m.json"}


def snapshot_s3(s3, bucket: str) -> dict[str, bytes]:
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def kept(before: dict[str, bytes], after: dict[str, bytes]) -> None:
    """Every file that existed before is still there, byte for byte."""
    lost = sorted(k for k in before if after.get(k) != before[k])
    assert not lost, f"changed or deleted: {lost}"


def local_tree(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "inputs").mkdir(parents=True)
    (data / "inputs-private").mkdir()
    (data / "inputs" / "a.txt").write_text("the quick brown fox\n")
    (data / "inputs" / "b.txt").write_text("jumps over the lazy dog\nthe end\n")
    (data / "inputs-private" / "secret.txt").write_text("private words never counted\n")
    (data / "notes.md").write_text("someone's notes\n")
    return data


def run(tmp_path: Path, capsys, manifest: dict, *flags: str) -> tuple[int, str]:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({**WORDCOUNT, **manifest}))
    code = main(["run", str(path), "--workers", "0", "--work-dir", str(tmp_path / "work"), *flags])
    return code, capsys.readouterr().err


LOCAL_REFUSED = {
    "the input folder": lambda d: {"input": {"prefix": str(d / "inputs")}, "output": {"path": str(d / "inputs")}},
    "the inputs' parent": lambda d: {"input": {"files": [str(d / "inputs" / "a.txt")]},
                                     "output": {"path": str(d)}},
    "inside the input folder": lambda d: {"input": {"prefix": str(d / "inputs")},
                                          "output": {"path": str(d / "inputs" / "out")}},
    "the filesystem root": lambda d: {"input": {"prefix": str(d / "inputs")}, "output": {"path": "/"}},
    "the work dir": lambda d: {"input": {"prefix": str(d / "inputs")}, "output": {"path": str(d.parent / "work")}},
    "a folder inside the work dir's jobs": lambda d: {"input": {"prefix": str(d / "inputs")},
                                                      "output": {"path": str(d.parent / "work" / "jobs" / "x")}},
    "the folder holding the manifest": lambda d: {"input": {"prefix": str(d / "inputs")},
                                                  "output": {"path": str(d.parent)}},
    "a folder of someone's files": lambda d: {"input": {"prefix": str(d / "inputs")},
                                              "output": {"path": str(d / "inputs-private")}},
    "through a symlink to the inputs": lambda d: {"input": {"prefix": str(d / "inputs")},
                                                  "output": {"path": str(d / "link-to-inputs")}},
}


@pytest.mark.parametrize("case", list(LOCAL_REFUSED))
def test_a_local_output_that_would_reach_other_files_is_refused_and_nothing_changes(tmp_path, capsys, case):
    data = local_tree(tmp_path)
    (data / "link-to-inputs").symlink_to(data / "inputs")
    before = snapshot_local(tmp_path)
    code, err = run(tmp_path, capsys, LOCAL_REFUSED[case](data))
    assert code == 2, err
    assert "output.path: " in err and "Traceback" not in err
    assert snapshot_local(tmp_path) == before                       # nothing written, nothing lost
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "m.json"]


def test_foreign_files_are_named_in_the_message(tmp_path, capsys):
    data = local_tree(tmp_path)
    code, err = run(tmp_path, capsys, {"input": {"prefix": str(data / "inputs")},
                                       "output": {"path": str(data / "inputs-private")}})
    assert code == 2
    assert f"{data / 'inputs-private' / 'secret.txt'} in the output folder was not published there by lmr" in err


def read_csv_output(out: Path) -> dict[str, int]:
    marker = json.loads((out / "_SUCCESS").read_text())
    assert sorted(p.name for p in out.iterdir()) == sorted([*marker["files"], "_SUCCESS"])
    frame = pd.concat([pd.read_csv(out / f, keep_default_na=False) for f in marker["files"]])
    return dict(zip(frame["word"], frame["count"]))


def test_sibling_prefix_is_not_read_and_an_output_beside_the_inputs_runs(tmp_path, capsys, spark):
    data = local_tree(tmp_path)
    before = snapshot_local(tmp_path)
    # "inputs" without a trailing slash means that folder: inputs-private is not listed.
    code, err = run(tmp_path, capsys, {"input": {"prefix": str(data / "inputs")},
                                       "output": {"path": str(data / "counts")}})
    assert code == 0, err
    kept(before, snapshot_local(tmp_path))
    expected = word_counts(sorted((data / "inputs").glob("*.txt")))
    assert read_csv_output(data / "counts") == dict(expected)


def test_replacing_an_earlier_output_deletes_only_the_files_it_listed(tmp_path, capsys, spark):
    data = local_tree(tmp_path)
    manifest = {"input": {"prefix": str(data / "inputs")}, "output": {"path": str(data / "counts")}}
    assert run(tmp_path, capsys, manifest)[0] == 0
    first = json.loads((data / "counts" / "_SUCCESS").read_text())["files"]
    (data / "inputs" / "c.txt").write_text("a new file\n")
    assert run(tmp_path, capsys, {**manifest, "name": "dest-2"})[0] == 0    # another job, same output
    second = json.loads((data / "counts" / "_SUCCESS").read_text())["files"]
    assert not set(first) & set(second)
    assert read_csv_output(data / "counts") == dict(word_counts(sorted((data / "inputs").glob("*.txt"))))
    # A file someone adds to the output afterwards is theirs: the next job refuses to touch it.
    (data / "counts" / "mine.txt").write_text("mine\n")
    before = snapshot_local(tmp_path)
    code, err = run(tmp_path, capsys, {**manifest, "name": "dest-3"})
    assert code == 2 and "mine.txt in the output folder was not published there by lmr" in err
    kept(before, snapshot_local(tmp_path))


def test_an_empty_existing_folder_is_a_valid_output(tmp_path, capsys, spark):
    data = local_tree(tmp_path)
    (data / "empty").mkdir()
    code, err = run(tmp_path, capsys, {"input": {"prefix": str(data / "inputs")},
                                       "output": {"path": str(data / "empty")}})
    assert code == 0, err
    assert read_csv_output(data / "empty") == dict(word_counts(sorted((data / "inputs").glob("*.txt"))))


# --- S3 -------------------------------------------------------------------------------

def s3_tree(s3, bucket: str) -> None:
    for key, body in {"inputs/a.txt": b"the quick brown fox\n", "inputs/b.txt": b"jumps over the lazy dog\n",
                      "inputs-private/secret.txt": b"private words never counted\n",
                      "other-job/out/part-0.csv": b"word,count\nx,1\n", "manifests/other.json": b"{}"}.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def run_s3(s3, bucket: str, capsys, manifest: dict, *flags: str) -> tuple[int, str]:
    s3.put_object(Bucket=bucket, Key="manifests/m.json", Body=json.dumps({**WORDCOUNT, **manifest}))
    code = main(["run", f"s3://{bucket}/manifests/m.json", "--workers", "0", *flags])
    return code, capsys.readouterr().err


S3_REFUSED = {
    "the bucket root": lambda b: f"s3://{b}",
    "the bucket root with a slash": lambda b: f"s3://{b}/",
    "the input prefix": lambda b: f"s3://{b}/inputs",
    "inside the input prefix": lambda b: f"s3://{b}/inputs/out/",
    "the stack's manifests": lambda b: f"s3://{b}/manifests/out",
    "the jobs folder": lambda b: f"s3://{b}/jobs/",
    "a folder of someone's objects": lambda b: f"s3://{b}/other-job/out",
}


@pytest.mark.parametrize("case", list(S3_REFUSED))
def test_an_s3_output_that_would_reach_other_objects_is_refused_and_nothing_changes(s3, bucket, capsys, case):
    s3_tree(s3, bucket)
    s3.put_object(Bucket=bucket, Key="manifests/m.json", Body=b"placeholder")
    before = snapshot_s3(s3, bucket)
    code, err = run_s3(s3, bucket, capsys, {"input": {"prefix": f"s3://{bucket}/inputs"},
                                            "output": {"path": S3_REFUSED[case](bucket)}})
    assert code == 2, err
    assert "output.path: " in err and "Traceback" not in err
    after = snapshot_s3(s3, bucket)
    after.pop("manifests/m.json"), before.pop("manifests/m.json")
    assert after == before


def test_on_s3_a_sibling_prefix_is_not_read_and_the_job_runs(s3, bucket, capsys, spark):
    s3_tree(s3, bucket)
    before = snapshot_s3(s3, bucket)
    code, err = run_s3(s3, bucket, capsys, {"input": {"prefix": f"s3://{bucket}/inputs"},
                                            "output": {"path": f"s3://{bucket}/counts"}})
    assert code == 0, err
    before.pop("manifests/m.json", None)
    kept(before, snapshot_s3(s3, bucket))
    marker = json.loads(s3.get_object(Bucket=bucket, Key="counts/_SUCCESS")["Body"].read())
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="counts/")["Contents"])
    assert listed == sorted(["counts/_SUCCESS", *(f"counts/{f}" for f in marker["files"])])
    import io
    frame = pd.concat([pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=f"counts/{f}")["Body"].read()),
                                   keep_default_na=False) for f in marker["files"]])
    assert dict(zip(frame["word"], frame["count"])) == {"the": 2, "quick": 1, "brown": 1, "fox": 1, "jumps": 1,
                                                        "over": 1, "lazy": 1, "dog": 1}


def test_allowed_locations_match_whole_segments_for_every_place(s3, bucket, capsys, monkeypatch, tmp_path):
    s3_tree(s3, bucket)
    monkeypatch.setenv("LMR_ALLOWED_LOCATIONS", f"s3://{bucket}/inputs/,s3://{bucket}/outputs/")
    before = snapshot_s3(s3, bucket)
    path = tmp_path / "m.json"
    path.write_text(json.dumps({**WORDCOUNT, "input": {"prefix": f"s3://{bucket}/inputs-private"},
                                "output": {"path": f"s3://{bucket}/outputs-x/o"},
                                "work_dir": f"s3://{bucket}/elsewhere"}))
    assert main(["run", str(path), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert f"input.prefix: s3://{bucket}/inputs-private is outside the allowed locations" in err
    assert f"output.path: s3://{bucket}/outputs-x/o is outside the allowed locations" in err
    assert f"work_dir: s3://{bucket}/elsewhere is outside the allowed locations" in err
    assert snapshot_s3(s3, bucket) == before


def test_a_symlink_inside_an_allowed_folder_does_not_reach_outside_it(tmp_path, capsys, monkeypatch):
    allowed = tmp_path / "allowed"
    (allowed / "in").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("top secret\n")
    (allowed / "in" / "a.txt").write_text("fine\n")
    (allowed / "in" / "sneaky.txt").symlink_to(tmp_path / "secret.txt")
    monkeypatch.setenv("LMR_ALLOWED_LOCATIONS", str(allowed))
    for inp in ({"files": [str(allowed / "in" / "sneaky.txt")]}, {"prefix": str(allowed / "in")}):
        code, err = run(tmp_path, capsys, {"input": inp, "output": {"path": str(allowed / "out")}})
        assert code == 2 and f"resolves to {tmp_path / 'secret.txt'}, outside the allowed locations" in err, err


def test_fresh_deletes_the_jobs_own_folder_not_a_job_whose_id_starts_the_same(s3, bucket, capsys, spark):
    s3_tree(s3, bucket)
    manifest = {"input": {"prefix": f"s3://{bucket}/inputs"}, "output": {"path": f"s3://{bucket}/counts"}}
    assert run_s3(s3, bucket, capsys, manifest)[0] == 0
    [job_id] = {o["Key"].split("/")[1] for o in s3.list_objects_v2(Bucket=bucket, Prefix="jobs/")["Contents"]}
    s3.put_object(Bucket=bucket, Key=f"jobs/{job_id}-other/status.json", Body=b"another job's")
    before = snapshot_s3(s3, bucket)
    assert run_s3(s3, bucket, capsys, manifest, "--fresh")[0] == 0
    after = snapshot_s3(s3, bucket)
    assert after[f"jobs/{job_id}-other/status.json"] == b"another job's"
    kept({k: v for k, v in before.items() if not k.startswith((f"jobs/{job_id}/", "counts/"))}, after)


def test_an_output_in_a_bucket_that_does_not_exist_is_bad_input(s3, bucket, capsys):
    s3_tree(s3, bucket)
    before = snapshot_s3(s3, bucket)
    code, err = run_s3(s3, bucket, capsys, {"input": {"prefix": f"s3://{bucket}/inputs"},
                                            "output": {"path": "s3://no-such-bucket-lmr/out"}})
    assert code == 2 and "output.path: cannot read s3://no-such-bucket-lmr/out/_SUCCESS" in err, err
    assert "Traceback" not in err
    after = snapshot_s3(s3, bucket)
    after.pop("manifests/m.json"), before.pop("manifests/m.json", None)
    assert after == before

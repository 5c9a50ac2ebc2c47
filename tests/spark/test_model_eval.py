"""Model-evaluation jobs: params, setup once per process, Arrow batch mappers, binary
inputs, and the shape-detection example against the same model in a plain loop."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO, run_local


def texts(tmp_path: Path, n: int = 6) -> list[Path]:
    out = []
    for i in range(n):
        path = tmp_path / f"doc-{i}.txt"
        path.write_text("\n".join(f"w{(i * 7 + j) % 5} x{j % 3}" for j in range(10 + i)) + "\n")
        out.append(path)
    return out


def marks(folder: Path) -> collections.Counter:
    return collections.Counter(p.name.split("-")[0] for p in folder.iterdir())


def read_output(folder: Path) -> pd.DataFrame:
    marker = json.loads((folder / "_SUCCESS").read_text())
    if marker["files"][0].endswith(".csv"):
        return pd.concat(pd.read_csv(folder / f) for f in marker["files"])
    return pq.read_table([str(folder / f) for f in marker["files"]]).to_pandas()


def test_setup_runs_once_per_process_and_params_reach_map_combine_and_reduce(tmp_path):
    files, folder = texts(tmp_path), tmp_path / "marks"
    folder.mkdir()
    status, spec, _ = run_local({"name": "setup", "mapper": "tests.testjobs:WordsSetUpOnce",
                                 "reducer": "tests.testjobs:SumCountsSetUpOnce",
                                 "input": {"files": [str(f) for f in files]}, "output": {"path": str(tmp_path / "out")},
                                 "task_bytes": 1, "params": {"marks": str(folder), "suffix": "!"}}, tmp_path)
    assert status.state == "SUCCEEDED", status.reason
    assert len(status.tasks) == 6
    # one process (the test's): the mapper and the reducer (combine, then reduce) set up once each
    assert marks(folder) == {"mapper": 1, "reducer": 1}
    got = read_output(tmp_path / "out")
    expected = collections.Counter(w + "!" for f in files for w in f.read_text().split())
    assert dict(zip(got["word"], got["count"])) == expected
    assert spec.params == {"marks": str(folder), "suffix": "!"}
    # ctx.params in combine (each map task) and in reduce
    assert all(t.counters == {"combine-!": 1} for t in status.tasks)
    assert status.reduce.counters == {"reduce-!": 1}


def test_a_local_worker_process_sets_up_once_for_all_its_tasks(tmp_path):
    files, folder = texts(tmp_path, 4), tmp_path / "marks"
    folder.mkdir()
    status, _, _ = run_local({"name": "setup-worker", "mapper": "tests.testjobs:WordsSetUpOnce",
                              "reducer": "jobs.wordcount:SumCounts", "input": {"files": [str(f) for f in files]},
                              "output": {"path": str(tmp_path / "out")}, "task_bytes": 1,
                              "params": {"marks": str(folder)}}, tmp_path, workers=1)
    assert status.state == "SUCCEEDED", status.reason
    assert len(status.tasks) == 4
    (mark,) = folder.iterdir()                      # one setup, in the worker (not this) process
    assert mark.name.startswith("mapper-") and mark.name.split("-")[1] != str(os.getpid())


def test_a_reducer_without_a_combine_is_set_up_for_reduce_only(tmp_path):
    files, folder = texts(tmp_path, 3), tmp_path / "marks"
    folder.mkdir()
    status, _, _ = run_local({"name": "lookup", "mapper": "jobs.wordcount:SplitWords",
                              "reducer": "tests.testjobs:LookupReducer", "input": {"files": [str(f) for f in files]},
                              "output": {"path": str(tmp_path / "out")}, "task_bytes": 1,
                              "params": {"marks": str(folder)}}, tmp_path)
    assert status.state == "SUCCEEDED", status.reason
    assert [p.name.split("-")[2] for p in folder.iterdir()] == ["reduce"]    # not in the map tasks
    got = read_output(tmp_path / "out")
    assert dict(zip(got["word"], got["count"])) == collections.Counter(w for f in files for w in f.read_text().split())


def test_other_params_are_another_job_and_set_up_again(tmp_path):
    files, folder = texts(tmp_path, 2), tmp_path / "marks"
    folder.mkdir()
    ids = []
    for suffix in ("a", "b", "a"):
        status, spec, _ = run_local({"name": "params", "mapper": "tests.testjobs:WordsSetUpOnce",
                                     "reducer": "jobs.wordcount:SumCounts", "input": {"files": [str(f) for f in files]},
                                     "output": {"path": str(tmp_path / f"out-{suffix}-{len(ids)}")},
                                     "work_dir": str(tmp_path / "work"),
                                     "params": {"marks": str(folder), "suffix": suffix}}, tmp_path)
        assert status.state == "SUCCEEDED", status.reason
        ids.append(spec.job_id)
    assert ids[0] != ids[1]
    assert marks(folder) == {"mapper": 2}      # "a" again: the instance set up for "a" is reused


def test_a_failing_setup_fails_the_task_as_a_user_code_error(tmp_path):
    files = texts(tmp_path, 1)
    status, _, _ = run_local({"name": "bad-setup", "mapper": "tests.testjobs:BrokenSetup",
                              "reducer": "jobs.wordcount:SumCounts", "input": {"files": [str(f) for f in files]},
                              "output": {"path": str(tmp_path / "out")}, "retries": 0}, tmp_path)
    assert status.state == "FAILED"
    (failure,) = status.failed
    assert failure.error_type == "UserCodeError"
    assert "Mapper.setup raised RuntimeError: model file is corrupt" in failure.error
    assert not (tmp_path / "out").exists()


def test_arrow_mapper_sees_setup_params_and_task_ids_and_sets_up_once_per_python_worker(tmp_path):
    files, folder = texts(tmp_path), tmp_path / "marks"
    folder.mkdir()
    status, spec, _ = run_local({"name": "arrow", "mode": "MAPPER_ONLY", "mapper": "tests.testjobs:ArrowWords",
                                 "input": {"files": [str(f) for f in files]}, "output": {"path": str(tmp_path / "out")},
                                 "task_bytes": 1, "params": {"marks": str(folder), "tag": "v3"}}, tmp_path)
    assert status.state == "SUCCEEDED", status.reason
    got = read_output(tmp_path / "out")
    by_task = {t.task_id: t.inputs[0] for t in status.tasks}
    assert sorted(got["word"]) == sorted(w for f in files for w in f.read_text().split())
    assert set(got["tag"]) == {"v3/v3"} and set(got["job"]) == {spec.job_id}
    for task_id, rows in got.groupby("task"):      # each row names the task that read it
        assert sorted(rows["word"]) == sorted(Path(by_task[task_id]).read_text().split())
    # set up in Spark's Python workers only (never on the driver), at most one per core,
    # for six tasks and all their batches
    setups = marks(folder)["arrow"]
    assert 1 <= setups <= 2 and setups < len(status.tasks)
    assert str(os.getpid()) not in {p.name.split("-")[1] for p in folder.iterdir()}
    assert status.rows_out == len(got)


def test_arrow_mapper_keeps_rejected_record_handling(samples, tmp_path):
    from tests.oracles import crawl_records

    files = sorted((samples / "crawl").glob("*.jsonl"))
    status, _, _ = run_local({"name": "arrow-crawl", "mode": "MAPPER_ONLY",
                              "mapper": "tests.testjobs:ArrowCrawlLanguages",
                              "input": {"files": [str(f) for f in files]}, "output": {"path": str(tmp_path / "out")},
                              "max_rejected_ratio": 0.5}, tmp_path)
    kept, rows_in, rejected = crawl_records(files)
    assert status.state == "SUCCEEDED", status.reason
    assert (status.rows_in, status.rejected) == (rows_in, rejected) and rejected > 0
    assert status.rows_out == rows_in - rejected


def test_a_failing_arrow_setup_is_named(tmp_path):
    files, folder = texts(tmp_path, 1), tmp_path / "marks"
    folder.mkdir()
    status, _, _ = run_local({"name": "bad-arrow", "mode": "MAPPER_ONLY", "mapper": "tests.testjobs:BrokenArrowSetup",
                              "input": {"files": [str(f) for f in files]}, "output": {"path": str(tmp_path / "out")},
                              "retries": 0, "params": {"marks": str(folder), "tag": "x"}}, tmp_path)
    assert status.state == "FAILED"
    (failure,) = status.failed
    assert failure.error_type == "UserCodeError"
    assert "ArrowMapper.setup raised RuntimeError: model shard is corrupt" in failure.error


def test_binary_input_gives_each_files_path_and_bytes(tmp_path):
    rng = np.random.default_rng(5)
    files = []
    for i in range(4):
        path = tmp_path / f"blob {i}.bin"
        path.write_bytes(rng.integers(0, 256, 100 + 37 * i, dtype=np.uint8).tobytes())
        files.append(path)
    status, _, _ = run_local({"name": "binary", "mode": "MAPPER_ONLY", "mapper": "tests.testjobs:BinarySizes",
                              "input": {"files": [str(f) for f in files]}, "output": {"path": str(tmp_path / "out")}},
                             tmp_path)
    assert status.state == "SUCCEEDED", status.reason
    got = read_output(tmp_path / "out")
    assert sorted(zip(got["path"], got["size"], got["sha"])) == sorted(
        (str(f), f.stat().st_size, hashlib.sha256(f.read_bytes()).hexdigest()) for f in files)


def detect_data(tmp_path: Path) -> tuple[list[Path], Path]:
    images = sorted((REPO / "manifests" / "data" / "detect" / "images").glob("*.npy"))
    folder = tmp_path / "images"
    folder.mkdir()
    for image in images:
        shutil.copy(image, folder / image.name)
    return sorted(folder.iterdir()), REPO / "manifests" / "data" / "detect" / "model.npz"


@pytest.mark.parametrize("threshold", [0.5, 0.995])
def test_detect_example_counts_what_the_model_gives_in_a_plain_loop(tmp_path, threshold):
    from jobs.detect import LABELS, classify, load_model

    images, model = detect_data(tmp_path)
    status, _, _ = run_local({"name": "detect", "mapper": "jobs.detect:DetectShapes",
                              "reducer": "jobs.detect:CountLabels", "input": {"prefix": str(tmp_path / "images")},
                              "output": {"path": str(tmp_path / "out")}, "task_max_files": 20,
                              "params": {"model": str(model), "threshold": threshold}}, tmp_path)
    assert status.state == "SUCCEEDED", status.reason
    assert len(status.tasks) == 3
    weights = load_model(str(model))
    expected = collections.Counter(classify(np.load(p), weights, threshold)[0] for p in images)
    got = read_output(tmp_path / "out")
    assert dict(zip(got["label"], got["count"])) == expected
    if threshold == 0.5:   # the model is right on every sample image (its name says the truth)
        assert expected == {label: 20 for label in LABELS}
    else:
        assert expected["uncertain"] > 0

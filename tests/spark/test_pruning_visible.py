"""Column pruning stays, but a user can see it (`lmr validate` names the columns map tasks
will not write, and so not compute) and keep a column, and with it the check computing it."""

from __future__ import annotations

import json

import pandas as pd

from engine.cli.main import main
from tests.conftest import run_local
from tests.oracles import word_counts


def _manifest(tmp_path, reducer: str) -> dict:
    data = tmp_path / "in"
    data.mkdir(exist_ok=True)
    (data / "a.txt").write_text("alpha beta\nthis line is poison\ngamma\n")
    return {"name": "checks", "mapper": "tests.testjobs:WordsWithACheck", "reducer": reducer,
            "input": {"files": [str(data / "a.txt")]}, "output": {"path": str(tmp_path / "out")}}


def test_validate_names_the_pruned_column_and_the_run_skips_its_check(spark, tmp_path, capsys):
    manifest = _manifest(tmp_path, "jobs.wordcount:SumCounts")
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    assert main(["validate", str(tmp_path / "m.json"), "--work-dir", str(tmp_path / "work")]) == 0
    said = capsys.readouterr().out
    assert "columns not written (the reducer never reads them" in said and "UDFs included): checked;" in said
    assert main(["validate", str(tmp_path / "m.json"), "--json", "--work-dir", str(tmp_path / "work")]) == 0
    shown = json.loads(capsys.readouterr().out)["columns"]
    assert shown == {"written": ["word", "count"], "not_written": ["checked"]}

    status, _, _ = run_local(manifest, tmp_path)
    assert status.state == "SUCCEEDED"   # pruned: the check never ran, as validate said


def test_keep_columns_keeps_the_column_and_its_check_runs(spark, tmp_path, capsys):
    manifest = _manifest(tmp_path, "tests.testjobs:SumCountsKeepingTheCheck")
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    assert main(["validate", str(tmp_path / "m.json"), "--json", "--work-dir", str(tmp_path / "work")]) == 0
    assert json.loads(capsys.readouterr().out)["columns"] == {"written": ["word", "count", "checked"],
                                                              "not_written": []}
    status, _, _ = run_local(manifest, tmp_path)
    assert status.state == "FAILED"
    assert "ValueError: line fails the check: 'this line is poison'" in status.failed[0].error

    (tmp_path / "in" / "a.txt").write_text("alpha beta\ngamma alpha\n")
    status, _, _ = run_local(manifest, tmp_path)
    assert status.state == "SUCCEEDED"
    marker = json.loads((tmp_path / "out" / "_SUCCESS").read_text())
    got = pd.concat([pd.read_csv(tmp_path / "out" / f) for f in marker["files"]])
    assert dict(zip(got["word"], got["count"])) == dict(word_counts([tmp_path / "in" / "a.txt"]))

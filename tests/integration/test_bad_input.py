"""Bad manifests and inputs, as `lmr run` meets them: exit code 2, one message naming the
field, file or line, and nothing written (no job folder, no output)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli.main import main

GOOD = {"name": "bad-input", "mapper": "jobs.crawl:ExtractDocuments",
        "reducer": "jobs.crawl:P90ContentLengthByLanguage"}


def files(tmp_path: Path) -> dict[str, Path]:
    data = tmp_path / "data"
    (data / "a folder").mkdir(parents=True, exist_ok=True)
    good = data / "good.jsonl"
    good.write_text('{"url": "u", "language": "en", "text": "hello"}\n')
    (data / "empty.jsonl").write_text("")
    return {"good": good, "empty": data / "empty.jsonl", "folder": data / "a folder",
            "missing": data / "missing.jsonl"}


def manifest_with(tmp_path: Path, **fields) -> dict:
    return {**GOOD, "input": {"files": [str(files(tmp_path)["good"])]},
            "output": {"path": str(tmp_path / "out")}, **fields}


CASES = {
    "not JSON": (lambda t: '{"name": "x",\n  "mode": }', ["not valid JSON", "line 2, column 11"]),
    "not an object": (lambda t: "[1, 2]", ["must be a JSON object, not a list"]),
    "wrong types": (lambda t: manifest_with(t, max_concurrency="ten", retries=True),
                    ["max_concurrency: must be an integer, not a string",
                     "retries: must be an integer, not a boolean"]),
    "unknown fields": (lambda t: manifest_with(t, colour="red"), ["colour: unknown field"]),
    "empty input": (lambda t: manifest_with(t, input={"files": []}), ["input.files: is empty"]),
    "duplicate inputs": (lambda t: manifest_with(t, input={"files": [str(files(t)["good"])] * 2}),
                         ["input.files[1]: duplicates input.files[0]"]),
    "missing file": (lambda t: manifest_with(t, input={"files": [str(files(t)["missing"])]}),
                     ["input.files[0]:", "missing.jsonl does not exist"]),
    "directory for a file": (lambda t: manifest_with(t, input={"files": [str(files(t)["folder"])]}),
                             ["input.files[0]:", "a folder is a directory; use input.prefix"]),
    "mapper that does not resolve": (lambda t: manifest_with(t, mapper="jobs.crawl:NoSuchMapper"),
                                     ["mapper: module 'jobs.crawl' has no attribute 'NoSuchMapper'"]),
    "module that does not exist": (lambda t: manifest_with(t, reducer="jobs.nothing:Reducer"),
                                   ["reducer: cannot import module 'jobs.nothing'"]),
    "class outside the job packages": (lambda t: manifest_with(t, mapper="os:system",
                                                               reducer="subprocess:Popen"),
                                       ["mapper: 'os:system' is outside the allowed job packages",
                                        "reducer: 'subprocess:Popen' is outside the allowed job packages"]),
    "not a Mapper": (lambda t: manifest_with(t, mapper="jobs.crawl:P90ContentLengthByLanguage"),
                     ["mapper: 'jobs.crawl:P90ContentLengthByLanguage' is not a subclass of engine.interfaces.Mapper"]),
    "duplicate JSON keys": (lambda t: '{"name": "a", "input": {"files": ["x"]}, "name": "b"}',
                            ["name: appears twice in the same object"]),
    "name with a control character": (lambda t: manifest_with(t, name="bad\x07name"),
                                      ["name: 'bad\\x07name' must be 1-63 letters"]),
    "name with a trailing newline": (lambda t: manifest_with(t, name="job\n"),
                                     ["name: 'job\\n' must be 1-63 letters"]),
    "NUL in a path": (lambda t: manifest_with(t, input={"files": [str(t / "a\x00b.jsonl")]}),
                      ["input.files[0]: ", "\\x00b.jsonl' contains a control character"]),
    "control character in the output": (lambda t: manifest_with(t, output={"path": str(t / "o\x1bt")}),
                                        ["output.path: ", "contains a control character"]),
    "s3 URI without a bucket": (lambda t: manifest_with(t, input={"files": ["s3:///key.jsonl"]}),
                                ["input.files[0]: s3:///key.jsonl names no bucket"]),
    "s3 URI without a key": (lambda t: manifest_with(t, input={"files": ["s3://bucket"]}),
                             ["input.files[0]: s3://bucket names no key"]),
    "upper-case scheme": (lambda t: manifest_with(t, input={"files": ["S3://b/k"]}),
                          ["input.files[0]: S3://b/k: write the scheme as lower-case"]),
    "another scheme": (lambda t: manifest_with(t, input={"files": ["https://example.com/a.jsonl"]}),
                       ["input.files[0]: https://example.com/a.jsonl: only local paths and s3:// URIs"]),
    "invalid glob": (lambda t: manifest_with(t, input={"prefix": str(t / "data"), "glob": "[z-a].jsonl"}),
                     ["input.glob: '[z-a].jsonl' is not a valid glob"]),
    "glob leaving the prefix": (lambda t: manifest_with(t, input={"prefix": str(t / "data"), "glob": "../*.jsonl"}),
                                ["input.glob: '../*.jsonl' must stay below the prefix"]),
    "reader option the engine owns": (lambda t: manifest_with(t, input={"files": [str(files(t)["good"])],
                                                                        "options": {"mode": "FAILFAST"}}),
                                      ["input.options.mode: collides with the engine's own reader options"]),
    "reader option not on the list": (lambda t: manifest_with(t, input={"files": [str(files(t)["good"])],
                                                                        "format": "jsonl",
                                                                        "options": {"sep": ";"}}),
                                      ["input.options.sep: is not a reader option the engine allows for jsonl"]),
    "deeply nested JSON": (lambda t: manifest_with(t, input={"files": [str(files(t)["good"])],
                                                             "options": _nested(40)}),
                           ["nested deeper than 16 levels"]),
    "oversize value": (lambda t: manifest_with(t, name="n" * 10_000), ["name: is 10,000 characters long"]),
    "oversize unknown key": (lambda t: manifest_with(t, **{"k" * 5_000: 1}), ["... (5,000 characters): unknown field"]),
    "forbidden spark_conf": (lambda t: manifest_with(t, spark_conf={"spark.plugins": "x.Evil"}),
                             ["spark_conf.spark.plugins: 'spark.plugins' is not an allowed Spark setting"]),
}


def _nested(depth: int) -> dict:
    body: dict = {}
    for _ in range(depth):
        body = {"a": body}
    return body


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_a_clear_message_and_nothing_is_written(tmp_path, capsys, case):
    build, expected = CASES[case]
    body = build(tmp_path)
    path = tmp_path / "manifest.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code = main(["run", str(path), "--workers", "0", "--work-dir", str(tmp_path / "work")])
    err = capsys.readouterr().err
    assert code == 2
    for message in expected:
        assert message in err, err
    assert str(path) in err                              # the file is named
    assert "Traceback" not in err
    # One line a problem, each quoting at most about 200 characters of any value.
    assert all(len(line) <= 400 for line in err.splitlines()), err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before   # nothing written


def test_an_oversize_manifest_is_refused_before_it_is_parsed(tmp_path, capsys):
    path = tmp_path / "manifest.json"
    path.write_bytes(b'{"name": "' + b"x" * (33 * 2**20) + b'"}')
    assert main(["run", str(path), "--work-dir", str(tmp_path / "work")]) == 2
    err = capsys.readouterr().err
    assert "manifest is 34,603," in err and "at most 33,554,432 are read" in err
    assert not (tmp_path / "work").exists()


def test_json_output_reports_bad_input_as_json(tmp_path, capsys):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_with(tmp_path, retries="two", spark_conf={"spark.jars": "http://x/a.jar"})))
    assert main(["run", str(path), "--json", "--work-dir", str(tmp_path / "work")]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["error"] == "ManifestError" and out["source"] == str(path)
    assert {p["field"] for p in out["problems"]} == {"retries", "spark_conf.spark.jars"}


def test_locations_outside_the_allowed_ones_are_refused(tmp_path, capsys, monkeypatch):
    allowed = tmp_path / "data"
    monkeypatch.setenv("LMR_ALLOWED_LOCATIONS", f"{allowed},s3://lake/inputs/")
    listing = tmp_path / "data" / "list.txt"
    body = manifest_with(tmp_path, input={"files": [str(files(tmp_path)["good"]), "s3://lake/inputs-x/a.jsonl",
                                                    "s3://lake/inputs/../secrets/a.jsonl", "/etc/passwd"]})
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(body))
    assert main(["run", str(path), "--work-dir", str(tmp_path / "work")]) == 2
    err = capsys.readouterr().err
    assert "input.files[0]" not in err
    assert "input.files[1]: s3://lake/inputs-x/a.jsonl is outside the allowed locations" in err
    assert "input.files[2]: s3://lake/inputs/../secrets/a.jsonl contains '.' or '..'" in err
    assert "input.files[3]: /etc/passwd is outside" in err
    assert f"output.path: {tmp_path / 'out'} is outside" in err
    # A list file inside the allowed folder may still only list allowed files.
    listing.write_text(f"{files(tmp_path)['good']}\n# a comment\n/etc/shadow\n")
    path.write_text(json.dumps({**body, "input": {"list": str(listing)},
                                "output": {"path": str(allowed / "out")}}))
    assert main(["run", str(path), "--work-dir", str(tmp_path / "work")]) == 2
    assert "input.list line 3: /etc/shadow is outside the allowed locations" in capsys.readouterr().err
    assert not (tmp_path / "work").exists()


def test_names_with_spaces_and_non_ascii_work(tmp_path, spark, capsys):
    folder = tmp_path / "données brutes"
    folder.mkdir()
    source = folder / "été 2026 #1.jsonl"
    source.write_text('{"url": "u1", "language": "fr", "text": "bonjour"}\n'
                      '{"url": "u2", "language": "fr", "text": "salut à tous"}\n')
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({**GOOD, "input": {"prefix": str(folder), "glob": "*.jsonl"},
                                "output": {"path": str(tmp_path / "sortie é")}}))
    code = main(["run", str(path), "--workers", "0", "--work-dir", str(tmp_path / "work")])
    assert code == 0, capsys.readouterr().err
    marker = json.loads((tmp_path / "sortie é" / "_SUCCESS").read_text())
    assert marker["rows"] == 1     # one language: fr

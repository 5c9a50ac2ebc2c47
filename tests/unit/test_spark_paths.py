"""A task's staged files are handed to Spark as their folder (one listing instead of one
per path), but only when they are exactly the folder's files."""

from __future__ import annotations

from engine.spark.readers import spark_paths


def test_the_folder_only_when_the_paths_are_all_of_its_files(tmp_path):
    paths = []
    for name in ("00000.npy", "00001.npy", "split-00002.jsonl"):
        (tmp_path / name).write_bytes(b"x")
        paths.append(str(tmp_path / name))
    assert spark_paths(paths) == [str(tmp_path)]
    assert spark_paths(paths[:2]) == paths[:2]                       # not every file: the paths
    assert spark_paths(paths[:1]) == paths[:1]
    (tmp_path / "_hidden").write_bytes(b"x")                         # Spark would skip it in a folder
    assert spark_paths([*paths, str(tmp_path / "_hidden")]) == [*paths, str(tmp_path / "_hidden")]
    other = tmp_path / "sub"
    other.mkdir()
    (other / "a").write_bytes(b"x")
    assert spark_paths([paths[0], str(other / "a")]) == [paths[0], str(other / "a")]

"""Staging: put a task's files on local disk (``/tmp`` on Lambda) for Spark to read.

S3 objects are downloaded by boto3 (no Hadoop s3a jars); local files are symlinked.
Either way the staged name is a plain ``00000.<ext>``: Hadoop paths reject some
characters (``:``) that keys and file names may contain, and the extension is kept
because Spark picks the decompressor (``.gz``) from it.
"""

from __future__ import annotations

import os
import posixpath
from concurrent.futures import ThreadPoolExecutor

from .row_groups import stage_row_groups
from .splits import stage_range
from .storage import Storage
from .uris import is_s3

# Parallel GETs: a task of many small packed objects waits on request latency, not bandwidth.
_DOWNLOAD_THREADS = 8

_KNOWN_SUFFIXES = (".gz", ".bz2", ".zst", ".snappy", ".lz4", ".deflate")


def extension(uri: str) -> str:
    name = posixpath.basename(uri.rstrip("/"))
    stem, ext = os.path.splitext(name)
    if ext in _KNOWN_SUFFIXES:
        ext = os.path.splitext(stem)[1] + ext
    return ext if ext.isascii() and ":" not in ext else ""


def stage(storage: Storage, uris: list[str], folder: str) -> list[str]:
    """Local paths holding ``uris``, in order, under ``folder``."""
    os.makedirs(folder, exist_ok=True)
    out = [os.path.join(folder, f"{i:05d}{extension(uri)}") for i, uri in enumerate(uris)]
    remote = [(uri, local) for uri, local in zip(uris, out) if is_s3(uri)]
    for uri, local in zip(uris, out):
        if not is_s3(uri):
            os.symlink(os.path.abspath(uri), local)
    if len(remote) == 1:
        storage.download(*remote[0])
    elif remote:
        with ThreadPoolExecutor(min(_DOWNLOAD_THREADS, len(remote))) as pool:
            for done in [pool.submit(storage.download, uri, local) for uri, local in remote]:
                done.result()   # the first failure is raised, naming its object
    return out


def stage_inputs(storage: Storage, inputs: list, folder: str, fmt: str | None = None,
                 csv_header: bool = False) -> tuple[list[str], list]:
    """A map task's inputs (InputFiles) on local disk: (local paths, and for each the byte
    offset in its file where the staged lines begin, None when they begin the file). A split is
    staged as the lines its range owns (engine/store/splits.py), after the file's header
    line for a CSV with one; a Parquet split as the row groups it owns (row_groups.py)."""
    whole = iter(stage(storage, [f.uri for f in inputs if not f.is_split], folder))
    paths, offsets = [], []
    for i, f in enumerate(inputs):
        if not f.is_split:
            paths.append(next(whole))
            offsets.append(None)
            continue
        path = os.path.join(folder, f"split-{i:05d}{extension(f.uri)}")
        if fmt == "parquet":
            stage_row_groups(storage, f, path)
            paths.append(path)
            offsets.append(None)
            continue
        # From byte 0 the staged lines are numbered as in the file: no offset needed.
        offsets.append(stage_range(storage, f, path, csv_header) or None)
        paths.append(path)
    return paths, offsets

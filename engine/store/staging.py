"""Staging: put a task's files on local disk (``/tmp`` on Lambda) for Spark to read.

S3 objects are downloaded by boto3 (no Hadoop s3a jars). A task's inputs are read as
planned (:func:`stage_inputs`); the engine's own files (intermediate parts) are symlinked
when local (:func:`stage`).
Either way the staged name is a plain ``00000.<ext>``: Hadoop paths reject some
characters (``:``) that keys and file names may contain, and the extension is kept
because Spark picks the decompressor (``.gz``) from it.
"""

from __future__ import annotations

import os
import posixpath
from concurrent.futures import ThreadPoolExecutor

from .pinned import PinnedInput
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
    """A map task's inputs (InputFiles) on local disk, each read as it was planned
    (engine/store/pinned.py: the planned ETag, or a local file resolved, checked against
    the allowed locations, its size and mtime): (local paths, and for each the byte offset
    in its file where the staged lines begin, None when they begin the file). A split is
    staged as the lines its range owns (engine/store/splits.py), after the file's header
    line for a CSV with one; a Parquet split as the row groups it owns (row_groups.py)."""
    os.makedirs(folder, exist_ok=True)
    names, whole = [], 0
    for i, f in enumerate(inputs):
        if f.is_split:
            names.append(os.path.join(folder, f"split-{i:05d}{extension(f.uri)}"))
        else:
            names.append(os.path.join(folder, f"{whole:05d}{extension(f.uri)}"))
            whole += 1

    def one(f, path: str) -> int | None:
        with PinnedInput(storage, f) as pinned:
            if not f.is_split:
                pinned.stage_whole(path)
                return None
            if fmt == "parquet":
                stage_row_groups(pinned, f, path)
                return None
            # From byte 0 the staged lines are numbered as in the file: no offset needed.
            return stage_range(pinned, f, path, csv_header) or None

    if len(inputs) < 2:
        offsets = [one(f, path) for f, path in zip(inputs, names)]
    else:
        with ThreadPoolExecutor(min(_DOWNLOAD_THREADS, len(inputs))) as pool:
            offsets = list(pool.map(one, inputs, names))   # the first failure is raised, naming its file
    return names, offsets

"""Staging: put a task's files on local disk (``/tmp`` on Lambda) for Spark to read.

S3 objects are downloaded by boto3 (no Hadoop s3a jars); local files are symlinked.
Either way the staged name is a plain ``00000.<ext>``: Hadoop paths reject some
characters (``:``) that keys and file names may contain, and the extension is kept
because Spark picks the decompressor (``.gz``) from it.
"""

from __future__ import annotations

import os
import posixpath

from .storage import Storage, is_s3

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
    out = []
    for i, uri in enumerate(uris):
        local = os.path.join(folder, f"{i:05d}{extension(uri)}")
        if is_s3(uri):
            storage.download(uri, local)
        else:
            os.symlink(os.path.abspath(uri), local)
        out.append(local)
    return out

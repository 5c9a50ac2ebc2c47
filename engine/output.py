"""Publishing a job's destination: all of it, or nothing that looks complete.

Files are copied to the destination, then a ``_SUCCESS`` marker listing them is written
last. A local destination is assembled in a sibling temp folder and swapped in with
renames; on S3 (no rename) readers trust the folder only when the marker is there.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import uuid

from .faults import checkpoint
from .layout import OUTPUT_MARKER
from .storage import Storage, is_s3, join


def publish(storage: Storage, files: list[tuple[str, str]], dest: str, summary: dict) -> list[str]:
    """Copy ``(source_uri, name)`` pairs into ``dest`` (replacing what was there).

    Returns the published URIs. ``summary`` goes into the marker.
    """
    names = [name for _, name in files]
    marker = json.dumps({**summary, "files": names}, indent=2)
    if is_s3(dest):
        storage.delete_prefix(join(dest, ""))
        for src, name in files:
            storage.copy(src, join(dest, name))
        checkpoint("reduce.before_commit")
        storage.write_text(join(dest, OUTPUT_MARKER), marker)
        return [join(dest, n) for n in names]

    dest = dest.rstrip("/")
    for kind in ("tmp", "old"):   # left by a publisher that was killed
        for stale in glob.glob(f"{glob.escape(dest)}.lmr-{kind}-*"):
            shutil.rmtree(stale, ignore_errors=True)
    tag = uuid.uuid4().hex[:8]
    tmp, old = f"{dest}.lmr-tmp-{tag}", f"{dest}.lmr-old-{tag}"
    os.makedirs(tmp)
    try:
        for src, name in files:
            storage.copy(src, os.path.join(tmp, name))
        storage.write_text(os.path.join(tmp, OUTPUT_MARKER), marker)
        checkpoint("reduce.before_commit")
        if os.path.lexists(dest):
            os.rename(dest, old)
        os.rename(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return [os.path.join(dest, n) for n in names]

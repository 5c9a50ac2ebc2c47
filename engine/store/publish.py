"""Publishing a job's destination: all of it or nothing that looks complete, and never a
file that lmr did not publish there.

A destination is a folder whose ``_SUCCESS`` marker, written last, lists its files.
Before anything is written, the folder may hold only the files an earlier lmr
``_SUCCESS`` lists (and what this job's own earlier publish attempts wrote): anything else
is someone's data, and the job is refused with a :class:`DestinationError` naming one
such file. Replacing an earlier output deletes exactly the files its marker listed.

Two publishers racing on one destination end with ONE complete output:

- S3 (no rename): the files go in under Spark's attempt-unique names, then the marker is
  written conditionally on what the publisher saw (``If-None-Match: *`` when there was
  none, ``If-Match: <etag>`` when there was one). The loser deletes only its own files
  that the winner's marker does not list. What a publish attempt is about to write is
  recorded first under the job's folder, so that a later attempt of the same job knows
  a killed one's files as its own and does not take them for someone else's.
- locally: the output is assembled in a hidden sibling folder and swapped in with
  renames. Each rename succeeds for one publisher only; a loser removes only its own
  folder, and the replaced output is removed file by file, as its marker lists them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import uuid
from typing import Protocol

from ..errors import CommitConflict, DestinationError, PermanentStorageError, PlanError, Problem
from ..faults import checkpoint
from ..procs import pid_alive
from .locations import shorten
from .storage import Storage
from .uris import is_s3, join

PUBLISHER = "lambda-mr"   # the marker says who wrote it: a Spark or a user _SUCCESS is not ours
# Written last into a published output folder; readers trust the folder only if it is there.
OUTPUT_MARKER = "_SUCCESS"
# A killed publish attempt's files are removed by a later one of the same job only when
# the record is older than this (a Lambda runs 15 minutes at most, so its writer is gone).
LEASE_ENV = "LMR_PUBLISH_LEASE_SECONDS"
_DEFAULT_LEASE_S = 900.0
_TMP = re.compile(r"\.(?P<dest>.+)\.lmr-(?:tmp|old)-(?P<job>.+)-(?P<pid>\d+)-[0-9a-f]{8}\Z")

log = logging.getLogger(__name__)


class Owner(Protocol):
    """Who publishes (a job's layout is one): its job id, written in the marker, and the
    folder (a URI ending in '/') where its publish attempts record what they are about to
    write into an S3 destination."""

    job_id: str
    publish_records: str


def _safe_name(name: object) -> bool:
    """A marker's entry must be a plain file name in the folder, as lmr publishes them: no
    '/', so deleting it can never reach through a folder (or a link to one) elsewhere."""
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name
            and not any(ord(c) < 32 for c in name))


def parse_marker(text: bytes | str | None) -> dict | None:
    """An lmr ``_SUCCESS`` (a dict with the files it lists), or None if it is not one."""
    try:
        marker = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("published_by") != PUBLISHER:
        return None
    files = marker.get("files")
    if not isinstance(files, list) or not all(map(_safe_name, files)):
        return None
    return marker


def _relative(listed: list[str], dest: str) -> list[str]:
    base = join(dest, "")
    return [uri[len(base):] for uri in listed]


def _foreign(present: list[str], ours: set[str], dest: str) -> None:
    """Refuse a destination holding any file not in ``ours``, naming one of them."""
    others = sorted(set(present) - ours - {OUTPUT_MARKER})
    if others:
        raise DestinationError(
            f"{shorten(join(dest, others[0]))} and {len(others) - 1} other file(s) in the output folder "
            f"were not published there by lmr; refusing to write over them (choose an empty or "
            f"new output folder, or move them away)" if len(others) > 1 else
            f"{shorten(join(dest, others[0]))} in the output folder was not published there by lmr; "
            "refusing to write over it (choose an empty or new output folder, or move it away)")


def refuse_unsafe_destination(storage: Storage, dest: str, owner: Owner, source: str) -> None:
    """Before a job starts (``lmr run``, ``lmr submit``, the coordinator): a PlanError naming
    ``output.path`` if the destination holds someone's files or cannot be read (a bucket
    that does not exist, no access): bad input, refused with nothing written."""
    try:
        check_destination(storage, dest, owner)
    except (DestinationError, PermanentStorageError) as exc:
        raise PlanError(source, [Problem("output.path", str(exc))]) from None


def check_destination(storage: Storage, dest: str, owner: Owner) -> None:
    """Raise DestinationError if publishing to ``dest`` would overwrite someone's files.
    Reads only: run it before a job writes anything."""
    if is_s3(dest):
        _S3Publish(storage, dest, owner).inspect()
    else:
        _local_previous(dest)


def publish(storage: Storage, files: list[tuple[str, str]], dest: str, summary: dict,
            owner: Owner) -> list[str]:
    """Copy ``(source_uri, name)`` pairs into ``dest`` and write its marker last, replacing
    an earlier lmr output there. ``summary`` goes into the marker. Returns the names the
    destination's marker lists (another attempt of the same job may have won)."""
    marker = {**summary, "published_by": PUBLISHER, "files": [name for _, name in files]}
    if is_s3(dest):
        return _S3Publish(storage, dest, owner).run(files, marker)
    return _publish_local(storage, files, dest, marker, owner.job_id)


# --- S3 -------------------------------------------------------------------------------

class _S3Publish:
    def __init__(self, storage: Storage, dest: str, owner: Owner):
        self.storage, self.dest, self.owner = storage, dest, owner
        self.marker_uri = join(dest, OUTPUT_MARKER)

    def inspect(self) -> tuple[dict | None, str | None, dict[str, dict]]:
        """(earlier marker, its ETag, this job's publish records), after checking that
        the destination holds nothing else."""
        found = self.storage.s3.read_versioned(self.marker_uri)
        previous = etag = None
        if found is not None:
            previous, etag = parse_marker(found[0]), found[1]
            if previous is None:
                raise DestinationError(
                    f"{shorten(self.marker_uri)} was not written by lmr; refusing to replace that output")
        records = self._records()
        ours = set(previous["files"] if previous else ())
        ours.update(name for r in records.values() for name in r["files"])
        _foreign(_relative([f.uri for f in self.storage.list(join(self.dest, ""))], self.dest), ours, self.dest)
        return previous, etag, records

    def _records(self) -> dict[str, dict]:
        out = {}
        for info in self.storage.list(self.owner.publish_records):
            record = json.loads(self.storage.read_text(info.uri))
            if record.get("dest") == self.dest and all(map(_safe_name, record.get("files", []))):
                out[info.uri] = record
        return out

    def run(self, files: list[tuple[str, str]], marker: dict) -> list[str]:
        previous, etag, records = self.inspect()
        names = marker["files"]
        record_uri = join(self.owner.publish_records, f"{uuid.uuid4().hex[:12]}.json")
        self.storage.write_text(record_uri, json.dumps({"dest": self.dest, "files": names,
                                                        "started_at": time.time()}))
        for src, name in files:
            self.storage.copy(src, join(self.dest, name))
        checkpoint("reduce.before_commit")
        body = json.dumps(marker, indent=2)
        try:
            if etag is None:
                self.storage.create(self.marker_uri, body)
            else:
                self.storage.s3.replace(self.marker_uri, body, etag)
        except CommitConflict:
            return self._lost(names, record_uri)
        # Won: what the replaced output listed, and what killed attempts of this job left,
        # goes; nothing else.
        keep = set(names)
        stale = [name for name in (previous or {}).get("files", []) if name not in keep]
        lease = float(os.environ.get(LEASE_ENV, _DEFAULT_LEASE_S))
        done_records = [record_uri]
        for uri, record in records.items():
            if time.time() - record.get("started_at", 0) >= lease:
                stale += [name for name in record["files"] if name not in keep]
                done_records.append(uri)
        self.storage.delete_many([join(self.dest, n) for n in sorted(set(stale))])
        self.storage.delete_many(done_records)
        return names

    def _lost(self, names: list[str], record_uri: str) -> list[str]:
        found = self.storage.s3.read_versioned(self.marker_uri)
        winner = parse_marker(found[0]) if found else None
        theirs = set(winner["files"]) if winner else set()
        self.storage.delete_many([join(self.dest, n) for n in names if n not in theirs])
        self.storage.delete_many([record_uri])
        if winner is not None and winner.get("job_id") == self.owner.job_id:
            log.info("another attempt of job %s published %s first; its output stands",
                     self.owner.job_id, self.dest)
            return list(winner["files"])
        raise DestinationError(f"another publisher wrote {shorten(self.dest)} at the same moment; "
                               "its output stands and none of its files were touched")


# --- local ------------------------------------------------------------------------------

def _local_previous(dest: str) -> dict | None:
    """The earlier lmr marker in a local destination (None: no output there yet), after
    checking that the folder holds nothing but the files it lists."""
    if not os.path.lexists(dest):
        return None
    if not os.path.isdir(dest) or os.path.islink(dest):
        raise DestinationError(f"{shorten(dest)} exists and is not a folder; refusing to replace it")
    present = []
    for folder, _, names in os.walk(dest):
        present += [os.path.relpath(os.path.join(folder, n), dest).replace(os.sep, "/") for n in names]
    previous = None
    if OUTPUT_MARKER in present:
        with open(os.path.join(dest, OUTPUT_MARKER), "rb") as fh:
            previous = parse_marker(fh.read())
        if previous is None:
            raise DestinationError(
                f"{shorten(os.path.join(dest, OUTPUT_MARKER))} was not written by lmr; refusing to replace that output")
    _foreign(present, set(previous["files"]) if previous else set(), dest)
    return previous


def _publish_local(storage: Storage, files: list[tuple[str, str]], dest: str, marker: dict,
                   job_id: str) -> list[str]:
    dest = dest.rstrip("/")
    parent, name = os.path.split(dest)
    _remove_dead_leftovers(parent, name, job_id)
    previous = _local_previous(dest)
    tag = f"{job_id}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp, old = os.path.join(parent, f".{name}.lmr-tmp-{tag}"), os.path.join(parent, f".{name}.lmr-old-{tag}")
    os.makedirs(tmp)
    try:
        for src, file_name in files:
            storage.copy(src, os.path.join(tmp, file_name))
        storage.write_text(os.path.join(tmp, OUTPUT_MARKER), json.dumps(marker, indent=2))
        checkpoint("reduce.before_commit")
        if previous is not None:
            try:
                os.rename(dest, old)      # only one publisher can move the old output aside
            except FileNotFoundError:
                return _lost_local(dest, job_id)
            if _marker_of(old) != previous:
                # Another publisher replaced it since we looked: put theirs back, we lost.
                os.rename(old, dest)
                return _lost_local(dest, job_id)
        try:
            os.rename(tmp, dest)          # fails if another publisher's output is already there
        except OSError:
            return _lost_local(dest, job_id)
        return marker["files"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)   # ours; gone already when the swap succeeded
        if os.path.isdir(old):
            _remove_output(old)


def _marker_of(folder: str) -> dict | None:
    try:
        with open(os.path.join(folder, OUTPUT_MARKER), "rb") as fh:
            return parse_marker(fh.read())
    except OSError:
        return None


def _lost_local(dest: str, job_id: str) -> list[str]:
    # The winner may have moved the old output aside and not yet swapped its own in: its
    # next step is one rename, so wait a moment for its marker.
    winner, deadline = _marker_of(dest), time.monotonic() + 5
    while winner is None and time.monotonic() < deadline:
        time.sleep(0.05)
        winner = _marker_of(dest)
    if winner is not None and winner.get("job_id") == job_id:
        return list(winner["files"])
    raise DestinationError(f"another publisher wrote {shorten(dest)} at the same moment; "
                           "its output stands and none of its files were touched")


def _remove_output(folder: str) -> None:
    """Remove a replaced output: the files its marker lists, the marker, then the folder if
    nothing else is left in it (a file someone added meanwhile stays, with its folder)."""
    for name in [*(_marker_of(folder) or {}).get("files", []), OUTPUT_MARKER]:
        try:
            os.unlink(os.path.join(folder, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(folder)
    except OSError:
        log.warning("kept %s: it holds files lmr did not publish", folder)


def _remove_dead_leftovers(parent: str, name: str, job_id: str) -> None:
    """Folders a killed publisher of this job left beside the destination (its process is
    gone); a live publisher's folders are never touched."""
    if not os.path.isdir(parent):
        return
    for entry in os.listdir(parent):
        match = _TMP.match(entry)
        if not match or match["dest"] != name or match["job"] != job_id or pid_alive(int(match["pid"])):
            continue
        path = os.path.join(parent, entry)
        if "-tmp-" in entry:
            shutil.rmtree(path, ignore_errors=True)
        else:
            _remove_output(path)

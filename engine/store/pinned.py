"""Reading an input as it was planned, or failing with the file named.

A task's inputs carry the version planning saw: an S3 object's ETag, a local file's size
and mtime. Every read of an input goes through a :class:`PinnedInput`:

- S3: each GET is conditional on the planned ETag (``If-Match``), so a rewritten object
  fails the read instead of mixing old and new bytes;
- a local file is resolved (``..`` and symlinks), checked against the allowed locations
  (the rule planning applies: a resumed run or a retried task that a symlink swapped in
  since would point elsewhere is refused the same way), opened once and checked against
  the planned size and mtime; every later read uses that open file, so a rename over the
  path cannot change what the task reads.

A mismatch raises :class:`~engine.errors.InputChangedError` ("changed since the job was
planned"); the next run plans the inputs anew. Importable without pyspark.
"""

from __future__ import annotations

import os

from ..errors import InputChangedError, PermanentStorageError
from .failures import classify
from .local_files import copy_fd_range
from .locations import allowed_locations, outside, resolve_local
from .uris import is_s3


class PinnedInput:
    """One planned input (an ``InputFile``), readable only as planned. A context manager:
    a local file stays open until it is left."""

    def __init__(self, storage, f):
        self.storage, self.f = storage, f
        self.fd: int | None = None
        if not is_s3(f.uri):
            self._open_local()

    def _open_local(self) -> None:
        f = self.f
        real = resolve_local(f.uri)
        reason = outside(f.uri, allowed_locations())
        if reason:
            raise PermanentStorageError(f"cannot read {reason}")
        try:
            self.fd = os.open(real, os.O_RDONLY)
        except OSError as exc:
            raise classify(f"read {f.uri}", exc) from exc
        self.real = real
        st = os.fstat(self.fd)
        expected = f.file_size if f.is_split else f.size
        changes = []
        if st.st_size != expected:
            changes.append(f"{expected:,} bytes planned, {st.st_size:,} now")
        if f.mtime_ns is not None and st.st_mtime_ns != f.mtime_ns:
            changes.append("modified since")
        if changes:
            self.close()
            raise InputChangedError(f"{f.uri} changed since the job was planned ({', '.join(changes)}); "
                                    "run the job again to plan it anew")

    def read_range(self, uri: str, start: int, end: int) -> bytes:
        if self.fd is None:
            return self.storage.read_range(uri, start, end, etag=self.f.etag)
        return os.pread(self.fd, max(0, end - start), start)

    def copy_range(self, uri: str, start: int, end: int, out) -> None:
        if self.fd is None:
            self.storage.copy_range(uri, start, end, out, etag=self.f.etag)
            return
        copy_fd_range(self.fd, start, end, out)

    def stage_whole(self, local: str) -> None:
        """The whole file at ``local``: a hard link to the opened file when the filesystem
        allows it (no copy), else a copy of it."""
        if self.fd is None:
            self.storage.download(self.f.uri, local, etag=self.f.etag)
            return
        try:
            os.link(self.real, local)
            if os.stat(local).st_ino == os.fstat(self.fd).st_ino:
                return
            os.unlink(local)   # the path was swapped between open and link: copy what was checked
        except OSError:
            pass
        with open(local, "wb") as out:
            self.copy_range(self.f.uri, 0, os.fstat(self.fd).st_size, out)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "PinnedInput":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


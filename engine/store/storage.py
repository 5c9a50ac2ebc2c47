"""One interface over local files and S3.

Callers speak in URIs (``s3://bucket/key`` or a local path) and never care which
transport serves them. The *layout* of a job's files is not decided here; see
:mod:`engine.job.layout`. This module must stay importable without pyspark (the
coordinator Lambda is a small zip function).
"""

from __future__ import annotations

from .local_files import LocalFiles
from .locations import within
from .s3_files import S3Files
from .uris import FileInfo, Glob, is_s3


class Storage:
    """Dispatches each URI to the local filesystem or S3."""

    def __init__(self, s3_client=None):
        self.local = LocalFiles()
        self.s3 = S3Files(s3_client)

    def _for(self, uri: str):
        return self.s3 if is_s3(uri) else self.local

    def stat(self, uri: str) -> FileInfo | None:
        return self._for(uri).stat(uri)

    def exists(self, uri: str) -> bool:
        return self.stat(uri) is not None

    def list(self, prefix: str, pattern: str | None = None) -> list[FileInfo]:
        """Every file under ``prefix``; ``pattern`` is a glob on the path below it."""
        files = list(self._for(prefix).list(prefix))
        if pattern:
            base, glob = prefix.rstrip("/") + "/", Glob(pattern)
            files = [f for f in files if glob.match(f.uri[len(base):])]
        return files

    def read_bytes(self, uri: str) -> bytes:
        return self._for(uri).read_bytes(uri)

    def read_range(self, uri: str, start: int, end: int, etag: str | None = None) -> bytes:
        """Bytes [start, end) of a file or object (fewer at its end); with ``etag``, of that
        version of an S3 object only (InputChangedError otherwise; engine/store/pinned.py)."""
        if etag and is_s3(uri):
            return self.s3.read_range(uri, start, end, etag)
        return self._for(uri).read_range(uri, start, end)

    def copy_range(self, uri: str, start: int, end: int, out, etag: str | None = None) -> None:
        """Write bytes [start, end) of a file or object into the open binary file ``out``."""
        if etag and is_s3(uri):
            self.s3.copy_range(uri, start, end, out, etag)
        else:
            self._for(uri).copy_range(uri, start, end, out)

    def read_text(self, uri: str) -> str:
        return self.read_bytes(uri).decode("utf-8")

    def write_bytes(self, uri: str, data: bytes) -> None:
        self._for(uri).write_bytes(uri, data)

    def write_text(self, uri: str, text: str) -> None:
        self.write_bytes(uri, text.encode("utf-8"))

    def download(self, uri: str, local_path: str, etag: str | None = None) -> None:
        if etag and is_s3(uri):
            self.s3.download(uri, local_path, etag)
        else:
            self._for(uri).download(uri, local_path)

    def upload(self, local_path: str, uri: str) -> None:
        self._for(uri).upload(local_path, uri)

    def copy(self, src: str, dst: str) -> None:
        """Copy within one transport (S3 server-side), or across them via local disk."""
        if is_s3(src) == is_s3(dst):
            self._for(src).copy(src, dst)
        elif is_s3(src):
            self.s3.download(src, dst)
        else:
            self.s3.upload(src, dst)

    def create(self, uri: str, data: bytes | str) -> None:
        """Write ``uri`` only if it does not exist yet: the first writer wins, a later one
        gets CommitConflict. S3 If-None-Match locally an exclusive hard link."""
        self._for(uri).create(uri, data.encode("utf-8") if isinstance(data, str) else data)

    def delete(self, uri: str) -> None:
        self._for(uri).delete(uri)

    def delete_many(self, uris: list[str]) -> None:
        """Delete exactly these files or objects (S3: in batches, each failure raised)."""
        for transport in (self.local, self.s3):
            mine = [u for u in uris if self._for(u) is transport]
            if mine:
                transport.delete_many(mine)

    def delete_prefix(self, prefix: str, owner: str) -> None:
        """Delete everything under a folder the engine owns: ``prefix`` must end in '/' (so
        ``jobs/a-1/`` never takes ``jobs/a-1-x/`` along) and lie inside ``owner``, the
        job's own folder."""
        if not prefix.endswith("/") or not owner.endswith("/") or not within(prefix, owner):
            raise ValueError(f"refusing to delete {prefix!r}: not a folder inside {owner!r}")
        self._for(prefix).delete_prefix(prefix)

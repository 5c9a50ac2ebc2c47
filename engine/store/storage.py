"""One interface over local files and S3.

Callers speak in URIs (``s3://bucket/key`` or a local path) and never care which
transport serves them. The *layout* of a job's files is not decided here; see
:mod:`engine.job.layout`. This module must stay importable without pyspark (the
coordinator Lambda is a small zip function).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import CommitConflict, PermanentStorageError, StorageError
from .locations import S3_SCHEME, quote, within

# S3 error codes that every attempt would hit again. Anything else that S3 answers with a
# 4xx is permanent too; throttling (SlowDown, 503), timeouts and 5xx are retried.
_PERMANENT_CODES = {"AccessDenied", "AllAccessDisabled", "NoSuchBucket", "NoSuchKey", "NotFound",
                    "404", "403", "InvalidObjectState", "InvalidBucketName", "InvalidAccessKeyId",
                    "SignatureDoesNotMatch", "AccountProblem", "InvalidRequest", "InvalidArgument",
                    "MethodNotAllowed", "KMS.AccessDeniedException", "ExpiredToken", "InvalidToken"}
_RETRYABLE_CODES = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout",
                    "Throttling", "ThrottlingException", "RequestTimeTooSkewed", "503", "500",
                    "ConditionalRequestConflict"}


def classify(what: str, exc: BaseException) -> StorageError:
    """The engine's error for a failed storage call: permanent or retryable, by what it means."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        permanent = code in _PERMANENT_CODES or (
            code not in _RETRYABLE_CODES and 400 <= status < 500 and status not in (408, 429))
    elif isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)):
        permanent = True
    else:   # connection resets, timeouts, a full disk: another attempt may do better
        permanent = False
    return (PermanentStorageError if permanent else StorageError)(f"cannot {what}: {exc}")


def _precondition_failed(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in (
        "PreconditionFailed", "412")


def is_s3(uri: str) -> bool:
    return uri.startswith(S3_SCHEME)


def split_s3(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``."""
    bucket, _, key = uri[len(S3_SCHEME):].partition("/")
    if not bucket:
        raise PermanentStorageError(f"{uri!r} names no bucket")
    return bucket, key


def join(base: str, *parts: str) -> str:
    """Join path segments onto a local path or an S3 URI with ``/``."""
    out = base.rstrip("/") if base not in ("/", S3_SCHEME) else base
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


def s3_uri(bucket: str, key: str = "") -> str:
    """The one place ``s3://`` URIs are built: ``s3://bucket`` or ``s3://bucket/key``."""
    return f"{S3_SCHEME}{bucket}/{key}" if key else f"{S3_SCHEME}{bucket}"


def s3_root(uri: str) -> str:
    """``s3://bucket/a/b`` -> ``s3://bucket``."""
    return s3_uri(split_s3(uri)[0])


def basename(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def glob_regex(pattern: str) -> re.Pattern:
    """A path glob: ``*`` and ``?`` stay within one folder, ``**/`` spans any folders."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape("["))
                i += 1
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                out.append(f"[^{body[1:]}]" if body.startswith("!") else f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a usable glob below a prefix, or None."""
    if not pattern or len(pattern) > 1024:
        return "must be 1 to 1,024 characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in pattern):
        return f"{quote(pattern)} contains a control character"
    if pattern.startswith("/") or ".." in pattern.split("/"):
        return f"{quote(pattern)} must stay below the prefix (no leading '/', no '..')"
    try:
        glob_regex(pattern)
    except re.error as exc:
        return f"{quote(pattern)} is not a valid glob: {exc}"
    return None


@dataclass(frozen=True)
class FileInfo:
    uri: str
    size: int
    etag: str | None = None
    is_dir: bool = False
    mtime_ns: int | None = None   # local files: with the size, what says the file changed


def _copy(src, out, length: int, chunk: int = 1 << 20) -> None:
    while length > 0:
        data = src.read(min(chunk, length))
        if not data:
            return
        out.write(data)
        length -= len(data)


class LocalFiles:
    """The local filesystem. Writes go through a temp file + rename, so a reader never
    sees a half-written file."""

    def stat(self, uri: str) -> FileInfo | None:
        try:
            st = os.stat(uri)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise classify(f"stat {uri}", exc) from exc
        is_dir = os.path.isdir(uri)
        return FileInfo(uri, 0 if is_dir else st.st_size, None, is_dir, None if is_dir else st.st_mtime_ns)

    def list(self, prefix: str) -> Iterator[FileInfo]:
        root = Path(prefix)
        if root.is_file():
            st = root.stat()
            yield FileInfo(str(root), st.st_size, mtime_ns=st.st_mtime_ns)
            return
        if not root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                st = os.stat(path)
                yield FileInfo(path, st.st_size, mtime_ns=st.st_mtime_ns)

    def read_bytes(self, uri: str) -> bytes:
        try:
            return Path(uri).read_bytes()
        except OSError as exc:
            raise classify(f"read {uri}", exc) from exc

    def read_range(self, uri: str, start: int, end: int) -> bytes:
        try:
            with open(uri, "rb") as fh:
                fh.seek(start)
                return fh.read(max(0, end - start))
        except OSError as exc:
            raise classify(f"read {uri}", exc) from exc

    def copy_range(self, uri: str, start: int, end: int, out) -> None:
        # In the kernel (copy_file_range): staging a 2 GB file's splits took 7.2 s through
        # Python's buffers, 2.5 s this way.
        at, left = start, end - start
        try:
            with open(uri, "rb") as fh:
                out.flush()
                try:
                    while left > 0:
                        copied = os.copy_file_range(fh.fileno(), out.fileno(), left, at)
                        if copied == 0:
                            return
                        at, left = at + copied, left - copied
                except OSError:   # not on this filesystem: through Python
                    fh.seek(at)
                    _copy(fh, out, left)
        except OSError as exc:
            raise classify(f"read {uri}", exc) from exc

    def create(self, uri: str, data: bytes) -> None:
        """Write ``uri`` only if it does not exist (CommitConflict if it does): the temp
        file is hard-linked into place, which fails if the name is taken."""
        try:
            self._put(uri, data, os.link)
        except FileExistsError:
            raise CommitConflict(f"{uri} exists") from None

    def write_bytes(self, uri: str, data: bytes) -> None:
        self._put(uri, data, os.replace)

    @staticmethod
    def _put(uri: str, data: bytes, place) -> None:
        """Write to a temp file beside ``uri``, then ``place(temp, uri)``: a reader never
        sees a half-written file."""
        path = Path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            place(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)   # gone already after a replace

    def download(self, uri: str, local_path: str) -> None:
        Path(local_path).parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(uri, local_path)
        except OSError as exc:
            raise classify(f"read {uri}", exc) from exc

    def upload(self, local_path: str, uri: str) -> None:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
        tmp = f"{uri}.uploading"
        shutil.copyfile(local_path, tmp)
        os.replace(tmp, uri)

    def copy(self, src: str, dst: str) -> None:
        self.upload(src, dst)

    def delete(self, uri: str) -> None:
        Path(uri).unlink(missing_ok=True)

    def delete_many(self, uris: list[str]) -> None:
        for uri in uris:
            self.delete(uri)

    def delete_prefix(self, prefix: str) -> None:
        if os.path.isdir(prefix):
            shutil.rmtree(prefix)


class S3Files:
    """S3 (or any S3-compatible endpoint) through a boto3 client.

    The client is passed in, or built from the environment on first use, so
    AWS_ENDPOINT_URL / AWS_PROFILE / AWS_REGION apply as they do for the AWS CLI.
    """

    def __init__(self, client=None):
        self._client = client

    @property
    def client(self):
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def _call(self, what: str, uri: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # botocore raises many unrelated classes
            raise classify(f"{what} {uri}", exc) from exc

    def stat(self, uri: str) -> FileInfo | None:
        bucket, key = split_s3(uri)
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                if key and any(True for _ in self.list(join(uri, ""), limit=1)):
                    return FileInfo(uri, 0, None, is_dir=True)
                return None
            raise classify(f"stat {uri}", exc) from exc
        except Exception as exc:
            raise classify(f"stat {uri}", exc) from exc
        return FileInfo(uri, head["ContentLength"], head.get("ETag", "").strip('"'))

    def list(self, prefix: str, limit: int | None = None) -> Iterator[FileInfo]:
        bucket, key = split_s3(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        seen = 0
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=key):
                for obj in page.get("Contents", []):
                    if obj["Key"].endswith("/"):
                        continue  # "folder" placeholder objects
                    yield FileInfo(s3_uri(bucket, obj["Key"]), obj["Size"],
                                   obj.get("ETag", "").strip('"'))
                    seen += 1
                    if limit is not None and seen >= limit:
                        return
        except StorageError:
            raise
        except Exception as exc:
            raise classify(f"list {prefix}", exc) from exc

    def read_bytes(self, uri: str) -> bytes:
        bucket, key = split_s3(uri)
        body = self._call("read", uri, self.client.get_object, Bucket=bucket, Key=key)["Body"]
        return body.read()

    def read_range(self, uri: str, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        bucket, key = split_s3(uri)
        return self._call("read", uri, self.client.get_object, Bucket=bucket, Key=key,
                          Range=f"bytes={start}-{end - 1}")["Body"].read()

    def copy_range(self, uri: str, start: int, end: int, out) -> None:
        """One ranged GET, streamed into ``out``: a split never holds its range in memory."""
        if end <= start:
            return
        bucket, key = split_s3(uri)
        body = self._call("read", uri, self.client.get_object, Bucket=bucket, Key=key,
                          Range=f"bytes={start}-{end - 1}")["Body"]
        try:
            _copy(body, out, end - start)
        except Exception as exc:
            raise classify(f"read {uri}", exc) from exc

    def write_bytes(self, uri: str, data: bytes) -> None:
        bucket, key = split_s3(uri)
        self._call("write", uri, self.client.put_object, Bucket=bucket, Key=key, Body=data)

    def read_versioned(self, uri: str) -> tuple[bytes, str] | None:
        """(content, ETag), or None when there is no such object."""
        bucket, key = split_s3(uri)
        try:
            got = self.client.get_object(Bucket=bucket, Key=key)
            return got["Body"].read(), got["ETag"]
        except Exception as exc:
            error = classify(f"read {uri}", exc)
            if isinstance(error, PermanentStorageError) and "NoSuchKey" in str(exc):
                return None
            raise error from exc

    def create(self, uri: str, data: bytes) -> None:
        """Write only if no object has the key (S3 If-None-Match: *): CommitConflict if one does."""
        self._conditional(uri, data, IfNoneMatch="*")

    def replace(self, uri: str, data: bytes, etag: str) -> None:
        """Overwrite only the version with ``etag`` (S3 If-Match): CommitConflict if it changed."""
        self._conditional(uri, data, IfMatch=etag)

    def _conditional(self, uri: str, data: bytes, **condition) -> None:
        bucket, key = split_s3(uri)
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=data, **condition)
        except Exception as exc:
            if _precondition_failed(exc):
                raise CommitConflict(f"{uri} was written by another writer first") from None
            raise classify(f"write {uri}", exc) from exc

    def download(self, uri: str, local_path: str) -> None:
        bucket, key = split_s3(uri)
        Path(local_path).parent.mkdir(parents=True, exist_ok=True)
        self._call("download", uri, self.client.download_file, bucket, key, local_path)

    def upload(self, local_path: str, uri: str) -> None:
        bucket, key = split_s3(uri)
        self._call("upload to", uri, self.client.upload_file, local_path, bucket, key)

    def copy(self, src: str, dst: str) -> None:
        sb, sk = split_s3(src)
        db, dk = split_s3(dst)
        self._call("copy to", dst, self.client.copy, {"Bucket": sb, "Key": sk}, db, dk)

    def delete(self, uri: str) -> None:
        bucket, key = split_s3(uri)
        self._call("delete", uri, self.client.delete_object, Bucket=bucket, Key=key)

    def delete_many(self, uris: list[str]) -> None:
        """Delete these exact objects, 1,000 a request; every per-key failure is raised."""
        by_bucket: dict[str, list[str]] = {}
        for uri in uris:
            bucket, key = split_s3(uri)
            by_bucket.setdefault(bucket, []).append(key)
        for bucket, keys in by_bucket.items():
            for start in range(0, len(keys), 1000):  # DeleteObjects takes 1,000 keys a call
                chunk = [{"Key": k} for k in keys[start:start + 1000]]
                where = s3_uri(bucket, chunk[0]["Key"])
                done = self._call("delete", where, self.client.delete_objects,
                                  Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
                errors = done.get("Errors") or []
                if errors:
                    first = errors[0]
                    raise StorageError(f"cannot delete {len(errors)} object(s), first "
                                       f"{s3_uri(bucket, first.get('Key', ''))}: {first.get('Code')} "
                                       f"{first.get('Message', '')}".rstrip())

    def delete_prefix(self, prefix: str) -> None:
        self.delete_many([f.uri for f in self.list(prefix)])


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
            base, regex = prefix.rstrip("/") + "/", glob_regex(pattern)
            files = [f for f in files if regex.match(f.uri[len(base):])]
        return files

    def read_bytes(self, uri: str) -> bytes:
        return self._for(uri).read_bytes(uri)

    def read_range(self, uri: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of a file or object (fewer at its end)."""
        return self._for(uri).read_range(uri, start, end)

    def copy_range(self, uri: str, start: int, end: int, out) -> None:
        """Write bytes [start, end) of a file or object into the open binary file ``out``."""
        self._for(uri).copy_range(uri, start, end, out)

    def read_text(self, uri: str) -> str:
        return self.read_bytes(uri).decode("utf-8")

    def write_bytes(self, uri: str, data: bytes) -> None:
        self._for(uri).write_bytes(uri, data)

    def write_text(self, uri: str, text: str) -> None:
        self.write_bytes(uri, text.encode("utf-8"))

    def download(self, uri: str, local_path: str) -> None:
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

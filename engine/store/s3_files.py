"""S3 (or an S3-compatible endpoint) behind :class:`engine.store.storage.Storage`."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..errors import CommitConflict, InputChangedError, PermanentStorageError, StorageError
from .failures import classify, precondition_failed
from .local_files import copy_stream
from .uris import FileInfo, join, s3_uri, split_s3


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

    def _read_call(self, what: str, uri: str, etag: str | None, fn, *args, **kwargs):
        """A read conditional on ``etag`` (S3 If-Match) when given: InputChangedError if
        the object is another version now."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if etag and precondition_failed(exc):
                raise InputChangedError(f"{uri} changed since the job was planned (its ETag is no longer "
                                        f"{etag}); run the job again to plan it anew") from None
            raise classify(f"{what} {uri}", exc) from exc

    def read_range(self, uri: str, start: int, end: int, etag: str | None = None) -> bytes:
        if end <= start:
            return b""
        bucket, key = split_s3(uri)
        return self._read_call("read", uri, etag, self.client.get_object, Bucket=bucket, Key=key,
                               Range=f"bytes={start}-{end - 1}", **_if_match(etag))["Body"].read()

    def copy_range(self, uri: str, start: int, end: int, out, etag: str | None = None) -> None:
        """One ranged GET, streamed into ``out``: a split never holds its range in memory."""
        if end <= start:
            return
        bucket, key = split_s3(uri)
        body = self._read_call("read", uri, etag, self.client.get_object, Bucket=bucket, Key=key,
                               Range=f"bytes={start}-{end - 1}", **_if_match(etag))["Body"]
        try:
            copy_stream(body, out, end - start)
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
            if precondition_failed(exc):
                raise CommitConflict(f"{uri} was written by another writer first") from None
            raise classify(f"write {uri}", exc) from exc

    def download(self, uri: str, local_path: str, etag: str | None = None) -> None:
        """boto3's parallel transfer; with ``etag``, one GET conditional on it, streamed to
        disk (the transfer manager takes no If-Match), as a split's range is."""
        bucket, key = split_s3(uri)
        Path(local_path).parent.mkdir(parents=True, exist_ok=True)
        if not etag:
            self._call("download", uri, self.client.download_file, bucket, key, local_path)
            return
        got = self._read_call("download", uri, etag, self.client.get_object, Bucket=bucket, Key=key,
                              **_if_match(etag))
        try:
            with open(local_path, "wb") as out:
                copy_stream(got["Body"], out, got["ContentLength"])
        except Exception as exc:
            raise classify(f"download {uri}", exc) from exc

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


def _if_match(etag: str | None) -> dict:
    return {"IfMatch": etag if etag.startswith('"') else f'"{etag}"'} if etag else {}

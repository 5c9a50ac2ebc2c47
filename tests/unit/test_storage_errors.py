"""Storage errors are classified by what they mean: permanent ones are never retried."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from engine.errors import PermanentStorageError, StorageError, is_retryable
from engine.store.failures import classify


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")


@pytest.mark.parametrize("code, status", [
    ("AccessDenied", 403), ("NoSuchBucket", 404), ("NoSuchKey", 404), ("InvalidObjectState", 403),
    ("404", 404), ("403", 403), ("InvalidAccessKeyId", 403), ("SomethingNew", 400)])
def test_permanent_s3_errors_are_never_retried(code, status):
    error = classify("read s3://b/k", client_error(code, status))
    assert type(error) is PermanentStorageError and not is_retryable(type(error).__name__)
    assert "s3://b/k" in str(error)


@pytest.mark.parametrize("exc", [
    client_error("SlowDown", 503), client_error("ServiceUnavailable", 503), client_error("InternalError", 500),
    client_error("RequestTimeout", 400), client_error("Throttling", 400), client_error("Unknown5xx", 502),
    client_error("TooManyRequests", 429),
    EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), ConnectTimeoutError(endpoint_url="http://x"),
    ConnectionResetError("reset")])
def test_throttling_timeouts_and_5xx_are_retried(exc):
    error = classify("read s3://b/k", exc)
    assert type(error) is StorageError and is_retryable(type(error).__name__)


def test_a_missing_local_file_is_permanent():
    assert type(classify("read /nope", FileNotFoundError(2, "No such file"))) is PermanentStorageError


def test_a_marker_listing_anything_but_plain_file_names_is_not_lmrs():
    """Replacing an output deletes the names its _SUCCESS lists: a name with a folder in it
    (or '..') could reach elsewhere, so such a marker is treated as someone else's."""
    import json

    from engine.store.publish import PUBLISHER, parse_marker

    def marker(*files):
        return json.dumps({"published_by": PUBLISHER, "files": list(files)})

    assert parse_marker(marker("part-0.csv", "t00001-part-1.parquet"))["files"] == [
        "part-0.csv", "t00001-part-1.parquet"]
    for bad in ("../inputs/a.txt", "/etc/passwd", "sub/part-0.csv", "..", "", "a\nb"):
        assert parse_marker(marker("part-0.csv", bad)) is None, bad
    assert parse_marker(json.dumps({"files": ["part-0.csv"]})) is None       # not written by lmr
    assert parse_marker(b"") is None                                          # Spark's empty _SUCCESS

"""What a failed storage call means: permanent (every attempt would hit it again) or
retryable, from S3's error codes or the local OS error. Importable without pyspark."""

from __future__ import annotations

from ..errors import PermanentStorageError, StorageError

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


def precondition_failed(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in (
        "PreconditionFailed", "412")

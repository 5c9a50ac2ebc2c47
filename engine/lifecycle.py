"""A job's lifecycle rules that the local runner and the Lambda handlers share.

For now: when a failed task is tried again. The same rule decides locally (the runner's
retry loop) and on AWS (the handler, told its attempt number by the state machine), so
the manifest's ``retries`` means the same everywhere. Importable without pyspark.
"""

from __future__ import annotations

from .errors import RetriesExhaustedError, is_retryable


def may_retry(error_type: str, attempt: int, retries: int) -> bool:
    """Whether attempt number ``attempt`` (1 = the first), which failed with
    ``error_type``, gets another: only for a retryable error, ``retries`` times at most."""
    return is_retryable(error_type) and attempt <= retries


def final_error(exc: BaseException, attempt: int, retries: int) -> BaseException:
    """The error a failed attempt reports: ``exc`` itself while another attempt may follow
    (or when it is permanent anyway), else a permanent :class:`RetriesExhaustedError`
    naming it, so that no retrier (the state machine's included) tries again."""
    error_type = type(exc).__name__
    if not is_retryable(error_type) or may_retry(error_type, attempt, retries):
        return exc
    return RetriesExhaustedError(f"{error_type} on attempt {attempt} of {retries + 1} "
                                 f"(the job's retries: {retries}): {exc}")

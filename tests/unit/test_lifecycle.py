"""The retry rule that the local runner and the Lambda handlers share."""

from __future__ import annotations

from engine.errors import RetriesExhaustedError, StorageError, UserCodeError
from engine.lifecycle import final_error, may_retry


def test_a_retryable_error_is_retried_as_many_times_as_the_manifest_says():
    assert [may_retry("StorageError", attempt, retries=2) for attempt in (1, 2, 3)] == [True, True, False]
    assert not may_retry("StorageError", 1, retries=0)
    assert not may_retry("UserCodeError", 1, retries=5)       # permanent: never


def test_the_last_attempts_retryable_error_becomes_permanent_and_names_the_original():
    error = StorageError("SlowDown on s3://b/k")
    assert final_error(error, attempt=1, retries=1) is error   # another attempt follows
    last = final_error(error, attempt=2, retries=1)
    assert type(last) is RetriesExhaustedError
    assert str(last) == "StorageError on attempt 2 of 2 (the job's retries: 1): SlowDown on s3://b/k"
    permanent = UserCodeError("boom")
    assert final_error(permanent, attempt=9, retries=1) is permanent

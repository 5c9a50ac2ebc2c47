"""The retry rule that the local runner and the Lambda handlers share."""

from __future__ import annotations

from engine.errors import RetriesExhaustedError, StorageError, UserCodeError
from engine.job.lifecycle import final_error, may_retry


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


def _status(state: str, runs: int):
    from engine.job.status import JobStatus

    return JobStatus(job_id="j", name="j", mode="MAPPER_AND_REDUCER", state=state, tasks_total=1,
                     tasks_succeeded=0, tasks_failed=0, rows_in=0, rows_out=0, rejected=0, bytes_in=0,
                     output="/o", started_at=0.0, finished_at=0.0,
                     runs=[{"run": n, "state": state} for n in range(1, runs + 1)])


def test_what_submitting_a_job_that_ran_before_does():
    from engine.job.lifecycle import decide_start

    cases = [
        (None, None, ("new", 1)),
        (_status("SUCCEEDED", 2), None, ("done", 2)),         # not recomputed
        (_status("PARTIAL", 1), None, ("resume", 2)),         # a new run keeps committed tasks
        (_status("FAILED", 3), None, ("resume", 4)),
        (_status("RUNNING", 1), True, ("alive", 1)),          # never started twice
        (_status("RUNNING", 1), False, ("resume", 2)),        # its run died
        (_status("RUNNING", 2), None, ("resume", 2)),         # its run never started: start it
    ]
    for previous, alive, expected in cases:
        start = decide_start(previous, run_alive=alive)
        assert (start.action, start.run) == expected, (previous and previous.state, alive)

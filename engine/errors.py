"""The engine's error hierarchy.

Class names are part of the contract: Lambda reports an exception's class name as
``errorType`` and the state machine's Retry/Catch match on it. Rename nothing lightly.
"""

from __future__ import annotations

from dataclasses import dataclass


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a manifest or a plan: where, and why."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class ProblemsError(EngineError):
    """An error that carries every problem found, not only the first."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(f"{source}: {count} problem{'s' * (count != 1)}\n{lines}")


class ManifestError(ProblemsError):
    """The job spec is malformed: not parseable, wrong fields or values."""


class PlanError(ProblemsError):
    """The spec is well formed but its inputs cannot be planned (missing files ...)."""


class StorageError(EngineError):
    """Reading or writing local files or S3 failed in a way another attempt may not
    (throttling, a timeout, a 5xx). Retryable."""


class PermanentStorageError(StorageError):
    """Reading or writing failed in a way every attempt would: access denied, no such
    bucket or key, an archived object. Never retried; the message names the URI."""


class CommitConflict(EngineError):
    """A conditional write lost: another writer created or changed the object first.
    The engine handles it (the first committer wins); it never reaches a task's caller."""


class InputChangedError(EngineError):
    """An input is not what the job was planned on: another ETag, size or mtime, or a
    local path that now resolves elsewhere. Permanent for this run; the next run plans
    the inputs anew. The message names the file."""


class UserCodeError(EngineError):
    """The user's Mapper or Reducer raised. Permanent: retrying runs the same code."""


class RejectedRecordsError(EngineError):
    """A task rejected more records than the job's max_rejected_ratio allows. Permanent."""


class DestinationError(EngineError):
    """The output folder holds files lmr did not publish there, or another job published
    to it at the same moment. Permanent: nothing of the destination was deleted."""


class PartitionError(EngineError):
    """With R > 1 reducers: a reduce task's or the publish step's view of the job's map
    commits is not the one its round was planned on, or a reduce task has not committed.
    Permanent: the next run plans a new round."""


class RetriesExhaustedError(EngineError):
    """A retryable error on the last attempt the job's ``retries`` allow. Permanent: the
    message names the original error and the attempt."""


class MemoryLimitError(EngineError):
    """The task's Spark JVM was killed (SIGKILL: the kernel's out-of-memory killer, which
    enforces a Lambda function's MemorySize). The message names the task, the memory and
    the setting to raise. Retried: a fresh container may have room the warm one lacked."""


class PlatformError(EngineError):
    """The function's environment cannot run a task at all (a setting of the function, not
    of the job or its code): e.g. a /tmp that forbids executing what Spark extracts there.
    Permanent; the message names the setting."""


class RetryableTaskError(EngineError):
    """A task hit a platform error (JVM, I/O, network) that another attempt may not hit.

    The state machine retries this name; its message carries the original error.
    """


# Errors that the same attempt would hit again: retrying them only wastes time and money.
PERMANENT_ERRORS = ("ManifestError", "PlanError", "UserCodeError", "InputChangedError",
                    "RejectedRecordsError", "PermanentStorageError", "DestinationError",
                    "PartitionError", "RetriesExhaustedError", "PlatformError")
# What the engine raises when another attempt may succeed. The state machine's Retry lists
# name exactly these (tests/infra checks it); locally any error not permanent is retried.
RETRYABLE_ERRORS = ("RetryableTaskError", "StorageError", "MemoryLimitError")


def is_retryable(error_type: str) -> bool:
    return error_type not in PERMANENT_ERRORS


def first_line(text: str) -> str:
    """An error's first line with text on it: what a one-line message shows of it."""
    return next((line for line in text.splitlines() if line.strip()), "")


def error_to_dict(exc: BaseException) -> dict:
    """JSON form of an error, as Lambda would report it (never pickled)."""
    return {"errorType": type(exc).__name__, "errorMessage": str(exc)}

"""Logs: structured lines from our code, one log per task.

Every line the engine writes is JSON with ``job_id``, ``task_id`` and ``input`` when it
concerns a task (powertools' Logger does the same on Lambda). Locally a worker process
sends its stdout, stderr and Spark's JVM output to one worker log; each task's slice of
it (user prints, Spark warnings, our lines) is appended to ``jobs/<id>/logs/<task>.log``.
"""

from __future__ import annotations

import json
import logging
import time

from .job.layout import JobLayout
from .store.storage import Storage

TASK_FIELDS = ("job_id", "task_id", "input")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        line.update({k: getattr(record, k) for k in TASK_FIELDS if hasattr(record, k)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def quiet_spark_loggers() -> None:
    """py4j's and pyspark's Python loggers: warnings only."""
    for name in ("py4j", "pyspark"):
        logging.getLogger(name).setLevel(logging.WARNING)


def append_task_log(storage: Storage, work_dir: str, job_id: str, task_id: str, text: str,
                    header: str) -> str:
    """Add one attempt's output to the task's log (read, extend, write: works on S3 too)."""
    uri = JobLayout(work_dir, job_id).task_log(task_id)
    before = storage.read_text(uri) if storage.exists(uri) else ""
    storage.write_text(uri, f"{before}--- {header} ---\n{text}")
    return uri


def read_task_logs(storage: Storage, work_dir: str, job_id: str, task_ids: list[str]) -> dict[str, str]:
    """task_id -> its log text ('' if it wrote none)."""
    layout = JobLayout(work_dir, job_id)
    return {t: storage.read_text(layout.task_log(t)) if storage.exists(layout.task_log(t)) else ""
            for t in task_ids}


def condensed(text: str) -> str:
    """A task log with each Java stack trace cut to its first line: the ``\tat ...`` frames,
    ``... N more`` and ``Caused by`` lines of a trace become one line counting them (the
    user's Python error is in the lines around them and in the task's failure)."""
    out: list[str] = []
    skipped = 0
    for line in text.splitlines():
        if line.startswith("\t") or line.startswith("Caused by: "):
            skipped += 1
            continue
        if skipped:
            out.append(f"\t... {skipped} lines of Java stack trace (--full shows them)")
            skipped = 0
        out.append(line)
    if skipped:
        out.append(f"\t... {skipped} lines of Java stack trace (--full shows them)")
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")

"""Reducer Lambda (image with Spark): reduces every committed map output of a job, or with
R > 1 reducers one partition of it (``{job_id, job, round, partition, partitions}``)."""

from __future__ import annotations

from engine.job.layout import reduce_task_id
from engine.task.entry import reduce_event
from lambdas._shared import logger, metrics, record_metrics, storage


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context) -> dict:
    logger.append_keys(job_id=event["job_id"], task_id=reduce_task_id(event.get("partition")))
    result = reduce_event(event, storage())
    record_metrics(result)
    logger.info("reduce done", extra={"status": result["status"], "rows_out": result["rows_out"]})
    return result

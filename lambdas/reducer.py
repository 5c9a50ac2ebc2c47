"""Reducer Lambda (image with Spark): reduces every committed map output of a job."""

from __future__ import annotations

from engine.worker import reduce_event
from lambdas._shared import logger, metrics, record_metrics, storage


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context) -> dict:
    logger.append_keys(job_id=event["job_id"], task_id="reduce")
    result = reduce_event(event, storage())
    record_metrics(result)
    logger.info("reduce done", extra={"status": result["status"], "rows_out": result["rows_out"]})
    return result

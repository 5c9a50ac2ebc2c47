"""Mapper Lambda (image with Spark): one map task per invocation. A warm container keeps
its SparkSession (engine.spark.session holds it module-globally); the JVM heap follows the
function's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE)."""

from __future__ import annotations

from engine.task.entry import map_event
from lambdas._shared import logger, metrics, record_metrics, storage


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context) -> dict:
    logger.append_keys(job_id=event["job_id"], task_id=event["task_id"],
                       input=[f["uri"] for f in event["inputs"]])
    result = map_event(event, storage())
    record_metrics(result)
    logger.info("map task done", extra={"status": result["status"], "rows_out": result["rows_out"]})
    return result

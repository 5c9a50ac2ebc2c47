"""What every handler shares: a structured logger, EMF metrics, one Storage per container."""

from __future__ import annotations

import logging
from functools import cache

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

from engine.store.storage import Storage

SERVICE = "lambda-mr"
NAMESPACE = "LambdaMR"

logger = Logger(service=SERVICE)
# The engine's own loggers ("lmr.*") write through powertools' JSON formatter, so their
# lines carry the same job_id / task_id / input keys. Spark's py4j chatter: warnings only.
copy_config_to_registered_loggers(source_logger=logger, include={"lmr", "engine"})
logging.getLogger("py4j").setLevel(logging.WARNING)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


@cache
def storage() -> Storage:
    return Storage()


def record_metrics(result: dict) -> None:
    """EMF metrics for a task or reduce result."""
    for key, name, unit in (("rows_in", "RowsIn", MetricUnit.Count), ("rows_out", "RowsOut", MetricUnit.Count),
                            ("rejected", "RejectedRecords", MetricUnit.Count),
                            ("bytes_in", "BytesIn", MetricUnit.Bytes), ("bytes_out", "BytesOut", MetricUnit.Bytes),
                            ("duration_ms", "Duration", MetricUnit.Milliseconds)):
        if key in result:
            metrics.add_metric(name=name, unit=unit, value=result[key])
    if "cold_start" in result:
        metrics.add_metric(name="SparkColdStart", unit=MetricUnit.Count, value=int(bool(result["cold_start"])))

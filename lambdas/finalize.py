"""Finalize Lambda (zip): writes status.json; the engine decides SUCCEEDED/PARTIAL/FAILED."""

from __future__ import annotations

from engine.stack.functions import finalize_event
from lambdas._shared import logger, storage


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context) -> dict:
    logger.append_keys(job_id=event["job_id"])
    status = finalize_event(event, storage())
    logger.info("job finished", extra={"state": status["state"]})
    return status

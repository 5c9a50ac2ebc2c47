"""Finalize Lambda (zip): writes status.json; the engine decides SUCCEEDED/PARTIAL/FAILED.
With R > 1 reducers it also plans the reduce tasks and publishes their output."""

from __future__ import annotations

from engine.stack.functions import finalize_event, plan_reduce_event
from engine.task.entry import reduce_event
from lambdas._shared import logger, storage

# With R > 1 reducers the state machine calls this function for two more steps, no Spark
# needed: "plan_reduce" (R and the reduce tasks to run) and "publish" (the destination).
STEPS = {"plan_reduce": plan_reduce_event, "publish": reduce_event}


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict, context) -> dict:
    logger.append_keys(job_id=event["job_id"])
    step = event.get("step")
    if step in STEPS:
        result = STEPS[step](event, storage())
        logger.info(f"{step} done")
        return result
    status = finalize_event(event, storage())
    logger.info("job finished", extra={"state": status["state"]})
    return status

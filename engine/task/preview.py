"""What ``lmr validate`` shows of column pruning: the Mapper and Reducer planned over no
rows (Spark starts; nothing is read, no ``setup`` runs)."""

from __future__ import annotations

from ..errors import first_line
from ..interfaces import Mapper, Reducer, TaskContext
from ..job.params import frozen
from ..job.spec import MAPPER_AND_REDUCER, JobSpec
from ..user_code import run_user_frame
from .user import task_logger, user_instance


# What a Mapper reads when it declares no schema, for the formats whose rows are fixed.
_FIXED_SCHEMAS = {"text": "value STRING", "binary": "path STRING, content BINARY"}


def preview_columns(spec: JobSpec) -> tuple[list[str], list[str]] | str:
    """For ``lmr validate``: (the columns map tasks write, those column pruning leaves out),
    or why that cannot be told before a task reads its input. The Mapper and the Reducer
    are planned over no rows (Spark starts; nothing is read, no ``setup`` runs)."""
    from ..spark import session
    from ..spark.pruning import used_columns, written_columns

    if spec.mode != MAPPER_AND_REDUCER:
        return "no reducer reads the mapper's output"
    if spec.cache:
        return "a cached job writes every column (a later job's Reducer may read others)"
    ctx = TaskContext(spec.job_id, "validate", [], task_logger(spec.job_id, "validate", []),
                      params=frozen(spec.params))
    try:
        mapper = user_instance(spec, "mapper", Mapper, ctx, plan_only=True)
        schema = mapper.schema or _FIXED_SCHEMAS.get(mapper.input_format)
        if schema is None:
            return ("the Mapper declares no schema (its schema, or input.schema): each map task's log "
                    "names the columns it did not write")
        with session.jvm_output_discarded():
            spark = session.get_spark(spec.spark_conf)
        mapped = run_user_frame("Mapper.map", mapper.map, spark.createDataFrame([], schema), ctx)
        reducer = user_instance(spec, "reducer", Reducer, ctx, plan_only=True)
        if type(reducer).combine is not Reducer.combine:
            mapped = run_user_frame("Reducer.combine", reducer.combine, mapped, ctx)
        written = written_columns(reducer, mapped.columns, used_columns(spark, reducer, mapped.schema, ctx))
    except Exception as exc:   # noqa: BLE001 - a preview: say why, the job's own checks still run
        return f"could not plan the job over no rows: {first_line(str(exc)) or type(exc).__name__}"
    written = written or mapped.columns
    return written, [c for c in mapped.columns if c not in written]

"""The cost model's arithmetic, checked by hand-worked figures."""

from __future__ import annotations

import pytest

from benchmarks.cost_model import (
    EMR_GB_HOUR,
    EMR_VCPU_HOUR,
    GLUE_DPU_HOUR,
    LAMBDA_GB_S,
    Assumptions,
    Job,
    lambda_tasks,
    on_emr_serverless,
    on_glue,
    on_lambda,
)


def test_tasks_follow_the_planners_packing():
    assert len(lambda_tasks(Job("small", 2000, 0.02))) == 2          # 1,000 files a task at most
    assert len(lambda_tasks(Job("1 MB", 40, 1))) == 1                # 40 MB < 64 MiB
    assert len(lambda_tasks(Job("large", 10, 100))) == 10            # each file above task_bytes


def test_short_jobs_pay_emr_serverless_and_glue_minimum_minute():
    a = Assumptions(emr_workers=2, glue_dpus=3, glue_start_s=0)
    job = Job("tiny", 1, 1)
    assert on_glue(job, a).cost_usd == pytest.approx(60 / 3600 * 3 * GLUE_DPU_HOUR)
    assert on_emr_serverless(job, a).cost_usd == pytest.approx(60 / 3600 * 3 * (4 * EMR_VCPU_HOUR + 16 * EMR_GB_HOUR))


def test_lambda_wall_time_and_gb_seconds_by_hand():
    # 4 files of 100 MB, concurrency 2: two waves. 1,769 MB = 1 vCPU at 10 MB/s: 10 s a task.
    a = Assumptions(mb_s_per_vcpu=10, lambda_memory_mb=1769, cold_s=5, warm_s=1, concurrency=2,
                    intermediate_ratio=0.1)
    est = on_lambda(Job("x", 4, 100), a)
    reduce_s = 5 + 400 * 0.1 / 10
    assert est.wall_s == pytest.approx(5 + 10 + (1 + 10) + reduce_s)
    busy = 4 * 10 + 2 * 5 + 2 * 1 + reduce_s
    requests = (4 + 3) * 0.20 / 1e6                    # map tasks + coordinator, reducer, finalize
    transitions = (4 * 3 + 5) * 0.025 / 1000           # Step Functions Standard
    assert est.cost_usd == pytest.approx(busy * 1769 / 1024 * LAMBDA_GB_S + requests + transitions)


def test_a_task_over_lambdas_15_minutes_is_flagged():
    est = on_lambda(Job("huge", 1, 50_000), Assumptions(mb_s_per_vcpu=10))
    assert "900 s" in est.note

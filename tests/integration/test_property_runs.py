"""Differential, property-based: random inputs, options, code edits and worker kills
between runs of one job (tests/property_runs.py); every run that exits 0 must publish
what plain Python computes over the inputs and code as they were when it started. A small
profile here; ``python -m benchmarks.property_runs`` runs a long one."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from tests.property_runs import Counts, play, scenarios

COUNTS = Counts()


@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenarios())
def test_every_run_that_exits_0_is_right_whatever_changed_or_died(scenario):
    with tempfile.TemporaryDirectory(prefix="lmr-prop-") as tmp:
        play(scenario, Path(tmp), COUNTS)

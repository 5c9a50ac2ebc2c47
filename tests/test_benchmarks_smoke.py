"""`python -m benchmarks --preset quick` runs, its three results agree, and it ends with the
machine-readable ratio line. Timing targets are the benchmark's to report, not asserted."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def test_quick_benchmark_runs_and_agrees():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--preset", "quick"], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "results agree" in done.stdout and ": yes" in done.stdout
    assert re.fullmatch(r"ratio_vs_spark=\d+\.\d\d ratio_vs_limit=\d+\.\d\d", done.stdout.strip().splitlines()[-1])

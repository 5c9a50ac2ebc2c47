"""benchmarks.container runs in containers, its tasks read every line of their input, and
it ends with its machine-readable line. No timing is asserted."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def test_container_benchmark_measures_cold_warm_and_memory(lambda_image):
    done = subprocess.run([sys.executable, "-m", "benchmarks.container", "--no-cold-build", "--rounds", "1",
                           "--sizes", "2"], cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert "results agree (rows read = the input's lines): yes" in lines
    assert any(re.match(r"input_2mb: smallest_memory_mb=1769 peak_anon_mb=\d+", line) for line in lines)
    assert re.fullmatch(r"cold_archive_ratio=\d+\.\d\d", lines[-1])

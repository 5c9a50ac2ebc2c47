"""``python -m benchmarks.property_runs --examples N``: the long profile of the
differential, property-based test of repeated runs (tests/property_runs.py): random inputs
changing between runs, random options, code edits and worker kills; every run that exits
0 is compared with plain Python. Prints the counts (examples, runs, kills, checks)."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from benchmarks.measure import positive_int
from tests.property_runs import Counts, play, scenarios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.property_runs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=positive_int, default=40)
    parser.add_argument("--seed", type=int, default=None, help="derandomize with this seed")
    args = parser.parse_args(argv)
    counts, examples = Counts(), [0]

    @settings(max_examples=args.examples, deadline=None, database=None,
              derandomize=args.seed is not None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(scenarios())
    def prop(scenario):
        examples[0] += 1
        with tempfile.TemporaryDirectory(prefix="lmr-prop-") as tmp:
            play(scenario, Path(tmp), counts)

    started = time.monotonic()
    prop()
    print(f"examples={examples[0]} runs={counts.runs} exited_0={counts.succeeded} checked={counts.checked} "
          f"with_kill_points={counts.killed} changes={dict(sorted(counts.changes.items()))} "
          f"seconds={time.monotonic() - started:.0f}")
    print("no run exited 0 with a wrong output")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

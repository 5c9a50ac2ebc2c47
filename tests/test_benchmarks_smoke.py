"""Every benchmark command runs, its results agree, and it ends with its machine-readable
line. Timing targets are the benchmarks' to report, never asserted here."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def bench(*args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout.strip().splitlines()


def test_quick_benchmark_runs_and_agrees():
    lines = bench("benchmarks", "--preset", "quick")
    assert any(line.startswith("results agree") and line.endswith(": yes") for line in lines)
    assert any(line.startswith("intermediate data:") for line in lines)
    assert re.fullmatch(r"ratio_vs_spark=\d+\.\d\d ratio_vs_limit=\d+\.\d\d", lines[-1])


def test_coldstart_benchmark_times_four_variants():
    lines = bench("benchmarks.coldstart", "--runs", "1")
    for variant in ("default pyspark", "lmr, no archive", "lmr + AppCDS ", "lmr + AppCDS, spark-submit"):
        assert any(line.startswith(variant) for line in lines), variant
    assert re.fullmatch(r"coldstart_ratio=\d+\.\d\d", lines[-1])


def test_small_files_benchmark_packs_the_small_inputs():
    lines = bench("benchmarks.small_files")
    rows = {line[:16].strip(): line.split() for line in lines if line.startswith(("40 x", "2,000 x"))}
    # columns: name..., MB, tasks, wall s, documents
    assert int(rows["2,000 x 20 KB"][-3]) == 2          # packed: 1,000 files a task at most
    assert int(rows["40 x 1 MB"][-3]) == 1              # 40 MB < task_bytes
    assert re.fullmatch(r"small_files_ratio=\d+\.\d\d", lines[-1])


def test_planning_benchmark():
    lines = bench("benchmarks.planning", "--files", "3000")
    assert lines[0].startswith("3,000 files listed explicitly -> 3 tasks")
    assert re.fullmatch(r"planning_s=\d+\.\d\d planning_peak_mb=\d+", lines[-1])


def test_task_overhead_benchmark():
    lines = bench("benchmarks.task_overhead", "--preset", "quick", "--rounds", "1")
    assert re.fullmatch(r"task_overhead_ratio=\d+\.\d\d\d with_rejects=\d+\.\d\d\d", lines[-1])


def test_cost_model_prints_every_scenario():
    lines = bench("benchmarks.cost_model")
    assert lines[0].startswith("assumptions: ")
    assert [line.split("  ")[0].strip() for line in lines[2:]] == [
        "40 x 1 MB", "2,000 x 20 KB", "100 x 50 MB", "1,000 x 100 MB", "10,000 x 100 MB"]


def test_cache_benchmark_reuses_every_map_task_of_the_first_job():
    lines = bench("benchmarks.cache", "--files", "3")
    rows = {line[:16].strip(): line.split() for line in lines
            if line.startswith(("first", "reduce-changed", "uncached"))}
    # columns: name, tasks, cached, wall s, documents
    assert [rows[n][1:3] for n in ("first", "reduce-changed", "uncached")] == [["3", "0"], ["3", "3"], ["3", "0"]]
    assert "cached and uncached outputs agree: yes" in lines
    assert re.fullmatch(r"cache_rerun_ratio=\d+\.\d\d", lines[-1])


def test_scale_benchmark_splits_and_counts_bookkeeping_requests():
    lines = bench("benchmarks.scale", "--gb", "0.02", "--split-mb", "5", "--repeat", "1",
                  "--tasks", "1000", "3000")
    rows = {line.split()[0]: line.split() for line in lines if line.startswith(("unsplit", "split "))}
    assert rows["unsplit"][1] == "1" and int(rows["split"][1]) == 4      # 20 MB in 5 MiB ranges
    counts = [line.split() for line in lines if re.fullmatch(r"\s*[\d,]+( +\d+){3}", line)]
    assert [c[0] for c in counts] == ["1,000", "3,000"]
    projected = [line for line in lines if re.match(r"  (1 TB over|100 GB file)", line)]
    assert [p.split(":")[0].strip() for p in projected] == [
        "1 TB over  1,000 Lambdas (1,000 MB a task)", "1 TB over 10,000 Lambdas (100 MB a task)",
        "100 GB file unsplit", "100 GB file split by 256 MiB"]
    assert "does not fit" in projected[2]
    assert re.fullmatch(r"split_overhead=\d+\.\d\d max_task_staged_mb=\d+ bookkeeping_requests_3k=\d+", lines[-1])


def test_report_load_benchmark_loads_the_report_and_an_empty_page():
    from tests.integration.test_report import chromium

    chromium()   # skips (fails in CI) without Debian's chromium
    lines = bench("benchmarks.report_load", "--tasks", "300", "--repeat", "1")
    assert lines[0].startswith("report.html of 300 tasks:")
    assert [line.split()[0] for line in lines[2:4]] == ["empty", "report.html"]
    assert re.fullmatch(r"report_load_s=\d+\.\d\d", lines[-1])


def test_model_eval_benchmark_runs_four_variants_that_agree():
    lines = bench("benchmarks.model_eval", "--tasks", "3", "--load-s", "0.2", "--images", "40")
    rows = {line.split()[0]: line.split() for line in lines
            if line.startswith(("setup-once", "per-task", "arrow", "row-udf"))}
    # columns: variant, tasks, images
    assert [rows[n][1:3] for n in ("setup-once", "per-task", "arrow", "row-udf", "row-udf-1pc")] == \
        [["3", "3"], ["3", "3"], ["10", "40"], ["10", "40"], ["10", "40"]]
    assert "outputs agree: yes" in lines
    assert re.fullmatch(r"setup_once_ratio=\d+\.\d\d arrow_vs_udf_ratio=\d+\.\d\d "
                        r"arrow_vs_udf_1pc_ratio=\d+\.\d\d", lines[-1])


def test_reducers_benchmark_compares_one_reducer_with_four_and_projects_100_gb():
    lines = bench("benchmarks.reducers", "--files", "3", "--mb", "0.1", "--vocabulary", "2000")
    rows = {line.split()[0]: line.split() for line in lines if line.split()[:1] in (["1"], ["4"])}
    # columns: reducers, wall s, reduce s, peak MB, intermediate MB, pairs, max rows per task
    assert rows["1"][5] == rows["4"][5] and rows["1"][6] == rows["1"][5]      # one reducer reads every pair
    assert int(rows["4"][6].replace(",", "")) < int(rows["4"][5].replace(",", ""))
    assert any(line.startswith("outputs agree with plain Python: yes") for line in lines)
    assert any("reducers 1: does not fit" in line for line in lines)
    assert any(line.startswith("  reducers auto: R = 64") for line in lines)
    assert re.fullmatch(r"reducers_wall_ratio=\d+\.\d\d lambda_100gb_auto_s=\d+", lines[-1])


def test_validate_many_benchmark_validates_a_long_list():
    lines = bench("benchmarks.validate_many", "--files", "3000")
    assert any("valid." in line and "3000 input files" in line for line in lines)
    assert re.fullmatch(r"validate_s=\d+\.\d validate_peak_mb=\d+", lines[-1])

"""``python -m benchmarks.cost_model``: project a job's wall time and cost on Lambda
against EMR Serverless and Glue.

A model, not a measurement: every engine is assumed to run the same Spark code at the
same per-vCPU speed (``--mb-s-per-vcpu``, measured here by ``python -m benchmarks``), and
tasks are cut by the planner's own packing. Lambda: ``concurrency`` tasks at once, the
first wave cold (``--cold-s``, measured in the container by ``python -m benchmarks.container``), later
waves warm (0.4 s fixed per task), then one reducer over the intermediate data.
EMR Serverless and Glue: a start-up wait, then every vCPU busy; both bill at least one
minute. Prices: us-east-1 list prices (x86), editable below.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from engine.job.planning import InputFile, pack
from engine.job.spec import DEFAULT_TASK_BYTES, DEFAULT_TASK_MAX_FILES

LAMBDA_GB_S = 0.0000166667
LAMBDA_REQUEST = 0.20 / 1e6
SFN_TRANSITION = 0.025 / 1000
SFN_TRANSITIONS_PER_TASK = 3            # map iteration start, task state, end
EMR_VCPU_HOUR, EMR_GB_HOUR = 0.052624, 0.0057785
GLUE_DPU_HOUR = 0.44                    # a G.1X DPU: 4 vCPU, 16 GB
MIN_BILLED_S = 60                       # EMR Serverless (per worker) and Glue (per job)
LAMBDA_MAX_S = 900


@dataclass(frozen=True)
class Job:
    name: str
    files: int
    file_mb: float

    @property
    def total_mb(self) -> float:
        return self.files * self.file_mb


@dataclass(frozen=True)
class Assumptions:
    mb_s_per_vcpu: float = 50.0         # a warm lmr task: 90-110 MB/s on 2 cores (benchmarks.task_overhead)
    intermediate_ratio: float = 0.01    # intermediate / input bytes: crawl, pruned, measured 0.8%
    lambda_memory_mb: int = 3008        # 1,769 MB = 1 vCPU
    cold_s: float = 6.3                 # a cold mapper container's extra time to task done, class archive,
                                        # 3,008 MB: 7.5 s cold vs 1.2 s warm (benchmarks.container)
    warm_s: float = 0.4                 # a warm task's fixed cost
    concurrency: int = 1000             # Lambda's default account limit
    emr_workers: int = 25               # 4 vCPU / 16 GB each, plus one driver of the same size
    emr_start_s: float = 90.0           # application start (not pre-initialised): an assumption
    glue_dpus: int = 26                 # G.1X; one runs the driver
    glue_start_s: float = 30.0          # an assumption


@dataclass(frozen=True)
class Estimate:
    wall_s: float
    cost_usd: float
    note: str = ""


def lambda_tasks(job: Job) -> list[int]:
    """Bytes per map task, as the planner packs the job's files (default settings)."""
    size = int(job.file_mb * 1e6)
    files = [InputFile(f"f{i}", size) for i in range(job.files)]
    return [sum(f.size for f in g) for g in pack(files, DEFAULT_TASK_BYTES, DEFAULT_TASK_MAX_FILES)]


def on_lambda(job: Job, a: Assumptions) -> Estimate:
    vcpu = a.lambda_memory_mb / 1769
    tasks = lambda_tasks(job)
    work = [b / 1e6 / (a.mb_s_per_vcpu * vcpu) for b in tasks]
    slowest = max(work)
    waves = math.ceil(len(tasks) / a.concurrency)
    cold = min(len(tasks), a.concurrency)
    map_wall = a.cold_s + slowest + (waves - 1) * (a.warm_s + slowest)
    reduce_s = a.cold_s + job.total_mb * a.intermediate_ratio / (a.mb_s_per_vcpu * vcpu)
    busy_s = sum(work) + cold * a.cold_s + (len(tasks) - cold) * a.warm_s + reduce_s
    cost = (busy_s * a.lambda_memory_mb / 1024 * LAMBDA_GB_S + (len(tasks) + 3) * LAMBDA_REQUEST
            + (len(tasks) * SFN_TRANSITIONS_PER_TASK + 5) * SFN_TRANSITION)
    note = f"{len(tasks):,} tasks"
    if slowest > LAMBDA_MAX_S:
        note += f"; a task needs {slowest:.0f} s > Lambda's 900 s: lower task_bytes"
    return Estimate(map_wall + reduce_s, cost, note)


def on_emr_serverless(job: Job, a: Assumptions) -> Estimate:
    vcpus = a.emr_workers * 4
    run_s = job.total_mb * (1 + a.intermediate_ratio) / (a.mb_s_per_vcpu * vcpus)
    billed = max(MIN_BILLED_S, run_s) * (a.emr_workers + 1)
    cost = billed / 3600 * (4 * EMR_VCPU_HOUR + 16 * EMR_GB_HOUR)
    return Estimate(a.emr_start_s + run_s, cost, f"{a.emr_workers} workers")


def on_glue(job: Job, a: Assumptions) -> Estimate:
    vcpus = (a.glue_dpus - 1) * 4
    run_s = job.total_mb * (1 + a.intermediate_ratio) / (a.mb_s_per_vcpu * vcpus)
    cost = max(MIN_BILLED_S, a.glue_start_s + run_s) / 3600 * a.glue_dpus * GLUE_DPU_HOUR
    return Estimate(a.glue_start_s + run_s, cost, f"{a.glue_dpus} DPU")


SCENARIOS = [Job("40 x 1 MB", 40, 1), Job("2,000 x 20 KB", 2000, 0.02), Job("100 x 50 MB", 100, 50),
             Job("1,000 x 100 MB", 1000, 100), Job("10,000 x 100 MB", 10_000, 100)]


def table(jobs: list[Job], a: Assumptions) -> str:
    rows = [f"{'job':<17} {'tasks':>7} | {'Lambda s':>9} {'$':>8} | {'EMR-S s':>8} {'$':>8} | "
            f"{'Glue s':>8} {'$':>8}"]
    for job in jobs:
        lam, emr, glue = on_lambda(job, a), on_emr_serverless(job, a), on_glue(job, a)
        rows.append(f"{job.name:<17} {len(lambda_tasks(job)):>7,} | {lam.wall_s:>9.0f} {lam.cost_usd:>8.3f} | "
                    f"{emr.wall_s:>8.0f} {emr.cost_usd:>8.3f} | {glue.wall_s:>8.0f} {glue.cost_usd:>8.3f}"
                    + (f"   ({lam.note})" if "900" in lam.note else ""))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cost_model", description=__doc__.splitlines()[0])
    defaults = Assumptions()
    for name, value in vars(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--files", type=int, help="one job of FILES files ...")
    parser.add_argument("--file-mb", type=float, help="... of FILE_MB MB each (default: the scenarios)")
    args = parser.parse_args(argv)
    if (args.files is None) != (args.file_mb is None):
        parser.error("--files and --file-mb go together")
    for name in [*vars(defaults), "files", "file_mb"]:
        value = getattr(args, name)
        if name == "intermediate_ratio" and value < 0:
            parser.error(f"--intermediate-ratio must be at least 0, not {value}")
        elif name != "intermediate_ratio" and value is not None and value <= 0:
            parser.error(f"--{name.replace('_', '-')} must be above 0, not {value}")
    if args.glue_dpus < 2:
        parser.error(f"--glue-dpus must be at least 2 (one runs the driver), not {args.glue_dpus}")
    a = Assumptions(**{k: getattr(args, k) for k in vars(defaults)})
    jobs = [Job(f"{args.files} x {args.file_mb} MB", args.files, args.file_mb)] if args.files else SCENARIOS
    print("assumptions: " + ", ".join(f"{k}={v}" for k, v in vars(a).items()))
    print(table(jobs, a))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

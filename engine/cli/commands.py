"""What each ``lmr`` command does. A command holds a runner (engine/runner.py): the
local runner, or with ``--stack`` (``--bucket`` and ``--state-machine``) the stack
runner, and the handle of the job it runs or finds; it never asks which it holds.

Exit codes: 0 job SUCCEEDED (or manifest valid); 1 job FAILED; 2 bad manifest, bad
inputs or bad usage; 3 job PARTIAL (some inputs failed, within min_success_ratio);
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ..job.lifecycle import DONE, RESUME
from ..job.status import FAILED, INTERRUPTED, PARTIAL, SUCCEEDED
from ..report.summary import format_summary
from ..runner import TERMINAL, JobHandle, Prepared, Runner

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_PARTIAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130   # as a shell reports a command stopped by SIGINT
STATE_EXIT = {SUCCEEDED: EXIT_OK, PARTIAL: EXIT_PARTIAL, FAILED: EXIT_FAILED}


class UsageError(Exception):
    """Bad flags: exit code 2 with the message."""


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(args, k) for k in ("name", "mode", "mapper", "reducer")
                           if getattr(args, k, None) is not None}
    if args.input_format:
        out["input"] = {"format": args.input_format}
    output = {k: v for k, v in (("path", args.output), ("format", args.output_format)) if v}
    if output:
        out["output"] = output
    if getattr(args, "param", None):
        out["params"] = dict(args.param)
    return out


def runner_for(args: argparse.Namespace) -> Runner:
    """Where the command's job runs: the stack the flags name, else this machine."""
    if getattr(args, "stack", None) or getattr(args, "bucket", None) or getattr(args, "state_machine", None):
        from ..stack.runner import StackRunner

        return StackRunner(lambda: _deployment(args), args.stack or "")
    from ..local.runner import LocalRunner

    return LocalRunner(workers=getattr(args, "workers", None), work_dir=getattr(args, "work_dir", None))


def _deployment(args: argparse.Namespace):
    import boto3

    from ..stack.client import Deployment

    if args.bucket and args.state_machine:
        if ":stateMachine:" not in args.state_machine:
            raise UsageError(f"--state-machine: {args.state_machine!r} is not a state machine ARN "
                             "(arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)")
        return Deployment(args.bucket, args.state_machine)
    if not args.stack:
        raise UsageError("name the stack (--stack NAME), or give --bucket and --state-machine")
    try:
        return Deployment.from_stack(args.stack, boto3.client("cloudformation"))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_validate(args: argparse.Namespace) -> int:
    from ..job.preflight import CHECKED, NOT_CHECKED
    from ..store.splits import split_blocker
    from .validate import validate_manifest

    spec, problems, found = validate_manifest(args.manifest, overrides_from(args),
                                              work_dir=getattr(args, "work_dir", None))
    columns = None
    if spec is not None and not args.no_spark:
        from ..task.preview import preview_columns

        columns = preview_columns(spec)
    if args.json:
        print(json.dumps({"manifest": args.manifest, "valid": not problems,
                          "problems": [{"field": p.field, "reason": p.reason} for p in problems],
                          "job_id": spec.job_id if spec else None, "input_files": found,
                          "not_split_because": split_blocker(spec.input.format, spec.input.options) if spec else None,
                          "columns": (None if columns is None else {"unknown": columns} if isinstance(columns, str)
                                      else {"written": columns[0], "not_written": columns[1]}),
                          "checked": list(CHECKED) if spec else [], "not_checked": NOT_CHECKED}))
        return EXIT_INVALID if problems else EXIT_OK
    if problems:
        print(f"{args.manifest}: {len(problems)} problem{'s' * (len(problems) != 1)}")
        for problem in problems:
            print(f"  - {problem}")
        return EXIT_INVALID
    reducers = f", reducers {spec.reducers}" if spec.reducers != 1 else ""
    print(f"{args.manifest}: valid. job {spec.job_id}, mode {spec.mode}{reducers}, {found} input files, "
          f"output {spec.output.path} ({spec.output.format})")
    blocker = split_blocker(spec.input.format, spec.input.options)
    if blocker:
        print(f"  large inputs are read whole, not split into ranges: {blocker}")
    if isinstance(columns, tuple) and columns[1]:
        print(f"  columns not written (the reducer never reads them, so nothing computes them, checks in "
              f"UDFs included): {', '.join(columns[1])}; Reducer.keep_columns keeps them")
    elif isinstance(columns, tuple):
        print("  columns: map tasks write every column the mapper returns")
    elif columns:
        print(f"  columns: not worked out: {columns}")
    print(f"  checked: {'; '.join(CHECKED)}\n  not checked: {NOT_CHECKED}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    runner = runner_for(args)
    return _start(runner, runner.prepare(args.manifest, overrides_from(args), fresh=args.fresh), args)


def cmd_submit(args: argparse.Namespace) -> int:
    """``lmr run --stack``: a stack is required."""
    if not (args.stack or args.bucket or args.state_machine):
        raise UsageError("name the stack (--stack NAME), or give --bucket and --state-machine")
    return cmd_run(argparse.Namespace(**{**vars(args), "fresh": False, "quiet": True, "workers": None}))


def cmd_resume(args: argparse.Namespace) -> int:
    """Finish a job that died, FAILED or ended PARTIAL: its saved plan, only the tasks
    without a commit marker (on a stack: resubmitted, it resumes as a new run)."""
    runner = runner_for(args)
    return _start(runner, runner.prepare_resume(args.job_id), args)


def _start(runner: Runner, prepared: Prepared, args: argparse.Namespace) -> int:
    start = prepared.start
    if start is not None and start.action == DONE:   # a SUCCEEDED job is not recomputed
        if args.json:
            print(json.dumps(start.previous.to_dict()))
        else:
            print(format_summary(start.previous))
            print(f"job {start.previous.job_id} already SUCCEEDED (run {start.run}): its output is "
                  f"{start.previous.output}; --fresh recomputes it")
        return EXIT_OK
    if start is not None and start.action == RESUME and not args.json:
        print(f"resuming job {prepared.spec.job_id} (run {start.run}): committed tasks are kept"
              + (" (--fresh starts over)" if args.command == "run" else ""))
    from .progress import Progress

    out = sys.stdout
    progress = Progress(len(prepared.plan.tasks) if prepared.plan is not None else 0,
                        live=out.isatty() and not args.json)

    def on_event(event: dict) -> None:
        line = progress.update(event)
        if line and not args.quiet and not args.json:
            print(line, file=out, flush=True)

    job = runner.start(prepared, on_event)
    progress.close()
    return _outcome(job, args)


def _outcome(job: JobHandle, args: argparse.Namespace) -> int:
    """After a run started: a job that ended (here) gets its summary and exit code; a job
    that goes on (on a stack) gets where it went and how to follow it."""
    going_on = job.follow()
    if going_on is not None:
        text, as_json = going_on
        print(json.dumps(as_json) if args.json else text)
        return EXIT_OK
    status = job.status()
    if status.state == INTERRUPTED:
        if args.json:
            print(json.dumps(status.to_dict()))
        print(f"\njob {job.job_id} {INTERRUPTED}: {status.reason} "
              f"(`lmr run MANIFEST` or `lmr resume {job.job_id}`)", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(status.to_dict()))
    else:
        print(format_summary(status))
        print(job.where())
    if status.state != SUCCEEDED:
        print(f"job {status.job_id} {status.state}: {status.reason or 'some inputs failed'}", file=sys.stderr)
    return STATE_EXIT.get(status.state, EXIT_FAILED)


def cmd_status(args: argparse.Namespace) -> int:
    job = runner_for(args).job(args.job_id)
    last = None
    while True:
        progress = job.progress()
        missing = job.missing(progress)
        if missing and not args.watch:
            print(missing, file=sys.stderr)
            return EXIT_INVALID
        line = json.dumps(progress) if args.json else job.describe(progress)
        live = args.watch and not args.json and sys.stdout.isatty()
        if live and progress["state"] not in TERMINAL:
            sys.stdout.write("\r\033[K" + line.splitlines()[0])   # one line, redrawn in place
            sys.stdout.flush()
        elif line != last:
            print(("\r\033[K" if live else "") + line, flush=True)
            last = line
        if not args.watch or progress["state"] in TERMINAL:
            return STATE_EXIT.get(progress["state"], EXIT_OK)
        time.sleep(args.interval)


def cmd_logs(args: argparse.Namespace) -> int:
    text = runner_for(args).job(args.job_id).logs(args.task, args.failed, args.full, args.json)
    if text:
        print(text)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from ..report.page import estimate_cost

    job = runner_for(args).job(args.job_id)
    uri = job.report()
    if args.json:
        print(json.dumps({"job_id": job.job_id, "report": uri, "cost": estimate_cost(job.status())}))
    else:
        print(uri)
    if args.open:
        import pathlib
        import webbrowser

        webbrowser.open(uri if "://" in uri else pathlib.Path(uri).resolve().as_uri())
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from .scaffold import scaffold

    try:
        written = scaffold(args.name, args.dir)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps({"files": written}))
    else:
        print("created:\n" + "\n".join(f"  {p}" for p in written))
        print(f"next: pytest tests/test_{args.name}.py  and  lmr run manifests/{args.name}.json")
    return EXIT_OK

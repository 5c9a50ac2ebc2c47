"""``lmr``: run and check Lambda MR jobs.

Exit codes: 0 job SUCCEEDED (or manifest valid); 1 job FAILED; 2 bad manifest, bad
inputs or bad usage; 3 job PARTIAL (some inputs failed, within min_success_ratio).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import EngineError, ManifestError, PlanError
from ..job.layout import REDUCE_TASK, JobLayout, jobs_folder
from ..job.params import parse_param_flag
from ..job.spec import MODES
from ..job.status import FAILED, INTERRUPTED, PARTIAL, SUCCEEDED, read_status
from ..store.storage import Storage
from .progress import format_summary

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_PARTIAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130   # as a shell reports a command stopped by SIGINT
_STATE_EXIT = {SUCCEEDED: EXIT_OK, PARTIAL: EXIT_PARTIAL, FAILED: EXIT_FAILED}


def _spec_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "manifest fields", "override the manifest's fields; with a text manifest (one input "
        "URI a line, LetsData's format) they supply everything but the inputs")
    group.add_argument("--name")
    group.add_argument("--mode", choices=MODES)
    group.add_argument("--mapper", metavar="MODULE:CLASS")
    group.add_argument("--reducer", metavar="MODULE:CLASS")
    group.add_argument("--input-format")
    group.add_argument("--output", metavar="PATH", help="output.path")
    group.add_argument("--output-format")
    group.add_argument("--work-dir", help="where jobs/<id>/ lives (default: ./.lmr, or the "
                                          "output's bucket for S3 output; env LMR_WORK_DIR)")
    group.add_argument("--param", action="append", type=_param, default=[], metavar="KEY=VALUE",
                       help="set params.KEY (repeatable); VALUE is read as JSON when it parses, else as text")


def _param(text: str) -> tuple[str, Any]:
    try:
        return parse_param_flag(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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


def cmd_validate(args: argparse.Namespace) -> int:
    from ..job.preflight import CHECKED, NOT_CHECKED
    from ..store.splits import split_blocker
    from .validate import validate_manifest

    spec, problems, found = validate_manifest(args.manifest, overrides_from(args),
                                              work_dir=getattr(args, "work_dir", None))
    columns = None
    if spec is not None and not args.no_spark:
        from ..tasks import preview_columns

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
    from ..job.lifecycle import DONE, RESUME, decide_start, inputs_changed
    from ..job.preflight import preflight
    from ..job.spec import load_manifest

    spec = load_manifest(args.manifest, overrides_from(args), work_dir=args.work_dir)
    storage = Storage()
    plan = preflight(spec, storage, args.manifest)
    start = decide_start(read_status(spec.work_dir, spec.job_id, storage), run_alive=False,
                         inputs_changed=inputs_changed(plan, storage))
    if start.action == DONE and not args.fresh:
        return _already_done(start, args)
    out = sys.stdout
    if args.fresh:
        job_dir = JobLayout(spec.work_dir, spec.job_id).job_dir
        storage.delete_prefix(job_dir, owner=job_dir)
        start = decide_start(None)
    if start.action == RESUME and not args.json:
        print(f"resuming job {spec.job_id} (run {start.run}): committed tasks are kept "
              "(--fresh starts over)", file=out)
    return _execute(plan, args)


def cmd_resume(args: argparse.Namespace) -> int:
    """Finish a job that died: its saved plan, only the tasks without a commit marker.
    With --stack: resubmit it to the deployed stack, which resumes it as a new run."""
    from ..job.lifecycle import DONE, code_changed, decide_start
    from ..job.planning import load_plan

    if args.stack or args.bucket:
        from ..stack.client import resume

        try:
            uri = resume(args.job_id, _deployment(args))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if args.json:
            print(json.dumps({"job_id": args.job_id, "manifest": uri}))
        else:
            print(f"uploaded {uri}\njob {args.job_id} resumes as a new run: follow it with "
                  f"`lmr status {args.job_id} --stack {args.stack or '...'} --watch`")
        return EXIT_OK

    storage = Storage()
    plan = load_plan(_local_work_dir(args), args.job_id, storage)
    changed = code_changed(plan.spec)
    if changed:
        raise UsageError(f"job {plan.job_id} cannot be resumed: {changed}")
    start = decide_start(read_status(plan.spec.work_dir, plan.job_id, storage), run_alive=False)
    if start.action == DONE:
        return _already_done(start, args)
    if not args.json:
        print(f"resuming job {plan.job_id} (run {start.run}): committed tasks are kept")
    return _execute(plan, args)


def _already_done(start, args: argparse.Namespace) -> int:
    """A SUCCEEDED job is not recomputed: show its summary and where its output is."""
    if args.json:
        print(json.dumps(start.previous.to_dict()))
    else:
        print(format_summary(start.previous))
        print(f"job {start.previous.job_id} already SUCCEEDED (run {start.run}): its output is "
              f"{start.previous.output}; --fresh recomputes it")
    return EXIT_OK


def _execute(plan, args: argparse.Namespace) -> int:
    from ..local.runner import LocalRunner
    from .progress import Progress

    out = sys.stdout
    progress = Progress(len(plan.tasks), live=out.isatty() and not args.json)

    def on_event(event: dict) -> None:
        line = progress.update(event)
        if line and not args.quiet and not args.json:
            print(line, file=out, flush=True)

    try:
        status = LocalRunner(workers=args.workers, on_event=on_event).run(plan)
    except KeyboardInterrupt:
        progress.close()
        status = read_status(plan.spec.work_dir, plan.job_id, Storage())
        if args.json:
            print(json.dumps(status.to_dict() if status else {"job_id": plan.job_id, "state": INTERRUPTED}))
        print(f"\njob {plan.job_id} {INTERRUPTED}: {status.reason if status else 'stopped'} "
              f"(`lmr run MANIFEST` or `lmr resume {plan.job_id}`)", file=sys.stderr)
        return EXIT_INTERRUPTED
    progress.close()
    if args.json:
        print(json.dumps(status.to_dict()))
    else:
        print(format_summary(status), file=out)
        print(_where_reported(status, plan.spec.work_dir), file=out)
    if status.state != SUCCEEDED:
        print(f"job {status.job_id} {status.state}: {status.reason or 'some inputs failed'}",
              file=sys.stderr)
    return _STATE_EXIT[status.state]


def _local_work_dir(args: argparse.Namespace) -> str:
    import os

    from ..job.spec import DEFAULT_LOCAL_WORK_DIR, WORK_DIR_ENV

    return args.work_dir or os.environ.get(WORK_DIR_ENV) or DEFAULT_LOCAL_WORK_DIR


def _local_status(args: argparse.Namespace):
    """(status, work dir, storage) of a local job named on the command line: by its id,
    by the start of its id (its name), or by its manifest file."""
    import os

    storage, work_dir, job_id = Storage(), _local_work_dir(args), args.job_id
    if os.path.isfile(job_id):   # a manifest: the job it describes, where it runs
        from ..job.spec import load_manifest

        spec = load_manifest(job_id, work_dir=getattr(args, "work_dir", None))
        work_dir, job_id = spec.work_dir, spec.job_id
    status = read_status(work_dir, job_id, storage)
    if status is None:
        jobs = jobs_folder(work_dir)
        names = sorted(n for n in (os.listdir(jobs) if os.path.isdir(jobs) else ())
                       if n.startswith(f"{job_id}-") and storage.exists(JobLayout(work_dir, n).status_json))
        if len(names) != 1:
            raise UsageError(f"no job {job_id} under {work_dir}" + (
                f"; it names several: {', '.join(names[:10])}" if names else
                " (give a job id, its name, or its manifest; --work-dir if it ran elsewhere)"))
        status = read_status(work_dir, names[0], storage)
    return status, work_dir, storage


def cmd_logs(args: argparse.Namespace) -> int:
    from ..local.runner import REDUCER_FAILED
    from ..logs import condensed, read_task_logs

    if args.stack:
        return _aws_logs(args)
    status, work_dir, storage = _local_status(args)
    if args.task:
        task_ids = [args.task]
    elif args.failed:
        task_ids = [f.task_id for f in status.failed] + (
            [REDUCE_TASK] if status.reason.startswith(REDUCER_FAILED) else [])
    else:
        task_ids = [t.task_id for t in status.tasks] + [f.task_id for f in status.failed] + [REDUCE_TASK]
    logs = read_task_logs(storage, work_dir, status.job_id, sorted(set(task_ids), key=task_ids.index))
    if args.json:
        print(json.dumps(logs))
        return EXIT_OK
    errors = {f.task_id: f"{f.error_type}: {f.error}" for f in status.failed}
    if status.reason.startswith(REDUCER_FAILED):
        errors[REDUCE_TASK] = status.reason.removeprefix(REDUCER_FAILED).lstrip(": ")
    for task_id, text in logs.items():
        print(f"=== {task_id} ===")
        if task_id in errors:
            print(f"failed: {errors[task_id]}\n--- log ---")
        print(text if args.full else condensed(text) if text else "(no log: run in-process, or never started)")
    return EXIT_OK


def _aws_logs(args: argparse.Namespace) -> int:
    import boto3

    from ..stack.client import fetch_logs

    task_ids = {args.task} if args.task else None
    if args.failed:
        status = read_status(_deployment(args).root, args.job_id, Storage())
        task_ids = {f.task_id for f in status.failed} if status else set()
    lines = fetch_logs(args.stack, args.job_id, boto3.client("logs"), task_ids)
    for line in lines:
        if args.json:
            print(json.dumps(line))
        else:
            print(f"{line['function']:<11} {line.get('task_id', '-'):<8} {line.get('level', '')[:5]:<5} "
                  f"{line.get('message', '')}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from ..job.report import estimate_cost, write_report

    status, work_dir, storage = _local_status(args)
    uri = write_report(status, work_dir, storage)
    if args.json:
        print(json.dumps({"job_id": status.job_id, "report": uri, "cost": estimate_cost(status)}))
    else:
        print(uri)
    if args.open:
        import pathlib
        import webbrowser

        webbrowser.open(pathlib.Path(uri).resolve().as_uri())
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


class UsageError(Exception):
    """Bad flags: exit code 2 with the message."""


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


def cmd_submit(args: argparse.Namespace) -> int:
    from ..stack.client import submit

    deployment = _deployment(args)
    spec, uri = submit(args.manifest, deployment, overrides_from(args))
    if args.json:
        print(json.dumps({"job_id": spec.job_id, "manifest": uri, "bucket": deployment.bucket}))
    else:
        print(f"uploaded {uri}\njob {spec.job_id}: follow it with "
              f"`lmr status {spec.job_id} --stack {args.stack or '...'} --watch`")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    import time

    if not (args.stack or args.bucket or args.state_machine):
        return _local_job_status(args)
    import boto3

    from ..stack.client import TERMINAL, format_progress, job_progress

    deployment, sfn = _deployment(args), boto3.client("stepfunctions")
    last = None
    while True:
        progress = job_progress(args.job_id, deployment, sfn)
        if progress["state"] is None and progress["execution"] is None and not args.watch:
            print(f"no job {args.job_id} in {deployment.root} (not submitted, or the "
                  "coordinator has not picked it up yet)", file=sys.stderr)
            return EXIT_INVALID
        line = json.dumps(progress) if args.json else format_progress(progress)
        live = args.watch and not args.json and sys.stdout.isatty()
        if live and progress["state"] not in TERMINAL:
            sys.stdout.write("\r\033[K" + line.splitlines()[0])   # one line, redrawn in place
            sys.stdout.flush()
        elif line != last:
            print(("\r\033[K" if live else "") + line, flush=True)
            last = line
        if not args.watch or progress["state"] in TERMINAL:
            return _STATE_EXIT.get(progress["state"], EXIT_OK)
        time.sleep(args.interval)


def _local_job_status(args: argparse.Namespace) -> int:
    """A job run on this machine: its summary, its state and reason, where its report is."""
    status, work_dir, _ = _local_status(args)
    if args.json:
        print(json.dumps(status.to_dict()))
    else:
        print(format_summary(status).lstrip("\n"))
        print(_where_reported(status, work_dir))
        if status.state != SUCCEEDED:
            print(f"job {status.job_id} {status.state}: {status.reason or 'some inputs failed'}")
    return _STATE_EXIT.get(status.state, EXIT_OK)


def _where_reported(status, work_dir: str) -> str:
    report = JobLayout(work_dir, status.job_id).report_html
    return (f"  report: {report}\n  (again: lmr status {status.job_id}; lmr report {status.job_id} --open; "
            f"lmr logs {status.job_id} --failed)")


def _stack_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", help="the deployed CloudFormation stack's name")
    parser.add_argument("--bucket", help="data bucket (instead of --stack)")
    parser.add_argument("--state-machine", metavar="ARN", help="state machine ARN (instead of --stack)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmr", description="Lambda MR: map-reduce with PySpark "
                                     "on AWS Lambda, or on this machine.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a job locally")
    run.add_argument("manifest", help="manifest file (JSON, or a text list of input URIs)")
    run.add_argument("--workers", type=int, default=None,
                     help="worker processes, each running a task per core it gets (default 1; 0 = in this process)")
    run.add_argument("--quiet", "-q", action="store_true", help="no per-task lines")
    run.add_argument("--fresh", action="store_true",
                     help="discard committed tasks of an earlier run of this job and start over")
    run.add_argument("--json", action="store_true", help="print the final status as JSON, nothing else")
    _spec_flags(run)
    run.set_defaults(func=cmd_run)
    res = sub.add_parser("resume", help="finish a job that died, FAILED or ended PARTIAL: only tasks "
                                        "without a commit marker run (locally, or on a stack with --stack)")
    res.add_argument("job_id")
    res.add_argument("--work-dir", help="where jobs/<id>/ lives (default: ./.lmr; env LMR_WORK_DIR)")
    res.add_argument("--workers", type=int, default=None)
    res.add_argument("--quiet", "-q", action="store_true")
    res.add_argument("--json", action="store_true")
    res.add_argument("--stack", help="resume it on this deployed stack (a new run of the job)")
    res.add_argument("--bucket", help="data bucket (instead of --stack)")
    res.add_argument("--state-machine", metavar="ARN", help="state machine ARN (instead of --stack)")
    res.set_defaults(func=cmd_resume)
    lg = sub.add_parser("logs", help="a job's per-task logs (local, or --stack for AWS)")
    lg.add_argument("job_id", help="job id, job name, or manifest file (local); job id (--stack)")
    which = lg.add_mutually_exclusive_group()
    which.add_argument("--task", metavar="ID")
    which.add_argument("--failed", action="store_true", help="only the failed tasks' logs, each after its error")
    lg.add_argument("--full", action="store_true", help="Java stack traces in full (by default one line each)")
    lg.add_argument("--work-dir")
    _stack_flags(lg)   # with --stack: the functions' CloudWatch logs
    lg.set_defaults(func=cmd_logs)
    rp = sub.add_parser("report", help="(re)write a job's report.html and print where it is")
    rp.add_argument("job_id", help="job id, job name, or manifest file")
    rp.add_argument("--work-dir")
    rp.add_argument("--json", action="store_true")
    rp.add_argument("--open", action="store_true", help="open it in the web browser")
    rp.set_defaults(func=cmd_report)
    ini = sub.add_parser("init", help="scaffold a job: jobs/NAME.py, manifests/NAME.json + sample, tests/test_NAME.py")
    ini.add_argument("name")
    ini.add_argument("--dir", default=".", help="project folder (default: here)")
    ini.add_argument("--json", action="store_true")
    ini.set_defaults(func=cmd_init)
    val = sub.add_parser("validate", help="check a manifest and its inputs; run nothing")
    val.add_argument("manifest")
    val.add_argument("--json", action="store_true")
    val.add_argument("--no-spark", action="store_true",
                     help="skip planning the job over no rows (which lists the columns pruning leaves out)")
    _spec_flags(val)
    val.set_defaults(func=cmd_validate)
    sub_ = sub.add_parser("submit", help="upload a manifest to a deployed stack; prints the job id")
    sub_.add_argument("manifest")
    _stack_flags(sub_)
    _spec_flags(sub_)
    sub_.set_defaults(func=cmd_submit)
    st = sub.add_parser("status", help="a job's state and counts: run here (by id, name or manifest), "
                                        "or with --stack on AWS")
    st.add_argument("job_id", help="job id, job name, or manifest file (local); job id (--stack)")
    st.add_argument("--work-dir")
    _stack_flags(st)
    st.add_argument("--watch", action="store_true", help="poll until the job finishes")
    st.add_argument("--interval", type=float, default=5.0, help="seconds between polls (--watch)")
    st.set_defaults(func=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ManifestError, PlanError) as exc:
        if getattr(args, "json", False):
            print(json.dumps({"error": type(exc).__name__, "source": exc.source,
                              "problems": [{"field": p.field, "reason": p.reason} for p in exc.problems]}))
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID
    except UsageError as exc:
        print(f"lmr {args.command}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (BotoCoreError, ClientError) as exc:   # AWS said no: credentials, permissions, region
        print(f"lmr {args.command}: AWS: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:   # before a job started (planning, listing): nothing to resume
        print(f"\nlmr {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

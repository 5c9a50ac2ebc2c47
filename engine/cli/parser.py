"""``lmr``'s command line: its commands and flags (engine/cli/commands.py runs them)."""

from __future__ import annotations

import argparse
from typing import Any

from ..job.params import parse_param_flag
from ..job.spec import MODES
from . import commands


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


def _stack_flags(parser: argparse.ArgumentParser, json_flag: bool = True) -> None:
    """Where the job runs: a deployed stack (the stack runner), else here (the local runner)."""
    parser.add_argument("--stack", help="the deployed CloudFormation stack's name")
    parser.add_argument("--bucket", help="data bucket (instead of --stack)")
    parser.add_argument("--state-machine", metavar="ARN", help="state machine ARN (instead of --stack)")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="machine-readable output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmr", description="Lambda MR: map-reduce with PySpark "
                                     "on AWS Lambda, or on this machine.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a job here (or, with --stack, on a deployed stack)")
    run.add_argument("manifest", help="manifest file (JSON, or a text list of input URIs)")
    run.add_argument("--workers", type=int, default=None,
                     help="worker processes, each running a task per core it gets (default 1; 0 = in this process)")
    run.add_argument("--quiet", "-q", action="store_true", help="no per-task lines")
    run.add_argument("--fresh", action="store_true",
                     help="discard committed tasks of an earlier run of this job and start over")
    run.add_argument("--json", action="store_true", help="print the final status as JSON, nothing else")
    _spec_flags(run)
    _stack_flags(run, json_flag=False)
    run.set_defaults(func=commands.cmd_run)
    res = sub.add_parser("resume", help="finish a job that died, FAILED or ended PARTIAL: only tasks "
                                        "without a commit marker run (locally, or on a stack with --stack)")
    res.add_argument("job_id")
    res.add_argument("--work-dir", help="where jobs/<id>/ lives (default: ./.lmr; env LMR_WORK_DIR)")
    res.add_argument("--workers", type=int, default=None)
    res.add_argument("--quiet", "-q", action="store_true")
    res.add_argument("--json", action="store_true")
    _stack_flags(res, json_flag=False)   # with --stack: resumed on the stack, as a new run of the job
    res.set_defaults(func=commands.cmd_resume)
    lg = sub.add_parser("logs", help="a job's per-task logs (local, or --stack for AWS)")
    lg.add_argument("job_id", help="job id, job name, or manifest file (local); job id (--stack)")
    which = lg.add_mutually_exclusive_group()
    which.add_argument("--task", metavar="ID")
    which.add_argument("--failed", action="store_true", help="only the failed tasks' logs, each after its error")
    lg.add_argument("--full", action="store_true", help="Java stack traces in full (by default one line each)")
    lg.add_argument("--work-dir")
    _stack_flags(lg)   # with --stack: the functions' CloudWatch logs
    lg.set_defaults(func=commands.cmd_logs)
    rp = sub.add_parser("report", help="(re)write a job's report.html and print where it is")
    rp.add_argument("job_id", help="job id, job name, or manifest file")
    rp.add_argument("--work-dir")
    rp.add_argument("--json", action="store_true")
    rp.add_argument("--open", action="store_true", help="open it in the web browser")
    _stack_flags(rp, json_flag=False)   # with --stack: where the stack wrote it
    rp.set_defaults(func=commands.cmd_report)
    ini = sub.add_parser("init", help="scaffold a job: jobs/NAME.py, manifests/NAME.json + sample, tests/test_NAME.py")
    ini.add_argument("name")
    ini.add_argument("--dir", default=".", help="project folder (default: here)")
    ini.add_argument("--json", action="store_true")
    ini.set_defaults(func=commands.cmd_init)
    val = sub.add_parser("validate", help="check a manifest and its inputs; run nothing")
    val.add_argument("manifest")
    val.add_argument("--json", action="store_true")
    val.add_argument("--no-spark", action="store_true",
                     help="skip planning the job over no rows (which lists the columns pruning leaves out)")
    _spec_flags(val)
    val.set_defaults(func=commands.cmd_validate)
    sub_ = sub.add_parser("submit", help="run a job on a deployed stack (lmr run --stack): upload its "
                                         "manifest; prints the job id")
    sub_.add_argument("manifest")
    _stack_flags(sub_)
    _spec_flags(sub_)
    sub_.set_defaults(func=commands.cmd_submit)
    st = sub.add_parser("status", help="a job's state and counts: run here (by id, name or manifest), "
                                        "or with --stack on AWS")
    st.add_argument("job_id", help="job id, job name, or manifest file (local); job id (--stack)")
    st.add_argument("--work-dir")
    _stack_flags(st)
    st.add_argument("--watch", action="store_true", help="poll until the job finishes")
    st.add_argument("--interval", type=float, default=5.0, help="seconds between polls (--watch)")
    st.set_defaults(func=commands.cmd_status)
    return parser

"""``lmr``: run and check Lambda MR jobs (the commands: engine/cli/commands.py; the
flags: engine/cli/parser.py). Exit codes: see engine/cli/commands.py."""

from __future__ import annotations

import json
import logging
import sys

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import EngineError, ManifestError, PlanError
from ..runner import Refused
from .commands import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, UsageError
from .parser import build_parser


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
    except (UsageError, Refused) as exc:
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

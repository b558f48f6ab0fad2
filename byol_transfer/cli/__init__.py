"""``byol-transfer`` command line: each sub-command is a thin shell over a library function.

User mistakes (``UserError``) print one line and exit with code 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from contextlib import ExitStack

from ..errors import UserError
from .arguments import ArgumentFailure, OneLineParser
from ..outputs import output_guard, write_error

# Sub-command modules, each with ``add_parser(subparsers)`` and ``run(args) -> int``.
COMMANDS = [
    "pretrain",
    "export",
    "recipes",
    "preview",
    "label-efficiency",
    "stats",
    "prepare",
    "segment",
    "predict",
    "report",
]

# What each command writes at --out (a folder it fills, or one file), and other output flags: checked
# before any work, and cleaned up after a failure (outputs.py)
OUTPUTS = {
    "pretrain": [("out", "dir")],
    "export": [("out", "file")],
    "label-efficiency": [("out", "dir"), ("cache_dir", "dir")],
    "segment": [("out", "dir")],
    "predict": [("out", "dir")],
    "stats": [("out", "file")],
    "preview": [("out", "file")],
    "prepare": [("out", "dir")],
    "report": [("out", "dir")],
}


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = OneLineParser(  # argparse errors in one line, like every other refusal
        prog="byol-transfer",
        description="BYOL pretraining on your own unlabeled images, and transfer with few labels.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    runners = {}
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
        module.add_parser(sub)
        runners[name] = module.run
    return parser, runners


def _log_to_stderr(quiet: bool) -> None:
    """The package's log lines go to the sys.stderr of *this* call (one handler, replaced per call).

    ``logging.basicConfig`` binds once, to the stream of the first call: later calls in one process (the
    tests, a notebook) would print their warnings to a stream nobody reads. Records still propagate to
    the root logger, so an application's own logging (and pytest's caplog) sees them too.
    """
    logger = logging.getLogger("byol_transfer")
    for handler in [h for h in logger.handlers if getattr(h, "byol_transfer_cli", False)]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("byol-transfer: %(message)s"))
    handler.setLevel(logging.WARNING if quiet else logging.INFO)  # -q filters what is printed, not what is logged
    handler.byol_transfer_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    parser, runners = build_parser()
    try:
        args = parser.parse_args(argv)
    except ArgumentFailure as e:
        print(f"{e.prog}: error: {e.message} (see {e.prog} --help)", file=sys.stderr)
        return 2
    _log_to_stderr(quiet=args.quiet)
    from ..train.loop import TrainingDiverged

    try:
        with ExitStack() as guards:
            for attr, kind in OUTPUTS.get(args.command, []):
                if getattr(args, attr, None) is not None:
                    guards.enter_context(output_guard(getattr(args, attr), kind, "--" + attr.replace("_", "-")))
            return int(runners[args.command](args) or 0)
    except UserError as e:
        print(f"byol-transfer {args.command}: error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"byol-transfer {args.command}: training diverged: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # the last line of defence for writes outside --out
        friendly = write_error(e)
        if friendly is None:
            raise
        print(f"byol-transfer {args.command}: error: {friendly}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"byol-transfer {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The ``poshbridge`` command: global options, then one module per command family.

Exit codes: 0 ok, 1 a host or check failed, 2 usage or inventory error (``audit`` uses the Nagios
convention 0/1/2 for OK/WARN/CRIT, documented there).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from poshbridge import __version__

if TYPE_CHECKING:
    import logging

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

# Each module exposes ``register(subparsers, common)``; ``common`` is a parent parser with the
# global options so they also work after the command name.
COMMAND_MODULES = (
    "poshbridge.cli.check",
    "poshbridge.cli.generate",
    "poshbridge.cli.ops",
    "poshbridge.cli.audit",
)


def default_inventory() -> str:
    return os.environ.get("POSHBRIDGE_INVENTORY", "poshbridge.yaml")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-i",
        "--inventory",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="inventory file (default: ./poshbridge.yaml or $POSHBRIDGE_INVENTORY)",
    )
    _add_logging_options(common)
    parser = _Parser(
        prog="poshbridge",
        description="Posh-ACME certificates on a Windows/IIS fleet over PowerShell Remoting.",
    )
    parser.add_argument("--version", action="version", version=f"poshbridge {__version__}")
    parser.add_argument(
        "-i",
        "--inventory",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="inventory file (default: ./poshbridge.yaml or $POSHBRIDGE_INVENTORY)",
    )
    _add_logging_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    # `poshbridge lab ...` hands over to the lab side (which never imports the product side).
    lab = sub.add_parser(
        "lab",
        help=f"run the loopback Windows/IIS lab ({', '.join(LAB_ACTIONS)})",
        add_help=False,
        prefix_chars="\0",
    )
    lab.add_argument("lab_args", nargs=argparse.REMAINDER)
    lab.set_defaults(func=_run_lab)
    return parser


def _add_logging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log each cmdlet sent (secrets masked), each WSMan request's time and every retry to stderr",
    )
    parser.add_argument(
        "--log-file",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="write that log (-v) to FILE instead of stderr (appended)",
    )


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(args: argparse.Namespace) -> logging.Handler | None:
    """``-v``/``--log-file``: the ``poshbridge`` loggers at DEBUG to stderr or the file. None when
    neither was given (nothing is logged)."""
    log_file = getattr(args, "log_file", None)
    if not getattr(args, "verbose", False) and not log_file:
        return None
    import logging  # here: a run without -v/--log-file does not load it

    handler: logging.Handler
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger = logging.getLogger("poshbridge")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    return handler


def _close_logging(handler: Any) -> None:
    if handler is not None:
        import logging

        logging.getLogger("poshbridge").removeHandler(handler)
        handler.close()


# The lab's actions, listed in the top-level help (the lab parser itself lives in poshbridge.lab.cli).
LAB_ACTIONS = ("up", "down", "status", "fault", "reset", "clock", "run-task")
_INVENTORY_OPTIONS = ("-i", "--inventory")


def _run_lab(args: argparse.Namespace) -> int:
    lab_cli = importlib.import_module("poshbridge.lab.cli")
    return int(lab_cli.main(list(args.lab_args)))


def lab_arguments(args_list: Sequence[str]) -> list[str] | None:
    """The arguments after ``lab`` when the command is ``lab`` (after any global ``-i PATH``, which the
    lab does not use), else None."""
    index = 0
    while index < len(args_list):
        arg = args_list[index]
        if arg in _INVENTORY_OPTIONS:
            index += 2
        elif arg.startswith("--inventory=") or (arg.startswith("-i") and len(arg) > 2 and arg[2] != "-"):
            index += 1
        else:
            break
    if index < len(args_list) and args_list[index] == "lab":
        return list(args_list[index + 1 :])
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    lab_args = lab_arguments(args_list)
    if lab_args is not None:
        lab_cli = importlib.import_module("poshbridge.lab.cli")
        return int(lab_cli.main(lab_args))
    parser = build_parser()
    args = parser.parse_args(args_list)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    if not hasattr(args, "inventory"):
        args.inventory = default_inventory()
    try:
        handler = configure_logging(args)
    except OSError as exc:
        print(f"poshbridge: error: --log-file: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        _close_logging(handler)

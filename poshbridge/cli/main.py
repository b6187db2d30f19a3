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

from poshbridge import __version__

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
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    # `poshbridge lab ...` hands over to the lab side (which never imports the product side).
    sub.add_parser(
        "lab",
        help="run the loopback Windows/IIS lab (up, down, status, fault)",
        add_help=False,
        prefix_chars="\0",
    ).add_argument("lab_args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "lab":
        lab_cli = importlib.import_module("poshbridge.lab.cli")
        return int(lab_cli.main(args_list[1:]))
    parser = build_parser()
    args = parser.parse_args(args_list)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    if not hasattr(args, "inventory"):
        args.inventory = default_inventory()
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

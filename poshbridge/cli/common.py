"""Helpers shared by the CLI modules: load the inventory or exit 2, print problems, pick hosts."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from poshbridge.cli.plain import TextConsole
from poshbridge.cli.plain import escape_markup as escape

if TYPE_CHECKING:
    from poshbridge.inventory.model import HostConfig, Inventory, Problem

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

_SEVERITY_STYLE = {"error": "red", "warning": "yellow"}

# What --insecure allows, exactly (poshbridge.remote.session.transport_warnings refuses these three
# without it); nothing else is relaxed by it: a missing secret or a bad inventory is still an error.
INSECURE_HELP = (
    "allow exactly these inventory settings, each with a warning: winrm auth basic over transport "
    "http (password sent unencrypted), winrm verify: false (the WinRM certificate is not checked) "
    "and acme skip_certificate_check: true (Set-PAServer -SkipCertificateCheck); nothing else"
)


def inventory_path(args: argparse.Namespace) -> str:
    """The ``-i`` value, else ``$POSHBRIDGE_INVENTORY``, else ``./poshbridge.yaml``."""
    value = getattr(args, "inventory", None)
    if value:
        return str(value)
    return os.environ.get("POSHBRIDGE_INVENTORY", "poshbridge.yaml")


def inventory_base_dir(inventory: Inventory) -> Path:
    """The folder relative secret/CA paths are resolved against (the inventory file's folder)."""
    return inventory.resolved_base_dir()


def print_problems(console: TextConsole, problems: Iterable[Problem]) -> None:
    """One line per problem (plain text, coloured severity on a terminal); grep-friendly."""
    for problem in problems:
        style = _SEVERITY_STYLE[problem.severity]
        path = escape(problem.path or "(inventory)")
        console.print(f"[{style}]{problem.severity}[/]: {path}: {escape(problem.message)}", soft_wrap=True)


def exit_usage(console: TextConsole, message: str) -> NoReturn:
    console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    raise SystemExit(EXIT_USAGE)


def load_inventory_or_exit(args: argparse.Namespace, console: TextConsole) -> Inventory:
    """Load and validate the inventory; on errors print them all to ``console`` and exit 2.

    Warnings are not repeated by every command: one line says how many there are (see ``check``).
    """
    from poshbridge.inventory.load import read_inventory

    inventory = read_inventory(inventory_path(args))
    if inventory.errors:
        print_problems(console, inventory.errors)
        count = len(inventory.errors)
        where = escape(inventory.source)
        console.print(f"{count} inventory error(s) in {where}; nothing was done.", soft_wrap=True)
        raise SystemExit(EXIT_USAGE)
    if inventory.warnings:
        console.print(
            f"[yellow]{len(inventory.warnings)} inventory warning(s)[/]; run 'poshbridge check' to see them.",
            soft_wrap=True,
        )
    return inventory


SHARD_HELP = (
    "run only this worker's slice of the selected hosts: shard K of N (K is 1-based), by a stable hash "
    "of each host name (sha256 of the casefolded name, mod N), so N workers with 1/N .. N/N take disjoint "
    "slices that together are the whole selection"
)


def shard_argument(text: str) -> Any:
    """argparse ``type`` of ``--shard K/N`` (argparse names the option in the error)."""
    from poshbridge.inventory.shard import ShardError, parse_shard

    try:
        return parse_shard(text)
    except ShardError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_shard_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shard", type=shard_argument, default=None, metavar="K/N", help=SHARD_HELP)


def shard_line(shard: Any, chosen: int, selected: int) -> str:
    """The human summary of a slice: ``shard 2/4: 3 of 10 selected host(s)``."""
    return f"shard {shard.label}: {chosen} of {selected} selected host(s)"


def select_hosts_or_exit(
    inventory: Inventory, targets: Sequence[str], console: TextConsole
) -> list[HostConfig]:
    """:func:`select_hosts` with a clear message and exit 2 for an unknown target."""
    from poshbridge.inventory.targets import TargetError, select_hosts

    try:
        return select_hosts(inventory, list(targets))
    except TargetError as exc:
        exit_usage(console, str(exc))


def select_one_host_or_exit(inventory: Inventory, target: str, console: TextConsole) -> HostConfig:
    """Exactly one host (commands that produce one file per host)."""
    hosts = select_hosts_or_exit(inventory, [target], console)
    if len(hosts) != 1:
        names = ", ".join(h.name for h in hosts)
        exit_usage(console, f"{target!r} matches {len(hosts)} hosts ({names}); name exactly one host")
    return hosts[0]


def write_bytes_file(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` (``-`` = stdout)."""
    if path == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    Path(path).write_bytes(data)


def wrote_line(path: str, what: str) -> str:
    """The one stderr line every ``-o/--html/--prometheus FILE`` prints: ``wrote FILE (what)``."""
    return f"wrote {path} ({what})"

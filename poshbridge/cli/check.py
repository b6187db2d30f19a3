"""``poshbridge check [TARGET...]``: validate the inventory and show every problem with its key path.

Exit 0 when there are no errors (warnings alone do not fail), 2 on errors or an unknown target.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from poshbridge.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    add_shard_option,
    exit_usage,
    inventory_path,
    print_problems,
    shard_line,
)
from poshbridge.cli.plain import TextConsole, make_text_console, print_table
from poshbridge.cli.plain import escape_markup as escape

if TYPE_CHECKING:
    from poshbridge.inventory.model import Inventory, Problem


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "check",
        parents=[common],
        help="validate the inventory (every problem, with its key path)",
        description="Validate the inventory and list every problem with its key path "
        "(e.g. hosts.host01.domains[1]). Exit 0 if there are no errors, 2 otherwise.",
    )
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help="host names, group names, 'all' or shell patterns such as 'web*' (default: all)",
    )
    parser.add_argument(
        "--secrets",
        action="store_true",
        help="also resolve every secret reference (env/file) and report which are missing; "
        "never prints a value (exit 1 when one is missing)",
    )
    add_shard_option(parser)
    parser.set_defaults(func=run)


def _about_hosts(problem: Problem, names: list[str]) -> str | None:
    """The host a problem is about (its path starts with ``hosts.<name>``, or ``<name>: `` in an Ansible
    inventory), else None."""
    for name in sorted(names, key=len, reverse=True):  # longest first: host names may contain dots
        prefix = f"hosts.{name}"
        if problem.path == prefix or problem.path.startswith((prefix + ".", prefix + "[", name + ": ")):
            return name
    return None


def run(args: argparse.Namespace) -> int:
    from poshbridge.inventory.load import declared_host_names, read_inventory
    from poshbridge.inventory.shard import shard_names
    from poshbridge.inventory.targets import TargetError, match_names

    console = make_text_console()
    err = make_text_console(stderr=True)
    path = inventory_path(args)
    inventory = read_inventory(path)
    problems = list(inventory.problems)
    targets = list(args.targets)
    if targets:
        declared = declared_host_names(path) or list(inventory.hosts)
        try:
            selected = match_names(declared, inventory.groups, targets, source=inventory.source)
        except TargetError as exc:
            print_problems(console, problems)
            exit_usage(err, str(exc))
        problems = [p for p in problems if _about_hosts(p, declared) in (None, *selected)]
    else:
        selected = list(inventory.hosts)
    shard = getattr(args, "shard", None)
    chosen = shard_names(selected, shard)
    print_problems(console, problems)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    if not errors:
        _host_table(console, inventory, chosen)
    where = escape(inventory.source)
    if errors:
        console.print(f"[red]{errors} error(s)[/], {warnings} warning(s) in {where}", soft_wrap=True)
        return EXIT_USAGE
    console.print(f"[green]OK[/]: {len(chosen)} host(s), {warnings} warning(s) in {where}", soft_wrap=True)
    if shard is not None:
        console.print(escape(shard_line(shard, len(chosen), len(selected))), soft_wrap=True)
    if getattr(args, "secrets", False):
        return _secrets_report(console, inventory, chosen)
    return EXIT_OK


def _secrets_report(console: TextConsole, inventory: Inventory, names: list[str]) -> int:
    from poshbridge.cli.common import EXIT_FAILED, inventory_base_dir
    from poshbridge.cli.secrets_check import check_secrets

    hosts = [inventory.hosts[n] for n in names if n in inventory.hosts]
    statuses = check_secrets(hosts, inventory_base_dir(inventory))
    for status in statuses:
        used = ", ".join(status.keys)
        state = "ok" if status.ok else f"[red]missing[/]: {escape(status.problem or '')}"
        console.print(f"secret {escape(status.reference)} ({escape(used)}): {state}", soft_wrap=True)
    missing = [s for s in statuses if not s.ok]
    console.print(f"{len(statuses)} secret reference(s), {len(missing)} missing", soft_wrap=True)
    return EXIT_FAILED if missing else EXIT_OK


def _host_table(console: TextConsole, inventory: Inventory, names: list[str]) -> None:
    hosts = [inventory.hosts[n] for n in names if n in inventory.hosts]
    if not hosts:
        return
    columns = ("host", "address", "domains", "IIS site", "port", "groups", "task start")
    rows = [
        (
            host.name,
            f"{host.address}:{host.winrm.effective_port} ({host.winrm.transport})",
            ", ".join(host.domains),
            host.iis.site,
            str(host.iis.port),
            ", ".join(host.groups),
            f"{host.renewal.start} every {host.renewal.repeat_every}",
        )
        for host in hosts
    ]
    print_table(console, "Hosts", columns, rows)

"""``setup``, ``renew``, ``status``, ``revoke``: the arguments, the run (:mod:`poshbridge.runner`), the
output (tables: :mod:`poshbridge.cli.ops_render`, or ``--json``) and the exit code.

Exit codes: 0 every host ok, 1 a host failed (or revoke declined), 2 usage (unknown target, refused
insecure setting, revoke without a terminal and without --yes), 130 interrupted (Ctrl-C/SIGTERM).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from poshbridge.cli.common import INSECURE_HELP, add_shard_option, shard_line
from poshbridge.defaults import DEFAULT_CRIT_DAYS, DEFAULT_HOST_TIMEOUT, DEFAULT_RETRIES, DEFAULT_WARN_DAYS

if TYPE_CHECKING:
    from rich.console import Console

    from poshbridge.inventory.model import HostConfig

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = subparsers.add_parser(
            name, parents=[common], help=help_text, description=DESCRIPTIONS[name]
        )
        parser.add_argument("targets", nargs="+", metavar="TARGET", help="hosts, groups, patterns or 'all'")
        parser.add_argument("--parallel", type=_positive, default=10, metavar="N", help="hosts at once (10)")
        parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
        parser.add_argument(
            "--insecure",
            action="store_true",
            help=INSECURE_HELP,
        )
        parser.add_argument(
            "--lang",
            choices=("en", "ja"),
            default="en",
            help="language of the CA's explanation of an ACME error (the condition from the CA's table; "
            "default en)",
        )
        parser.add_argument(
            "--retries",
            type=_non_negative,
            default=DEFAULT_RETRIES,
            metavar="N",
            help=f"retries of a transient failure (connecting, reading) with backoff ({DEFAULT_RETRIES})",
        )
        parser.add_argument(
            "--host-timeout",
            type=_positive,
            default=int(DEFAULT_HOST_TIMEOUT),
            metavar="SECONDS",
            help=f"deadline per host, OCSP wait included ({int(DEFAULT_HOST_TIMEOUT)})",
        )
        add_shard_option(parser)
        parser.set_defaults(func=main_ops, op=name)  # fmt: skip
        return parser

    setup = add("setup", "configure hosts: modules, ACME account, web.config, certificate, IIS binding, task")
    setup.add_argument(
        "--dry-run", action="store_true", help="print the plan (exact cmdlets), change nothing"
    )
    setup.add_argument("--install-modules", action="store_true", help="Install-Module missing modules")
    renew = add("renew", "Submit-Renewal; when renewed: wait for OCSP, bind, verify")
    renew.add_argument("--force", action="store_true", help="renew even when not due (Submit-Renewal -Force)")
    status = add("status", "health verdict, certificate, binding, served certificate, OCSP and task per host")
    status.add_argument(
        "--warn-days",
        type=int,
        default=DEFAULT_WARN_DAYS,
        metavar="N",
        help=f"WARN when the certificate expires within N days ({DEFAULT_WARN_DAYS})",
    )
    status.add_argument(
        "--crit-days",
        type=int,
        default=DEFAULT_CRIT_DAYS,
        metavar="N",
        help=f"CRIT when the certificate expires within N days ({DEFAULT_CRIT_DAYS})",
    )
    revoke = add("revoke", "Revoke-PACertificate (asks for confirmation)")
    revoke.add_argument("--reason", default=None, help="RFC 5280 reason, e.g. keyCompromise, superseded")
    revoke.add_argument("--yes", action="store_true", help="do not ask for confirmation")


DESCRIPTIONS = {
    "setup": (
        "Bring each host to the desired state, idempotently: Posh-ACME modules, the ACME server and an EAB "
        "account, the http-01 web.config, New-PACertificate (WebRoot), the OCSP wait, Set-IISCertificate, "
        "a TLS check of what the site serves, and the hardened renewal script as a SYSTEM scheduled task. "
        "A second run changes nothing; --dry-run prints the exact cmdlets and changes nothing."
    ),
    "renew": (
        "Run Submit-Renewal for each host's order now (what the scheduled task does). When a certificate "
        "was renewed: wait until OCSP knows it, bind it in IIS and check what the site serves. Not due: "
        "nothing changes (--force renews anyway)."
    ),
    "status": (
        "Read each host's Posh-ACME order and certificate (SANs, NotAfter, RenewAfter, thumbprint), the "
        "renewal task (state and decoded last result) and probe what the site serves. Changes nothing. "
        "Exit 1 when a site cannot be probed or serves another certificate than Posh-ACME's."
    ),
    "revoke": (
        "Revoke each host's current certificate with Revoke-PACertificate. Asks for confirmation (type "
        "'yes'); --yes skips the question. Declining exits 1, no terminal without --yes exits 2; "
        "neither revokes anything."
    ),
}


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main_ops(args: argparse.Namespace) -> int:
    # imported here, not at the top: building the parser (--help, other commands) must not load them
    import json

    from poshbridge.api import transport_warnings
    from poshbridge.cli.common import inventory_base_dir, load_inventory_or_exit
    from poshbridge.cli.next_steps import setup_next_line
    from poshbridge.cli.ops_render import render
    from poshbridge.cli.progress import make_view
    from poshbridge.inventory.shard import shard_hosts
    from poshbridge.inventory.targets import TargetError, select_hosts
    from poshbridge.output import make_console
    from poshbridge.runner.context import Context
    from poshbridge.runner.fleet import run_operation
    from poshbridge.runner.interrupt import EXIT_INTERRUPTED
    from poshbridge.textsafe import safe_json_text

    console = make_console()
    err = make_console(stderr=True)
    inventory = load_inventory_or_exit(args, err)
    try:
        hosts = select_hosts(inventory, list(args.targets))
    except TargetError as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_USAGE
    shard = getattr(args, "shard", None)
    selected = len(hosts)
    hosts = shard_hosts(hosts, shard)
    op = str(args.op)
    # refuse insecure transports before anything connects; warn once per host when allowed
    refused = False
    for host in hosts:
        try:
            for warning in transport_warnings(host, insecure=bool(args.insecure)):
                err.print(warning, markup=False)
        except ValueError as exc:
            err.print(f"error: {exc}", markup=False)
            refused = True
    if refused:
        return EXIT_USAGE
    refused_revoke = _confirm_revoke(args, hosts, err) if op == "revoke" else None
    if refused_revoke is not None:
        return refused_revoke
    ctx = Context(
        command=op,
        insecure=bool(args.insecure),
        base_dir=inventory_base_dir(inventory),
        dry_run=bool(getattr(args, "dry_run", False)),
        install_modules=bool(getattr(args, "install_modules", False)),
        force=bool(getattr(args, "force", False)),
        reason=getattr(args, "reason", None),
        warn_days=int(getattr(args, "warn_days", DEFAULT_WARN_DAYS)),
        crit_days=int(getattr(args, "crit_days", DEFAULT_CRIT_DAYS)),
        retries=int(getattr(args, "retries", DEFAULT_RETRIES)),
        host_timeout=float(getattr(args, "host_timeout", DEFAULT_HOST_TIMEOUT)),
        shard=shard,
    )

    def notify(text: str) -> None:
        err.print(text, markup=False)

    fleet = run_operation(
        hosts,
        ctx,
        parallel=int(args.parallel),
        view=make_view(err, quiet=False),
        handle_signals=True,
        notify=notify,
    )
    runs = fleet.hosts
    if args.json:
        text = safe_json_text(json.dumps(fleet.to_json(), indent=2, ensure_ascii=False, default=str))
        sys.stdout.write(ctx.scrub(text) + "\n")
    else:
        render(console, runs, op=op, lang=str(args.lang), dry_run=ctx.dry_run, scrub=ctx.scrub)
        if shard is not None:
            console.print(shard_line(shard, len(hosts), selected), markup=False, soft_wrap=True)
        ok_names = {r.host for r in runs if r.ok}
        done = [h for h in hosts if h.name in ok_names]
        if op == "setup" and not ctx.dry_run and done and not fleet.interrupted:
            console.print(setup_next_line(done, [h.name for h in done]), markup=False, soft_wrap=True)
    if fleet.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if any(not r.ok for r in runs) else EXIT_OK


def _confirm_revoke(args: argparse.Namespace, hosts: Sequence[HostConfig], err: Console) -> int | None:
    """None when confirmed; else the exit code: 2 without a terminal (a usage error: --yes is
    missing), 1 when the person declined."""
    if args.yes:
        return None
    names = ", ".join(f"{h.name} ({h.order_name})" for h in hosts)
    if sys.stdin is None or not sys.stdin.isatty():
        err.print(
            "error: revoke needs confirmation and stdin is not a terminal;"
            f" re-run with --yes to revoke: {names}",
            markup=False,
        )
        return EXIT_USAGE
    err.print(
        f"Revoke the certificates of {names}? This cannot be undone. Type 'yes': ", end="", markup=False
    )
    answer = sys.stdin.readline().strip().lower()
    if answer != "yes":
        err.print("not revoked", markup=False)
        return EXIT_FAILED
    return None

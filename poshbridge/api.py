"""poshbridge as a library: load an inventory, pick hosts, run ``setup``/``renew``/``status``/``revoke``
or ``audit`` on them, and get typed results back. Nothing here prints; every result has ``to_json()``,
the same document ``poshbridge COMMAND --json`` prints.

Example::

    from poshbridge import api

    inventory = api.load_inventory("fleet.yaml")            # raises InventoryError on any error
    hosts = api.select_hosts(inventory, ["web", "db01"])    # names, groups, patterns or "all"
    options = api.run_options(inventory, dry_run=True)      # secrets/CA paths relative to fleet.yaml
    plan = api.setup(hosts, options=options, progress=lambda host, text: print(host, text))
    for run in plan.hosts:                                  # one HostRun per host, in host order
        print(run.host, run.outcome, run.summary)           # ok | failed | interrupted
    status = api.status(hosts, options=api.run_options(inventory))
    print(status.ok, status.to_json()["hosts"][0]["objects"]["status"]["health"])
    audit = api.audit(hosts, options=api.audit_options(inventory))
    print(audit.level, [v.level for v in audit.verdicts])  # OK | WARN | CRIT | UNKNOWN

- A host that fails (unreachable, refused, an ACME problem, ...) is data in its :class:`HostRun`
  (``ok``, ``outcome``, ``errors``); the functions raise only for a bad call (an unknown target, an
  inventory with errors).
- Secrets stay in memory: ``to_json()`` and every message are scrubbed with the run's one scrubber.
- ``session_factory(host, context, password)`` replaces the PowerShell Remoting connection (pypsrp's
  ``HostSession``) by anything that follows :class:`poshbridge.runner.session.Session`, e.g. a fake
  in tests. ``stop`` (a ``threading.Event``) stops a run the way Ctrl-C does: no new host or statement.
- Each run appends one line per host to the history file (``$POSHBRIDGE_STATE_DIR``), as the
  command does; ``RunOptions(history=False)`` does not.
- :func:`inventory_from_ansible_vars` builds the inventory from Ansible host variables (the Ansible
  collection's way in); ``select_hosts(..., shard=parse_shard("2/4"))`` keeps one worker's slice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from poshbridge.inventory.ansible import inventory_from_ansible_vars as _inventory_from_ansible_vars
from poshbridge.inventory.load import InventoryError
from poshbridge.inventory.load import load_inventory as _load_inventory
from poshbridge.inventory.model import HostConfig, Inventory
from poshbridge.inventory.shard import Shard, ShardError, parse_shard, shard_hosts, shard_of
from poshbridge.inventory.targets import TargetError
from poshbridge.inventory.targets import select_hosts as _select_hosts
from poshbridge.remote.outcome import InsecureConfigError, transport_warnings
from poshbridge.runner.audit import AuditOptions, AuditRun, run_audit
from poshbridge.runner.context import Context, RunOptions
from poshbridge.runner.executor import FleetView, NullView
from poshbridge.runner.fleet import run_operation
from poshbridge.runner.results import ErrorInfo, FleetRun, HostRun
from poshbridge.runner.session import Session, SessionFactory

__all__ = [
    "AuditOptions",
    "AuditRun",
    "ErrorInfo",
    "FleetRun",
    "HostConfig",
    "HostRun",
    "InsecureConfigError",
    "Inventory",
    "InventoryError",
    "Progress",
    "RunOptions",
    "Session",
    "SessionFactory",
    "Shard",
    "ShardError",
    "TargetError",
    "audit",
    "audit_options",
    "inventory_base_dir",
    "inventory_from_ansible_vars",
    "load_inventory",
    "parse_shard",
    "renew",
    "revoke",
    "run_options",
    "select_hosts",
    "setup",
    "shard_hosts",
    "shard_of",
    "status",
    "transport_warnings",
]

Progress = Callable[[str, str], None]
"""``progress(host, text)``: what a host is doing now ("reading facts", "applying: ...", and at the end
``done: <summary>`` or ``FAILED: <summary>``). Called from the worker threads."""


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate an inventory file. Raises :class:`InventoryError` (``problems``: each with its
    key path) when it has an error; warnings stay on ``inventory.warnings``."""
    return _load_inventory(path)


def inventory_from_ansible_vars(
    hostvars: Mapping[str, Mapping[str, Any]],
    *,
    base_dir: str | Path,
    source: str = "<ansible>",
    groups: Mapping[str, Sequence[str]] | None = None,
) -> Inventory:
    """The inventory of Ansible host variables: host name → that host's merged variables (Ansible's
    ``hostvars[inventory_hostname]``). The connection comes from ``ansible_host``, ``ansible_port``,
    ``ansible_user``, ``ansible_password`` and ``ansible_psrp_*`` (as the psrp connection plugin reads
    them), poshbridge's settings from ``poshbridge_*`` (README: "Ansible inventories"). Validated as
    :func:`load_inventory` validates a file; raises :class:`InventoryError` when there is an error, each
    problem located as ``host: variable`` (``host01: poshbridge_domains[0]``), never with a secret's
    value. A literal password (for example vault-decrypted) stays in memory, masked in every output.
    Groups come from ``groups`` (group → host names), else from each host's ``group_names``; relative
    secret files and CA bundles are resolved against ``base_dir``."""
    inventory = _inventory_from_ansible_vars(hostvars, base_dir=base_dir, source=source, groups=groups)
    if inventory.errors:
        raise InventoryError(inventory.problems, source=inventory.source)
    return inventory


def select_hosts(
    inventory: Inventory, targets: Sequence[str], *, shard: Shard | None = None
) -> list[HostConfig]:
    """The hosts ``targets`` name (host names, group names, glob patterns, ``all``), in inventory order.
    Raises :class:`TargetError` for a target that matches nothing. ``shard`` (``parse_shard("2/4")``)
    keeps this worker's slice of them (:func:`shard_hosts`); pass it to ``run_options(shard=...)`` too,
    so the results and the history name it."""
    return shard_hosts(_select_hosts(inventory, list(targets)), shard)


def inventory_base_dir(inventory: Inventory) -> Path:
    """The folder relative secret files and CA bundles are resolved against (the inventory's)."""
    return inventory.resolved_base_dir()


def run_options(inventory: Inventory | None = None, **changes: Any) -> RunOptions:
    """:class:`RunOptions` with ``base_dir`` set from ``inventory`` and the given fields changed."""
    base = RunOptions() if inventory is None else RunOptions(base_dir=inventory_base_dir(inventory))
    return replace(base, **changes)


def audit_options(inventory: Inventory | None = None, **changes: Any) -> AuditOptions:
    """:class:`AuditOptions` with ``base_dir`` set from ``inventory`` and the given fields changed."""
    base = AuditOptions() if inventory is None else AuditOptions(base_dir=inventory_base_dir(inventory))
    return replace(base, **changes)


class _ProgressView:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def start(self, host: str) -> None:
        self.progress(host, "connecting")

    def update(self, host: str, text: str) -> None:
        self.progress(host, text)

    def finish(self, host: str, ok: bool, text: str) -> None:
        self.progress(host, f"{'done' if ok else 'FAILED'}: {text}")

    def close(self) -> None:
        return None


def _run(
    command: str,
    hosts: Sequence[HostConfig],
    options: RunOptions | None,
    progress: Progress | None,
    session_factory: SessionFactory | None,
    stop: threading.Event | None,
    **hooks: Any,
) -> FleetRun:
    chosen = options or RunOptions()
    ctx = Context.from_options(command, chosen, session_factory=session_factory, **hooks)
    if stop is not None:
        ctx.stop = stop
    view: FleetView = NullView() if progress is None else _ProgressView(progress)
    return run_operation(list(hosts), ctx, parallel=chosen.parallel, view=view, history=chosen.history)


def setup(
    hosts: Sequence[HostConfig],
    *,
    options: RunOptions | None = None,
    progress: Progress | None = None,
    session_factory: SessionFactory | None = None,
    stop: threading.Event | None = None,
) -> FleetRun:
    """Bring each host to the desired state (modules, ACME account, web.config, certificate, OCSP wait,
    IIS binding, TLS check, renewal task); ``options.dry_run`` plans and changes nothing."""
    return _run("setup", hosts, options, progress, session_factory, stop)


def renew(
    hosts: Sequence[HostConfig],
    *,
    options: RunOptions | None = None,
    progress: Progress | None = None,
    session_factory: SessionFactory | None = None,
    stop: threading.Event | None = None,
) -> FleetRun:
    """Submit-Renewal now (``options.force``: even when not due); when renewed: OCSP wait, bind, verify."""
    return _run("renew", hosts, options, progress, session_factory, stop)


def status(
    hosts: Sequence[HostConfig],
    *,
    options: RunOptions | None = None,
    progress: Progress | None = None,
    session_factory: SessionFactory | None = None,
    stop: threading.Event | None = None,
) -> FleetRun:
    """Each host's health verdict (``objects["status"]``, ``objects["health"]``); changes nothing."""
    return _run("status", hosts, options, progress, session_factory, stop)


def revoke(
    hosts: Sequence[HostConfig],
    *,
    options: RunOptions | None = None,
    progress: Progress | None = None,
    session_factory: SessionFactory | None = None,
    stop: threading.Event | None = None,
) -> FleetRun:
    """Revoke-PACertificate for each host's order (``options.reason``). Asks nothing: the caller has
    confirmed."""
    return _run("revoke", hosts, options, progress, session_factory, stop)


def audit(
    hosts: Sequence[HostConfig],
    *,
    options: AuditOptions | None = None,
    progress: Progress | None = None,
    session_factory: SessionFactory | None = None,
) -> AuditRun:
    """Collect each host's state and renewal transcripts and judge it (the health model ``status``
    uses too). ``progress`` is told when each host is done."""
    chosen = options or AuditOptions()
    result = run_audit(list(hosts), chosen, session_factory)
    if progress is not None:
        for verdict in result.verdicts:
            progress(verdict.host, f"{verdict.level}: {verdict.summary}")
    return result

"""The facts: what the ONE read batch asks a host, and what its outputs say."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from poshbridge.audit import events
from poshbridge.generate import web_config
from poshbridge.hoststate.binding import find_binding  # the one binding matcher
from poshbridge.inventory.model import HostConfig
from poshbridge.plan.setup.model import _stmt
from poshbridge.poshacme import calls
from poshbridge.poshacme.model import (
    IISBinding,
    ModuleInfo,
    PAAccount,
    PACertificate,
    PAOrder,
    PAServer,
    ScheduledTaskInfo,
    dicts,
    get_field,
)
from poshbridge.powershell.command import Batch, Statement

# ----- facts -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetupFacts:
    """What the read batch found. ``None`` = not known (the statement did not run or failed)."""

    modules: tuple[ModuleInfo, ...] | None = None
    home_exists: bool | None = None
    server: PAServer | None = None
    accounts: tuple[PAAccount, ...] = ()
    current_account: PAAccount | None = None
    orders: tuple[PAOrder, ...] = ()
    certificate: PACertificate | None = None
    web_config: str | None = None
    script: str | None = None
    bindings: tuple[IISBinding, ...] = ()
    all_bindings: tuple[IISBinding, ...] | None = None  # every site's (None: not read)
    home_sddl: str | None = None  # Get-Acl of POSHACME_HOME (its Sddl property)
    ps_edition: str | None = None  # the endpoint's PSEdition (Desktop = 5.1, Core = PowerShell 7)
    task: ScheduledTaskInfo | None = None
    task_xml: str | None = None
    poshacme_read: bool = False  # the Posh-ACME reads ran
    task_read: bool = False
    event_source: bool | None = None  # the poshbridge event-log source is registered (None: not read)

    def order_named(self, name: str) -> PAOrder | None:
        for order in self.orders:
            if (order.name or "").lower() == name.lower():
                return order
        return None

    def binding_for(self, host: HostConfig) -> IISBinding | None:
        return find_binding(
            self.bindings,
            port=host.iis.port,
            ip_address=host.iis.ip_address,
            host_header=host.iis.host_header,
        )


def challenge_dir(host: HostConfig) -> str:
    return web_config.challenge_dir(host.webroot)


def web_config_path(host: HostConfig) -> str:
    return web_config.challenge_web_config_path(host.webroot)


# Labels of the read statements (also used to read outputs back).
R_MODULES = "read:modules"
R_HOME = "read:home"
R_HOME_ACL = "read:home-acl"
R_WEBCONFIG = "read:web.config"
R_SCRIPT = "read:script"
R_BINDINGS = "read:bindings"
R_ALL_BINDINGS = "read:all-bindings"
R_TASK = "read:task"
R_TASK_INFO = "read:task-info"
R_ENV = "env:POSHACME_HOME"
R_SERVER = "read:server"
R_ACCOUNTS = "read:accounts"
R_ACCOUNT = "read:account"
R_ORDERS = "read:orders"
R_CERT = "read:certificate"
R_TASK_XML = "read:task-xml"
R_EVENT_SOURCE = "read:event-source"


def env_statement(host: HostConfig) -> Statement:
    return _stmt(calls.set_poshacme_home(host.acme.poshacme_home), label=R_ENV)


def poshacme_read_statements(host: HostConfig) -> list[Statement]:
    return [
        env_statement(host),
        _stmt(calls.get_pa_server(), label=R_SERVER),
        _stmt(calls.get_pa_accounts(), label=R_ACCOUNTS),
        _stmt(calls.get_pa_account_current(), label=R_ACCOUNT),
        _stmt(calls.get_pa_orders(), label=R_ORDERS),
        _stmt(calls.get_pa_certificate(host.order_name), label=R_CERT),
    ]


def read_statements(host: HostConfig) -> list[Statement]:
    """Everything setup/status needs to know, in one batch. A Posh-ACME ``throw`` (no server or no
    account yet) does not stop a batch on Windows: the error is recorded on its own statement and the
    next statement runs (PowerShell.cs BatchInvocationWorkItem). Export-ScheduledTask last."""
    r = host.renewal
    return [
        _stmt(calls.get_modules(), label=R_MODULES),
        _stmt(calls.test_path(host.acme.poshacme_home), label=R_HOME),
        _stmt(calls.get_acl(host.acme.poshacme_home), label=R_HOME_ACL),
        _stmt(calls.get_content_raw(web_config_path(host)), label=R_WEBCONFIG),
        _stmt(calls.get_content_raw(r.script_path), label=R_SCRIPT),
        _stmt(calls.get_iis_site_bindings(host.iis.site), label=R_BINDINGS),
        _stmt(*calls.get_all_site_bindings(), label=R_ALL_BINDINGS),
        _stmt(calls.get_scheduled_task(name=r.task_name, path=r.task_path), label=R_TASK),
        _stmt(calls.get_scheduled_task_info(name=r.task_name, path=r.task_path), label=R_TASK_INFO),
        _stmt(events.get_event_source(), label=R_EVENT_SOURCE),
        *poshacme_read_statements(host),
        _stmt(calls.export_scheduled_task(name=r.task_name, path=r.task_path), label=R_TASK_XML),
    ]


def read_batch(host: HostConfig) -> Batch:
    return Batch(read_statements(host))


def _text(values: Sequence[Any]) -> str | None:
    parts = [v for v in values if isinstance(v, str)]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "\r\n".join(parts)


def facts_from_outputs(
    outputs: Mapping[str, Sequence[Any]], ran: Mapping[str, bool], previous: SetupFacts | None = None
) -> SetupFacts:
    """Facts from the outputs of :func:`read_statements` (label → output list; ``ran`` label → bool).

    Labels that did not run keep the ``previous`` value (when re-reading after an apply batch).
    """
    base = previous or SetupFacts()
    changes: dict[str, Any] = {}

    def did(label: str) -> bool:
        return bool(ran.get(label))

    if did(R_MODULES):
        changes["modules"] = tuple(ModuleInfo.from_obj(o) for o in dicts(outputs.get(R_MODULES, [])))
    if did(R_HOME):
        values = [v for v in outputs.get(R_HOME, []) if isinstance(v, bool)]
        changes["home_exists"] = bool(values and values[0])
    if did(R_HOME_ACL):
        acls = dicts(outputs.get(R_HOME_ACL, []))
        sddl = get_field(acls[0], "Sddl") if acls else None
        changes["home_sddl"] = sddl if isinstance(sddl, str) else None
    if did(R_WEBCONFIG):
        changes["web_config"] = _text(outputs.get(R_WEBCONFIG, []))
    if did(R_SCRIPT):
        changes["script"] = _text(outputs.get(R_SCRIPT, []))
    if did(R_BINDINGS):
        changes["bindings"] = tuple(IISBinding.from_obj(o) for o in dicts(outputs.get(R_BINDINGS, [])))
    if did(R_ALL_BINDINGS):
        changes["all_bindings"] = tuple(
            IISBinding.from_obj(o) for o in dicts(outputs.get(R_ALL_BINDINGS, []))
        )
    if did(R_TASK):
        tasks = dicts(outputs.get(R_TASK, []))
        infos = dicts(outputs.get(R_TASK_INFO, []))
        changes["task"] = (
            ScheduledTaskInfo.from_objs(tasks[0], infos[0] if infos else None) if tasks else None
        )
        changes["task_read"] = True
    if did(R_TASK_XML):
        changes["task_xml"] = _text(outputs.get(R_TASK_XML, []))
    if did(R_EVENT_SOURCE):
        changes["event_source"] = events.source_registered(outputs.get(R_EVENT_SOURCE, []))
    if did(R_SERVER):
        servers = dicts(outputs.get(R_SERVER, []))
        changes["server"] = PAServer.from_obj(servers[0]) if servers else None
        changes["poshacme_read"] = True
        # the rest of the Posh-ACME reads: absent when a statement threw (e.g. no server yet)
        changes["accounts"] = tuple(PAAccount.from_obj(o) for o in dicts(outputs.get(R_ACCOUNTS, [])))
        current = dicts(outputs.get(R_ACCOUNT, []))
        changes["current_account"] = PAAccount.from_obj(current[0]) if current else None
        changes["orders"] = tuple(PAOrder.from_obj(o) for o in dicts(outputs.get(R_ORDERS, [])))
        certs = dicts(outputs.get(R_CERT, []))
        changes["certificate"] = PACertificate.from_obj(certs[0]) if certs else None
    return replace(base, **changes)

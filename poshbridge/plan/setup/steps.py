"""The steps of setup, one decision each: facts (and what is wanted) -> a Step.

:func:`plan_setup` runs them in ``SETUP_STEP_ORDER``; a step whose decision needs what an earlier
step makes true is ``pending`` until then (:func:`poshacme_steps`). :func:`plan_binding` decides
the IIS binding after the certificate and the OCSP wait.
"""

from __future__ import annotations

from poshbridge.audit import events
from poshbridge.inventory.model import HostConfig
from poshbridge.plan.setup.compare import (
    home_acl_drift,
    module_gaps,
    normalize_text,
    reusable_account,
    reusable_order,
    script_file_bytes,
    server_matches,
    task_documents_equal,
)
from poshbridge.plan.setup.facts import SetupFacts, challenge_dir, env_statement, web_config_path
from poshbridge.plan.setup.model import (
    SETUP_STEP_ORDER,
    STEP_ACCOUNT,
    STEP_BIND,
    STEP_CERT,
    STEP_EVENTS,
    STEP_HOME,
    STEP_HOME_ACL,
    STEP_MODULES,
    STEP_SCRIPT,
    STEP_SERVER,
    STEP_TASK,
    STEP_WEBCONFIG,
    Desired,
    SetupPlan,
    Step,
    _stmt,
)
from poshbridge.plan.setup.statements import _new_account, _new_certificate, _set_server, bind_statements
from poshbridge.poshacme import calls
from poshbridge.powershell.command import SWITCH, Cmd


def plan_setup(
    host: HostConfig, facts: SetupFacts, desired: Desired, *, install_modules: bool = False
) -> SetupPlan:
    """Steps up to the certificate (the runner adds OCSP, binding and TLS verification after)."""
    plan = SetupPlan()
    add = plan.steps.append

    modules = modules_step(facts, install_modules=install_modules)
    add(modules)
    if modules.status == "failed":
        plan.blocked = True
        for name in SETUP_STEP_ORDER[1:]:
            add(Step(name, "skipped", "needs the Posh-ACME modules"))
        return plan
    # pending (not read) or being installed: Posh-ACME cmdlets are decided after the install
    modules_ready = modules.status == "unchanged"

    add(home_step(host, facts, modules_ready=modules_ready))
    add(home_acl_step(host, facts))
    add(web_config_step(host, facts, desired))
    add(script_step(host, facts, desired))
    add(task_step(host, facts, desired))
    add(event_source_step(facts))
    plan.steps.extend(poshacme_steps(host, facts, desired, modules_ready=modules_ready))
    return plan


def modules_step(facts: SetupFacts, *, install_modules: bool) -> Step:
    """1. modules (IISAdministration >= 1.1.0.0 too: Set-IISCertificate throws without it, AFTER issuance)"""
    missing = module_gaps(facts.modules or ())
    if facts.modules is None:
        return Step(STEP_MODULES, "pending", "module list not read yet")
    if not missing:
        return Step(
            STEP_MODULES, "unchanged", "Posh-ACME, Posh-ACME.Deploy and IISAdministration are installed"
        )
    if install_modules:
        return Step(
            STEP_MODULES,
            "changed",
            "install " + ", ".join(m for m, _why in missing) + " for all users"
            " (TLS 1.2 for this session and the NuGet provider first)",
            (
                _stmt(calls.enable_tls12(), label="install:tls12"),
                _stmt(calls.install_nuget_provider(), label="install:nuget"),
                *(_stmt(calls.install_module(m), label=f"install:{m}") for m, _why in missing),
            ),
        )
    return Step(
        STEP_MODULES,
        "failed",
        "missing module(s): "
        + ", ".join(why for _m, why in missing)
        + " — install them (Install-Module -Name <module> -Scope AllUsers) or run setup"
        " with --install-modules",
    )


def home_step(host: HostConfig, facts: SetupFacts, *, modules_ready: bool) -> Step:
    """2. POSHACME_HOME (machine-wide, shared with the SYSTEM task)"""
    home = host.acme.poshacme_home
    if facts.home_exists:
        return Step(STEP_HOME, "unchanged", f"{home} exists")
    return Step(
        STEP_HOME,
        "changed",
        f"create {home} (Posh-ACME state shared by this session and the SYSTEM task)",
        (
            _stmt(calls.new_directory(home), label="home:mkdir"),
            env_statement(host),
            # Posh-ACME reads POSHACME_HOME when it is imported: re-import now that it exists
            _stmt(Cmd.of("Import-Module", Name="Posh-ACME", Force=SWITCH), label="home:import")
            if modules_ready
            else _stmt(calls.test_path(home), label="home:check"),
        ),
    )


def home_acl_step(host: HostConfig, facts: SetupFacts) -> Step:
    """2b. POSHACME_HOME's ACL: SYSTEM + Administrators only, nothing inherited (read back every run)"""
    home = host.acme.poshacme_home
    drift = home_acl_drift(facts.home_sddl) if facts.home_exists else "created now"
    if drift is None:
        return Step(
            STEP_HOME_ACL, "unchanged", f"{home}: SYSTEM and Administrators only, inheritance removed"
        )
    return Step(
        STEP_HOME_ACL,
        "changed",
        f"{home} ({drift}): remove inheritance, grant SYSTEM and Administrators full control only",
        (_stmt(*calls.set_home_acl(home), label="home:acl"),),
    )


def web_config_step(host: HostConfig, facts: SetupFacts, desired: Desired) -> Step:
    """3. web.config (IIS MIME map for extension-less challenge files)"""
    wc_path = web_config_path(host)
    if normalize_text(facts.web_config) == normalize_text(desired.web_config):
        return Step(STEP_WEBCONFIG, "unchanged", f"{wc_path} is in place")
    reason = "missing" if facts.web_config is None else "differs"
    return Step(
        STEP_WEBCONFIG,
        "changed",
        f"{wc_path} {reason}: write the MIME map for extension-less files",
        (
            _stmt(calls.new_directory(challenge_dir(host)), label="web.config:mkdir"),
            _stmt(calls.set_content(wc_path, desired.web_config), label="web.config:write"),
        ),
    )


def script_step(host: HostConfig, facts: SetupFacts, desired: Desired) -> Step:
    """4. renewal script"""
    script_path = host.renewal.script_path
    if normalize_text(facts.script) == normalize_text(desired.script):
        return Step(STEP_SCRIPT, "unchanged", f"{script_path} is up to date")
    return Step(
        STEP_SCRIPT,
        "changed",
        f"{script_path} " + ("missing" if facts.script is None else "differs") + ": upload",
        (
            _stmt(calls.new_directory(calls.parent_dir(script_path)), label="script:mkdir"),
            _stmt(calls.new_directory(host.renewal.log_dir), label="logs:mkdir"),
            # bytes with a BOM whatever the endpoint: a PowerShell 7 endpoint writes UTF-8 WITHOUT
            # a BOM, which the task's powershell.exe 5.1 then reads in the ANSI code page
            _stmt(
                calls.set_content_bytes(
                    script_path, script_file_bytes(desired.script), edition=facts.ps_edition
                ),
                label="script:write",
            ),
        ),
    )


def task_step(host: HostConfig, facts: SetupFacts, desired: Desired) -> Step:
    """5. scheduled task"""
    r = host.renewal
    if facts.task is not None and task_documents_equal(desired.task_xml, facts.task_xml):
        return Step(STEP_TASK, "unchanged", f"task {r.task_path}{r.task_name} is registered as generated")
    why = "not registered" if facts.task is None else "differs from the generated XML"
    return Step(
        STEP_TASK,
        "changed",
        f"task {r.task_path}{r.task_name} {why}: register",
        (
            _stmt(
                calls.register_scheduled_task(name=r.task_name, path=r.task_path, xml=desired.task_xml),
                label="task:register",
            ),
        ),
    )


def event_source_step(facts: SetupFacts) -> Step:
    """5b. the event-log source the renewal script writes its one event per run to"""
    if facts.event_source:
        where = f"{events.EVENT_SOURCE} is registered in the {events.EVENT_LOG} log"
        return Step(STEP_EVENTS, "unchanged", f"event source {where}")
    if facts.event_source is None:
        return Step(STEP_EVENTS, "pending", "the event-log sources were not read")
    return Step(
        STEP_EVENTS,
        "changed",
        f"event source {events.EVENT_SOURCE} not registered: register it in {events.EVENT_LOG}",
        (_stmt(events.new_event_source(), label="events:new-source"),),
    )


def poshacme_steps(
    host: HostConfig, facts: SetupFacts, desired: Desired, *, modules_ready: bool
) -> list[Step]:
    """6.-8. Posh-ACME: server, account, certificate; each decided once the one before is in place."""
    env = env_statement(host)
    if not (modules_ready and facts.home_exists and facts.poshacme_read):
        home = host.acme.poshacme_home
        why = "decided once " + ("the modules are installed" if not modules_ready else f"{home} exists")
        return [
            Step(STEP_SERVER, "pending", why, (env, _stmt(_set_server(host), label="server:set"))),
            Step(STEP_ACCOUNT, "pending", why, (_stmt(_new_account(host, desired), label="account:new"),)),
            Step(
                STEP_CERT, "pending", why, (_stmt(_new_certificate(host, desired), label="certificate:new"),)
            ),
        ]
    server = server_step(host, facts)
    if server.status == "changed":
        return [
            server,
            Step(STEP_ACCOUNT, "pending", "decided once the ACME server is selected",
                 (_stmt(_new_account(host, desired), label="account:new"),)),
            Step(STEP_CERT, "pending", "decided once the account is known",
                 (_stmt(_new_certificate(host, desired), label="certificate:new"),)),
        ]  # fmt: skip
    account = account_step(host, facts, desired)
    if account.status == "failed":
        return [server, account, Step(STEP_CERT, "skipped", "needs an ACME account")]
    return [server, account, certificate_step(host, facts, desired)]


def server_step(host: HostConfig, facts: SetupFacts) -> Step:
    """6. the ACME server (selected, telemetry off)"""
    if server_matches(facts, host):
        return Step(STEP_SERVER, "unchanged", f"ACME server is {host.acme.directory} (telemetry off)")
    current = facts.server.location if facts.server else "none"
    return Step(
        STEP_SERVER,
        "changed",
        f"ACME server {current} → {host.acme.directory}",
        (env_statement(host), _stmt(_set_server(host), label="server:set")),
    )


def account_step(host: HostConfig, facts: SetupFacts, desired: Desired) -> Step:
    """7. the ACME account: a valid one with the inventory's contacts is reused, else one is created
    with EAB (``failed`` without EAB credentials)."""
    env = env_statement(host)
    account = reusable_account(facts, host)
    if account is not None:
        selected = facts.current_account
        if selected is not None and selected.id == account.id:
            return Step(
                STEP_ACCOUNT, "unchanged", f"account {account.id} is valid with the inventory's contacts"
            )
        return Step(
            STEP_ACCOUNT,
            "changed",
            f"switch to existing account {account.id} (valid, same contacts)",
            (env, _stmt(calls.set_pa_account(account.id or ""), label="account:select")),
        )
    if desired.eab_hmac is None or desired.eab_kid is None:
        return Step(
            STEP_ACCOUNT,
            "failed",
            "no valid account with the inventory's contacts and no EAB credentials to create one:"
            + (f" {desired.eab_error}" if desired.eab_error else " set acme.eab_kid and acme.eab_hmac"),
        )
    return Step(
        STEP_ACCOUNT,
        "changed",
        "no valid account with contacts " + ", ".join(host.acme.contacts) + ": create one with EAB",
        (env, _stmt(_new_account(host, desired), label="account:new")),
    )


def certificate_step(host: HostConfig, facts: SetupFacts, desired: Desired) -> Step:
    """8. the certificate: a valid order with the same names and a certificate is kept (never under an
    account created in this round: its orders are new)."""
    account_new = reusable_account(facts, host) is None
    order = None if account_new else reusable_order(facts, host)
    cert = facts.certificate
    if order is not None and cert is not None and cert.thumbprint:
        return Step(
            STEP_CERT,
            "unchanged",
            f"order {order.name} is valid for {', '.join(order.all_names)} (certificate {cert.thumbprint})",
        )
    existing = facts.order_named(host.order_name)
    why = "no order" if existing is None else f"order {existing.name} is {existing.status or 'unknown'}"
    if existing is not None and not existing.same_names(host.domains):
        why = f"order {existing.name} has names {', '.join(existing.all_names)}"
    return Step(
        STEP_CERT,
        "changed",
        f"{why}: request a certificate for {', '.join(host.domains)} (http-01, WebRoot)",
        (env_statement(host), _stmt(_new_certificate(host, desired), label="certificate:new"),
         _stmt(calls.get_pa_certificate(host.order_name), label="certificate:get")),
    )  # fmt: skip


# ----- binding (after the certificate and the OCSP wait) -------------------------------------------------


def old_cert_shared(host: HostConfig, facts: SetupFacts) -> bool | None:
    """Whether the certificate the binding serves now is used by any OTHER binding (any site).

    ``-RemoveOldCert`` deletes the replaced certificate from LocalMachine\\My unconditionally
    (Posh-ACME.Deploy Private/Remove-OldCert.ps1): a binding of another site (or another host header)
    still using it would lose its certificate. None when every site's bindings were not read."""
    binding = facts.binding_for(host)
    old = (binding.certificate_hash or "").upper() if binding is not None else ""
    if not old:
        return False
    if facts.all_bindings is None:
        return None
    users = sum(1 for b in facts.all_bindings if (b.certificate_hash or "").upper() == old)
    return users > 1  # the binding being replaced is one of them


def binding_text(host: HostConfig) -> str:
    """``site https *:443`` (``... host www.example.jp`` with a host header): never IIS's raw
    ``*:443:`` binding information, whose trailing colon reads as a typo next to other text."""
    text = f"{host.iis.site} https {host.iis.ip_address}:{host.iis.port}"
    return text + (f" host {host.iis.host_header}" if host.iis.host_header else "")


def plan_binding(host: HostConfig, facts: SetupFacts) -> Step:
    cert = facts.certificate
    if cert is None or not cert.thumbprint:
        return Step(STEP_BIND, "skipped", "no certificate to bind")
    binding = facts.binding_for(host)
    where = binding_text(host)
    if binding is not None and binding.certificate_hash == cert.thumbprint:
        return Step(STEP_BIND, "unchanged", f"{where} serves {cert.thumbprint}")
    current = "no https binding" if binding is None else binding.certificate_hash or "no certificate"
    reason = f"{where}: {current} → {cert.thumbprint}"
    remove_old = host.iis.remove_old_cert
    if remove_old:
        shared = old_cert_shared(host, facts)
        if shared is not False:
            remove_old = False
            reason += (
                f" (keeping {current} in LocalMachine\\My: another binding uses it)"
                if shared
                else " (old certificate kept: the other sites' bindings could not be read)"
            )
    return Step(STEP_BIND, "changed", reason, bind_statements(host, remove_old_cert=remove_old))

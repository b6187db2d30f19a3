"""The Posh-ACME server, account and order cmdlets as the lab registers them (Set-/Get-PAServer,
New-/Get-/Set-PAAccount, Get-/Set-PAOrder): their parameters as each ``Public/*.ps1`` declares them, their
selection of servers, accounts and orders, and their messages. The work behind them is in ``store.py``,
``objects.py`` and ``acme.py``; the certificate cmdlets are in ``certificates.py``.
"""

from __future__ import annotations

from typing import Any

from poshbridge.lab.acme_client import AcmeProblem, b64url
from poshbridge.lab.cmdlets.poshacme.acme import (
    WELL_KNOWN,
    _mailto,
    _refresh_account,
    _refresh_order,
    _require_account,
    _require_server,
    _revoke,
    _session,
    _throw_problem,
    new_account,
    set_server,
)
from poshbridge.lab.cmdlets.poshacme.objects import _account_object, _order_object, _server_object
from poshbridge.lab.cmdlets.poshacme.store import MODULE, Store, _find_orders, current_order
from poshbridge.lab.engine.objects import PA_ACCOUNT, PA_ORDER, PA_SERVER
from poshbridge.lab.engine.registry import Invocation, Param, cmdlet
from poshbridge.lab.engine.values import secure_text, to_python

ORDER_FIELDS_SET = (
    "Plugin",
    "PluginArgs",
    "LifetimeDays",
    "DnsAlias",
    "Subject",
    "FriendlyName",
    "PfxPass",
    "Install",
    "DnsSleep",
    "ValidationTimeout",
    "PreferredChain",
    "AlwaysNewKey",
    "OCSPMustStaple",
    "UseSerialValidation",
)
# ----- Set-PAServer / Get-PAServer -----------------------------------------------------------------
_SERVER_FLAGS = (
    "SkipCertificateCheck",
    "DisableTelemetry",
    "UseAltAccountRefresh",
    "DisableARI",
    "IgnoreContact",
)


@cmdlet(
    "Set-PAServer",
    [
        Param("DirectoryUrl", position=0, aliases=("location",), from_pipeline=True, by_property_name=True),
        Param("Name", by_property_name=True),
        Param("NewName"),
        *[Param(f, "switch") for f in _SERVER_FLAGS],
        Param("NoRefresh", "switch"),
        Param("NoSwitch", "switch"),
    ],
    module=MODULE,
)
def set_pa_server(ctx: Invocation) -> None:
    store = Store(ctx)
    flags = {f: ctx.switch(f) for f in _SERVER_FLAGS if ctx.has(f)}
    set_server(
        ctx,
        store,
        ctx.get("DirectoryUrl"),
        name=ctx.get("Name"),
        no_switch=ctx.switch("NoSwitch"),
        no_refresh=ctx.switch("NoRefresh"),
        flags=flags,
    )


@cmdlet(
    "Get-PAServer",
    [
        Param("DirectoryUrl", position=0, aliases=("location",), from_pipeline=True, by_property_name=True),
        Param("Name", by_property_name=True),
        Param("List", "switch"),
        Param("Refresh", "switch"),
        Param("Quiet", "switch"),
    ],
    output_type=PA_SERVER,
    module=MODULE,
)
def get_pa_server(ctx: Invocation) -> None:
    store = Store(ctx)
    if ctx.switch("List"):
        for name, data in store.servers():
            ctx.output(_server_object(store, name, data))
        return
    found: tuple[str, dict[str, Any]] | None
    if ctx.get("DirectoryUrl"):
        url = WELL_KNOWN.get(str(ctx.get("DirectoryUrl")).upper(), str(ctx.get("DirectoryUrl")))
        found = store.server_by_url(url)
    elif ctx.get("Name"):
        found = next((s for s in store.servers() if s[0].lower() == str(ctx.get("Name")).lower()), None)
    else:
        found = store.current_server()
    if found is None:
        return
    if ctx.switch("Refresh"):
        set_server(ctx, store, str(found[1]["location"]), no_switch=True)
        found = store.server_by_url(str(found[1]["location"])) or found
    ctx.output(_server_object(store, *found))


# ----- accounts ------------------------------------------------------------------------------------
# Posh-ACME Public/New-PAAccount.ps1, param block: DefaultParameterSetName='Generate'; -KeyLength
# (position 1) only in 'Generate'; -KeyFile (mandatory) and -OnlyReturnExisting only in 'ImportKey'.
@cmdlet(
    "New-PAAccount",
    [
        Param("Contact", "string[]", position=0),
        Param("KeyLength", position=1, aliases=("AccountKeyLength",), sets=("Generate",)),
        Param("KeyFile", sets=("ImportKey",), mandatory=True),
        Param("ID", aliases=("Name",)),
        Param("AcceptTOS", "switch"),
        Param("OnlyReturnExisting", "switch", sets=("ImportKey",)),
        Param("Force", "switch"),
        Param("ExtAcctKID"),
        Param("ExtAcctHMACKey"),
        Param("ExtAcctAlgorithm", choices=("HS256", "HS384", "HS512")),
        Param("UseAltPluginEncryption", "switch"),
        Param("ExtraParams", "remaining"),
    ],
    output_type=PA_ACCOUNT,
    module=MODULE,
    default_set="Generate",
    should_process=True,
)
def new_pa_account(ctx: Invocation) -> None:
    if ctx.has("KeyFile"):
        ctx.throw_script("The poshbridge lab does not emulate importing an account key (-KeyFile).")
    store = Store(ctx)
    acct = new_account(
        ctx,
        store,
        contacts=ctx.get("Contact"),
        key_length=str(ctx.get("KeyLength") or "ec-256"),
        eab_kid=ctx.get("ExtAcctKID"),
        eab_hmac=ctx.get("ExtAcctHMACKey"),
        eab_alg=str(ctx.get("ExtAcctAlgorithm") or "HS256"),
        accept_tos=ctx.switch("AcceptTOS"),
        force=ctx.switch("Force"),
        account_id=ctx.get("ID"),
        only_existing=ctx.switch("OnlyReturnExisting"),
    )
    server_name, _ = _require_server(ctx, store)
    ctx.output(_account_object(store, server_name, acct))


@cmdlet(
    "Get-PAAccount",
    [
        Param("ID", position=0, aliases=("Name",), from_pipeline=True, by_property_name=True),
        Param("List", "switch"),
        Param("Status", "string[]", choices=("valid", "deactivated", "revoked")),
        Param("Contact", "string[]"),
        Param("KeyLength", "string[]", aliases=("AccountKeyLength",)),
        Param("Refresh", "switch"),
        Param("ExtraParams", "remaining"),
    ],
    output_type=PA_ACCOUNT,
    module=MODULE,
)
def get_pa_account(ctx: Invocation) -> None:
    store = Store(ctx)
    current = store.current_server()
    if current is None:
        # Posh-ACME Public/Get-PAAccount.ps1, Begin: `if (-not ($server = Get-PAServer)) { try { throw
        # "No ACME server configured. Run Set-PAServer first." } catch { $PSCmdlet.ThrowTerminatingError(
        # $_) } }` - also with -List.
        ctx.throw_script("No ACME server configured. Run Set-PAServer first.")
    server_name, server = current
    if ctx.switch("List") or ctx.has("Status") or ctx.has("Contact") or ctx.has("KeyLength"):
        accounts = store.accounts(server_name)
        if ctx.has("Status"):
            accounts = [a for a in accounts if a.get("status") in ctx.get("Status")]
        if ctx.has("Contact"):
            wanted = sorted(_mailto(ctx.get("Contact")))
            accounts = [a for a in accounts if sorted(a.get("contact") or []) == wanted]
        if ctx.has("KeyLength"):
            accounts = [a for a in accounts if str(a.get("KeyLength")) in ctx.get("KeyLength")]
    elif ctx.get("ID"):
        found = store.account(server_name, str(ctx.get("ID")))
        accounts = [found] if found else []
    else:
        found = store.current_account(server_name)
        accounts = [found] if found else []
    for acct in accounts:
        if ctx.switch("Refresh"):
            acct = _refresh_account(ctx, store, server_name, server, acct)
        ctx.output(_account_object(store, server_name, acct))


@cmdlet(
    "Set-PAAccount",
    [
        Param("ID", position=0, aliases=("Name",), from_pipeline=True, by_property_name=True),
        Param("Contact", "string[]"),
        Param("NewName"),
        Param("UseAltPluginEncryption", "switch"),
        Param("ResetAltPluginEncryption", "switch"),
        Param("Deactivate", "switch"),
        Param("Force", "switch"),
        Param("NoSwitch", "switch"),
        Param("KeyRollover", "switch"),
        Param("KeyLength"),
        Param("KeyFile"),
    ],
    module=MODULE,
    should_process=True,
)
def set_pa_account(ctx: Invocation) -> None:
    store = Store(ctx)
    server_name, server = _require_server(ctx, store)
    if ctx.get("ID"):
        acct = store.account(server_name, str(ctx.get("ID")))
        if acct is None:
            ctx.throw_script(f"No account found with ID '{ctx.get('ID')}'.")
    else:
        acct = _require_account(ctx, store, server_name)
    if not ctx.switch("NoSwitch"):
        store.write_text(f"{store.server_folder(server_name)}\\current-account.txt", acct["id"])
    if ctx.has("Contact"):
        session = _session(ctx, server, acct)
        try:
            body = session.update_contacts(str(acct["location"]), _mailto(ctx.get("Contact") or []))
        except AcmeProblem as problem:
            _throw_problem(ctx, problem)
            raise
        acct["contact"] = list(body.get("contact") or [])
        store.save_account(server_name, acct)
    if ctx.switch("Deactivate"):
        if not ctx.switch("Force") and ctx.flags.confirm is not False:
            ctx.prompt_required(
                "Deactivate account", f"Are you sure you wish to deactivate account {acct['id']}?"
            )
        acct["status"] = "deactivated"
        store.save_account(server_name, acct)


# ----- orders --------------------------------------------------------------------------------------
def _context(ctx: Invocation) -> tuple[Store, str, dict[str, Any], dict[str, Any]]:
    """(store, server name, server, current account), or the throw of Get-PAOrder / Get-PACertificate.

    Posh-ACME Public/Get-PAOrder.ps1 and Public/Get-PACertificate.ps1, Begin: `try { if (-not ($acct =
    Get-PAAccount)) { throw "No ACME account configured. Run Set-PAAccount or New-PAAccount first." } }
    catch { $PSCmdlet.ThrowTerminatingError($_) }` - with no server, Get-PAAccount's own throw ("No ACME
    server configured. Run Set-PAServer first.") is the one caught and re-thrown. Any current account
    passes, whatever its status."""
    store = Store(ctx)
    current = store.current_server()
    if current is None:
        ctx.throw_script("No ACME server configured. Run Set-PAServer first.")
    acct = store.current_account(current[0])
    if acct is None:
        ctx.throw_script("No ACME account configured. Run Set-PAAccount or New-PAAccount first.")
    return store, current[0], current[1], acct


def _selected_orders(ctx: Invocation, store: Store, server_name: str, acct_id: str) -> list[dict[str, Any]]:
    """Get-PAOrder's selection: -List (by MainDomain), -MainDomain/-Name (newest match), else current."""
    if ctx.switch("List"):
        return sorted(store.orders(server_name, acct_id), key=lambda o: str(o.get("MainDomain", "")).lower())
    if ctx.get("MainDomain") or ctx.get("Name"):
        orders = _find_orders(store, server_name, acct_id, ctx.get("MainDomain"), ctx.get("Name"))
        if ctx.get("MainDomain") and not ctx.get("Name") and len(orders) > 1:
            orders = [max(orders, key=lambda o: str(o.get("expires") or ""))]
        return orders
    found = current_order(store, server_name, acct_id)
    return [found] if found else []


@cmdlet(
    "Get-PAOrder",
    [
        Param("MainDomain", position=0, from_pipeline=True, by_property_name=True),
        Param("Name", by_property_name=True),
        Param("List", "switch"),
        Param("Refresh", "switch"),
    ],
    output_type=PA_ORDER,
    module=MODULE,
)
def get_pa_order(ctx: Invocation) -> None:
    store, server_name, server, acct = _context(ctx)
    orders = _selected_orders(ctx, store, server_name, acct["id"])
    for order in orders:
        if ctx.switch("Refresh"):
            order = _refresh_order(ctx, store, server_name, server, acct, order)
        ctx.output(_order_object(store, server_name, acct["id"], order))


@cmdlet(
    "Set-PAOrder",
    [
        Param("MainDomain", position=0, from_pipeline=True, by_property_name=True),
        Param("Name", by_property_name=True),
        # Set-PAOrder.ps1 param(): [Parameter(ParameterSetName='Revoke', Mandatory)][switch]$RevokeCert
        Param("RevokeCert", "switch", mandatory=True, sets=("Revoke",)),
        Param("Force", "switch", sets=("Revoke",)),
        Param("NoSwitch", "switch"),
        Param("NewName", sets=("Edit",)),
        Param("Plugin", "string[]", sets=("Edit",), aliases=("DnsPlugin",)),
        Param("PluginArgs", "hashtable", sets=("Edit",)),
        Param("LifetimeDays", "int", sets=("Edit",)),
        Param("DnsAlias", "string[]", sets=("Edit",)),
        Param("Subject", sets=("Edit",)),
        Param("FriendlyName", sets=("Edit",)),
        Param("PfxPass", sets=("Edit",)),
        Param("PfxPassSecure", "securestring", sets=("Edit",)),
        Param("Install", "switch", sets=("Edit",)),
        Param("OCSPMustStaple", "switch", sets=("Edit",)),
        Param("DnsSleep", "int", sets=("Edit",)),
        Param("ValidationTimeout", "int", sets=("Edit",)),
        Param("PreferredChain", sets=("Edit",)),
        Param("AlwaysNewKey", "switch", sets=("Edit",)),
        Param("UseSerialValidation", "switch", sets=("Edit",)),
        # the rest of Set-PAOrder.ps1's Edit set: [switch]$UseModernPfxEncryption,
        # [ValidateSet('dns-01','dns-account-01')][string]$DnsVariant, [string]$Profile
        Param("UseModernPfxEncryption", "switch", sets=("Edit",)),
        Param("DnsVariant", choices=("dns-01", "dns-account-01"), sets=("Edit",)),
        Param("Profile", sets=("Edit",)),
    ],
    module=MODULE,
    default_set="Edit",
    should_process=True,
)
def set_pa_order(ctx: Invocation) -> None:
    # Posh-ACME Public/Set-PAOrder.ps1. Begin: `if (-not ($acct = Get-PAAccount)) { throw "No ACME
    # account configured. ..." }` inside try/catch -> ThrowTerminatingError (no server: Get-PAAccount's
    # own "No ACME server configured" throw); any current account, whatever its status.
    store, server_name, server, acct = _context(ctx)
    # Process: -Name wins (`Get-PAOrder -Name $Name`; -MainDomain is then ignored); -MainDomain alone
    # must match exactly one order; neither: the current order. Each miss is a Write-Error + return.
    name, main_domain = ctx.get("Name"), ctx.get("MainDomain")
    if name:
        orders = _find_orders(store, server_name, acct["id"], None, str(name))
        if not orders:
            ctx.error(_plain_error(f"No order found matching Name '{name}'"))
            return
    elif main_domain:
        orders = _find_orders(store, server_name, acct["id"], str(main_domain), None)
        if not orders:
            ctx.error(_plain_error(f"No order found matching MainDomain '{main_domain}'."))
            return
        if len(orders) > 1:
            ctx.error(
                _plain_error(
                    f"Multiple orders found for MainDomain '{main_domain}'. Please specify Name as well."
                )
            )
            return
    else:
        found = current_order(store, server_name, acct["id"])
        if found is None:
            ctx.error(
                _plain_error("No ACME order configured. Run New-PAOrder or specify a Name or MainDomain.")
            )
            return
        orders = [found]
    order = orders[0]
    if not ctx.switch("NoSwitch"):
        store.write_text(f"{store.account_folder(server_name, acct['id'])}\\current-order.txt", order["Name"])
    if ctx.switch("RevokeCert"):
        if not ctx.switch("Force") and ctx.flags.confirm is not False:
            ctx.prompt_required(
                "Revoke certificate",
                f"Are you sure you wish to revoke the certificate for order '{order['Name']}'?",
            )
        _revoke(ctx, store, server_name, server, acct, order, 0)
        return
    changed = False
    for key in ORDER_FIELDS_SET:
        if not ctx.has(key):
            continue
        value = ctx.get(key)
        if key == "PluginArgs":
            store.write_json(
                f"{store.order_folder(server_name, acct['id'], order['Name'])}\\pluginargs.json",
                to_python(value),
            )
            continue
        if key == "PfxPass":
            order["PfxPassB64U"] = b64url(str(value).encode())
        else:
            order[key] = value
        changed = True
    if ctx.has("PfxPassSecure"):
        order["PfxPassB64U"] = b64url(secure_text(ctx.get("PfxPassSecure")).encode())
        changed = True
    # Set-PAOrder.ps1 Process: DnsVariant stored as given; UseModernPfxEncryption as .IsPresent
    if ctx.has("DnsVariant") and ctx.get("DnsVariant") != order.get("DnsVariant"):
        ctx.verbose(f"Setting DnsVariant to {ctx.get('DnsVariant')}")
        order["DnsVariant"] = ctx.get("DnsVariant")
        changed = True
    if ctx.has("UseModernPfxEncryption"):
        modern = ctx.switch("UseModernPfxEncryption")
        if not order.get("UseModernPfxEncryption") or modern != order.get("UseModernPfxEncryption"):
            ctx.verbose(f"Setting UseModernPfxEncryption to {modern}")
            order["UseModernPfxEncryption"] = modern
            changed = True
    # `if ($Profile -in (Get-PAProfile).Profile) {...} else { Write-Warning "Profile '...' is not
    # currently supported on this ACME server. Ignoring profile selection." }`: the lab's CA (Pebble
    # 2.4.0) offers no profiles, so every profile is refused this way.
    if ctx.has("Profile") and ctx.get("Profile") != order.get("Profile"):
        ctx.warning(
            f"Profile '{ctx.get('Profile')}' is not currently supported on this ACME server. "
            "Ignoring profile selection."
        )
    if changed:
        store.save_order(server_name, acct["id"], order)


def _plain_error(message: str) -> Any:
    from poshbridge.lab.engine.registry import error_record

    return error_record(
        message,
        "Microsoft.PowerShell.Commands.WriteErrorException",
        "NotSpecified",
        exception_type="Microsoft.PowerShell.Commands.WriteErrorException",
    )

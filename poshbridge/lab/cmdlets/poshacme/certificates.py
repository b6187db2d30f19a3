"""The Posh-ACME certificate cmdlets as the lab registers them: New-PACertificate, Submit-Renewal,
Get-PACertificate, Revoke-PACertificate and Get-PAAuthorization (parameters as each ``Public/*.ps1``
declares them). Issuing is in ``issuance.py``.
"""

from __future__ import annotations

from typing import Any

from poshbridge.lab.acme_client import AcmeProblem
from poshbridge.lab.cmdlets.poshacme.acme import (
    _require_account,
    _require_server,
    _revoke,
    _session,
    _throw_problem,
)
from poshbridge.lab.cmdlets.poshacme.cmdlets import _context, _selected_orders
from poshbridge.lab.cmdlets.poshacme.issuance import issue
from poshbridge.lab.cmdlets.poshacme.objects import certificate_object
from poshbridge.lab.cmdlets.poshacme.store import (
    MODULE,
    Store,
    _find_orders,
    _now,
    _parse_time,
    current_order,
)
from poshbridge.lab.engine.objects import PA_AUTHORIZATION, PA_CERTIFICATE, pa_object
from poshbridge.lab.engine.registry import Invocation, Param, cmdlet

REASONS = (
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "certificateHold",
    "removeFromCRL",
    "privilegeWithdrawn",
    "aACompromise",
)
REASON_CODES = {name: code for code, name in enumerate(REASONS[:7])} | {
    "removeFromCRL": 8,
    "privilegeWithdrawn": 9,
    "aACompromise": 10,
}


# ----- New-PACertificate ------------------------------------------------------------------------------
_NEW_CERT_PARAMS = [
    Param("Domain", "string[]", position=0, mandatory=True, sets=("FromScratch",)),
    Param("CSRPath", position=0, mandatory=True, sets=("FromCSR",), aliases=("CSRString",)),
    Param("Name"),
    Param("Contact", "string[]"),
    Param("CertKeyLength"),
    Param("AlwaysNewKey", "switch"),
    Param("AcceptTOS", "switch"),
    Param("AccountKeyLength"),
    Param("DirectoryUrl", aliases=("location",)),
    Param("Plugin", "string[]", aliases=("DnsPlugin",)),
    Param("PluginArgs", "hashtable"),
    Param("LifetimeDays", "int"),
    Param("DnsAlias", "string[]"),
    Param("OCSPMustStaple", "switch"),
    Param("Subject"),
    Param("FriendlyName"),
    Param("PfxPass"),
    Param("PfxPassSecure", "securestring"),
    Param("UseModernPfxEncryption", "switch"),
    Param("Install", "switch"),
    Param("UseSerialValidation", "switch"),
    Param("Force", "switch"),
    Param("DnsSleep", "int"),
    Param("DnsVariant", choices=("dns-01", "dns-account-01")),
    Param("ValidationTimeout", "int"),
    Param("PreferredChain"),
    Param("Profile"),
]


@cmdlet(
    "New-PACertificate",
    _NEW_CERT_PARAMS,
    output_type=PA_CERTIFICATE,
    module=MODULE,
    default_set="FromScratch",
)
def new_pa_certificate(ctx: Invocation) -> None:
    if ctx.has("CSRPath"):
        ctx.throw_script("The poshbridge lab does not emulate New-PACertificate -CSRPath.")
    cert = issue(ctx, {k: ctx.get(k) for k in ctx.args}, force=ctx.switch("Force"))
    if cert is not None:
        ctx.output(cert)


# ----- Submit-Renewal ---------------------------------------------------------------------------------
@cmdlet(
    "Submit-Renewal",
    [
        Param("MainDomain", position=0, sets=("Specific",), from_pipeline=True, by_property_name=True),
        Param("Name", position=1, sets=("Specific",), by_property_name=True),
        Param("AllOrders", "switch", sets=("AllOrders",), mandatory=True),
        Param("AllAccounts", "switch", sets=("AllAccounts",), mandatory=True),
        Param("Force", "switch"),
        Param("NoSkipManualDns", "switch"),
        Param("PluginArgs", "hashtable"),
    ],
    module=MODULE,
    default_set="Specific",
)
def submit_renewal(ctx: Invocation) -> None:
    store = Store(ctx)
    server_name, _server = _require_server(ctx, store)
    if ctx.switch("AllAccounts"):
        accounts = [a for a in store.accounts(server_name) if a.get("status") == "valid"]
    else:
        accounts = [_require_account(ctx, store, server_name)]
    for acct in accounts:
        store.write_text(f"{store.server_folder(server_name)}\\current-account.txt", acct["id"])
        if ctx.switch("AllOrders") or ctx.switch("AllAccounts"):
            orders = sorted(
                store.orders(server_name, acct["id"]), key=lambda o: str(o.get("MainDomain", "")).lower()
            )
            if not orders:
                ctx.verbose(f"No orders found for account {acct['id']}.")
        else:
            if ctx.get("MainDomain") or ctx.get("Name"):
                orders = _find_orders(store, server_name, acct["id"], ctx.get("MainDomain"), ctx.get("Name"))[
                    :1
                ]
            else:
                found = current_order(store, server_name, acct["id"])
                orders = [found] if found else []
            if not orders:
                ctx.throw_script("No order found for the specified parameters.")
        for order in orders:
            _renew_one(ctx, store, server_name, acct, order)


def _renew_one(
    ctx: Invocation, store: Store, server_name: str, acct: dict[str, Any], order: dict[str, Any]
) -> None:
    renew_after = _parse_time(order.get("RenewAfter"))
    if not ctx.switch("Force") and renew_after is not None and _now(ctx) < renew_after:
        ctx.warning(f"Order '{order['Name']}' is not recommended for renewal yet. Use -Force to override.")
        return
    plugins = order.get("Plugin")
    if not plugins:
        ctx.warning(f"Skipping renewal for order '{order['Name']}' due to null plugin.")
        return
    if [str(p) for p in plugins] == ["Manual"] and not ctx.switch("NoSkipManualDns"):
        ctx.warning(
            f"Skipping renewal for order '{order['Name']}' due to Manual DNS plugin. Use -NoSkipManualDns "
            "to avoid this."
        )
        return
    ctx.verbose(f"Renewing certificate for order '{order['Name']}'")
    store.write_text(f"{store.account_folder(server_name, acct['id'])}\\current-order.txt", order["Name"])
    args: dict[str, Any] = {
        "Domain": [order["MainDomain"], *(order.get("SANs") or [])],
        "Name": order["Name"],
        "CertKeyLength": order.get("KeyLength"),
        "Plugin": order.get("Plugin"),
    }
    if ctx.has("PluginArgs"):
        args["PluginArgs"] = ctx.get("PluginArgs")
    cert = issue(ctx, args, force=True)
    if cert is not None:
        ctx.output(cert)


# ----- Get-PACertificate ------------------------------------------------------------------------------
@cmdlet(
    "Get-PACertificate",
    [
        Param("MainDomain", position=0, from_pipeline=True, by_property_name=True),
        Param("Name", by_property_name=True),
        Param("List", "switch"),
    ],
    output_type=PA_CERTIFICATE,
    module=MODULE,
)
def get_pa_certificate(ctx: Invocation) -> None:
    store, server_name, _server, acct = _context(ctx)
    # Posh-ACME's Get-PACertificate selects its orders through Get-PAOrder.
    orders = _selected_orders(ctx, store, server_name, acct["id"])
    for order in orders:
        cert = certificate_object(store, server_name, acct["id"], order)
        if cert is not None:
            ctx.output(cert)


@cmdlet(
    "Revoke-PACertificate",
    [
        Param("MainDomain", position=0, sets=("MainDomain",), from_pipeline=True, by_property_name=True),
        Param("Name", sets=("MainDomain",), by_property_name=True),
        Param("CertFile", sets=("CertFile",), mandatory=True),
        Param("KeyFile", sets=("CertFile",)),
        Param("Reason", "enum:Posh-ACME.RevocationReasons", choices=REASONS),
        Param("Force", "switch"),
    ],
    module=MODULE,
    default_set="MainDomain",
    should_process=True,
)
def revoke_pa_certificate(ctx: Invocation) -> None:
    if ctx.has("CertFile"):
        ctx.throw_script("The poshbridge lab does not emulate Revoke-PACertificate -CertFile.")
    store = Store(ctx)
    server_name, server = _require_server(ctx, store)
    acct = _require_account(ctx, store, server_name)
    if ctx.get("MainDomain") or ctx.get("Name"):
        orders = _find_orders(store, server_name, acct["id"], ctx.get("MainDomain"), ctx.get("Name"))[:1]
    else:
        found = current_order(store, server_name, acct["id"])
        orders = [found] if found else []
    if not orders:
        ctx.throw_script("No order found for the specified parameters.")
    order = orders[0]
    if not ctx.switch("Force") and ctx.flags.confirm is not False:
        ctx.prompt_required(
            "Confirm",
            'Are you sure you want to perform this action?\r\nPerforming the operation "Revoke '
            'certificate" on '
            f'target "{order["MainDomain"]}".',
        )
    if ctx.flags.whatif:
        return
    _revoke(
        ctx,
        store,
        server_name,
        server,
        acct,
        order,
        REASON_CODES.get(str(ctx.get("Reason") or "unspecified"), 0),
    )


# ----- Get-PAAuthorization ----------------------------------------------------------------------------
@cmdlet(
    "Get-PAAuthorization",
    [
        Param(
            "AuthURLs",
            "string[]",
            position=0,
            mandatory=True,
            from_pipeline=True,
            by_property_name=True,
            aliases=("authorizations",),
        ),
        Param("Account", "object"),
    ],
    output_type=PA_AUTHORIZATION,
    module=MODULE,
)
def get_pa_authorization(ctx: Invocation) -> None:
    store = Store(ctx)
    server_name, server = _require_server(ctx, store)
    acct = _require_account(ctx, store, server_name)
    session = _session(ctx, server, acct)
    for url in ctx.get("AuthURLs") or []:
        try:
            authz = session.get(str(url))
        except AcmeProblem as problem:
            _throw_problem(ctx, problem)
        fqdn = ("*." if authz.get("wildcard") else "") + str(authz["identifier"]["value"])
        data: dict[str, Any] = dict(authz)
        data["fqdn"] = fqdn
        data["location"] = str(url)
        for kind, prefix in (("dns-01", "DNS01"), ("http-01", "HTTP01")):
            challenge = next((c for c in authz.get("challenges", []) if c.get("type") == kind), None)
            data[f"{prefix}Status"] = challenge.get("status") if challenge else None
            data[f"{prefix}Url"] = challenge.get("url") if challenge else None
            data[f"{prefix}Token"] = challenge.get("token") if challenge else None
        ctx.output(pa_object(PA_AUTHORIZATION, data))

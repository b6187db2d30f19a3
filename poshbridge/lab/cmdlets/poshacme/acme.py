"""Posh-ACME's conversations with the ACME server other than issuing: the session, ACME problems thrown
as ``AcmeException``, the current server and account checks, the directory (Set-PAServer), accounts
(New-/Set-PAAccount), refreshing accounts and orders, and revocation.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from poshbridge.lab.acme_client import (
    AcmeConnectionError,
    AcmeProblem,
    AcmeSession,
    decode_base64url,
    jwk_from_json,
    jwk_to_json,
    new_account_key,
)
from poshbridge.lab.cmdlets.poshacme.store import Store
from poshbridge.lab.engine.contract import PSCUSTOMOBJECT
from poshbridge.lab.engine.registry import Invocation

WELL_KNOWN = {
    "LE_PROD": "https://acme-v02.api.letsencrypt.org/directory",
    "LE_STAGE": "https://acme-staging-v02.api.letsencrypt.org/directory",
    "ZEROSSL_PROD": "https://acme.zerossl.com/v2/DV90",
    "GOOGLE_PROD": "https://dv.acme-v02.api.pki.goog/directory",
    "GOOGLE_STAGE": "https://dv.acme-v02.test-api.pki.goog/directory",
    "SSLCOM_RSA": "https://acme.ssl.com/sslcom-dv-rsa",
    "SSLCOM_ECC": "https://acme.ssl.com/sslcom-dv-ecc",
    "ACTALIS_PROD": "https://acme-api.actalis.com/acme/directory",
}
KEY_LENGTHS = ("ec-256", "ec-384", "ec-521")


# ----- errors --------------------------------------------------------------------------------------
def _throw_problem(ctx: Invocation, problem: AcmeProblem) -> Any:
    # Posh-ACME Private/Invoke-ACME.ps1: `$acmeError = $body | ConvertFrom-Json` ... `throw
    # [AcmeException]::new($acmeError.detail,$acmeError,$ex)`: Data is a PSCustomObject, not a dictionary
    # (a hashtable only for an old endpoint's non-JSON 404, which Pebble never sends).
    ctx.throw_script(
        problem.detail, data=problem.to_data(), data_type=PSCUSTOMOBJECT, exception_type="AcmeException"
    )


def _throw_connection(ctx: Invocation, exc: AcmeConnectionError) -> Any:
    ctx.throw_script(
        f"Unable to connect to the remote server: {exc}", exception_type="System.Net.WebException"
    )


def _session(ctx: Invocation, server: dict[str, Any], acct: dict[str, Any] | None = None) -> AcmeSession:
    verify: Any = False if server.get("SkipCertificateCheck") else ctx.host.services.ca_bundle
    try:
        if acct is None:
            return AcmeSession(str(server["location"]), verify)
        return AcmeSession(
            str(server["location"]),
            verify,
            key=jwk_from_json(acct["key"]),
            alg=str(acct.get("alg") or "ES256"),
            account_url=str(acct.get("location")),
        )
    except AcmeProblem as problem:
        _throw_problem(ctx, problem)
        raise
    except AcmeConnectionError as exc:
        ctx.throw_script(f"Failed to query ACME directory: {exc}")


def _require_server(ctx: Invocation, store: Store) -> tuple[str, dict[str, Any]]:
    current = store.current_server()
    if current is None:
        ctx.throw_script("No ACME server configured. Run Set-PAServer first.")
    return current


def _require_account(ctx: Invocation, store: Store, server: str) -> dict[str, Any]:
    acct = store.current_account(server)
    if acct is None:
        ctx.throw_script("No ACME account configured. Run Set-PAAccount or New-PAAccount first.")
    if acct.get("status") != "valid":
        ctx.throw_script(f"Account status is {acct.get('status')}.")
    return acct


# ----- servers (Set-PAServer's directory) -------------------------------------------------------
def _server_name(url: str) -> str:
    parsed = urlparse(url)
    port = parsed.port or 443
    return f"{parsed.hostname}_{port}".replace("_443", "")


def set_server(
    ctx: Invocation,
    store: Store,
    url_or_name: str | None,
    *,
    name: str | None = None,
    no_switch: bool = False,
    no_refresh: bool = False,
    flags: dict[str, bool] | None = None,
) -> None:
    existing: tuple[str, dict[str, Any]] | None = None
    if url_or_name:
        url = WELL_KNOWN.get(url_or_name.upper(), url_or_name)
        if not url.lower().startswith("https://"):
            ctx.throw_script(
                f"{url_or_name} is not a valid HTTPS URL or one of the well-known ACME server names."
            )
        existing = store.server_by_url(url)
    elif name:
        existing = next((s for s in store.servers() if s[0].lower() == name.lower()), None)
        if existing is None:
            # Posh-ACME Public/Set-PAServer.ps1: `try { throw "No PAServer found with Name '$Name'." }
            # catch { $PSCmdlet.ThrowTerminatingError($_) }`
            ctx.throw_script(f"No PAServer found with Name '{name}'.")
        url = str(existing[1]["location"])
    else:
        current = store.current_server()
        if current is None:
            ctx.throw_script("No ACME server configured. Run Set-PAServer first.")
        existing = current
        url = str(current[1]["location"])
    if url_or_name and url_or_name.upper() in WELL_KNOWN:
        ctx.throw_script(
            f"Failed to query ACME directory: the poshbridge lab reaches no public CA; '{url_or_name}' "
            f"({url}) "
            "is not the lab's ACME server. Run Set-PAServer with the lab's Pebble directory URL first "
            "(New-PACertificate without a configured server defaults to LE_PROD)."
        )
    folder_name = existing[0] if existing else (name or _server_name(url))
    data: dict[str, Any] = (
        dict(existing[1])
        if existing
        else {
            "location": url,
            "SkipCertificateCheck": False,
            "DisableTelemetry": False,
            "UseAltAccountRefresh": False,
            "DisableARI": False,
            "IgnoreContact": False,
        }
    )
    for key, value in (flags or {}).items():
        data[key] = value
    if existing is None or not no_refresh:
        session = _session(ctx, data)
        directory = session.directory_json
        for key in ("newAccount", "newOrder", "newNonce", "keyChange", "revokeCert", "renewalInfo"):
            if key in directory:
                data[key] = directory[key]
        data["meta"] = directory.get("meta", {})
        data["nonce"] = None
        if existing is None and (data["meta"] or {}).get("termsOfService"):
            ctx.host_write(f"Please review the Terms of Service here: {data['meta']['termsOfService']}")
    store.write_json(f"{store.server_folder(folder_name)}\\dir.json", data)
    if not no_switch:
        store.write_text(f"{store.root}\\current-server.txt", url)


# ----- accounts --------------------------------------------------------------------------------------
def _mailto(contacts: list[str]) -> list[str]:
    return [c if c.lower().startswith("mailto:") else f"mailto:{c}" for c in contacts]


def new_account(
    ctx: Invocation,
    store: Store,
    *,
    contacts: list[str] | None,
    key_length: str,
    eab_kid: str | None,
    eab_hmac: str | None,
    eab_alg: str,
    accept_tos: bool,
    force: bool,
    account_id: str | None = None,
    only_existing: bool = False,
) -> dict[str, Any]:
    server_name, server = _require_server(ctx, store)
    wanted = _mailto(contacts or [])
    if server.get("IgnoreContact"):
        wanted = []
    if not force and not only_existing:
        for acct in store.accounts(server_name):
            if (
                acct.get("status") == "valid"
                and sorted(acct.get("contact") or []) == sorted(wanted)
                and str(acct.get("KeyLength")) == key_length
            ):
                # New-PAAccount.ps1: $PSCmdlet.ShouldContinue("Do you wish to duplicate?",
                #     "An account exists with matching contacts and key length.")  (query, caption)
                ctx.prompt_required(
                    "An account exists with matching contacts and key length.", "Do you wish to duplicate?"
                )
    if (server.get("meta") or {}).get("externalAccountRequired") and not (eab_kid and eab_hmac):
        ctx.throw_script(
            "The current ACME server requires external account credentials to create a new ACME account. "
            "Please run New-PAAccount with the ExtAcctKID and ExtAcctHMACKey parameters."
        )
    hmac_bytes: bytes | None = None
    if eab_kid and eab_hmac:
        try:
            hmac_bytes = decode_base64url(eab_hmac)
        except ValueError:
            ctx.throw_script("Invalid Base64Url string")
    if key_length.lower() not in KEY_LENGTHS and not (
        key_length.isdigit() and 2048 <= int(key_length) <= 4096
    ):
        ctx.throw_script(f"Invalid KeyLength '{key_length}'.")
    key, alg = new_account_key(key_length)
    session = _session(ctx, server)
    session.use_key(key, alg)
    try:
        location, body = session.register(
            wanted,
            tos=accept_tos,
            eab_kid=eab_kid,
            eab_hmac=hmac_bytes,
            eab_alg=eab_alg,
            only_existing=only_existing,
        )
    except AcmeProblem as problem:
        _throw_problem(ctx, problem)
        raise
    except AcmeConnectionError as exc:
        _throw_connection(ctx, exc)
        raise
    acct_id = account_id or location.rstrip("/").rsplit("/", 1)[-1]
    acct = {
        "id": acct_id,
        "status": body.get("status", "valid"),
        "contact": list(body.get("contact") or []),
        "location": location,
        "key": jwk_to_json(key),
        "alg": alg,
        "KeyLength": key_length,
        "orders": body.get("orders"),
        "sskey": None,
    }
    store.save_account(server_name, acct)
    store.write_text(f"{store.server_folder(server_name)}\\current-account.txt", acct_id)
    return acct


def _refresh_account(
    ctx: Invocation, store: Store, server_name: str, server: dict[str, Any], acct: dict[str, Any]
) -> dict[str, Any]:
    session = _session(ctx, server, acct)
    try:
        body = session.account(str(acct["location"]))
    except AcmeProblem as problem:
        _throw_problem(ctx, problem)
        raise
    acct = dict(acct)
    acct["status"] = body.get("status", acct.get("status"))
    acct["contact"] = list(body.get("contact") or [])
    store.save_account(server_name, acct)
    return acct


def _refresh_order(
    ctx: Invocation,
    store: Store,
    server_name: str,
    server: dict[str, Any],
    acct: dict[str, Any],
    order: dict[str, Any],
) -> dict[str, Any]:
    if not order.get("location"):
        return order
    session = _session(ctx, server, acct)
    try:
        body = session.get(str(order["location"]))
    except AcmeProblem as problem:
        ctx.warning(f"ACME Exception querying order details for '{order['Name']}': {problem.detail}")
        return order
    order = dict(order)
    for key in ("status", "expires", "authorizations", "finalize", "certificate"):
        if key in body:
            order[key] = body[key]
    store.save_order(server_name, acct["id"], order)
    return order


# ----- revocation ----------------------------------------------------------------------------------
def _revoke(
    ctx: Invocation,
    store: Store,
    server_name: str,
    server: dict[str, Any],
    acct: dict[str, Any],
    order: dict[str, Any],
    reason: int,
) -> None:
    cert_path = store.real(store.order_folder(server_name, acct["id"], order["Name"]) + "\\cert.cer")
    if not cert_path.is_file():
        ctx.throw_script(f"Unable to find certificate file for order '{order['Name']}'.")
    pem = cert_path.read_bytes()
    session = _session(ctx, server, acct)
    try:
        session.revoke(pem, reason)
    except AcmeProblem as problem:
        _throw_problem(ctx, problem)
    except AcmeConnectionError as exc:
        _throw_connection(ctx, exc)
    ctx.host.services.register_revoked(pem, reason)

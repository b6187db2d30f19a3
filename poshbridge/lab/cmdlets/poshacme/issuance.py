"""New-PACertificate's flow (also Submit-Renewal's): account selection, a new or reused order, http-01
through the WebRoot plugin, finalize, the certificate files and PFXs, and ``-Install``.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from poshbridge.lab.acme_client import AcmeConnectionError, AcmeProblem, AcmeSession, b64url
from poshbridge.lab.cmdlets.poshacme.acme import (
    _mailto,
    _require_server,
    _session,
    _throw_connection,
    _throw_problem,
    new_account,
    set_server,
)
from poshbridge.lab.cmdlets.poshacme.objects import _pfx_pass, certificate_object
from poshbridge.lab.cmdlets.poshacme.store import Store, _now, _parse_time, _utc_text
from poshbridge.lab.engine.registry import Invocation
from poshbridge.lab.engine.values import hashtable_get, secure_text, to_python
from poshbridge.lab.sandbox import PathRefused, confine

POLL_SECONDS = 0.5  # the lab polls faster than Posh-ACME's 5 s; Pebble answers within a second


# ----- New-PACertificate's flow --------------------------------------------------------------------
def issue(ctx: Invocation, args: dict[str, Any], *, force: bool) -> Any | None:
    """New-PACertificate's flow; returns the PACertificate or None (completed-order warning)."""
    store = Store(ctx)

    def arg(name: str, default: Any = None) -> Any:
        return hashtable_get(args, name, default)

    domains = [str(d) for d in arg("Domain") or []]
    if arg("DirectoryUrl") is not None or store.current_server() is None:
        set_server(ctx, store, str(arg("DirectoryUrl") or "LE_PROD"))
    server_name, server = _require_server(ctx, store)
    ctx.verbose(f"Using ACME Server {server['location']}")
    acct = store.current_account(server_name)
    if arg("Contact") is not None or arg("AccountKeyLength") is not None:
        wanted = sorted(_mailto(arg("Contact") or []))
        candidates = [
            a
            for a in store.accounts(server_name)
            if a.get("status") == "valid"
            and (arg("Contact") is None or sorted(a.get("contact") or []) == wanted)
            and (arg("AccountKeyLength") is None or str(a.get("KeyLength")) == arg("AccountKeyLength"))
        ]
        acct = candidates[0] if candidates else None
    if acct is None or acct.get("status") != "valid":
        acct = new_account(
            ctx,
            store,
            contacts=arg("Contact"),
            key_length=str(arg("AccountKeyLength") or "ec-256"),
            eab_kid=None,
            eab_hmac=None,
            eab_alg="HS256",
            accept_tos=bool(arg("AcceptTOS")),
            force=True,
        )
    else:
        store.write_text(f"{store.server_folder(server_name)}\\current-account.txt", acct["id"])
    ctx.verbose(f"Using account {acct['id']}")
    name = str(arg("Name") or domains[0].replace("*", "!"))
    key_length = str(arg("CertKeyLength") or "2048")
    order = store.order(server_name, acct["id"], name)
    now = _now(ctx)
    need_new = force or order is None
    if order is not None and not need_new:
        status = order.get("status")
        renew_after = _parse_time(order.get("RenewAfter"))
        expires = _parse_time(order.get("expires"))
        sans = [str(s).lower() for s in [order.get("MainDomain"), *(order.get("SANs") or [])] if s]
        if (
            status in ("invalid", "deactivated")
            or (status == "valid" and renew_after is not None and now >= renew_after)
            or (status == "pending" and expires is not None and now >= expires)
            or str(order.get("KeyLength")) != key_length
            or sans != [d.lower() for d in domains]
            or (arg("LifetimeDays") is not None and order.get("LifetimeDays") != arg("LifetimeDays"))
        ):
            need_new = True
    if not need_new and order is not None:
        ctx.verbose(f"Using existing order '{name}' with status {order.get('status')}")
        store.write_text(f"{store.account_folder(server_name, acct['id'])}\\current-order.txt", name)
        if order.get("status") == "valid":
            ctx.warning(
                "This certificate order has already been completed. Use -Force to overwrite the current "
                "certificate."
            )
            return None
    session = _session(ctx, server, acct)
    folder = store.order_folder(server_name, acct["id"], name)
    if need_new:
        order = _new_order(ctx, store, session, server_name, acct, name, domains, key_length, args, order)
    assert order is not None
    plugin_args = store.read_json(f"{folder}\\pluginargs.json") or {}
    _validate(ctx, store, session, server_name, acct, order, plugin_args)
    _finalize(ctx, store, session, server_name, acct, order)
    if order.get("Install"):
        _install(ctx, store, server_name, acct, order)
    return certificate_object(store, server_name, acct["id"], order)


def _new_order(
    ctx: Invocation,
    store: Store,
    session: AcmeSession,
    server_name: str,
    acct: dict[str, Any],
    name: str,
    domains: list[str],
    key_length: str,
    args: dict[str, Any],
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    def arg(key: str, default: Any = None) -> Any:
        return hashtable_get(args, key, default)

    folder = store.order_folder(server_name, acct["id"], name)
    real = store.real(folder)
    new_key = bool(arg("AlwaysNewKey")) or previous is None or str(previous.get("KeyLength")) != key_length
    if real.is_dir():  # New-PAOrder: keep the old certificate files as *.bak
        for file_name in ("cert.cer", "cert.pfx", "chain.cer", "fullchain.cer", "fullchain.pfx"):
            source = real / file_name
            if source.exists():
                source.replace(real / (file_name + ".bak"))
        for chain in real.glob("chain*.cer"):
            chain.unlink()
        if new_key and (real / "cert.key").exists():
            (real / "cert.key").replace(real / "cert.key.bak")
    fault = ctx.host.faults.acme_error_next_order
    if fault:
        ctx.host.faults.acme_error_next_order = None
        _throw_problem(
            ctx,
            AcmeProblem(
                str(fault.get("type", "serverInternal")),
                str(fault.get("detail", "The server experienced an internal error")),
                int(fault.get("status", 400)),
            ),
        )
    try:
        location, body = session.new_order(domains)
    except AcmeProblem as problem:
        _throw_problem(ctx, problem)
        raise
    except AcmeConnectionError as exc:
        _throw_connection(ctx, exc)
        raise
    old = previous or {}

    def keep(key: str, default: Any) -> Any:
        value = arg(key)
        if value is not None:
            return value
        return old.get(key, default)

    pfx_pass = arg("PfxPass")
    if arg("PfxPassSecure") is not None:
        pfx_pass = secure_text(arg("PfxPassSecure"))
    pfx_b64 = (
        b64url(str(pfx_pass).encode())
        if pfx_pass is not None
        else old.get("PfxPassB64U", b64url(b"poshacme"))
    )
    order: dict[str, Any] = {
        "Name": name,
        "status": body.get("status"),
        "expires": body.get("expires"),
        "identifiers": body.get("identifiers"),
        "authorizations": body.get("authorizations"),
        "finalize": body.get("finalize"),
        "certificate": None,
        "location": location,
        "MainDomain": domains[0],
        "SANs": domains[1:],
        "KeyLength": key_length,
        "CertExpires": None,
        "RenewAfter": None,
        "OCSPMustStaple": bool(keep("OCSPMustStaple", False)),
        "Plugin": list(keep("Plugin", ["Manual"])),
        "DnsAlias": keep("DnsAlias", None),
        "DnsSleep": int(keep("DnsSleep", 120)),
        "DnsVariant": keep("DnsVariant", "dns-01"),
        "ValidationTimeout": int(keep("ValidationTimeout", 60)),
        "Subject": keep("Subject", f"CN={domains[0]}"),
        "FriendlyName": keep("FriendlyName", domains[0]),
        "PfxPassB64U": pfx_b64,
        "Install": bool(keep("Install", False)),
        "UseSerialValidation": bool(keep("UseSerialValidation", False)),
        "PreferredChain": keep("PreferredChain", None),
        "AlwaysNewKey": bool(keep("AlwaysNewKey", False)),
        "LifetimeDays": keep("LifetimeDays", None),
    }
    store.save_order(server_name, acct["id"], order)
    if arg("PluginArgs") is not None:
        store.write_json(f"{folder}\\pluginargs.json", to_python(arg("PluginArgs")))
    store.write_text(f"{store.account_folder(server_name, acct['id'])}\\current-order.txt", name)
    return order


def _validate(
    ctx: Invocation,
    store: Store,
    session: AcmeSession,
    server_name: str,
    acct: dict[str, Any],
    order: dict[str, Any],
    plugin_args: dict[str, Any],
) -> None:
    """Submit-ChallengeValidation + Wait-AuthValidation with the WebRoot plugin."""
    if order.get("status") in ("ready", "processing", "valid"):
        if order.get("status") == "ready":
            ctx.warning(
                f"Order '{order['Name']}' has already completed challenge validation and is awaiting "
                "finalization."
            )
        return
    written: list[Path] = []
    pending: list[tuple[str, str]] = []  # (authz url, fqdn)
    try:
        for url in order.get("authorizations") or []:
            try:
                authz = session.get(url)
            except AcmeProblem as problem:
                _throw_problem(ctx, problem)
            fqdn = ("*." if authz.get("wildcard") else "") + str(authz["identifier"]["value"])
            status = authz.get("status")
            if status == "valid":
                continue  # Pebble reuses valid authorizations
            if status != "pending":
                ctx.throw_script(
                    f"{fqdn} authorization status is '{status}'. Create a new order and try again."
                )
            plugins = [str(p) for p in order.get("Plugin") or ["Manual"]]
            plugin = plugins[0] if plugins else "Manual"
            if plugin.lower() != "webroot":
                ctx.throw_script(
                    f"The poshbridge lab emulates only the WebRoot plugin (http-01); order '{order['Name']}' "
                    f"uses '{plugin}'."
                )
            challenge = next((c for c in authz.get("challenges", []) if c.get("type") == "http-01"), None)
            if challenge is None:
                ctx.throw_script(f"No http-01 challenge found for {fqdn}.")
            token = str(challenge["token"])
            key_auth = session.key_authorization(token)
            roots = hashtable_get(plugin_args, "WRPath")
            roots = roots if isinstance(roots, list) else [roots]
            exact = bool(hashtable_get(plugin_args, "WRExactPath", False))
            if not roots or roots == [None]:
                ctx.throw_script("Cannot bind argument to parameter 'WRPath' because it is null.")
            for root in roots:
                base = ctx.full_path(str(root))
                target = f"{base}\\{token}" if exact else f"{base}\\.well-known\\acme-challenge\\{token}"
                try:
                    real = confine(ctx.host, target)
                except PathRefused:
                    ctx.throw_script(f"Unable to write the challenge file to '{target}'.")
                real.parent.mkdir(parents=True, exist_ok=True)
                real.write_bytes(key_auth.encode("ascii") + b"\r\n")  # Out-File -Encoding ascii
                written.append(real)
            try:
                session.answer_challenge(str(challenge["url"]))
            except AcmeProblem as problem:
                _throw_problem(ctx, problem)
            pending.append((url, fqdn))
        deadline = time.monotonic() + int(order.get("ValidationTimeout") or 60)
        while pending:
            ctx.check_cancel()
            still: list[tuple[str, str]] = []
            for url, fqdn in pending:
                authz = session.get(url)
                status = authz.get("status")
                if status == "valid":
                    continue
                if status == "invalid":
                    detail = ""
                    for challenge in authz.get("challenges", []):
                        if challenge.get("error"):
                            detail = str(challenge["error"].get("detail", ""))
                    _mark_order(ctx, store, session, server_name, acct, order)
                    ctx.throw_script(f"Authorization invalid for {fqdn}: {detail}")
                if status != "pending":
                    _mark_order(ctx, store, session, server_name, acct, order)
                    ctx.throw_script(f"Authorization for {fqdn} returned status '{status}'.")
                still.append((url, fqdn))
            pending = still
            if pending:
                if time.monotonic() > deadline:
                    ctx.throw_script(
                        f"Timed out waiting {int(order.get('ValidationTimeout') or 60)} seconds for "
                        "authorizations to become valid."
                    )
                time.sleep(POLL_SECONDS)
    except AcmeProblem as problem:
        _throw_problem(ctx, problem)
    finally:
        for path in written:  # the plugin removes only the token files; folders stay
            path.unlink(missing_ok=True)


def _mark_order(
    ctx: Invocation,
    store: Store,
    session: AcmeSession,
    server_name: str,
    acct: dict[str, Any],
    order: dict[str, Any],
) -> None:
    try:
        body = session.get(str(order["location"]))
    except (AcmeProblem, AcmeConnectionError):
        return
    order["status"] = body.get("status", order.get("status"))
    order["expires"] = body.get("expires", order.get("expires"))
    store.save_order(server_name, acct["id"], order)


def _private_key(key_length: str) -> Any:
    text = key_length.lower()
    if text.startswith("ec-"):
        curve = {"ec-256": ec.SECP256R1(), "ec-384": ec.SECP384R1(), "ec-521": ec.SECP521R1()}[text]
        return ec.generate_private_key(curve)
    return rsa.generate_private_key(public_exponent=65537, key_size=int(text))


def _finalize(
    ctx: Invocation,
    store: Store,
    session: AcmeSession,
    server_name: str,
    acct: dict[str, Any],
    order: dict[str, Any],
) -> None:
    folder = store.order_folder(server_name, acct["id"], order["Name"])
    real = store.real(folder)
    real.mkdir(parents=True, exist_ok=True)
    key_file = real / "cert.key"
    key: Any
    if key_file.exists():
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    else:
        key = _private_key(str(order.get("KeyLength") or "2048"))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    domains = [str(order["MainDomain"]), *[str(s) for s in order.get("SANs") or []]]
    subject = str(order.get("Subject") or f"CN={domains[0]}")
    cn = subject[3:] if subject.upper().startswith("CN=") else domains[0]
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), critical=False)
        .sign(key, hashes.SHA256())
    )
    csr_pem = csr.public_bytes(serialization.Encoding.PEM)
    (real / "request.csr").write_bytes(csr_pem)
    try:
        body = session.get(str(order["location"]))
        if body.get("status") == "ready":
            ctx.verbose("Finalizing the order.")
            body = session.finalize(str(order["finalize"]), csr_pem)
        deadline = time.monotonic() + 60
        while body.get("status") in ("processing", "ready"):
            if time.monotonic() > deadline:
                ctx.throw_script("Timed out waiting for order to become valid.")
            time.sleep(POLL_SECONDS)
            body = session.get(str(order["location"]))
        order["status"] = body.get("status")
        order["expires"] = body.get("expires", order.get("expires"))
        if body.get("status") != "valid":
            store.save_order(server_name, acct["id"], order)
            ctx.throw_script(f"Order '{order['Name']}' status is {body.get('status')}.")
        order["certificate"] = body.get("certificate")
        fullchain = session.download(str(body["certificate"]))
    except AcmeProblem as problem:
        store.save_order(server_name, acct["id"], order)
        _throw_problem(ctx, problem)
        raise
    pems = _split_pem(fullchain)
    leaf, chain = pems[0], pems[1:]
    (real / "cert.cer").write_bytes(leaf)
    for index, extra in enumerate(chain):
        (real / f"chain{index}.cer").write_bytes(extra)
    (real / "chain.cer").write_bytes(b"".join(chain))
    (real / "fullchain.cer").write_bytes(b"".join(pems))
    cert = x509.load_pem_x509_certificate(leaf)
    chain_certs = [x509.load_pem_x509_certificate(c) for c in chain]
    password = _pfx_pass(order).encode()
    friendly = str(order.get("FriendlyName") or domains[0]).encode()
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    (real / "cert.pfx").write_bytes(
        pkcs12.serialize_key_and_certificates(
            friendly,
            key,
            cert,
            None,
            encryption,
        )
    )
    (real / "fullchain.pfx").write_bytes(
        pkcs12.serialize_key_and_certificates(
            friendly,
            key,
            cert,
            chain_certs,
            encryption,
        )
    )
    not_after = cert.not_valid_after_utc
    lifetime = not_after - cert.not_valid_before_utc
    order["CertExpires"] = _utc_text(not_after)
    order["RenewAfter"] = _utc_text(not_after - min(datetime.timedelta(days=30), lifetime / 3))
    store.save_order(server_name, acct["id"], order)
    ctx.host.services.register_issued(leaf)


def _split_pem(text: str) -> list[bytes]:
    marker = "-----END CERTIFICATE-----"
    parts = [p for p in text.split(marker) if "-----BEGIN CERTIFICATE-----" in p]
    return [(p.strip() + "\n" + marker + "\n").encode() for p in parts]


def _install(
    ctx: Invocation, store: Store, server_name: str, acct: dict[str, Any], order: dict[str, Any]
) -> None:
    folder = store.real(store.order_folder(server_name, acct["id"], order["Name"]))
    pfx = folder / "fullchain.pfx"
    if pfx.is_file():
        ctx.host.cert_store().import_pfx(pfx.read_bytes(), _pfx_pass(order))

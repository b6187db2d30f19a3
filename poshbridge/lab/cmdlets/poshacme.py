"""Posh-ACME 4.32.0, emulated: the cmdlets, their messages, and the config folder on the twin's disk.

State lives where Posh-ACME keeps it (docs/reference/posh-acme.md §3), inside the twin's C:\\ sandbox::

    <root>\\current-server.txt
    <root>\\<server>\\dir.json, current-account.txt
    <root>\\<server>\\<acct>\\acct.json, current-order.txt
    <root>\\<server>\\<acct>\\<order>\\order.json, pluginargs.json, cert.key, request.csr, cert.cer,
                                     chain0.cer, chain.cer, fullchain.cer, cert.pfx, fullchain.pfx, *.bak

``<root>`` is read at the module's first use in a runspace pool (or ``Import-Module -Force``):
``$env:POSHACME_HOME`` when that folder exists, else (with Posh-ACME's warning) ``%LOCALAPPDATA%\\Posh-ACME``.
The lab's time zone is UTC: dates shown as local time are UTC. ACME goes to Pebble through
:mod:`poshbridge.lab.acme_client`; ACME problems surface like Posh-ACME's ``AcmeException`` (message
= detail; type/status/detail in Exception.Data).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from poshbridge.lab.acme_client import (
    AcmeConnectionError,
    AcmeProblem,
    AcmeSession,
    b64url,
    decode_base64url,
    jwk_from_json,
    jwk_to_json,
    new_account_key,
)
from poshbridge.lab.cmdlets.core import mark_imported
from poshbridge.lab.cmdlets.files import _PathRefused, confine
from poshbridge.lab.engine.contract import PSCUSTOMOBJECT
from poshbridge.lab.engine.objects import (
    PA_ACCOUNT,
    PA_AUTHORIZATION,
    PA_CERTIFICATE,
    PA_ORDER,
    PA_SERVER,
    pa_certificate,
    pa_object,
)
from poshbridge.lab.engine.registry import Invocation, Param, cmdlet, env_get
from poshbridge.lab.engine.values import hashtable_get, secure_text, to_python

MODULE = "Posh-ACME"
ROOT_VAR = "__poshacme_root"
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
KEY_LENGTHS = ("ec-256", "ec-384", "ec-521")
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
POLL_SECONDS = 0.5  # the lab polls faster than Posh-ACME's 5 s; Pebble answers within a second


def _now(ctx: Invocation) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ctx.host.clock(), datetime.timezone.utc)


def _utc_text(value: datetime.datetime) -> str:
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: Any) -> datetime.datetime | None:
    if not text:
        return None
    raw = str(text).strip()
    try:
        value = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


# ----- config root and files -----------------------------------------------------------------------
def import_config(ctx: Invocation, force: bool = False) -> str:
    """Import-PAConfig: pick the config root from $env:POSHACME_HOME (warning if it does not exist)."""
    if not force and ROOT_VAR in ctx.runspace.variables:
        return str(ctx.runspace.variables[ROOT_VAR])
    default = (
        env_get(ctx.runspace, "LOCALAPPDATA") or f"C:\\Users\\{ctx.runspace.user}\\AppData\\Local"
    ) + "\\Posh-ACME"
    root = default
    home = env_get(ctx.runspace, "POSHACME_HOME")
    if home:
        expanded = _expand_env(ctx, home)
        try:
            exists = confine(ctx.host, ctx.full_path(expanded)).is_dir()
        except _PathRefused:
            exists = False
        if exists:
            root = ctx.full_path(expanded).rstrip("\\")
        else:
            ctx.warning(
                f"The POSHACME_HOME environment variable exists but the path it points to, {expanded}, does "
                "not. Using default config location."
            )
    if root == default:  # Import-PAConfig creates the default folder on first import
        with contextlib.suppress(_PathRefused):
            confine(ctx.host, ctx.full_path(root)).mkdir(parents=True, exist_ok=True)
    ctx.runspace.variables[ROOT_VAR] = root
    return root


def _expand_env(ctx: Invocation, text: str) -> str:
    out = text
    for key, value in ctx.runspace.env.items():
        for variant in (f"%{key}%", f"%{key.upper()}%", f"%{key.lower()}%"):
            out = out.replace(variant, value)
    return out


def ensure_imported(ctx: Invocation) -> str:
    if mark_imported(ctx, MODULE) or ROOT_VAR not in ctx.runspace.variables:
        return import_config(ctx, force=True)
    return str(ctx.runspace.variables[ROOT_VAR])


class Store:
    """Reads and writes Posh-ACME's config folder through the sandbox."""

    def __init__(self, ctx: Invocation) -> None:
        self.ctx = ctx
        self.root = ensure_imported(ctx)

    def real(self, windows_path: str) -> Path:
        return confine(self.ctx.host, windows_path)

    def read_text(self, windows_path: str) -> str | None:
        path = self.real(windows_path)
        if not path.is_file():
            return None
        data = path.read_bytes()
        for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le")):
            if data.startswith(bom):
                return data[len(bom) :].decode(codec).strip()
        return data.decode("utf-8", errors="replace").strip()

    def write_text(self, windows_path: str, text: str) -> None:
        path = self.real(windows_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("ascii", errors="replace") + b"\r\n")

    def read_json(self, windows_path: str) -> dict[str, Any] | None:
        text = self.read_text(windows_path)
        if text is None:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def write_json(self, windows_path: str, data: dict[str, Any]) -> None:
        """``ConvertTo-Json | Out-File -Encoding utf8`` in 5.1: UTF-8 with BOM, CRLF."""
        path = self.real(windows_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(data, indent=4).replace("\n", "\r\n")
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8") + b"\r\n")

    # ----- servers -------------------------------------------------------------------------------
    def servers(self) -> list[tuple[str, dict[str, Any]]]:
        root = self.real(self.root)
        found: list[tuple[str, dict[str, Any]]] = []
        if root.is_dir():
            for folder in sorted(root.iterdir(), key=lambda p: p.name.lower()):
                data = self.read_json(f"{self.root}\\{folder.name}\\dir.json") if folder.is_dir() else None
                if data is not None:
                    found.append((folder.name, data))
        return found

    def server_by_url(self, url: str) -> tuple[str, dict[str, Any]] | None:
        for name, data in self.servers():
            if str(data.get("location", "")).lower() == url.lower():
                return name, data
        return None

    def current_server(self) -> tuple[str, dict[str, Any]] | None:
        url = self.read_text(f"{self.root}\\current-server.txt")
        return self.server_by_url(url) if url else None

    def server_folder(self, name: str) -> str:
        return f"{self.root}\\{name}"

    # ----- accounts ------------------------------------------------------------------------------
    def accounts(self, server: str) -> list[dict[str, Any]]:
        folder = self.real(self.server_folder(server))
        found: list[dict[str, Any]] = []
        if folder.is_dir():
            for entry in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
                data = (
                    self.read_json(f"{self.server_folder(server)}\\{entry.name}\\acct.json")
                    if entry.is_dir()
                    else None
                )
                if data is not None:
                    found.append({"id": entry.name, **data})
        return found

    def account(self, server: str, account_id: str) -> dict[str, Any] | None:
        for acct in self.accounts(server):
            if acct["id"].lower() == account_id.lower():
                return acct
        return None

    def current_account(self, server: str) -> dict[str, Any] | None:
        account_id = self.read_text(f"{self.server_folder(server)}\\current-account.txt")
        return self.account(server, account_id) if account_id else None

    def account_folder(self, server: str, account_id: str) -> str:
        return f"{self.server_folder(server)}\\{account_id}"

    def save_account(self, server: str, acct: dict[str, Any]) -> None:
        data = {k: v for k, v in acct.items() if k not in ("id", "Folder")}
        self.write_json(f"{self.account_folder(server, acct['id'])}\\acct.json", data)

    # ----- orders --------------------------------------------------------------------------------
    def orders(self, server: str, account_id: str) -> list[dict[str, Any]]:
        base = self.account_folder(server, account_id)
        folder = self.real(base)
        found: list[dict[str, Any]] = []
        if folder.is_dir():
            for entry in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
                data = self.read_json(f"{base}\\{entry.name}\\order.json") if entry.is_dir() else None
                if data is not None:
                    found.append({"Name": entry.name, **data})
        return found

    def order(self, server: str, account_id: str, name: str) -> dict[str, Any] | None:
        for order in self.orders(server, account_id):
            if order["Name"].lower() == name.lower():
                return order
        return None

    def order_folder(self, server: str, account_id: str, name: str) -> str:
        return f"{self.account_folder(server, account_id)}\\{name}"

    def save_order(self, server: str, account_id: str, order: dict[str, Any]) -> None:
        data = {k: v for k, v in order.items() if k not in ("Name", "Folder", "PfxPass")}
        self.write_json(f"{self.order_folder(server, account_id, order['Name'])}\\order.json", data)


# ----- objects -------------------------------------------------------------------------------------
def _server_object(store: Store, name: str, data: dict[str, Any]) -> Any:
    fields = [("location", data.get("location")), ("Name", name), ("Folder", store.server_folder(name))]
    fields += [(k, v) for k, v in data.items() if k != "location"]
    return pa_object(PA_SERVER, dict(fields))


def _account_object(store: Store, server: str, acct: dict[str, Any]) -> Any:
    data = dict(acct)
    data["Folder"] = store.account_folder(server, acct["id"])
    return pa_object(PA_ACCOUNT, data)


def _order_object(store: Store, server: str, account_id: str, order: dict[str, Any]) -> Any:
    data = {k: v for k, v in order.items() if k not in ("Name", "PfxPassB64U")}
    pfx = order.get("PfxPassB64U")
    data_with_pass: dict[str, Any] = {}
    for key, value in data.items():
        data_with_pass[key] = value
        if key == "FriendlyName":
            data_with_pass["PfxPass"] = _pfx_pass(order) if pfx is not None else "poshacme"
    data_with_pass["Name"] = order["Name"]
    data_with_pass["Folder"] = store.order_folder(server, account_id, order["Name"])
    return pa_object(PA_ORDER, data_with_pass)


def _pfx_pass(order: dict[str, Any]) -> str:
    b64 = order.get("PfxPassB64U")
    if b64 is None:
        return str(order.get("PfxPass") or "poshacme")
    return decode_base64url(str(b64)).decode("utf-8") if b64 else ""


def certificate_object(store: Store, server: str, account_id: str, order: dict[str, Any]) -> Any | None:
    folder = store.order_folder(server, account_id, order["Name"])
    cert_path = store.real(folder + "\\cert.cer")
    if not cert_path.is_file():
        return None
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - the Windows thumbprint
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        aki = None
    serial = cert.serial_number
    serial_bytes = serial.to_bytes((serial.bit_length() + 8) // 8, "big", signed=True)
    ari_id = f"{b64url(aki)}.{b64url(serial_bytes)}" if aki else None
    if ari_id is None:
        store.ctx.warning("Unable to determine ARIId for certificate.")
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        all_sans = [str(n) for n in sans.get_values_for_type(x509.DNSName)]
        all_sans += [str(n) for n in sans.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        all_sans = []
    csr_path = store.real(folder + "\\request.csr")
    csr = None
    if csr_path.is_file():
        csr = b64url(x509.load_pem_x509_csr(csr_path.read_bytes()).public_bytes(serialization.Encoding.DER))
    subject = ", ".join(attribute.rfc4514_string() for attribute in cert.subject)
    return pa_certificate(
        subject=subject,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_length=str(order.get("KeyLength") or "2048"),
        thumbprint=thumbprint,
        ari_id=ari_id,
        serial=str(serial),
        all_sans=all_sans,
        folder=folder,
        csr=csr,
        pfx_pass=_pfx_pass(order),
    )


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


# ----- Set-PAServer / Get-PAServer -------------------------------------------------------------------
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


# ----- orders ---------------------------------------------------------------------------------------
def _find_orders(
    store: Store, server: str, account_id: str, main_domain: str | None, name: str | None
) -> list[dict[str, Any]]:
    orders = store.orders(server, account_id)
    if name:
        orders = [o for o in orders if o["Name"].lower() == name.lower()]
    if main_domain:
        orders = [o for o in orders if str(o.get("MainDomain", "")).lower() == main_domain.lower()]
    return orders


def current_order(store: Store, server: str, account_id: str) -> dict[str, Any] | None:
    name = store.read_text(f"{store.account_folder(server, account_id)}\\current-order.txt")
    return store.order(server, account_id, name) if name else None


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
                except _PathRefused:
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


# ----- Revoke-PACertificate ---------------------------------------------------------------------------
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

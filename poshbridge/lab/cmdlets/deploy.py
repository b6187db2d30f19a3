"""Posh-ACME.Deploy 2.1.0: Set-IISCertificate (docs/reference/posh-acme.md §7).

Imports the PFX into the twin's emulated ``Cert:\\LocalMachine\\My`` when the thumbprint is not there,
then makes each ``<IP>:<Port>:<host>`` https binding of the site use it. Like the real function, every
failure is trapped and written as a NON-terminating error (``trap { $PSCmdlet.WriteError($PSItem);
return }``) and nothing is output: callers need ``-ErrorAction Stop`` to notice.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12

from poshbridge.lab.cmdlets.files import _PathRefused, confine
from poshbridge.lab.engine.registry import Invocation, Param, cmdlet, error_record
from poshbridge.lab.engine.values import secure_text

MODULE = "Posh-ACME.Deploy"
SSL_SNI = 1


class _Trapped(Exception):
    pass


def _fail(ctx: Invocation, message: str) -> Any:
    """``throw "message"`` inside the function, caught by its trap and written with WriteError."""
    ctx.error(
        error_record(
            message,
            message,
            "OperationStopped",
            target=message,
        )
    )
    raise _Trapped


@cmdlet(
    "Set-IISCertificate",
    [
        Param("CertThumbprint", position=0, aliases=("Thumbprint",), by_property_name=True),
        Param("PfxFile", position=1, by_property_name=True),
        Param("PfxPass", "securestring", position=2, by_property_name=True),
        Param("SiteName"),
        Param("Port", "uint"),
        Param("IPAddress"),
        Param("HostHeader", "string[]"),
        Param("RequireSNI", "switch"),
        Param("DisableHTTP2", "switch"),
        Param("DisableOCSPStapling", "switch"),
        Param("DisableQUIC", "switch"),
        Param("DisableTLS13", "switch"),
        Param("DisableLegacyTLS", "switch"),
        Param("RemoveOldCert", "switch"),
        Param("Force", "switch"),
    ],
    module=MODULE,
    aliases=("Set-IISCertificateNew",),
)
def set_iis_certificate(ctx: Invocation) -> None:
    try:
        _set(ctx)
    except _Trapped:
        return


def _set(ctx: Invocation) -> None:
    site_name = str(ctx.get("SiteName") or "Default Web Site")
    port = int(ctx.get("Port") if ctx.get("Port") is not None else 443)
    ip = str(ctx.get("IPAddress") or "*")
    headers = ctx.get("HostHeader") or [""]
    thumbprint = str(ctx.get("CertThumbprint") or "").upper()
    store = ctx.host.cert_store()
    if not thumbprint or store.path(thumbprint) is None:
        pfx_file = ctx.get("PfxFile")
        if not pfx_file:
            _fail(
                ctx,
                f"Certificate thumbprint '{thumbprint}' not found in LocalMachine\\My and no PfxFile "
                "was specified.",
            )
        try:
            real = confine(ctx.host, ctx.full_path(str(pfx_file)))
        except _PathRefused:
            _fail(ctx, f"Cannot find path '{pfx_file}' because it does not exist.")
        if not real.is_file():
            _fail(ctx, f"Cannot find path '{pfx_file}' because it does not exist.")
        password = secure_text(ctx.get("PfxPass")) if ctx.get("PfxPass") is not None else ""
        data = real.read_bytes()
        try:
            _key, cert, _chain = pkcs12.load_key_and_certificates(data, password.encode())
        except ValueError:
            _fail(
                ctx,
                'Exception calling "Import" with "3" argument(s): "The specified network password is not '
                'correct."',
            )
        assert cert is not None
        pfx_thumb = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - the Windows thumbprint
        thumbprint = thumbprint or pfx_thumb
        ctx.verbose(f"Importing cert with thumbprint {thumbprint} to LocalMachine\\My")
        store.import_pfx(data, password)
    iis = ctx.host.iis()
    with ctx.host.lock:
        state = iis.load()
        site_key = next((n for n in state["sites"] if n.lower() == site_name.lower()), None)
        if site_key is None:
            _fail(ctx, f"Site {site_name} not found.")
        assert site_key is not None
        site = state["sites"][site_key]
        flags = SSL_SNI if ctx.switch("RequireSNI") else 0
        old_thumbs: set[str] = set()
        for header in headers:
            bind = f"{ip}:{port}:{header}"
            existing = next(
                (
                    b
                    for b in site.get("bindings", [])
                    if b.get("protocol") == "https"
                    and str(b.get("binding_information", "")).lower() == bind.lower()
                ),
                None,
            )
            if existing is not None:
                same = (
                    str(existing.get("certificate_hash") or "").upper() == thumbprint
                    and int(existing.get("ssl_flags") or 0) == flags
                )
                if same:
                    ctx.verbose(f"IIS site binding already exists for {bind}")
                    continue
                ctx.verbose(f"Deleting IIS site binding for {bind}")
                if existing.get("certificate_hash"):
                    old_thumbs.add(str(existing["certificate_hash"]).upper())
                site["bindings"].remove(existing)
            ctx.verbose(f"Adding IIS site binding for {bind}")
            site.setdefault("bindings", []).append(
                {
                    "protocol": "https",
                    "binding_information": bind,
                    "certificate_hash": thumbprint,
                    "certificate_store": "My",
                    "ssl_flags": flags,
                }
            )
        iis.save(state)
    if ctx.switch("RemoveOldCert"):
        in_use = {
            str(b.get("certificate_hash") or "").upper()
            for s in iis.load()["sites"].values()
            for b in s.get("bindings", [])
        }
        for old in sorted(old_thumbs - {thumbprint} - in_use):
            ctx.verbose(f"Deleting old cert with thumbprint {old}")
            store.remove(old)

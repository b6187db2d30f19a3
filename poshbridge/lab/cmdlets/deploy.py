"""Posh-ACME.Deploy 2.1.0: Set-IISCertificate (rmbolger/Posh-ACME.Deploy
Posh-ACME.Deploy/Public/Set-IISCertificate.ps1).

Begin block: without an IISAdministration module >= 1.1.0.0 the function ends with a TERMINATING
error (``$PSCmdlet.ThrowTerminatingError``). Process block: imports the PFX into the twin's emulated
``Cert:\\LocalMachine\\My`` when the thumbprint is not there (Private/Confirm-CertInstall.ps1), then
makes each ``<IP>:<Port>:<host>`` https binding of the site use it, starting from the EXISTING
binding's sslFlags and changing only the switches that were passed. Like the real function, every
failure in the process block is trapped and written as a NON-terminating error (``trap
{ $PSCmdlet.WriteError($PSItem); return }``) and nothing is output: callers need ``-ErrorAction Stop``
to notice. ``-RemoveOldCert`` deletes each replaced thumbprint from LocalMachine\\My whether or not
another binding still uses it (Private/Remove-OldCert.ps1).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12

from poshbridge.lab.engine.registry import Invocation, Param, cmdlet, error_record
from poshbridge.lab.engine.values import secure_text
from poshbridge.lab.sandbox import PathRefused, confine

MODULE = "Posh-ACME.Deploy"
SSL_SNI = 1
# Set-IISCertificate.ps1, begin block: $switchMap of switches to Microsoft.Web.Administration.SslFlags
SWITCH_FLAGS = {
    "RequireSNI": SSL_SNI,  # Sni
    "DisableHTTP2": 4,  # DisableHTTP2
    "DisableOCSPStapling": 8,  # DisableOCSPStp
    "DisableQUIC": 16,  # DisableQUIC
    "DisableTLS13": 32,  # DisableTLS13
    "DisableLegacyTLS": 64,  # DisableLegacyTLS
}
IIS_ADMINISTRATION_NEEDED = (
    "The IISAdministration module version 1.1.0.0 or newer is required to use this function. "
    "https://blogs.iis.net/iisteam/introducing-iisadministration-in-the-powershell-gallery"
)


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
    # Begin block: Get-Command New-IISSiteBinding, else Get-Module -ListAvailable IISAdministration -All
    # filtered on Version -ge 1.1.0.0; none -> throw, caught and re-thrown with ThrowTerminatingError.
    if not _iis_administration_1_1(ctx):
        ctx.throw_script(IIS_ADMINISTRATION_NEEDED)
    try:
        _set(ctx)
    except _Trapped:
        return


def _iis_administration_1_1(ctx: Invocation) -> bool:
    from poshbridge.lab.cmdlets.core import module_versions

    return any(v >= (1, 1, 0, 0) for v in module_versions(ctx.host, "IISAdministration"))


def _new_flags(ctx: Invocation, current: int) -> int:
    """Set-IISCertificate.ps1: for each switch in $psb (bound, even as -Switch:$false): -bor when set,
    -bxor when passed as $false (the source's "Ensure Unset", a toggle); unpassed switches keep the
    binding's bits."""
    flags = current
    for name, bit in SWITCH_FLAGS.items():
        if ctx.has(name):
            flags = flags | bit if ctx.switch(name) else flags ^ bit
    return flags


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
        except PathRefused:
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
        old_thumbs: list[str] = []
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
                old_thumb = str(existing.get("certificate_hash") or "").upper()
                current = int(existing.get("ssl_flags") or 0)
                flags = _new_flags(ctx, current)
                if current == flags and old_thumb == thumbprint:
                    ctx.verbose(f"IIS site binding already exists for {bind}")
                    continue
                ctx.verbose(f"Deleting IIS site binding for {bind}")
                site["bindings"].remove(existing)
                if old_thumb != thumbprint:
                    old_thumbs.append(old_thumb)
            else:
                flags = _new_flags(ctx, 0)
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
        # Remove-OldCert.ps1: Get-ChildItem Cert:\LocalMachine\My | Where Thumbprint -eq $old | Remove-Item,
        # with no look at other bindings that may still use it.
        for old in sorted(set(old_thumbs)):
            if old and store.path(old) is not None:
                ctx.verbose(f"Deleting old cert with thumbprint {old}")
                store.remove(old)

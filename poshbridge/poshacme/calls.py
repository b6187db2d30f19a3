"""Cmd builders for every cmdlet poshbridge sends (pure: values in, :class:`Cmd` out).

One function per remote call, named after what it does, with the exact parameter names of the real
cmdlets (Posh-ACME 4.x, Posh-ACME.Deploy 2.x, IISAdministration, ScheduledTasks, the core
providers). Secrets stay :class:`Secret` until the session sends them.
"""

from __future__ import annotations

import ntpath
from collections.abc import Sequence

from poshbridge.powershell.command import SWITCH, Cmd, Secret, SecureSecret
from poshbridge.powershell.fixed import ENABLE_TLS12

REQUIRED_MODULES = ("Posh-ACME", "Posh-ACME.Deploy", "IISAdministration")
# Set-IISCertificate's begin block (rmbolger/Posh-ACME.Deploy Public/Set-IISCertificate.ps1) throws a
# terminating error without IISAdministration >= 1.1.0.0, a PowerShell Gallery module: Windows Server
# 2016 ships 1.0.0.0 in the box.
MINIMUM_MODULE_VERSIONS = {"IISAdministration": "1.1.0.0"}
# PowerShellGet on a stock Windows PowerShell 5.1 needs the NuGet provider >= 2.8.5.201 and, since the
# PowerShell Gallery and the provider download refuse TLS 1.0/1.1, TLS 1.2 in the session.
NUGET_MINIMUM_VERSION = "2.8.5.201"


def _mailto(contacts: Sequence[str]) -> list[str]:
    # Posh-ACME adds mailto: itself; send plain addresses so the stored contacts look like the manual's.
    return [c[7:] if c.lower().startswith("mailto:") else c for c in contacts]


# ----- environment, modules, files --------------------------------------------------------------------


def set_poshacme_home(home: str) -> Cmd:
    """Process-level POSHACME_HOME for this runspace pool, before any Posh-ACME cmdlet."""
    return Cmd.of("Set-Item", Path="Env:POSHACME_HOME", Value=home, ErrorAction="Stop")


def get_modules(names: Sequence[str] = REQUIRED_MODULES) -> Cmd:
    return Cmd.of("Get-Module", Name=list(names), ListAvailable=SWITCH)


def install_module(name: str) -> Cmd:
    return Cmd.of(
        "Install-Module",
        Name=name,
        MinimumVersion=MINIMUM_MODULE_VERSIONS.get(name),
        Force=SWITCH,
        Scope="AllUsers",
        ErrorAction="Stop",
    )


def enable_tls12() -> Cmd:
    """``[Net.ServicePointManager]::SecurityProtocol`` += Tls12 for this session: one fixed statement."""
    return Cmd.fixed_script(ENABLE_TLS12)


def install_nuget_provider() -> Cmd:
    return Cmd.of(
        "Install-PackageProvider",
        Name="NuGet",
        MinimumVersion=NUGET_MINIMUM_VERSION,
        Force=SWITCH,
        ErrorAction="Stop",
    )


def new_directory(path: str) -> Cmd:
    return Cmd.of("New-Item", ItemType="Directory", Path=path, Force=SWITCH, ErrorAction="Stop")


# POSHACME_HOME holds the ACME account key (acct.json) and certificate keys: SYSTEM and Administrators
# only, full control, inherited by everything below, nothing inherited from ProgramData (where
# BUILTIN\\Users may read; win-acme fixed the same exposure, win-acme/win-acme#2227).
HOME_SDDL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
DIRECTORY_SECURITY = "System.Security.AccessControl.DirectorySecurity"


def get_acl(path: str) -> Cmd:
    return Cmd.of("Get-Acl", LiteralPath=path, ErrorAction="SilentlyContinue")


def set_home_acl(path: str) -> tuple[Cmd, Cmd]:
    """``New-Object DirectorySecurity -Property @{SetSecurityDescriptorSddlForm = <fixed SDDL>} | Set-Acl``.

    New-Object's -Property calls a METHOD named by a key with the value as its argument
    (PowerShell New-Object.cs, LanguagePrimitives.SetObjectProperties with enableMethodCall), so the
    DACL is built on the host from data; Set-Acl takes it from the pipeline (-AclObject is
    ValueFromPipeline) and writes only the DACL (the SDDL holds no owner or group)."""
    return (
        Cmd.of(
            "New-Object", TypeName=DIRECTORY_SECURITY, Property={"SetSecurityDescriptorSddlForm": HOME_SDDL}
        ),
        Cmd.of("Set-Acl", LiteralPath=path, ErrorAction="Stop"),
    )


def test_path(path: str) -> Cmd:
    return Cmd.of("Test-Path", LiteralPath=path)


def get_content_raw(path: str) -> Cmd:
    return Cmd.of("Get-Content", LiteralPath=path, Raw=SWITCH, ErrorAction="SilentlyContinue")


def set_content(path: str, value: str, *, encoding: str | None = None) -> Cmd:
    return Cmd.of("Set-Content", LiteralPath=path, Value=value, Encoding=encoding, ErrorAction="Stop")


def set_content_bytes(path: str, data: bytes, *, edition: str | None) -> Cmd:
    """Write ``data`` as is. Windows PowerShell 5.1: ``-Encoding Byte``; PowerShell 7 has no Byte
    encoding and spells it ``-AsByteStream`` (PowerShell EncodingUtils.cs / FileSystemProvider.cs)."""
    if (edition or "").lower() == "core":
        return Cmd.of("Set-Content", LiteralPath=path, Value=data, AsByteStream=SWITCH, ErrorAction="Stop")
    return Cmd.of("Set-Content", LiteralPath=path, Value=data, Encoding="Byte", ErrorAction="Stop")


def parent_dir(path: str) -> str:
    return ntpath.dirname(path)


# ----- Posh-ACME ---------------------------------------------------------------------------------------


def get_pa_server() -> Cmd:
    return Cmd.of("Get-PAServer")


def set_pa_server(directory: str, *, skip_certificate_check: bool = False) -> Cmd:
    return Cmd.of(
        "Set-PAServer",
        DirectoryUrl=directory,
        DisableTelemetry=SWITCH,
        SkipCertificateCheck=SWITCH if skip_certificate_check else None,
    )


def get_pa_accounts() -> Cmd:
    return Cmd.of("Get-PAAccount", List=SWITCH)


def get_pa_account_current() -> Cmd:
    return Cmd.of("Get-PAAccount")


def set_pa_account(account_id: str) -> Cmd:
    return Cmd.of("Set-PAAccount", ID=account_id)


def new_pa_account(
    *, eab_kid: Secret | str, eab_hmac: Secret, contacts: Sequence[str], key_length: str = "ec-256"
) -> Cmd:
    return Cmd.of(
        "New-PAAccount",
        ExtAcctKID=eab_kid,
        ExtAcctHMACKey=eab_hmac,
        Contact=_mailto(contacts),
        KeyLength=key_length,
        AcceptTOS=SWITCH,
        Force=SWITCH,
    )


def get_pa_orders() -> Cmd:
    return Cmd.of("Get-PAOrder", List=SWITCH)


def get_pa_order(name: str, *, refresh: bool = False) -> Cmd:
    return Cmd.of("Get-PAOrder", Name=name, Refresh=SWITCH if refresh else None)


def new_pa_certificate(
    domains: Sequence[str],
    *,
    webroot: str,
    order_name: str,
    key_length: str = "2048",
    plugin: str = "WebRoot",
    pfx_password: SecureSecret | None = None,
) -> Cmd:
    return Cmd.of(
        "New-PACertificate",
        Domain=list(domains),
        Name=order_name,
        Plugin=plugin,
        PluginArgs={"WRPath": webroot},
        CertKeyLength=key_length,
        PfxPassSecure=pfx_password,  # without it Posh-ACME uses the public default 'poshacme'
    )


def get_pa_certificate(order_name: str) -> Cmd:
    return Cmd.of("Get-PACertificate", Name=order_name)


def get_pa_certificates() -> Cmd:
    return Cmd.of("Get-PACertificate", List=SWITCH)


def submit_renewal(order_name: str, *, force: bool = False) -> Cmd:
    return Cmd.of("Submit-Renewal", Name=order_name, Force=SWITCH if force else None)


def revoke_pa_certificate(order_name: str, *, reason: str | None = None) -> Cmd:
    return Cmd.of("Revoke-PACertificate", Name=order_name, Reason=reason, Force=SWITCH)


# ----- IIS -----------------------------------------------------------------------------------------------


def set_iis_certificate(
    *,
    site: str,
    port: int,
    ip_address: str = "*",
    host_header: str = "",
    require_sni: bool = False,
    remove_old_cert: bool = False,
) -> Cmd:
    """Takes the PACertificate from the pipeline (Thumbprint, PfxFile, PfxPass stay on the host)."""
    return Cmd.of(
        "Set-IISCertificate",
        SiteName=site,
        Port=port,
        IPAddress=ip_address if ip_address and ip_address != "*" else None,
        HostHeader=host_header or None,
        RequireSNI=SWITCH if require_sni else None,
        RemoveOldCert=SWITCH if remove_old_cert else None,
        ErrorAction="Stop",
    )


def get_iis_site_bindings(site: str) -> Cmd:
    return Cmd.of("Get-IISSiteBinding", Name=site, ErrorAction="SilentlyContinue")


def get_all_site_bindings() -> tuple[Cmd, Cmd]:
    """``Get-IISSite | Get-IISSiteBinding``: every site's bindings (as Set-IISCertificate's begin block
    enumerates them), to know whether a certificate is used by another binding."""
    return (
        Cmd.of("Get-IISSite", ErrorAction="SilentlyContinue"),
        Cmd.of("Get-IISSiteBinding", ErrorAction="SilentlyContinue"),
    )


# ----- Task Scheduler ----------------------------------------------------------------------------------


def register_scheduled_task(*, name: str, path: str, xml: str) -> Cmd:
    return Cmd.of("Register-ScheduledTask", TaskName=name, TaskPath=path, Xml=xml, Force=SWITCH)


def get_scheduled_task(*, name: str, path: str) -> Cmd:
    return Cmd.of("Get-ScheduledTask", TaskName=name, TaskPath=path, ErrorAction="SilentlyContinue")


def get_scheduled_task_info(*, name: str, path: str) -> Cmd:
    return Cmd.of("Get-ScheduledTaskInfo", TaskName=name, TaskPath=path, ErrorAction="SilentlyContinue")


def export_scheduled_task(*, name: str, path: str) -> Cmd:
    return Cmd.of("Export-ScheduledTask", TaskName=name, TaskPath=path, ErrorAction="SilentlyContinue")

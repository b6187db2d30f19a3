"""PackageManagement / PowerShellGet on a stock Windows PowerShell 5.1, and the session's TLS setting.

A fresh 5.1 session offers ``Ssl3, Tls`` (.NET Framework 4.x ServicePointManager without
SchUseStrongCrypto), and the twin has no NuGet provider, like a freshly installed server. The PowerShell
Gallery and the provider bootstrap answer only TLS 1.2, so (MicrosoftDocs/PowerShell-Docs#6083,
PowerShell/PowerShell#12952, the PowerShellGet 1.0.0.1 output quoted there):

- ``Install-PackageProvider -Name NuGet`` without TLS 1.2 warns ``Unable to download from URI
  'https://go.microsoft.com/fwlink/?LinkID=627338&clcid=0x409' to ''.`` and ``Unable to download the list
  of available providers. Check your internet connection.``, then writes
  ``NoMatchFoundForProvider,Microsoft.PowerShell.PackageManagement.Cmdlets.InstallPackageProvider``;
- ``Install-Module -Force`` without the provider bootstraps it the same way (and fails the same way
  without TLS 1.2, ending with PowerShellGet's ``CouldNotInstallNuGetProvider``); without ``-Force`` it
  asks "NuGet provider is required to continue", which a remote session cannot answer;
- ``Install-Module`` with the provider but without TLS 1.2 warns ``Unable to resolve package source
  'https://www.powershellgallery.com/api/v2'.`` and writes ``NoMatchFoundForCriteria``.

The only script statement the lab runs is the assignment of ``[Net.ServicePointManager]::SecurityProtocol``
from ``-bor`` of the current value and ``[Net.SecurityProtocolType]`` members (what every 5.1 guide
writes); any other script text stays unsupported.
"""

from __future__ import annotations

import re
from typing import Any

from poshbridge.lab.engine.contract import RunspaceState
from poshbridge.lab.engine.objects import custom_object
from poshbridge.lab.engine.registry import Invocation, Param, cmdlet, error_record
from poshbridge.lab.host import TwinHost

SECURITY_PROTOCOL = "__lab_security_protocol"
DEFAULT_PROTOCOLS = ("Ssl3", "Tls")  # [Net.ServicePointManager]::SecurityProtocol in a fresh 5.1 session
_PROTOCOLS = ("SystemDefault", "Ssl3", "Tls", "Tls11", "Tls12", "Tls13")
NUGET_VERSION = "2.8.5.208"  # what the bootstrap installs
NUGET_MINIMUM = (2, 8, 5, 201)
PROVIDER_DIR = "C:\\Program Files\\PackageManagement\\ProviderAssemblies\\nuget"
PROVIDER_URI = "https://go.microsoft.com/fwlink/?LinkID=627338&clcid=0x409"
GALLERY_URI = "https://www.powershellgallery.com/api/v2"

_ASSIGN = re.compile(
    r"^\s*\[(?:System\.)?Net\.ServicePointManager\]::SecurityProtocol\s*=\s*(?P<rhs>.+?)\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CURRENT = re.compile(r"^\[(?:System\.)?Net\.ServicePointManager\]::SecurityProtocol$", re.IGNORECASE)
_MEMBER = re.compile(r"^\[(?:System\.)?Net\.SecurityProtocolType\]::(\w+)$", re.IGNORECASE)
_QUOTED = re.compile(r"^'(\w+)'$|^\"(\w+)\"$")


def protocols(runspace: RunspaceState) -> tuple[str, ...]:
    return tuple(runspace.variables.get(SECURITY_PROTOCOL, DEFAULT_PROTOCOLS))


def run_fixed_statement(runspace: RunspaceState, text: str) -> bool:
    """Run ``text`` when it is a SecurityProtocol assignment the lab understands; False otherwise."""
    match = _ASSIGN.match(text)
    if match is None:
        return False
    chosen: list[str] = []
    for term in re.split(r"\s+-bor\s+", match.group("rhs").strip(), flags=re.IGNORECASE):
        term = term.strip().strip("()").strip()
        if _CURRENT.match(term):
            names = list(protocols(runspace))
        elif (member := _MEMBER.match(term)) is not None:
            names = [member.group(1)]
        elif (quoted := _QUOTED.match(term)) is not None:
            names = [quoted.group(1) or quoted.group(2)]
        else:
            return False
        for name in names:
            canonical = next((p for p in _PROTOCOLS if p.lower() == name.lower()), None)
            if canonical is None:
                return False
            if canonical not in chosen:
                chosen.append(canonical)
    runspace.variables[SECURITY_PROTOCOL] = tuple(chosen)
    return True


def tls12(ctx: Invocation) -> bool:
    return "Tls12" in protocols(ctx.runspace)


def _version(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in re.findall(r"\d+", text)[:4]]
    return tuple(parts + [0] * (4 - len(parts)))


def nuget_provider(host: TwinHost) -> str | None:
    """The newest NuGet provider version installed machine-wide (None when there is none)."""
    folder = host.real_path(PROVIDER_DIR)
    if not folder.is_dir():
        return None
    versions = [
        d.name for d in folder.iterdir() if (d / "Microsoft.PackageManagement.NuGetProvider.dll").is_file()
    ]
    return max(versions, key=_version) if versions else None


def _provider_usable(host: TwinHost) -> bool:
    found = nuget_provider(host)
    return found is not None and _version(found) >= NUGET_MINIMUM


def _install_provider_files(host: TwinHost) -> None:
    folder = host.real_path(f"{PROVIDER_DIR}\\{NUGET_VERSION}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Microsoft.PackageManagement.NuGetProvider.dll").write_bytes(b"MZ lab NuGet provider\n")


def _bootstrap_failed(ctx: Invocation, name: str) -> None:
    ctx.warning(f"Unable to download from URI '{PROVIDER_URI}' to ''.")
    ctx.warning("Unable to download the list of available providers. Check your internet connection.")
    ctx.error(
        error_record(
            f"No match was found for the specified search criteria for the provider '{name}'. The "
            "package provider requires 'PackageManagement' and 'Provider' tags. Please check if the "
            "specified package has the tags.",
            "NoMatchFoundForProvider,Microsoft.PowerShell.PackageManagement.Cmdlets.InstallPackageProvider",
            "InvalidArgument",
            exception_type="System.Exception",
            target="Microsoft.PowerShell.PackageManagement.Cmdlets.InstallPackageProvider",
        ),
        suffix=False,  # PackageManagement\Install-PackageProvider writes it, even inside Install-Module
    )


def _software_identity() -> Any:
    return custom_object(
        "Microsoft.PackageManagement.Packaging.SoftwareIdentity",
        [
            ("Name", "nuget"),
            ("Version", NUGET_VERSION),
            ("Status", "Installed"),
            (
                "Source",
                f"https://onegetcdn.azureedge.net/providers/Microsoft.PackageManagement.NuGetProvider-{NUGET_VERSION}.dll",
            ),
            ("Summary", "NuGet provider for the OneGet meta-package manager"),
        ],
    )


@cmdlet(
    "Install-PackageProvider",
    [
        Param("Name", "string[]", position=0, mandatory=True),
        Param("MinimumVersion"),
        Param("MaximumVersion"),
        Param("RequiredVersion"),
        Param("Force", "switch"),
        Param("ForceBootstrap", "switch"),
        Param("Scope", choices=("CurrentUser", "AllUsers")),
        Param("Source", "string[]"),
    ],
    class_name="Microsoft.PowerShell.PackageManagement.Cmdlets.InstallPackageProvider",
    should_process=True,
)
def install_package_provider(ctx: Invocation) -> None:
    for name in ctx.get("Name") or []:
        if str(name).lower() != "nuget" or not tls12(ctx):
            _bootstrap_failed(ctx, str(name))
            continue
        _install_provider_files(ctx.host)
        ctx.output(_software_identity())


def gallery_reachable(ctx: Invocation, module_name: str) -> bool:
    """Install-Module's way to the gallery (PowerShellGet 1.0.0.1): the NuGet provider, then TLS 1.2.

    Writes what 5.1 writes when it fails and returns False (a terminating error when the bootstrap
    cannot happen)."""
    if not _provider_usable(ctx.host):
        if not ctx.switch("Force"):
            ctx.prompt_required(
                "NuGet provider is required to continue",
                "PowerShellGet requires NuGet provider version '2.8.5.201' or newer to interact with "
                "NuGet-based repositories. The NuGet provider must be available in 'C:\\Program Files\\"
                "PackageManagement\\ProviderAssemblies' or 'C:\\Users\\certadmin\\AppData\\Local\\"
                "PackageManagement\\ProviderAssemblies'. You can also install the NuGet provider by running "
                "'Install-PackageProvider -Name NuGet -MinimumVersion 2.8.5.201 -Force'. Do you want "
                "PowerShellGet to install and import the NuGet provider now?",
            )
        if not tls12(ctx):
            _bootstrap_failed(ctx, "NuGet")
            ctx.throw(
                error_record(
                    "NuGet provider is required to interact with NuGet-based repositories. Please ensure "
                    "that '2.8.5.201' or newer version of NuGet provider is installed.",
                    "CouldNotInstallNuGetProvider",
                    "InvalidOperation",
                    exception_type="System.InvalidOperationException",
                )
            )
        _install_provider_files(ctx.host)
    if not tls12(ctx):
        ctx.warning(f"Unable to resolve package source '{GALLERY_URI}'.")
        ctx.error(
            error_record(
                f"No match was found for the specified search criteria and module name '{module_name}'. Try "
                "Get-PSRepository to see all available registered module repositories.",
                "NoMatchFoundForCriteria,Microsoft.PowerShell.PackageManagement.Cmdlets.InstallPackage",
                "ObjectNotFound",
                exception_type="System.Exception",
                target=module_name,
            ),
            suffix=False,
        )
        return False
    return True

"""Typed inventory: what the operator described, after defaults/groups are merged and validated.

Secrets are kept as references (:class:`SecretRef`) and resolved only by
``poshbridge.inventory.secrets.resolve`` when a remote command needs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

DEFAULT_DIRECTORY = "https://acme.amecert.jprs.jp/DV/getDirectory"
DEFAULT_POSHACME_HOME = r"C:\ProgramData\poshbridge\Posh-ACME"
POWERSHELL_EXE = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"


@dataclass(frozen=True)
class SecretRef:
    """Where a secret lives: ``{env: NAME}``, ``{file: PATH}`` or (discouraged) a literal."""

    source: Literal["env", "file", "literal"]
    name: str  # env var name, file path, or "" for a literal
    _literal: str = field(default="", repr=False, compare=False)

    def describe(self) -> str:
        """Safe to print: never the value."""
        if self.source == "env":
            return f"env:{self.name}"
        if self.source == "file":
            return f"file:{self.name}"
        return "literal (in the inventory file)"

    def __repr__(self) -> str:
        return f"SecretRef({self.describe()})"


@dataclass(frozen=True)
class WinRMConfig:
    """How to reach the host's WinRM endpoint (the inventory's ``winrm`` section)."""

    transport: Literal["http", "https"] = "https"
    port: int | None = None  # None: 5986 for https, 5985 for http
    auth: Literal["negotiate", "kerberos", "ntlm", "credssp", "certificate", "basic"] = "negotiate"
    username: str | None = None
    password: SecretRef | None = None
    verify: bool | str = True  # bool, or a CA bundle path
    configuration_name: str = "Microsoft.PowerShell"
    operation_timeout: int = 20
    connection_timeout: int = 30
    read_timeout: int = 30
    certificate_pem: str | None = None  # certificate auth
    certificate_key_pem: str | None = None

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 5986 if self.transport == "https" else 5985


@dataclass(frozen=True)
class AcmeConfig:
    """The ACME server, the EAB account and the order options (the ``acme`` section)."""

    directory: str = DEFAULT_DIRECTORY
    eab_kid: SecretRef | None = None
    eab_hmac: SecretRef | None = None
    contacts: tuple[str, ...] = ()
    plugin: str = "WebRoot"
    cert_key_length: str = "2048"
    account_key_length: str = "ec-256"
    poshacme_home: str = DEFAULT_POSHACME_HOME
    skip_certificate_check: bool = False  # Set-PAServer -SkipCertificateCheck; needs --insecure
    pfx_password: SecretRef | None = (
        None  # New-PACertificate -PfxPassSecure (default: Posh-ACME's 'poshacme')
    )


@dataclass(frozen=True)
class RenewalConfig:
    """The renewal script and its scheduled task (the ``renewal`` section)."""

    script_path: str = r"C:\poshbridge\renew.ps1"
    log_dir: str = r"C:\poshbridge\logs"
    start: str = "03:17"  # HH:MM host local time
    random_delay: str = "PT1H"
    repeat_every: str = "PT1H"
    repeat_for: str = "P1D"
    time_limit: str = "P3D"
    wait_after_renewal: int = 600  # seconds (manual: 600 for the OCSP lag)
    task_name: str = "poshbridge renew"
    task_path: str = "\\"
    end_boundary: str | None = None  # optional ISO date-time: the manual's "Expire"
    log_retention_days: int = 90
    start_date: str = "2024-01-01"  # date part of StartBoundary


@dataclass(frozen=True)
class IISConfig:
    """The IIS site and its https binding (the ``iis`` section)."""

    site: str = "Default Web Site"
    port: int = 443
    ip_address: str = "*"
    host_header: str = ""
    require_sni: bool = False
    remove_old_cert: bool = False


@dataclass(frozen=True)
class HostConfig:
    """One host with every section merged (defaults < group vars < host) and validated."""

    name: str
    address: str
    domains: tuple[str, ...]  # ASCII (IDN converted to punycode), first = main domain
    webroot: str
    iis: IISConfig = IISConfig()
    winrm: WinRMConfig = WinRMConfig()
    acme: AcmeConfig = AcmeConfig()
    renewal: RenewalConfig = RenewalConfig()
    groups: tuple[str, ...] = ()

    @property
    def main_domain(self) -> str:
        return self.domains[0]

    @property
    def order_name(self) -> str:
        """Posh-ACME's default order name: the main domain with ``*`` → ``!``."""
        return self.main_domain.replace("*", "!")


@dataclass(frozen=True)
class Problem:
    """One validation finding, with the key path it is about (e.g. ``hosts.host01.domains[1]``)."""

    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.message}"


@dataclass(frozen=True)
class Inventory:
    """The validated inventory: hosts, groups, where it came from and every problem found."""

    hosts: dict[str, HostConfig]
    groups: dict[str, tuple[str, ...]]
    source: str = ""
    problems: tuple[Problem, ...] = ()
    base_dir: Path | None = None  # relative secret/CA paths; None: the folder of ``source``

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    def resolved_base_dir(self) -> Path:
        """The folder relative secret files and CA bundles are resolved against: ``base_dir``, else
        the inventory file's folder, else the working directory."""
        if self.base_dir is not None:
            return Path(self.base_dir)
        return Path(self.source).resolve().parent if self.source else Path.cwd()

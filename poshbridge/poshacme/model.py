"""Typed views of what the host's cmdlets return (Posh-ACME, IIS, Task Scheduler, modules).

Built from the plain dicts the remote session produces (properties merged from adapted and extended
properties, ``"_types"`` = PSTypeNames). Tolerant: a missing field is ``None``; property names are
matched case-insensitively (PowerShell's rule); dates become timezone-aware UTC datetimes.

Never kept: the account's private ``key`` (full JWK with ``d``), ``sskey``, and any ``PfxPass``.
Pure: no IO, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from poshbridge.audit.task_results import never_is_none
from poshbridge.timefmt import format_timestamp, parse_timestamp

# ----- tolerant field access -------------------------------------------------------------------------


def get_field(obj: Mapping[str, Any] | None, *names: str) -> Any:
    """The first present, non-None property among ``names`` (case-insensitive)."""
    if not isinstance(obj, Mapping):
        return None
    lowered = {str(k).lower(): v for k, v in obj.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value is not None:
            return value
    return None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping):  # an enum or object that came through as a dict
        text = get_field(value, "_string", "Value", "value__")
        return str(text) if text is not None else None
    text = str(value)
    return text if text != "" else None


def _bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    return None


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _str_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return tuple(str(v) for v in value if v is not None and str(v) != "")
    return (str(value),)


def types_of(obj: Any) -> tuple[str, ...]:
    if isinstance(obj, Mapping):
        return tuple(str(t) for t in obj.get("_types", ()) or ())
    return ()


def has_type(obj: Any, type_name: str) -> bool:
    """True when ``type_name`` is among the PSTypeNames (``Deserialized.`` prefix ignored)."""
    wanted = type_name.lower()
    return any(t.lower().removeprefix("deserialized.") == wanted for t in types_of(obj))


# ----- Posh-ACME ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PAServer:
    """``PoshACME.PAServer`` (Get-PAServer)."""

    location: str | None = None  # the directory URL
    name: str | None = None
    folder: str | None = None
    skip_certificate_check: bool | None = None
    disable_telemetry: bool | None = None
    external_account_required: bool | None = None
    terms_of_service: str | None = None

    @classmethod
    def from_obj(cls, obj: Mapping[str, Any]) -> PAServer:
        meta = get_field(obj, "meta")
        return cls(
            location=_str(get_field(obj, "location", "DirectoryUrl")),
            name=_str(get_field(obj, "Name")),
            folder=_str(get_field(obj, "Folder")),
            skip_certificate_check=_bool(get_field(obj, "SkipCertificateCheck")),
            disable_telemetry=_bool(get_field(obj, "DisableTelemetry")),
            external_account_required=_bool(get_field(meta, "externalAccountRequired")),
            terms_of_service=_str(get_field(meta, "termsOfService")),
        )

    def to_json(self) -> dict[str, Any]:
        """``{"location", "name", "folder", "skip_certificate_check", "disable_telemetry",
        "external_account_required", "terms_of_service"}``."""
        return {
            "location": self.location,
            "name": self.name,
            "folder": self.folder,
            "skip_certificate_check": self.skip_certificate_check,
            "disable_telemetry": self.disable_telemetry,
            "external_account_required": self.external_account_required,
            "terms_of_service": self.terms_of_service,
        }


def normalize_contact(contact: str) -> str:
    """``admin@example.jp`` and ``mailto:Admin@example.jp`` compare equal (mailto: URI, lower case)."""
    text = contact.strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return "mailto:" + text.lower()


@dataclass(frozen=True)
class PAAccount:
    """``PoshACME.PAAccount`` (Get-PAAccount). The private ``key`` and ``sskey`` are never kept."""

    id: str | None = None
    status: str | None = None
    contact: tuple[str, ...] = ()
    location: str | None = None
    alg: str | None = None
    key_length: str | None = None
    folder: str | None = None

    @classmethod
    def from_obj(cls, obj: Mapping[str, Any]) -> PAAccount:
        return cls(
            id=_str(get_field(obj, "id", "Name")),
            status=_str(get_field(obj, "status")),
            contact=_str_list(get_field(obj, "contact")),
            location=_str(get_field(obj, "location")),
            alg=_str(get_field(obj, "alg")),
            key_length=_str(get_field(obj, "KeyLength")),
            folder=_str(get_field(obj, "Folder")),
        )

    @property
    def is_valid(self) -> bool:
        return (self.status or "").lower() == "valid"

    def contacts_match(self, contacts: Sequence[str]) -> bool:
        return sorted({normalize_contact(c) for c in self.contact}) == sorted(
            {normalize_contact(c) for c in contacts}
        )

    def to_json(self) -> dict[str, Any]:
        """``{"id", "status", "contact": [...], "location", "alg", "key_length", "folder"}`` (no key)."""
        return {
            "id": self.id,
            "status": self.status,
            "contact": list(self.contact),
            "location": self.location,
            "alg": self.alg,
            "key_length": self.key_length,
            "folder": self.folder,
        }


@dataclass(frozen=True)
class PAOrder:
    """``PoshACME.PAOrder`` (Get-PAOrder). ``expires`` is the ACME order object's expiry;
    ``cert_expires`` the certificate's NotAfter; ``renew_after`` when Submit-Renewal acts."""

    name: str | None = None
    main_domain: str | None = None
    status: str | None = None
    sans: tuple[str, ...] = ()
    key_length: str | None = None
    cert_expires: datetime | None = None
    renew_after: datetime | None = None
    expires: datetime | None = None
    plugin: tuple[str, ...] = ()
    location: str | None = None
    folder: str | None = None

    @classmethod
    def from_obj(cls, obj: Mapping[str, Any]) -> PAOrder:
        return cls(
            name=_str(get_field(obj, "Name")),
            main_domain=_str(get_field(obj, "MainDomain")),
            status=_str(get_field(obj, "status")),
            sans=_str_list(get_field(obj, "SANs")),
            key_length=_str(get_field(obj, "KeyLength")),
            cert_expires=parse_timestamp(get_field(obj, "CertExpires")),
            renew_after=parse_timestamp(get_field(obj, "RenewAfter")),
            expires=parse_timestamp(get_field(obj, "expires")),
            plugin=_str_list(get_field(obj, "Plugin", "DnsPlugin")),
            location=_str(get_field(obj, "location")),
            folder=_str(get_field(obj, "Folder")),
        )

    @property
    def all_names(self) -> tuple[str, ...]:
        names = [self.main_domain] if self.main_domain else []
        return tuple(dict.fromkeys([*names, *self.sans]))

    def same_names(self, domains: Sequence[str]) -> bool:
        return sorted({d.lower() for d in self.all_names}) == sorted({d.lower() for d in domains})

    @property
    def is_valid(self) -> bool:
        return (self.status or "").lower() == "valid"

    def to_json(self) -> dict[str, Any]:
        """``{"name", "main_domain", "status", "sans", "key_length", "cert_expires", "renew_after",
        "expires", "plugin", "location", "folder"}`` (dates ISO 8601 UTC with ``Z``)."""
        return {
            "name": self.name,
            "main_domain": self.main_domain,
            "status": self.status,
            "sans": list(self.sans),
            "key_length": self.key_length,
            "cert_expires": format_timestamp(self.cert_expires),
            "renew_after": format_timestamp(self.renew_after),
            "expires": format_timestamp(self.expires),
            "plugin": list(self.plugin),
            "location": self.location,
            "folder": self.folder,
        }


@dataclass(frozen=True)
class PACertificate:
    """``PoshACME.PACertificate`` (Get-PACertificate, Submit-Renewal). ``PfxPass`` is never kept."""

    subject: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    key_length: str | None = None
    thumbprint: str | None = None
    serial: str | None = None
    all_sans: tuple[str, ...] = ()
    cert_file: str | None = None
    key_file: str | None = None
    chain_file: str | None = None
    full_chain_file: str | None = None
    pfx_file: str | None = None
    pfx_full_chain: str | None = None

    @classmethod
    def from_obj(cls, obj: Mapping[str, Any]) -> PACertificate:
        thumb = _str(get_field(obj, "Thumbprint"))
        return cls(
            subject=_str(get_field(obj, "Subject")),
            not_before=parse_timestamp(get_field(obj, "NotBefore")),
            not_after=parse_timestamp(get_field(obj, "NotAfter")),
            key_length=_str(get_field(obj, "KeyLength")),
            thumbprint=thumb.upper() if thumb else None,
            serial=_str(get_field(obj, "Serial")),
            all_sans=_str_list(get_field(obj, "AllSANs")),
            cert_file=_str(get_field(obj, "CertFile")),
            key_file=_str(get_field(obj, "KeyFile")),
            chain_file=_str(get_field(obj, "ChainFile")),
            full_chain_file=_str(get_field(obj, "FullChainFile")),
            pfx_file=_str(get_field(obj, "PfxFile")),
            pfx_full_chain=_str(get_field(obj, "PfxFullChain")),
        )

    def days_left(self, now: datetime) -> float | None:
        if self.not_after is None:
            return None
        return (self.not_after - now).total_seconds() / 86400

    def to_json(self) -> dict[str, Any]:
        """``{"subject", "not_before", "not_after", "key_length", "thumbprint", "serial", "all_sans",
        "cert_file", "key_file", "chain_file", "full_chain_file", "pfx_file", "pfx_full_chain"}``."""
        return {
            "subject": self.subject,
            "not_before": format_timestamp(self.not_before),
            "not_after": format_timestamp(self.not_after),
            "key_length": self.key_length,
            "thumbprint": self.thumbprint,
            "serial": self.serial,
            "all_sans": list(self.all_sans),
            "cert_file": self.cert_file,
            "key_file": self.key_file,
            "chain_file": self.chain_file,
            "full_chain_file": self.full_chain_file,
            "pfx_file": self.pfx_file,
            "pfx_full_chain": self.pfx_full_chain,
        }


# ----- IIS, Task Scheduler, modules -----------------------------------------------------------------


def _hash_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex().upper() or None
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        return bytes(int(v) & 0xFF for v in value).hex().upper() or None
    text = str(value).replace(" ", "").replace(":", "").replace("-", "")
    return text.upper() or None


@dataclass(frozen=True)
class IISBinding:
    """A ``Microsoft.Web.Administration.Binding`` (Get-IISSiteBinding)."""

    protocol: str | None = None
    binding_information: str | None = None
    certificate_hash: str | None = None  # uppercase hex thumbprint
    certificate_store: str | None = None
    ssl_flags: str | None = None

    @classmethod
    def from_obj(cls, obj: Mapping[str, Any]) -> IISBinding:
        return cls(
            protocol=_str(get_field(obj, "protocol", "Protocol")),
            binding_information=_str(get_field(obj, "bindingInformation", "BindingInformation")),
            certificate_hash=_hash_text(get_field(obj, "CertificateHash", "certificateHash", "Thumbprint")),
            certificate_store=_str(get_field(obj, "CertificateStoreName", "certificateStoreName")),
            ssl_flags=_str(get_field(obj, "sslFlags", "SslFlags")),
        )

    @property
    def parts(self) -> tuple[str, int | None, str]:
        info = self.binding_information or ""
        ip, _, rest = info.partition(":")
        port, _, host = rest.partition(":")
        return ip, _int(port), host

    def matches(self, *, port: int, ip_address: str = "*", host_header: str = "") -> bool:
        """Whether Set-IISCertificate would take this binding as its own (the one matcher:
        :func:`poshbridge.hoststate.binding.is_managed_binding`)."""
        from poshbridge.hoststate.binding import is_managed_binding

        return is_managed_binding(self, port=port, ip_address=ip_address, host_header=host_header)

    def to_json(self) -> dict[str, Any]:
        """``{"protocol", "binding_information", "certificate_hash", "certificate_store", "ssl_flags"}``."""
        return {
            "protocol": self.protocol,
            "binding_information": self.binding_information,
            "certificate_hash": self.certificate_hash,
            "certificate_store": self.certificate_store,
            "ssl_flags": self.ssl_flags,
        }


_TASK_STATES = {0: "Unknown", 1: "Disabled", 2: "Queued", 3: "Ready", 4: "Running"}


@dataclass(frozen=True)
class ScheduledTaskInfo:
    """Get-ScheduledTask (name, path, state) merged with Get-ScheduledTaskInfo (run times, result)."""

    task_name: str | None = None
    task_path: str | None = None
    state: str | None = None
    last_run_time: datetime | None = None
    last_task_result: int | None = None
    next_run_time: datetime | None = None
    missed_runs: int | None = None

    @classmethod
    def from_objs(
        cls, task: Mapping[str, Any] | None, info: Mapping[str, Any] | None = None
    ) -> ScheduledTaskInfo:
        state_raw = get_field(task, "State")
        state_int = _int(state_raw)
        state = _TASK_STATES.get(state_int, str(state_int)) if state_int is not None else _str(state_raw)
        return cls(
            task_name=_str(get_field(task, "TaskName")) or _str(get_field(info, "TaskName")),
            task_path=_str(get_field(task, "TaskPath")) or _str(get_field(info, "TaskPath")),
            state=state,
            last_run_time=never_is_none(parse_timestamp(get_field(info, "LastRunTime"))),
            last_task_result=_int(get_field(info, "LastTaskResult")),
            next_run_time=parse_timestamp(get_field(info, "NextRunTime")),
            missed_runs=_int(get_field(info, "NumberOfMissedRuns")),
        )

    def to_json(self) -> dict[str, Any]:
        """``{"task_name", "task_path", "state", "last_run_time", "last_task_result", "next_run_time",
        "missed_runs"}``."""
        return {
            "task_name": self.task_name,
            "task_path": self.task_path,
            "state": self.state,
            "last_run_time": format_timestamp(self.last_run_time),
            "last_task_result": self.last_task_result,
            "next_run_time": format_timestamp(self.next_run_time),
            "missed_runs": self.missed_runs,
        }


@dataclass(frozen=True)
class ModuleInfo:
    """A ``PSModuleInfo`` (Get-Module -ListAvailable)."""

    name: str | None = None
    version: str | None = None
    path: str | None = None

    @classmethod
    def from_obj(cls, obj: Mapping[str, Any]) -> ModuleInfo:
        version = get_field(obj, "Version")
        if isinstance(version, Mapping):
            numbers = [_int(get_field(version, p)) for p in ("Major", "Minor", "Build", "Revision")]
            version = ".".join(str(n) for n in numbers if n is not None and n >= 0)
        return cls(
            name=_str(get_field(obj, "Name")),
            version=_str(version),
            path=_str(get_field(obj, "Path", "ModuleBase")),
        )

    def to_json(self) -> dict[str, Any]:
        """``{"name", "version", "path"}``."""
        return {"name": self.name, "version": self.version, "path": self.path}


@dataclass(frozen=True)
class ObjectsView:
    """Typed objects of one host, for ``--json`` ``objects``."""

    server: PAServer | None = None
    account: PAAccount | None = None
    order: PAOrder | None = None
    certificate: PACertificate | None = None
    binding: IISBinding | None = None
    task: ScheduledTaskInfo | None = None
    modules: tuple[ModuleInfo, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "server": self.server.to_json() if self.server else None,
            "account": self.account.to_json() if self.account else None,
            "order": self.order.to_json() if self.order else None,
            "certificate": self.certificate.to_json() if self.certificate else None,
            "binding": self.binding.to_json() if self.binding else None,
            "task": self.task.to_json() if self.task else None,
            "modules": [m.to_json() for m in self.modules],
        }


def dicts(values: Iterable[Any]) -> list[Mapping[str, Any]]:
    """Only the object outputs (dicts) of a statement; strings and markers are skipped."""
    return [v for v in values if isinstance(v, Mapping)]

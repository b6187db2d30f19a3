"""psrpcore PSObjects shaped like the .NET/PowerShell objects the real cmdlets return.

Each object carries the PSTypeNames PowerShell would serialize (the client sees them with a
``Deserialized.`` prefix) and its properties in the real order. .NET properties go into the adapted
set (``<Props>``), PowerShell's own additions (PSPath, NoteProperties of PSCustomObjects) into the
extended set (``<MS>``).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from psrpcore.types import PSListBase, PSNoteProperty, PSObject, PSSecureString, PSType, PSVersion
from psrpcore.types._enum import PSEnumBase


@PSType(["System.Object[]", "System.Array"], tag="LST")
class ObjectArray(PSListBase):
    """A .NET ``object[]`` (serialized as ``<LST>`` under the System.Object[] type names)."""


PS_CUSTOM_OBJECT = ["System.Management.Automation.PSCustomObject", "System.Object"]

PA_SERVER = "PoshACME.PAServer"
PA_ACCOUNT = "PoshACME.PAAccount"
PA_ORDER = "PoshACME.PAOrder"
PA_CERTIFICATE = "PoshACME.PACertificate"
PA_AUTHORIZATION = "PoshACME.PAAuthorization"

CIM = "Microsoft.Management.Infrastructure.CimInstance"
TASK_NS = "Root/Microsoft/Windows/TaskScheduler"


def custom_object(
    type_name: str | None, props: Mapping[str, Any] | Iterable[tuple[str, Any]], to_string: str | None = None
) -> PSObject:
    """A ``[PSCustomObject]`` with ``PSTypeName = type_name`` (NoteProperties in the given order)."""
    obj = PSObject()
    obj.PSObject.type_names = ([type_name] if type_name else []) + list(PS_CUSTOM_OBJECT)
    items = props.items() if isinstance(props, Mapping) else props
    for name, value in items:
        obj.PSObject.extended_properties.append(PSNoteProperty(name, value))
    if to_string is not None:
        obj.PSObject.to_string = to_string
    return obj


def dotnet_object(
    type_names: list[str],
    adapted: Mapping[str, Any] | Iterable[tuple[str, Any]],
    extended: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
    to_string: str | None = None,
) -> PSObject:
    """A .NET object: ``adapted`` are its own properties, ``extended`` PowerShell's additions."""
    obj = PSObject()
    obj.PSObject.type_names = list(type_names)
    for name, value in adapted.items() if isinstance(adapted, Mapping) else adapted:
        obj.PSObject.adapted_properties.append(PSNoteProperty(name, value))
    for name, value in extended.items() if isinstance(extended, Mapping) else extended:
        obj.PSObject.extended_properties.append(PSNoteProperty(name, value))
    if to_string is not None:
        obj.PSObject.to_string = to_string
    return obj


# ----- Posh-ACME -----------------------------------------------------------------------------------
def pa_object(type_name: str, data: Mapping[str, Any]) -> PSObject:
    """Posh-ACME objects are JSON read from disk + a PSTypeName: keep the JSON's property order."""
    return custom_object(type_name, [(k, _json_value(v)) for k, v in data.items()])


def _json_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return custom_object(None, [(str(k), _json_value(v)) for k, v in value.items()])
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def pa_certificate(
    *,
    subject: str,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    key_length: str,
    thumbprint: str,
    ari_id: str | None,
    serial: str,
    all_sans: list[str],
    folder: str,
    csr: str | None,
    pfx_pass: str,
) -> PSObject:
    """``PoshACME.PACertificate`` in Get-PACertificate's property order. Dates are the host's local
    time (the lab's time zone is UTC); PfxPass is a SecureString."""
    return custom_object(
        PA_CERTIFICATE,
        [
            ("Subject", subject),
            ("NotBefore", _local(not_before)),
            ("NotAfter", _local(not_after)),
            ("KeyLength", key_length),
            ("Thumbprint", thumbprint),
            ("ARIId", ari_id),
            ("Serial", serial),
            ("AllSANs", list(all_sans)),
            ("CertFile", folder + "\\cert.cer"),
            ("KeyFile", folder + "\\cert.key"),
            ("ChainFile", folder + "\\chain.cer"),
            ("FullChainFile", folder + "\\fullchain.cer"),
            ("PfxFile", folder + "\\cert.pfx"),
            ("PfxFullChain", folder + "\\fullchain.pfx"),
            ("CSR", csr),
            ("PfxPass", PSSecureString(pfx_pass)),
        ],
    )


def _local(value: datetime.datetime) -> datetime.datetime:
    """A DateTime of Kind Local on a host whose time zone is UTC (serialized with ``+00:00``)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone(datetime.timedelta(0), "Local"))


# ----- modules and files ---------------------------------------------------------------------------
@PSType(["System.Management.Automation.ModuleType"])
class ModuleType(PSEnumBase):
    Script = 0
    Binary = 1
    Manifest = 2
    Cim = 3
    Workflow = 4


def module_info(
    name: str, version: str, base: str, description: str, guid: str, *, root_module: str, exported: list[str]
) -> PSObject:
    path = f"{base}\\{name}.psd1"
    return dotnet_object(
        ["System.Management.Automation.PSModuleInfo", "System.Object"],
        [
            ("LogPipelineExecutionDetails", False),
            ("Name", name),
            ("Path", path),
            ("ImplementingAssembly", None),
            ("Definition", ""),
            ("Description", description),
            ("Guid", guid),
            ("HelpInfoUri", None),
            ("ModuleBase", base),
            ("PrivateData", None),
            ("Tags", []),
            ("ProjectUri", None),
            ("IconUri", None),
            ("LicenseUri", None),
            ("ReleaseNotes", None),
            ("RepositorySourceLocation", None),
            ("Version", PSVersion(version)),
            ("ModuleType", ModuleType.Script),
            ("Author", "Ryan Bolger" if name.startswith("Posh-ACME") else "Microsoft Corporation"),
            ("AccessMode", "ReadWrite"),
            ("ClrVersion", None),
            ("CompatiblePSEditions", ["Desktop", "Core"] if name == "Posh-ACME" else ["Desktop"]),
            ("CompanyName", "Unknown" if name.startswith("Posh-ACME") else "Microsoft Corporation"),
            (
                "Copyright",
                "(c) Ryan Bolger. All rights reserved."
                if name.startswith("Posh-ACME")
                else "(c) Microsoft Corporation. All rights reserved.",
            ),
            ("DotNetFrameworkVersion", None),
            ("ExportedFunctions", exported),
            ("Prefix", ""),
            ("ExportedCmdlets", []),
            ("ExportedCommands", exported),
            ("FileList", []),
            ("ModuleList", []),
            ("NestedModules", []),
            ("PowerShellHostName", None),
            ("PowerShellHostVersion", None),
            ("PowerShellVersion", PSVersion("5.1")),
            ("ProcessorArchitecture", "None"),
            ("Scripts", []),
            ("RequiredAssemblies", []),
            ("RequiredModules", []),
            ("RootModule", root_module),
            ("ExportedVariables", []),
            ("ExportedAliases", []),
            ("ExportedWorkflows", []),
            ("ExportedDscResources", []),
            ("SessionState", None),
            ("OnRemove", None),
            ("ExportedFormatFiles", []),
            ("ExportedTypeFiles", []),
        ],
        to_string=name,
    )


def file_system_info(windows_path: str, real: Path, *, to_string: str | None = None) -> PSObject:
    """``System.IO.FileInfo`` / ``System.IO.DirectoryInfo`` with the FileSystem provider's PS* notes."""
    stat = real.stat()
    is_dir = real.is_dir()
    name = windows_path.rstrip("\\").rsplit("\\", 1)[-1] or windows_path
    parent = windows_path.rstrip("\\").rsplit("\\", 1)[0] if "\\" in windows_path.rstrip("\\") else ""
    if parent.endswith(":"):
        parent += "\\"
    mtime = datetime.datetime.fromtimestamp(stat.st_mtime, datetime.timezone.utc)
    ctime = datetime.datetime.fromtimestamp(stat.st_ctime, datetime.timezone.utc)
    provider = "Microsoft.PowerShell.Core\\FileSystem::"
    extended = [
        ("PSPath", provider + windows_path),
        ("PSParentPath", provider + parent),
        ("PSChildName", name),
        ("PSDrive", "C"),
        ("PSProvider", "Microsoft.PowerShell.Core\\FileSystem"),
        ("PSIsContainer", is_dir),
        ("Mode", "d-----" if is_dir else "-a----"),
        ("BaseName", name if is_dir else name.rsplit(".", 1)[0] if "." in name else name),
    ]
    common = [
        ("FullName", windows_path),
        ("Extension", "" if "." not in name else "." + name.rsplit(".", 1)[-1]),
        ("CreationTime", _local(ctime)),
        ("CreationTimeUtc", ctime),
        ("LastAccessTime", _local(mtime)),
        ("LastAccessTimeUtc", mtime),
        ("LastWriteTime", _local(mtime)),
        ("LastWriteTimeUtc", mtime),
        ("Attributes", "Directory" if is_dir else "Archive"),
    ]
    if is_dir:
        adapted = [("Name", name), ("Parent", parent), ("Exists", True), ("Root", "C:\\"), *common]
        types = [
            "System.IO.DirectoryInfo",
            "System.IO.FileSystemInfo",
            "System.MarshalByRefObject",
            "System.Object",
        ]
    else:
        adapted = [
            ("Name", name),
            ("Length", stat.st_size),
            ("DirectoryName", parent),
            ("Directory", parent),
            ("IsReadOnly", False),
            ("Exists", True),
            *common,
        ]
        types = [
            "System.IO.FileInfo",
            "System.IO.FileSystemInfo",
            "System.MarshalByRefObject",
            "System.Object",
        ]
    return dotnet_object(types, adapted, extended, to_string=to_string or windows_path)


def env_entry(name: str, value: str) -> PSObject:
    """``Get-Item Env:X``: a DictionaryEntry with the Environment provider's notes."""
    provider = "Microsoft.PowerShell.Core\\Environment::"
    return dotnet_object(
        ["System.Collections.DictionaryEntry", "System.ValueType", "System.Object"],
        [("Name", name), ("Key", name), ("Value", value)],
        [
            ("PSPath", provider + name),
            ("PSDrive", "Env"),
            ("PSProvider", "Microsoft.PowerShell.Core\\Environment"),
            ("PSIsContainer", False),
        ],
        to_string="System.Collections.DictionaryEntry",
    )


# ----- Task Scheduler (CIM) -------------------------------------------------------------------------
@PSType(["Microsoft.PowerShell.Cmdletization.GeneratedTypes.ScheduledTask.StateEnum"])
class TaskState(PSEnumBase):
    Unknown = 0
    Disabled = 1
    Queued = 2
    Ready = 3
    Running = 4


def cim_instance(class_name: str, props: Iterable[tuple[str, Any]], namespace: str = TASK_NS) -> PSObject:
    return dotnet_object(
        [
            f"{CIM}#{namespace}/{class_name}",
            f"{CIM}#{class_name}",
            CIM,
            "System.Object",
        ],
        props,
        [("PSComputerName", None)],
        to_string=class_name,
    )


# ----- IIS (Microsoft.Web.Administration) -----------------------------------------------------------
_SSL_FLAGS = {0: "None", 1: "Sni", 2: "CentralCertStore", 3: "Sni, CentralCertStore"}


def iis_binding(binding: Mapping[str, Any]) -> PSObject:
    info = str(binding.get("binding_information", ""))
    protocol = str(binding.get("protocol", ""))
    thumb = binding.get("certificate_hash")
    ssl_flags = int(binding.get("ssl_flags") or 0)
    ip, _, rest = info.partition(":")
    port, _, host = rest.partition(":")
    flags_text = _SSL_FLAGS.get(ssl_flags, str(ssl_flags))
    return dotnet_object(
        [
            "Microsoft.Web.Administration.Binding",
            "Microsoft.Web.Administration.ConfigurationElement",
            "System.Object",
        ],
        [
            ("Attributes", None),
            ("ChildElements", None),
            ("ElementTagName", "binding"),
            ("IsLocallyStored", True),
            ("Methods", None),
            ("RawAttributes", {"protocol": protocol, "bindingInformation": info, "sslFlags": str(ssl_flags)}),
            ("Schema", None),
            ("BindingInformation", info),
            ("CertificateHash", bytes.fromhex(thumb) if thumb else None),
            ("CertificateStoreName", binding.get("certificate_store")),
            ("EndPoint", f"{'0.0.0.0' if ip == '*' else ip}:{port}" if port else None),  # noqa: S104
            ("Host", host),
            ("IsIPPortHostBinding", True),
            ("Protocol", protocol),
            ("SslFlags", flags_text),
            ("UseDsMapper", False),
        ],
        [("protocol", protocol), ("bindingInformation", info), ("sslFlags", flags_text)],
        to_string=f"[{protocol}] {info}",
    )


def iis_site(name: str, site: Mapping[str, Any]) -> PSObject:
    return dotnet_object(
        [
            "Microsoft.Web.Administration.Site",
            "Microsoft.Web.Administration.ConfigurationElement",
            "System.Object",
        ],
        [
            ("ApplicationDefaults", None),
            ("Applications", [f"/ ({site.get('physical_path', '')})"]),
            ("Bindings", [iis_binding(b) for b in site.get("bindings", [])]),
            ("Id", int(site.get("id", 1))),
            ("Limits", None),
            ("LogFile", None),
            ("Name", name),
            ("ServerAutoStart", True),
            ("State", str(site.get("state", "Started"))),
            ("TraceFailedRequestsLogging", None),
            ("VirtualDirectoryDefaults", None),
            ("ElementTagName", "site"),
            ("IsLocallyStored", True),
        ],
        [("name", name), ("id", int(site.get("id", 1))), ("serverAutoStart", True)],
        to_string=name,
    )

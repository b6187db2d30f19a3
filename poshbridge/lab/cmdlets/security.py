"""Folder ACLs: Get-Acl, Set-Acl and the one New-Object form that builds a DirectorySecurity.

Windows keeps a DACL per file and folder; a folder without its own explicit, protected DACL inherits
the inheritable ACEs of its parent (``ID`` flag). The twin keeps the DACLs that were SET (``acl.json``
in the host root, by lower-case Windows path) and computes the inherited ones, starting from the
defaults of C:\\ and C:\\ProgramData on Windows Server 2016-2022, where ``BUILTIN\\Users`` may read
(and create) in every folder under ProgramData — the exposure win-acme fixed for its own folder
(win-acme/win-acme#2227).

Objects have the shapes the real cmdlets give (microsoft/PowerShell src/Microsoft.PowerShell.Security/
security/AclCommands.cs, GetAclCommand / SetAclCommand): Get-Acl writes the provider's
``System.Security.AccessControl.DirectorySecurity`` with PowerShell's code properties (Path, Owner,
Group, Access, Sddl, AccessToString); Set-Acl needs a live ``ObjectSecurity`` as ``-AclObject`` (else
``SetAcl_AclObject``), and only the sections the object holds are written. The live object comes from
``New-Object -TypeName System.Security.AccessControl.DirectorySecurity -Property
@{SetSecurityDescriptorSddlForm = '<SDDL>'}``: New-Object's ``-Property`` invokes a method whose name is
a key, with the value as its argument (New-Object.cs -> LanguagePrimitives.SetObjectProperties with
``enableMethodCall: true``).
"""

from __future__ import annotations

import json
import re

from psrpcore.types import PSObject

from poshbridge.lab.engine.objects import dotnet_object
from poshbridge.lab.engine.registry import Invocation, Param, cmdlet, error_record
from poshbridge.lab.engine.values import ps_properties, to_python
from poshbridge.lab.host import TwinHost
from poshbridge.lab.sandbox import resolve_paths

DIRECTORY_SECURITY = "System.Security.AccessControl.DirectorySecurity"
FILE_SECURITY = "System.Security.AccessControl.FileSecurity"
_BASE_TYPES = [
    "System.Security.AccessControl.FileSystemSecurity",
    "System.Security.AccessControl.NativeObjectSecurity",
    "System.Security.AccessControl.CommonObjectSecurity",
    "System.Security.AccessControl.ObjectSecurity",
    "System.Object",
]
# Defaults of a Windows Server 2016-2022 install (owner/group + DACL).
ROOT_SDDL = (
    "O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)(A;CI;LC;;;BU)(A;CIIO;DC;;;BU)"
    "(A;OICIIO;GA;;;CO)"
)
PROGRAMDATA_SDDL = (
    "O:SYG:SYD:PAI(A;OICIIO;FA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"
    "(A;CI;0x100116;;;BU)"
)
_DEFAULTS = {"c:\\": ROOT_SDDL, "c:\\programdata": PROGRAMDATA_SDDL}
_NAMES = {
    "SY": "NT AUTHORITY\\SYSTEM",
    "BA": "BUILTIN\\Administrators",
    "BU": "BUILTIN\\Users",
    "CO": "CREATOR OWNER",
    "AU": "NT AUTHORITY\\Authenticated Users",
    "WD": "Everyone",
}
_RIGHTS = {
    "FA": "FullControl",
    "0x1200a9": "ReadAndExecute, Synchronize",
    "GA": "268435456",
    "LC": "AppendData",
    "DC": "CreateFiles",
    "0x100116": "CreateFiles, AppendData, WriteExtendedAttributes, WriteAttributes, Synchronize",
}
_ACE = re.compile(r"\(([^()]*)\)")
_SDDL = re.compile(r"^(?:O:(?P<o>[A-Z]{2}|S(?:-\d+)+))?(?:G:(?P<g>[A-Z]{2}|S(?:-\d+)+))?"
                   r"(?:D:(?P<dflags>[A-Z]*)(?P<aces>(?:\([^()]*\))*))?$")  # fmt: skip


class LiveSecurity(PSObject):
    """A DirectorySecurity that exists in the runspace (what New-Object makes and Set-Acl takes)."""

    sddl: str = ""


def _parse(sddl: str) -> tuple[str | None, str | None, str | None, list[str]] | None:
    """(owner, group, dacl flags or None without a DACL, ACE strings)."""
    if len(sddl) > 8192:
        return None
    match = _SDDL.match(sddl)
    if match is None:
        return None
    aces = _ACE.findall(match.group("aces") or "")
    for ace in aces:
        if len(ace.split(";")) != 6:
            return None
    dflags = match.group("dflags") if sddl.find("D:") >= 0 else None
    return match.group("o"), match.group("g"), dflags, aces


def _flags(text: str) -> list[str]:
    return [text[i : i + 2] for i in range(0, len(text), 2)]


def _inherit(aces: list[str], *, container: bool) -> list[str]:
    """The ACEs a child inherits from its parent's ACE list (MS-DTYP 2.5.3.4.2, simplified)."""
    out: list[str] = []
    for ace in aces:
        kind, flags_text, rights, obj, inh, sid = ace.split(";")
        flags = [f for f in _flags(flags_text) if f != "ID"]
        if container and "CI" in flags:
            kept = [] if "NP" in flags else [f for f in flags if f in ("OI", "CI")]
        elif container and "OI" in flags and "NP" not in flags:
            kept = ["OI", "IO"]
        elif not container and "OI" in flags:
            kept = []
        else:
            continue
        if sid in ("CO", "CG") and kept != []:
            # a CREATOR OWNER ACE: an effective ACE for the new item's owner plus an inherit-only copy
            out.append(";".join([kind, "ID", rights, obj, inh, "BA" if sid == "CO" else "SY"]))
            out.append(
                ";".join(
                    [kind, "".join([*[f for f in kept if f != "IO"], "IO", "ID"]), rights, obj, inh, sid]
                )
            )
            continue
        if sid in ("CO", "CG"):
            out.append(";".join([kind, "ID", rights, obj, inh, "BA" if sid == "CO" else "SY"]))
            continue
        out.append(";".join([kind, "".join([*kept, "ID"]), rights, obj, inh, sid]))
    return out


def _store(host: TwinHost) -> dict[str, str]:
    path = host.root / "acl.json"
    with host.lock:
        return dict(json.loads(path.read_text("utf-8"))) if path.exists() else {}


def _save(host: TwinHost, acls: dict[str, str]) -> None:
    with host.lock:
        path = host.root / "acl.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(acls, indent=2), "utf-8")
        tmp.replace(path)


def effective_sddl(host: TwinHost, windows_path: str, *, container: bool = True) -> str:
    """The security descriptor Windows reports for ``windows_path`` (explicit + inherited)."""
    key = windows_path.rstrip("\\").lower() or "c:"
    key = "c:\\" if key == "c:" else key
    own = _store(host).get(key) or _DEFAULTS.get(key)
    if own is not None:
        parsed = _parse(own)
        if parsed is not None and parsed[2] is not None and "P" in parsed[2]:
            return own
    parent = key.rsplit("\\", 1)[0] if key != "c:\\" else ""
    if parent == "c:":
        parent = "c:\\"
    inherited = _inherit(_parse(effective_sddl(host, parent))[3], container=container) if parent else []  # type: ignore[index]
    explicit: list[str] = []
    owner, group = "BA", "SY"
    if own is not None and (parsed := _parse(own)) is not None:
        explicit = [a for a in parsed[3] if "ID" not in _flags(a.split(";")[1])]
        owner, group = parsed[0] or owner, parsed[1] or group
    return f"O:{owner}G:{group}D:AI" + "".join(f"({a})" for a in [*explicit, *inherited])


def _access_to_string(aces: list[str]) -> str:
    lines = []
    for ace in aces:
        kind, _flags_text, rights, _obj, _inh, sid = ace.split(";")
        if "IO" in _flags(_flags_text):
            continue
        allow = "Allow" if kind == "A" else "Deny"
        lines.append(f"{_NAMES.get(sid, sid)} {allow}  {_RIGHTS.get(rights, rights)}")
    return "\n".join(lines)


def security_object(windows_path: str, sddl: str, *, container: bool) -> PSObject:
    parsed = _parse(sddl)
    owner, group, dflags, aces = parsed if parsed is not None else (None, None, None, [])
    provider = "Microsoft.PowerShell.Core\\FileSystem::"
    parent = windows_path.rstrip("\\").rsplit("\\", 1)[0]
    return dotnet_object(
        [DIRECTORY_SECURITY if container else FILE_SECURITY, *_BASE_TYPES],
        [
            ("AccessRightType", "System.Security.AccessControl.FileSystemRights"),
            ("AccessRuleType", "System.Security.AccessControl.FileSystemAccessRule"),
            ("AuditRuleType", "System.Security.AccessControl.FileSystemAuditRule"),
            ("AreAccessRulesProtected", bool(dflags and "P" in dflags)),
            ("AreAuditRulesProtected", False),
            ("AreAccessRulesCanonical", True),
            ("AreAuditRulesCanonical", True),
        ],
        [
            ("PSPath", provider + windows_path),
            ("PSParentPath", provider + (parent + "\\" if parent.endswith(":") else parent)),
            ("PSChildName", windows_path.rstrip("\\").rsplit("\\", 1)[-1]),
            ("PSDrive", "C"),
            ("PSProvider", "Microsoft.PowerShell.Core\\FileSystem"),
            # serialization depth 1: the rule collection's items arrive as their ToString()
            ("Access", ["System.Security.AccessControl.FileSystemAccessRule" for _ in aces]),
            ("CentralAccessPolicyId", None),
            ("CentralAccessPolicyName", None),
            ("Path", provider + windows_path),
            ("Owner", _NAMES.get(owner or "", owner)),
            ("Group", _NAMES.get(group or "", group)),
            ("Sddl", sddl),
            ("AccessToString", _access_to_string(aces)),
            ("AuditToString", ""),
        ],
        to_string=DIRECTORY_SECURITY if container else FILE_SECURITY,
    )


_PATHS = [
    Param("Path", "string[]", position=0, sets=("ByPath",), by_property_name=True),
    Param("LiteralPath", "string[]", sets=("ByLiteralPath",), aliases=("PSPath",), by_property_name=True),
]


@cmdlet(
    "Get-Acl",
    [
        *_PATHS,
        Param("Audit", "switch"),
        Param("Filter"),
        Param("Include", "string[]"),
        Param("Exclude", "string[]"),
    ],
    default_set="ByPath",
    class_name="Microsoft.PowerShell.Commands.GetAclCommand",
)
def get_acl(ctx: Invocation) -> None:
    for full, real in resolve_paths(ctx):  # -Path wildcards, -LiteralPath; refused / not found: errors
        container = real.is_dir()
        ctx.output(
            security_object(full, effective_sddl(ctx.host, full, container=container), container=container)
        )


@cmdlet(
    "Set-Acl",
    [
        *_PATHS,
        Param("AclObject", "object", position=1, mandatory=True, from_pipeline=True),
        Param("Passthru", "switch"),
        Param("ClearCentralAccessPolicy", "switch"),
        Param("Filter"),
        Param("Include", "string[]"),
        Param("Exclude", "string[]"),
    ],
    default_set="ByPath",
    should_process=True,
    class_name="Microsoft.PowerShell.Commands.SetAclCommand",
)
def set_acl(ctx: Invocation) -> None:
    acl = ctx.get("AclObject")
    if not isinstance(
        acl, LiveSecurity
    ):  # SetAclCommand.ProcessRecord: `_securityDescriptor as ObjectSecurity`
        ctx.error(
            error_record(
                "AclObject",
                "SetAcl_AclObject",
                "InvalidArgument",
                exception_type="System.ArgumentException",
                target=acl,
            )
        )
        return
    parsed = _parse(acl.sddl)
    assert parsed is not None  # New-Object checked it
    for full, real in resolve_paths(ctx):
        if ctx.flags.whatif:
            continue
        owner, group, dflags, aces = parsed
        key = full.rstrip("\\").lower()
        acls = _store(ctx.host)
        current = _parse(effective_sddl(ctx.host, full, container=real.is_dir()))
        assert current is not None
        # only the sections the object holds are written; Windows marks a set DACL auto-inherited (AI)
        new_owner, new_group = owner or current[0], group or current[1]
        if dflags is None:
            dacl = "D:" + (current[2] or "") + "".join(f"({a})" for a in current[3])
        else:
            flags = dflags if "AI" in dflags else dflags + "AI"
            dacl = "D:" + flags + "".join(f"({a})" for a in aces)
        acls[key] = f"O:{new_owner}G:{new_group}{dacl}"
        _save(ctx.host, acls)
        if ctx.switch("Passthru"):
            ctx.output(security_object(full, acls[key], container=real.is_dir()))


@cmdlet(
    "New-Object",
    [
        Param("TypeName", position=0, mandatory=True, sets=("Net",)),
        Param("ArgumentList", "object[]", position=1, aliases=("Args",), sets=("Net",)),
        Param("Property", "hashtable"),
        Param("ComObject", sets=("Com",), mandatory=True),
        Param("Strict", "switch", sets=("Com",)),
    ],
    default_set="Net",
    class_name="Microsoft.PowerShell.Commands.NewObjectCommand",
)
def new_object(ctx: Invocation) -> None:
    type_name = str(ctx.get("TypeName") or "")
    if type_name.lower() not in (DIRECTORY_SECURITY.lower(), "security.accesscontrol.directorysecurity"):
        ctx.error(
            error_record(
                f"The poshbridge lab's New-Object builds only {DIRECTORY_SECURITY} objects, "
                f"not '{type_name}'.",
                "TypeNotSupportedByLab",
                "NotImplemented",
                exception_type="System.NotSupportedException",
                target=type_name,
            )
        )
        return
    live = LiveSecurity()
    live.PSObject.type_names = [DIRECTORY_SECURITY, *_BASE_TYPES]
    live.sddl = "D:"  # an empty DirectorySecurity: no owner, no group, an empty DACL
    for key, value in ps_properties(to_python(ctx.get("Property")) or {}).items():
        if key.lower() != "setsecuritydescriptorsddlform":
            ctx.error(
                error_record(
                    "The poshbridge lab's DirectorySecurity supports only SetSecurityDescriptorSddlForm, "
                    f"not '{key}'.",
                    "MemberNotSupportedByLab",
                    "NotImplemented",
                    exception_type="System.NotSupportedException",
                    target=key,
                )
            )
            return
        text = str(value)
        if _parse(text) is None:
            ctx.error(
                error_record(
                    'Exception calling "SetSecurityDescriptorSddlForm" with "1" argument(s): "The SDDL '
                    'form of a security descriptor object is invalid."',
                    "MethodInvocationException",
                    "NotSpecified",
                    exception_type="System.Management.Automation.MethodInvocationException",
                )
            )
            return
        live.sddl = text
    ctx.output(live)

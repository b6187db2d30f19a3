"""FileSystem provider item cmdlets on the twin's sandboxed C:\\ drive (plus the Env: drive).

Every path goes through the lab's sandbox (``lab/sandbox.py``: :meth:`TwinHost.real_path` and
:func:`confine`); anything that is not on C:\\ is an ErrorRecord and is never touched. Texts are Windows
PowerShell 5.1's: ``Cannot find path 'X' because it does not exist.`` (ItemNotFoundException,
``PathNotFound,<cmdlet class>``), ``Cannot find drive. ...``. The content cmdlets (Set-/Add-/Get-Content)
are in ``content.py``, the text encodings in ``encodings.py``.
"""

from __future__ import annotations

import ntpath
import re
import shutil
from pathlib import Path
from typing import Any

from poshbridge.lab.cmdlets.core import env_get_item, env_item_not_found, env_name, env_set_item
from poshbridge.lab.cmdlets.encodings import decode_bytes
from poshbridge.lab.engine.objects import file_system_info
from poshbridge.lab.engine.registry import Invocation, Param, cmdlet, env_get, env_set, error_record
from poshbridge.lab.engine.values import ps_string, to_python
from poshbridge.lab.sandbox import (
    MANDATORY_PATH,
    WILDCARD,
    PathRefused,
    confine,
    display_path,
    expand,
    not_found_record,
    refused_record,
    resolve_paths,
    wildcard_match,
)

# decode_bytes lived here before the split; tests/remote/test_ops_lab.py still imports it from here
__all__ = ["decode_bytes"]


def _item(ctx: Invocation, windows_path: str, real: Path, *, name_only: bool = False) -> Any:
    return file_system_info(windows_path, real, to_string=windows_path)


# ----- Test-Path -----------------------------------------------------------------------------------
@cmdlet(
    "Test-Path",
    [
        Param(
            "Path",
            "string[]",
            position=0,
            sets=("Path",),
            mandatory=True,
            from_pipeline=True,
            by_property_name=True,
        ),
        MANDATORY_PATH[1],
        Param(
            "PathType",
            "enum:Microsoft.PowerShell.Commands.TestPathType",
            choices=("Any", "Container", "Leaf"),
        ),
        Param("IsValid", "switch"),
        Param("Filter"),
        Param("Include", "string[]"),
        Param("Exclude", "string[]"),
        Param("Credential", "object"),
    ],
    default_set="Path",
    class_name="Microsoft.PowerShell.Commands.TestPathCommand",
)
def test_path(ctx: Invocation) -> None:
    literal = ctx.get("LiteralPath")
    paths = literal if literal is not None else ctx.get("Path")
    kind = str(ctx.get("PathType") or "Any")
    for raw in paths or []:
        name = env_name(str(raw))
        if name is not None:
            ctx.output(name == "" or env_get(ctx.runspace, name) is not None)
            continue
        full = ctx.full_path(str(raw))
        try:
            if ctx.switch("IsValid"):
                ctx.output(not re.search(r'[<>"|]', full[2:]))
                continue
            if literal is None and WILDCARD.search(full):
                reals = [confine(ctx.host, m) for m in expand(ctx.host, full)]
            else:
                real = confine(ctx.host, full)
                reals = [real] if real.exists() else []
        except PathRefused as exc:
            if exc.kind == "drive":
                ctx.output(False)  # Test-Path answers $false for a drive that does not exist
            else:
                ctx.error(refused_record(exc))
            continue
        if kind == "Leaf":
            reals = [r for r in reals if r.is_file()]
        elif kind == "Container":
            reals = [r for r in reals if r.is_dir()]
        ctx.output(bool(reals))


# ----- New-Item ------------------------------------------------------------------------------------
@cmdlet(
    "New-Item",
    [
        Param("Path", "string[]", position=0, mandatory=True, by_property_name=True),
        Param("Name", by_property_name=True),
        Param("ItemType", aliases=("Type",), by_property_name=True),
        Param("Value", "object", from_pipeline=True, by_property_name=True),
        Param("Force", "switch"),
        Param("Credential", "object"),
    ],
    class_name="Microsoft.PowerShell.Commands.NewItemCommand",
    should_process=True,
)
def new_item(ctx: Invocation) -> None:
    item_type = str(ctx.get("ItemType") or "File").lower()
    if item_type in ("file",):
        is_dir = False
    elif item_type in ("directory", "container"):
        is_dir = True
    else:
        ctx.error(
            error_record(
                f"The poshbridge lab's FileSystem provider supports only the File and Directory item types, "
                f"not '{ctx.get('ItemType')}'.",
                "NotSupported",
                "NotImplemented",
                exception_type="System.NotSupportedException",
            )
        )
        return
    force = ctx.switch("Force")
    for raw in ctx.get("Path") or []:
        if env_name(str(raw)) is not None:
            env_set_item(ctx, ctx.get("Name") or env_name(str(raw)) or "", ctx.get("Value"))
            continue
        full = ctx.full_path(str(raw))
        if ctx.get("Name"):
            full = ntpath.join(full, str(ctx.get("Name")))
        try:
            real = confine(ctx.host, full)
        except PathRefused as exc:
            ctx.error(refused_record(exc))
            continue
        if ctx.flags.whatif:
            continue
        if is_dir:
            if real.exists() and not force:
                ctx.error(
                    error_record(
                        f"An item with the specified name {full} already exists.",
                        "DirectoryExist",
                        "ResourceExists",
                        exception_type="System.IO.IOException",
                        target=full,
                    )
                )
                continue
            if real.exists() and not real.is_dir():
                ctx.error(_io_error(f"The file '{full}' already exists.", full))
                continue
            real.mkdir(parents=True, exist_ok=True)
        else:
            if real.exists() and not force:
                ctx.error(_io_error(f"The file '{full}' already exists.", full))
                continue
            if real.is_dir():
                ctx.error(
                    _io_error(
                        f"Access to the path '{full}' is denied.",
                        full,
                        "PermissionDenied",
                        "System.UnauthorizedAccessException",
                    )
                )
                continue
            if not real.parent.exists():
                if not force:
                    ctx.error(
                        _io_error(
                            f"Could not find a part of the path '{full}'.",
                            full,
                            "WriteError",
                            "System.IO.DirectoryNotFoundException",
                        )
                    )
                    continue
                real.parent.mkdir(parents=True, exist_ok=True)
            value = ctx.get("Value")
            data = (
                b""
                if value is None
                else (
                    bytes(value)
                    if isinstance(value, (bytes, bytearray))
                    else ps_string(to_python(value)).encode("utf-8")
                )
            )
            real.write_bytes(data)
        shown = display_path(ctx.host, full, real)
        ctx.output(_item(ctx, shown, real))


def _io_error(
    message: str, target: str, category: str = "WriteError", exception_type: str = "System.IO.IOException"
) -> Any:
    return error_record(message, "NewItemIOError", category, exception_type=exception_type, target=target)


# ----- Remove-Item ---------------------------------------------------------------------------------
@cmdlet(
    "Remove-Item",
    [
        *MANDATORY_PATH,
        Param("Recurse", "switch"),
        Param("Force", "switch"),
        Param("Filter"),
        Param("Include", "string[]"),
        Param("Exclude", "string[]"),
        Param("Credential", "object"),
        Param("Stream", "string[]"),
    ],
    default_set="Path",
    should_process=True,
    class_name="Microsoft.PowerShell.Commands.RemoveItemCommand",
    aliases=("del", "rm", "rmdir", "ri", "erase", "rd"),
)
def remove_item(ctx: Invocation) -> None:
    literal = ctx.get("LiteralPath")
    raw_paths = literal if literal is not None else ctx.get("Path")
    env_paths = [p for p in raw_paths or [] if env_name(str(p)) is not None]
    for raw in env_paths:
        name = env_name(str(raw)) or ""
        if env_get(ctx.runspace, name) is None:
            env_item_not_found(ctx, name)
        elif not ctx.flags.whatif:
            env_set(ctx.runspace, name, None)
    if env_paths:
        ctx.args["LiteralPath" if literal is not None else "Path"] = [
            p for p in raw_paths or [] if env_name(str(p)) is None
        ]
        if not ctx.get("LiteralPath" if literal is not None else "Path"):
            return
    for windows_path, real in resolve_paths(ctx):
        if ctx.flags.whatif:
            continue
        if real == ctx.host.drive:
            ctx.error(
                error_record(
                    f"Access to the path '{windows_path}' is denied.",
                    "RemoveItemUnauthorizedAccessError",
                    "PermissionDenied",
                    exception_type="System.UnauthorizedAccessException",
                    target=windows_path,
                )
            )
            continue
        if real.is_dir() and not real.is_symlink():
            if any(real.iterdir()) and not ctx.switch("Recurse"):
                ctx.prompt_required(
                    "Confirm",
                    f"The item at {windows_path} has children and the Recurse parameter was not "
                    "specified. If you "
                    "continue, all children will be removed with the item. Are you sure you want to "
                    "continue?",
                )
            shutil.rmtree(real)
        else:
            real.unlink()


# ----- Get-ChildItem / Get-Item ----------------------------------------------------------------------
def _children(real: Path) -> list[Path]:
    entries = list(real.iterdir())
    dirs = sorted((e for e in entries if e.is_dir()), key=lambda e: e.name.lower())
    files = sorted((e for e in entries if not e.is_dir()), key=lambda e: e.name.lower())
    return dirs + files


@cmdlet(
    "Get-ChildItem",
    [
        Param("Path", "string[]", position=0, sets=("Items",), from_pipeline=True, by_property_name=True),
        Param(
            "LiteralPath", "string[]", sets=("LiteralItems",), aliases=("PSPath", "LP"), by_property_name=True
        ),
        Param("Filter", position=1),
        Param("Include", "string[]"),
        Param("Exclude", "string[]"),
        Param("Recurse", "switch", aliases=("s",)),
        Param("Depth", "uint"),
        Param("Force", "switch"),
        Param("Name", "switch"),
        Param("File", "switch"),
        Param("Directory", "switch", aliases=("ad", "d")),
        Param("Hidden", "switch"),
        Param("ReadOnly", "switch"),
        Param("System", "switch"),
        Param("Attributes", "object"),
    ],
    default_set="Items",
    class_name="Microsoft.PowerShell.Commands.GetChildItemCommand",
    aliases=("dir", "gci", "ls"),
)
def get_child_item(ctx: Invocation) -> None:
    raw_paths = ctx.get("LiteralPath") or ctx.get("Path") or [ctx.runspace.location]
    literal = ctx.get("LiteralPath") is not None
    env_paths = [p for p in raw_paths if env_name(str(p)) is not None]
    for raw in env_paths:
        env_get_item(ctx, env_name(str(raw)) or "")
    raw_paths = [p for p in raw_paths if env_name(str(p)) is None]
    if not raw_paths:
        return
    recurse = ctx.switch("Recurse") or ctx.has("Depth")
    depth = ctx.get("Depth") if ctx.has("Depth") else None
    filt = ctx.get("Filter")
    includes = ctx.get("Include") or []
    excludes = ctx.get("Exclude") or []
    want_file, want_dir = ctx.switch("File"), ctx.switch("Directory")

    def wanted(entry: Path) -> bool:
        if want_file and entry.is_dir():
            return False
        if want_dir and not entry.is_dir():
            return False
        if filt and not wildcard_match(entry.name, str(filt)):
            return False
        if includes and not any(wildcard_match(entry.name, i) for i in includes):
            return False
        return not any(wildcard_match(entry.name, e) for e in excludes)

    def emit(windows_path: str, entry: Path, relative: str) -> None:
        if ctx.switch("Name"):
            ctx.output(relative)
        else:
            ctx.output(file_system_info(windows_path, entry, to_string=entry.name))

    def walk(windows_dir: str, real_dir: Path, prefix: str, level: int) -> None:
        children = _children(real_dir)
        for entry in children:  # a folder's own items first, then its subfolders (like 5.1)
            if wanted(entry):
                emit(ntpath.join(windows_dir, entry.name), entry, prefix + entry.name)
        if not recurse or (depth is not None and level >= depth):
            return
        for entry in children:
            if entry.is_dir() and not entry.is_symlink():
                walk(ntpath.join(windows_dir, entry.name), entry, prefix + entry.name + "\\", level + 1)

    for raw in raw_paths:
        full = ctx.full_path(str(raw))
        try:
            if not literal and WILDCARD.search(full):
                matches = expand(ctx.host, full)
                for match in matches:
                    real = confine(ctx.host, match)
                    shown = display_path(ctx.host, match, real)
                    if real.is_dir() and recurse:
                        walk(shown, real, real.name + "\\", 1)
                    elif wanted(real):
                        emit(shown, real, real.name)
                continue
            real = confine(ctx.host, full)
        except PathRefused as exc:
            ctx.error(refused_record(exc))
            continue
        if not real.exists():
            ctx.error(not_found_record(full))
            continue
        shown = display_path(ctx.host, full, real)
        if real.is_dir():
            walk(shown, real, "", 0)
        elif wanted(real):
            emit(shown, real, real.name)


@cmdlet(
    "Get-Item",
    [
        *MANDATORY_PATH,
        Param("Force", "switch"),
        Param("Filter"),
        Param("Include", "string[]"),
        Param("Exclude", "string[]"),
        Param("Credential", "object"),
        Param("Stream", "string[]"),
    ],
    default_set="Path",
    class_name="Microsoft.PowerShell.Commands.GetItemCommand",
    aliases=("gi",),
)
def get_item(ctx: Invocation) -> None:
    literal = ctx.get("LiteralPath")
    raw_paths = literal if literal is not None else ctx.get("Path")
    file_paths: list[str] = []
    for raw in raw_paths or []:
        name = env_name(str(raw))
        if name is not None:
            env_get_item(ctx, name)
        else:
            file_paths.append(str(raw))
    if not file_paths:
        return
    ctx.args["LiteralPath" if literal is not None else "Path"] = file_paths
    for windows_path, real in resolve_paths(ctx):
        ctx.output(_item(ctx, windows_path, real))


@cmdlet(
    "Set-Item",
    [
        *MANDATORY_PATH,
        Param("Value", "object", position=1, from_pipeline=True, by_property_name=True),
        Param("Force", "switch"),
        Param("PassThru", "switch"),
        Param("Filter"),
        Param("Include", "string[]"),
        Param("Exclude", "string[]"),
        Param("Credential", "object"),
    ],
    default_set="Path",
    should_process=True,
    class_name="Microsoft.PowerShell.Commands.SetItemCommand",
    aliases=("si",),
)
def set_item(ctx: Invocation) -> None:
    literal = ctx.get("LiteralPath")
    for raw in (literal if literal is not None else ctx.get("Path")) or []:
        name = env_name(str(raw))
        if name is not None and name:
            if not ctx.flags.whatif:
                env_set_item(ctx, name, ctx.get("Value"))
            continue
        ctx.error(
            error_record(
                "Set-Item is not supported on the FileSystem provider.",
                "NotSupported",
                "NotImplemented",
                exception_type="System.Management.Automation.PSNotSupportedException",
                target=str(raw),
            )
        )

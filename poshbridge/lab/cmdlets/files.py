"""FileSystem provider cmdlets on the twin's sandboxed C:\\ drive (plus the Env: drive).

Every path goes through :meth:`TwinHost.real_path`; anything that is not on C:\\ is an ErrorRecord and
is never touched. Texts are Windows PowerShell 5.1's: ``Cannot find path 'X' because it does not
exist.`` (ItemNotFoundException, ``PathNotFound,<cmdlet class>``), ``Cannot find drive. ...``.
Encodings follow 5.1: ``Default`` is the ANSI code page (cp1252 on an en-US server), ``UTF8`` writes a
BOM, ``Unicode`` is UTF-16 LE with BOM; reading sniffs a BOM first.
"""

from __future__ import annotations

import fnmatch
import functools
import ntpath
import os
import re
import shutil
import stat
from pathlib import Path
from typing import Any

from psrpcore.types import PSByte

from poshbridge.lab.cmdlets.core import env_get_item, env_item_not_found, env_name, env_set_item
from poshbridge.lab.engine.objects import ObjectArray, file_system_info
from poshbridge.lab.engine.registry import Invocation, Param, cmdlet, env_get, env_set, error_record
from poshbridge.lab.engine.values import ps_string, to_python
from poshbridge.lab.host import SandboxError, TwinHost

ENCODINGS = (
    "Unknown",
    "String",
    "Unicode",
    "Byte",
    "BigEndianUnicode",
    "UTF8",
    "UTF7",
    "UTF32",
    "Ascii",
    "Default",
    "Oem",
    "BigEndianUTF32",
)
ANSI = "cp1252"  # the ANSI code page of an en-US Windows Server
_WILDCARD = re.compile(r"[*?\[]")


class _PathRefused(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


# ----- paths ---------------------------------------------------------------------------------------
def confine(host: TwinHost, windows_path: str) -> Path:
    """The real path of a C:\\ path, refusing everything else (and anything resolving outside)."""
    drive, _ = ntpath.splitdrive(windows_path)
    if windows_path.startswith("\\\\") or (drive and len(drive) != 2):
        raise _PathRefused("unc", windows_path)
    if drive and drive.upper() != "C:":
        raise _PathRefused("drive", drive[0].upper())
    try:
        real = host.real_path(windows_path)
    except SandboxError:
        raise _PathRefused("sandbox", windows_path) from None
    root = _resolved_drive(host.drive)
    resolved = _resolve_below(host.drive, root, real)
    if resolved != root and root not in resolved.parents:
        raise _PathRefused("sandbox", windows_path)
    return real


@functools.lru_cache(maxsize=256)
def _resolved_drive(drive: Path) -> Path:
    """The twin's C:\\ folder with symlinks resolved (it never moves while the lab runs)."""
    return drive.resolve()


def _resolve_below(drive: Path, root: Path, real: Path) -> Path:
    """``real.resolve()`` without re-resolving the drive on every call: when the drive is its own
    resolved path and no existing entry below it is a symlink, the path is already resolved."""
    if drive != root:
        return real.resolve()
    try:
        below = real.relative_to(drive).parts
    except ValueError:
        return real.resolve()
    current = drive
    for part in below:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            break  # nothing below exists: the rest is taken literally, as resolve() does
        except OSError:
            return real.resolve()
        if stat.S_ISLNK(mode):
            return real.resolve()
    return real


def refused_record(exc: _PathRefused) -> Any:
    if exc.kind == "drive":
        return error_record(
            f"Cannot find drive. A drive with the name '{exc.detail}' does not exist.",
            "DriveNotFound",
            "ObjectNotFound",
            exception_type="System.Management.Automation.DriveNotFoundException",
            target=exc.detail,
        )
    return error_record(
        f"The poshbridge lab twin has only a C:\\ drive; the path '{exc.detail}' is outside its sandbox and "
        "was not touched.",
        "PathOutsideLabSandbox",
        "PermissionDenied",
        exception_type="System.UnauthorizedAccessException",
        target=exc.detail,
    )


def not_found_record(path: str) -> Any:
    return error_record(
        f"Cannot find path '{path}' because it does not exist.",
        "PathNotFound",
        "ObjectNotFound",
        exception_type="System.Management.Automation.ItemNotFoundException",
        target=path,
    )


def _match(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name.lower(), pattern.lower())


def _expand(host: TwinHost, windows_path: str) -> list[str]:
    """Expand PowerShell wildcards segment by segment (existing items only)."""
    drive, rest = ntpath.splitdrive(windows_path)
    parts = [p for p in rest.split("\\") if p]
    current = [drive + "\\"]
    for part in parts:
        following: list[str] = []
        for base in current:
            real = confine(host, base)
            if _WILDCARD.search(part):
                if real.is_dir():
                    for child in sorted(real.iterdir(), key=lambda c: c.name.lower()):
                        if _match(child.name, part):
                            following.append(ntpath.join(base, child.name))
            else:
                following.append(ntpath.join(base, part))
        current = following
    return [p for p in current if confine(host, p).exists()]


def resolve_paths(ctx: Invocation, *, must_exist: bool = True) -> list[tuple[str, Path]]:
    """(Windows path, real path) for -Path (wildcards) / -LiteralPath; errors for the rest."""
    literal = ctx.get("LiteralPath")
    raw_paths = literal if literal is not None else ctx.get("Path")
    if raw_paths is None:
        raw_paths = [ctx.runspace.location]
    if isinstance(raw_paths, str):
        raw_paths = [raw_paths]
    result: list[tuple[str, Path]] = []
    for raw in raw_paths:
        full = ctx.full_path(str(raw))
        try:
            if literal is None and _WILDCARD.search(full):
                for match in _expand(ctx.host, full):
                    result.append((_display_path(ctx.host, match), confine(ctx.host, match)))
                continue
            real = confine(ctx.host, full)
        except _PathRefused as exc:
            ctx.error(refused_record(exc))
            continue
        if must_exist and not real.exists():
            ctx.error(not_found_record(full))
            continue
        result.append((_display_path(ctx.host, full, real), real))
    return result


def _display_path(host: TwinHost, windows_path: str, real: Path | None = None) -> str:
    """The path with each existing segment in its on-disk case (as Windows reports it)."""
    real = real or confine(host, windows_path)
    if real.exists():
        try:
            return host.windows_path(real) if real != host.drive else "C:\\"
        except ValueError:
            return windows_path
    return windows_path


def _item(ctx: Invocation, windows_path: str, real: Path, *, name_only: bool = False) -> Any:
    return file_system_info(windows_path, real, to_string=windows_path)


# ----- encodings -----------------------------------------------------------------------------------
def encode_text(text: str, encoding: str) -> bytes:
    enc = encoding.lower()
    if enc == "utf8nobom":  # PowerShell 7's utf8 / utf8NoBOM / default
        return text.encode("utf-8")
    if enc == "utf8":
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    if enc == "unicode":
        return b"\xff\xfe" + text.encode("utf-16-le")
    if enc == "bigendianunicode":
        return b"\xfe\xff" + text.encode("utf-16-be")
    if enc == "utf32":
        return b"\xff\xfe\x00\x00" + text.encode("utf-32-le")
    if enc == "bigendianutf32":
        return b"\x00\x00\xfe\xff" + text.encode("utf-32-be")
    if enc == "utf7":
        return text.encode("utf-7")
    if enc == "ascii":
        return text.encode("ascii", errors="replace")
    if enc == "oem":
        return text.encode("cp437", errors="replace")
    return text.encode(ANSI, errors="replace")  # Default / String / Unknown


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decode_bytes(data: bytes, encoding: str | None) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, errors="replace")
    enc = (encoding or "default").lower()
    codec = {
        "utf8": "utf-8",
        "unicode": "utf-16-le",
        "bigendianunicode": "utf-16-be",
        "utf32": "utf-32-le",
        "bigendianutf32": "utf-32-be",
        "ascii": "ascii",
        "utf7": "utf-7",
        "oem": "cp437",
    }.get(enc, ANSI)
    return data.decode(codec, errors="replace")


def split_lines(text: str) -> list[str]:
    if text == "":
        return []
    lines = re.split(r"\r\n|\n|\r", text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


_MANDATORY_PATH = [
    Param("Path", "string[]", position=0, sets=("Path",), mandatory=True, by_property_name=True),
    Param(
        "LiteralPath",
        "string[]",
        sets=("LiteralPath",),
        aliases=("PSPath", "LP"),
        mandatory=True,
        by_property_name=True,
    ),
]


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
        _MANDATORY_PATH[1],
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
            if literal is None and _WILDCARD.search(full):
                reals = [confine(ctx.host, m) for m in _expand(ctx.host, full)]
            else:
                real = confine(ctx.host, full)
                reals = [real] if real.exists() else []
        except _PathRefused as exc:
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
        except _PathRefused as exc:
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
        shown = _display_path(ctx.host, full, real)
        ctx.output(_item(ctx, shown, real))


def _io_error(
    message: str, target: str, category: str = "WriteError", exception_type: str = "System.IO.IOException"
) -> Any:
    return error_record(message, "NewItemIOError", category, exception_type=exception_type, target=target)


# ----- Set-Content / Add-Content -------------------------------------------------------------------
def _content_params() -> list[Param]:
    return [
        *_MANDATORY_PATH,
        Param(
            "Value",
            "object[]",
            position=1,
            mandatory=True,
            from_pipeline=True,
            by_property_name=True,
            allow_empty=True,
        ),
        Param(
            "Encoding",
            "enum:Microsoft.PowerShell.Commands.FileSystemCmdletProviderEncoding",
            choices=ENCODINGS,
        ),
        Param("NoNewline", "switch"),
        Param("Force", "switch"),
        Param("PassThru", "switch"),
        Param("Filter"),
        Param("Include", "string[]"),
        Param("Exclude", "string[]"),
        Param("Credential", "object"),
        Param("Stream"),
    ]


def _render_values(values: list[Any], encoding: str, no_newline: bool) -> bytes:
    if encoding.lower() == "byte":
        out = bytearray()
        for v in values:
            raw = to_python(v)
            if isinstance(raw, (bytes, bytearray)):
                out += raw
            elif isinstance(raw, list):
                out += bytes(int(x) & 0xFF for x in raw)
            else:
                out.append(int(raw) & 0xFF)
        return bytes(out)
    texts = [ps_string(to_python(v)) for v in values]
    text = "".join(texts) if no_newline else "".join(t + "\r\n" for t in texts)
    return encode_text(text, encoding)


def _write_content(ctx: Invocation, append: bool, encoding: str | None = None) -> None:
    values = ctx.get("Value")
    values = values if isinstance(values, list) else [values]
    encoding = encoding or str(ctx.get("Encoding") or "Default")
    # pipeline input: the first object (re)writes the file, the following ones append to it
    first = not ctx.state.get("written")
    targets = resolve_paths(ctx, must_exist=False) if first else ctx.state["targets"]
    ctx.state["written"] = True
    ctx.state["targets"] = targets
    for windows_path, real in targets:
        if ctx.flags.whatif:
            continue
        if real.is_dir():
            ctx.error(
                error_record(
                    f"Access to the path '{windows_path}' is denied.",
                    "GetContentWriterUnauthorizedAccessError",
                    "PermissionDenied",
                    exception_type="System.UnauthorizedAccessException",
                    target=windows_path,
                )
            )
            continue
        if not real.parent.exists():
            ctx.error(
                error_record(
                    f"Could not find a part of the path '{windows_path}'.",
                    "GetContentWriterDirectoryNotFoundError",
                    "ObjectNotFound",
                    exception_type="System.IO.DirectoryNotFoundException",
                    target=windows_path,
                )
            )
            continue
        data = _render_values(values, encoding, ctx.switch("NoNewline"))
        existing = real.read_bytes() if real.exists() and (append or not first) else b""
        if existing and encoding.lower() not in ("byte",):
            # appending never writes a second BOM
            for bom, _codec in _BOMS:
                if data.startswith(bom):
                    data = data[len(bom) :]
                    break
        real.write_bytes(existing + data)
        if ctx.switch("PassThru"):
            ctx.output_many(list(values))


@cmdlet(
    "Set-Content",
    _content_params(),
    default_set="Path",
    should_process=True,
    class_name="Microsoft.PowerShell.Commands.SetContentCommand",
)
def set_content(ctx: Invocation) -> None:
    _write_content(ctx, append=False)


@cmdlet(
    "Add-Content",
    _content_params(),
    default_set="Path",
    should_process=True,
    class_name="Microsoft.PowerShell.Commands.AddContentCommand",
)
def add_content(ctx: Invocation) -> None:
    _write_content(ctx, append=True)


# ----- PowerShell 7 (a PowerShell.7 endpoint) -----------------------------------------------------------
# PowerShell/PowerShell src/System.Management.Automation/utils/EncodingUtils.cs (EncodingConversion,
# ArgumentToEncodingTransformationAttribute): -Encoding is a System.Text.Encoding; "utf8", "utf8NoBOM" and
# "default" are UTF-8 WITHOUT a BOM (Encoding.Default on .NET), "utf8BOM" writes one, "ansi" is the code
# page; an unknown name such as 5.1's "Byte" fails the argument transformation. Bytes are written and
# read with the FileSystem provider's -AsByteStream switch (namespaces/FileSystemProvider.cs).
_PS7_ENCODINGS = {
    "utf8": "utf8nobom",
    "utf8nobom": "utf8nobom",
    "default": "utf8nobom",
    "utf8bom": "utf8",
    "ascii": "ascii",
    "ansi": "default",
    "unicode": "unicode",
    "string": "unicode",
    "unknown": "unicode",
    "bigendianunicode": "bigendianunicode",
    "utf32": "utf32",
    "bigendianutf32": "bigendianutf32",
    "oem": "oem",
    "utf7": "utf7",
}


def _ps7_encoding(ctx: Invocation) -> str:
    if ctx.switch("AsByteStream"):
        return "byte"
    name = ctx.get("Encoding")
    if name is None:
        return "utf8nobom"
    mapped = _PS7_ENCODINGS.get(str(name).lower())
    if mapped is None:
        ctx.throw(
            error_record(
                f"Cannot process argument transformation on parameter 'Encoding'. '{name}' is not a "
                "supported encoding name. For information on defining a custom encoding, see the "
                "documentation for the Encoding.RegisterProvider method. (Parameter 'name')",
                "ParameterArgumentTransformationError",
                "InvalidData",
                exception_type="System.Management.Automation.ParameterBindingArgumentTransformationException",
                target=name,
            )
        )
    return mapped


def _ps7_content_params() -> list[Param]:
    params = [p for p in _content_params() if p.name != "Encoding"]
    return [*params, Param("Encoding"), Param("AsByteStream", "switch")]


@cmdlet(
    "Set-Content",
    _ps7_content_params(),
    default_set="Path",
    should_process=True,
    class_name="Microsoft.PowerShell.Commands.SetContentCommand",
    edition="Core",
)
def set_content_ps7(ctx: Invocation) -> None:
    _write_content(ctx, append=False, encoding=_ps7_encoding(ctx))


# ----- Get-Content ---------------------------------------------------------------------------------
_GET_CONTENT_PARAMS = [
    *_MANDATORY_PATH,
    Param("Raw", "switch"),
    Param(
        "Encoding",
        "enum:Microsoft.PowerShell.Commands.FileSystemCmdletProviderEncoding",
        choices=ENCODINGS,
    ),
    Param("ReadCount", "int"),
    Param("TotalCount", "int", aliases=("First", "Head")),
    Param("Tail", "int", aliases=("Last",)),
    Param("Delimiter"),
    Param("Wait", "switch"),
    Param("Filter"),
    Param("Include", "string[]"),
    Param("Exclude", "string[]"),
    Param("Force", "switch"),
    Param("Credential", "object"),
    Param("Stream"),
]


@cmdlet(
    "Get-Content",
    _GET_CONTENT_PARAMS,
    default_set="Path",
    class_name="Microsoft.PowerShell.Commands.GetContentCommand",
)
def get_content(ctx: Invocation) -> None:
    _get_content(ctx, ctx.get("Encoding"))


def _get_content(ctx: Invocation, encoding: str | None) -> None:
    read_count = ctx.get("ReadCount", 1)
    for windows_path, real in resolve_paths(ctx):
        if real.is_dir():
            ctx.error(
                error_record(
                    f"Access to the path '{windows_path}' is denied.",
                    "GetContentReaderUnauthorizedAccessError",
                    "PermissionDenied",
                    exception_type="System.UnauthorizedAccessException",
                    target=windows_path,
                )
            )
            continue
        if str(encoding or "").lower() == "byte":
            # With -Encoding Byte every item is one byte, so -TotalCount counts bytes and the reader
            # stops there (PowerShell: GetContentCommand.ProcessRecord reads at most TotalCount
            # items, src/Microsoft.PowerShell.Commands.Management/commands/management/GetContentCommand.cs).
            # With -Raw it is ignored: FileSystemContentStream.cs ReadByteEncoded reads the whole
            # stream as one block ("When RawStream is used, we dont support -first, -last").
            raw = ctx.switch("Raw")
            total = ctx.get("TotalCount") if ctx.has("TotalCount") and not raw else -1
            with real.open("rb") as handle:
                data = handle.read(total) if total is not None and total >= 0 else handle.read()
        else:
            data = real.read_bytes()
        if str(encoding or "").lower() == "byte":
            # PowerShell FileSystemContentReaderWriter.ReadByteEncoded (src/System.Management.Automation/
            # namespaces/FileSystemContentStream.cs): with -Raw one byte[] block; otherwise one boxed
            # System.Byte per block, and GetContentCommand.ProcessRecord writes a block list (object[],
            # one <By> per byte on the wire) unless ReadCount is 1. An empty file writes nothing.
            if not data:
                continue
            if ctx.switch("Raw"):
                ctx.output(data)
            elif read_count == 1:
                ctx.output_many([PSByte(b) for b in data])
            elif read_count is not None and read_count <= 0:
                ctx.output(ObjectArray(PSByte(b) for b in data))
            else:
                ctx.output_many(
                    [
                        ObjectArray(PSByte(b) for b in data[i : i + read_count])
                        for i in range(0, len(data), read_count)
                    ]
                )
            continue
        text = decode_bytes(data, encoding)
        if ctx.switch("Raw"):
            ctx.output(text)
            continue
        lines = split_lines(text)
        if ctx.has("TotalCount") and ctx.get("TotalCount") >= 0:
            lines = lines[: ctx.get("TotalCount")]
        if ctx.has("Tail"):
            lines = lines[-ctx.get("Tail") :] if ctx.get("Tail") > 0 else []
        if read_count is not None and read_count <= 0:
            ctx.output(lines)
        elif read_count == 1:
            ctx.output_many(lines)
        else:
            ctx.output_many([lines[i : i + read_count] for i in range(0, len(lines), read_count)])


@cmdlet(
    "Get-Content",
    [
        *[p for p in _GET_CONTENT_PARAMS if p.name != "Encoding"],
        Param("Encoding"),
        Param("AsByteStream", "switch"),
    ],
    default_set="Path",
    class_name="Microsoft.PowerShell.Commands.GetContentCommand",
    edition="Core",
)
def get_content_ps7(ctx: Invocation) -> None:
    encoding = _ps7_encoding(ctx)
    _get_content(ctx, {"utf8nobom": "utf8", "byte": "Byte"}.get(encoding, encoding))


# ----- Remove-Item ---------------------------------------------------------------------------------
@cmdlet(
    "Remove-Item",
    [
        *_MANDATORY_PATH,
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
        if filt and not _match(entry.name, str(filt)):
            return False
        if includes and not any(_match(entry.name, i) for i in includes):
            return False
        return not any(_match(entry.name, e) for e in excludes)

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
            if not literal and _WILDCARD.search(full):
                matches = _expand(ctx.host, full)
                for match in matches:
                    real = confine(ctx.host, match)
                    shown = _display_path(ctx.host, match, real)
                    if real.is_dir() and recurse:
                        walk(shown, real, real.name + "\\", 1)
                    elif wanted(real):
                        emit(shown, real, real.name)
                continue
            real = confine(ctx.host, full)
        except _PathRefused as exc:
            ctx.error(refused_record(exc))
            continue
        if not real.exists():
            ctx.error(not_found_record(full))
            continue
        shown = _display_path(ctx.host, full, real)
        if real.is_dir():
            walk(shown, real, "", 0)
        elif wanted(real):
            emit(shown, real, real.name)


@cmdlet(
    "Get-Item",
    [
        *_MANDATORY_PATH,
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
        *_MANDATORY_PATH,
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

"""Set-Content, Add-Content and Get-Content on the twin's sandboxed C:\\ drive (5.1 and PowerShell 7).

Paths go through the lab's sandbox (``lab/sandbox.py``); texts are encoded and decoded as in
``encodings.py`` (Windows PowerShell 5.1's names; PowerShell 7's are mapped onto them below).
"""

from __future__ import annotations

from typing import Any

from psrpcore.types import PSByte

from poshbridge.lab.cmdlets.encodings import _BOMS, ENCODINGS, decode_bytes, encode_text, split_lines
from poshbridge.lab.engine.objects import ObjectArray
from poshbridge.lab.engine.registry import Invocation, Param, cmdlet, error_record
from poshbridge.lab.engine.values import ps_string, to_python
from poshbridge.lab.sandbox import MANDATORY_PATH, resolve_paths


# ----- Set-Content / Add-Content -------------------------------------------------------------------
def _content_params() -> list[Param]:
    return [
        *MANDATORY_PATH,
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
    *MANDATORY_PATH,
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

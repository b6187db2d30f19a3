"""Text encodings of the FileSystem provider, as Windows PowerShell 5.1 writes and reads them.

``Default`` is the ANSI code page (cp1252 on an en-US server), ``UTF8`` writes a BOM, ``Unicode`` is
UTF-16 LE with BOM; reading sniffs a BOM first. (PowerShell 7's names are mapped onto these in
``content.py``.)
"""

from __future__ import annotations

import re

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

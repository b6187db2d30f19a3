"""Text from a host (error messages, log lines, names) made safe to show in a terminal.

A remote string can hold terminal control sequences: ESC starts CSI/OSC sequences (an OSC can set
the window title, write the clipboard or forge a hyperlink; a CSI can move the cursor and
overwrite what was printed), BEL rings, CR/BS overwrite. :func:`safe_text` makes every C0 control
character (U+0000–U+001F), DEL and every C1 control character (U+0080–U+009F, which includes the
8-bit CSI U+009B and OSC U+009D) visible as ``\\xNN``, and the same for bidirectional overrides and
isolates and the line/paragraph separators (text that reorders or splits what follows it).
Line feeds are kept only when asked (multi-line error text); tabs become a space.

One function, used by every renderer: ``poshbridge.output`` applies it to everything a console
prints (tables, progress, errors), and renderers call it on cells so column widths are right.
"""

from __future__ import annotations

_BIDI_AND_SEPARATORS = [
    0x061C, 0x200E, 0x200F, 0x2028, 0x2029,
    *range(0x202A, 0x202F),  # LRE RLE PDF LRO RLO
    *range(0x2066, 0x206A),  # LRI RLI FSI PDI
]  # fmt: skip
_UNSAFE = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *_BIDI_AND_SEPARATORS]


def _visible(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_TABLE: dict[int, str] = {code: _visible(code) for code in _UNSAFE}
_TABLE[0x09] = " "
_TABLE_KEEP_NEWLINES = {**_TABLE, 0x0A: "\n"}
# "\r\n" from a Windows host is one line break, not a visible \x0d
_CRLF = "\r\n"


def safe_text(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character made visible (see the module doc). Linear time."""
    if keep_newlines:
        if _CRLF in text:
            text = text.replace(_CRLF, "\n")
        return text.translate(_TABLE_KEEP_NEWLINES)
    return text.translate(_TABLE)


def has_unsafe(text: str) -> bool:
    """True when :func:`safe_text` would change ``text`` (other than a line feed)."""
    return any(ord(ch) in _TABLE and ch != "\n" for ch in text)


_JSON_TABLE: dict[int, str] = {code: f"\\u{code:04x}" for code in _UNSAFE if code >= 0x7F}


def safe_json_text(text: str) -> str:
    """JSON text (``json.dumps(..., ensure_ascii=False)``) with DEL, C1 controls, bidi controls and
    line separators written as ``\\uXXXX`` escapes (json escapes C0 itself). Still the same JSON:
    these characters can only occur inside strings."""
    return text.translate(_JSON_TABLE)

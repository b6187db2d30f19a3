"""Transcript bytes -> text: encodings of every PowerShell writer, whole or window by window."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from typing import Any

_MAX_LINE = 1 << 20  # characters kept of one line (the rest of a longer line is dropped)
_WINDOW_BYTES = 4 << 20  # bytes decoded at a time


_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decode_transcript(data: bytes) -> tuple[str, str]:
    """Bytes -> (text with LF line ends, encoding description). Never raises.

    BOM first (UTF-8, UTF-16 LE/BE); else strict UTF-8 for the whole file; else line by line:
    UTF-8, CP932 (Japanese Windows), CP1252 with replacement characters. A mid-file BOM (a 5.1
    writer appending to a 7.x file) and stray NULs are dropped.
    """
    encoding = ""
    text: str | None = None
    for bom, codec in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            encoding = codec + "-bom"
            if codec == "utf-8":
                # 5.1 starts the file with a BOM; other tools may append CP932 lines later.
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError:
                    text, mixed = _decode_line_by_line(body)
                    encoding = "utf-8-bom" + mixed[len("utf-8") :]
            else:
                text = body.decode(codec, errors="replace")
            break
    if text is None and _looks_utf16_without_bom(data):
        codec = "utf-16-le" if data[1:2] == b"\x00" else "utf-16-be"
        text = data.decode(codec, errors="replace")
        encoding = codec
    if text is None:
        try:
            text = data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            text, encoding = _decode_line_by_line(data)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        text = text.replace("\x00", "")
    if "\ufeff" in text:
        text = text.replace("\ufeff", "")
    return text, encoding


def _looks_utf16_without_bom(data: bytes) -> bool:
    head = data[:400]
    if len(head) < 8:
        return False
    even_nuls = head[0::2].count(0)
    odd_nuls = head[1::2].count(0)
    half = len(head) // 2
    return max(even_nuls, odd_nuls) > half * 0.8 and min(even_nuls, odd_nuls) < half * 0.1


def _decode_line_by_line(data: bytes) -> tuple[str, str]:
    used: set[str] = set()
    out: list[str] = []
    for raw in data.split(b"\n"):
        try:
            out.append(raw.decode("utf-8"))
            continue
        except UnicodeDecodeError:
            pass
        try:
            out.append(raw.decode("cp932"))
            used.add("cp932")
            continue
        except UnicodeDecodeError:
            pass
        out.append(raw.decode("cp1252", errors="replace"))
        used.add("cp1252")
    return "\n".join(out), "+".join(["utf-8", *sorted(used)])


class _StreamDecoder:
    """Bytes arriving in chunks -> complete lines, with the choices of :func:`decode_transcript`
    (BOM, UTF-16 guess, strict UTF-8 else line by line UTF-8/CP932/CP1252), one window at a time.
    Lines longer than ``_MAX_LINE`` characters are cut (counted in ``cut_lines``)."""

    def __init__(self) -> None:
        self.head = b""  # bytes before the encoding is decided
        self.mode: str | None = None  # "utf-8" | "utf-8-bom" | a UTF-16 codec
        self.utf16: Any = None  # incremental decoder
        self.encoding = ""
        self.used: set[str] = set()
        self.carry = b""  # an incomplete line (8-bit modes)
        self.pending = ""  # an incomplete decoded line
        self.cr = ""  # a held-back CR (it may be the first half of CRLF)
        self.overlong = False
        self.cut_lines = 0

    def push(self, chunk: bytes, *, final: bool = False) -> list[str]:
        if self.mode is None:
            self.head += chunk
            if len(self.head) < 400 and not final:
                return []
            chunk, self.head = self.head, b""
            self._decide(chunk)
            chunk = chunk[self._bom_length :]
        if self.utf16 is not None:
            return self._text(self.utf16.decode(chunk, final), final)
        data = self.carry + chunk
        cut = len(data) if final else data.rfind(b"\n") + 1
        if not final and cut == 0 and len(data) > 4 * _MAX_LINE:
            cut = len(data)  # a line longer than any kept: decode what there is
        self.carry = data[cut:]
        return self._text(self._decode_8bit(data[:cut]), final)

    def _decide(self, head: bytes) -> None:
        self._bom_length = 0
        for bom, codec in _BOMS:
            if head.startswith(bom):
                self._bom_length = len(bom)
                self.mode = codec + "-bom"
                if codec != "utf-8":
                    self.utf16 = codecs.getincrementaldecoder(codec)(errors="replace")
                self.encoding = self.mode
                return
        if _looks_utf16_without_bom(head):
            codec = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
            self.mode = self.encoding = codec
            self.utf16 = codecs.getincrementaldecoder(codec)(errors="replace")
            return
        self.mode = "utf-8"

    def _decode_8bit(self, data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            text, mixed = _decode_line_by_line(data)
            self.used.update(mixed.split("+")[1:])
            return text

    def finish_encoding(self) -> str:
        if self.utf16 is not None:
            return self.encoding
        base = self.mode or "utf-8"
        return "+".join([base, *sorted(self.used)])

    def _text(self, piece: str, final: bool) -> list[str]:
        piece = self.cr + piece
        self.cr = ""
        if not final and piece.endswith("\r"):
            self.cr, piece = "\r", piece[:-1]
        if "\r" in piece:
            piece = piece.replace("\r\n", "\n").replace("\r", "\n")
        if "\x00" in piece:
            piece = piece.replace("\x00", "")
        if "\ufeff" in piece:
            piece = piece.replace("\ufeff", "")
        if self.overlong:
            newline = piece.find("\n")
            if newline < 0:
                return []
            piece, self.overlong = piece[newline:], False
        parts = (self.pending + piece).split("\n")
        self.pending = parts.pop()
        if final and self.pending:
            parts.append(self.pending)
            self.pending = ""
        elif len(self.pending) > _MAX_LINE:
            self.pending, self.overlong = self.pending[:_MAX_LINE], True
            self.cut_lines += 1
        for position, part in enumerate(parts):
            if len(part) > _MAX_LINE:
                parts[position] = part[:_MAX_LINE]
                self.cut_lines += 1
        return parts


def _windows(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Chunks of at most ``_WINDOW_BYTES`` (a whole file given as one chunk is decoded in windows)."""
    for chunk in chunks:
        if len(chunk) <= _WINDOW_BYTES:
            yield chunk
            continue
        view = memoryview(chunk)
        for start in range(0, len(chunk), _WINDOW_BYTES):
            yield bytes(view[start : start + _WINDOW_BYTES])

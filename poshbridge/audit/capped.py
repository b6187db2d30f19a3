"""Audit input is read with a per-file cap: a file is streamed in chunks, never more than the cap.

``--max-file-size`` sets the cap (default 64 MiB); a file cut at the cap is audited from what was
read and the verdict says ``truncated at cap`` (WARN), never OK on a partial read silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

DEFAULT_MAX_FILE_SIZE = 64 * 1024 * 1024
RESULT_FILE_MAX = 1024 * 1024  # a renewal result file is a few hundred bytes; anything bigger is not one
CHUNK = 1024 * 1024
_SIZE = re.compile(r"(\d{1,15})([KMG]?)(?:I?B)?", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def parse_size(text: str) -> int:
    """``64M``, ``512K``, ``1G``, ``1048576`` (bytes; K/M/G are binary units) -> bytes; ValueError."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a size such as 64M, 512K or 1G: {text!r}")
    value = int(match.group(1)) * _UNITS[match.group(2).upper()]
    if value < 1:
        raise ValueError("the size must be at least 1 byte")
    return value


def truncation_note(name: str, cap: int) -> str:
    return f"{name}: truncated at cap: only the first {describe_size(cap)} were read (--max-file-size)"


def describe_size(count: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"


class CappedReader:
    """Chunks of an open binary file, at most ``cap`` bytes in all; ``truncated`` tells (after the
    chunks are consumed) whether the file had more."""

    def __init__(self, handle: BinaryIO, cap: int, *, head: bytes = b"") -> None:
        self.handle = handle
        self.cap = cap
        self.head = head[:cap]
        self.truncated = len(head) > cap
        self.read = 0

    def __iter__(self) -> Iterator[bytes]:
        if self.head:
            self.read = len(self.head)
            yield self.head
            self.head = b""
        while self.read < self.cap and not self.truncated:
            chunk = self.handle.read(min(CHUNK, self.cap - self.read))
            if not chunk:
                return
            self.read += len(chunk)
            yield chunk
        if not self.truncated and self.handle.read(1):
            self.truncated = True

"""Read a small local file the operator named (the inventory, a secret file) without surprises.

Regular files only: a FIFO, a device (``/dev/zero``), a socket or a directory is refused at once,
before a single byte is read (the file is opened non-blocking, so a FIFO without a writer cannot
hang the open). At most ``limit`` bytes are read; a bigger file is refused, however it grows.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from poshbridge.errors import LocalFileError

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileRefused(LocalFileError, OSError):
    """The file is not a regular file or is too big; ``strerror`` says which (never its content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(errno.EINVAL, reason)


def file_kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def read_small_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` (at most ``limit``); :class:`FileRefused` or another OSError otherwise."""
    data, _ = read_small_regular_file_with_stat(path, limit)
    return data


def read_small_regular_file_with_stat(path: Path, limit: int) -> tuple[bytes, os.stat_result]:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"not a regular file ({file_kind(info.st_mode)})")
        if info.st_size > limit:
            raise FileRefused(f"larger than {_size(limit)} ({_size(info.st_size)})")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(65536, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise FileRefused(f"larger than {_size(limit)} (it grew while being read)")
        return b"".join(chunks), info
    finally:
        os.close(fd)


def _size(count: int) -> str:
    if count >= 1024 * 1024 and count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MiB"
    if count >= 1024 and count % 1024 == 0:
        return f"{count // 1024} KiB"
    return f"{count} bytes"

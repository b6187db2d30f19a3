"""Resolve secret references. The ONLY place poshbridge reads environment variables or secret files.

Error messages name the reference (``env:NAME``, ``file:PATH``), never a value.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from poshbridge.errors import ConfigurationError
from poshbridge.inventory.files import read_small_regular_file_with_stat
from poshbridge.inventory.model import SecretRef
from poshbridge.powershell.command import Secret

MAX_SECRET_FILE_BYTES = 64 * 1024
_WARNED: set[str] = set()


class SecretError(ConfigurationError):
    """A secret reference cannot be resolved (variable unset, file unreadable or empty)."""


def _warn_stderr(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def resolve(ref: SecretRef, base_dir: Path, *, warn: Callable[[str], None] | None = None) -> Secret:
    """The value behind ``ref``; ``{file: PATH}`` is relative to ``base_dir`` (the inventory's folder).

    A secret file must be a regular file of at most 64 KiB (a FIFO, a device or a directory is an
    error at once, never a hang or an endless read). One readable by group or others gets a warning
    (once per file, through ``warn``, default stderr), as ssh does for a private key.
    A trailing line break in a secret file is not part of the secret (editors add one).
    """
    if ref.source == "env":
        value = os.environ.get(ref.name)
        if value is None:
            raise SecretError(f"environment variable {ref.name} is not set ({ref.describe()})")
        if not value:
            raise SecretError(f"environment variable {ref.name} is empty ({ref.describe()})")
        return Secret(value)
    if ref.source == "file":
        path = Path(ref.name).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        try:
            raw, info = read_small_regular_file_with_stat(path, MAX_SECRET_FILE_BYTES)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise SecretError(f"cannot read secret file {path}: {reason}") from None
        if info.st_mode & 0o077 and str(path) not in _WARNED:
            _WARNED.add(str(path))
            mode = stat.S_IMODE(info.st_mode)
            (warn or _warn_stderr)(
                f"secret file {path} is accessible by group or others (mode {mode:04o}); "
                f"run: chmod 600 {path}"
            )
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SecretError(f"secret file {path} is not UTF-8 text") from None
        text = text.rstrip("\r\n")
        if not text:
            raise SecretError(f"secret file {path} is empty")
        return Secret(text)
    return Secret(ref._literal)

"""Resolve secret references. The ONLY place poshbridge reads environment variables or secret files.

Error messages name the reference (``env:NAME``, ``file:PATH``), never a value.
"""

from __future__ import annotations

import os
from pathlib import Path

from poshbridge.inventory.model import SecretRef
from poshbridge.powershell.command import Secret


class SecretError(Exception):
    """A secret reference cannot be resolved (variable unset, file unreadable or empty)."""


def resolve(ref: SecretRef, base_dir: Path) -> Secret:
    """The value behind ``ref``; ``{file: PATH}`` is relative to ``base_dir`` (the inventory's folder).

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
            raw = path.read_bytes()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise SecretError(f"cannot read secret file {path}: {reason}") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SecretError(f"secret file {path} is not UTF-8 text") from None
        text = text.rstrip("\r\n")
        if not text:
            raise SecretError(f"secret file {path} is empty")
        return Secret(text)
    return Secret(ref._literal)


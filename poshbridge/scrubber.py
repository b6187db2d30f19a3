"""The one secret scrubber: every revealed secret of a run, replaced by the one mask.

A run (``poshbridge.runner``) owns one :class:`Scrubber`; the session adds each value it hands to
pypsrp, the runner each secret it resolves, and everything written (tables, ``--json``, history, logs,
progress lines, error messages) passes through it. The mask is
:data:`poshbridge.powershell.command.MASK`, the same text a :class:`Secret` renders as. Pure.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from poshbridge.powershell.command import MASK, Secret

MIN_LENGTH = 3  # shorter values would mask ordinary text; no real secret is that short


class Scrubber:
    """Replaces every remembered secret value in text by :data:`MASK`. Never shows the values."""

    __slots__ = ("_lock", "_values")

    def __init__(self, secrets: Iterable[str | Secret | None] = ()) -> None:
        self._values: list[str] = []
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | Secret | None) -> None:
        """Remember ``secret`` (a clear value or a :class:`Secret`); empty and very short values are
        ignored."""
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if not value or len(value) < MIN_LENGTH:
            return
        with self._lock:
            if value not in self._values:
                # longest first: a secret that contains another is masked whole
                self._values.append(value)
                self._values.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def value(self, data: Any) -> Any:
        """``data`` with every string in it (mapping keys too) scrubbed, recursively."""
        if isinstance(data, str):
            return self(data)
        if isinstance(data, Mapping):
            return {self.value(k): self.value(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.value(v) for v in data]
        return data

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Scrubber({len(self._values)} secret(s))"


def scrub(text: str, secrets: Iterable[str | Secret | None]) -> str:
    """``text`` with each of ``secrets`` masked (a one-off :class:`Scrubber`)."""
    return Scrubber(secrets)(text)

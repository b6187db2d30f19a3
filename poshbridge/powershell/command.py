"""A remote call as data: a cmdlet name plus parameters, grouped into batches of statements.

A :class:`Cmd` is what ``PowerShell.add_cmdlet`` + ``add_parameter`` send over PSRP. A
:class:`Batch` is a list of statements (each a pipeline of one or more ``Cmd``) that the session
sends as ONE PowerShell invocation (``add_statement`` between them): one Command/Receive cycle.

Values that are secrets are wrapped in :class:`Secret` so that rendering (dry-run, logs, JSON,
exceptions) shows a mask; only the session unwraps them at the moment of sending.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from poshbridge.powershell.quoting import ps_single_quote

SWITCH = object()
"""Marker value: the parameter is a switch (sent as ``add_parameter(name)`` with no value)."""

MASK = "********"


class Secret:
    """A secret value that must never be rendered. ``str()``/``repr()`` give the mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The clear value. Call only where it is handed to the wire (the remote session)."""
        return self._value

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:  # never pickle/copy a secret out of the process by accident
        raise TypeError("Secret values cannot be pickled")


class SecureSecret(Secret):
    """A secret the cmdlet takes as a ``SecureString`` (sent encrypted with the session key)."""

    __slots__ = ()


@dataclass(frozen=True)
class Cmd:
    """One cmdlet with named parameters (in order). ``SWITCH`` marks a switch parameter."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()
    is_script: bool = False  # ``name`` is one of poshbridge.powershell.fixed.FIXED_SCRIPTS

    @classmethod
    def fixed_script(cls, text: str) -> Cmd:
        """A fixed statement sent with ``add_script`` (only the constants in ``powershell.fixed``)."""
        from poshbridge.powershell.fixed import FIXED_SCRIPTS

        if text not in FIXED_SCRIPTS:
            raise ValueError("only the fixed statements of poshbridge.powershell.fixed can be sent as script")
        return cls(text, (), True)

    @classmethod
    def of(cls, name: str, params: Mapping[str, Any] | None = None, /, **kwargs: Any) -> Cmd:
        merged: dict[str, Any] = dict(params or {})
        merged.update(kwargs)
        return cls(name, tuple((k, v) for k, v in merged.items() if v is not None))

    def param(self, name: str, default: Any = None) -> Any:
        for key, value in self.params:
            if key.lower() == name.lower():
                return value
        return default

    def render(self) -> str:
        """The call as PowerShell text, secrets masked. For dry-run and logs only: never sent anywhere.

        Every string goes through :func:`~poshbridge.powershell.quoting.ps_single_quote` (the quoting
        of the generated script: typographic single quotes doubled too), lists are ``@(...)`` and
        hashtable keys are quoted, so pasted into PowerShell it is the call that would run (with
        ``'********'`` where a secret goes)."""
        if self.is_script:
            return self.name
        parts = [self.name]
        for key, value in self.params:
            parts.append(f"-{key}" if value is SWITCH else f"-{key} {render_value(value)}")
        return " ".join(parts)


def render_value(value: Any) -> str:
    if isinstance(value, Secret):
        return ps_single_quote(MASK)
    if value is SWITCH:
        return "$true"
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"[double]{ps_single_quote(repr(value))}"
    if isinstance(value, Mapping):
        inner = "; ".join(f"{ps_single_quote(str(k))}={render_value(v)}" for k, v in value.items())
        return "@{" + inner + "}"
    if isinstance(value, (list, tuple)):
        return "@(" + ",".join(render_value(v) for v in value) + ")"
    if isinstance(value, (bytes, bytearray)):
        return render_bytes(bytes(value))
    return ps_single_quote(str(value))


UTF8_BOM = b"\xef\xbb\xbf"


def render_bytes(data: bytes) -> str:
    """Bytes as a PowerShell expression that makes the same byte[]: UTF-8 text (with or without a BOM)
    as ``[Text.Encoding]::UTF8.GetBytes('...')`` so a dry run shows the script readably; anything else
    as ``[byte[]]@(...)``."""
    body = data[len(UTF8_BOM) :] if data.startswith(UTF8_BOM) else data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "[byte[]]@(" + ",".join(str(b) for b in data) + ")"
    expression = f"[Text.Encoding]::UTF8.GetBytes({ps_single_quote(text)})"
    if body is data:
        return expression
    return f"[byte[]]((0xEF,0xBB,0xBF) + {expression})"


@dataclass(frozen=True)
class Statement:
    """A pipeline: the output of each Cmd feeds the next. ``label`` names what it is for."""

    cmds: tuple[Cmd, ...]
    label: str = ""

    def render(self) -> str:
        return " | ".join(c.render() for c in self.cmds)


@dataclass
class Batch:
    """Statements sent in one invocation. Build with :meth:`add`."""

    statements: list[Statement] = field(default_factory=list)

    def add(self, *cmds: Cmd, label: str = "") -> Batch:
        if not cmds:
            raise ValueError("a statement needs at least one command")
        self.statements.append(Statement(tuple(cmds), label or cmds[0].name))
        return self

    def __iter__(self) -> Iterator[Statement]:
        return iter(self.statements)

    def __len__(self) -> int:
        return len(self.statements)

    def render(self) -> list[str]:
        return [s.render() for s in self.statements]


def secrets_in(values: Sequence[Any]) -> list[Secret]:
    """All Secret values found (recursively) in parameter values."""
    found: list[Secret] = []
    for value in values:
        if isinstance(value, Secret):
            found.append(value)
        elif isinstance(value, Mapping):
            found.extend(secrets_in(list(value.values())))
        elif isinstance(value, (list, tuple)):
            found.extend(secrets_in(list(value)))
    return found

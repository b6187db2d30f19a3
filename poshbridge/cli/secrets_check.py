"""``poshbridge check --secrets``: resolve every secret reference the selected hosts use and say which
are missing - never a value. Resolution goes through ``poshbridge.inventory.secrets.resolve`` (the
one place that reads environment variables and secret files); the value is dropped at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from poshbridge.inventory.model import HostConfig, SecretRef
from poshbridge.inventory.secrets import SecretError, resolve

SECRET_FIELDS = ("winrm.password", "acme.eab_kid", "acme.eab_hmac")


@dataclass
class SecretStatus:
    reference: str  # SecretRef.describe(): env:NAME, file:PATH or "literal ..."
    keys: list[str] = field(default_factory=list)  # hosts.<h>.<field> using it
    problem: str | None = None  # None: resolved

    @property
    def ok(self) -> bool:
        return self.problem is None


def _refs(host: HostConfig) -> list[tuple[str, SecretRef]]:
    found = [
        ("winrm.password", host.winrm.password),
        ("acme.eab_kid", host.acme.eab_kid),
        ("acme.eab_hmac", host.acme.eab_hmac),
    ]
    return [(key, ref) for key, ref in found if ref is not None]


def check_secrets(hosts: Sequence[HostConfig], base_dir: Path) -> list[SecretStatus]:
    """One status per distinct reference (a default used by every host is resolved once)."""
    statuses: dict[tuple[str, str], SecretStatus] = {}
    for host in hosts:
        for key, ref in _refs(host):
            identity = (ref.describe(), str(base_dir))
            status = statuses.get(identity)
            if status is None:
                status = SecretStatus(ref.describe())
                try:
                    resolve(ref, base_dir)  # the value is not kept
                except SecretError as exc:
                    status.problem = str(exc)
                statuses[identity] = status
            status.keys.append(f"hosts.{host.name}.{key}")
    return list(statuses.values())

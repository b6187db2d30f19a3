"""Pick hosts from the command line: host names, group names, ``all`` and shell patterns (``web*``)."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Sequence

from poshbridge.inventory.model import HostConfig, Inventory

ALL = "all"
_GLOB_CHARS = frozenset("*?[")


class TargetError(Exception):
    """A target names no host or group of the inventory (message says which, and what exists)."""


def is_pattern(target: str) -> bool:
    return any(ch in _GLOB_CHARS for ch in target)


def select_hosts(inv: Inventory, patterns: Sequence[str]) -> list[HostConfig]:
    """Hosts named by ``patterns``, in inventory order, each once. No patterns means all hosts.

    A pattern matches host names and group names (a matching group selects its members).
    """
    if not patterns:
        return list(inv.hosts.values())
    chosen: set[str] = set()
    unknown: list[str] = []
    for target in patterns:
        names = _expand(inv, target)
        if names is None:
            unknown.append(target)
        else:
            chosen.update(names)
    if unknown:
        raise TargetError(_unknown_message(inv, unknown))
    return [host for name, host in inv.hosts.items() if name in chosen]


def _expand(inv: Inventory, target: str) -> set[str] | None:
    if target == ALL:
        return set(inv.hosts)
    if target in inv.hosts:
        return {target}
    if target in inv.groups:
        return {name for name in inv.groups[target] if name in inv.hosts}
    if is_pattern(target):
        names = {name for name in inv.hosts if fnmatch.fnmatchcase(name, target)}
        for group, members in inv.groups.items():
            if fnmatch.fnmatchcase(group, target):
                names.update(name for name in members if name in inv.hosts)
        return names or None
    return None


def _unknown_message(inv: Inventory, unknown: Sequence[str]) -> str:
    parts: list[str] = []
    for target in unknown:
        what = "pattern" if is_pattern(target) else "target"
        text = f"unknown {what} {target!r}: no host or group matches"
        close = difflib.get_close_matches(target, [*inv.hosts, *inv.groups], n=1, cutoff=0.6)
        if close:
            text += f" (did you mean {close[0]!r}?)"
        parts.append(text)
    known = ", ".join(inv.hosts) or "none"
    groups = ", ".join(inv.groups) or "none"
    source = f" in {inv.source}" if inv.source else ""
    return "; ".join(parts) + f". Hosts{source}: {known}. Groups: {groups}. Use 'all' for every host."

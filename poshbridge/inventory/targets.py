"""Pick hosts from the command line: host names, group names, ``all`` and shell patterns (``web*``)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence

from poshbridge.errors import ConfigurationError
from poshbridge.inventory.model import HostConfig, Inventory

ALL = "all"
_GLOB_CHARS = frozenset("*?[")


class TargetError(ConfigurationError):
    """A target names no host or group of the inventory (message says which, and what exists)."""


def is_pattern(target: str) -> bool:
    return any(ch in _GLOB_CHARS for ch in target)


def select_hosts(inv: Inventory, patterns: Sequence[str]) -> list[HostConfig]:
    """Hosts named by ``patterns``, in inventory order, each once. No patterns means all hosts.

    A pattern matches host names and group names (a matching group selects its members).
    """
    names = match_names(list(inv.hosts), inv.groups, patterns, source=inv.source)
    return [inv.hosts[name] for name in names]


def match_names(
    host_names: Sequence[str],
    groups: Mapping[str, Sequence[str]],
    patterns: Sequence[str],
    *,
    source: str = "",
) -> list[str]:
    """The host names selected by ``patterns`` (in ``host_names`` order); TargetError if one matches none."""
    if not patterns:
        return list(host_names)
    chosen: set[str] = set()
    unknown: list[str] = []
    for target in patterns:
        names = _expand(host_names, groups, target)
        if names is None:
            unknown.append(target)
        else:
            chosen.update(names)
    if unknown:
        raise TargetError(_unknown_message(host_names, groups, unknown, source))
    return [name for name in host_names if name in chosen]


def _expand(host_names: Sequence[str], groups: Mapping[str, Sequence[str]], target: str) -> set[str] | None:
    if target == ALL:
        return set(host_names)
    if target in host_names:
        return {target}
    if target in groups:
        return {name for name in groups[target] if name in host_names}
    if is_pattern(target):
        names = {name for name in host_names if fnmatch.fnmatchcase(name, target)}
        for group, members in groups.items():
            if fnmatch.fnmatchcase(group, target):
                names.update(name for name in members if name in host_names)
        return names or None
    return None


def _unknown_message(
    host_names: Sequence[str], groups: Mapping[str, Sequence[str]], unknown: Sequence[str], source: str
) -> str:
    import difflib  # only for an unknown target

    parts: list[str] = []
    for target in unknown:
        what = "pattern" if is_pattern(target) else "target"
        text = f"unknown {what} {target!r}: no host or group matches"
        close = difflib.get_close_matches(target, [*host_names, *groups], n=1, cutoff=0.6)
        if close:
            text += f" (did you mean {close[0]!r}?)"
        parts.append(text)
    known = ", ".join(host_names) or "none"
    group_list = ", ".join(groups) or "none"
    where = f" in {source}" if source else ""
    return "; ".join(parts) + f". Hosts{where}: {known}. Groups: {group_list}. Use 'all' for every host."

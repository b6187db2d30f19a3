"""Ansible inventory files as data (pure): INI text, the YAML format's parsed data and the JSON of
``ansible-inventory --list`` each become one :class:`Tree` of groups, hosts and their variables.

The rules follow ansible-core's own plugins (ansible/ansible ``lib/ansible/plugins/inventory/ini.py``,
``yaml.py``, ``plugins/inventory/__init__.py`` ``_expand_hostpattern`` and
``inventory/helpers``/``utils`` ``expand_hostname_range``): INI lines outside a section are hosts of
``ungrouped``; ``[g]`` holds hosts, ``[g:vars]`` one ``key=value`` a line, ``[g:children]`` group names;
every INI value goes through ``ast.literal_eval`` and stays text when it is not a Python literal;
``host:port`` sets ``ansible_port``; ``name[01:20]`` / ``[a:f]`` / ``[1:9:2]`` ranges expand (zero-padded as
written). Problems never quote a line or a value (it may hold a password): they give the line or the
key path.
"""

from __future__ import annotations

import ast
import re
import shlex
import string
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from poshbridge.errors import ConfigurationError
from poshbridge.inventory.model import Problem

MAX_HOSTS: Final = 100_000  # after range expansion
VAULT_HINT: Final = (
    "Ansible vault values cannot be read here: pass the output of 'ansible-inventory --list' "
    "(run with your vault password) as -i, or run poshbridge through the poshbridge.iis collection"
)
_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_RANGE = re.compile(r"\[([^\]:\[]*):([^\]:\[]*)(?::([^\]:\[]*))?\]")
_VAULT_MARK = "__ansible_vault"


@dataclass
class Group:
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    members: set[str] = field(default_factory=set, repr=False)  # ``hosts`` as a set (linear adds)


@dataclass
class Tree:
    """Groups (``all`` and ``ungrouped`` included) and each host's own variables, in file order."""

    groups: dict[str, Group] = field(default_factory=dict)
    host_vars: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def group(self, name: str) -> Group:
        return self.groups.setdefault(name, Group())

    def add_host(self, group: str, host: str, variables: Mapping[str, Any]) -> None:
        if host not in self.host_vars and len(self.host_vars) >= MAX_HOSTS:
            raise _TooMany
        self.host_vars.setdefault(host, {}).update(variables)
        entry = self.group(group)
        if host not in entry.members:
            entry.members.add(host)
            entry.hosts.append(host)

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))


class _TooMany(ConfigurationError):  # an internal signal, caught here
    pass


# ----- host patterns ------------------------------------------------------------------------------------


def _range_values(low: str, high: str, step_text: str | None) -> list[str] | str:
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            return "the step of a host range must be a positive number"
        step = int(step_text)
    if low.isdigit() or (not low and high.isdigit()):
        if not high.isdigit():
            return "a numeric host range needs a numeric end"
        width = len(low) if low.startswith("0") and len(low) > 1 else 0
        if width and len(high) != width:
            return "a zero-padded host range needs a begin and an end of the same length"
        first, last = int(low or "0"), int(high)
        if last < first:
            return "a host range ends before it begins"
        if (last - first) // step + 1 > MAX_HOSTS:
            return f"a host range expands to more than {MAX_HOSTS} hosts"
        return [str(n).zfill(width) for n in range(first, last + 1, step)]
    letters = string.ascii_letters
    if len(low) == 1 and len(high) == 1 and low in letters and high in letters:
        first, last = letters.index(low), letters.index(high)
        if last < first:
            return "a host range ends before it begins"
        return [letters[i] for i in range(first, last + 1, step)]
    return "a host range is [begin:end] or [begin:end:step] of numbers or single letters"


def expand_pattern(pattern: str) -> tuple[list[str], int | None] | str:
    """(host names, port or None) of one host pattern, or the reason it is refused."""
    port: int | None = None
    head, colon, tail = pattern.rpartition(":")
    if colon and not tail:
        return "a host name cannot end in ':' (the character before a port)"
    if colon and head and ":" not in head and tail.isdigit() and len(tail) <= 5:
        pattern, port = head, int(tail)
    names = [""]
    position = 0
    for found in _RANGE.finditer(pattern):
        values = _range_values(found[1], found[2], found[3])
        if isinstance(values, str):
            return values
        literal = pattern[position : found.start()]
        if len(names) * len(values) > MAX_HOSTS:
            return f"a host pattern expands to more than {MAX_HOSTS} hosts"
        names = [name + literal + value for name in names for value in values]
        position = found.end()
    names = [name + pattern[position:] for name in names]
    return names, port


# ----- INI ----------------------------------------------------------------------------------------------


def _literal(text: str) -> Any:
    """Ansible's ini ``_parse_value``: a Python literal if it is one, else the text itself."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, OverflowError):
        return text
    return _plain_literal(value)


def _plain_literal(value: Any) -> Any:
    if isinstance(value, (list, tuple, set)):
        return [_plain_literal(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain_literal(v) for k, v in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    return value


def parse_ini(text: str) -> Tree:
    tree = Tree()
    tree.group("all")
    tree.group("ungrouped")
    group, state = "ungrouped", "hosts"
    declared: set[str] = {"all", "ungrouped"}
    pending: dict[str, tuple[int, str]] = {}  # group used before being declared -> (line, how)
    try:
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            where = f"line {number}"
            section = _SECTION.match(line)
            if section:
                group, state = section[1], section[2] or "hosts"
                if state not in ("hosts", "children", "vars"):
                    tree.error(
                        "",
                        f"section of unknown type (line {number}): "
                        "use [group], [group:vars] or [group:children]",
                    )
                    state = "skip"
                    continue
                tree.group(group)
                if state == "vars":
                    if group not in declared:
                        pending.setdefault(group, (number, "vars"))
                else:
                    declared.add(group)
                    pending.pop(group, None)
                continue
            if line.startswith("[") and line.endswith("]"):
                tree.error("", f"invalid section header ({where}): no spaces, and at most one ':' modifier")
                state = "skip"
                continue
            if state == "hosts":
                _ini_host(tree, group, line, number)
            elif state == "vars":
                key, equals, value = line.partition("=")
                if not equals or not key.strip():
                    tree.error("", f"expected key=value in [{group}:vars] ({where})")
                    continue
                tree.group(group).vars[key.strip()] = _literal(value.strip())
            elif state == "children":
                name = _group_name(line)
                if name is None:
                    tree.error("", f"expected a group name in [{group}:children] ({where})")
                    continue
                tree.group(name)
                if name not in tree.group(group).children:
                    tree.group(group).children.append(name)
                if name not in declared:
                    pending.setdefault(name, (number, "children"))
    except _TooMany:
        tree.error("", f"more than {MAX_HOSTS} hosts")
        return tree
    for name, (number, how) in pending.items():
        if how == "vars":
            tree.error("", f"section [{name}:vars] is for a group that is never declared (line {number})")
        else:
            tree.error("", f"a [:children] section names group {name!r}, never declared (line {number})")
    return tree


def _group_name(line: str) -> str | None:
    """ini.py's ``groupname`` pattern: one token without ':' or ']', then only a ``#`` comment."""
    parts = line.split(None, 1)
    name = parts[0]
    if ":" in name or "]" in name or (len(parts) > 1 and not parts[1].startswith("#")):
        return None
    return name


def _ini_host(tree: Tree, group: str, line: str, number: int) -> None:
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:
        tree.error("", f"a host line cannot be read (line {number}): unclosed quotation")
        return
    if not tokens:
        return
    expanded = expand_pattern(tokens[0])
    if isinstance(expanded, str):
        tree.error("", f"{expanded} (line {number})")
        return
    names, port = expanded
    variables: dict[str, Any] = {}
    for token in tokens[1:]:
        key, equals, value = token.partition("=")
        if not equals or not key:
            tree.error("", f"expected key=value host variables after the host name (line {number})")
            return
        variables[key] = _literal(value)
    if port is not None:
        variables["ansible_port"] = port
    for name in names:
        tree.add_host(group, name, variables)


# ----- YAML and JSON ------------------------------------------------------------------------------------

_GROUP_KEYS: Final = ("hosts", "children", "vars")


def is_ansible_yaml(data: Any) -> bool:
    """Top-level ``all:``, or every top-level value a group (a mapping of hosts/children/vars, or null)."""
    if not isinstance(data, Mapping) or not data:
        return False
    if "all" in data:
        return True
    return all(
        value is None or (isinstance(value, Mapping) and value and set(map(str, value)) <= set(_GROUP_KEYS))
        for value in data.values()
    )


def is_ansible_json(data: Any) -> bool:
    return isinstance(data, Mapping) and "_meta" in data


def _mapping(tree: Tree, value: Any, path: str, what: str) -> Mapping[str, Any] | None:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        tree.error(path, f"must be a mapping ({what})")
        return None
    return value


def yaml_tree(data: Mapping[str, Any]) -> Tree:
    """The YAML inventory format: ``group: {hosts: {name: vars}, vars: {...}, children: {group: ...}}``."""
    tree = Tree()
    tree.group("all")
    tree.group("ungrouped")
    stack: list[tuple[str, Any, str, str | None]] = [
        (str(name), value, str(name), None) for name, value in reversed(list(data.items()))
    ]
    seen: set[tuple[str, int]] = set()  # a YAML alias may repeat (or nest) a group's body: walk it once
    try:
        while stack:
            name, body, path, parent = stack.pop()
            tree.group(name)
            if parent is not None and name not in tree.group(parent).children:
                tree.group(parent).children.append(name)
            if (name, id(body)) in seen:
                continue
            seen.add((name, id(body)))
            group = _mapping(tree, body, path, "hosts, children and vars")
            if group is None:
                continue
            for key in group:
                if key not in _GROUP_KEYS:
                    tree.error(f"{path}.{key}", "unknown key in a group: use hosts, children or vars")
            variables = _mapping(tree, group.get("vars"), f"{path}.vars", "variable name -> value")
            if variables:
                tree.group(name).vars.update({str(k): v for k, v in variables.items()})
            hosts = _mapping(tree, group.get("hosts"), f"{path}.hosts", "host name -> variables")
            for pattern, host_body in (hosts or {}).items():
                hpath = f"{path}.hosts.{pattern}"
                expanded = expand_pattern(str(pattern))
                if isinstance(expanded, str):
                    tree.error(hpath, expanded)
                    continue
                host_vars = _mapping(tree, host_body, hpath, "variable name -> value")
                if host_vars is None:
                    continue
                names, port = expanded
                own = {str(k): v for k, v in host_vars.items()}
                if port is not None:
                    own["ansible_port"] = port
                for host in names:
                    tree.add_host(name, host, own)
            children = _mapping(tree, group.get("children"), f"{path}.children", "group name -> group")
            for child, child_body in reversed(list((children or {}).items())):
                stack.append((str(child), child_body, f"{path}.children.{child}", name))
    except _TooMany:
        tree.error("", f"more than {MAX_HOSTS} hosts")
    return tree


def json_tree(data: Mapping[str, Any]) -> Tree:
    """``ansible-inventory --list`` (with or without ``--export``): groups with hosts/children/vars lists,
    ``_meta.hostvars``; a group written as a plain list of hosts (the old script format) is accepted."""
    tree = Tree()
    tree.group("all")
    tree.group("ungrouped")
    meta = _mapping(tree, data.get("_meta"), "_meta", "hostvars")
    hostvars = _mapping(tree, (meta or {}).get("hostvars"), "_meta.hostvars", "host name -> variables") or {}
    try:
        for name, body in data.items():
            if name == "_meta":
                continue
            name = str(name)
            tree.group(name)
            if isinstance(body, list):
                body = {"hosts": body}
            group = _mapping(tree, body, name, "hosts, children and vars")
            if group is None:
                continue
            for key in ("hosts", "children"):
                items = group.get(key) or []
                if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                    tree.error(
                        f"{name}.{key}", f"must be a list of {key[:-1] if key == 'hosts' else 'group'} names"
                    )
                    continue
                for item in items:
                    if key == "hosts":
                        tree.add_host(name, item, {})
                    else:
                        tree.group(item)
                        if item not in tree.group(name).children:
                            tree.group(name).children.append(item)
            variables = _mapping(tree, group.get("vars"), f"{name}.vars", "variable name -> value")
            tree.group(name).vars.update({str(k): v for k, v in (variables or {}).items()})
        for host, own in hostvars.items():
            variables = _mapping(tree, own, f"_meta.hostvars.{host}", "variable name -> value")
            if variables is None:
                continue
            if str(host) not in tree.host_vars:
                tree.add_host("ungrouped", str(host), {})
            tree.host_vars[str(host)].update({str(k): v for k, v in variables.items()})
    except _TooMany:
        tree.error("", f"more than {MAX_HOSTS} hosts")
    return tree


def vault_values(tree: Tree) -> list[str]:
    """Where an encrypted value (``{__ansible_vault: ...}`` in ``--list`` JSON) was left undecrypted."""
    found: list[str] = []
    for name, group in tree.groups.items():
        found += [f"group {name}: {k}" for k, v in group.vars.items() if _is_vault(v)]
    for host, own in tree.host_vars.items():
        found += [f"{host}: {k}" for k, v in own.items() if _is_vault(v)]
    return found


def _is_vault(value: Any) -> bool:
    return isinstance(value, Mapping) and _VAULT_MARK in value

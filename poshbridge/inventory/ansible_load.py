"""An Ansible inventory file (INI, YAML or ``ansible-inventory --list`` JSON) → a poshbridge
:class:`Inventory`: Ansible's variable precedence, the ``group_vars/`` and ``host_vars/`` folders next
to the file, then the mapping of :mod:`poshbridge.inventory.ansible`.

Precedence, lowest first (Ansible's documented order, levels that exist without a playbook):
the file's group variables (``all``, then groups by depth from ``all``, then ``ansible_group_priority``,
then name), ``group_vars/all``, ``group_vars/<group>`` (same order), the file's host variables,
``host_vars/<host>``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from poshbridge.inventory.ansible import build_from_hostvars
from poshbridge.inventory.ansible_formats import (
    _SECTION,
    Tree,
    is_ansible_json,
    is_ansible_yaml,
    json_tree,
    parse_ini,
    vault_values,
    yaml_tree,
)
from poshbridge.inventory.ansible_formats import VAULT_HINT as VAULT_HINT
from poshbridge.inventory.files import read_small_regular_file
from poshbridge.inventory.model import Inventory, Problem

LITERAL_WARNING: Final = (
    "literal secret in the inventory file; prefer {env: NAME} or {file: PATH}, or an Ansible vault "
    "used through the poshbridge.iis collection"
)
_VARS_SUFFIXES: Final = ("", ".yml", ".yaml", ".json")
MAX_VARS_FILES: Final = 10_000
_NATIVE_KEYS: Final = frozenset({"defaults", "groups", "hosts"})


# ----- detection ----------------------------------------------------------------------------------------


def _first_line(text: str) -> str:
    for raw in text.splitlines():
        line = raw.strip()
        if line and line[0] not in "#;":
            return line
    return ""


def looks_like_ini(text: str, source: str) -> bool:
    """INI: the first line that is not blank or a comment is a ``[section]`` header, or the name ends .ini."""
    return source.lower().endswith(".ini") or bool(_SECTION.match(_first_line(text)))


def has_ini_section(text: str) -> bool:
    return any(_SECTION.match(line.strip()) for line in text.splitlines())


def ansible_data_kind(data: Any) -> str | None:
    """ "json" (``_meta``), "yaml" (``all:`` or groups of hosts/children/vars), or None (native)."""
    if not isinstance(data, Mapping) or (data and set(map(str, data)) <= _NATIVE_KEYS):
        return None
    if is_ansible_json(data):
        return "json"
    if is_ansible_yaml(data):
        return "yaml"
    return None


def parse_json(text: str) -> tuple[Any, list[str]] | None:
    """JSON data and its duplicate keys, or None when the text is not JSON."""
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                duplicates.append(key)
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=pairs), duplicates
    except (ValueError, RecursionError):
        return None


def declared_names(text: str, source: str) -> list[str] | None:
    """Every host an Ansible inventory names (those with errors too); None when it is not one."""
    from poshbridge.inventory.load import parse_yaml

    if looks_like_ini(text, source):
        return list(parse_ini(text).host_vars)
    parsed = parse_json(text) if text.lstrip().startswith("{") else None
    if parsed is None:
        try:
            parsed = parse_yaml(text)[0], []
        except (yaml.YAMLError, RecursionError):
            return list(parse_ini(text).host_vars) if has_ini_section(text) else None
    kind = ansible_data_kind(parsed[0])
    if kind is None:
        return None
    return list((json_tree if kind == "json" else yaml_tree)(parsed[0]).host_vars)


# ----- building -----------------------------------------------------------------------------------------


def inventory_from_ansible(
    kind: str, content: Any, source: str, folder: Path | None, problems: list[Problem] | None = None
) -> Inventory:
    """``kind`` "ini" (``content`` the text), "yaml" or "json" (``content`` the parsed data)."""
    found = list(problems or [])
    if kind == "ini":
        tree = parse_ini(content)
    elif kind == "json":
        tree = json_tree(content)
    else:
        tree = yaml_tree(content)
    found += tree.problems
    found += [Problem(where, f"an encrypted value: {VAULT_HINT}") for where in vault_values(tree)]
    group_files: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    host_files: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    if folder is not None and kind != "json":  # ansible-inventory --list has already read them
        group_files = _vars_files(folder, "group_vars", list(tree.groups), found)
        host_files = _vars_files(folder, "host_vars", list(tree.host_vars), found)
    order = _group_order(tree, found)
    if any(p.severity == "error" for p in found):
        return Inventory(hosts={}, groups={}, source=source, problems=tuple(found))
    hostvars, origins, groups = _merge(tree, order, group_files, host_files)
    inventory = build_from_hostvars(
        hostvars,
        base_dir=folder or Path.cwd(),
        source=source,
        groups=groups,
        where=lambda host, variable: origins[host].get(variable, host),
        literal_secrets=LITERAL_WARNING,
    )
    return Inventory(
        hosts=inventory.hosts,
        groups=inventory.groups,
        source=source,
        problems=tuple(found) + inventory.problems,
        base_dir=None,  # relative paths: the inventory file's folder, as for a native file
    )


def _group_order(tree: Tree, out: list[Problem]) -> dict[str, tuple[int, int, str]]:
    """Each group's sort key (depth from ``all``, ansible_group_priority, name); a cycle is an error."""
    parents: dict[str, list[str]] = {name: [] for name in tree.groups}
    for name, group in tree.groups.items():
        for child in group.children:
            parents.setdefault(child, []).append(name)
    for name in tree.groups:
        if name != "all" and not parents[name]:
            parents[name].append("all")  # a group without a parent is a child of all
    children: dict[str, list[str]] = {name: [] for name in parents}
    for name, ps in parents.items():
        for parent in ps:
            children[parent].append(name)
    waiting = {name: len(ps) for name, ps in parents.items()}
    depth = dict.fromkeys(parents, 0)
    ready = [name for name, count in waiting.items() if count == 0]
    done = 0
    while ready:
        name = ready.pop()
        done += 1
        for child in children[name]:
            depth[child] = max(depth[child], depth[name] + 1)
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    if done < len(parents):
        stuck = sorted(name for name, count in waiting.items() if count > 0)
        out.append(
            Problem(f"group {stuck[0]}", "the groups' children form a loop (a group is its own ancestor)")
        )
    keys: dict[str, tuple[int, int, str]] = {}
    for name in parents:
        priority = tree.groups[name].vars.get("ansible_group_priority", 1) if name in tree.groups else 1
        if isinstance(priority, str) and priority.strip().isdigit():
            priority = int(priority)
        if not isinstance(priority, int) or isinstance(priority, bool):
            out.append(Problem(f"group {name}: ansible_group_priority", "must be a number"))
            priority = 1
        keys[name] = (depth[name], priority, name)
    return keys


def _merge(
    tree: Tree,
    order: dict[str, tuple[int, int, str]],
    group_files: dict[str, list[tuple[str, dict[str, Any]]]],
    host_files: dict[str, list[tuple[str, dict[str, Any]]]],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]], dict[str, list[str]]]:
    direct: dict[str, set[str]] = {host: set() for host in tree.host_vars}
    for name, group in tree.groups.items():
        for host in group.hosts:
            direct[host].add(name)
    parents: dict[str, set[str]] = {name: set() for name in order}
    for name, group in tree.groups.items():
        for child in group.children:
            parents[child].add(name)
    ancestors: dict[str, set[str]] = {}
    for name in sorted(order, key=order.__getitem__):  # parents (smaller depth) come first
        found = {name, "all"}
        for parent in parents[name]:
            found |= ancestors.get(parent, {parent})
        ancestors[name] = found
    hostvars: dict[str, dict[str, Any]] = {}
    origins: dict[str, dict[str, str]] = {}
    groups: dict[str, list[str]] = {name: [] for name in order if name != "all"}
    for host, own in tree.host_vars.items():
        member: set[str] = {"all"}
        for name in direct[host]:
            member |= ancestors[name]
        if member <= {"all", "ungrouped"}:
            member.add("ungrouped")
        else:
            member.discard("ungrouped")
        chain = sorted(member, key=order.__getitem__)
        merged: dict[str, Any] = {}
        origin: dict[str, str] = {}
        layers: list[tuple[str, Mapping[str, Any]]] = [(f"group {g}", tree.groups[g].vars) for g in chain]
        layers += [(label, values) for g in chain for label, values in group_files.get(g, [])]
        layers.append((host, own))
        layers += host_files.get(host, [])
        for label, values in layers:
            for key, value in values.items():
                merged[key] = value
                origin[key] = label
        hostvars[host] = merged
        origins[host] = origin
        for name in chain:
            if name != "all":
                groups[name].append(host)
    return hostvars, origins, {name: hosts for name, hosts in groups.items() if hosts or name != "ungrouped"}


# ----- group_vars/ and host_vars/ -----------------------------------------------------------------------


def _vars_files(
    folder: Path, kind: str, names: list[str], out: list[Problem]
) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """``<kind>/<name>``, ``.yml``, ``.yaml``, ``.json``, or the files of the folder ``<kind>/<name>/``."""
    base = folder / kind
    try:
        entries = {entry.name: entry for entry in os.scandir(base)} if base.is_dir() else {}
    except OSError:
        return {}
    result: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    budget = MAX_VARS_FILES
    for name in names:
        for suffix in _VARS_SUFFIXES:
            entry = entries.get(name + suffix)
            if entry is None:
                continue
            if entry.is_dir() and suffix == "":
                files = sorted(
                    (
                        f
                        for f in os.scandir(entry.path)
                        if f.is_file() and f.name.endswith(_VARS_SUFFIXES[1:])
                    ),
                    key=lambda f: f.name,
                )
                paths = [Path(f.path) for f in files]
            else:
                paths = [Path(entry.path)]
            for path in paths:
                budget -= 1
                if budget < 0:
                    out.append(Problem(kind, f"more than {MAX_VARS_FILES} variable files"))
                    return result
                label = path.relative_to(folder).as_posix()
                values = _read_vars_file(path, label, out)
                if values is not None:
                    result.setdefault(name, []).append((label, values))
    return result


def _read_vars_file(path: Path, label: str, out: list[Problem]) -> dict[str, Any] | None:
    from poshbridge.inventory.load import MAX_INVENTORY_BYTES, YamlTagError, _yaml_problem, parse_yaml

    try:
        text = read_small_regular_file(path, MAX_INVENTORY_BYTES).decode("utf-8-sig")
    except OSError as exc:
        out.append(Problem(label, f"cannot read: {exc.strerror or type(exc).__name__}"))
        return None
    except UnicodeDecodeError as exc:
        out.append(Problem(label, f"not UTF-8 (byte {exc.start})"))
        return None
    if text.lstrip().startswith("$ANSIBLE_VAULT;"):
        out.append(Problem(label, f"the file is vault-encrypted: {VAULT_HINT}"))
        return None
    try:
        data, duplicates = parse_yaml(text)
    except YamlTagError as exc:
        out.append(tag_problem(exc, text, label))
        return None
    except (yaml.YAMLError, RecursionError) as exc:
        problem = _yaml_problem(exc) if isinstance(exc, yaml.YAMLError) else Problem("", "nested too deeply")
        out.append(Problem(label, problem.message))
        return None
    for key, line in duplicates:
        out.append(
            Problem(f"{label}: {key}", f"duplicate key (line {line}); YAML would keep only the last one")
        )
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        out.append(Problem(label, "must be a mapping of variable name -> value"))
        return None
    return {str(k): v for k, v in data.items()}


def tag_problem(exc: Any, text: str, label: str) -> Problem:
    """An explicit YAML tag: ``!vault`` gets the vault hint; any other, the native message."""
    from poshbridge.inventory.load import _yaml_problem

    lines = text.splitlines()
    for path, line in exc.tags:
        if 0 < line <= len(lines) and "!vault" in lines[line - 1]:
            where = f"{label}: {path}" if label else path
            return Problem(where, f"an encrypted value (!vault, line {line}): {VAULT_HINT}")
    problem = _yaml_problem(exc)
    return Problem(f"{label}: {problem.path}" if label else problem.path, problem.message)

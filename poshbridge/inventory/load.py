"""Read an inventory file: YAML (with duplicate keys detected) → validated :class:`Inventory`.

Loading never resolves secrets. :func:`read_inventory` always returns an :class:`Inventory`
carrying every problem found (``poshbridge check`` shows them all); :func:`load_inventory` raises
:class:`InventoryError` when any of them is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from poshbridge.errors import ConfigurationError
from poshbridge.inventory.files import read_small_regular_file
from poshbridge.inventory.model import Inventory, Problem
from poshbridge.inventory.validate import build_inventory

MAX_INVENTORY_BYTES = 16 * 1024 * 1024


class InventoryError(ConfigurationError):
    """The inventory cannot be used; ``problems`` lists every finding (errors and warnings)."""

    def __init__(self, problems: Iterable[Problem], source: str = "") -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.source = source
        errors = [p for p in self.problems if p.severity == "error"]
        first = f": {errors[0]}" if errors else ""
        where = f" in {source}" if source else ""
        super().__init__(f"{len(errors)} inventory error(s){where}{first}")

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")


# YAML 1.1 would read `start: 03:17` as the base-60 integer 197 and `start_date: 2024-01-01` as a
# date object. Inventory values are strings the operator typed, so this loader drops the timestamp
# resolver and the sexagesimal forms of int/float.
_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class InventoryLoader(yaml.SafeLoader):
    """SafeLoader without timestamps/sexagesimals that records duplicate mapping keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int]] = []  # (key path, 1-based line)
        self.tagged: set[tuple[int, int]] = set()  # (line, column) of nodes with an explicit tag
        self.tags: list[tuple[str, int]] = []  # (key path, 1-based line) of explicit tags
        self.visited: set[int] = set()

    # An explicit tag (``!!int``, ``!!binary``, ``!custom``) is refused before anything is constructed:
    # the constructors would raise with the value in the message (a secret, for a password).
    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and not isinstance(event, yaml.AliasEvent):
            self.tagged.add((event.start_mark.line, event.start_mark.column))
        return super().compose_node(parent, index)

    def record_duplicates(self, node: yaml.Node, path: str = "") -> None:
        # An alias is the same node object: visit each node once, or nested aliases ("billion
        # laughs") would make this walk exponential.
        if id(node) in self.visited:
            return
        self.visited.add(id(node))
        if (node.start_mark.line, node.start_mark.column) in self.tagged:
            self.tags.append((path, node.start_mark.line + 1))
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    self.record_duplicates(key_node, path)
                    self.record_duplicates(value_node, path)
                    continue
                key = key_node.value
                child = f"{path}.{key}" if path else str(key)
                if (key_node.start_mark.line, key_node.start_mark.column) in self.tagged:
                    self.tags.append((path, key_node.start_mark.line + 1))  # a key: its parent's path
                if key in seen:
                    self.duplicates.append((child, key_node.start_mark.line + 1))
                seen.add(key)
                self.record_duplicates(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.record_duplicates(item, f"{path}[{index}]")


def _install_resolvers() -> None:
    resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        kept: list[tuple[str, re.Pattern[str]]] = []
        for tag, regexp in entries:
            if tag == "tag:yaml.org,2002:timestamp":
                continue
            if tag == "tag:yaml.org,2002:int":
                regexp = _INT
            elif tag == "tag:yaml.org,2002:float":
                regexp = _FLOAT
            kept.append((tag, regexp))
        if kept:
            resolvers[first] = kept
    # A class attribute of our own subclass: SafeLoader's table stays untouched.
    InventoryLoader.yaml_implicit_resolvers = resolvers


_install_resolvers()


class YamlTagError(ConfigurationError, yaml.YAMLError):
    """Explicit YAML tags in the inventory: ``tags`` lists (key path, line) of each."""

    def __init__(self, tags: list[tuple[str, int]]) -> None:
        super().__init__("explicit YAML tags")
        self.tags = tags


class YamlValueError(ConfigurationError, yaml.YAMLError):
    """A value the loader cannot construct (at ``line``); the message never holds the value."""

    def __init__(self, line: int | None) -> None:
        super().__init__("a value cannot be constructed")
        self.line = line


def parse_yaml(text: str) -> tuple[Any, list[tuple[str, int]]]:
    """Parse one YAML document; return the data and the duplicate keys (path, line).

    Raises :class:`YamlTagError` for explicit tags and :class:`YamlValueError` when a value
    cannot be constructed (never with the value in the message).
    """
    loader = InventoryLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        loader.record_duplicates(node)
        if loader.tags:
            raise YamlTagError(loader.tags)
        try:
            data = loader.construct_document(node)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
            mark = getattr(exc, "problem_mark", None)
            raise YamlValueError(mark.line + 1 if mark is not None else None) from None
        return data, loader.duplicates
    finally:
        loader.dispose()


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _yaml_problem(exc: yaml.YAMLError) -> Problem:
    """A located, value-free problem for a YAML error (PyYAML quotes characters and names it met)."""
    if isinstance(exc, YamlTagError):
        path, line = exc.tags[0]
        more = f" (and {len(exc.tags) - 1} more)" if len(exc.tags) > 1 else ""
        return Problem(
            path,
            f"explicit YAML tag (line {line}){more}: tags such as !!int or !!binary are not allowed in "
            "the inventory; write the plain value (quote it to keep it text)",
        )
    if isinstance(exc, YamlValueError):
        where = f" (line {exc.line})" if exc.line is not None else ""
        return Problem("", f"a value cannot be read{where}")
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    reason = getattr(exc, "problem", None) or type(exc).__name__
    return Problem("", f"not valid YAML{where}: {_QUOTED.sub('(...)', str(reason))}")


def inventory_from_text(text: str, source: str = "<text>", *, folder: Path | None = None) -> Inventory:
    """Validate inventory text: the native YAML, or an Ansible inventory (INI, YAML or the JSON of
    ``ansible-inventory --list``; README "Ansible inventories"), whose ``group_vars/`` and ``host_vars/``
    are read from ``folder``. Never raises on content; problems are in the result."""
    from poshbridge.inventory import ansible_load

    if text.lstrip().startswith("$ANSIBLE_VAULT;"):
        problem = Problem("", f"the file is vault-encrypted: {ansible_load.VAULT_HINT}")
        return Inventory(hosts={}, groups={}, source=source, problems=(problem,))
    if ansible_load.looks_like_ini(text, source):
        return ansible_load.inventory_from_ansible("ini", text, source, folder)
    parsed = ansible_load.parse_json(text) if text.lstrip().startswith("{") else None
    if parsed is not None:  # JSON: ansible-inventory --list (a native file in JSON goes the YAML way below)
        data, keys = parsed
        problems = [Problem(key, "duplicate key; JSON would silently keep only the last one") for key in keys]
        kind = ansible_load.ansible_data_kind(data)
        if kind is not None:
            return ansible_load.inventory_from_ansible(kind, data, source, folder, problems)
    try:
        data, duplicates = parse_yaml(text)
    except yaml.YAMLError as exc:
        if ansible_load.has_ini_section(text):
            return ansible_load.inventory_from_ansible("ini", text, source, folder)
        if isinstance(exc, YamlTagError):
            return Inventory(
                hosts={}, groups={}, source=source, problems=(ansible_load.tag_problem(exc, text, ""),)
            )
        return Inventory(hosts={}, groups={}, source=source, problems=(_yaml_problem(exc),))
    except RecursionError:
        return Inventory(
            hosts={}, groups={}, source=source, problems=(Problem("", "not valid YAML: nested too deeply"),)
        )
    duplicate_problems = [
        Problem(path, f"duplicate key (line {line}); YAML would silently keep only the last one")
        for path, line in duplicates
    ]
    kind = ansible_load.ansible_data_kind(data)
    if kind is not None:
        return ansible_load.inventory_from_ansible(kind, data, source, folder, duplicate_problems)
    if not isinstance(data, (dict, type(None))) and ansible_load.has_ini_section(text):
        return ansible_load.inventory_from_ansible("ini", text, source, folder)
    inventory = build_inventory(data, source=source)
    all_problems = tuple(duplicate_problems) + inventory.problems
    return Inventory(hosts=inventory.hosts, groups=inventory.groups, source=source, problems=all_problems)


def read_inventory(path: str | Path) -> Inventory:
    """Read and validate ``path``; unreadable files become a problem instead of an exception."""
    file = Path(path)
    try:
        raw = read_small_regular_file(file, MAX_INVENTORY_BYTES)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        return Inventory(
            hosts={},
            groups={},
            source=str(file),
            problems=(Problem("", f"cannot read inventory file {file}: {reason}"),),
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Inventory(
            hosts={},
            groups={},
            source=str(file),
            problems=(Problem("", f"inventory file is not UTF-8 (byte {exc.start})"),),
        )
    return inventory_from_text(text, source=str(file), folder=file.resolve().parent)


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate ``path``; raise :class:`InventoryError` if any problem is an error."""
    inventory = read_inventory(path)
    if inventory.errors:
        raise InventoryError(inventory.problems, source=inventory.source)
    return inventory


def declared_host_names(path: str | Path) -> list[str]:
    """Every key under ``hosts`` as written, or every host an Ansible inventory names (including hosts
    whose settings have errors); [] if unreadable."""
    from poshbridge.inventory.ansible_load import declared_names

    try:
        text = read_small_regular_file(Path(path), MAX_INVENTORY_BYTES).decode("utf-8-sig")
        names = declared_names(text, str(path))
        if names is not None:
            return names
        data, _ = parse_yaml(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return []
    hosts = data.get("hosts") if isinstance(data, dict) else None
    return [str(name) for name in hosts] if isinstance(hosts, dict) else []

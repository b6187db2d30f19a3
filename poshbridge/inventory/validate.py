"""Validate inventory data and build typed host configurations, collecting EVERY problem at once.

Each problem names the key path it is about (``hosts.host01.domains[1]``). A value is checked where it
is written (``defaults``, ``groups.<g>.vars`` or ``hosts.<h>``), so a bad default is reported once,
not once per host. Rules that need the merged host (wildcard + WebRoot, basic over http, …) point at
the key that supplied the offending value.

Merge order for each section (``winrm``, ``acme``, ``renewal``, ``iis``), key by key:
``defaults`` < each group's ``vars`` in file order < the host's own section.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from poshbridge.inventory.checks import (
    _NAME_RE,
    INVALID,
    MAX_CONTACTS,
    Problems,
    _describe,
    _Invalid,
    _suggest,
    check_code_points,
    check_text,
    check_windows_path,
    join_path,
    normalize_fqdn,
)
from poshbridge.inventory.checks import (
    duration_seconds as duration_seconds,  # re-exported: imported from here
)
from poshbridge.inventory.fields import (
    FIELD_CHECKS,
    GROUP_KEYS,
    HOST_KEYS,
    RESERVED_TARGETS,
    SECTION_KEYS,
    SECTIONS,
    TOP_KEYS,
)
from poshbridge.inventory.model import (
    AcmeConfig,
    HostConfig,
    IISConfig,
    Inventory,
    RenewalConfig,
    WinRMConfig,
)

# ----- structure ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sourced:
    """A checked value and the key path it came from."""

    value: Any
    path: str


SectionValues = dict[str, Sourced]


def check_keys(raw: Mapping[Any, Any], path: str, known: Sequence[str], out: Problems, what: str) -> None:
    for key in raw:
        if key not in known:
            where = f"in {what}" if what else ""
            out.error(
                join_path(path, str(key)),
                f"unknown key {str(key)!r} {where}{_suggest(str(key), known)}".replace("  ", " "),
            )


def _mapping(raw: Any, path: str, out: Problems, what: str) -> Mapping[Any, Any] | None:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        out.error(path, f"must be a mapping ({what}), not {_describe(raw)}")
        return None
    return raw


def parse_section(section: str, raw: Any, path: str, out: Problems) -> SectionValues:
    """Check one ``winrm``/``acme``/``renewal``/``iis`` mapping written at ``path``."""
    mapping = _mapping(raw, path, out, f"the {section} settings")
    if mapping is None:
        return {}
    check_keys(mapping, path, SECTION_KEYS[section], out, f"the {section} section")
    values: SectionValues = {}
    for key, check in FIELD_CHECKS[section].items():
        if key not in mapping:
            continue
        key_path = join_path(path, key)
        value = check(mapping[key], key_path, out)
        if not isinstance(value, _Invalid):
            values[key] = Sourced(value, key_path)
    return values


def parse_sections(raw: Mapping[Any, Any], path: str, out: Problems) -> dict[str, SectionValues]:
    return {
        name: parse_section(name, raw[name], join_path(path, name), out) for name in SECTIONS if name in raw
    }


def _merge(layers: Sequence[dict[str, SectionValues]]) -> dict[str, SectionValues]:
    merged: dict[str, SectionValues] = {name: {} for name in SECTIONS}
    for layer in layers:
        for name, values in layer.items():
            merged[name].update(values)
    return merged


def _build(cls: Any, values: SectionValues) -> Any:
    return cls(**{key: sourced.value for key, sourced in values.items()})


def _where(values: SectionValues, key: str, fallback: str) -> str:
    sourced = values.get(key)
    return sourced.path if sourced is not None else fallback


def _cross_checks(
    host_path: str,
    merged: dict[str, SectionValues],
    winrm: WinRMConfig,
    acme: AcmeConfig,
    renewal: RenewalConfig,
    out: Problems,
) -> None:
    w = merged["winrm"]
    if winrm.auth == "basic" and winrm.transport == "http":
        out.error(
            _where(w, "auth", f"{host_path}.winrm.auth"),
            "basic authentication over http sends the password in clear text; use transport https",
        )
    if winrm.auth == "certificate":
        if winrm.transport != "https":
            out.error(
                _where(w, "transport", f"{host_path}.winrm.transport"),
                "certificate authentication needs transport https",
            )
        if not winrm.certificate_pem or not winrm.certificate_key_pem:
            out.error(
                f"{host_path}.winrm",
                "certificate authentication needs certificate_pem and certificate_key_pem",
            )
    elif winrm.username is None and winrm.auth in ("basic", "ntlm", "credssp"):
        out.error(f"{host_path}.winrm.username", f"missing: auth {winrm.auth} needs a username")
    if winrm.read_timeout <= winrm.operation_timeout:
        out.error(
            _where(w, "read_timeout", f"{host_path}.winrm.read_timeout"),
            "read_timeout must be greater than operation_timeout "
            f"({_where(w, 'operation_timeout', 'the default')}): a WSMan Receive may wait the whole "
            "operation timeout",
        )
    if not acme.contacts:
        out.error(
            f"{host_path}.acme.contacts",
            f"missing: the CA requires 1 to {MAX_CONTACTS} contact e-mail addresses for emergency contact",
        )
    r = merged["renewal"]
    every = duration_seconds(renewal.repeat_every)
    span = duration_seconds(renewal.repeat_for)
    if every is not None and span is not None and span < every:
        out.error(
            _where(r, "repeat_for", f"{host_path}.renewal.repeat_for"),
            f"repeat_for must not be shorter than repeat_every ({_where(r, 'repeat_every', 'the default')})",
        )
    if renewal.end_boundary is not None:
        end = renewal.end_boundary[:19]
        if end <= f"{renewal.start_date}T{renewal.start}:00":
            out.error(
                _where(r, "end_boundary", f"{host_path}.renewal.end_boundary"),
                "end_boundary is not after the first start (start_date and start)",
            )
        else:
            out.warning(
                _where(r, "end_boundary", f"{host_path}.renewal.end_boundary"),
                "the task stops firing after end_boundary and renewals then silently stop",
            )


def _domains(raw: Any, path: str, plugin: Sourced | None, out: Problems) -> tuple[str, ...] | _Invalid:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        return out.error(path, "must be a non-empty list of FQDNs (the first is the main domain)")
    result: list[str] = []
    seen: dict[str, int] = {}
    failed = False
    plugin_name = plugin.value if plugin is not None else "WebRoot"
    for index, item in enumerate(raw):
        item_path = join_path(path, index)
        text = check_text(item, item_path, out, what="an FQDN")
        if isinstance(text, _Invalid):
            failed = True
            continue
        name, reason = normalize_fqdn(text)
        if name is None:
            out.error(item_path, f"FQDN {reason}")
            failed = True
            continue
        if name.startswith("*.") and plugin_name.lower() == "webroot":
            via = f" (plugin set at {plugin.path})" if plugin is not None else ""
            out.error(
                item_path,
                f"a wildcard cannot be validated with http-01 (the WebRoot plugin{via}); "
                "the manual requires dns-01 with a DNS plugin for wildcards",
            )
            failed = True
            continue
        if name in seen:
            out.error(item_path, f"duplicate domain (same as {join_path(path, seen[name])})")
            failed = True
            continue
        seen[name] = index
        result.append(name)
    if not failed and len(result) > 1:
        out.warning(
            path,
            f"one certificate for {len(result)} FQDNs: if one FQDN stops being used the "
            "certificate is revoked for all of them (the manual's SAN caution); combine only "
            "FQDNs with the same period of use",
        )
    return INVALID if failed else tuple(result)


def _address(raw: Any, path: str, out: Problems) -> str | _Invalid:
    text = check_text(raw, path, out, what="a host name or IP address")
    if isinstance(text, _Invalid):
        return text
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return text
    labels = text.rstrip(".").split(".")
    if not all(re.match(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$", label) for label in labels):
        return out.error(path, "is not a valid host name or IP address")
    return text


def _check_name(name: Any, path: str, kind: str, out: Problems) -> bool:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        out.error(
            path,
            f"{kind} name {name!r} must be letters, digits, '.', '_' or '-' (starting with a "
            "letter or digit)",
        )
        return False
    if name.lower() in RESERVED_TARGETS:
        out.error(path, f"{kind} name {name!r} is reserved (it means every host)")
        return False
    return True


def build_inventory(data: Any, source: str = "") -> Inventory:
    """Check ``data`` (parsed YAML) and build the inventory; problems are in ``Inventory.problems``."""
    out = Problems()
    check_code_points(data, "", out)
    if out.items:  # such text cannot even be printed safely: nothing else is checked
        return Inventory(hosts={}, groups={}, source=source, problems=tuple(out.items))
    root = _mapping(data, "", out, "with defaults, groups and hosts") if data is not None else None
    if data is None:
        out.error("", "the inventory is empty: it needs at least a 'hosts' mapping")
    if root is None:
        return Inventory(hosts={}, groups={}, source=source, problems=tuple(out.items))
    check_keys(root, "", TOP_KEYS, out, "the inventory (top level)")

    defaults_raw = _mapping(root.get("defaults"), "defaults", out, "winrm/acme/renewal/iis sections")
    defaults: dict[str, SectionValues] = {}
    if defaults_raw is not None:
        check_keys(defaults_raw, "defaults", SECTIONS, out, "defaults")
        defaults = parse_sections(defaults_raw, "defaults", out)

    hosts_raw = _mapping(root.get("hosts"), "hosts", out, "host name → settings")
    if hosts_raw is not None and not hosts_raw:
        out.error("hosts", "no hosts defined")
    hosts_raw = hosts_raw or {}
    host_names = [str(name) for name in hosts_raw]

    groups: dict[str, tuple[str, ...]] = {}
    group_layers: dict[str, dict[str, SectionValues]] = {}
    groups_raw = _mapping(root.get("groups"), "groups", out, "group name → {hosts, vars}") or {}
    for group_name, group_raw in groups_raw.items():
        gpath = join_path("groups", str(group_name))
        if not _check_name(group_name, gpath, "group", out):
            continue
        if group_name in hosts_raw:
            out.error(gpath, f"group {group_name!r} has the same name as a host; targets would be ambiguous")
        group = _mapping(group_raw, gpath, out, "hosts and vars")
        if group is None:
            continue
        check_keys(group, gpath, GROUP_KEYS, out, f"group {group_name!r}")
        members_raw = group.get("hosts", [])
        members: list[str] = []
        listed: set[str] = set()  # members as a set: linear in the group's size
        if not isinstance(members_raw, list):
            out.error(
                join_path(gpath, "hosts"), f"must be a list of host names, not {_describe(members_raw)}"
            )
            members_raw = []
        for index, member in enumerate(members_raw):
            mpath = join_path(join_path(gpath, "hosts"), index)
            if not isinstance(member, str) or member not in hosts_raw:
                out.error(mpath, f"not a host of this inventory{_suggest(str(member), host_names)}")
            elif member in listed:
                out.warning(mpath, "the host is listed twice")
            else:
                members.append(member)
                listed.add(member)
        vars_raw = _mapping(
            group.get("vars"), join_path(gpath, "vars"), out, "winrm/acme/renewal/iis sections"
        )
        if vars_raw is not None:
            check_keys(vars_raw, join_path(gpath, "vars"), SECTIONS, out, f"vars of group {group_name!r}")
            group_layers[group_name] = parse_sections(vars_raw, join_path(gpath, "vars"), out)
        groups[group_name] = tuple(members)

    groups_of: dict[str, list[str]] = {}  # host -> its groups in file order (one pass, not one per host)
    for group_name, group_members in groups.items():
        for member in group_members:
            groups_of.setdefault(member, []).append(group_name)
    hosts: dict[str, HostConfig] = {}
    for host_name, host_raw in hosts_raw.items():
        hpath = join_path("hosts", str(host_name))
        if not _check_name(host_name, hpath, "host", out):
            continue
        host_map = _mapping(host_raw, hpath, out, "address, domains, webroot and sections")
        if host_map is None:
            continue
        before = out.error_count
        check_keys(host_map, hpath, HOST_KEYS, out, f"host {host_name!r}")
        member_of = tuple(groups_of.get(host_name, ()))
        layers = [
            defaults,
            *(group_layers.get(g, {}) for g in member_of),
            parse_sections(host_map, hpath, out),
        ]
        merged = _merge(layers)

        address = _address(host_map.get("address", host_name), join_path(hpath, "address"), out)
        if "domains" not in host_map:
            out.error(
                join_path(hpath, "domains"), "missing: the FQDNs of the certificate (first = main domain)"
            )
            domains: tuple[str, ...] | _Invalid = INVALID
        else:
            domains = _domains(
                host_map["domains"], join_path(hpath, "domains"), merged["acme"].get("plugin"), out
            )
        if "webroot" not in host_map:
            out.error(join_path(hpath, "webroot"), "missing: the IIS site's root folder (WebRoot WRPath)")
            webroot: str | _Invalid = INVALID
        else:
            webroot = check_windows_path(host_map["webroot"], join_path(hpath, "webroot"), out)

        winrm: WinRMConfig = _build(WinRMConfig, merged["winrm"])
        acme: AcmeConfig = _build(AcmeConfig, merged["acme"])
        renewal: RenewalConfig = _build(RenewalConfig, merged["renewal"])
        iis: IISConfig = _build(IISConfig, merged["iis"])
        _cross_checks(hpath, merged, winrm, acme, renewal, out)
        after = out.error_count
        if isinstance(address, _Invalid) or isinstance(domains, _Invalid) or isinstance(webroot, _Invalid):
            continue
        if after > before:
            continue  # errors about this host: leave it out rather than run with a guess
        hosts[host_name] = HostConfig(
            name=host_name,
            address=address,
            domains=domains,
            webroot=webroot,
            iis=iis,
            winrm=winrm,
            acme=acme,
            renewal=renewal,
            groups=member_of,
        )

    return Inventory(hosts=hosts, groups=groups, source=source, problems=tuple(out.items))

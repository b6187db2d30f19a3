"""Inventory validation: every rule has a failing case, asserted by key path and message."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from poshbridge.inventory.load import inventory_from_text
from poshbridge.inventory.model import Inventory, Problem

BASE: dict[str, Any] = {
    "defaults": {
        "winrm": {
            "transport": "https",
            "port": 5986,
            "auth": "negotiate",
            "username": "CONTOSO\\certadmin",
            "password": {"env": "POSHBRIDGE_WINRM_PASSWORD"},
            "verify": True,
        },
        "acme": {
            "directory": "https://acme.amecert.jprs.jp/DV/getDirectory",
            "eab_kid": {"env": "JPRS_EAB_KID"},
            "eab_hmac": {"env": "JPRS_EAB_HMAC"},
            "contacts": ["admin@example.jp"],
        },
        "renewal": {
            "script_path": "C:\\poshbridge\\renew.ps1",
            "log_dir": "C:\\poshbridge\\logs",
            "start": "03:17",
            "random_delay": "PT1H",
            "repeat_every": "PT1H",
            "repeat_for": "P1D",
            "time_limit": "P3D",
            "wait_after_renewal": 600,
            "task_name": "poshbridge renew",
        },
        "iis": {"site": "Default Web Site", "port": 443},
    },
    "groups": {"web": {"hosts": ["host01"], "vars": {}}},
    "hosts": {
        "host01": {
            "address": "web01.example.jp",
            "domains": ["example.jp"],
            "webroot": "C:\\inetpub\\wwwroot",
            "iis": {"site": "example.jp", "port": 443},
        },
        "host02": {"address": "192.0.2.2", "domains": ["shop.example.jp"], "webroot": "D:\\shop"},
    },
}


def build(mutate: Callable[[dict[str, Any]], None] | None = None) -> Inventory:
    data = copy.deepcopy(BASE)
    if mutate:
        mutate(data)
    return inventory_from_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), source="test.yaml")


def host(data: dict[str, Any], name: str = "host01") -> dict[str, Any]:
    result: dict[str, Any] = data["hosts"][name]
    return result


def section(data: dict[str, Any], name: str, where: str = "defaults") -> dict[str, Any]:
    if where == "defaults":
        result: dict[str, Any] = data["defaults"].setdefault(name, {})
    else:
        result = data["hosts"][where].setdefault(name, {})
    return result


def find(inv: Inventory, path: str) -> list[Problem]:
    return [p for p in inv.problems if p.path == path]


def test_base_inventory_is_clean() -> None:
    inv = build()
    assert inv.problems == ()
    assert list(inv.hosts) == ["host01", "host02"]
    h = inv.hosts["host01"]
    assert h.domains == ("example.jp",)
    assert h.iis.site == "example.jp"
    assert h.groups == ("web",)
    assert h.winrm.password is not None and h.winrm.password.describe() == "env:POSHBRIDGE_WINRM_PASSWORD"


def test_merge_order_defaults_group_host() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["groups"]["web"]["vars"] = {"renewal": {"start": "04:00", "log_dir": "C:\\group\\logs"}}
        section(d, "renewal", "host01")["start"] = "05:30"

    inv = build(mutate)
    assert inv.problems == ()
    h1, h2 = inv.hosts["host01"], inv.hosts["host02"]
    assert h1.renewal.start == "05:30"  # host beats group
    assert h1.renewal.log_dir == "C:\\group\\logs"  # group beats defaults
    assert h1.renewal.task_name == "poshbridge renew"  # defaults
    assert h2.renewal.start == "03:17"  # not in the group


def test_later_group_overrides_earlier_group() -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["groups"]["web"]["vars"] = {"iis": {"port": 8443}}
        d["groups"]["late"] = {"hosts": ["host01"], "vars": {"iis": {"port": 9443}}}
        del host(d)["iis"]["port"]

    assert build(mutate).hosts["host01"].iis.port == 9443


def test_idn_domain_is_stored_as_punycode() -> None:
    inv = build(lambda d: host(d).update(domains=["例え.jp", "WWW.Example.JP."]))
    assert inv.hosts["host01"].domains == ("xn--r8jz45g.jp", "www.example.jp")


def test_all_problems_reported_at_once() -> None:
    def mutate(d: dict[str, Any]) -> None:
        host(d)["domains"] = ["exa mple.jp"]
        host(d, "host02")["iis"] = {"port": 70000}
        section(d, "renewal")["repeat_every"] = "PT30S"

    paths = {p.path for p in build(mutate).errors}
    assert {"hosts.host01.domains[0]", "hosts.host02.iis.port", "defaults.renewal.repeat_every"} <= paths


def test_hosts_with_errors_are_left_out_but_others_kept() -> None:
    inv = build(lambda d: host(d).update(domains=["bad..name"]))
    assert "host01" not in inv.hosts
    assert "host02" in inv.hosts


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        node: Any = d
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
        node[path[-1]] = value

    return mutate


def _delete(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        node: Any = d
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


H = ["hosts", "host01"]
DW = ["defaults", "winrm"]
DA = ["defaults", "acme"]
DR = ["defaults", "renewal"]

# (mutation, key path, message fragment, severity)
CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str, str]] = [
    # unknown keys (typos) with a suggestion
    ("unknown top key", _set(["hostz"], {}), "hostz", "did you mean 'hosts'?", "error"),
    (
        "unknown host key",
        _set([*H, "domain"], ["a.example.jp"]),
        "hosts.host01.domain",
        "did you mean 'domains'?",
        "error",
    ),
    (
        "unknown section key",
        _set([*DR, "scritp_path"], "C:\\x.ps1"),
        "defaults.renewal.scritp_path",
        "did you mean 'script_path'?",
        "error",
    ),
    ("unknown defaults key", _set(["defaults", "iiss"], {}), "defaults.iiss", "did you mean 'iis'?", "error"),
    (
        "unknown group key",
        _set(["groups", "web", "host"], []),
        "groups.web.host",
        "did you mean 'hosts'?",
        "error",
    ),
    (
        "unknown group vars key",
        _set(["groups", "web", "vars", "acme", "contact"], ["a@example.jp"]),
        "groups.web.vars.acme.contact",
        "did you mean 'contacts'?",
        "error",
    ),
    # domains
    (
        "wildcard with WebRoot",
        _set([*H, "domains"], ["*.example.jp"]),
        "hosts.host01.domains[0]",
        "requires dns-01",
        "error",
    ),
    (
        "bad fqdn",
        _set([*H, "domains"], ["example.jp", "exa_mple.jp"]),
        "hosts.host01.domains[1]",
        "label 1 is not a valid (internationalized) label",
        "error",
    ),
    (
        "single label",
        _set([*H, "domains"], ["localhost"]),
        "hosts.host01.domains[0]",
        "at least two labels",
        "error",
    ),
    (
        "ip as domain",
        _set([*H, "domains"], ["192.0.2.1"]),
        "hosts.host01.domains[0]",
        "is an IP address",
        "error",
    ),
    (
        "label too long",
        _set([*H, "domains"], ["a" * 64 + ".jp"]),
        "hosts.host01.domains[0]",
        "not a valid",
        "error",
    ),
    (
        "wildcard in the middle",
        _set([*H, "domains"], ["www.*.example.jp"]),
        "hosts.host01.domains[0]",
        "leftmost label",
        "error",
    ),
    (
        "duplicate domain",
        _set([*H, "domains"], ["example.jp", "EXAMPLE.jp"]),
        "hosts.host01.domains[1]",
        "duplicate domain (same as hosts.host01.domains[0])",
        "error",
    ),
    ("no domains", _set([*H, "domains"], []), "hosts.host01.domains", "non-empty list", "error"),
    ("missing domains", _delete([*H, "domains"]), "hosts.host01.domains", "missing", "error"),
    (
        "SAN caution",
        _set([*H, "domains"], ["example.jp", "www.example.jp"]),
        "hosts.host01.domains",
        "revoked for all of them",
        "warning",
    ),
    # contacts
    ("no contacts", _set([*DA, "contacts"], []), "defaults.acme.contacts", "1 to 6", "error"),
    (
        "seven contacts",
        _set([*DA, "contacts"], [f"a{i}@example.jp" for i in range(7)]),
        "defaults.acme.contacts",
        "1 to 6 contact addresses (got 7)",
        "error",
    ),
    ("missing contacts", _delete([*DA, "contacts"]), "hosts.host01.acme.contacts", "missing", "error"),
    (
        "duplicate contact",
        _set([*DA, "contacts"], ["a@example.jp", "A@example.jp"]),
        "defaults.acme.contacts[1]",
        "duplicate contact",
        "error",
    ),
    (
        "bad email",
        _set([*DA, "contacts"], ["admin.example.jp"]),
        "defaults.acme.contacts[0]",
        "not a valid e-mail address",
        "error",
    ),
    (
        "bad email domain",
        _set([*DA, "contacts"], ["admin@example"]),
        "defaults.acme.contacts[0]",
        "the domain must be a fully qualified",
        "error",
    ),
    # ports
    ("iis port 0", _set([*H, "iis", "port"], 0), "hosts.host01.iis.port", "1..65535", "error"),
    ("winrm port too big", _set([*DW, "port"], 65536), "defaults.winrm.port", "1..65535", "error"),
    (
        "port as string",
        _set([*H, "iis", "port"], "443"),
        "hosts.host01.iis.port",
        "must be a port number",
        "error",
    ),
    ("port as bool", _set([*H, "iis", "port"], True), "hosts.host01.iis.port", "boolean", "error"),
    # durations
    (
        "random_delay not ISO",
        _set([*DR, "random_delay"], "1 hour"),
        "defaults.renewal.random_delay",
        "ISO 8601 duration",
        "error",
    ),
    (
        "repeat_every below PT1M",
        _set([*DR, "repeat_every"], "PT30S"),
        "defaults.renewal.repeat_every",
        "at least PT1M",
        "error",
    ),
    (
        "repeat_every above P31D",
        _set([*DR, "repeat_every"], "P32D"),
        "defaults.renewal.repeat_every",
        "at most P31D",
        "error",
    ),
    (
        "repeat_for not ISO",
        _set([*DR, "repeat_for"], "P1DT"),
        "defaults.renewal.repeat_for",
        "ISO 8601",
        "error",
    ),
    (
        "repeat_for shorter than interval",
        _set([*DR, "repeat_for"], "PT30M"),
        "defaults.renewal.repeat_for",
        "must not be shorter than repeat_every",
        "error",
    ),
    ("time_limit weeks", _set([*DR, "time_limit"], "P1W"), "defaults.renewal.time_limit", "weeks", "error"),
    ("time_limit months", _set([*DR, "time_limit"], "P1M"), "defaults.renewal.time_limit", "months", "error"),
    (
        "time_limit number",
        _set([*DR, "time_limit"], 3600),
        "defaults.renewal.time_limit",
        "such as PT1H or P1D, not a number",
        "error",
    ),
    # start time and dates
    ("start 24:00", _set([*DR, "start"], "24:00"), "defaults.renewal.start", "HH:MM", "error"),
    ("start seconds", _set([*DR, "start"], "03:17:00"), "defaults.renewal.start", "HH:MM", "error"),
    (
        "start_date invalid",
        _set([*DR, "start_date"], "2024-02-30"),
        "defaults.renewal.start_date",
        "YYYY-MM-DD",
        "error",
    ),
    (
        "end_boundary format",
        _set([*DR, "end_boundary"], "2030/01/31 17:17:58"),
        "defaults.renewal.end_boundary",
        "YYYY-MM-DDTHH:MM:SS",
        "error",
    ),
    (
        "end_boundary before start",
        _set([*DR, "end_boundary"], "2023-01-01T00:00:00"),
        "defaults.renewal.end_boundary",
        "is not after the first start",
        "error",
    ),
    (
        "end_boundary expiry warning",
        _set([*DR, "end_boundary"], "2030-01-01T00:00:00"),
        "defaults.renewal.end_boundary",
        "silently stop",
        "warning",
    ),
    # auth, transport, verify
    (
        "auth value",
        _set([*DW, "auth"], "kerberoz"),
        "defaults.winrm.auth",
        "did you mean 'kerberos'?",
        "error",
    ),
    (
        "transport value",
        _set([*DW, "transport"], "ssh"),
        "defaults.winrm.transport",
        "one of http, https",
        "error",
    ),
    (
        "basic over http",
        lambda d: d["defaults"]["winrm"].update(auth="basic", transport="http"),
        "defaults.winrm.auth",
        "clear text",
        "error",
    ),
    (
        "certificate over http",
        lambda d: d["defaults"]["winrm"].update(
            auth="certificate", transport="http", certificate_pem="c.pem", certificate_key_pem="k.pem"
        ),
        "defaults.winrm.transport",
        "needs transport https",
        "error",
    ),
    (
        "certificate without pem",
        _set([*DW, "auth"], "certificate"),
        "hosts.host01.winrm",
        "needs certificate_pem",
        "error",
    ),
    (
        "ntlm without username",
        lambda d: d["defaults"]["winrm"].update(auth="ntlm", username=None),
        "hosts.host01.winrm.username",
        "needs a username",
        "error",
    ),
    ("verify number", _set([*DW, "verify"], 1), "defaults.winrm.verify", "CA bundle path", "error"),
    ("verify off", _set([*DW, "verify"], False), "defaults.winrm.verify", "verification", "warning"),
    (
        "read_timeout not above operation_timeout",
        _set([*DW, "read_timeout"], 20),
        "defaults.winrm.read_timeout",
        "greater than operation_timeout",
        "error",
    ),
    # secrets
    (
        "literal secret",
        _set([*DW, "password"], "hunter2"),
        "defaults.winrm.password",
        "literal secret",
        "warning",
    ),
    (
        "secret ref typo",
        _set([*DA, "eab_hmac"], {"envv": "X"}),
        "defaults.acme.eab_hmac",
        "{env: NAME} or {file: PATH}",
        "error",
    ),
    (
        "secret env name",
        _set([*DA, "eab_kid"], {"env": "1BAD"}),
        "defaults.acme.eab_kid.env",
        "environment variable name",
        "error",
    ),
    # hosts and groups
    (
        "unknown host in group",
        _set(["groups", "web", "hosts"], ["host01", "hots02"]),
        "groups.web.hosts[1]",
        "not a host of this inventory; did you mean 'host02'?",
        "error",
    ),
    (
        "group named like a host",
        _set(["groups", "host02"], {"hosts": []}),
        "groups.host02",
        "same name as a host",
        "error",
    ),
    ("reserved group name", _set(["groups", "all"], {"hosts": []}), "groups.all", "reserved", "error"),
    (
        "bad host name",
        _set(["hosts", "bad name"], {"domains": ["x.example.jp"], "webroot": "C:\\x"}),
        "hosts.bad name",
        "letters, digits",
        "error",
    ),
    ("no hosts", _set(["hosts"], {}), "hosts", "no hosts", "error"),
    ("host not a mapping", _set([*H], "web01"), "hosts.host01", "must be a mapping", "error"),
    ("bad address", _set([*H, "address"], "web 01"), "hosts.host01.address", "host name or IP", "error"),
    # paths and names (control characters, Windows rules)
    (
        "newline in site",
        _set([*H, "iis", "site"], "example.jp\nStop-Computer"),
        "hosts.host01.iis.site",
        "control character (U+000A)",
        "error",
    ),
    ("NUL in webroot", _set([*H, "webroot"], "C:\\inetpub\0"), "hosts.host01.webroot", "U+0000", "error"),
    (
        "relative webroot",
        _set([*H, "webroot"], "inetpub\\wwwroot"),
        "hosts.host01.webroot",
        "absolute Windows path",
        "error",
    ),
    (
        "quote in log_dir",
        _set([*DR, "log_dir"], 'C:\\logs"x'),
        "defaults.renewal.log_dir",
        "does not allow in a path",
        "error",
    ),
    (
        "script not ps1",
        _set([*DR, "script_path"], "C:\\renew.txt"),
        "defaults.renewal.script_path",
        ".ps1",
        "error",
    ),
    (
        "task name backslash",
        _set([*DR, "task_name"], "a\\b"),
        "defaults.renewal.task_name",
        "not allowed",
        "error",
    ),
    (
        "task path form",
        _set([*DR, "task_path"], "poshbridge"),
        "defaults.renewal.task_path",
        "backslash",
        "error",
    ),
    ("empty site", _set([*H, "iis", "site"], ""), "hosts.host01.iis.site", "not empty", "error"),
    (
        "ip_address",
        _set([*H, "iis", "ip_address"], "10.0.0.300"),
        "hosts.host01.iis.ip_address",
        "IP address",
        "error",
    ),
    (
        "host_header",
        _set([*H, "iis", "host_header"], "bad host"),
        "hosts.host01.iis.host_header",
        "host header",
        "error",
    ),
    (
        "require_sni not bool",
        _set([*H, "iis", "require_sni"], "yes please"),
        "hosts.host01.iis.require_sni",
        "true or false",
        "error",
    ),
    # acme
    (
        "directory not url",
        _set([*DA, "directory"], "acme.example.jp"),
        "defaults.acme.directory",
        "http(s) URL",
        "error",
    ),
    (
        "key length",
        _set([*DA, "cert_key_length"], 1024),
        "defaults.acme.cert_key_length",
        "2048..4096",
        "error",
    ),
    (
        "wait below OCSP lag",
        _set([*DR, "wait_after_renewal"], 60),
        "defaults.renewal.wait_after_renewal",
        "600 s",
        "warning",
    ),
    (
        "wait negative",
        _set([*DR, "wait_after_renewal"], -1),
        "defaults.renewal.wait_after_renewal",
        "range",
        "error",
    ),
    (
        "retention zero",
        _set([*DR, "log_retention_days"], 0),
        "defaults.renewal.log_retention_days",
        "range",
        "error",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "fragment", "severity"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule(mutate: Callable[[dict[str, Any]], None], path: str, fragment: str, severity: str) -> None:
    inv = build(mutate)
    found = find(inv, path)
    assert found, f"no problem at {path}; got {[str(p) for p in inv.problems]}"
    assert any(fragment in p.message and p.severity == severity for p in found), [str(p) for p in found]


def test_wildcard_allowed_with_dns_plugin() -> None:
    def mutate(d: dict[str, Any]) -> None:
        host(d)["domains"] = ["*.example.jp", "example.jp"]
        host(d)["acme"] = {"plugin": "Route53"}

    inv = build(mutate)
    assert inv.errors == ()
    assert inv.hosts["host01"].order_name == "!.example.jp"


def test_wildcard_message_names_where_the_plugin_came_from() -> None:
    def mutate(d: dict[str, Any]) -> None:
        host(d)["domains"] = ["*.example.jp"]
        d["groups"]["web"]["vars"] = {"acme": {"plugin": "WebRoot"}}

    (problem,) = find(build(mutate), "hosts.host01.domains[0]")
    assert "groups.web.vars.acme.plugin" in problem.message


def test_bad_default_fails_every_host_but_is_reported_once() -> None:
    inv = build(lambda d: d["defaults"]["winrm"].update(auth="basic", transport="http"))
    assert [p.path for p in inv.errors] == ["defaults.winrm.auth"]
    assert inv.hosts == {}


def test_unquoted_start_time_is_not_a_base_60_number() -> None:
    # Plain YAML 1.1 reads `3:17` as 197 (sexagesimal); the inventory loader keeps it as text.
    text = yaml.safe_dump(BASE, sort_keys=False)
    assert "    start: 03:17\n" in text
    inv = inventory_from_text(text.replace("    start: 03:17\n", "    start: 3:17\n"))
    assert inv.errors == (), [str(p) for p in inv.problems]
    assert inv.hosts["host01"].renewal.start == "03:17"


def test_unquoted_start_date_stays_a_string() -> None:
    text = yaml.safe_dump(BASE, sort_keys=False)
    text = text.replace("    start: 03:17\n", "    start: 03:17\n    start_date: 2025-02-01\n")
    assert "start_date: 2025-02-01" in text
    inv = inventory_from_text(text)
    assert inv.errors == (), [str(p) for p in inv.problems]
    assert inv.hosts["host01"].renewal.start_date == "2025-02-01"


def test_problem_str_has_severity_path_and_message() -> None:
    (problem,) = find(build(_set([*H, "iis", "port"], 0)), "hosts.host01.iis.port")
    assert str(problem).startswith("error: hosts.host01.iis.port: must be in the range 1..65535")


@pytest.mark.parametrize(
    "value",
    [{"env": "pasted-Secret-Value-123"}, ["pasted-Secret-Value-123"], 1234567.891],
    ids=["env value that is a password", "list", "number"],
)
def test_a_malformed_secret_reference_is_reported_without_its_value(value: Any) -> None:
    inv = build(_set([*DA, "eab_hmac"], value))
    problems = [p for p in inv.problems if p.path.startswith("defaults.acme.eab_hmac")]
    assert problems and all(p.severity == "error" for p in problems)
    for problem in problems:
        assert "pasted-Secret-Value-123" not in str(problem)
        assert "1234567" not in str(problem)

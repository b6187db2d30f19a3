"""``-i`` with an Ansible inventory: INI, YAML and ``ansible-inventory --list`` JSON read to the same hosts
as the native file; detection; Ansible's variable precedence; group_vars/ and host_vars/; host ranges;
vault values refused with a located hint; problems at the place a variable is written, never a value."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from poshbridge import api
from poshbridge.inventory.ansible_formats import MAX_HOSTS, expand_pattern
from poshbridge.inventory.load import inventory_from_text, read_inventory
from poshbridge.inventory.model import Inventory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ansiblekit import forms

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Sup3r-Secret-Pa55"

COMMON = """
[all:vars]
poshbridge_acme_contacts=['admin@example.jp']
poshbridge_webroot='C:\\\\inetpub\\\\wwwroot'
poshbridge_domains=['example.jp']
"""


def texts(inventory: Inventory) -> list[str]:
    return [str(p) for p in inventory.problems]


def ini(body: str, source: str = "fleet.ini") -> Inventory:
    return inventory_from_text(COMMON + body, source)


# ----- the same fleet in every form ---------------------------------------------------------------------


def test_the_example_fleet_reads_the_same_in_ini_yaml_and_json() -> None:
    text = (ROOT / "examples" / "inventory.yaml").read_text("utf-8")
    native = inventory_from_text(text, "inventory.yaml")
    assert not native.errors
    for kind, written in forms(yaml.safe_load(text)).items():
        inventory = inventory_from_text(written, f"fleet.{kind}")
        assert not inventory.errors, (kind, texts(inventory))
        assert inventory.hosts == native.hosts, kind
        assert inventory.groups == native.groups, kind


def test_ansible_inventory_list_export_form_with_group_vars() -> None:
    listing = {
        "_meta": {"hostvars": {"h1": {"poshbridge_iis_site": "own"}, "h2": {}}},
        "all": {"children": ["ungrouped", "web"], "vars": {"poshbridge_webroot": "C:\\w"}},
        "web": {
            "hosts": ["h1", "h2"],
            "vars": {"poshbridge_domains": ["example.jp"], "poshbridge_iis_site": "web"},
        },
        "ungrouped": {"hosts": []},
    }
    listing["all"]["vars"]["poshbridge_contact"] = "a@example.jp"  # type: ignore[index]
    inventory = inventory_from_text(json.dumps(listing), "list.json")
    assert not inventory.errors, texts(inventory)
    assert [(h.name, h.iis.site) for h in inventory.hosts.values()] == [("h1", "own"), ("h2", "web")]
    assert inventory.groups == {"web": ("h1", "h2")}


# ----- detection ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "source", "ansible"),
    [
        ("hosts: {}\n", "x.yaml", False),  # native keys
        ("defaults: {}\nhosts: {}\n", "x.yaml", False),
        ("all:\n  hosts:\n    h1:\n", "x.yaml", True),  # all:
        ("web:\n  hosts:\n    h1:\n", "x.yaml", True),  # groups of hosts/children/vars
        ("# c\n\n[web]\nh1\n", "x", True),  # an INI section first
        ("h1 ansible_port=5986\n[web]\nh2\n", "x", True),  # ungrouped hosts, then a section
        ("h1\n", "fleet.ini", True),  # the .ini suffix
        ('{"_meta": {"hostvars": {}}, "all": {}}', "x.json", True),  # ansible-inventory --list
        ('{"hosts": {}}', "x.json", False),
    ],
)
def test_detection(text: str, source: str, ansible: bool) -> None:
    problems = " ".join(texts(inventory_from_text(text, source)))
    native_marks = "hosts: no hosts defined" in problems or "hosts: must be" in problems
    assert native_marks is not ansible, problems


# ----- precedence ---------------------------------------------------------------------------------------


def test_precedence_all_parent_child_host() -> None:
    inventory = ini(
        """
[all:vars]
poshbridge_iis_site=all
poshbridge_renewal_start='01:00'
poshbridge_renewal_task_name=all
[web]
w1
w2 poshbridge_iis_site=host
[web:vars]
poshbridge_iis_site=web
poshbridge_renewal_start='02:00'
[tokyo]
w2
[tokyo:vars]
poshbridge_iis_site=tokyo
poshbridge_renewal_start='04:00'
[jp:children]
tokyo
[jp:vars]
poshbridge_renewal_start='03:00'
poshbridge_renewal_task_name=jp
"""
    )
    assert not inventory.errors, texts(inventory)
    w1, w2 = inventory.hosts["w1"], inventory.hosts["w2"]
    assert (w1.iis.site, w1.renewal.start, w1.renewal.task_name) == ("web", "02:00", "all")
    # w2: all < jp (depth 1) < web (depth 1, after jp by name) < tokyo (depth 2, child of jp) < host
    assert (w2.iis.site, w2.renewal.start, w2.renewal.task_name) == ("host", "04:00", "jp")
    assert inventory.groups == {"web": ("w1", "w2"), "tokyo": ("w2",), "jp": ("w2",)}
    assert [h.name for h in api.select_hosts(inventory, ["jp"])] == ["w2"]


def test_group_priority_orders_groups_of_the_same_depth() -> None:
    inventory = ini(
        """
[a]
h1
[a:vars]
poshbridge_iis_site=a
ansible_group_priority=10
[b]
h1
[b:vars]
poshbridge_iis_site=b
"""
    )
    assert inventory.hosts["h1"].iis.site == "a"


def test_group_vars_and_host_vars_folders(tmp_path: Path) -> None:
    (tmp_path / "fleet.ini").write_text(
        COMMON + "[all:vars]\nposhbridge_iis_site=file-all\n[web]\nh1 poshbridge_iis_port=8443\nh2\n"
        "[web:vars]\nposhbridge_renewal_start='02:00'\n",
        "utf-8",
    )
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("poshbridge_iis_site: gv-all\n", "utf-8")
    (tmp_path / "group_vars" / "web").mkdir()
    (tmp_path / "group_vars" / "web" / "10.yaml").write_text("poshbridge_renewal_start: '05:00'\n", "utf-8")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "h1.json").write_text('{"poshbridge_iis_port": 9443}', "utf-8")
    inventory = read_inventory(tmp_path / "fleet.ini")
    assert not inventory.errors, texts(inventory)
    h1, h2 = inventory.hosts["h1"], inventory.hosts["h2"]
    assert (h1.iis.site, h1.renewal.start, h1.iis.port) == ("gv-all", "05:00", 9443)
    assert (h2.iis.site, h2.iis.port) == ("gv-all", 443)
    assert api.inventory_base_dir(inventory) == tmp_path.resolve()
    (tmp_path / "group_vars" / "web" / "10.yaml").write_text("poshbridge_iis_port: 0\n", "utf-8")
    assert texts(read_inventory(tmp_path / "fleet.ini"))[0] == (
        "error: group_vars/web/10.yaml: poshbridge_iis_port: must be in the range 1..65535"
    )


# ----- host patterns ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("web[01:03].example.jp", (["web01.example.jp", "web02.example.jp", "web03.example.jp"], None)),
        ("db-[a:c]", (["db-a", "db-b", "db-c"], None)),
        ("n[1:7:3]", (["n1", "n4", "n7"], None)),
        ("r[1:2]-[a:b]", (["r1-a", "r1-b", "r2-a", "r2-b"], None)),
        ("h1:5986", (["h1"], 5986)),
        ("h1", (["h1"], None)),
    ],
)
def test_host_patterns(pattern: str, expected: tuple[list[str], int | None]) -> None:
    assert expand_pattern(pattern) == expected


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("h[1:0]", "ends before it begins"),
        ("h[01:100]", "same length"),
        (f"h[0:{MAX_HOSTS}]", "more than"),
        ("h[0:999][0:999]", "more than"),
        ("h[1:2:0]", "step"),
        ("h:", "cannot end in ':'"),
    ],
)
def test_bad_host_patterns(pattern: str, reason: str) -> None:
    result = expand_pattern(pattern)
    assert isinstance(result, str) and reason in result


def test_host_port_sets_ansible_port() -> None:
    inventory = ini("[web]\nh1:15986\n")
    assert inventory.hosts["h1"].winrm.port == 15986


# ----- problems -----------------------------------------------------------------------------------------


def test_a_bad_group_variable_is_reported_once_at_the_group() -> None:
    inventory = ini("[web]\nh1\nh2\n[web:vars]\nposhbridge_iis_port=eighty\n")
    assert texts(inventory) == [
        "error: group web: poshbridge_iis_port: must be a port number (1..65535), not a text"
    ]


def test_ini_syntax_problems_give_the_line_never_the_text() -> None:
    inventory = ini(
        f"[web]\nh1 ansible_password='{PASSWORD}\n[web:oops]\n[db:vars]\nx=1\n[a:children]\nbad name here\n"
    )
    found = texts(inventory)
    assert found == [
        "error: : a host line cannot be read (line 7): unclosed quotation",
        "error: : section of unknown type (line 8): use [group], [group:vars] or [group:children]",
        "error: : expected a group name in [a:children] (line 12)",
        "error: : section [db:vars] is for a group that is never declared (line 9)",
    ]
    assert PASSWORD not in " ".join(found)


def test_a_literal_password_in_the_file_warns_and_is_never_shown() -> None:
    inventory = ini(
        f"[web]\nh1 ansible_user=u ansible_password='{PASSWORD}' ansible_port=70000\n"
        f"h2 ansible_password={PASSWORD}\n"
    )
    found = texts(inventory)
    assert "error: h1: ansible_port: must be in the range 1..65535" in found
    assert any(
        t.startswith("warning: h2: ansible_password: literal secret in the inventory file") for t in found
    )
    assert PASSWORD not in " ".join(found) + repr(inventory)


def test_vault_values_get_a_located_hint(tmp_path: Path) -> None:
    vaulted = (
        "all:\n  hosts:\n    h1:\n      ansible_password: !vault |\n"
        "        $ANSIBLE_VAULT;1.1;AES256\n        6162\n"
    )
    found = texts(inventory_from_text(vaulted, "x.yaml"))
    assert len(found) == 1 and found[0].startswith(
        "error: all.hosts.h1.ansible_password: an encrypted value (!vault, line 4)"
    )
    assert "ansible-inventory --list" in found[0]
    listing = {
        "_meta": {
            "hostvars": {"h1": {"ansible_password": {"__ansible_vault": "$ANSIBLE_VAULT;1.1;AES256\n6162"}}}
        }
    }
    found = texts(inventory_from_text(json.dumps(listing), "x.json"))
    assert found[0].startswith(
        "error: h1: ansible_password: an encrypted value: Ansible vault values cannot be read"
    )
    assert texts(inventory_from_text("$ANSIBLE_VAULT;1.1;AES256\n6162\n", "x"))[0].startswith(
        "error: : the file is vault-encrypted"
    )
    (tmp_path / "inv.ini").write_text(COMMON + "[web]\nh1\n", "utf-8")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "web.yml").write_text(
        "secret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n", "utf-8"
    )
    found = texts(read_inventory(tmp_path / "inv.ini"))
    assert found[0].startswith("error: group_vars/web.yml: secret: an encrypted value (!vault, line 1)")


def test_duplicate_keys_and_tags_in_ansible_yaml() -> None:
    found = texts(inventory_from_text("all:\n  hosts:\n    h1:\n    h1:\n", "x.yaml"))
    assert (
        found[0] == "error: all.hosts.h1: duplicate key (line 4); YAML would silently keep only the last one"
    )
    found = texts(inventory_from_text("all:\n  vars:\n    x: !!binary aGk=\n", "x.yaml"))
    assert found[0].startswith("error: all.vars.x: explicit YAML tag (line 3)")


def test_yaml_structure_problems_are_located() -> None:
    found = texts(inventory_from_text("all:\n  hosts: [h1]\n  children:\n    web: {hostz: {}}\n", "x.yaml"))
    assert found == [
        "error: all.hosts: must be a mapping (host name -> variables)",
        "error: all.children.web.hostz: unknown key in a group: use hosts, children or vars",
    ]


def test_a_loop_of_children_is_an_error() -> None:
    listing = {"_meta": {"hostvars": {}}, "a": {"children": ["b"]}, "b": {"children": ["a"], "hosts": ["h1"]}}
    assert texts(inventory_from_text(json.dumps(listing), "x.json")) == [
        "error: group a: the groups' children form a loop (a group is its own ancestor)"
    ]


def test_yaml_aliases_do_not_loop() -> None:
    text = "all:\n  children:\n    web: &w\n      hosts: {h1: }\n      children:\n        sub: *w\n"
    assert texts(
        inventory_from_text(text, "x.yaml")
    ) == [  # the alias makes sub its own child: reported, ended
        "error: group sub: the groups' children form a loop (a group is its own ancestor)"
    ]


def test_the_size_cap_applies(tmp_path: Path) -> None:
    from poshbridge.inventory import load

    big = tmp_path / "big.ini"
    big.write_text("[web]\n" + "h1\n" * 10, "utf-8")
    original = load.MAX_INVENTORY_BYTES
    load.MAX_INVENTORY_BYTES = 16
    try:
        found = texts(read_inventory(big))
    finally:
        load.MAX_INVENTORY_BYTES = original
    assert found and found[0].startswith("error: : cannot read inventory file")


def test_hostile_ini_values_stay_text() -> None:
    deep = "[" * 5000 + "]" * 5000
    inventory = ini(f"[web]\nh1 x={deep} y=10**9999999 poshbridge_iis_site=site\n")
    assert not inventory.errors, texts(inventory)
    assert inventory.hosts["h1"].iis.site == "site"


def test_check_with_an_ansible_inventory_filters_by_target(tmp_path: Path, capsys: Any) -> None:
    from poshbridge.cli.main import main

    path = tmp_path / "fleet.ini"
    path.write_text(COMMON + "[web]\nh1 ansible_port=0\nh2\n", "utf-8")
    code = main(["-i", str(path), "check", "h2"])
    out = capsys.readouterr().out
    assert code == 0 and "ansible_port" not in out and "1 host(s)" in out


# ----- any fleet: the three Ansible forms read as the native file does ---------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SETTINGS = st.fixed_dictionaries(
    {},
    optional={
        "winrm": st.fixed_dictionaries(
            {},
            optional={
                "port": st.integers(1, 65535),
                "auth": st.sampled_from(["negotiate", "kerberos"]),
                "username": st.sampled_from(["u", "CONTOSO\\certadmin"]),
                "password": st.sampled_from([{"env": "PW"}, {"file": "pw.txt"}]),
                "verify": st.sampled_from([False, "ca.pem"]),
                "read_timeout": st.integers(25, 60),
            },
        ),
        "acme": st.fixed_dictionaries(
            {},
            optional={
                "directory": st.sampled_from(["https://ca.example/dir", "https://acme.example/d"]),
                "eab_hmac": st.just({"env": "HMAC"}),
                "cert_key_length": st.sampled_from(["2048", "ec-256"]),
            },
        ),
        "renewal": st.fixed_dictionaries(
            {},
            optional={"start": st.sampled_from(["01:00", "04:41"]), "log_retention_days": st.integers(1, 99)},
        ),
        "iis": st.fixed_dictionaries(
            {}, optional={"site": st.sampled_from(["a site", "example.jp"]), "port": st.integers(1, 65535)}
        ),
    },
)


@st.composite
def fleets(draw: Any) -> dict[str, Any]:
    names = draw(
        st.lists(st.sampled_from([f"h{i}" for i in range(1, 9)]), min_size=1, max_size=6, unique=True)
    )
    defaults = draw(_SETTINGS)
    defaults.setdefault("acme", {})["contacts"] = ["admin@example.jp"]
    hosts = {}
    for name in names:
        host = draw(_SETTINGS)
        host.update({"domains": [f"{name}.example.jp"], "webroot": "C:\\w"})
        if draw(st.booleans()):
            host["address"] = f"192.0.2.{names.index(name) + 1}"
        hosts[name] = host
    groups = {}
    for group in draw(st.lists(st.sampled_from(["ga", "gb", "gc"]), max_size=3, unique=True).map(sorted)):
        members = draw(st.lists(st.sampled_from(names), unique=True))
        groups[group] = {"hosts": [n for n in names if n in members], "vars": draw(_SETTINGS)}
    return {"defaults": defaults, "groups": groups, "hosts": hosts}


@given(fleet=fleets())
@settings(max_examples=60, deadline=None)
def test_any_fleet_reads_the_same_in_every_form(fleet: dict[str, Any]) -> None:
    native = inventory_from_text(yaml.safe_dump(fleet), "native.yaml")
    for kind, written in forms(fleet).items():
        inventory = inventory_from_text(written, f"fleet.{kind}")
        assert [p.severity for p in inventory.problems].count("error") == len(native.errors), (
            kind,
            texts(inventory),
        )
        # Ansible's implicit group "ungrouped" (hosts in no other group) is a group of its own there
        hosts = {
            name: replace(host, groups=tuple(g for g in host.groups if g != "ungrouped"))
            for name, host in inventory.hosts.items()
        }
        assert hosts == native.hosts, kind
        groups = {g: set(m) for g, m in inventory.groups.items() if m and g != "ungrouped"}
        assert groups == {g: set(m) for g, m in native.groups.items() if m}, kind

"""Loading inventory files: YAML quirks, duplicate keys, unreadable files, the shipped example."""

from __future__ import annotations

from pathlib import Path

import pytest

from poshbridge.inventory.load import (
    InventoryError,
    declared_host_names,
    inventory_from_text,
    load_inventory,
    read_inventory,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "inventory.yaml"

MINIMAL = """\
defaults:
  winrm: {username: 'CONTOSO\\certadmin', password: {env: PW}}
  acme: {contacts: [admin@example.jp]}
hosts:
  host01: {address: web01.example.jp, domains: [example.jp], webroot: 'C:\\inetpub\\wwwroot'}
"""


def test_minimal_inventory_uses_model_defaults() -> None:
    inv = inventory_from_text(MINIMAL)
    assert inv.problems == ()
    h = inv.hosts["host01"]
    assert h.renewal.script_path == "C:\\poshbridge\\renew.ps1"
    assert h.iis.site == "Default Web Site"
    assert h.winrm.effective_port == 5986


def test_duplicate_host_names_are_detected() -> None:
    text = MINIMAL + "  host01: {address: other, domains: [other.example.jp], webroot: 'C:\\\\x'}\n"
    inv = inventory_from_text(text)
    (problem,) = [p for p in inv.errors if p.path == "hosts.host01"]
    assert "duplicate key (line 6)" in problem.message


def test_duplicate_nested_keys_are_detected() -> None:
    text = MINIMAL.replace("{username:", "{port: 5986, port: 15986, username:")
    inv = inventory_from_text(text)
    assert [p.path for p in inv.errors] == ["defaults.winrm.port"]


def test_yaml_syntax_error_is_a_problem_with_a_line() -> None:
    inv = inventory_from_text("hosts: [\n")
    (problem,) = inv.problems
    assert problem.path == ""
    assert "not valid YAML (line" in problem.message


def test_empty_and_non_mapping_documents() -> None:
    assert "empty" in inventory_from_text("").errors[0].message
    assert "must be a mapping" in inventory_from_text("- a\n- b\n").errors[0].message


def test_load_inventory_raises_with_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(MINIMAL.replace("[example.jp]", "['*.example.jp', bad_label.jp]"), encoding="utf-8")
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert [p.path for p in caught.value.errors] == ["hosts.host01.domains[0]", "hosts.host01.domains[1]"]
    assert str(path) in str(caught.value)


def test_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    inv = read_inventory(tmp_path / "nope.yaml")
    assert "cannot read inventory file" in inv.errors[0].message
    with pytest.raises(InventoryError):
        load_inventory(tmp_path / "nope.yaml")


def test_utf8_bom_and_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_inventory(path).hosts
    path.write_bytes(MINIMAL.encode("utf-16"))
    assert "not UTF-8" in read_inventory(path).errors[0].message


def test_warnings_do_not_raise(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(MINIMAL.replace("{env: PW}", "hunter2"), encoding="utf-8")
    inv = load_inventory(path)
    assert [p.path for p in inv.warnings] == ["defaults.winrm.password"]
    assert "hunter2" not in repr(inv)


def test_declared_host_names_include_invalid_hosts(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(MINIMAL + "  web.02: {domains: ['*.x.jp']}\n", encoding="utf-8")
    assert declared_host_names(path) == ["host01", "web.02"]
    assert list(read_inventory(path).hosts) == ["host01"]


def test_shipped_example_is_valid() -> None:
    inv = load_inventory(EXAMPLE)
    assert inv.errors == ()
    h = inv.hosts["host01"]
    assert h.domains == ("example.jp", "www.example.jp")
    assert (h.iis.site, h.iis.port, h.webroot) == ("example.jp", 443, "C:\\inetpub\\wwwroot")
    assert inv.hosts["host02"].domains == ("xn--r8jz45g.jp",)
    # the manual's SAN caution is shown for host01's two FQDNs
    assert any(p.path == "hosts.host01.domains" for p in inv.warnings)

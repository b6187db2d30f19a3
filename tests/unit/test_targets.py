"""Targets: host names, group names, `all`, shell patterns; unknown targets are clear errors."""

from __future__ import annotations

import pytest

from poshbridge.inventory.load import inventory_from_text
from poshbridge.inventory.model import Inventory
from poshbridge.inventory.targets import TargetError, select_hosts


def _inventory() -> Inventory:
    hosts = "\n".join(
        f"  {name}: {{domains: [{name}.example.jp], webroot: 'C:\\inetpub\\wwwroot'}}"
        for name in ("web01", "web02", "db01", "app.eu")
    )
    text = (
        "defaults: {winrm: {username: u}, acme: {contacts: [a@example.jp]}}\n"
        "groups:\n  frontend: {hosts: [web02, app.eu]}\n  backend: {hosts: [db01]}\n"
        f"hosts:\n{hosts}\n"
    )
    inv = inventory_from_text(text, source="fleet.yaml")
    assert inv.errors == (), [str(p) for p in inv.problems]
    return inv


def names(patterns: list[str]) -> list[str]:
    return [h.name for h in select_hosts(_inventory(), patterns)]


def test_all_and_empty() -> None:
    assert names(["all"]) == ["web01", "web02", "db01", "app.eu"]
    assert names([]) == ["web01", "web02", "db01", "app.eu"]


def test_host_group_and_pattern_in_inventory_order_without_repeats() -> None:
    assert names(["db01"]) == ["db01"]
    assert names(["frontend"]) == ["web02", "app.eu"]
    assert names(["web*"]) == ["web01", "web02"]
    assert names(["backend", "web0[1]", "web01"]) == ["web01", "db01"]
    assert names(["*end"]) == ["web02", "db01", "app.eu"]  # patterns match group names too


def test_unknown_target_names_what_exists() -> None:
    with pytest.raises(TargetError) as caught:
        names(["web1", "mail*"])
    message = str(caught.value)
    assert "unknown target 'web1'" in message
    assert "unknown pattern 'mail*'" in message
    assert "did you mean" in message
    assert "Hosts in fleet.yaml: web01, web02, db01, app.eu" in message
    assert "Groups: frontend, backend" in message


def test_patterns_are_case_sensitive() -> None:
    with pytest.raises(TargetError):
        names(["WEB*"])

"""The example inventory (examples/ansible/inventory.yml) is valid as Ansible reads it (``ansible-inventory
--list``, what the action plugins get) and as ``poshbridge -i`` reads it; the example playbook is one
Ansible accepts and needs no facts."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from collectionkit import EXAMPLE, run

from poshbridge import api


def test_the_example_inventory_is_valid_through_ansible_and_through_poshbridge(tmp_path: Path) -> None:
    listed = run("ansible-inventory", "-i", str(EXAMPLE / "inventory.yml"), "--list",
                 home=tmp_path / "home", cwd=tmp_path)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    hostvars = json.loads(listed.stdout)["_meta"]["hostvars"]
    from_ansible = api.inventory_from_ansible_vars(hostvars, base_dir=EXAMPLE)
    from_file = api.load_inventory(EXAMPLE / "inventory.yml")
    for inventory in (from_ansible, from_file):
        assert not inventory.errors and sorted(inventory.hosts) == ["web01", "web02"]
        assert inventory.hosts["web02"].renewal.start == "04:41"
        assert inventory.hosts["web01"].winrm.effective_port == 5986


def test_the_example_playbook_gathers_no_facts_and_passes_ansibles_syntax_check(tmp_path: Path) -> None:
    plays = yaml.safe_load((EXAMPLE / "site.yml").read_text("utf-8"))
    assert all(play["gather_facts"] is False for play in plays)
    checked = run("ansible-playbook", "--syntax-check", "-i", str(EXAMPLE / "inventory.yml"),
                  str(EXAMPLE / "site.yml"), home=tmp_path / "home", cwd=tmp_path)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr

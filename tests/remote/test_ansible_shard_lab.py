"""Against the lab: ``-i`` with Ansible inventories made from the lab's own inventory (INI for setup,
YAML and ``ansible-inventory --list`` JSON for status) gives the same hosts and the same verdicts as
the native file; ``--shard K/N`` splits a ``status all`` into disjoint slices whose union is the lab,
named in the JSON, the summary and the history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from labkit import LabHandle

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ansiblekit import forms

from poshbridge.inventory.load import load_inventory

REPO = Path(__file__).resolve().parents[2]


class Run:
    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        self.code, self.stdout, self.stderr = done.returncode, done.stdout, done.stderr
        self.doc: dict[str, Any] = json.loads(done.stdout) if done.stdout.lstrip().startswith("{") else {}

    def host(self, name: str) -> dict[str, Any]:
        return dict(next(entry for entry in self.doc["hosts"] if entry["host"] == name))

    def steps(self, name: str) -> dict[str, str]:
        return {s["name"]: s["status"] for s in self.host(name)["steps"]}

    def __repr__(self) -> str:
        return f"exit {self.code}\nstdout:\n{self.stdout[-6000:]}\nstderr:\n{self.stderr[-3000:]}"


def cli(inventory: Path, state: Path, *args: str) -> Run:
    env = dict(os.environ, POSHBRIDGE_STATE_DIR=str(state), NO_COLOR="1")
    command = [sys.executable, "-m", "poshbridge", "-i", str(inventory), *args]
    return Run(
        subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, timeout=600, check=False)
    )


def ansible_files(lab: LabHandle, folder: Path, only: list[str] | None = None) -> dict[str, Path]:
    """The lab's inventory as fleet.ini, fleet.yaml and list.json in ``folder`` (secret files absolute)."""
    native: dict[str, Any] = yaml.safe_load(lab.inventory.read_text("utf-8"))
    if only is not None:
        native["hosts"] = {name: native["hosts"][name] for name in only}
        native["groups"] = {"lab": {"hosts": list(only)}}
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for kind, text in forms(native, lab.inventory.parent).items():
        name = {"ini": "fleet.ini", "yaml": "fleet.yaml", "json": "list.json"}[kind]
        paths[kind] = folder / name
        paths[kind].write_text(text, "utf-8")
    return paths


def test_the_lab_inventory_reads_the_same_as_ansible(lab: LabHandle, tmp_path: Path) -> None:
    native = load_inventory(lab.inventory)
    folder = lab.inventory.parent
    for kind, path in ansible_files(lab, tmp_path).items():
        mapped = load_inventory(path)
        assert list(mapped.hosts) == list(native.hosts) and mapped.groups == native.groups, kind
        for name, host in native.hosts.items():
            ref = host.acme.eab_hmac
            assert ref is not None and ref.source == "file"
            absolute = replace(ref, name=str((folder / ref.name).resolve()))  # written absolute
            assert mapped.hosts[name].acme.eab_hmac == absolute
            assert replace(mapped.hosts[name], winrm=host.winrm, acme=host.acme) == host, kind
            assert replace(mapped.hosts[name].winrm, password=None) == replace(host.winrm, password=None)


def test_setup_and_status_with_ansible_inventories(lab: LabHandle, lab_host: str, tmp_path: Path) -> None:
    files = ansible_files(lab, tmp_path / "inv", only=[lab_host])
    state = tmp_path / "state"
    setup = cli(files["ini"], state, "setup", "lab", "--json")
    assert setup.code == 0, setup
    assert setup.steps(lab_host)["certificate"] == "changed", setup
    thumbprint = setup.host(lab_host)["objects"]["certificate"]["thumbprint"]
    again = cli(files["json"], state, "setup", lab_host, "--json")  # the same host, read from --list JSON
    assert again.code == 0 and set(again.steps(lab_host).values()) == {"unchanged"}, again
    verdicts = {}
    for kind in ("yaml", "json"):
        status = cli(files[kind], state, "status", lab_host, "--json")
        assert status.code == 0, status
        objects = status.host(lab_host)["objects"]
        assert objects["certificate"]["thumbprint"] == thumbprint
        verdicts[kind] = objects["status"]["health"]
    native = cli(lab.inventory, state, "status", lab_host, "--json")
    expected = native.host(lab_host)["objects"]["status"]["health"]
    assert verdicts == {"yaml": expected, "json": expected}
    assert expected == "OK", native


def test_status_shards_split_the_lab(lab: LabHandle, tmp_path: Path) -> None:
    state = tmp_path / "state"
    files = ansible_files(lab, tmp_path / "inv")
    shard_of_host: dict[str, str] = {}
    for k in (1, 2, 3):
        run = cli(files["json"], state, "status", "all", "--shard", f"{k}/3", "--json")
        assert run.code in (0, 1), run  # a twin never set up has no certificate to probe
        assert run.doc["shard"] == {"index": k, "count": 3, "label": f"{k}/3"}
        for entry in run.doc["hosts"]:
            assert entry["host"] not in shard_of_host  # disjoint
            shard_of_host[entry["host"]] = f"{k}/3"
    assert sorted(shard_of_host) == sorted(lab.host_names)  # together the whole lab
    history = [json.loads(line) for line in (state / "history.jsonl").read_text("utf-8").splitlines()]
    assert sorted((h["host"], h["shard"]) for h in history) == sorted(shard_of_host.items())
    human = cli(lab.inventory, state, "status", "all", "--shard", "2/3")
    count = sum(1 for label in shard_of_host.values() if label == "2/3")
    assert f"shard 2/3: {count} of {len(lab.host_names)} selected host(s)" in human.stdout, human
    audit = cli(files["ini"], state, "audit", "all", "--shard", "2/3", "--json")
    assert audit.doc["shard"]["label"] == "2/3", audit
    assert sorted(v["host"] for v in audit.doc["hosts"]) == sorted(
        h for h, k in shard_of_host.items() if k == "2/3"
    )

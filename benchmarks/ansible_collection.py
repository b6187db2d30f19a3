"""The poshbridge.iis collection on the controller: CPU per host and task of ``status``, a no-change
``setup`` and ``audit`` run by ``ansible-playbook`` against lab twins (Ansible forks one worker per host
and task; the figure is the whole ansible-playbook process tree's CPU, less the same playbook with an
``ansible.builtin.debug`` task in place of the module, per host and task).

    python benchmarks/ansible_collection.py [--quick]

Needs pebble (the lab) and ansible-core (the test extra). CPU time of the children (getrusage), best
of 3. No target: context figures for the issue 11 table (the CLI's own per-host figures are the
targets).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.labbench import REPO, lab_cli, lab_data, poshbridge
from benchmarks.table import Row, render

TASKS = 3  # tasks of each playbook: one per host and task is the unit measured


def _inventory(lab_dir: Path, directory: Path) -> Path:
    data = lab_data(lab_dir)
    native = yaml.safe_load(Path(data["inventory"]).read_text("utf-8"))
    defaults = native["defaults"]
    hosts = {
        name: {
            "ansible_port": h["winrm"]["port"],
            "poshbridge_domains": h["domains"],
            "poshbridge_webroot": h["webroot"],
            "poshbridge_iis_site": h["iis"]["site"],
            "poshbridge_iis_port": h["iis"]["port"],
        }
        for name, h in native["hosts"].items()
    }
    group_vars = {
        "ansible_connection": "ansible.builtin.psrp",
        "ansible_host": "127.0.0.1",
        "ansible_user": defaults["winrm"]["username"],
        "ansible_psrp_ca_cert": defaults["winrm"]["verify"],
        "ansible_password": "{{ lookup('ansible.builtin.file', '" + data["password_file"] + "') }}",
        "poshbridge_directory": defaults["acme"]["directory"],
        "poshbridge_eab_kid": {"file": data["eab_kid_file"]},
        "poshbridge_eab_hmac": {"file": data["eab_hmac_file"]},
        "poshbridge_contacts": defaults["acme"]["contacts"],
        "poshbridge_renewal_wait_after_renewal": defaults["renewal"]["wait_after_renewal"],
    }
    path = directory / "inventory.yml"
    path.write_text(yaml.safe_dump({"iis": {"hosts": hosts, "vars": group_vars}}, width=1000), "utf-8")
    return path


def _playbook(directory: Path, name: str, task: dict[str, object]) -> Path:
    path = directory / f"{name}.yml"
    play = {"hosts": "iis", "gather_facts": False, "tasks": [dict(task) for _ in range(TASKS)]}
    path.write_text(yaml.safe_dump([play]), "utf-8")
    return path


def _cpu(inventory: Path, playbook: Path, directory: Path) -> float:
    """CPU seconds of one ansible-playbook run with every worker it forked (best of 3)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(REPO),
        ANSIBLE_HOME=str(directory / "home"),
        ANSIBLE_LOCAL_TEMP=str(directory / "home" / "tmp"),
        ANSIBLE_FORKS="5",
        LC_ALL="C.UTF-8",  # Ansible refuses to start under a locale that is not UTF-8
        POSHBRIDGE_STATE_DIR=str(directory / "state"),
    )
    program = str(Path(sys.executable).parent / "ansible-playbook")
    best = float("inf")
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            [program, "-i", str(inventory), str(playbook)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"{playbook.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
        used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = min(best, used)
    return best


def rows(hosts: int = 6) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="pb-ansible-") as tmp:
        directory = Path(tmp)
        lab_dir = directory / "lab"
        lab_cli("up", "--dir", str(lab_dir), "--hosts", str(hosts), "--ocsp-lag", "1")
        try:
            code, _seconds, _doc = poshbridge(lab_dir, "setup", "all")
            if code != 0:
                raise SystemExit("setup all failed on the lab")
            inventory = _inventory(lab_dir, directory)
            baseline = _cpu(
                inventory, _playbook(directory, "debug", {"ansible.builtin.debug": {"msg": "x"}}), directory
            )
            out: list[Row] = []
            for module, options in (("status", {}), ("setup", {}), ("audit", {"fail_on": "CRIT"})):
                task = {
                    f"poshbridge.iis.{module}": {
                        **options,
                        **({"history": False} if module != "audit" else {}),
                    }
                }
                used = _cpu(inventory, _playbook(directory, module, task), directory)
                per = (used - baseline) / (hosts * TASKS) * 1000
                out.append(
                    Row(
                        f"ansible {module}: controller CPU per host and task",
                        per,
                        "ms",
                        "",
                        None,
                        f"{hosts} twins x {TASKS} tasks, forks 5, less a debug task; best of 3",
                    )
                )
            out.append(
                Row(
                    "ansible debug task: controller CPU per host and task",
                    baseline / (hosts * TASKS) * 1000,
                    "ms",
                    "",
                    None,
                    "Ansible's own cost of a controller-side task (the baseline)",
                )
            )
            return out
        finally:
            lab_cli("down", "--dir", str(lab_dir))


def main() -> None:
    quick = "--quick" in sys.argv
    table = rows(3 if quick else 6)
    print(render(table, title="poshbridge.iis collection (ansible-playbook against the lab)"))


if __name__ == "__main__":
    main()

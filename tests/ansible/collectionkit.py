"""Running Ansible's own programs (ansible-playbook, ansible-doc, ansible-vault) from the tests: the
venv's console scripts, the collection found in this repository (ANSIBLE_COLLECTIONS_PATH), and an
isolated ANSIBLE_HOME / local tmp per test, so nothing of the machine's Ansible set-up is used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTION = REPO_ROOT / "ansible_collections" / "poshbridge" / "iis"
EXAMPLE = REPO_ROOT / "examples" / "ansible"
MODULES = ("setup", "renew", "status", "audit")


def program(name: str) -> str:
    """The venv's ``ansible-playbook`` etc. (next to the running Python)."""
    return str(Path(sys.executable).parent / name)


def ansible_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for one Ansible program: this repo's collection, an isolated home and tmp."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    home.mkdir(parents=True, exist_ok=True)
    return {
        **keep,
        "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT),
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(home / "remote-tmp"),  # localhost's, for the playbook's report task
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "0",
        "PYTHONWARNINGS": "ignore",
        "LC_ALL": "C.UTF-8",  # Ansible refuses to start under a locale that is not UTF-8
        **extra,
    }


def run(
    name: str, *args: str, home: Path, cwd: Path, timeout: float = 600, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [program(name), *args],
        cwd=cwd,
        env=ansible_env(home, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )

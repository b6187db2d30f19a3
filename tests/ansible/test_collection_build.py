"""The collection as it ships: ``ansible-galaxy collection build`` makes a tarball that installs and
documents itself from where it is installed, and examples/ansible/build-ee.sh makes the execution
environment's build context (ansible-builder 3 checks the definition) with poshbridge's wheel and the
collection in it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import yaml
from collectionkit import COLLECTION, EXAMPLE, MODULES, REPO_ROOT, ansible_env, run

from poshbridge import __version__


def test_the_collection_builds_installs_and_documents_itself(tmp_path: Path) -> None:
    home = tmp_path / "home"
    built = run("ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), str(COLLECTION),
                home=home, cwd=tmp_path)  # fmt: skip
    assert built.returncode == 0, built.stderr
    (tarball,) = tmp_path.glob("poshbridge-iis-*.tar.gz")
    assert tarball.name == f"poshbridge-iis-{__version__}.tar.gz"  # the collection's version is poshbridge's
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
        manifest = json.load(archive.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
    for module in MODULES:
        assert f"plugins/action/{module}.py" in names and f"plugins/modules/{module}.py" in names
    assert {"plugins/plugin_utils/poshbridge_action.py", "plugins/doc_fragments/options.py"} <= names
    assert {"meta/runtime.yml", "README.md"} <= names
    assert not any("__pycache__" in name for name in names)
    assert (
        manifest["collection_info"]["namespace"] == "poshbridge"
        and manifest["collection_info"]["name"] == "iis"
    )
    installed = tmp_path / "collections"
    # only the new folder is Ansible's collection path (the repository's copy would count as installed)
    done = run("ansible-galaxy", "collection", "install", "--offline", "-p", str(installed), str(tarball),
               home=home, cwd=tmp_path, ANSIBLE_COLLECTIONS_PATH=str(installed))  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = run("ansible-doc", "poshbridge.iis.setup", home=home, cwd=tmp_path,
                ANSIBLE_COLLECTIONS_PATH=str(installed))  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert str(installed / "ansible_collections" / "poshbridge" / "iis") in shown.stdout, shown.stderr


def test_build_ee_makes_the_execution_environments_context(tmp_path: Path) -> None:
    venv_bin = str(Path(sys.executable).parent)
    done = subprocess.run(
        ["sh", str(EXAMPLE / "build-ee.sh")],
        cwd=tmp_path,
        env={
            **ansible_env(tmp_path / "home"),
            "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
            "PYTHON": sys.executable,
            "EE_CONTEXT_ONLY": "1",
            "EE_WORK": str(tmp_path / "ee"),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    context = tmp_path / "ee" / "context"
    containerfile = (context / "Dockerfile").read_text("utf-8")
    assert "RUN $PYCMD -m pip install --no-cache-dir /tmp/poshbridge/poshbridge-*.whl" in containerfile
    assert "ansible-galaxy collection install --offline -p /usr/share/ansible/collections" in containerfile
    shipped = sorted(p.name for p in (context / "_build" / "poshbridge").iterdir())
    assert shipped == [f"poshbridge-{__version__}-py3-none-any.whl", f"poshbridge-iis-{__version__}.tar.gz"]
    with zipfile.ZipFile(context / "_build" / "poshbridge" / shipped[0]) as wheel:
        assert "poshbridge/ansible_task.py" in wheel.namelist()  # what the action plugins import


def test_the_ee_and_the_test_extra_ask_for_the_same_ansible_core() -> None:
    definition = yaml.safe_load((EXAMPLE / "execution-environment.yml").read_text("utf-8"))
    assert definition["version"] == 3
    wanted = definition["dependencies"]["ansible_core"]["package_pip"]
    pyproject = (REPO_ROOT / "pyproject.toml").read_text("utf-8")
    assert re.search(rf'"{re.escape(wanted)}"', pyproject), wanted
    runtime = yaml.safe_load((COLLECTION / "meta" / "runtime.yml").read_text("utf-8"))
    assert runtime["requires_ansible"].lstrip(">=").rstrip(".0") in wanted
    galaxy = yaml.safe_load((COLLECTION / "galaxy.yml").read_text("utf-8"))
    assert galaxy["version"] == __version__

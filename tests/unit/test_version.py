"""The version has one source, ``poshbridge.__version__``; packaging metadata and ``--version`` follow it."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

import poshbridge

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the tomli backport, when present
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_takes_the_version_from_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    dynamic = project["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "poshbridge.__version__"}


def test_installed_metadata_is_the_package_version() -> None:
    assert version("poshbridge") == poshbridge.__version__


def test_the_command_prints_the_installed_version() -> None:
    script = Path(sys.executable).parent / "poshbridge"
    assert script.is_file(), f"the poshbridge command is not installed next to {sys.executable}"
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == f"poshbridge {version('poshbridge')}"

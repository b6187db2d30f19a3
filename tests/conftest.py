"""Session fixtures shared by all tests.

``lab``: ONE lab per test session (per pytest-xdist worker), started like an operator does
(``python -m poshbridge lab up --dir <tmp> --hosts 12 --ocsp-lag 3``) and stopped with ``lab down``
at the end. It yields a
:class:`labkit.LabHandle` (see tests/labkit.py): ``dir``, ``inventory``, ``data`` (lab.json),
``management(method, path, body=None)``, ``host(name)``, ``reset(name)``, ``faults(name, **kw)``,
``counters(name)``, ``claim(purpose)``, ``twin(name)``.

Twin allocation: a test that changes a twin (files, IIS, certificates, tasks, faults) takes its own:
either ``lab.claim("purpose")`` (kept for the session) or the ``lab_host`` fixture (a fresh twin for
the test, released afterwards so a later test can take it again after a reset).

Without pebble the lab tests skip, except in CI (``CI=true``) where they fail.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from labkit import LabHandle, require_pebble, run_lab_cli

LAB_HOSTS = 12
LAB_OCSP_LAG = 3


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "lab" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabHandle]:
    require_pebble()
    lab_dir = tmp_path_factory.mktemp("lab")
    started = run_lab_cli(
        "up", "--dir", str(lab_dir), "--hosts", str(LAB_HOSTS), "--ocsp-lag", str(LAB_OCSP_LAG)
    )
    if started.returncode != 0:
        run_lab_cli("down", "--dir", str(lab_dir))
        pytest.fail(f"`poshbridge lab up` failed ({started.returncode}):\n{started.stdout}\n{started.stderr}")
    handle = LabHandle.load(lab_dir)
    try:
        yield handle
    finally:
        stopped = run_lab_cli("down", "--dir", str(lab_dir))
        if stopped.returncode != 0:
            print(f"`poshbridge lab down` failed:\n{stopped.stdout}\n{stopped.stderr}", file=sys.stderr)


@pytest.fixture
def lab_host(lab: LabHandle, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh twin for this test only (reset before use, released after)."""
    name = lab.claim(request.node.nodeid)
    try:
        yield name
    finally:
        lab.release(name)

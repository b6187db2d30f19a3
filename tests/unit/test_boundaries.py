"""The house rules, checked on the source: the two sides never import each other, the pure core does no IO.

Every ``import``/``from`` (at any depth, also inside functions) of every module is read with ``ast``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "poshbridge"
# The one hand-off: `poshbridge lab ...` passes its arguments to the lab side.
LAB_HANDOFF = {"poshbridge/cli/main.py"}
PURE = ("inventory", "plan", "poshacme", "generate", "powershell", "audit/transcript/", "audit/verdict.py",
        "hoststate", "health")  # fmt: skip
IO_MODULES = {"socket", "ssl", "requests", "pypsrp", "subprocess", "threading", "urllib.request", "http"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            literal = [a.value for a in node.args if isinstance(a, ast.Constant)]
            names.update(v for v in literal if isinstance(v, str))
    return names


def _modules() -> list[tuple[str, set[str]]]:
    root = PACKAGE.parent
    return [(p.relative_to(root).as_posix(), _imports(p)) for p in sorted(PACKAGE.rglob("*.py"))]


def _hits(names: set[str], prefix: str) -> list[str]:
    return sorted(n for n in names if n == prefix or n.startswith(prefix + "."))


def test_the_product_never_imports_the_lab() -> None:
    offenders = {
        rel: _hits(names, "poshbridge.lab")
        for rel, names in _modules()
        if not rel.startswith("poshbridge/lab/") and rel not in LAB_HANDOFF
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_lab_never_imports_the_product() -> None:
    offenders: dict[str, list[str]] = {}
    for rel, names in _modules():
        if rel.startswith("poshbridge/lab/"):
            product = [n for n in names if n.startswith("poshbridge.") and not n.startswith("poshbridge.lab")]
            if product:
                offenders[rel] = sorted(product)
    assert offenders == {}


@pytest.mark.parametrize("room", PURE)
def test_the_pure_core_does_no_io(room: str) -> None:
    offenders: dict[str, list[str]] = {}
    rooms = [(rel, names) for rel, names in _modules() if rel.startswith(f"poshbridge/{room}")]
    assert rooms, f"poshbridge/{room} holds no module: follow the move in PURE"
    for rel, names in rooms:
        io = sorted({hit for module in IO_MODULES for hit in _hits(names, module)})
        io += _hits(names, "poshbridge.remote") + _hits(names, "poshbridge.lab")
        if io:
            offenders[rel] = io
    assert offenders == {}


def test_the_cli_never_talks_to_a_host_itself() -> None:
    """The CLI parses, renders and picks exit codes; connections are the runner's (poshbridge.api,
    poshbridge.runner): no cli module imports pypsrp or poshbridge.remote."""
    offenders: dict[str, list[str]] = {}
    for rel, names in _modules():
        if rel.startswith("poshbridge/cli/"):
            hits = _hits(names, "pypsrp") + _hits(names, "poshbridge.remote")
            if hits:
                offenders[rel] = hits
    assert offenders == {}


def test_the_rule_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from poshbridge.remote.session import HostSession\n", encoding="utf-8")
    assert _hits(_imports(module), "poshbridge.remote") == [
        "poshbridge.remote.session",
        "poshbridge.remote.session.HostSession",
    ]

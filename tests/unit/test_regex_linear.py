"""Every regex of the client side runs in linear time (structural check, no timing: see benchmarks/).

Patterns are found in the source (AST): ``re.compile(...)`` / ``re.search(...)`` / ... with a literal
pattern, and how each compiled name is used (``.search``/``.sub``/``.findall``/``.finditer`` retry at
every offset). The lab is a stand-in for Windows, not the product, and is left out.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from regexcheck import check_pattern

ROOT = Path(__file__).resolve().parents[2] / "poshbridge"
_RE_CALLS = {"compile", "search", "match", "fullmatch", "sub", "subn", "findall", "finditer", "split"}
_SEARCHING = {"search", "sub", "subn", "findall", "finditer", "split"}


def _flags(node: ast.expr | None) -> int:
    if node is None:
        return 0
    value = 0
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "re":
            value |= int(getattr(re, sub.attr))
    return value


def _client_patterns() -> list[tuple[str, str, int, bool]]:
    """(where, pattern, flags, search mode) for every literal pattern outside the lab."""
    found: list[tuple[str, str, int, bool]] = []
    paths = [p for p in sorted(ROOT.rglob("*.py")) if "lab" not in p.relative_to(ROOT).parts]
    # A pattern compiled in one module may be searched in another (a package's shared patterns):
    # the names used with a searching method anywhere count (a name clash only makes the check stricter).
    searched: set[str] = set()
    sources: list[str] = []
    code: list[str] = []  # the sources without their import statements (an import list is no use)
    for path in paths:
        sources.append(path.read_text(encoding="utf-8"))
        lines = sources[-1].split("\n")
        for node in ast.walk(ast.parse(sources[-1])):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                end = node.end_lineno or node.lineno
                lines[node.lineno - 1 : end] = [""] * (end - node.lineno + 1)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _SEARCHING
                and isinstance(node.func.value, ast.Name)
            ):
                searched.add(node.func.value.id)
        code.append("\n".join(lines))
    everywhere = "\n".join(code)
    for path, source in zip(paths, sources, strict=True):
        where_file = path.relative_to(ROOT).as_posix()
        tree = ast.parse(source)
        compiled: dict[str, tuple[str, int, int]] = {}
        assigned: dict[int, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                func = node.func
                if isinstance(func.value, ast.Name) and func.value.id == "re" and func.attr in _RE_CALLS:
                    first = node.args[0] if node.args else None
                    assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
                        f"{path}:{node.lineno}: re.{func.attr} with a computed pattern cannot be checked"
                    )
                    flag_node = next((k.value for k in node.keywords if k.arg == "flags"), None)
                    if flag_node is None and func.attr == "compile" and len(node.args) > 1:
                        flag_node = node.args[1]
                    if func.attr == "compile":
                        name = assigned.get(id(node), f"{path.name}:{node.lineno}")
                        compiled[name] = (first.value, _flags(flag_node), node.lineno)
                    else:
                        found.append(
                            (
                                f"{where_file}:{node.lineno}",
                                first.value,
                                _flags(flag_node),
                                func.attr in _SEARCHING,
                            )
                        )
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assigned[id(node.value)] = target.id  # ast.walk reaches the call after this
        # a compiled pattern passed around (tuples, loops) is checked in search mode to be safe
        for name, (pattern, flags, line) in compiled.items():
            passed_around = re.search(rf"[(\[,]\s*{re.escape(name)}\s*[,)\]]", everywhere) is not None
            found.append((f"{where_file}:{line} {name}", pattern, flags, name in searched or passed_around))
    return found


PATTERNS = _client_patterns()


def test_the_collector_sees_the_parsers() -> None:
    where = " ".join(w for w, *_ in PATTERNS)
    parsers = ("audit/transcript/", "poshacme/problems", "audit/collect.py", "inventory/checks.py", "load.py")
    for module in parsers:
        assert module in where


@pytest.mark.parametrize(("where", "pattern", "flags", "search"), PATTERNS, ids=[p[0] for p in PATTERNS])
def test_pattern_is_linear(where: str, pattern: str, flags: int, search: bool) -> None:
    findings = check_pattern(pattern, search=search, flags=flags)
    assert not findings, f"{where}: " + "; ".join(str(f) for f in findings)


@pytest.mark.parametrize(
    ("pattern", "search"),
    [
        (r"(?P<fqdn>\S+) authorization status is '(?P<status>[^']*)'", True),  # the 28 s one
        (r"\s*(\d{2})(?:[.,](\d+))?\s*(Z|[+-]\d{2}:?\d{2})?\s*$", False),
        (r"(.{1,200}?): (.+):(\d+)\s*$", False),
        (r"(a+)+$", False),
        (r"(?:x|\wy)*z", False),
        (r'"detail"\s*:\s*"((?:[^"\\]|\\.)*)"', True),
        (r"\S+$", True),
    ],
)
def test_checker_flags_backtracking_shapes(pattern: str, search: bool) -> None:
    assert check_pattern(pattern, search=search)


@pytest.mark.parametrize(
    ("pattern", "search"),
    [
        (r"Authorization for (?P<fqdn>\S+) returned status '(?P<status>[^']*)'", True),
        (r"\s*(\d+ )?\|(?: ?(.*))?$", False),
        (r"\x1b\[[0-9;?]*[A-Za-z]", True),
        (r"\s+", True),
    ],
)
def test_checker_accepts_linear_shapes(pattern: str, search: bool) -> None:
    assert not check_pattern(pattern, search=search)

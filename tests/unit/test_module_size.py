"""Small modules whose names say what they hold: no file in poshbridge/ is over MAX_LINES lines.

ALLOWED names the files being split right now (issue 10). The list only shrinks: an entry whose file
is gone or back under the limit fails too, so it is removed as soon as the split lands.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 700
ALLOWED: set[str] = set()  # every split is done


def _sizes() -> dict[str, int]:
    return {
        path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted((ROOT / "poshbridge").rglob("*.py"))
    }


def test_no_module_is_over_the_limit() -> None:
    over = {name: lines for name, lines in _sizes().items() if lines > MAX_LINES and name not in ALLOWED}
    assert over == {}, f"split these along their seams (at most {MAX_LINES} lines each)"


def test_the_allow_list_only_names_files_still_over_the_limit() -> None:
    sizes = _sizes()
    stale = sorted(name for name in ALLOWED if sizes.get(name, 0) <= MAX_LINES)
    assert stale == [], "split done: remove these from ALLOWED"

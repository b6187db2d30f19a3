"""The lab stays in small modules whose names say what they hold (issue 10: no file over 700 lines)."""

from __future__ import annotations

from pathlib import Path

import poshbridge.lab

LAB = Path(poshbridge.lab.__file__).parent
MAX_LINES = 700


def test_no_lab_module_is_over_700_lines() -> None:
    sizes = {
        str(path.relative_to(LAB)): len(path.read_text("utf-8").splitlines()) for path in LAB.rglob("*.py")
    }
    assert len(sizes) > 40  # the walk found the lab
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert too_long == {}, f"split these along their seams: {too_long}"


def test_the_split_modules_keep_their_old_import_names() -> None:
    """Callers and tests that import from the old places keep working after the moves."""
    from poshbridge.lab.cmdlets import files, poshacme
    from poshbridge.lab.cmdlets.encodings import decode_bytes
    from poshbridge.lab.cmdlets.poshacme.store import import_config
    from poshbridge.lab.psrp import LabRunspacePool, split_statements, to_error_record
    from poshbridge.lab.psrp_errors import to_error_record as moved_to_error_record
    from poshbridge.lab.psrp_pool import LabRunspacePool as moved_pool

    assert files.decode_bytes is decode_bytes
    assert poshacme.import_config is import_config
    assert to_error_record is moved_to_error_record
    assert LabRunspacePool is moved_pool
    assert callable(split_statements)

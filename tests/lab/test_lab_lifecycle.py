"""``lab clock`` / ``lab run-task`` building blocks (fast): offsets, the twin clock, usage errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from poshbridge.lab.cli import main as lab_main
from poshbridge.lab.services.lifecycle import TwinClock, parse_offset


@pytest.mark.parametrize(
    ("text", "seconds"), [("+61d", 61 * 86400), ("+2h", 7200), ("+30m", 1800), ("+5s", 5)]
)
def test_offsets(text: str, seconds: int) -> None:
    assert parse_offset(text) == seconds


@pytest.mark.parametrize("text", ["61d", "-3d", "+3w", "+", "+1.5d", "+999999d"])
def test_bad_offsets_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"\+N"):
        parse_offset(text)


def test_twin_clock_moves_forward_only_and_resets() -> None:
    clock = TwinClock()
    clock.advance(61 * 86400)
    assert clock() - time.time() == pytest.approx(61 * 86400, abs=5)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.advance(20 * 365 * 86400)
    clock.reset()
    assert clock() == pytest.approx(time.time(), abs=5)


def test_clock_with_a_bad_offset_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lab_main(["clock", "host01", "+61x", "--dir", str(tmp_path)]) == 2
    assert "+N" in capsys.readouterr().err


def test_clock_and_run_task_without_a_lab_fail_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lab_main(["clock", "all", "+1d", "--dir", str(tmp_path)]) == 1
    assert lab_main(["run-task", "host01", "--dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.count("no lab in") == 2


def test_run_task_now_refuses_a_missing_or_disabled_task(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_engine_kit import Twin

    from poshbridge.lab.services.lifecycle import run_task_now

    twin = Twin(tmp_path)
    with pytest.raises(LookupError, match="no scheduled task registered"):
        run_task_now(twin.host)
    xml = (
        '<?xml version="1.0" encoding="UTF-16"?>\n<Task version="1.2" '
        'xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task"><Actions Context="Author"><Exec>'
        '<Command>powershell.exe</Command></Exec></Actions><Principals><Principal id="Author">'
        "<UserId>S-1-5-18</UserId></Principal></Principals></Task>"
    )
    registered = twin.run(("Register-ScheduledTask", {"TaskName": "t", "TaskPath": "\\", "Xml": xml}))
    assert registered.terminating is None and registered.errors == [], registered
    twin.run(("Disable-ScheduledTask", {"TaskName": "t"}))
    with pytest.raises(LookupError, match="is disabled"):
        run_task_now(twin.host)
    with pytest.raises(LookupError, match="no task named 'x'"):
        run_task_now(twin.host, "x")

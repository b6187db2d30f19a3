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

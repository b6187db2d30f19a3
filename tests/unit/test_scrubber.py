"""The one scrubber: every secret of a run masked with the one mask, wherever the run writes."""

from __future__ import annotations

import json
from pathlib import Path

from poshbridge import history
from poshbridge.powershell.command import MASK, Secret
from poshbridge.runner.context import Context
from poshbridge.runner.session import pypsrp_session
from poshbridge.scrubber import Scrubber, scrub

SECRET = "Sentinel-Scrub-Secret-3141"


def test_values_and_secrets_are_masked_with_the_one_mask() -> None:
    scrubber = Scrubber([SECRET, Secret("Sentinel-Other-Value")])
    assert scrubber(f"a {SECRET} b Sentinel-Other-Value") == f"a {MASK} b {MASK}"
    assert SECRET not in repr(scrubber) and "2 secret(s)" in repr(scrubber)
    assert scrub(f"x{SECRET}x", [SECRET]) == f"x{MASK}x"


def test_a_secret_inside_another_is_masked_whole_and_short_values_are_ignored() -> None:
    scrubber = Scrubber(["Sentinel", "Sentinel-Longer-Secret", "ab", "", None])
    assert scrubber("Sentinel-Longer-Secret") == MASK  # not "********-Longer-Secret"
    assert scrubber("ab cd") == "ab cd" and len(scrubber) == 2


def test_nested_values_keys_included_are_scrubbed() -> None:
    scrubber = Scrubber([SECRET])
    doc = {"a": [SECRET, {SECRET: (1, f"k{SECRET}")}], "n": 3}
    assert scrubber.value(doc) == {"a": [MASK, {MASK: [1, f"k{MASK}"]}], "n": 3}


def test_the_history_is_written_through_the_runs_scrubber(tmp_path: Path) -> None:
    run_scrubber = Scrubber([SECRET])
    history.append(tmp_path, [{"summary": f"refused {SECRET}"}], scrubber=run_scrubber)
    (line,) = (tmp_path / history.HISTORY_FILE).read_text("utf-8").splitlines()
    assert json.loads(line)["summary"] == f"refused {MASK}"


def test_the_pypsrp_session_masks_with_the_runs_scrubber() -> None:
    from poshbridge.inventory.model import HostConfig

    ctx = Context(command="status")
    host = HostConfig(name="h", address="127.0.0.1", domains=("example.jp",), webroot="C:\\w")
    session = pypsrp_session(host, ctx, Secret(SECRET))
    assert session.scrubber is ctx.scrub  # type: ignore[attr-defined]
    ctx.remember(Secret("Sentinel-Remembered-Secret"))
    assert session._scrub("Sentinel-Remembered-Secret") == MASK  # type: ignore[attr-defined]

"""``--shard K/N``: the N slices are disjoint, together the whole selection, and the same in every run
and process; K/N is validated with a message; the CLI, the results and the history name the shard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poshbridge import api
from poshbridge.inventory.load import inventory_from_text
from poshbridge.inventory.shard import Shard, ShardError, parse_shard, shard_names, shard_of
from poshbridge.runner.history import history_record
from poshbridge.runner.results import FleetRun, HostRun

ROOT = Path(__file__).resolve().parents[2]
names_strategy = st.lists(st.text(min_size=1, max_size=30), unique=True, max_size=60)


@given(names=names_strategy, count=st.integers(min_value=1, max_value=40))
@settings(max_examples=200, deadline=None)
def test_slices_are_disjoint_and_cover_the_selection(names: list[str], count: int) -> None:
    slices = [shard_names(names, Shard(k, count)) for k in range(1, count + 1)]
    seen = [name for part in slices for name in part]
    assert sorted(seen) == sorted(names)  # the union is everything, and no name twice
    for part in slices:
        assert part == [n for n in names if n in part]  # order kept


@given(names=names_strategy, count=st.integers(min_value=1, max_value=40))
@settings(max_examples=100, deadline=None)
def test_a_host_slice_does_not_depend_on_the_other_hosts(names: list[str], count: int) -> None:
    for name in names:
        assert shard_names([name], Shard(shard_of(name, count), count)) == [name]
        assert shard_of(name.casefold(), count) == shard_of(name, count)


def test_known_values_never_change() -> None:
    # the documented rule, spelled out: sha256 of the casefolded UTF-8 name, first 8 bytes big-endian,
    # mod N, plus 1; pinned so that a change of the hash (or of K's base) fails here
    import hashlib

    for name in ("host01", "HOST02", "web01.example.jp", "ホスト"):
        digest = hashlib.sha256(name.casefold().encode()).digest()
        assert shard_of(name, 3) == int.from_bytes(digest[:8], "big") % 3 + 1
    assert [shard_of(name, 3) for name in ("host01", "host02", "web01.example.jp")] == [2, 1, 1]


def test_the_same_in_another_process_with_another_hash_seed() -> None:
    names = [f"web{i:03d}.example.jp" for i in range(50)]
    code = (
        "import json,sys; from poshbridge.inventory.shard import shard_of; "
        "print(json.dumps([shard_of(n, 7) for n in json.loads(sys.argv[1])]))"
    )
    outputs = set()
    for seed in ("1", "2", "random"):
        done = subprocess.run(
            [sys.executable, "-c", code, json.dumps(names)],
            env=dict(os.environ, PYTHONHASHSEED=seed),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(done.stdout.strip())
    assert outputs == {json.dumps([shard_of(n, 7) for n in names])}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0/4", "K must be 1..N (K is 1-based: 1/4 .. 4/4); got 0"),
        ("5/4", "K must be 1..N (K is 1-based: 1/4 .. 4/4); got 5"),
        ("1/0", "N must be 1..100000 (got 0)"),
        ("a/b", "must be K/N with whole numbers, such as 1/4 (K is 1-based)"),
        ("1-4", "must be K/N with whole numbers"),
        ("", "must be K/N with whole numbers"),
        ("-1/4", "must be K/N with whole numbers"),
    ],
)
def test_bad_shards(text: str, message: str) -> None:
    with pytest.raises(ShardError) as caught:
        parse_shard(text)
    assert message in str(caught.value)


def test_parse() -> None:
    assert parse_shard(" 2 / 5 ") == Shard(2, 5)
    assert parse_shard("1/1").label == "1/1"


# ----- results and history ------------------------------------------------------------------------------


def test_results_and_history_name_the_shard() -> None:
    run = HostRun(host="h1", command="status")
    shard = Shard(2, 3)
    assert FleetRun(command="status", hosts=[run], shard=shard).to_json()["shard"] == {
        "index": 2,
        "count": 3,
        "label": "2/3",
    }
    assert "shard" not in FleetRun(command="status", hosts=[run]).to_json()
    assert history_record(run, False, shard)["shard"] == "2/3"
    assert "shard" not in history_record(run, False)
    audit = api.AuditRun([], generated=__import__("datetime").datetime(2026, 1, 1), shard=shard)
    assert audit.to_json()["shard"]["label"] == "2/3"


INVENTORY = """
defaults:
  acme: {contacts: [a@example.jp]}
groups:
  web: {hosts: [h01, h02, h03, h04, h05, h06]}
hosts:
""" + "".join(f"  h{i:02d}: {{domains: [h{i:02d}.example.jp], webroot: 'C:\\w'}}\n" for i in range(1, 9))


def test_api_select_hosts_with_a_shard() -> None:
    inventory = inventory_from_text(INVENTORY)
    assert not inventory.errors
    parts = [
        [h.name for h in api.select_hosts(inventory, ["web"], shard=api.parse_shard(f"{k}/3"))]
        for k in (1, 2, 3)
    ]
    assert sorted(n for p in parts for n in p) == ["h01", "h02", "h03", "h04", "h05", "h06"]
    assert api.run_options(inventory, shard=Shard(1, 3)).shard == Shard(1, 3)


# ----- CLI ----------------------------------------------------------------------------------------------


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    inventory = tmp_path / "fleet.yaml"
    inventory.write_text(INVENTORY, "utf-8")
    return subprocess.run(
        [sys.executable, "-m", "poshbridge", "-i", str(inventory), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, NO_COLOR="1", POSHBRIDGE_STATE_DIR=str(tmp_path / "state")),
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("command", ["setup", "renew", "status", "revoke", "audit", "check"])
def test_every_fleet_command_validates_the_shard(tmp_path: Path, command: str, capsys: Any) -> None:
    from poshbridge.cli.main import main

    (tmp_path / "fleet.yaml").write_text(INVENTORY, "utf-8")
    with pytest.raises(SystemExit) as caught:
        main(["-i", str(tmp_path / "fleet.yaml"), command, "all", "--shard", "4/3"])
    assert caught.value.code == 2
    assert "argument --shard: K must be 1..N (K is 1-based: 1/3 .. 3/3); got 4" in capsys.readouterr().err


def test_check_lists_only_the_shard(tmp_path: Path) -> None:
    seen: list[str] = []
    for k in (1, 2):
        done = cli(tmp_path, "check", "web", "--shard", f"{k}/2")
        assert done.returncode == 0, done.stderr
        names = [
            n
            for n in (f"h{i:02d}" for i in range(1, 7))
            if f"│ {n}" in done.stdout or f"| {n}" in done.stdout
        ]
        assert f"shard {k}/2: {len(names)} of 6 selected host(s)" in done.stdout
        seen += names
    assert sorted(seen) == ["h01", "h02", "h03", "h04", "h05", "h06"]


def test_an_empty_shard_runs_nothing_and_says_so(tmp_path: Path) -> None:
    # with 8 hosts and 1000 shards some shard is empty: find one and run status on it
    inventory = inventory_from_text(INVENTORY)
    used = {shard_of(name, 1000) for name in inventory.hosts}
    empty = next(k for k in range(1, 1001) if k not in used)
    done = cli(tmp_path, "status", "all", "--shard", f"{empty}/1000", "--json")
    doc: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == 0, done.stderr
    assert doc["hosts"] == [] and doc["shard"] == {"index": empty, "count": 1000, "label": f"{empty}/1000"}


def test_an_audit_of_an_empty_shard_is_unknown_never_ok(tmp_path: Path) -> None:
    inventory = inventory_from_text(INVENTORY)
    used = {shard_of(name, 1000) for name in inventory.hosts}
    empty = next(k for k in range(1, 1001) if k not in used)
    done = cli(tmp_path, "audit", "all", "--shard", f"{empty}/1000", "--json")
    assert done.returncode == 3, done.stderr  # UNKNOWN: nothing was audited
    assert json.loads(done.stdout)["hosts"] == []
    assert "nothing audited" in done.stderr

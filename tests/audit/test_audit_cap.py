"""Audit input is streamed with a per-file cap: a file cut at the cap is a WARN "truncated at cap";
the streamed parse equals the whole-file parse however the bytes are chunked."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poshbridge.audit.capped import CappedReader, parse_size
from poshbridge.audit.collect import cap_files, read_batch, state_batch
from poshbridge.audit.transcript import parse_transcript, parse_transcript_stream
from poshbridge.cli.audit import audit_log_files
from poshbridge.cli.main import main

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2024, 12, 1, tzinfo=timezone.utc)


def fixture_bytes() -> list[bytes]:
    out = [p.read_bytes() for p in sorted(FIXTURES.glob("*.txt"))]
    first = out[0].decode("utf-8", errors="replace")
    out.append(first.encode("utf-16"))  # UTF-16 with BOM
    out.append(first.replace("\n", "\r\n").encode("utf-8") + "ログ\r\n".encode("cp932") + b"tail\r")
    return out


@pytest.mark.parametrize(
    ("text", "size"),
    [("64M", 64 << 20), ("512k", 512 << 10), ("1G", 1 << 30), ("4096", 4096), ("2MiB", 2 << 20)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "0", "-1", "1T", "12 M x"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


@settings(max_examples=60, deadline=None)
@given(index=st.integers(min_value=0, max_value=100), cuts=st.lists(st.integers(min_value=1, max_value=5000)))
def test_streamed_parse_equals_the_whole_file_parse(index: int, cuts: list[int]) -> None:
    samples = fixture_bytes()
    data = samples[index % len(samples)]
    chunks: list[bytes] = []
    position = 0
    for size in cuts:
        chunks.append(data[position : position + size])
        position += size
    chunks.append(data[position:])
    whole = parse_transcript(data, "x.txt").to_json(include_events=True)
    streamed = parse_transcript_stream(chunks, "x.txt").to_json(include_events=True)
    assert streamed == whole


def test_reader_stops_at_the_cap_and_tells(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_bytes(b"a" * 10_000)
    with path.open("rb") as handle:
        reader = CappedReader(handle, 4096)
        assert sum(len(c) for c in reader) == 4096 and reader.truncated
    with path.open("rb") as handle:
        reader = CappedReader(handle, 10_000)
        assert sum(len(c) for c in reader) == 10_000 and not reader.truncated


def test_offline_file_over_the_cap_is_warn_truncated(tmp_path: Path) -> None:
    big = tmp_path / "renew-20241130-031700.txt"
    big.write_bytes((FIXTURES / "ps51_not_due_47.txt").read_bytes() + b"plain output line\r\n" * 2000)
    files, verdicts, problems = audit_log_files(
        [str(big)], now=NOW, warn_days=21, crit_days=7, max_file_size=2048
    )
    assert not problems and files[0]["truncated_at"] == 2048
    (verdict,) = verdicts
    assert verdict.level in ("WARN", "CRIT")
    assert any("truncated at cap" in r.message for r in verdict.reasons)
    files, verdicts, _ = audit_log_files([str(big)], now=NOW, warn_days=21, crit_days=7)
    assert "truncated_at" not in files[0]
    assert not any("truncated at cap" in r.message for v in verdicts for r in v.reasons)


def test_offline_cli_flag(tmp_path: Path) -> None:
    big = tmp_path / "acme_log.txt"
    big.write_bytes((FIXTURES / "ps51_renewed.txt").read_bytes() * 50)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["audit", "--log", str(big), "--max-file-size", "1K", "--json"])
    doc = json.loads(out.getvalue())
    assert code >= 1 and doc["files"][0]["truncated_at"] == 1024
    assert any("truncated at cap" in r["message"] for v in doc["verdicts"] for r in v["reasons"])


def test_remote_reads_are_raw_byte_arrays_and_the_client_cuts_at_the_cap() -> None:
    from poshbridge.inventory.load import inventory_from_text

    inventory = inventory_from_text(
        "defaults: {winrm: {username: u, password: {env: PW}}, acme: {contacts: [a@example.jp]}}\n"
        "hosts: {h: {address: h.example.jp, domains: [example.jp], webroot: 'C:\\w'}}\n"
    )
    host = inventory.hosts["h"]
    now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for batch in (state_batch(host, now), read_batch("C:\\l", ["a"])):
        reads = [c for s in batch.statements for c in s.cmds if c.name == "Get-Content"]
        assert reads and all("Raw" in dict(c.params) for c in reads)
    files = {"a.txt": b"x" * 1001, "b.txt": b"y" * 1000}
    notes = cap_files(files, 1000)
    assert files == {"a.txt": b"x" * 1000, "b.txt": b"y" * 1000}
    assert notes == ["a.txt: truncated at cap: only the first 1000 bytes were read (--max-file-size)"]

"""``poshbridge audit --log FILE...``: offline audit of transcripts copied from a host."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from timestamps import non_utc_timestamps

from poshbridge.cli.main import main

Bytes = Callable[[str, str], bytes]


@pytest.fixture
def logs(tmp_path: Path, transcript_bytes: Bytes) -> dict[str, Path]:
    files = {
        "not_due": ("ps51_not_due_47.txt", "ps51"),
        "failed": ("ps51_failed_acme.txt", "ps51"),
        "renewed16": ("ps51_renewed.txt", "utf16le"),
        "japanese": ("japanese_51.txt", "cp932"),
    }
    out = {}
    for key, (name, style) in files.items():
        path = tmp_path / f"{key}.txt"
        path.write_bytes(transcript_bytes(name, style))
        out[key] = path
    return out


def test_json_has_sessions_per_file(logs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["audit", "--log", str(logs["not_due"]), str(logs["failed"]), str(logs["japanese"]), "--json"]
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["mode"] == "offline"
    files = {Path(f["file"]).name: f for f in doc["files"]}
    not_due = files["not_due.txt"]["sessions"][0]
    assert not_due["outcome"] == "not-due"
    assert not_due["user"] == "WORKGROUP\\SYSTEM"
    assert not_due["machine"].startswith("WEB01")
    assert not_due["ps_version"] == "5.1.17763.5830"
    assert not_due["edition"] == "Desktop"
    assert not_due["start"] == "2024-11-26T03:17:02" and not_due["end"] == "2024-11-26T03:17:05"
    assert not_due["warnings"] and not_due["errors"] == [] and not_due["acme_problem"] is None
    failed = files["failed.txt"]["sessions"][0]
    assert failed["outcome"] == "failed"
    assert failed["acme_problem"]["type"] == "rejectedIdentifier"
    assert files["japanese.txt"]["sessions"][0]["outcome"] == "not-due"
    # Nagios: the failed run makes the audit WARN
    assert code == 1


def test_all_good_logs_exit_zero_and_render_a_table(
    logs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["audit", "--log", str(logs["not_due"]), str(logs["renewed16"])])
    out = capsys.readouterr().out
    assert code == 0
    assert "not-due" in out and "renewed" in out and "WEB01" in out


def test_result_file_is_read_and_preferred(tmp_path: Path, transcript_bytes: Bytes,
                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    transcript = tmp_path / "renew-20241227-031702.txt"
    transcript.write_bytes(transcript_bytes("no_footer.txt", "ps51"))
    result = tmp_path / "renew-20241227-031702.json"
    body = {
        "schema": "poshbridge.renewal-result/1", "host": "host01", "order": "example.jp",
        "outcome": "not-due", "started": "2024-12-27T03:17:02Z", "finished": "2024-12-27T03:17:05Z",
        "thumbprint": None, "not_after": None, "renew_after": None, "error": None,
        "transcript": transcript.name,
    }  # fmt: skip
    result.write_bytes(b"\xef\xbb\xbf" + json.dumps(body).encode())
    code = main(["audit", "--log", str(transcript), str(result), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0  # the transcript alone says "interrupted"; the result file says not-due
    (verdict,) = doc["verdicts"]
    assert verdict["last_outcome"] == "not-due"


def test_prometheus_file_offline(logs: dict[str, Path], tmp_path: Path) -> None:
    prom = tmp_path / "audit.prom"
    main(["audit", "--log", str(logs["failed"]), "--prometheus", str(prom), "--json"])
    text = prom.read_text()
    assert "# TYPE poshbridge_audit_verdict gauge" in text
    assert 'poshbridge_renewal_last_run_outcome{host="failed.txt",order="",outcome="failed"} 1' in text


def test_unreadable_file_is_crit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["audit", "--log", str(tmp_path / "missing.txt")])
    assert code == 2
    assert "missing.txt" in capsys.readouterr().err


def test_targets_and_log_together_are_refused(logs: dict[str, Path]) -> None:
    assert main(["audit", "host01", "--log", str(logs["not_due"])]) == 2


def test_bad_numbers_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["audit", "--warn-days", "-1", "--log", "x"])
    assert exc.value.code == 2
    assert main(["audit", "--warn-days", "3", "--crit-days", "5", "--log", "x"]) == 2


def test_unwritable_prometheus_file_is_an_error_not_a_traceback(
    logs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing-dir" / "audit.prom"
    assert main(["audit", "--log", str(logs["not_due"]), "--prometheus", str(target)]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_json_timestamps_are_rfc3339_utc_with_z(
    tmp_path: Path, transcript_bytes: Bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every timestamp in ``audit --json`` ends in Z (``generated`` was ``+00:00``), whatever zone the
    host wrote; only a transcript header's host-local start/end has no zone."""
    transcript = tmp_path / "renew-20241227-031702.txt"
    transcript.write_bytes(transcript_bytes("ps51_not_due_47.txt", "ps51"))
    result = tmp_path / "renew-20241227-031702.json"
    body = {
        "schema": "poshbridge.renewal-result/1", "host": "host01", "order": "example.jp",
        "outcome": "not-due", "started": "2024-12-27T12:17:02.1234567+09:00",
        "finished": "2024-12-27T03:17:05Z", "thumbprint": None, "not_after": "2025-02-27T22:55:04",
        "renew_after": "/Date(1735689600000)/", "error": None, "transcript": transcript.name,
    }  # fmt: skip
    result.write_bytes(b"\xef\xbb\xbf" + json.dumps(body).encode())
    main(["audit", "--log", str(transcript), str(result), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert non_utc_timestamps(doc) == []
    assert doc["generated"].endswith("Z")
    (entry,) = [f for f in doc["files"] if "result" in f]
    assert entry["result"]["started"] == "2024-12-27T03:17:02.123456Z"
    assert entry["result"]["not_after"] == "2025-02-27T22:55:04Z"
    assert entry["result"]["renew_after"] == "2025-01-01T00:00:00Z"
    (session_file,) = [f for f in doc["files"] if f.get("sessions")]
    assert session_file["sessions"][0]["start"] == "2024-11-26T03:17:02"  # host-local, no zone

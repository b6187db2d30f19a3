"""``audit --log`` and the remote audit: a file that is not a renewal log, a truncated one and an empty
one are WARN with the reason, never OK."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from poshbridge.audit.collect import facts_from_answers
from poshbridge.audit.logcheck import check_log
from poshbridge.audit.verdict import WARN, evaluate
from poshbridge.cli.main import main
from poshbridge.inventory.model import HostConfig, IISConfig, RenewalConfig

Bytes = Callable[[str, str], bytes]
HOST = HostConfig(
    name="host01",
    address="web01.example.jp",
    domains=("example.jp", "www.example.jp"),
    webroot="C:\\inetpub\\wwwroot",
    iis=IISConfig(site="example.jp", port=443),
    renewal=RenewalConfig(log_dir="C:\\poshbridge\\logs", task_name="poshbridge renew"),
)

RESULT = {
    "schema": "poshbridge.renewal-result/1",
    "host": "WEB01",
    "order": "example.jp",
    "outcome": "not-due",
    "started": "2026-05-31T03:17:02Z",
    "finished": "2026-05-31T03:17:05Z",
}


def bad_files(folder: Path, transcript: bytes) -> dict[str, tuple[Path, str]]:
    """name -> (file, a word the reason must contain)"""
    whole = json.dumps(RESULT).encode()
    files = {
        "random": ("renew-20260531-031702.txt", os.urandom(1024 * 1024), "binary"),
        "random-json": ("renew-20260531-031703.json", os.urandom(64 * 1024), "binary"),
        "empty": ("renew-20260531-031704.txt", b"", "empty"),
        "empty-json": ("renew-20260531-031705.json", b"\xef\xbb\xbf\r\n", "empty"),
        "truncated-json": ("renew-20260531-031706.json", whole[: len(whole) // 2], "truncated"),
        "json-bomb": ("renew-20260531-031707.json", b"[" * 200_000 + b"]" * 200_000, "nested"),
        "other-json": ("renew-20260531-031708.json", b'{"schema": "something/else"}', "not a renewal result"),
        "not-a-transcript": ("notes.txt", b"hello\r\nthis is no transcript\r\n" * 50, "not a transcript"),
        "truncated-transcript": (
            "renew-20260531-031709.txt",
            transcript[: len(transcript) // 3],
            "truncated",
        ),
    }
    out = {}
    for key, (name, data, word) in files.items():
        path = folder / name
        path.write_bytes(data)
        out[key] = (path, word)
    return out


@pytest.fixture
def files(tmp_path: Path, transcript_bytes: Bytes) -> dict[str, tuple[Path, str]]:
    return bad_files(tmp_path, transcript_bytes("ps51_not_due_47.txt", "ps51"))


@pytest.mark.parametrize(
    "key",
    ["random", "random-json", "empty", "empty-json", "truncated-json", "json-bomb", "other-json",
     "not-a-transcript", "truncated-transcript"],
)  # fmt: skip
def test_each_bad_file_alone_is_warn_with_the_reason(
    key: str, files: dict[str, tuple[Path, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, word = files[key]
    code = main(["audit", "--log", str(path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1, doc
    (verdict,) = doc["verdicts"]
    assert verdict["verdict"] == WARN
    messages = " ".join(r["message"] for r in verdict["reasons"])
    assert word in messages, messages
    assert all(r["fix"] for r in verdict["reasons"])


def test_a_good_file_next_to_a_bad_one_does_not_hide_it(
    files: dict[str, tuple[Path, str]], tmp_path: Path, transcript_bytes: Bytes,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    good = tmp_path / "good.txt"
    good.write_bytes(transcript_bytes("ps51_not_due_47.txt", "ps51"))
    code = main(["audit", "--log", str(good), str(files["empty"][0])])
    out = capsys.readouterr().out
    assert code == 1 and "empty file" in out, out


def test_good_transcripts_and_result_files_have_no_problem(transcript_bytes: Bytes) -> None:
    for style in ("ps51", "utf16le", "cp932"):
        name = "japanese_51.txt" if style == "cp932" else "ps51_renewed.txt"
        assert check_log("renew-x.txt", transcript_bytes(name, style))[2] is None
    assert check_log("renew-x.json", json.dumps(RESULT).encode())[2] is None


def test_remote_audit_warns_about_unusable_files(transcript_bytes: Bytes) -> None:
    files = {
        "renew-20260531-031702.json": b'{"schema": "poshbridge.renewal-result/1", "outc',
        "renew-20260531-031702.txt": transcript_bytes("ps51_not_due_47.txt", "ps51"),
    }
    facts = facts_from_answers(HOST, [], files, None)
    assert len(facts.log_problems) == 1 and "truncated" in facts.log_problems[0], facts.log_problems
    assert len(facts.runs) == 1  # the transcript still counts
    verdict = evaluate(facts, now=datetime(2026, 6, 1, tzinfo=timezone.utc))
    assert "log-unusable" in [r.code for r in verdict.reasons] and verdict.level == WARN

"""The pure half of remote collection: which statements are sent, and how answers become facts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from poshbridge.audit.collect import (
    choose_log_files,
    content_bytes,
    facts_from_answers,
    files_from_outputs,
    read_batch,
    state_batch,
)
from poshbridge.audit.transcript import NOT_DUE, RENEWED
from poshbridge.audit.verdict import OK, Revocation, ServedCertificate, evaluate
from poshbridge.inventory.model import HostConfig, IISConfig, RenewalConfig
from poshbridge.powershell.command import SWITCH
from poshbridge.remote.session import StatementResult

Bytes = Callable[[str, str], bytes]
THUMB = "3C1A5F0E8D2B47A6C9E1F3D5B7A9C0E2F4D6B8A1"
HOST = HostConfig(
    name="host01",
    address="web01.example.jp",
    domains=("example.jp", "www.example.jp"),
    webroot="C:\\inetpub\\wwwroot",
    iis=IISConfig(site="example.jp", port=443),
    renewal=RenewalConfig(log_dir="C:\\poshbridge\\logs", task_name="poshbridge renew"),
)


def test_state_batch_is_one_invocation_with_posh_acme_last() -> None:
    now = datetime(2025, 1, 10, 0, 30, tzinfo=timezone(timedelta(hours=9)))  # 2025-01-09 15:30 UTC
    batch = state_batch(HOST, now)
    labels = [s.label for s in batch]
    assert labels == [
        "env", "task", "task-info", "bindings", "bak", "logs", "recent-names", "recent-content",
        "events", "orders", "certificate",
    ]  # fmt: skip
    env = batch.statements[0].cmds[0]
    assert env.name == "Set-Item" and env.param("Path") == "Env:POSHACME_HOME"
    assert env.param("Value") == "C:\\ProgramData\\poshbridge\\Posh-ACME"
    logs = batch.statements[5].cmds[0]
    assert logs.param("Path") == "C:\\poshbridge\\logs" and logs.param("Name") is SWITCH
    assert batch.statements[1].cmds[0].param("TaskName") == "poshbridge renew"
    assert batch.statements[3].cmds[0].param("Name") == "example.jp"
    recent = [
        "C:\\poshbridge\\logs\\renew-20250109-*",
        "C:\\poshbridge\\logs\\renew-20250108-*",
        "C:\\poshbridge\\logs\\acme_log.txt",
    ]
    names, contents = batch.statements[6].cmds[0], batch.statements[7].cmds[0]
    assert names.param("Path") == contents.param("Path") == recent
    # -Raw: one byte[] per file; without it 5.1 sends an object[] with one <By> per byte (issue 8 item 6)
    assert (contents.param("Encoding"), contents.param("Raw"), contents.param("ReadCount")) == (
        "Byte",
        SWITCH,
        None,
    )
    # the order's own certificate, as status reads it (the one host-state batch)
    assert batch.statements[-1].cmds[0].render() == "Get-PACertificate -Name 'example.jp'"


def test_names_and_contents_pair_by_position() -> None:
    outputs = {
        "recent-names": ["renew-20250109-031702.json", "renew-20250109-031702.txt", "acme_log.txt"],
        "recent-content": [b"{json}", b"transcript", b"manual"],
        "file:renew-20250101-031702.txt": [b"older"],
    }
    assert files_from_outputs(outputs) == {
        "renew-20250109-031702.json": b"{json}",
        "renew-20250109-031702.txt": b"transcript",
        "acme_log.txt": b"manual",
        "renew-20250101-031702.txt": b"older",
    }
    # a file that appeared between listing and reading: nothing is paired, all is read by name
    outputs["recent-content"] = [b"a", b"b", b"c", b"d"]
    assert list(files_from_outputs(outputs)) == ["renew-20250101-031702.txt"]


def test_newest_runs_are_chosen_by_the_stamp_in_their_names() -> None:
    names = [f"renew-202501{d:02d}-031702.{ext}" for d in range(1, 21) for ext in ("txt", "json")]
    names += ["acme_log.txt", "notes.txt", "renew-bad.txt", "sub\\renew-20250130-000000.txt"]
    chosen = choose_log_files(names, 3)
    assert chosen == [
        "acme_log.txt",
        "renew-20250118-031702.json",
        "renew-20250118-031702.txt",
        "renew-20250119-031702.json",
        "renew-20250119-031702.txt",
        "renew-20250120-031702.json",
        "renew-20250120-031702.txt",
    ]
    reads = read_batch("C:\\poshbridge\\logs\\", chosen[:1])
    (cmd,) = reads.statements[0].cmds
    assert (
        cmd.render() == "Get-Content -LiteralPath 'C:\\poshbridge\\logs\\acme_log.txt' -Encoding 'Byte' -Raw"
    )


def test_content_bytes_accepts_bytes_ints_and_text() -> None:
    assert content_bytes([b"\xef\xbb\xbfabc"]) == b"\xef\xbb\xbfabc"
    assert content_bytes([[255, 254, 65, 0]]) == b"\xff\xfeA\x00"
    assert content_bytes([239, 187, 191]) == b"\xef\xbb\xbf"
    assert content_bytes(["line 1", "line 2"]) == b"line 1\r\nline 2"
    assert content_bytes([]) == b""


def test_facts_from_answers_end_to_end(transcript_bytes: Bytes) -> None:
    now = datetime(2025, 1, 10, tzinfo=timezone.utc)
    outputs: dict[str, list[object]] = {
        "logs": ["acme_log.txt"],
        "task": [{"TaskName": "poshbridge renew", "State": "Ready"}],
        "task-info": [{"LastRunTime": "2025-01-10T03:17:02+09:00", "LastTaskResult": 0}],
        "bindings": [{"protocol": "https", "bindingInformation": "*:443:", "certificateHash": THUMB}],
        "bak": [],
        "orders": [{"Name": "example.jp", "MainDomain": "example.jp", "RenewAfter": "2025-02-20T00:00:00Z"}],
        "certificate": [
            {"Subject": "CN=example.jp", "NotAfter": "2025-03-22T00:00:00Z", "Thumbprint": THUMB}
        ],
    }
    state = [StatementResult(label, output=out, ran=True) for label, out in outputs.items()]
    files = {
        "acme_log.txt": transcript_bytes("ps51_renewed.txt", "ps51"),
        "renew-20250110-031702.txt": transcript_bytes("ps51_not_due_47.txt", "ps51"),
    }
    served = ServedCertificate(thumbprint=THUMB, not_after=datetime(2025, 3, 22, tzinfo=timezone.utc))
    good = Revocation("good", thumbprint=THUMB)
    facts = facts_from_answers(HOST, state, files, served, revocations=(good, good))
    assert facts.certificate is not None and facts.certificate.thumbprint == THUMB
    assert facts.task is not None and facts.task.exists and facts.task.state == "Ready"
    assert facts.binding_thumbprint == THUMB and facts.binding_found
    assert [r.outcome for r in facts.runs] == [RENEWED, NOT_DUE]
    verdict = evaluate(facts, now=now)
    assert verdict.level == OK, verdict.reasons
    assert verdict.last_outcome == NOT_DUE


def test_missing_task_is_a_fact_not_an_error() -> None:
    read = [StatementResult("task", ran=True), StatementResult("task-info", ran=True)]
    facts = facts_from_answers(HOST, read, {}, None)
    assert facts.task is not None and not facts.task.exists
    assert facts.certificate is None  # Posh-ACME state not read

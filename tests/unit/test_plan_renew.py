"""Reading Submit-Renewal's answer (pure): renewed, not due, skipped, failed."""

from __future__ import annotations

from datetime import datetime, timezone

from poshbridge.inventory.model import HostConfig
from poshbridge.plan.renew import read_renew_answer, renew_batch, revoke_batch

HOST = HostConfig(name="h", address="a", domains=("example.jp", "www.example.jp"), webroot="C:\\w")
ORDER = {
    "Name": "example.jp",
    "MainDomain": "example.jp",
    "status": "valid",
    "RenewAfter": "2025-02-01T00:00:00Z",
    "_types": ["PoshACME.PAOrder"],
}
CERT = {"Thumbprint": "ab" * 20, "NotAfter": "2025-03-03T00:00:00Z", "_types": ["PoshACME.PACertificate"]}


def test_not_due_reports_renew_after() -> None:
    answer = read_renew_answer(
        [],
        ["Order 'example.jp' is not recommended for renewal yet. Use -Force to override."],
        False,
        [ORDER],
        [CERT],
    )
    assert answer.outcome == "not-due"
    assert answer.renew_after == datetime(2025, 2, 1, tzinfo=timezone.utc)
    assert "2025-02-01" in answer.message


def test_renewed_returns_the_new_certificate() -> None:
    new = {**CERT, "Thumbprint": "cd" * 20}
    answer = read_renew_answer([new], [], False, [ORDER], [new])
    assert answer.outcome == "renewed"
    assert answer.certificate is not None and answer.certificate.thumbprint == "CD" * 20


def test_failed_and_skipped() -> None:
    assert read_renew_answer([], [], True, [ORDER], []).outcome == "failed"
    skipped = read_renew_answer(
        [], ["Skipping renewal for order 'example.jp' due to null plugin."], False, [], []
    )
    assert skipped.outcome == "skipped"


def test_batches_name_the_order_and_force() -> None:
    rendered = renew_batch(HOST, force=True).render()
    assert rendered[0].startswith("Set-Item -Path 'Env:POSHACME_HOME'")
    assert rendered[1] == "Submit-Renewal -Name 'example.jp' -Force"
    assert renew_batch(HOST, force=False).render()[1] == "Submit-Renewal -Name 'example.jp'"
    assert revoke_batch(HOST, reason="keyCompromise").render()[1] == (
        "Revoke-PACertificate -Name 'example.jp' -Reason 'keyCompromise' -Force"
    )

"""Verdict rules, one test per rule, with a fixed ``now``."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from poshbridge.audit.transcript import (
    FAILED,
    NOT_DUE,
    RENEWED,
    RenewalResult,
    RenewalRun,
    parse_transcript,
)
from poshbridge.audit.verdict import (
    CRIT,
    OK,
    WARN,
    CertificateInfo,
    HostFacts,
    ServedCertificate,
    TaskInfo,
    evaluate,
)
from poshbridge.hoststate.state import HostState, certificate_info
from poshbridge.poshacme.model import PACertificate, PAOrder
from poshbridge.poshacme.problems import classify_problem

NOW = datetime(2025, 1, 10, 12, 0, tzinfo=timezone.utc)
CURRENT = "A" * 40
OLD = "B" * 40


def run(outcome: str, started: datetime, *, error: dict[str, object] | None = None) -> RenewalRun:
    problem = classify_problem(type=str(error["type"])) if error else None
    result = RenewalResult(
        source=f"renew-{started:%Y%m%d-%H%M%S}.json",
        host="host01",
        order="host01.example.jp",
        outcome=outcome,
        started=started,
        finished=started + timedelta(seconds=5),
        thumbprint=CURRENT,
        not_after=None,
        renew_after=None,
        error=error,
        transcript=None,
        acme_problem=problem,
    )
    return RenewalRun(result.source, None, result)


def healthy(**changes: object) -> HostFacts:
    """A host in good order: 60 days left, window opens in 30, task fine, everything the same cert."""
    facts = HostFacts(
        host="host01",
        order="host01.example.jp",
        certificate=CertificateInfo(
            order_name="host01.example.jp",
            main_domain="host01.example.jp",
            thumbprint=CURRENT,
            not_before=NOW - timedelta(days=30),
            not_after=NOW + timedelta(days=60),
            renew_after=NOW + timedelta(days=30),
            order_status="valid",
        ),
        task=TaskInfo(
            exists=True,
            name="poshbridge renew",
            state="Ready",
            last_run_time=NOW - timedelta(hours=2),
            last_task_result=0,
            next_run_time=NOW + timedelta(hours=22),
        ),
        binding_thumbprint=CURRENT,
        binding_found=True,
        served=ServedCertificate(thumbprint=CURRENT, not_after=NOW + timedelta(days=60)),
        runs=[run(NOT_DUE, NOW - timedelta(hours=2))],
        endpoint="127.0.0.1:443",
    )
    return replace(facts, **changes)  # type: ignore[arg-type]


def codes(facts: HostFacts, **kwargs: object) -> list[str]:
    return [r.code for r in evaluate(facts, now=NOW, **kwargs).reasons]  # type: ignore[arg-type]


def with_cert(**changes: object) -> HostFacts:
    base = healthy()
    assert base.certificate is not None
    return replace(base, certificate=replace(base.certificate, **changes))  # type: ignore[arg-type]


def test_healthy_host_is_ok() -> None:
    verdict = evaluate(healthy(), now=NOW)
    assert verdict.level == OK
    assert verdict.reasons == []
    assert verdict.exit_code == 0
    assert verdict.ready == "True"
    assert verdict.days_left == 60.0
    assert verdict.last_outcome == NOT_DUE
    assert verdict.summary == "certificate current, renewal healthy"


def test_expires_within_warn_days_is_warn() -> None:
    served = ServedCertificate(thumbprint=CURRENT, not_after=NOW + timedelta(days=20))
    verdict = evaluate(healthy(served=served), now=NOW)
    assert verdict.level == WARN
    assert "expires-warn" in [r.code for r in verdict.reasons]
    assert codes(healthy(served=served), warn_days=10) == []


def test_expires_within_crit_days_is_crit() -> None:
    served = ServedCertificate(thumbprint=CURRENT, not_after=NOW + timedelta(days=6, hours=23))
    verdict = evaluate(healthy(served=served), now=NOW)
    assert verdict.level == CRIT and verdict.exit_code == 2
    assert verdict.reasons[0].code == "expires-soon"
    assert evaluate(healthy(served=served), now=NOW, crit_days=3).level == WARN


def test_expired_is_crit_and_not_ready() -> None:
    served = ServedCertificate(thumbprint=CURRENT, not_after=NOW - timedelta(seconds=1))
    verdict = evaluate(healthy(served=served), now=NOW)
    assert verdict.level == CRIT
    assert "expired" in [r.code for r in verdict.reasons]
    assert verdict.ready == "False"


def test_nothing_served_is_crit() -> None:
    served = ServedCertificate(error="connection refused")
    verdict = evaluate(healthy(served=served), now=NOW)
    assert verdict.level == CRIT
    assert verdict.reasons[0].code == "not-served"
    assert "127.0.0.1:443" in verdict.reasons[0].message


def test_expiry_falls_back_to_posh_acme_when_not_probed() -> None:
    facts = with_cert(not_after=NOW + timedelta(days=3))
    verdict = evaluate(replace(facts, served=None), now=NOW)
    assert verdict.level == CRIT
    assert verdict.expires == NOW + timedelta(days=3)


def test_inside_the_renewal_window_without_renewal_is_warn() -> None:
    facts = with_cert(renew_after=NOW - timedelta(days=3))
    assert "window-not-renewed" in codes(facts)
    # within the grace day the task has not had its chance yet
    assert "window-not-renewed" not in codes(with_cert(renew_after=NOW - timedelta(hours=12)))
    # a successful renewal since the window opened clears it
    renewed = replace(facts, runs=[run(RENEWED, NOW - timedelta(days=1))])
    assert "window-not-renewed" not in codes(renewed)
    # a renewal BEFORE the window opened does not
    older = replace(facts, runs=[run(RENEWED, NOW - timedelta(days=5))])
    assert "window-not-renewed" in codes(older)


def test_window_falls_back_to_posh_acme_rule_without_renew_after() -> None:
    cert = CertificateInfo(
        thumbprint=CURRENT,
        not_before=NOW - timedelta(days=80),
        not_after=NOW + timedelta(days=10),
    )
    assert cert.window_opens_at() == NOW - timedelta(days=20)
    short = CertificateInfo(thumbprint=CURRENT, not_before=NOW, not_after=NOW + timedelta(days=6))
    assert short.window_opens_at() == NOW + timedelta(days=4)


def test_last_run_failed_is_warn_with_the_acme_problem() -> None:
    error = {"type": "urn:ietf:params:acme:error:unauthorized", "message": "account deactivated"}
    facts = healthy(
        runs=[run(NOT_DUE, NOW - timedelta(days=1)), run(FAILED, NOW - timedelta(hours=1), error=error)]
    )
    verdict = evaluate(facts, now=NOW)
    assert verdict.level == WARN
    reason = verdict.reasons[0]
    assert reason.code == "last-run-failed"
    assert "unauthorized" in reason.message and "account deactivated" in reason.message
    # an older failure followed by a good run is history, not a finding
    recovered = healthy(runs=[run(FAILED, NOW - timedelta(days=1), error=error), run(NOT_DUE, NOW)])
    assert codes(recovered) == []


def test_last_run_interrupted_is_warn() -> None:
    text = b"**********************\nPowerShell transcript start\nStart time: 20250110100000\n" + (
        b"Username: A\\B\nRunAs User: A\\B\nMachine: M\nHost Application: x\nProcess ID: 1\n"
        b"PSVersion: 7.4.6\n**********************\nVERBOSE: Renewing certificate for order 'x'\n"
    )
    session = parse_transcript(text, "acme_log.txt").sessions[0]
    facts = healthy(runs=[RenewalRun("acme_log.txt", session, None)])
    assert codes(facts) == ["last-run-interrupted"]


def test_task_missing_disabled_or_failing_is_warn() -> None:
    assert codes(healthy(task=TaskInfo(exists=False, name="poshbridge renew"))) == ["task-missing"]
    base = healthy()
    assert base.task is not None
    assert codes(healthy(task=replace(base.task, state="Disabled"))) == ["task-disabled"]
    assert codes(healthy(task=replace(base.task, last_task_result=1))) == ["task-result"]
    assert codes(healthy(task=replace(base.task, last_task_result=0x41303))) == []  # never ran
    assert codes(healthy(task=replace(base.task, last_task_result=0x41301))) == []  # running


def test_served_certificate_differs_from_posh_acme_is_warn() -> None:
    served = ServedCertificate(thumbprint=OLD, not_after=NOW + timedelta(days=50))
    verdict = evaluate(healthy(served=served), now=NOW)
    assert verdict.level == WARN
    assert [r.code for r in verdict.reasons] == ["served-drift"]
    assert verdict.ready == "False"


def test_binding_drift_is_warn() -> None:
    served = ServedCertificate(thumbprint=OLD, not_after=NOW + timedelta(days=50))
    assert codes(healthy(binding_thumbprint=OLD.lower(), served=served)) == ["binding-drift", "served-drift"]


def test_missing_binding_is_warn() -> None:
    assert "binding-missing" in codes(healthy(binding_found=False, binding_thumbprint=None))


def test_posh_acme_certificate_missing_with_bak_files_is_warn() -> None:
    facts = with_cert(
        thumbprint=None, not_after=None, renew_after=None, bak_files=("cert.cer.bak", "cert.pfx.bak")
    )
    verdict = evaluate(facts, now=NOW)
    assert verdict.level == WARN
    assert [r.code for r in verdict.reasons] == ["renewal-incomplete"]
    assert "cert.cer.bak" in verdict.reasons[0].message


def test_no_certificate_anywhere_is_crit() -> None:
    facts = replace(
        with_cert(thumbprint=None, not_after=None, renew_after=None), served=None, binding_thumbprint=None
    )
    assert evaluate(facts, now=NOW).level == CRIT


def test_collection_errors_are_warn() -> None:
    facts = healthy(collection_errors=["Get-PAOrder: No ACME account configured."])
    assert codes(facts) == ["collection"]


def test_crit_outranks_warn_and_comes_first() -> None:
    served = ServedCertificate(thumbprint=OLD, not_after=NOW + timedelta(days=2))
    verdict = evaluate(healthy(served=served, task=TaskInfo(exists=False, name="t")), now=NOW)
    assert verdict.level == CRIT
    assert [r.level for r in verdict.reasons] == [CRIT, WARN, WARN]
    assert verdict.summary.startswith("certificate expires in 2.0 days")


def test_naive_now_is_taken_as_utc() -> None:
    assert evaluate(healthy(), now=NOW.replace(tzinfo=None)).level == OK


def test_certificate_info_from_posh_acme_objects() -> None:
    cert = {
        "Subject": "CN=host01.example.jp",
        "NotAfter": "2025-03-01T09:00:00+09:00",
        "Thumbprint": "ab" * 20,
    }
    order = {
        "Name": "host01.example.jp",
        "MainDomain": "host01.example.jp",
        "RenewAfter": "2025-01-30T00:00:00Z",
        "status": "valid",
    }
    state = HostState(
        certificate=PACertificate.from_obj(cert), order=PAOrder.from_obj(order), bak_files=("cert.key.bak",)
    )
    info = certificate_info(state)
    assert info.thumbprint == "AB" * 20
    assert info.not_after == datetime(2025, 3, 1, tzinfo=timezone.utc)
    assert info.renew_after == datetime(2025, 1, 30, tzinfo=timezone.utc)
    assert info.order_status == "valid"
    assert info.bak_files == ("cert.key.bak",)
    empty = certificate_info(HostState())
    assert empty.thumbprint is None and empty.window_opens_at() is None


@pytest.mark.parametrize(
    ("state", "expected"), [(3, "Ready"), (1, "Disabled"), ("Disabled", "Disabled"), (None, None)]
)
def test_task_info_from_objects(state: object, expected: str | None) -> None:
    info = TaskInfo.from_objects(
        "poshbridge renew",
        {"TaskName": "poshbridge renew", "State": state},
        {"LastRunTime": "1999-11-30T00:00:00", "LastTaskResult": -2147216609, "NextRunTime": None},
    )
    assert info.exists and info.state == expected
    assert info.last_run_time is None
    assert info.last_task_result == 0x8004131F
    assert TaskInfo.from_objects("x", None, None).exists is False

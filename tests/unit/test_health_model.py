"""The one health model (status and audit): UNKNOWN when the host cannot be read, revocation, fixes,
unusable logs, and "never ran" only when the task says so."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from poshbridge.health.facts import HostState, host_facts
from poshbridge.health.model import (
    CRIT,
    EXIT_CODES,
    OK,
    UNKNOWN,
    WARN,
    CertificateInfo,
    HostFacts,
    Revocation,
    ServedCertificate,
    TaskInfo,
    evaluate,
    worst_level,
)
from poshbridge.inventory.model import HostConfig, IISConfig
from poshbridge.poshacme.model import PACertificate, PAOrder

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
CURRENT = "A" * 40
OLD = "B" * 40


def healthy(**changes: object) -> HostFacts:
    facts = HostFacts(
        host="host01",
        order="host01.example.jp",
        certificate=CertificateInfo(
            thumbprint=CURRENT,
            not_before=NOW - timedelta(days=10),
            not_after=NOW + timedelta(days=80),
            renew_after=NOW + timedelta(days=50),
        ),
        task=TaskInfo(
            exists=True, name="poshbridge renew", state="Ready", last_task_result=0x41303, never_ran=True
        ),
        binding_thumbprint=CURRENT,
        binding_found=True,
        served=ServedCertificate(thumbprint=CURRENT, not_after=NOW + timedelta(days=80)),
        served_revocation=Revocation("good", "", CURRENT),
        current_revocation=Revocation("good", "", CURRENT),
        endpoint="127.0.0.1:443",
    )
    return replace(facts, **changes)  # type: ignore[arg-type]


def codes(facts: HostFacts) -> list[str]:
    return [r.code for r in evaluate(facts, now=NOW).reasons]


def test_a_healthy_host_with_good_ocsp_is_ok_and_never_ran_is_said_only_when_the_task_says_so() -> None:
    verdict = evaluate(healthy(), now=NOW)
    assert verdict.level == OK and verdict.reasons == []
    assert verdict.last_run_state == "never"
    unknown_task = healthy(task=TaskInfo(exists=True, name="t", state="Ready"))
    assert evaluate(unknown_task, now=NOW).last_run_state == "unknown"
    assert evaluate(healthy(task=None), now=NOW).last_run_state == "unknown"


def test_a_host_that_cannot_be_read_is_unknown_with_the_error_never_no_certificate() -> None:
    facts = healthy(
        certificate=None, task=None, binding_thumbprint=None, binding_found=None, current_revocation=None,
        unreachable="unreachable: connection refused (127.0.0.1:5985)",
    )  # fmt: skip
    verdict = evaluate(facts, now=NOW)
    assert verdict.level == UNKNOWN and EXIT_CODES[verdict.level] == 3
    (reason,) = verdict.reasons
    assert reason.code == "not-verifiable" and "connection refused" in reason.message and reason.fix
    assert "no certificate" not in verdict.summary
    # what can be checked from here still counts: a served certificate about to expire is CRIT
    soon = replace(facts, served=ServedCertificate(thumbprint=CURRENT, not_after=NOW + timedelta(days=2)))
    assert evaluate(soon, now=NOW).level == CRIT


def test_a_revoked_served_certificate_is_crit_with_a_fix() -> None:
    revoked = Revocation("revoked", "revoked at 2026-05-31 10:00 UTC", CURRENT)
    verdict = evaluate(healthy(served_revocation=revoked, current_revocation=revoked), now=NOW)
    assert verdict.level == CRIT
    assert [r.code for r in verdict.reasons] == ["revoked"]  # the same certificate is reported once
    assert "poshbridge setup host01" in verdict.reasons[0].fix


def test_a_revoked_current_certificate_is_crit_even_when_another_is_served() -> None:
    facts = healthy(
        served=ServedCertificate(thumbprint=OLD, not_after=NOW + timedelta(days=80)),
        served_revocation=Revocation("good", "", OLD),
        current_revocation=Revocation("revoked", "", CURRENT),
    )
    assert codes(facts)[0] == "current-revoked" and evaluate(facts, now=NOW).level == CRIT


def test_an_unverifiable_or_unknown_ocsp_answer_is_warn_never_ok() -> None:
    bad = Revocation("unverifiable", "the signature does not verify with the responder's key", CURRENT)
    verdict = evaluate(healthy(served_revocation=bad, current_revocation=bad), now=NOW)
    assert verdict.level == WARN and [r.code for r in verdict.reasons] == ["revocation-unverifiable"]
    assert "signature" in verdict.reasons[0].message
    for state in ("error", "not-checked"):
        assert codes(healthy(served_revocation=Revocation(state, "x", OLD))) == ["revocation-unverifiable"]
    assert codes(healthy(current_revocation=Revocation("unknown", "", OLD))) == ["current-ocsp-unknown"]
    # ... except for a certificate issued minutes ago: the CA registers it with its responder soon
    young = Revocation("unknown", "", OLD, not_before=NOW - timedelta(minutes=3))
    assert codes(healthy(current_revocation=young)) == []
    old = Revocation("unknown", "", OLD, not_before=NOW - timedelta(hours=1))
    assert codes(healthy(current_revocation=old)) == ["current-ocsp-unknown"]
    # a certificate without an OCSP URL is not a finding
    assert codes(healthy(served_revocation=Revocation("no-url", "", CURRENT))) == []


def test_every_finding_has_a_fix() -> None:
    facts = healthy(
        task=TaskInfo(exists=False, name="t"),
        binding_thumbprint=OLD,
        served=ServedCertificate(error="ConnectionRefusedError"),
        log_problems=["renew-x.json: empty file"],
        collection_errors=["Get-PAOrder: boom"],
        unreachable=None,
    )
    reasons = evaluate(facts, now=NOW).reasons
    assert len(reasons) >= 5 and all(r.fix for r in reasons), reasons
    assert all(set(r.to_json()) == {"level", "code", "message", "fix"} for r in reasons)


def test_an_unusable_log_file_is_warn() -> None:
    verdict = evaluate(HostFacts(host="x.json", log_problems=["x.json: truncated"]), now=NOW)
    assert verdict.level == WARN and verdict.reasons[0].code == "log-unusable"


def test_worst_level_orders_by_severity() -> None:
    assert worst_level([]) == OK
    assert worst_level([WARN, UNKNOWN]) == UNKNOWN
    assert worst_level([UNKNOWN, CRIT, WARN]) == CRIT


def test_task_info_knows_never_from_unknown() -> None:
    never = TaskInfo.from_objects("t", {"TaskName": "t", "State": 3}, {"LastTaskResult": 0x41303})
    assert never.never_ran is True
    never_date = TaskInfo.from_objects("t", {"TaskName": "t"}, {"LastRunTime": "1999-11-30T00:00:00"})
    assert never_date.never_ran is True
    info = {"LastRunTime": "2026-05-31T03:17:00Z", "LastTaskResult": 0}
    ran = TaskInfo.from_objects("t", {"TaskName": "t"}, info)
    assert ran.never_ran is False
    assert TaskInfo.from_objects("t", {"TaskName": "t"}, None).never_ran is None


HOST = HostConfig(
    name="host01",
    address="127.0.0.1",
    domains=("host01.example.jp",),
    webroot="C:\\inetpub\\wwwroot",
    iis=IISConfig(site="host01", port=443),
)


def _status(
    *,
    unreachable: str | None = None,
    served: ServedCertificate | None = None,
    **changes: object,
) -> HostFacts:
    """What status knows of a host read with the one host-state model (Posh-ACME, task and bindings read)."""
    values: dict[str, object] = {
        "order": PAOrder(name="host01.example.jp", status="valid"),
        "certificate": None,
        "poshacme_read": True,
        "task": TaskInfo(exists=True, name="poshbridge renew", state="Ready", last_task_result=0x41303),
        "bindings": (),
        "binding": None,
        "bak_files": (),
    }
    values.update(changes)
    state = HostState(**values)  # type: ignore[arg-type]
    return host_facts(
        HOST,
        state,
        served=served or ServedCertificate(error="ConnectionRefusedError: [Errno 111]"),
        unreachable=unreachable,
    )


def test_status_of_a_host_without_a_certificate_is_not_ok() -> None:
    verdict = evaluate(_status(), now=NOW)
    assert verdict.level == CRIT and "no-certificate" in [r.code for r in verdict.reasons]


def test_status_of_a_host_with_only_bak_files_left_is_not_ok() -> None:
    served = ServedCertificate(thumbprint=OLD, not_after=NOW + timedelta(days=40))
    verdict = evaluate(_status(bak_files=("cert.cer.bak",), served=served), now=NOW)
    assert verdict.level != OK
    assert "renewal-incomplete" in [r.code for r in verdict.reasons]


def test_status_facts_of_an_unreachable_host_know_nothing_of_its_state() -> None:
    facts = _status(unreachable="auth: 401", certificate=PACertificate(thumbprint=CURRENT))
    assert facts.certificate is None and facts.task is None and facts.binding_found is None
    served = ServedCertificate(thumbprint=OLD, not_after=NOW + timedelta(days=60))
    verdict = evaluate(replace(facts, served=served), now=NOW)
    assert verdict.level == UNKNOWN
    assert [r.code for r in verdict.reasons] == ["not-verifiable"]  # no "served-drift", no "no-certificate"

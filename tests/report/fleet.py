"""A small, realistic fleet of audit verdicts for the report tests: OK, WARN (a failed run, explained),
CRIT (expires soon, another thumbprint served), and a host never set up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from poshbridge.audit.transcript import RenewalRun, pair_runs, parse_transcript
from poshbridge.audit.verdict import (
    CertificateInfo,
    HostFacts,
    HostVerdict,
    ServedCertificate,
    TaskInfo,
    evaluate,
)

FIXTURES = Path(__file__).resolve().parents[1] / "audit" / "fixtures"
NOW = datetime(2024, 12, 28, 12, 0, tzinfo=timezone.utc)
GROUPS = {
    "web01.tokyo": ["web", "tokyo"],
    "web02.osaka": ["web", "osaka"],
    "shop01": ["shop"],
    "mail01": ["mail"],
}


def _thumb(seed: str) -> str:
    return (seed.encode().hex().upper() * 20)[:40]


def _runs(*names: str) -> list[RenewalRun]:
    """Fixture transcripts under the names the renewal script gives them (renew-<UTC stamp>.txt)."""
    transcripts = []
    for name in names:
        parsed = parse_transcript((FIXTURES / name).read_bytes(), name)
        start = parsed.sessions[0].start
        assert start is not None
        transcripts.append(
            parse_transcript((FIXTURES / name).read_bytes(), f"renew-{start:%Y%m%d-%H%M%S}.txt")
        )
    return pair_runs(transcripts, [])


def fleet() -> list[HostVerdict]:
    task = TaskInfo(exists=True, name="poshbridge renew", state="Ready", last_task_result=0)
    facts = [
        HostFacts(
            host="web01.tokyo",
            certificate=CertificateInfo(
                thumbprint=_thumb("a"),
                not_after=NOW + timedelta(days=70),
                not_before=NOW - timedelta(days=20),
            ),
            served=ServedCertificate(thumbprint=_thumb("a"), not_after=NOW + timedelta(days=70)),
            task=task,
            runs=_runs("ps51_not_due_47.txt"),
        ),
        HostFacts(
            host="web02.osaka",
            certificate=CertificateInfo(
                thumbprint=_thumb("b"),
                not_after=NOW + timedelta(days=25),
                not_before=NOW - timedelta(days=65),
            ),
            served=ServedCertificate(thumbprint=_thumb("b"), not_after=NOW + timedelta(days=25)),
            task=TaskInfo(exists=True, name="poshbridge renew", state="Ready", last_task_result=1),
            runs=_runs("ps51_failed_acme.txt"),
        ),
        HostFacts(
            host="shop01",
            certificate=CertificateInfo(
                thumbprint=_thumb("c"), not_after=NOW + timedelta(days=5), not_before=NOW - timedelta(days=85)
            ),
            served=ServedCertificate(thumbprint=_thumb("d"), not_after=NOW + timedelta(days=5)),
            task=task,
            runs=_runs("ps51_renewed.txt"),
        ),
        HostFacts(
            host="mail01",
            certificate=CertificateInfo(),
            task=TaskInfo(exists=False, name="poshbridge renew"),
            served=ServedCertificate(error="SSLError: handshake failure"),
        ),
    ]
    return [evaluate(f, now=NOW) for f in facts]

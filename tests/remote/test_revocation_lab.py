"""Revocation against the lab: after ``revoke``, status and audit say the certificate is revoked (a
verified OCSP answer from the lab's responder), and setup / renew replace it instead of keeping it."""

from __future__ import annotations

from pathlib import Path

from labkit import LabHandle
from test_ops_lab import cli, served_and_issuer


def _codes(entry: dict[str, object]) -> list[str]:
    reasons = entry["reasons"]
    assert isinstance(reasons, list)
    return [str(r["code"]) for r in reasons]


def test_a_revoked_certificate_is_reported_then_replaced_by_setup_and_renew(
    lab: LabHandle, lab_host: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    setup = cli(lab.inventory, state, "setup", lab_host, "--json")
    assert setup.code == 0, setup
    first = setup.host(lab_host)["objects"]["certificate"]["thumbprint"]
    healthy = cli(lab.inventory, state, "status", lab_host, "--json")
    assert healthy.code == 0, healthy
    assert healthy.host(lab_host)["objects"]["health"]["revocation"]["served"]["state"] == "good", healthy

    assert cli(lab.inventory, state, "revoke", lab_host, "--yes", "--json").code == 0

    status = cli(lab.inventory, state, "status", lab_host, "--json")
    assert status.code == 1, status
    health = status.host(lab_host)["objects"]["health"]
    assert health["verdict"] == "CRIT" and "revoked" in _codes(health), health
    assert health["revocation"]["served"]["thumbprint"] == first
    text = cli(lab.inventory, state, "status", lab_host)
    assert "is revoked" in text.stdout and f"poshbridge setup {lab_host}" in text.stdout, text

    audit = cli(lab.inventory, state, "audit", lab_host, "--json")
    assert audit.code == 2, audit
    (verdict,) = audit.doc["hosts"]
    assert verdict["verdict"] == "CRIT" and "revoked" in _codes(verdict), verdict

    # setup does not keep it: "all unchanged" would leave a revoked certificate in service
    dry = cli(lab.inventory, state, "setup", lab_host, "--dry-run", "--json")
    assert dry.code == 0 and dry.steps(lab_host)["certificate"] == "changed", dry
    detail = next(s["detail"] for s in dry.host(lab_host)["steps"] if s["name"] == "certificate")
    assert "revoked" in detail and "Submit-Renewal" in " ".join(
        c for s in dry.host(lab_host)["steps"] for c in s["commands"]
    ), dry
    assert served_and_issuer(lab, lab_host)[0].thumbprint == first  # a dry run changes nothing
    replaced = cli(lab.inventory, state, "setup", lab_host, "--json")
    assert replaced.code == 0, replaced
    steps = replaced.steps(lab_host)
    assert steps["certificate"] == "changed" and steps["iis-binding"] == "changed", replaced
    second = replaced.host(lab_host)["objects"]["certificate"]["thumbprint"]
    assert second != first
    served, _issuer = served_and_issuer(lab, lab_host)
    assert served.thumbprint == second
    after = cli(lab.inventory, state, "status", lab_host, "--json")
    assert after.code == 0 and after.host(lab_host)["objects"]["status"]["health"] == "OK", after
    # the expiry thresholds are the audit's
    near = cli(lab.inventory, state, "status", lab_host, "--warn-days", "100000", "--json")
    assert near.code == 1 and "expires-warn" in _codes(near.host(lab_host)["objects"]["health"]), near

    # renew (not forced, not due) replaces a revoked certificate too
    assert cli(lab.inventory, state, "revoke", lab_host, "--yes", "--json").code == 0
    renewed = cli(lab.inventory, state, "renew", lab_host, "--json")
    assert renewed.code == 0, renewed
    assert renewed.host(lab_host)["objects"]["renewal"]["outcome"] == "renewed", renewed
    assert renewed.host(lab_host)["objects"]["revocation"]["state"] == "revoked"
    third = renewed.host(lab_host)["objects"]["certificate"]["thumbprint"]
    assert third not in (first, second)
    assert served_and_issuer(lab, lab_host)[0].thumbprint == third
    assert cli(lab.inventory, state, "status", lab_host, "--json").code == 0

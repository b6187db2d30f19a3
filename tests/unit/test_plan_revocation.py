"""What revocation changes in the plans: a revoked current certificate is renewed at once."""

from __future__ import annotations

from poshbridge.inventory.model import HostConfig
from poshbridge.plan.revocation import R_BAK, replace_revoked_step, status_files_batch
from poshbridge.plan.setup import STEP_CERT
from poshbridge.poshacme.model import PACertificate

HOST = HostConfig(name="h", address="a", domains=("example.jp", "www.example.jp"), webroot="C:\\w")


def test_a_revoked_certificate_is_replaced_with_a_forced_renewal() -> None:
    step = replace_revoked_step(HOST, "AB" * 20, "revoked at 2026-06-01 10:00 UTC")
    assert step.name == STEP_CERT and step.status == "changed"
    assert "revoked" in step.reason and "AB" * 20 in step.reason
    commands = step.commands
    renew = next(c for c in commands if c.startswith("Submit-Renewal"))
    assert f"-Name '{HOST.order_name}'" in renew and "-Force" in renew, commands
    assert any(c.startswith("Get-PACertificate") for c in commands)


def test_status_reads_the_certificate_files_and_the_bak_list() -> None:
    cert = PACertificate(thumbprint="AB" * 20, cert_file="C:\\p\\cert.cer", chain_file="C:\\p\\chain.cer")
    labels = [s.label for s in status_files_batch(HOST, cert).statements]
    assert labels == ["file:cert", "file:chain", R_BAK]
    assert [s.label for s in status_files_batch(HOST, None).statements] == [R_BAK]

"""What revocation changes in the plans: a revoked current certificate is renewed at once."""

from __future__ import annotations

from poshbridge.inventory.model import HostConfig
from poshbridge.plan.revocation import replace_revoked_step
from poshbridge.plan.setup import STEP_CERT

HOST = HostConfig(name="h", address="a", domains=("example.jp", "www.example.jp"), webroot="C:\\w")


def test_a_revoked_certificate_is_replaced_with_a_forced_renewal() -> None:
    step = replace_revoked_step(HOST, "AB" * 20, "revoked at 2026-06-01 10:00 UTC")
    assert step.name == STEP_CERT and step.status == "changed"
    assert "revoked" in step.reason and "AB" * 20 in step.reason
    commands = step.commands
    renew = next(c for c in commands if c.startswith("Submit-Renewal"))
    assert f"-Name '{HOST.order_name}'" in renew and "-Force" in renew, commands
    assert any(c.startswith("Get-PACertificate") for c in commands)

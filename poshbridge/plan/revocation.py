"""What revocation changes in the plans (pure).

Posh-ACME does not mark an order when its certificate is revoked (``Revoke-PACertificate`` only sends
the ACME request: Posh-ACME/Public/Revoke-PACertificate.ps1), so the order stays ``valid`` and
``New-PACertificate`` / ``Submit-Renewal`` would keep the revoked certificate until the renewal
window. Only the CA's OCSP responder tells; when it says ``revoked`` (a verified answer), setup and
renew replace the certificate with ``Submit-Renewal -Force`` (a new order with the same names, key
settings and plugin), then bind it like any new certificate.
"""

from __future__ import annotations

from poshbridge.inventory.model import HostConfig
from poshbridge.plan.setup import STEP_CERT, Step, env_statement
from poshbridge.poshacme import calls
from poshbridge.powershell.command import Statement


def replace_revoked_step(host: HostConfig, thumbprint: str, detail: str) -> Step:
    """The certificate step when Posh-ACME's current certificate is revoked: renew it at once."""
    why = f"the current certificate {thumbprint} is revoked (OCSP{': ' + detail if detail else ''})"
    return Step(
        STEP_CERT,
        "changed",
        f"{why}: replace it (Submit-Renewal -Force)",
        (
            env_statement(host),
            Statement((calls.submit_renewal(host.order_name, force=True),), "certificate:replace"),
            Statement((calls.get_pa_certificate(host.order_name),), "certificate:get"),
        ),
    )

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
from poshbridge.plan.setup import STEP_CERT, Step, cert_files_batch, env_statement
from poshbridge.poshacme import calls
from poshbridge.poshacme.model import PACertificate
from poshbridge.powershell.command import SWITCH, Batch, Cmd, Statement

R_BAK = "read:bak"


def status_files_batch(host: HostConfig, cert: PACertificate | None) -> Batch:
    """The current certificate and its chain (for the OCSP checks) and the ``*.bak`` files under the
    Posh-ACME home (a renewal that failed mid-way leaves only those)."""
    batch = cert_files_batch(host, cert) if cert is not None else Batch()
    batch.add(
        Cmd.of(
            "Get-ChildItem",
            Path=host.acme.poshacme_home,
            Filter="*.bak",
            Recurse=SWITCH,
            Name=SWITCH,
            ErrorAction="SilentlyContinue",
        ),
        label=R_BAK,
    )
    return batch


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

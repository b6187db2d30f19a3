"""The renew plan and the reading of Submit-Renewal's answer. Pure.

``Submit-Renewal -Name <order> [-Force]`` answers in one of three ways (Posh-ACME 4.x):

- a ``PoshACME.PACertificate`` object → **renewed** (then OCSP wait, bind, verify, like setup);
- nothing, with the warning ``... is not recommended for renewal yet. Use -Force to override.`` →
  **not due** (reported with the order's RenewAfter);
- an error (a ``throw`` or a non-terminating error) → **failed**, classified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from poshbridge.inventory.model import HostConfig
from poshbridge.plan.setup import R_CERT, Step, env_statement, poshacme_read_statements
from poshbridge.poshacme import calls
from poshbridge.poshacme.model import PACertificate, PAOrder, dicts, has_type
from poshbridge.powershell.command import Batch, Statement
from poshbridge.timefmt import format_minute

RenewOutcome = Literal["renewed", "not-due", "failed", "skipped"]

STEP_RENEW = "renew"
R_RENEW = "renew:submit"
R_ORDER = "renew:order"

NOT_DUE_MARKERS = ("is not recommended for renewal yet", "not recommended for renewal")
SKIP_MARKERS = ("Skipping renewal for order",)


def renew_batch(host: HostConfig, *, force: bool) -> Batch:
    """One batch: select the state, Submit-Renewal, then read the order and certificate back."""
    statements: list[Statement] = [
        env_statement(host),
        Statement((calls.submit_renewal(host.order_name, force=force),), R_RENEW),
        Statement((calls.get_pa_order(host.order_name),), R_ORDER),
        Statement((calls.get_pa_certificate(host.order_name),), R_CERT),
    ]
    return Batch(statements)


def renew_step(host: HostConfig, *, force: bool) -> Step:
    return Step(
        STEP_RENEW,
        "changed",
        "Submit-Renewal" + (" -Force" if force else "") + f" for order {host.order_name}",
        tuple(renew_batch(host, force=force).statements),
    )


@dataclass(frozen=True)
class RenewAnswer:
    outcome: RenewOutcome
    certificate: PACertificate | None = None
    order: PAOrder | None = None
    renew_after: datetime | None = None
    message: str = ""


def read_renew_answer(
    submit_output: Sequence[Any],
    submit_warnings: Sequence[str],
    submit_failed: bool,
    order_output: Sequence[Any],
    cert_output: Sequence[Any],
) -> RenewAnswer:
    """Outcome of Submit-Renewal from its statement's output, warnings and whether it failed."""
    orders = [PAOrder.from_obj(o) for o in dicts(order_output)]
    order = orders[0] if orders else None
    renewed = [
        PACertificate.from_obj(o) for o in dicts(submit_output) if has_type(o, "PoshACME.PACertificate")
    ]
    if not renewed:
        # a tolerant fallback: an object with a Thumbprint
        renewed = [PACertificate.from_obj(o) for o in dicts(submit_output) if o.get("Thumbprint")]
    certs = [PACertificate.from_obj(o) for o in dicts(cert_output)]
    if submit_failed:
        return RenewAnswer("failed", order=order, renew_after=order.renew_after if order else None)
    if renewed:
        current = certs[0] if certs else renewed[0]
        return RenewAnswer(
            "renewed", certificate=current, order=order, message=f"new certificate {current.thumbprint}"
        )
    not_due = next((w for w in submit_warnings if any(m in w for m in NOT_DUE_MARKERS)), None)
    renew_after = order.renew_after if order else None
    if not_due is not None:
        when = f" (renewal window opens {format_minute(renew_after)} UTC)" if renew_after else ""
        return RenewAnswer(
            "not-due", certificate=certs[0] if certs else None, order=order, renew_after=renew_after,
            message="not due" + when,
        )  # fmt: skip
    skipped = next((w for w in submit_warnings if any(m in w for m in SKIP_MARKERS)), None)
    if skipped is not None:
        return RenewAnswer("skipped", order=order, renew_after=renew_after, message=skipped)
    return RenewAnswer(
        "not-due", certificate=certs[0] if certs else None, order=order, renew_after=renew_after,
        message="Submit-Renewal returned nothing (not due)",
    )  # fmt: skip


def status_batch(host: HostConfig) -> Batch:
    """What ``status`` reads: the one host-state batch ``audit`` reads too (without its log reads)."""
    from poshbridge.hoststate.batch import read_batch

    return read_batch(host)


def revoke_batch(host: HostConfig, *, reason: str | None) -> Batch:
    statements = [
        env_statement(host),
        Statement((calls.revoke_pa_certificate(host.order_name, reason=reason),), "revoke:submit"),
        *poshacme_read_statements(host)[1:],
    ]
    return Batch(statements)

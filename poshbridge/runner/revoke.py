"""``revoke``: Revoke-PACertificate for the host's order (the CLI asks for confirmation first)."""

from __future__ import annotations

from poshbridge.inventory.model import HostConfig
from poshbridge.plan import renew as renew_plan
from poshbridge.plan.setup import Step, facts_from_outputs
from poshbridge.runner.batches import apply_steps, objects_for, outputs_of
from poshbridge.runner.context import Context
from poshbridge.runner.executor import Report
from poshbridge.runner.results import HostRun
from poshbridge.runner.session import Session
from poshbridge.runner.template import finish, run_on_host


def revoke_host(host: HostConfig, ctx: Context, report: Report) -> HostRun:
    def body(session: Session, run: HostRun) -> None:
        report("Revoke-PACertificate")
        batch = renew_plan.revoke_batch(host, reason=ctx.reason)
        step = Step("revoke", "changed", f"revoke the certificate of order {host.order_name}",
                    tuple(batch.statements[:2]))  # fmt: skip
        result, _ok = apply_steps(session, [step], batch.statements[2:], run)
        run.set_step(step)
        outputs, ran = outputs_of(result)
        run.objects.update(objects_for(host, facts_from_outputs(outputs, ran)))

    run = run_on_host(host, ctx, "revoke", body)
    if run.ok:
        run.summary = f"revoked the certificate of {host.order_name}"
    finish(run, ctx)
    return run

"""``setup``: bring a host to the desired state. Read the facts in one batch, plan, apply each step in
an invocation of its own, re-read and plan again until nothing is left to do (a transient failure while
applying: reopen, re-read, re-plan; a changing batch is never re-sent); then replace a revoked
certificate, and wait for OCSP, bind and verify."""

from __future__ import annotations

import logging
from dataclasses import replace

from poshbridge.inventory.model import HostConfig
from poshbridge.plan import setup as setup_plan
from poshbridge.plan.setup import (
    STEP_BIND,
    STEP_CERT,
    STEP_OCSP,
    STEP_VERIFY,
    Desired,
    SetupFacts,
    Step,
    facts_from_outputs,
)
from poshbridge.remote.outcome import RemoteConnectionError
from poshbridge.runner.batches import apply_steps, objects_for, outputs_of, record_statement_errors, run_reads
from poshbridge.runner.certfiles import current_revocation
from poshbridge.runner.context import Context
from poshbridge.runner.desired import desired_state
from poshbridge.runner.executor import Report
from poshbridge.runner.results import HostRun
from poshbridge.runner.session import Session
from poshbridge.runner.template import finish, run_on_host
from poshbridge.runner.verify import ocsp_bind_verify

log = logging.getLogger(__name__)


def setup_host(host: HostConfig, ctx: Context, report: Report) -> HostRun:
    wanted: list[Desired] = []

    def prepare(_run: HostRun) -> None:
        wanted.append(desired_state(host, ctx))

    def body(session: Session, run: HostRun) -> None:
        desired = wanted[0]
        report("reading facts")
        first = run_reads(session, setup_plan.read_batch(host))
        record_statement_errors(run, "read", first.statements)
        outputs, ran = outputs_of(first)
        facts = replace(facts_from_outputs(outputs, ran), ps_edition=session.ps_edition)
        final: dict[str, Step] = {}
        applied: set[str] = set()
        replans = 0
        for _round in range(6 + ctx.retries):
            plan = setup_plan.plan_setup(host, facts, desired, install_modules=ctx.install_modules)
            for step in plan.steps:
                earlier = final.get(step.name)
                if earlier is None or earlier.status in ("pending", "unchanged"):
                    final[step.name] = step
                if step.status == "failed" and not any(e.step == step.name for e in run.errors):
                    run.fail(step.name, "plan", step.reason)
            # a step applied once in this run is not sent again (the host may report it differently)
            to_apply = [s for s in plan.to_apply if s.name not in applied]
            if plan.blocked or ctx.dry_run or not to_apply:
                break
            report("applying: " + ", ".join(s.name for s in to_apply))
            log.debug("%s: plan round %d: applying %s", host.name, _round + 1, [s.name for s in to_apply])
            try:
                result, ok = apply_steps(session, to_apply, setup_plan.read_statements(host), run)
            except RemoteConnectionError as exc:
                # a changing batch is never re-sent: re-read the facts and plan again
                if not exc.transient or replans >= ctx.retries:
                    raise
                replans += 1
                report(f"{exc.kind} while applying: re-reading the facts to plan again")
                session.reopen()
                again = run_reads(session, setup_plan.read_batch(host))
                outputs, ran = outputs_of(again)
                facts = facts_from_outputs(outputs, ran, previous=facts)
                continue
            applied.update(s.name for s in to_apply)
            for step in to_apply:
                final[step.name] = step
            outputs, ran = outputs_of(result)
            facts = facts_from_outputs(outputs, ran, previous=facts)
            if not ok:
                break
        run.steps = [final[name] for name in setup_plan.SETUP_STEP_ORDER if name in final]
        for step in run.steps:
            if step.status == "pending" and not ctx.dry_run:
                step.status = "skipped"
                step.detail = "not run: " + step.reason
        facts = replace_if_revoked(session, host, facts, ctx, run, report)
        cert_step = run.step(STEP_CERT)
        cert_ready = run.ok and cert_step is not None and cert_step.status in ("changed", "unchanged")
        if cert_ready or ctx.dry_run:
            facts = ocsp_bind_verify(session, host, facts, ctx, run, report)
        else:
            for name in (STEP_OCSP, STEP_BIND, STEP_VERIFY):
                run.set_step(Step(name, "skipped", "needs a certificate"))
        run.objects.update(objects_for(host, facts))

    run = run_on_host(host, ctx, "setup", body, prepare=prepare)
    finish(run, ctx)
    return run


def replace_if_revoked(
    session: Session, host: HostConfig, facts: SetupFacts, ctx: Context, run: HostRun, report: Report
) -> SetupFacts:
    """Posh-ACME keeps a revoked certificate as current (its order stays valid): when the CA's OCSP
    responder says revoked (a verified answer), replace it now (plan/revocation.py)."""
    from poshbridge.plan.revocation import replace_revoked_step

    cert_step = run.step(STEP_CERT)
    cert = facts.certificate
    if not run.ok or cert_step is None or cert_step.status != "unchanged":
        return facts
    if cert is None or not cert.thumbprint:
        return facts
    report("checking revocation (OCSP)")
    revocation = current_revocation(session, host, cert, ctx.now)
    if revocation is not None:
        run.objects["revocation"] = revocation.to_json()
    if revocation is None or revocation.state != "revoked":
        return facts
    step = replace_revoked_step(host, cert.thumbprint, revocation.detail)
    if ctx.dry_run:
        run.set_step(step)
        return facts
    report("replacing the revoked certificate")
    result, _ok = apply_steps(session, [step], setup_plan.read_statements(host), run)
    run.set_step(step)
    outputs, ran = outputs_of(result)
    return facts_from_outputs(outputs, ran, previous=facts)

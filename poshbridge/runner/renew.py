"""``renew``: Submit-Renewal for the host's order now (what the scheduled task does); a revoked current
certificate is renewed at once (-Force); when renewed: wait for OCSP, bind, verify."""

from __future__ import annotations

from poshbridge.inventory.model import HostConfig
from poshbridge.plan import renew as renew_plan
from poshbridge.plan import setup as setup_plan
from poshbridge.plan.setup import SetupFacts, Step, facts_from_outputs
from poshbridge.powershell.command import Batch
from poshbridge.remote.outcome import RemoteError
from poshbridge.runner.batches import (
    classify_remote_error,
    is_expected_read_error,
    objects_for,
    outputs_of,
    record_statement_errors,
    run_reads,
)
from poshbridge.runner.certfiles import current_revocation
from poshbridge.runner.context import Context
from poshbridge.runner.executor import Report
from poshbridge.runner.results import HostRun
from poshbridge.runner.session import Session
from poshbridge.runner.template import finish, run_on_host
from poshbridge.runner.verify import ocsp_bind_verify


def renew_host(host: HostConfig, ctx: Context, report: Report) -> HostRun:
    def body(session: Session, run: HostRun) -> None:
        report("reading facts")
        first = run_reads(session, setup_plan.read_batch(host))
        record_statement_errors(run, "read", first.statements)
        outputs, ran = outputs_of(first)
        facts = facts_from_outputs(outputs, ran)
        if facts.order_named(host.order_name) is None:
            run.set_step(
                Step(renew_plan.STEP_RENEW, "failed", f"no order {host.order_name}: run setup first")
            )
            run.fail(renew_plan.STEP_RENEW, "plan", f"no Posh-ACME order named {host.order_name} on the host")
        else:
            force, revoked = ctx.force, ""
            if not force and facts.certificate is not None and facts.certificate.thumbprint:
                report("checking revocation (OCSP)")
                revocation = current_revocation(session, host, facts.certificate, ctx.now)
                if revocation is not None and revocation.state == "revoked":
                    # a revoked current certificate is replaced at once, not kept until it is due
                    force = True
                    revoked = f"the current certificate {revocation.thumbprint} is revoked: "
                    run.objects["revocation"] = revocation.to_json()
            step = renew_plan.renew_step(host, force=force)
            report("Submit-Renewal" + (" -Force" if force else ""))
            result = session.run(Batch(list(step.statements)))
            submit = result.by_label(renew_plan.R_RENEW)
            errors = submit.errors if submit is not None else result.errors
            answer = renew_plan.read_renew_answer(
                submit.output if submit else [],
                submit.warnings if submit else [],
                bool(errors) or (submit is not None and not submit.ran),
                result.output(renew_plan.R_ORDER),
                result.output(setup_plan.R_CERT),
            )
            run.objects["renewal"] = {
                "outcome": answer.outcome,
                "renew_after": answer.renew_after.isoformat().replace("+00:00", "Z")
                if answer.renew_after
                else None,
                "message": answer.message,
            }
            reported: list[RemoteError] = []
            if answer.outcome == "failed":
                first_error = next((e for e in errors if e.terminating), errors[0] if errors else None)
                step.status = "failed"
                if first_error is not None:
                    kind, problem = classify_remote_error(first_error, context="http-01")
                    step.detail = first_error.message
                    run.fail(step.name, kind, first_error.message, problem)
                else:
                    cause = next((e for e in result.errors if not is_expected_read_error(e)), None)
                    reported.extend([cause] if cause else [])
                    step.detail = "Submit-Renewal did not run" + (f": {cause}" if cause else "")
                    run.fail(step.name, "powershell", step.detail)
                run.set_step(step)
            elif answer.outcome == "renewed":
                step.status = "changed"
                step.detail = revoked + answer.message
                run.set_step(step)
                facts = SetupFacts(**{**facts.__dict__, "certificate": answer.certificate})
                facts = ocsp_bind_verify(session, host, facts, ctx, run, report)
            elif answer.outcome == "skipped":
                # Submit-Renewal answers with a warning only, but nothing was renewed: a failure
                step.status = "failed"
                step.detail = (
                    f"Posh-ACME skipped the order because of its plugin ({answer.message});"
                    f" the order needs the {host.acme.plugin} plugin: run setup"
                )
                run.fail(step.name, "plan", step.detail)
                run.set_step(step)
            else:
                step.status = "unchanged"
                step.detail = answer.message
                run.set_step(step)
                run.summary = answer.message
            # the env statement and the order/certificate re-reads: their errors count too
            others = [s for s in result.statements if s.label != renew_plan.R_RENEW]
            record_statement_errors(run, step.name, others, skip=reported)
            if answer.certificate is not None and answer.outcome != "renewed":
                facts = SetupFacts(**{**facts.__dict__, "certificate": answer.certificate})
        run.objects.update(objects_for(host, facts))

    run = run_on_host(host, ctx, "renew", body)
    renewed = run.step(renew_plan.STEP_RENEW)
    if run.ok and renewed is not None and renewed.status == "changed":
        run.summary = renewed.detail
    finish(run, ctx)
    return run

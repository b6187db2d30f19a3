"""After a new certificate: wait until the CA's OCSP responder knows it (from the control node, within
the host's deadline), bind it in IIS, and check with a TLS handshake what the site serves."""

from __future__ import annotations

from typing import Any

from poshbridge.inventory.model import HostConfig
from poshbridge.plan import setup as setup_plan
from poshbridge.plan.setup import STEP_BIND, STEP_OCSP, STEP_VERIFY, SetupFacts, Step, facts_from_outputs
from poshbridge.remote.outcome import RemoteInterrupted
from poshbridge.runner.batches import apply_steps, outputs_of
from poshbridge.runner.context import Context
from poshbridge.runner.executor import Report
from poshbridge.runner.results import HostRun
from poshbridge.runner.session import Session


def ocsp_bind_verify(
    session: Session, host: HostConfig, facts: SetupFacts, ctx: Context, run: HostRun, report: Report
) -> SetupFacts:
    from poshbridge.remote import ocsp, tls

    bind = setup_plan.plan_binding(host, facts)
    cert = facts.certificate
    if bind.status == "changed" and cert is not None and not ctx.dry_run:
        # OCSP: read the leaf and its issuer from the host, poll from here
        report("reading the certificate for OCSP")
        files = session.run(setup_plan.cert_files_batch(host, cert), idempotent=True)
        outputs, _ran = outputs_of(files)
        leaf_list = ocsp.load_pem_certificates("".join(str(v) for v in outputs.get("file:cert", [])))
        chain = ocsp.load_pem_certificates("".join(str(v) for v in outputs.get("file:chain", [])))
        control = ctx.control(host.name)
        # the OCSP wait counts against the host's deadline (--host-timeout)
        cap = max(0.0, min(float(host.renewal.wait_after_renewal), control.remaining() - 5))
        if not leaf_list:
            run.set_step(Step(STEP_OCSP, "failed", "could not read the certificate file from the host"))
            run.fail(STEP_OCSP, "ocsp", f"{cert.cert_file}: not readable")
            return facts

        def tick(left: float, state: str) -> None:
            report(f"OCSP {state}: waiting ({int(left)} s left)")

        def interruptible_sleep(seconds: float) -> None:
            if ctx.stop.wait(seconds):
                raise RemoteInterrupted(host.name, "interrupted while waiting for OCSP")

        kwargs: dict[str, Any] = {"cap_seconds": cap, "on_tick": tick, "sleep": interruptible_sleep}
        if ctx.sleep is not None:
            kwargs["sleep"] = ctx.sleep
        if ctx.clock is not None:
            kwargs["clock"] = ctx.clock
        waited = ocsp.wait_until_good(leaf_list[0], chain[0] if chain else None, **kwargs)
        run.objects["ocsp"] = waited.to_json()
        if waited.state == "revoked":
            run.set_step(Step(STEP_OCSP, "failed", "the OCSP responder says the certificate is revoked"))
            run.fail(STEP_OCSP, "ocsp", "certificate revoked according to OCSP; not binding it")
            return facts
        detail = {
            "good": f"OCSP good after {waited.waited:.0f} s ({waited.polls} poll(s))",
            "no-url": f"no OCSP URL in the certificate: waited {waited.waited:.0f} s",
        }.get(
            waited.state,
            f"OCSP still {waited.state} after {waited.waited:.0f} s (cap {cap:.0f} s): binding anyway",
        )
        run.set_step(Step(STEP_OCSP, "changed", detail))
        report("binding the certificate in IIS")
        result, ok = apply_steps(session, [bind], (), run)
        run.set_step(bind)
        outputs, ran = outputs_of(result)
        facts = facts_from_outputs(outputs, ran, previous=facts)
        if not ok:
            run.set_step(Step(STEP_VERIFY, "skipped", "binding failed"))
            return facts
    else:
        if ctx.dry_run and bind.status == "skipped":
            bind = Step(STEP_BIND, "pending", "bind the new certificate once it exists (after the OCSP wait)")
        if cert is None or not cert.thumbprint:
            run.set_step(Step(STEP_OCSP, "skipped" if not ctx.dry_run else "pending", "no certificate yet"))
        elif bind.status != "changed":
            run.set_step(Step(STEP_OCSP, "unchanged", "the bound certificate is not new"))
        else:
            run.set_step(
                Step(STEP_OCSP, "pending", f"poll OCSP, at most {host.renewal.wait_after_renewal} s")
            )
        run.set_step(bind)
    if cert is None or not cert.thumbprint:
        run.set_step(
            Step(STEP_VERIFY, "skipped" if not ctx.dry_run else "pending", "nothing served to check yet")
        )
        return facts
    if ctx.dry_run and bind.status == "changed":
        run.set_step(Step(STEP_VERIFY, "pending", f"check that the site serves {cert.thumbprint} once bound"))
        return facts
    # a dry run on a set-up host checks what is served now (a TLS handshake changes nothing)
    report("checking what the site serves")
    served = (ctx.probe or tls.probe)(host)
    run.objects["served"] = served.to_json()
    if served.thumbprint == cert.thumbprint:
        # right after a new certificate was bound, what the site serves did change
        newly = bind.status == "changed" and not ctx.dry_run
        serves = "now serves" if newly else "serves"
        detail = f"{served.endpoint} (SNI {served.sni}) {serves} {served.thumbprint}"
        run.set_step(Step(STEP_VERIFY, "changed" if newly else "unchanged", detail))
    else:
        what = served.error or f"serves {served.thumbprint}"
        run.set_step(
            Step(
                STEP_VERIFY,
                "failed",
                f"{served.endpoint} (SNI {served.sni}) {what}, expected {cert.thumbprint}",
            )
        )
        run.fail(STEP_VERIFY, "verify", f"the site does not serve the new certificate: {what}")
    return facts

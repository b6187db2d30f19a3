"""``status``: read the host, probe what the site serves, check revocation (OCSP) of the served and
the current certificate, and judge it with the one health model (the rules ``audit`` uses)."""

from __future__ import annotations

from poshbridge.inventory.model import HostConfig
from poshbridge.plan import renew as renew_plan
from poshbridge.remote.outcome import RemoteConnectionError
from poshbridge.runner.batches import record_statement_errors, run_reads
from poshbridge.runner.context import Context
from poshbridge.runner.executor import Report
from poshbridge.runner.results import ErrorInfo, HostRun
from poshbridge.runner.session import open_session
from poshbridge.runner.template import fail_connection, finish


def status_host(host: HostConfig, ctx: Context, report: Report) -> HostRun:
    """Read the host, probe what the site serves, check revocation (OCSP) of the served and the
    current certificate, and judge it with the one health model (the rules ``audit`` uses)."""
    from poshbridge.health.model import OK, UNKNOWN, evaluate
    from poshbridge.hoststate.state import HostState, host_facts, read_state
    from poshbridge.remote import tls
    from poshbridge.runner import certfiles

    run = HostRun(host.name, "status", started=ctx.now())
    unreachable: str | None = None
    files = certfiles.CertFiles()
    try:
        with open_session(host, ctx) as session:
            report("reading facts")
            read = run_reads(session, renew_plan.status_batch(host))
            record_statement_errors(run, "read", read.statements)
            state = read_state(host, read.statements)  # the one host-state model (audit's too)
            run.objects.update(state.objects())
            report("reading the certificate files")
            files = certfiles.read_cert_files(session, state.certificate)
    except RemoteConnectionError as exc:
        fail_connection(run, exc)
        unreachable = f"{exc.kind}: {exc.message}"
        state = HostState()
    report("checking what the site serves")
    served = (ctx.probe or tls.probe)(host)
    run.objects["served"] = served.to_json()
    report("checking revocation (OCSP)")
    revocations = certfiles.check(served.der, files, ctx.now)
    cert = state.certificate
    order = state.order
    now = ctx.now()
    health_facts = host_facts(host, state, served=served, unreachable=unreachable, revocations=revocations)
    verdict = evaluate(health_facts, now=now, warn_days=ctx.warn_days, crit_days=ctx.crit_days)
    days = cert.days_left(now) if cert else None
    run.objects["status"] = {
        "order": host.order_name,
        "sans": list(order.all_names) if order else list(cert.all_sans) if cert else [],
        "not_after": cert.to_json()["not_after"] if cert else None,
        "days_left": round(days, 1) if days is not None else None,
        "renew_after": order.to_json()["renew_after"] if order else None,
        "thumbprint": cert.thumbprint if cert else None,
        "served_thumbprint": served.thumbprint,
        "served_matches": bool(cert and served.thumbprint == cert.thumbprint),
        "state_read": unreachable is None,
        "task_state": state.task.state if state.task else None,
        "task_last_result": state.task.last_task_result if state.task else None,
        "task_last_run": state.task.to_json()["last_run_time"] if state.task else None,
        "health": verdict.level,
    }
    run.objects["health"] = verdict.to_json(include_runs=False)
    # the verdict decides: every finding fails the host with its reason and fix (a connection failure
    # is already the "connect" error: not verifiable, never "no certificate")
    for reason in verdict.reasons:
        if (reason.level == UNKNOWN and unreachable is not None) or reason.code == "collection":
            continue  # already the "connect" / "read" error
        message = f"{reason.level}: {reason.message}"
        run.errors.append(ErrorInfo("health", reason.code, message, hint=reason.fix))
    if unreachable is not None:
        run.summary = f"{verdict.level}: host state not verifiable: connection failed: {unreachable}"
    elif verdict.level == OK:
        run.summary = f"OK: {cert.thumbprint} until {cert.to_json()['not_after']}" if cert else "OK"
    else:
        run.summary = f"{verdict.level}: {verdict.summary}"
    finish(run, ctx)
    return run

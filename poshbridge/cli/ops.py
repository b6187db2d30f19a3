"""``setup``, ``renew``, ``status``, ``revoke``: remote operations across hosts.

Per host (in parallel, ``--parallel`` at a time): one HostSession (one RunspacePool) → read facts in
one batch → plan → apply in as few batches as dependencies allow → OCSP wait and TLS check from the
control node → a :class:`HostRun` (steps, objects, classified errors) → history → render.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from poshbridge import __version__
from poshbridge.audit.task_results import describe_task_result
from poshbridge.cli.common import INSECURE_HELP
from poshbridge.cli.interrupt import EXIT_INTERRUPTED, InterruptHandler
from poshbridge.cli.next_steps import setup_next_line
from poshbridge.cli.tables import render_records
from poshbridge.inventory.model import HostConfig
from poshbridge.output import make_console
from poshbridge.plan import renew as renew_plan
from poshbridge.plan import setup as setup_plan
from poshbridge.plan.setup import (
    STEP_ACCOUNT,
    STEP_BIND,
    STEP_CERT,
    STEP_OCSP,
    STEP_VERIFY,
    Desired,
    SetupFacts,
    Step,
    facts_from_outputs,
)
from poshbridge.poshacme.model import ObjectsView
from poshbridge.poshacme.problems import AcmeProblem, is_acme_related, problem_from_exception_data
from poshbridge.powershell.command import Batch, Secret, SecureSecret
from poshbridge.remote.control import DEFAULT_HOST_TIMEOUT, HostControl, Ticker
from poshbridge.remote.fleet import Report, make_view, run_fleet
from poshbridge.remote.retry import DEFAULT_RETRIES, RetryPolicy
from poshbridge.remote.session import (
    BatchResult,
    HostSession,
    RemoteConnectionError,
    RemoteError,
    RemoteInterrupted,
    StatementResult,
    transport_warnings,
)
from poshbridge.textsafe import safe_json_text, safe_text

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


# ----- results --------------------------------------------------------------------------------------


@dataclass
class ErrorInfo:
    step: str
    kind: str  # unreachable|auth|tls|timeout|dropped|protocol|config|acme|powershell|plan|verify|ocsp|crash
    message: str
    acme_problem: AcmeProblem | None = None
    hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "kind": self.kind,
            "message": self.message,
            "hint": self.hint or (self.acme_problem.hint if self.acme_problem else None),
            "acme_problem": self.acme_problem.to_json() if self.acme_problem else None,
        }


@dataclass
class HostRun:
    host: str
    command: str
    steps: list[Step] = field(default_factory=list)
    objects: dict[str, Any] = field(default_factory=dict)
    errors: list[ErrorInfo] = field(default_factory=list)
    started: datetime | None = None
    finished: datetime | None = None
    summary: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors and all(s.status != "failed" for s in self.steps)

    @property
    def outcome(self) -> str:
        """``ok``, ``failed`` or ``interrupted`` (Ctrl-C / SIGTERM stopped the host's run)."""
        if any(e.kind == "interrupted" for e in self.errors):
            return "interrupted"
        return "ok" if self.ok else "failed"

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def set_step(self, step: Step) -> Step:
        for index, existing in enumerate(self.steps):
            if existing.name == step.name:
                self.steps[index] = step
                return step
        self.steps.append(step)
        return step

    def fail(self, step: str, kind: str, message: str, problem: AcmeProblem | None = None) -> None:
        self.errors.append(ErrorInfo(step, kind, message, problem))

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "ok": self.ok,
            "outcome": self.outcome,
            "summary": self.summary,
            "steps": [s.to_json() for s in self.steps],
            "objects": self.objects,
            "errors": [e.to_json() for e in self.errors],
        }


@dataclass
class Context:
    command: str
    insecure: bool = False
    base_dir: Path = Path()
    dry_run: bool = False
    install_modules: bool = False
    force: bool = False
    reason: str | None = None
    warn_days: int = 21  # status: the health model's expiry thresholds
    crit_days: int = 7
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    sleep: Callable[[float], None] | None = None
    clock: Callable[[], float] | None = None
    # revealed values to scrub from anything written; never shown (repr=False)
    secrets: list[str] = field(default_factory=list, repr=False)
    retries: int = DEFAULT_RETRIES
    host_timeout: float = DEFAULT_HOST_TIMEOUT
    stop: threading.Event = field(default_factory=threading.Event)  # set by the first SIGINT/SIGTERM
    controls: dict[str, HostControl] = field(default_factory=dict)  # per host, set by main_ops
    results: dict[str, HostRun] = field(default_factory=dict)  # finished hosts (for a second SIGINT)

    def control(self, host: str) -> HostControl:
        """The host's control (deadline, stop, retries); made on first use."""
        found = self.controls.get(host)
        if found is None:
            found = HostControl(
                host_timeout=self.host_timeout, stop=self.stop, policy=RetryPolicy(retries=self.retries)
            )
            self.controls[host] = found
        return found

    def remember(self, secret: Secret | None) -> None:
        if secret is not None and secret.reveal():
            self.secrets.append(secret.reveal())


# ----- helpers ---------------------------------------------------------------------------------------


def run_reads(session: HostSession, batch: Batch, *, reads_from: int = 0) -> BatchResult:
    """Run ``batch``; when a statement at or after ``reads_from`` (the read-only part) stops the batch
    with a terminating error, run the statements after it again in a new batch (reads are
    idempotent; e.g. Get-PAAccount throws on a host with no ACME server yet). Changes before
    ``reads_from`` are never repeated. The results are merged in statement order."""
    statements = list(batch.statements)
    merged = BatchResult(statements=[])
    offset = 0
    while True:
        # only statements at or after reads_from are reads: only such a batch may be sent again
        result = session.run(Batch(statements[offset:]), idempotent=offset >= reads_from)
        merged.statements.extend(result.statements)
        merged.errors.extend(result.errors)
        merged.warnings.extend(result.warnings)
        merged.verbose.extend(result.verbose)
        merged.information.extend(result.information)
        failed = result.failed_statement
        if failed is None:
            return merged
        absolute = offset + failed
        merged.had_errors = True
        if merged.failed_statement is None:
            merged.failed_statement = absolute
        if absolute < reads_from or absolute + 1 >= len(statements):
            return merged
        # drop the statements that did not run; they are sent again
        del merged.statements[absolute + 1 :]
        offset = absolute + 1


def _outputs(result: BatchResult) -> tuple[dict[str, list[Any]], dict[str, bool]]:
    outputs: dict[str, list[Any]] = {}
    ran: dict[str, bool] = {}
    for statement in result.statements:
        # a label can appear twice (re-read after an apply): the last run wins
        if statement.ran:
            outputs[statement.label] = list(statement.output)
            ran[statement.label] = True
        else:
            ran.setdefault(statement.label, False)
    return outputs, ran


# Errors a read may report on a host that is not (fully) set up yet; the facts say the same (no
# server, no account, no order), so they are not failures. Every other statement error is.
EXPECTED_READ_ERRORS = (
    "No ACME server configured",
    "No ACME account configured",
    "No ACME order configured",
    "No order found",
)


def is_expected_read_error(error: RemoteError) -> bool:
    return any(error.message.startswith(text) for text in EXPECTED_READ_ERRORS)


def record_statement_errors(
    run: HostRun, step: str, statements: Iterable[StatementResult], *, skip: Sequence[RemoteError] = ()
) -> None:
    """Every error of ``statements`` (except the expected read errors and ``skip``) fails the host as a
    ``powershell`` error of ``step``."""
    for statement in statements:
        for error in statement.errors:
            if is_expected_read_error(error) or any(error is other for other in skip):
                continue
            message = f"{statement.label}: {error}"
            if not any(e.step == step and e.message == message for e in run.errors):
                run.fail(step, "powershell", message)


def classify_remote_error(
    error: RemoteError, *, context: str | None = None
) -> tuple[str, AcmeProblem | None]:
    problem = problem_from_exception_data(error.exception_data, error.message, context)
    if is_acme_related(problem):
        return "acme", problem
    return "powershell", None


def _resolve(ref: Any, ctx: Context) -> Secret | None:
    if ref is None:
        return None
    from poshbridge.inventory.secrets import resolve

    secret: Secret = resolve(ref, ctx.base_dir)
    ctx.remember(secret)
    return secret


def _desired(host: HostConfig, ctx: Context, run: HostRun) -> Desired:
    from poshbridge.generate.renew_script import render_renew_script
    from poshbridge.generate.task_xml import task_xml_for_register
    from poshbridge.generate.web_config import challenge_web_config
    from poshbridge.inventory.secrets import SecretError

    kid: Secret | None = None
    hmac: Secret | None = None
    eab_error: str | None = None
    try:
        kid = _resolve(host.acme.eab_kid, ctx)
        hmac = _resolve(host.acme.eab_hmac, ctx)
    except SecretError as exc:  # only matters when an account must be created: the plan says so
        eab_error = f"EAB credentials not available: {exc}"
    try:
        pfx = _resolve(host.acme.pfx_password, ctx)
    except SecretError as exc:  # the message names the reference, never a value
        raise RemoteConnectionError("config", host.name, f"acme.pfx_password: {exc}") from None
    return Desired(
        web_config=challenge_web_config(),
        script=render_renew_script(host, "hardened"),
        task_xml=task_xml_for_register(host, "hardened"),
        eab_kid=kid,
        eab_hmac=hmac,
        eab_error=eab_error,
        pfx_password=SecureSecret(pfx.reveal()) if pfx is not None else None,
    )


def _open(host: HostConfig, ctx: Context) -> HostSession:
    from poshbridge.inventory.secrets import SecretError

    try:
        password = _resolve(host.winrm.password, ctx)
    except SecretError as exc:  # the message names the reference, never a value
        raise RemoteConnectionError("config", host.name, f"winrm.password: {exc}") from None
    return HostSession(
        host,
        insecure=ctx.insecure,
        base_dir=ctx.base_dir,
        password=password,
        warn=lambda _t: None,
        control=ctx.control(host.name),
    )


def _apply_steps(
    session: HostSession, steps: Sequence[Step], trailing: Sequence[Any], run: HostRun
) -> tuple[BatchResult, bool]:
    """Send each step in an invocation of its own, in order, the ``trailing`` (read) statements with
    the last one; set each step's status from its OWN statements. Returns the merged result and
    whether every step succeeded.

    A batch does not stop at a failing statement on Windows (PowerShell.cs BatchInvocationWorkItem
    stops only on ActionPreferenceStopException, i.e. a command run with ``-ErrorAction Stop`` that
    writes an error); a Posh-ACME ``throw`` is written to the error stream and the next statement runs
    (a New-PACertificate after a failed New-PAAccount would pick another account). So a step whose
    failure must stop the rest ends its invocation, and after a failed step nothing else is sent: the
    later steps are reported as not sent, never as skipped by the host."""
    merged = BatchResult(statements=[])
    ok = True
    failed_step: Step | None = None
    for index, step in enumerate(steps):
        if failed_step is not None:
            step.status = "skipped"
            step.detail = f"not sent: step {failed_step.name} failed"
            continue
        last = index == len(steps) - 1
        own_count = len(step.statements)
        statements = list(step.statements) + (list(trailing) if last else [])
        result = run_reads(session, Batch(statements), reads_from=own_count)
        _merge_result(merged, result)
        if not _set_step_status(step, result.statements[:own_count], run):
            ok = False
            failed_step = step
        if last:
            record_statement_errors(run, "read", result.statements[own_count:])
    if failed_step is not None and trailing:
        result = run_reads(session, Batch(list(trailing)))
        _merge_result(merged, result)
        record_statement_errors(run, "read", result.statements)
    return merged, ok


def _merge_result(merged: BatchResult, result: BatchResult) -> None:
    merged.statements.extend(result.statements)
    merged.errors.extend(result.errors)
    merged.warnings.extend(result.warnings)
    merged.verbose.extend(result.verbose)
    merged.information.extend(result.information)
    merged.had_errors = merged.had_errors or result.had_errors


def _set_step_status(step: Step, own: Sequence[StatementResult], run: HostRun) -> bool:
    """The step's status from the results of its own statements only."""
    errors = [e for s in own for e in s.errors]
    if errors:
        step.status = "failed"
        first = next((e for e in errors if e.terminating), errors[0])
        context = "account" if step.name == STEP_ACCOUNT else "http-01" if step.name == STEP_CERT else None
        kind, problem = classify_remote_error(first, context=context)
        step.error = first
        step.detail = f"{first.command + ': ' if first.command else ''}{first.message}"
        run.fail(step.name, kind, step.detail, problem)
        return False
    if not all(s.ran for s in own):
        # no error of its own and yet a statement did not run: unknown, never an OK
        step.status = "failed"
        missing = ", ".join(s.label for s in own if not s.ran)
        step.detail = f"statement(s) {missing} did not run and reported no error"
        run.fail(step.name, "powershell", step.detail)
        return False
    step.status = "changed"
    warnings = [w for s in own for w in s.warnings]
    if warnings:
        step.detail = step.reason + " (warning: " + "; ".join(warnings)[:300] + ")"
    return True


def _objects(facts: SetupFacts) -> dict[str, Any]:
    server_ok = facts.server
    account = facts.current_account
    order = None
    if facts.orders:
        order = facts.orders[0]
    view = ObjectsView(
        server=server_ok,
        account=account,
        order=order,
        certificate=facts.certificate,
        binding=None,
        task=facts.task,
        modules=facts.modules or (),
    )
    return view.to_json()


def _objects_for(host: HostConfig, facts: SetupFacts) -> dict[str, Any]:
    objects = _objects(facts)
    order = facts.order_named(host.order_name)
    objects["order"] = order.to_json() if order else None
    binding = facts.binding_for(host)
    objects["binding"] = binding.to_json() if binding else None
    return objects


# ----- OCSP, bind, verify (setup and renew) ----------------------------------------------------------


def _ocsp_bind_verify(
    session: HostSession, host: HostConfig, facts: SetupFacts, ctx: Context, run: HostRun, report: Report
) -> SetupFacts:
    from poshbridge.remote import ocsp, tls

    bind = setup_plan.plan_binding(host, facts)
    cert = facts.certificate
    if bind.status == "changed" and cert is not None and not ctx.dry_run:
        # OCSP: read the leaf and its issuer from the host, poll from here
        report("reading the certificate for OCSP")
        files = session.run(setup_plan.cert_files_batch(host, cert), idempotent=True)
        outputs, _ran = _outputs(files)
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
        result, ok = _apply_steps(session, [bind], (), run)
        run.set_step(bind)
        outputs, ran = _outputs(result)
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
    served = tls.probe(host)
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


# ----- setup -----------------------------------------------------------------------------------------


def setup_host(host: HostConfig, ctx: Context, report: Report) -> HostRun:
    run = HostRun(host.name, "setup", started=ctx.now())
    try:
        desired = _desired(host, ctx, run)
        with _open(host, ctx) as session:
            report("reading facts")
            first = run_reads(session, setup_plan.read_batch(host))
            record_statement_errors(run, "read", first.statements)
            outputs, ran = _outputs(first)
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
                try:
                    result, ok = _apply_steps(session, to_apply, setup_plan.read_statements(host), run)
                except RemoteConnectionError as exc:
                    # a changing batch is never re-sent: re-read the facts and plan again
                    if not exc.transient or replans >= ctx.retries:
                        raise
                    replans += 1
                    report(f"{exc.kind} while applying: re-reading the facts to plan again")
                    session.reopen()
                    again = run_reads(session, setup_plan.read_batch(host))
                    outputs, ran = _outputs(again)
                    facts = facts_from_outputs(outputs, ran, previous=facts)
                    continue
                applied.update(s.name for s in to_apply)
                for step in to_apply:
                    final[step.name] = step
                outputs, ran = _outputs(result)
                facts = facts_from_outputs(outputs, ran, previous=facts)
                if not ok:
                    break
            run.steps = [final[name] for name in setup_plan.SETUP_STEP_ORDER if name in final]
            for step in run.steps:
                if step.status == "pending" and not ctx.dry_run:
                    step.status = "skipped"
                    step.detail = "not run: " + step.reason
            facts = _replace_if_revoked(session, host, facts, ctx, run, report)
            cert_step = run.step(STEP_CERT)
            cert_ready = run.ok and cert_step is not None and cert_step.status in ("changed", "unchanged")
            if cert_ready or ctx.dry_run:
                facts = _ocsp_bind_verify(session, host, facts, ctx, run, report)
            else:
                for name in (STEP_OCSP, STEP_BIND, STEP_VERIFY):
                    run.set_step(Step(name, "skipped", "needs a certificate"))
            run.objects.update(_objects_for(host, facts))
    except RemoteConnectionError as exc:
        run.fail(_failed_step(exc), exc.kind, exc.message)
    _finish(run, ctx)
    return run


def _replace_if_revoked(
    session: HostSession, host: HostConfig, facts: SetupFacts, ctx: Context, run: HostRun, report: Report
) -> SetupFacts:
    """Posh-ACME keeps a revoked certificate as current (its order stays valid): when the CA's OCSP
    responder says revoked (a verified answer), replace it now (plan/revocation.py)."""
    from poshbridge.cli import health_ops
    from poshbridge.plan.revocation import replace_revoked_step

    cert_step = run.step(STEP_CERT)
    cert = facts.certificate
    if not run.ok or cert_step is None or cert_step.status != "unchanged":
        return facts
    if cert is None or not cert.thumbprint:
        return facts
    report("checking revocation (OCSP)")
    revocation = health_ops.current_revocation(session, host, cert, ctx.now)
    if revocation is not None:
        run.objects["revocation"] = revocation.to_json()
    if revocation is None or revocation.state != "revoked":
        return facts
    step = replace_revoked_step(host, cert.thumbprint, revocation.detail)
    if ctx.dry_run:
        run.set_step(step)
        return facts
    report("replacing the revoked certificate")
    result, _ok = _apply_steps(session, [step], setup_plan.read_statements(host), run)
    run.set_step(step)
    outputs, ran = _outputs(result)
    return facts_from_outputs(outputs, ran, previous=facts)
def _failed_step(exc: RemoteConnectionError) -> str:
    return "interrupted" if exc.kind == "interrupted" else "connect"


def _finish(run: HostRun, ctx: Context) -> None:
    run.finished = ctx.now()
    if not run.summary or run.ok:
        changed = [s.name for s in run.steps if s.status == "changed"]
        if run.errors:
            first = run.errors[0]
            run.summary = f"{first.step}: {first.kind}: {first.message}"[:200]
        elif ctx.dry_run:
            run.summary = "would change: " + (", ".join(changed) or "nothing")
        elif run.command == "setup":
            run.summary = "changed: " + ", ".join(changed) if changed else "all unchanged"
        elif not run.summary:
            run.summary = "ok"


# ----- renew -----------------------------------------------------------------------------------------


def renew_host(host: HostConfig, ctx: Context, report: Report) -> HostRun:
    run = HostRun(host.name, "renew", started=ctx.now())
    try:
        with _open(host, ctx) as session:
            report("reading facts")
            first = run_reads(session, setup_plan.read_batch(host))
            record_statement_errors(run, "read", first.statements)
            outputs, ran = _outputs(first)
            facts = facts_from_outputs(outputs, ran)
            if facts.order_named(host.order_name) is None:
                run.set_step(
                    Step(renew_plan.STEP_RENEW, "failed", f"no order {host.order_name}: run setup first")
                )
                run.fail(
                    renew_plan.STEP_RENEW, "plan", f"no Posh-ACME order named {host.order_name} on the host"
                )
            else:
                force, revoked = ctx.force, ""
                if not force and facts.certificate is not None and facts.certificate.thumbprint:
                    from poshbridge.cli import health_ops

                    report("checking revocation (OCSP)")
                    revocation = health_ops.current_revocation(session, host, facts.certificate, ctx.now)
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
                    facts = _ocsp_bind_verify(session, host, facts, ctx, run, report)
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
            run.objects.update(_objects_for(host, facts))
    except RemoteConnectionError as exc:
        run.fail(_failed_step(exc), exc.kind, exc.message)
    renewed = run.step(renew_plan.STEP_RENEW)
    if run.ok and renewed is not None and renewed.status == "changed":
        run.summary = renewed.detail
    _finish(run, ctx)
    return run


# ----- status ---------------------------------------------------------------------------------------------


def status_host(host: HostConfig, ctx: Context, report: Report) -> HostRun:
    """Read the host, probe what the site serves, check revocation (OCSP) of the served and the
    current certificate, and judge it with the one health model (the rules ``audit`` uses)."""
    from poshbridge.cli import health_ops
    from poshbridge.health.model import OK, UNKNOWN, evaluate
    from poshbridge.hoststate.state import HostState, host_facts, read_state
    from poshbridge.remote import tls

    run = HostRun(host.name, "status", started=ctx.now())
    unreachable: str | None = None
    files = health_ops.CertFiles()
    try:
        with _open(host, ctx) as session:
            report("reading facts")
            read = run_reads(session, renew_plan.status_batch(host))
            record_statement_errors(run, "read", read.statements)
            state = read_state(host, read.statements)  # the one host-state model (audit's too)
            run.objects.update(state.objects())
            report("reading the certificate files")
            files = health_ops.read_cert_files(session, state.certificate)
    except RemoteConnectionError as exc:
        run.fail(_failed_step(exc), exc.kind, exc.message)
        unreachable = f"{exc.kind}: {exc.message}"
        state = HostState()
    report("checking what the site serves")
    served = tls.probe(host)
    run.objects["served"] = served.to_json()
    report("checking revocation (OCSP)")
    revocations = health_ops.check(served.der, files, ctx.now)
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
    _finish(run, ctx)
    return run


# ----- revoke ---------------------------------------------------------------------------------------------


def revoke_host(host: HostConfig, ctx: Context, report: Report) -> HostRun:
    run = HostRun(host.name, "revoke", started=ctx.now())
    try:
        with _open(host, ctx) as session:
            report("Revoke-PACertificate")
            batch = renew_plan.revoke_batch(host, reason=ctx.reason)
            step = Step("revoke", "changed", f"revoke the certificate of order {host.order_name}",
                        tuple(batch.statements[:2]))  # fmt: skip
            result, _ok = _apply_steps(session, [step], batch.statements[2:], run)
            run.set_step(step)
            outputs, ran = _outputs(result)
            run.objects.update(_objects_for(host, facts_from_outputs(outputs, ran)))
    except RemoteConnectionError as exc:
        run.fail(_failed_step(exc), exc.kind, exc.message)
    if run.ok:
        run.summary = f"revoked the certificate of {host.order_name}"
    _finish(run, ctx)
    return run


# ----- CLI ---------------------------------------------------------------------------------------------


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = subparsers.add_parser(
            name, parents=[common], help=help_text, description=DESCRIPTIONS[name]
        )
        parser.add_argument("targets", nargs="+", metavar="TARGET", help="hosts, groups, patterns or 'all'")
        parser.add_argument("--parallel", type=_positive, default=10, metavar="N", help="hosts at once (10)")
        parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
        parser.add_argument(
            "--insecure",
            action="store_true",
            help=INSECURE_HELP,
        )
        parser.add_argument(
            "--lang",
            choices=("en", "ja"),
            default="en",
            help="language of the CA's explanation of an ACME error (the condition from the CA's table; "
            "default en)",
        )
        parser.add_argument(
            "--retries",
            type=_non_negative,
            default=DEFAULT_RETRIES,
            metavar="N",
            help=f"retries of a transient failure (connecting, reading) with backoff ({DEFAULT_RETRIES})",
        )
        parser.add_argument(
            "--host-timeout",
            type=_positive,
            default=int(DEFAULT_HOST_TIMEOUT),
            metavar="SECONDS",
            help=f"deadline per host, OCSP wait included ({int(DEFAULT_HOST_TIMEOUT)})",
        )
        parser.set_defaults(func=main_ops, op=name)  # fmt: skip
        return parser

    setup = add("setup", "configure hosts: modules, ACME account, web.config, certificate, IIS binding, task")
    setup.add_argument(
        "--dry-run", action="store_true", help="print the plan (exact cmdlets), change nothing"
    )
    setup.add_argument("--install-modules", action="store_true", help="Install-Module missing modules")
    renew = add("renew", "Submit-Renewal; when renewed: wait for OCSP, bind, verify")
    renew.add_argument("--force", action="store_true", help="renew even when not due (Submit-Renewal -Force)")
    status = add("status", "health verdict, certificate, binding, served certificate, OCSP and task per host")
    status.add_argument("--warn-days", type=int, default=21, metavar="N",
                        help="WARN when the certificate expires within N days (21)")
    status.add_argument("--crit-days", type=int, default=7, metavar="N",
                        help="CRIT when the certificate expires within N days (7)")  # fmt: skip
    revoke = add("revoke", "Revoke-PACertificate (asks for confirmation)")
    revoke.add_argument("--reason", default=None, help="RFC 5280 reason, e.g. keyCompromise, superseded")
    revoke.add_argument("--yes", action="store_true", help="do not ask for confirmation")


DESCRIPTIONS = {
    "setup": (
        "Bring each host to the desired state, idempotently: Posh-ACME modules, the ACME server and an EAB "
        "account, the http-01 web.config, New-PACertificate (WebRoot), the OCSP wait, Set-IISCertificate, "
        "a TLS check of what the site serves, and the hardened renewal script as a SYSTEM scheduled task. "
        "A second run changes nothing; --dry-run prints the exact cmdlets and changes nothing."
    ),
    "renew": (
        "Run Submit-Renewal for each host's order now (what the scheduled task does). When a certificate "
        "was renewed: wait until OCSP knows it, bind it in IIS and check what the site serves. Not due: "
        "nothing changes (--force renews anyway)."
    ),
    "status": (
        "Read each host's Posh-ACME order and certificate (SANs, NotAfter, RenewAfter, thumbprint), the "
        "renewal task (state and decoded last result) and probe what the site serves. Changes nothing. "
        "Exit 1 when a site cannot be probed or serves another certificate than Posh-ACME's."
    ),
    "revoke": (
        "Revoke each host's current certificate with Revoke-PACertificate. Asks for confirmation (type "
        "'yes'); --yes skips the question. Declining exits 1, no terminal without --yes exits 2; "
        "neither revokes anything."
    ),
}
def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


WORKERS: dict[str, Callable[[HostConfig, Context, Report], HostRun]] = {
    "setup": setup_host,
    "renew": renew_host,
    "status": status_host,
    "revoke": revoke_host,
}


def main_ops(args: argparse.Namespace) -> int:
    from poshbridge.cli.common import inventory_base_dir, load_inventory_or_exit
    from poshbridge.inventory.targets import TargetError, select_hosts

    console = make_console()
    err = make_console(stderr=True)
    inventory = load_inventory_or_exit(args, err)
    try:
        hosts = select_hosts(inventory, list(args.targets))
    except TargetError as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_USAGE
    op = str(args.op)
    # refuse insecure transports before anything connects; warn once per host when allowed
    refused = False
    for host in hosts:
        try:
            for warning in transport_warnings(host, insecure=bool(args.insecure)):
                err.print(warning, markup=False)
        except ValueError as exc:
            err.print(f"error: {exc}", markup=False)
            refused = True
    if refused:
        return EXIT_USAGE
    refused_revoke = _confirm_revoke(args, hosts, err) if op == "revoke" else None
    if refused_revoke is not None:
        return refused_revoke
    ctx = Context(
        command=op,
        insecure=bool(args.insecure),
        base_dir=inventory_base_dir(inventory),
        dry_run=bool(getattr(args, "dry_run", False)),
        install_modules=bool(getattr(args, "install_modules", False)),
        force=bool(getattr(args, "force", False)),
        reason=getattr(args, "reason", None),
        warn_days=int(getattr(args, "warn_days", 21)),
        crit_days=int(getattr(args, "crit_days", 7)),
        retries=int(getattr(args, "retries", DEFAULT_RETRIES)),
        host_timeout=float(getattr(args, "host_timeout", DEFAULT_HOST_TIMEOUT)),
    )
    started = ctx.now()
    view = make_view(err, quiet=False)
    ticker = Ticker().start()
    history_written = threading.Event()

    def work(host: HostConfig, report: Report) -> HostRun:
        if ctx.stop.is_set():  # no new host after the first SIGINT/SIGTERM
            result = not_started(host, op, ctx)
        else:
            control = ctx.control(host.name)
            control.report = report
            control.started = control.clock()
            ticker.add(control)
            try:
                result = WORKERS[op](host, ctx, control.set_phase)
            finally:
                ticker.remove(control)
        ctx.results[host.name] = result
        return result

    def write_known_history() -> None:  # the second signal: what is known, then exit
        if not history_written.is_set():
            history_written.set()
            known = [ctx.results.get(h.name) or not_started(h, op, ctx, "running") for h in hosts]
            _write_history(known, ctx, err)

    def notify(text: str) -> None:
        err.print(text, markup=False)

    with InterruptHandler(ctx.stop, notify=notify, on_second=write_known_history):
        try:
            runs = run_fleet(
                hosts,
                work,
                on_crash=lambda host, exc: _crashed(host, op, exc, ctx),
                outcome=lambda r: progress_outcome(r, ctx),
                parallel=int(args.parallel),
                view=view,
            )
        finally:
            ticker.stop()
        finished = ctx.now()
        if not history_written.is_set():
            history_written.set()
            _write_history(runs, ctx, err)
        if args.json:
            doc = {
                "poshbridge": __version__,
                "command": op,
                "dry_run": ctx.dry_run,
                "started": _iso(started),
                "finished": _iso(finished),
                "hosts": [r.to_json() for r in runs],
            }
            text = safe_json_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str))
            sys.stdout.write(scrub(text, ctx.secrets) + "\n")
        else:
            render(console, runs, op=op, lang=str(args.lang), dry_run=ctx.dry_run, secrets=ctx.secrets)
            ok_names = {r.host for r in runs if r.ok}
            done = [h for h in hosts if h.name in ok_names]
            if op == "setup" and not ctx.dry_run and done and not ctx.stop.is_set():
                console.print(setup_next_line(done, [h.name for h in done]), markup=False, soft_wrap=True)
        if ctx.stop.is_set():
            return EXIT_INTERRUPTED
    return EXIT_FAILED if any(not r.ok for r in runs) else EXIT_OK


def not_started(host: HostConfig, op: str, ctx: Context, state: str = "not started") -> HostRun:
    """A host the interruption kept from starting (or, after a second signal, from finishing)."""
    run = HostRun(host.name, op, started=ctx.now())
    run.fail("interrupted", "interrupted", f"{state} when the run was interrupted")
    _finish(run, ctx)
    return run


def progress_outcome(run: HostRun, ctx: Context) -> tuple[bool, str]:
    """(ok, summary) for the progress view on stderr, scrubbed like everything else written."""
    return run.ok, scrub(run.summary, ctx.secrets)


def _confirm_revoke(args: argparse.Namespace, hosts: Sequence[HostConfig], err: Console) -> int | None:
    """None when confirmed; else the exit code: 2 without a terminal (a usage error: --yes is
    missing), 1 when the person declined."""
    if args.yes:
        return None
    names = ", ".join(f"{h.name} ({h.order_name})" for h in hosts)
    if sys.stdin is None or not sys.stdin.isatty():
        err.print(
            "error: revoke needs confirmation and stdin is not a terminal;"
            f" re-run with --yes to revoke: {names}",
            markup=False,
        )
        return EXIT_USAGE
    err.print(
        f"Revoke the certificates of {names}? This cannot be undone. Type 'yes': ", end="", markup=False
    )
    answer = sys.stdin.readline().strip().lower()
    if answer != "yes":
        err.print("not revoked", markup=False)
        return EXIT_FAILED
    return None


def _crashed(host: HostConfig, op: str, exc: BaseException, ctx: Context) -> HostRun:
    run = HostRun(host.name, op, started=ctx.now())
    run.fail("internal", "crash", scrub(f"{type(exc).__name__}: {exc}", ctx.secrets))
    _finish(run, ctx)
    return run


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "********")
    return text


def _write_history(runs: Sequence[HostRun], ctx: Context, err: Console) -> None:
    from poshbridge import history

    records = []
    for run in runs:
        cert = run.objects.get("certificate") or {}
        records.append(
            {
                "poshbridge": __version__,
                "command": run.command,
                "host": run.host,
                "started": _iso(run.started),
                "finished": _iso(run.finished),
                "ok": run.ok,
                "outcome": run.outcome,
                "dry_run": ctx.dry_run,
                "summary": run.summary,
                "steps": [{"name": s.name, "status": s.status} for s in run.steps],
                "errors": [
                    {
                        "step": e.step,
                        "kind": e.kind,
                        "message": e.message,
                        "acme_type": e.acme_problem.type if e.acme_problem else None,
                    }
                    for e in run.errors
                ],
                "thumbprint": cert.get("thumbprint") if isinstance(cert, dict) else None,
            }
        )
    try:
        history.append(history.state_dir(), records, secrets=ctx.secrets)
    except OSError as exc:
        err.print(f"warning: history not written: {exc.strerror or exc}", markup=False)


# ----- rendering -----------------------------------------------------------------------------------------

_STATUS_STYLE = {
    "changed": "yellow",
    "unchanged": "green",
    "failed": "bold red",
    "skipped": "dim",
    "pending": "cyan",
}


def render(
    console: Console, runs: Sequence[HostRun], *, op: str, lang: str, dry_run: bool, secrets: Sequence[str]
) -> None:
    if op == "status":
        _render_status(console, runs)
    for run in runs:
        if op != "status":
            title = f"{run.host}: {op}" + (" (dry run: nothing changed)" if dry_run else "")
            table = Table(title=title, title_justify="left", show_lines=False)
            table.add_column("step")
            table.add_column("status")
            table.add_column("detail", overflow="fold")
            for step in run.steps:
                status = "would change" if dry_run and step.status == "changed" else step.status
                style = _STATUS_STYLE.get(step.status, "")
                table.add_row(
                    step.name, f"[{style}]{status}[/]", _esc(scrub(step.detail or step.reason, secrets))
                )
                if dry_run or step.status == "failed":
                    for command in step.commands:
                        table.add_row("", "", _esc("  > " + compact(scrub(command, secrets))))
            console.print(table)
        for error in run.errors:
            console.print(_esc(scrub(error_text(run.host, error, lang), secrets)))
    failed = [r.host for r in runs if not r.ok]
    console.print(
        f"{len(runs)} host(s), {len(runs) - len(failed)} ok, {len(failed)} failed"
        + (": " + ", ".join(failed) if failed else ""),
        markup=False,
    )


def compact(command: str, keep: int = 2) -> str:
    """A command whose value is a whole document (script, XML) shown as its first and last lines;
    ``--json`` keeps the full text."""
    lines = command.splitlines()
    if len(lines) <= 2 * keep + 1:
        return command
    hidden = len(lines) - 2 * keep
    return "\n".join([*lines[:keep], f"    ... ({hidden} more lines) ...", *lines[-keep:]])


def error_text(host: str, error: ErrorInfo, lang: str = "en") -> str:
    """What a person needs: host, step, the ACME type with the CA's explanation, and the fix."""
    lines = [f"ERROR {host}: step {error.step}: {error.kind}: {error.message}"]
    problem = error.acme_problem
    if problem is not None:
        head = f"  ACME problem: {problem.type or 'unknown type'}"
        if problem.status is not None:
            head += f" (HTTP {problem.status})"
        if problem.fqdn:
            head += f" for {problem.fqdn}"
        lines.append(head)
        if problem.table_message:
            lines.append(f"  CA message: {problem.table_message}")
        condition = problem.condition(lang)
        if condition:
            lines.append(("  発生条件: " if lang == "ja" else "  condition: ") + condition)
    hint = error.hint or (problem.hint if problem else None) or _hint_for_kind(error.kind, error.message)
    # a connection message may already carry its hint ("... (check winrm.username/...)"): say it once
    if hint and error.hint is None and problem is None and "check " in error.message:
        hint = None
    if hint:
        lines.append(f"  fix: {hint}")
    return "\n".join(lines)


def _hint_for_kind(kind: str, message: str = "") -> str | None:
    """A fix for a kind of failure, only where it applies: a "config" error is either a refused
    insecure setting (the message names what and says --insecure allows it) or a secret that
    cannot be read (the message names the reference); --insecure never helps the latter."""
    if kind == "config":
        if "cannot read secret file" in message or "environment variable" in message:
            return "provide the secret the message names: set the variable or fix the file (chmod 600)"
        return None
    return {
        "unreachable": "check winrm.transport/port, that WinRM listens (winrm quickconfig), the firewall",
        "auth": "check winrm.username, the password secret and winrm.auth",
        "tls": "check winrm.verify (CA bundle) against the host's WinRM certificate",
        "timeout": "the host did not answer in time: check it is up; raise winrm timeouts if it is slow",
        "dropped": "the connection was closed mid-session: run the command again",
        "protocol": "unexpected WinRM answer: check winrm.configuration_name and the WinRM service",
    }.get(kind)


_HEALTH_STYLE = {"OK": "green", "WARN": "yellow", "UNKNOWN": "magenta", "CRIT": "bold red"}


def _render_status(console: Console, runs: Sequence[HostRun]) -> None:
    # host names and thumbprints are never broken across lines: one SAN per line; a table too wide
    # for the console folds into one block per host (poshbridge.cli.tables)
    columns = ("host", "health", "order", "SANs", "NotAfter", "days", "RenewAfter", "thumbprint", "served",
               "task")  # fmt: skip
    rows: list[list[str]] = []
    health_styles: list[str] = []
    for run in runs:
        s = run.objects.get("status") or {}
        served = s.get("served_thumbprint")
        served_error = (run.objects.get("served") or {}).get("error")
        read = s.get("state_read", True)
        # "DIFFERENT" only when Posh-ACME's certificate is known and differs
        if not served:
            served_text = f"none: {served_error}" if served_error else "-"
        elif not s.get("thumbprint"):
            served_text = served
        elif s.get("served_matches"):
            served_text = "same"
        else:
            served_text = f"DIFFERENT: {served}"
        task = s.get("task_state") or ("-" if read else "not read")
        if s.get("task_last_result") is not None:
            task += f" / {describe_task_result(s.get('task_last_result'))}"
        health = str(s.get("health") or "-")
        health_styles.append(_HEALTH_STYLE.get(health, ""))
        rows.append(
            [
                run.host,
                health,
                str(s.get("order") or "-"),
                "\n".join(s.get("sans") or []) or "-",
                _minutes(s.get("not_after")),
                str(s.get("days_left") if s.get("days_left") is not None else "-"),
                _minutes(s.get("renew_after")),
                str(s.get("thumbprint") or ("-" if read else "not read (connection failed)")),
                served_text,
                task,
            ]
        )
    styles = {"health": health_styles}
    render_records(console, "Certificate status", columns, rows, wrap=("task",), styles=styles)


def _minutes(value: Any) -> str:
    """``2027-02-27T22:55:04Z`` -> ``2027-02-27 22:55`` (UTC); ``-`` for none."""
    if not value:
        return "-"
    text = str(value)
    return text[:16].replace("T", " ") if len(text) >= 16 and text[10] == "T" else text


def _esc(text: str) -> str:
    return safe_text(text, keep_newlines=True).replace("[", "\\[")

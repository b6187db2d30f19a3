"""Sending batches and reading their results: reads that are re-run after a throwing statement, one
invocation per step (a failed step stops the rest), step statuses from each step's own statements,
PowerShell errors classified (ACME problem or PowerShell error), the objects of a run."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from poshbridge.inventory.model import HostConfig
from poshbridge.plan.setup import STEP_ACCOUNT, STEP_CERT, SetupFacts, Step
from poshbridge.poshacme.model import ObjectsView
from poshbridge.poshacme.problems import AcmeProblem, is_acme_related, problem_from_exception_data
from poshbridge.powershell.command import Batch
from poshbridge.remote.outcome import BatchResult, RemoteError, StatementResult
from poshbridge.runner.results import HostRun
from poshbridge.runner.session import Session


def run_reads(session: Session, batch: Batch, *, reads_from: int = 0) -> BatchResult:
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


def outputs_of(result: BatchResult) -> tuple[dict[str, list[Any]], dict[str, bool]]:
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


def apply_steps(
    session: Session, steps: Sequence[Step], trailing: Sequence[Any], run: HostRun
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
        merge_result(merged, result)
        if not set_step_status(step, result.statements[:own_count], run):
            ok = False
            failed_step = step
        if last:
            record_statement_errors(run, "read", result.statements[own_count:])
    if failed_step is not None and trailing:
        result = run_reads(session, Batch(list(trailing)))
        merge_result(merged, result)
        record_statement_errors(run, "read", result.statements)
    return merged, ok


def merge_result(merged: BatchResult, result: BatchResult) -> None:
    merged.statements.extend(result.statements)
    merged.errors.extend(result.errors)
    merged.warnings.extend(result.warnings)
    merged.verbose.extend(result.verbose)
    merged.information.extend(result.information)
    merged.had_errors = merged.had_errors or result.had_errors


def set_step_status(step: Step, own: Sequence[StatementResult], run: HostRun) -> bool:
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


def objects_for(host: HostConfig, facts: SetupFacts) -> dict[str, Any]:
    objects = _objects(facts)
    order = facts.order_named(host.order_name)
    objects["order"] = order.to_json() if order else None
    binding = facts.binding_for(host)
    objects["binding"] = binding.to_json() if binding else None
    return objects

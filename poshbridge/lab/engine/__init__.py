"""The lab's command engine: runs the statements of one PSRP pipeline through the emulated cmdlets.

``invoke`` is the seam described in :mod:`poshbridge.lab.engine.contract`. Each statement is a
pipeline; each command is looked up in the registry, bound (:mod:`.binding`) and called once per
pipeline input object. The output of the last command of a statement goes to the sink.
"""

from __future__ import annotations

from typing import Any

from poshbridge.lab.engine.binding import (
    BindingError,
    bind_arguments,
    bind_pipeline,
    check_mandatory,
    input_not_bound,
)
from poshbridge.lab.engine.contract import (
    CommandCall,
    LabErrorRecord,
    PipelineSink,
    RunspaceState,
    TerminatingError,
)
from poshbridge.lab.engine.registry import EDITION, REGISTRY, Flags, Invocation, ensure_env, lookup
from poshbridge.lab.host import TwinHost

__all__ = ["REGISTRY", "command_not_found", "invoke", "run_statement"]

_loaded = False


def _load_cmdlets() -> None:
    global _loaded
    if not _loaded:
        import poshbridge.lab.cmdlets  # noqa: F401 - registers every emulated cmdlet

        _loaded = True


def command_not_found(name: str) -> TerminatingError:
    return TerminatingError(
        LabErrorRecord(
            message=(
                f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or "
                "operable program. Check the spelling of the name, or if a path was included, verify that "
                "the path is correct and try again."
            ),
            fully_qualified_error_id="CommandNotFoundException",
            category="ObjectNotFound",
            exception_type="System.Management.Automation.CommandNotFoundException",
            target_object=name,
        )
    )


def _script_not_supported(text: str) -> TerminatingError:
    return TerminatingError(
        LabErrorRecord(
            message=(
                "The poshbridge lab does not interpret PowerShell script text; send cmdlets with parameters "
                f"instead. Script received: {text[:80]}"
            ),
            fully_qualified_error_id="ScriptNotSupported",
            category="NotImplemented",
            exception_type="System.NotSupportedException",
            target_object=text[:80],
        )
    )


def invoke(
    host: TwinHost,
    runspace: RunspaceState,
    statements: list[list[CommandCall]],
    input_objects: list[Any],
    sink: PipelineSink,
) -> None:
    """Run ``statements`` in order, the way PowerShell runs a batch.

    PowerShell engine/hostifaces/PowerShell.cs: ``BatchInvocationCallback`` (first statement) and
    ``BatchInvocationWorkItem`` (the others) stop the batch only on ``ActionPreferenceStopException``
    (``_stopBatchExecution``: the exception fails the invocation). Any other exception is
    ``AppendExceptionToErrorStream``-ed (its ErrorRecord goes to the error stream) and the next
    statement runs; a Posh-ACME ``throw`` / ``$PSCmdlet.ThrowTerminatingError`` is such an exception,
    even under ``-ErrorAction Stop`` (CommandProcessorBase.ManageScriptException records the original
    RuntimeException; only MshCommandRuntime's WriteError/WriteWarning make the Stop exception).
    A single statement is not a batch: its terminating error fails the invocation.
    """
    _load_cmdlets()
    ensure_env(host, runspace)
    batching = len(statements) > 1
    for index, statement in enumerate(statements):
        delay = host.faults.statement_delay_ms
        if delay > 0:  # fault injection: a slow host; a Stop (runspace.cancel) ends the wait
            runspace.cancel.wait(delay / 1000.0)
        try:
            run_statement(
                host, runspace, statement, input_objects if index == 0 and input_objects else None, sink
            )
        except TerminatingError as exc:
            if not batching or exc.action_preference_stop or runspace.cancel.is_set():
                raise
            sink.error(exc.record)


def run_statement(
    host: TwinHost,
    runspace: RunspaceState,
    statement: list[CommandCall],
    items: list[Any] | None,
    sink: PipelineSink,
    flags: Flags | None = None,
) -> None:
    """One pipeline. ``flags`` (preferences inherited from a caller) apply to commands that do not set
    their own common parameters; the renewal runner uses it for script-level preferences."""
    _load_cmdlets()
    current: list[Any] | None = items
    for position, call in enumerate(statement):
        if runspace.cancel.is_set():
            raise TerminatingError(
                LabErrorRecord(
                    "The pipeline has been stopped.",
                    "PipelineStopped",
                    "OperationStopped",
                    exception_type="System.Management.Automation.PipelineStoppedException",
                )
            )
        if call.is_script:
            from poshbridge.lab.cmdlets.packages import run_fixed_statement

            if len(statement) == 1 and run_fixed_statement(runspace, call.name):
                continue
            raise _script_not_supported(call.name)
        info = lookup(call.name, runspace.variables.get(EDITION))
        if info is None or (info.module is not None and not _module_installed(host, info.module)):
            raise command_not_found(call.name)
        try:
            bound = bind_arguments(info, call.parameters)
        except BindingError as exc:
            raise TerminatingError(exc.record) from None
        if flags is not None:
            bound.flags = _inherit(flags, bound.flags, call)
        last = position == len(statement) - 1
        collect: list[Any] | None = None if last else []
        ctx = Invocation(host, runspace, sink, info, dict(bound.args), bound.flags, collect)
        if current is None:
            try:
                check_mandatory(info, bound, bound.args)
            except BindingError as exc:
                raise TerminatingError(exc.record) from None
            info.func(ctx)
        else:
            for item in current:
                bound_item = bind_pipeline(info, bound, item)
                if bound_item is None:
                    ctx.error(input_not_bound(info, item), suffix=False)
                    continue
                args, used = bound_item
                try:
                    check_mandatory(info, bound, args)
                except BindingError as exc:
                    ctx.error(exc.record, suffix=False)
                    continue
                ctx.args = args
                ctx.bound_by_pipeline = used
                info.func(ctx)
        current = collect


def _inherit(outer: Flags, own: Flags, call: CommandCall) -> Flags:
    given = {(name or "").lower() for name, _ in call.parameters}

    def named(*names: str) -> bool:
        return any(g and any(n.startswith(g) or g == n for n in names) for g in given)

    merged = Flags(**vars(outer))
    if named("erroraction", "ea"):
        merged.error_action = own.error_action
    if named("warningaction", "wa"):
        merged.warning_action = own.warning_action
    if named("verbose", "vb"):
        merged.verbose = own.verbose
    if named("confirm", "cf"):
        merged.confirm = own.confirm
    if named("whatif", "wi"):
        merged.whatif = own.whatif
    return merged


def _module_installed(host: TwinHost, module: str) -> bool:
    from poshbridge.lab.cmdlets.core import module_available

    return module_available(host, module)

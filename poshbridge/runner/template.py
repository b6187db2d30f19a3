"""The per-host run template: make the :class:`HostRun`, open the session (the host's deadline and stop
flag live in its :class:`~poshbridge.remote.control.HostControl`), run the worker's body, turn a
connection failure into a classified error, finish (time, summary). Also the runs of hosts that never
ran: not started because of an interruption, or crashed."""

from __future__ import annotations

from collections.abc import Callable

from poshbridge.inventory.model import HostConfig
from poshbridge.remote.outcome import RemoteConnectionError
from poshbridge.runner.context import Context
from poshbridge.runner.results import HostRun
from poshbridge.runner.session import Session, open_session

Body = Callable[[Session, HostRun], None]


def run_on_host(host: HostConfig, ctx: Context, command: str, body: Body, *,
                prepare: Callable[[HostRun], object] | None = None) -> HostRun:  # fmt: skip
    """The template: ``prepare(run)`` (before connecting; may raise RemoteConnectionError too), then
    ``body(session, run)`` inside the open session, then :func:`finish`."""
    run = HostRun(host.name, command, started=ctx.now())
    try:
        if prepare is not None:
            prepare(run)
        with open_session(host, ctx) as session:
            body(session, run)
    except RemoteConnectionError as exc:
        fail_connection(run, exc)
    return run


def fail_connection(run: HostRun, exc: RemoteConnectionError) -> None:
    """A connection failure as the host's error: step ``connect`` (or ``interrupted``), its kind."""
    run.fail(failed_step(exc), exc.kind, exc.message)


def failed_step(exc: RemoteConnectionError) -> str:
    return "interrupted" if exc.kind == "interrupted" else "connect"


def finish(run: HostRun, ctx: Context) -> None:
    """The finish time and, unless the worker wrote one for a failed host, the summary line."""
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


def not_started(host: HostConfig, op: str, ctx: Context, state: str = "not started") -> HostRun:
    """A host the interruption kept from starting (or, after a second signal, from finishing)."""
    run = HostRun(host.name, op, started=ctx.now())
    run.fail("interrupted", "interrupted", f"{state} when the run was interrupted")
    finish(run, ctx)
    return run


def crashed(host: HostConfig, op: str, exc: BaseException, ctx: Context) -> HostRun:
    """An unexpected exception of one host's run: the host failed (``crash``), the fleet goes on."""
    run = HostRun(host.name, op, started=ctx.now())
    run.fail("internal", "crash", ctx.scrub(f"{type(exc).__name__}: {exc}"))
    finish(run, ctx)
    return run


def progress_outcome(run: HostRun, ctx: Context) -> tuple[bool, str]:
    """(ok, summary) for the progress view, scrubbed like everything else written."""
    return run.ok, ctx.scrub(run.summary)

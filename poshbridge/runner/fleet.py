"""One command over many hosts: each host's worker, ``parallel`` at a time, the progress (ticking while
a host waits for an answer), Ctrl-C/SIGTERM (:mod:`poshbridge.runner.interrupt`) and the history."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from poshbridge.inventory.model import HostConfig
from poshbridge.remote.control import Ticker
from poshbridge.runner.context import Context
from poshbridge.runner.executor import FleetView, Report, run_fleet
from poshbridge.runner.history import write_history
from poshbridge.runner.interrupt import InterruptHandler
from poshbridge.runner.renew import renew_host
from poshbridge.runner.results import FleetRun, HostRun
from poshbridge.runner.revoke import revoke_host
from poshbridge.runner.setup import setup_host
from poshbridge.runner.status import status_host
from poshbridge.runner.template import crashed, not_started, progress_outcome

log = logging.getLogger(__name__)

Worker = Callable[[HostConfig, Context, Report], HostRun]

WORKERS: dict[str, Worker] = {
    "setup": setup_host,
    "renew": renew_host,
    "status": status_host,
    "revoke": revoke_host,
}


def run_operation(
    hosts: Sequence[HostConfig],
    ctx: Context,
    *,
    parallel: int = 10,
    view: FleetView | None = None,
    handle_signals: bool = False,
    notify: Callable[[str], None] = lambda _text: None,
    history: bool = True,
) -> FleetRun:
    """Run ``ctx.command`` on every host; results in host order. ``handle_signals`` installs the
    SIGINT/SIGTERM handlers for the run (main thread only): the first sets ``ctx.stop``, the second
    writes the history of what is known and exits 130. ``notify`` gets the interruption messages and
    history warnings. Setting ``ctx.stop`` from elsewhere stops the run the same way as a first signal."""
    op = ctx.command
    worker = WORKERS[op]
    started = ctx.now()
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
                result = worker(host, ctx, control.set_phase)
            finally:
                ticker.remove(control)
        ctx.results[host.name] = result
        log.info("%s: %s %s: %s", host.name, op, result.outcome, ctx.scrub(result.summary))
        return result

    def write_known_history() -> None:  # the second signal: what is known, then exit
        if history and not history_written.is_set():
            history_written.set()
            known = [ctx.results.get(h.name) or not_started(h, op, ctx, "running") for h in hosts]
            write_history(known, ctx, notify)

    handler = InterruptHandler(ctx.stop, notify=notify, on_second=write_known_history)
    if handle_signals:
        handler.__enter__()
    try:
        try:
            runs = run_fleet(
                hosts,
                work,
                on_crash=lambda host, exc: crashed(host, op, exc, ctx),
                outcome=lambda r: progress_outcome(r, ctx),
                parallel=parallel,
                view=view,
            )
        finally:
            ticker.stop()
        finished = ctx.now()
        if history and not history_written.is_set():
            history_written.set()
            write_history(runs, ctx, notify)
    finally:
        if handle_signals:
            handler.__exit__(None, None, None)
    return FleetRun(
        command=op,
        hosts=runs,
        dry_run=ctx.dry_run,
        started=started,
        finished=finished,
        interrupted=ctx.stop.is_set(),
        scrub=ctx.scrub,
        shard=ctx.shard,
    )

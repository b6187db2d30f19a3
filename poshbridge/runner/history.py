"""The run's lines in the local history file (:mod:`poshbridge.history`): one per host, scrubbed with
the run's scrubber."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from poshbridge import __version__
from poshbridge.inventory.shard import Shard
from poshbridge.runner.context import Context
from poshbridge.runner.results import HostRun, iso


def history_record(run: HostRun, dry_run: bool, shard: Shard | None = None) -> dict[str, Any]:
    """One history line; ``shard`` (``"K/N"``) only when the run was a --shard slice."""
    cert = run.objects.get("certificate") or {}
    record = {
        "poshbridge": __version__,
        "command": run.command,
        "host": run.host,
        "started": iso(run.started),
        "finished": iso(run.finished),
        "ok": run.ok,
        "outcome": run.outcome,
        "dry_run": dry_run,
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
    if shard is not None:
        record["shard"] = shard.label
    return record


def write_history(
    runs: Sequence[HostRun], ctx: Context, warn: Callable[[str], None], directory: Path | None = None
) -> None:
    """Append the runs to the history (``directory``, default the state directory); a file that cannot
    be written is a warning, never the end of the run."""
    from poshbridge import history

    records = [history_record(run, ctx.dry_run, ctx.shard) for run in runs]
    try:
        history.append(directory or history.state_dir(), records, scrubber=ctx.scrub)
    except OSError as exc:
        warn(f"warning: history not written: {exc.strerror or exc}")

"""The results of a run: per host (:class:`HostRun`, its :class:`ErrorInfo`) and per fleet
(:class:`FleetRun`, the document ``--json`` prints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from poshbridge import __version__
from poshbridge.inventory.shard import Shard
from poshbridge.plan.setup import Step
from poshbridge.poshacme.problems import AcmeProblem
from poshbridge.scrubber import Scrubber


@dataclass
class ErrorInfo:
    """One classified failure of a host: the step, the kind and a message without secrets."""

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
    """One host's run of one command: its steps, the objects read, its errors, a summary line."""

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


def iso(value: datetime | None) -> str | None:
    """RFC 3339 UTC with ``Z``; None stays None."""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None


@dataclass
class FleetRun:
    """One command over the selected hosts: what ``--json`` prints (:meth:`to_json`).

    ``interrupted``: Ctrl-C/SIGTERM (or the caller's stop event) stopped the run. The values in
    ``hosts`` are not yet scrubbed of the run's secrets; :meth:`to_json` is (use it, or the run's
    scrubber, for anything written)."""

    command: str
    hosts: list[HostRun]
    dry_run: bool = False
    started: datetime | None = None
    finished: datetime | None = None
    interrupted: bool = False
    scrub: Scrubber | None = field(default=None, repr=False)  # the run's scrubber
    shard: Shard | None = None  # --shard K/N: "shard" in the JSON (absent without it)

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(r.ok for r in self.hosts)

    def to_json(self) -> dict[str, Any]:
        doc = {
            "poshbridge": __version__,
            "command": self.command,
            "dry_run": self.dry_run,
            "started": iso(self.started),
            "finished": iso(self.finished),
            "hosts": [r.to_json() for r in self.hosts],
        }
        if self.shard is not None:
            doc["shard"] = self.shard.to_json()
        return doc if self.scrub is None else dict(self.scrub.value(doc))

"""The parsed data: a transcript file, its sessions, their events, and the outcome names."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from poshbridge.poshacme.problems import AcmeProblem
from poshbridge.timefmt import format_wall_clock

RENEWED = "renewed"
NOT_DUE = "not-due"
REBOUND = "rebound"  # hardened script: not due, but the IIS binding held another certificate: rebound
FAILED = "failed"
SKIPPED = "skipped"
INTERRUPTED = "interrupted"
UNKNOWN = "unknown"
OUTCOMES = (RENEWED, NOT_DUE, REBOUND, FAILED, SKIPPED, INTERRUPTED, UNKNOWN)

RESULT_SCHEMA = "poshbridge.renewal-result/1"


@dataclass(slots=True)
class Event:
    """One classified line (or multi-line record) of a session body. Plain output is not kept."""

    kind: str  # command | continuation | warning | verbose | debug | terminating-error | error |
    # pipeline | invocation
    line: int  # 1-based line number in the decoded file
    text: str
    command: str | None = None
    problem: AcmeProblem | None = None
    repeated: bool = False  # `>> TerminatingError` for an enclosing pipeline, or a 5.1 re-render
    fq_error_id: str | None = None
    category: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "line": self.line, "text": self.text}
        if self.command is not None:
            out["command"] = self.command
        if self.fq_error_id is not None:
            out["fq_error_id"] = self.fq_error_id
        if self.category is not None:
            out["category"] = self.category
        if self.repeated:
            out["repeated"] = True
        if self.problem is not None:
            out["acme_problem"] = self.problem.to_json()
        return out


@dataclass
class Session:
    """One ``Start-Transcript`` ... ``Stop-Transcript`` block (or a header without a footer)."""

    index: int
    first_line: int
    last_line: int = 0
    has_header: bool = True
    minimal_header: bool = False
    complete: bool = False  # the footer (end label + End time) was found
    start_label: str | None = None
    end_label: str | None = None
    start: datetime | None = None  # host LOCAL time, naive (transcripts carry no zone)
    end: datetime | None = None
    username: str | None = None
    runas_user: str | None = None
    configuration_name: str | None = None
    machine: str | None = None
    host_application: str | None = None
    process_id: str | None = None
    ps_version: str | None = None
    edition: str | None = None
    ps_version_table: dict[str, str] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    events_dropped: int = 0  # older events of a huge session, not kept
    output_lines: int = 0
    orders: list[str] = field(default_factory=list)  # order names / main domains mentioned
    imported_thumbprint: str | None = None  # Set-IISCertificate "Importing cert with thumbprint"
    script_outcome: str | None = None  # "poshbridge: outcome <x>" printed by the hardened script
    script_error: str | None = None  # "poshbridge: renewal failed: <message>"
    outcome: str = UNKNOWN
    outcome_reason: str = ""
    acme_problem: AcmeProblem | None = None

    @property
    def warnings(self) -> list[str]:
        return [e.text for e in self.events if e.kind == "warning"]

    @property
    def errors(self) -> list[Event]:
        return [e for e in self.events if e.kind in ("terminating-error", "error")]

    def to_json(self, *, include_events: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "start": format_wall_clock(self.start),  # host-local: the header has no zone
            "end": format_wall_clock(self.end),
            "user": self.username,
            "runas_user": self.runas_user,
            "configuration_name": self.configuration_name,
            "machine": self.machine,
            "host_application": self.host_application,
            "process_id": self.process_id,
            "ps_version": self.ps_version,
            "edition": self.edition,
            "has_header": self.has_header,
            "minimal_header": self.minimal_header,
            "complete": self.complete,
            "lines": [self.first_line, self.last_line],
            "outcome": self.outcome,
            "outcome_reason": self.outcome_reason,
            "orders": list(self.orders),
            "imported_thumbprint": self.imported_thumbprint,
            "warnings": self.warnings,
            "errors": [e.to_json() for e in self.errors],
            "acme_problem": self.acme_problem.to_json() if self.acme_problem else None,
        }
        if include_events:
            out["events"] = [e.to_json() for e in self.events]
        return out


@dataclass
class TranscriptFile:
    name: str
    encoding: str
    line_count: int
    sessions: list[Session]
    sessions_dropped: int = 0  # older sessions of a huge file, not kept (the newest are)
    cut_lines: int = 0  # lines longer than the parser keeps, cut

    def to_json(self, *, include_events: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file": self.name,
            "encoding": self.encoding,
            "lines": self.line_count,
            "sessions": [s.to_json(include_events=include_events) for s in self.sessions],
        }
        if self.sessions_dropped:
            out["sessions_dropped"] = self.sessions_dropped  # older sessions not kept (memory bound)
        if self.cut_lines:
            out["cut_lines"] = self.cut_lines  # lines longer than the parser keeps
        return out

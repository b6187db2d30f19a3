"""Runs: a transcript session paired with its result file."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from poshbridge.audit.transcript.model import UNKNOWN, Session, TranscriptFile
from poshbridge.audit.transcript.results import RenewalResult
from poshbridge.poshacme.problems import AcmeProblem
from poshbridge.timefmt import format_timestamp, format_wall_clock, parse_compact

# ----- runs: a transcript session paired with its result file --------------------------------------


_STAMP_IN_NAME = re.compile(r"(\d{8})-(\d{6})")


@dataclass
class RenewalRun:
    """One renewal run as the audit sees it: the result file wins over the transcript's outcome."""

    source: str
    session: Session | None
    result: RenewalResult | None
    name_stamp: datetime | None = None  # UTC stamp from ``renew-<yyyyMMdd-HHmmss>``

    @property
    def outcome(self) -> str:
        if self.result is not None and self.result.outcome != UNKNOWN:
            return self.result.outcome
        return self.session.outcome if self.session is not None else UNKNOWN

    @property
    def reason(self) -> str:
        if self.result is not None and self.result.outcome != UNKNOWN:
            if self.result.error:
                return str(self.result.error.get("message") or self.result.error.get("detail") or "")
            return f"result file: {self.result.outcome}"
        return self.session.outcome_reason if self.session is not None else ""

    @property
    def acme_problem(self) -> AcmeProblem | None:
        if self.result is not None and self.result.acme_problem is not None:
            return self.result.acme_problem
        return self.session.acme_problem if self.session is not None else None

    @property
    def started_utc(self) -> datetime | None:
        """When the run started, in UTC, if known (result file or the UTC stamp in the file name)."""
        if self.result is not None and self.result.started is not None:
            return self.result.started
        return self.name_stamp

    @property
    def finished_utc(self) -> datetime | None:
        if self.result is not None and self.result.finished is not None:
            return self.result.finished
        return None

    @property
    def started_local(self) -> datetime | None:
        return self.session.start if self.session is not None else None

    def sort_key(self) -> tuple[int, str]:
        moment = self.started_utc
        if moment is not None:
            return (1, moment.isoformat())
        local = self.started_local
        return (0, local.isoformat() if local is not None else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "outcome": self.outcome,
            "reason": self.reason,
            "started": format_timestamp(self.started_utc) or format_wall_clock(self.started_local),
            "finished": format_timestamp(self.finished_utc)
            or format_wall_clock(self.session.end if self.session else None),
            "acme_problem": self.acme_problem.to_json() if self.acme_problem else None,
            "session": self.session.to_json() if self.session is not None else None,
            "result": self.result.to_json() if self.result is not None else None,
        }


def _name_stamp(name: str) -> datetime | None:
    match = _STAMP_IN_NAME.search(_basename(name))
    return parse_compact(match.group(1) + match.group(2), utc=True) if match is not None else None


def _basename(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def _stem(name: str) -> str:
    base = _basename(name)
    return base.rsplit(".", 1)[0].lower() if "." in base else base.lower()


def pair_runs(transcripts: Iterable[TranscriptFile], results: Iterable[RenewalResult]) -> list[RenewalRun]:
    """Pair result files with the transcript of the same run (the result's ``transcript`` field,
    else the same ``renew-<stamp>`` stem); a result applies to the LAST session of its transcript.
    Returns the runs oldest first."""
    by_stem: dict[str, RenewalResult] = {}
    orphans: list[RenewalResult] = []
    for result in results:
        key = _stem(result.transcript) if result.transcript else _stem(result.source)
        if key in by_stem:
            orphans.append(result)
        else:
            by_stem[key] = result
    runs: list[RenewalRun] = []
    for transcript in transcripts:
        paired = by_stem.pop(_stem(transcript.name), None)
        stamp = _name_stamp(transcript.name)
        for position, session in enumerate(transcript.sessions):
            last = position == len(transcript.sessions) - 1
            runs.append(
                RenewalRun(
                    transcript.name,
                    session,
                    paired if last else None,
                    name_stamp=stamp if len(transcript.sessions) == 1 else None,
                )
            )
        if not transcript.sessions and paired is not None:
            runs.append(RenewalRun(transcript.name, None, paired, name_stamp=stamp))
    for result in [*by_stem.values(), *orphans]:
        runs.append(RenewalRun(result.source, None, result, name_stamp=_name_stamp(result.source)))
    runs.sort(key=RenewalRun.sort_key)
    return runs

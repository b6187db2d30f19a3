"""The result files written by the hardened renewal script (``poshbridge.renewal-result/1``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from poshbridge.audit.transcript.decode import decode_transcript
from poshbridge.audit.transcript.model import OUTCOMES, RESULT_SCHEMA, UNKNOWN
from poshbridge.poshacme.problems import AcmeProblem, classify_problem
from poshbridge.timefmt import format_timestamp, parse_timestamp


@dataclass
class RenewalResult:
    """A ``renew-<stamp>.json`` written by the hardened renewal script (``poshbridge.renewal-result/1``)."""

    source: str
    host: str | None
    order: str | None
    outcome: str
    started: datetime | None  # aware, UTC
    finished: datetime | None
    thumbprint: str | None
    not_after: datetime | None
    renew_after: datetime | None
    error: dict[str, Any] | None
    transcript: str | None
    acme_problem: AcmeProblem | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "host": self.host,
            "order": self.order,
            "outcome": self.outcome,
            "started": format_timestamp(self.started),
            "finished": format_timestamp(self.finished),
            "thumbprint": self.thumbprint,
            "not_after": format_timestamp(self.not_after),
            "renew_after": format_timestamp(self.renew_after),
            "error": self.error,
            "transcript": self.transcript,
            "acme_problem": self.acme_problem.to_json() if self.acme_problem else None,
        }


def parse_result_file(data: bytes, name: str = "") -> RenewalResult | None:
    """Parse a result file; None when it is not valid JSON of the expected schema. Never raises."""
    text, _ = decode_transcript(data)
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict) or body.get("schema") != RESULT_SCHEMA:
        return None
    outcome = body.get("outcome")
    error = body.get("error") if isinstance(body.get("error"), dict) else None
    problem: AcmeProblem | None = None
    if error is not None:
        status = error.get("status")
        if isinstance(status, str) and status.isdigit():
            status = int(status)
        problem = classify_problem(
            type=_str_or_none(error.get("type")),
            status=status if isinstance(status, int) and not isinstance(status, bool) else None,
            detail=_str_or_none(error.get("detail")),
            message=_str_or_none(error.get("message")),
        )
    return RenewalResult(
        source=name,
        host=_str_or_none(body.get("host")),
        order=_str_or_none(body.get("order")),
        outcome=outcome if outcome in OUTCOMES else UNKNOWN,
        started=parse_timestamp(body.get("started")),
        finished=parse_timestamp(body.get("finished")),
        thumbprint=(_str_or_none(body.get("thumbprint")) or "").upper() or None,
        not_after=parse_timestamp(body.get("not_after")),
        renew_after=parse_timestamp(body.get("renew_after")),
        error=error,
        transcript=_str_or_none(body.get("transcript")),
        acme_problem=problem,
    )


def _str_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)

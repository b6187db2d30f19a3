"""The result files written by the hardened renewal script (``poshbridge.renewal-result/1``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from poshbridge.audit.transcript.decode import decode_transcript
from poshbridge.audit.transcript.model import OUTCOMES, RESULT_SCHEMA, UNKNOWN, _iso
from poshbridge.poshacme.problems import AcmeProblem, classify_problem


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
            "started": _iso(self.started),
            "finished": _iso(self.finished),
            "thumbprint": self.thumbprint,
            "not_after": _iso(self.not_after),
            "renew_after": _iso(self.renew_after),
            "error": self.error,
            "transcript": self.transcript,
            "acme_problem": self.acme_problem.to_json() if self.acme_problem else None,
        }


_ISO = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(?:\s*(Z|[+-]\d{2}:?\d{2}))?\s*$"
)


def parse_iso_datetime(value: Any) -> datetime | None:
    """ISO 8601 text (.NET 'o' with 7 fraction digits, 'Z' or an offset) -> aware UTC datetime.
    A value without a zone is taken as UTC. Anything else -> None."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str):
        return None
    match = _ISO.match(value)
    if match is None:
        return None
    year, month, day, hour, minute = (int(match.group(k)) for k in range(1, 6))
    second = int(match.group(6) or 0)
    micro = int((match.group(7) or "0")[:6].ljust(6, "0"))
    zone = match.group(8)
    tz = timezone.utc
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz).astimezone(timezone.utc)
    except ValueError:
        return None


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
        started=parse_iso_datetime(body.get("started")),
        finished=parse_iso_datetime(body.get("finished")),
        thumbprint=(_str_or_none(body.get("thumbprint")) or "").upper() or None,
        not_after=parse_iso_datetime(body.get("not_after")),
        renew_after=parse_iso_datetime(body.get("renew_after")),
        error=error,
        transcript=_str_or_none(body.get("transcript")),
        acme_problem=problem,
    )


def _str_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)

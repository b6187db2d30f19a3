"""Time in one place: the one parser of the timestamps poshbridge reads, the one JSON formatter.

Pure (no clock is read here). What comes in:

- ISO 8601 / RFC 3339 text: ``2027-02-27T22:55:04Z`` (Posh-ACME's ``CertExpires``/``RenewAfter``,
  written with ``ToString('yyyy-MM-ddTHH:mm:ssZ')``: rmbolger/Posh-ACME,
  Posh-ACME/Public/Complete-PAOrder.ps1, and Private/Repair-ISODate.ps1 for Get-PAOrder);
  ``2026-11-29T03:17:00.1234567+09:00`` (a CLIXML ``<DT>``: PowerShell's serializer writes
  ``XmlConvert.ToString(value, RoundtripKind)``, PowerShell/PowerShell
  src/System.Management.Automation/engine/serialization.cs, ``WriteDateTime``: 7 fraction digits,
  ``Z`` for a UTC value, an offset for a local one, nothing for an unspecified one); an ACME
  ``expires`` with any fraction; the renewal result file's ``started``/``finished``; a ``T`` or a
  space between date and time, seconds optional;
- ``/Date(1735689600000)/`` and ``\\/Date(1735689600000+0900)\\/`` (Windows PowerShell 5.1
  ``ConvertTo-Json`` of a DateTime: milliseconds since the epoch, UTC whatever the suffix says);
- ``yyyyMMddHHmmss`` (a PowerShell transcript's ``Start time:``/``End time:``, host-local wall clock)
  and ``yyyyMMdd-HHmmss`` (the UTC stamp in a renewal log's file name), see :func:`parse_compact`;
- Task Scheduler's ``StartBoundary``/``EndBoundary`` (local unless they carry a zone), see
  :func:`parse_wall_clock`, and its ``LastRunTime``/``NextRunTime`` (CLIXML ``<DT>``).

What goes out: every timestamp in JSON is RFC 3339 in UTC with ``Z`` (:func:`format_timestamp`);
a host-local wall clock whose offset is unknown (the transcript header) is written without a zone
(:func:`format_wall_clock`), never passed off as UTC; people read ``YYYY-MM-DD HH:MM`` in UTC
(:func:`format_minute`).

Parsing is one anchored regular expression without nested repetition (linear time) over text of at
most :data:`MAX_TEXT` characters; anything else is ``None``, never an exception.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

MAX_TEXT = 128  # longer text is not a timestamp (bounded work on untrusted input)

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r" ?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?"
)
_NET_JSON = re.compile(r"\\?/?Date\((-?\d{1,15})(?:[+-]\d{4})?\)\\?/?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})-?(\d{2})(\d{2})(\d{2})")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_wall_clock(value: object) -> datetime | None:
    """ISO 8601 / RFC 3339 text as written: aware (with its offset) when it carries a zone, naive
    when it does not (Task Scheduler's boundaries: a zone-less one is the host's local time).
    ``None`` for anything that is not a valid moment."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        return None
    match = _ISO.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute = (int(match.group(k)) for k in range(1, 6))
    second = int(match.group(6) or 0)
    micro = int((match.group(7) or "0")[:6].ljust(6, "0"))  # .NET's 7th digit is dropped, not rounded
    tz: timezone | None = None
    if match.group(8):
        tz = timezone.utc
    elif match.group(9):
        sign = -1 if match.group(9) == "-" else 1
        hours, minutes = int(match.group(10)), int(match.group(11) or 0)
        if hours > 23 or minutes > 59:
            return None
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        return None


def parse_timestamp(value: object) -> datetime | None:
    """A timezone-aware UTC datetime from any form poshbridge reads (see the module docstring), or
    ``None``. A value without a zone is taken as UTC (Posh-ACME and the renewal script write UTC)."""
    if isinstance(value, str) and len(value) <= MAX_TEXT:
        net = _NET_JSON.fullmatch(value.strip())
        if net is not None:
            try:
                return _EPOCH + timedelta(milliseconds=int(net.group(1)))
            except OverflowError:
                return None
    moment = parse_wall_clock(value)
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC moment in datetime's range
        return None


def parse_compact(text: str, *, utc: bool = False) -> datetime | None:
    """``yyyyMMddHHmmss`` or ``yyyyMMdd-HHmmss`` -> naive datetime (host-local wall clock, as a
    transcript header writes it), or aware UTC when ``utc`` (a renewal log's file-name stamp)."""
    match = _COMPACT.fullmatch(text.strip()) if len(text) <= MAX_TEXT else None
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if utc else moment


def format_timestamp(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with ``Z`` (``2027-02-27T22:55:04Z``; microseconds only when not zero), the
    form of every timestamp in poshbridge's JSON. A naive value is taken as UTC, as the parser does."""
    if value is None:
        return None
    moment = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return _iso_text(moment.replace(tzinfo=None)) + "Z"


def format_wall_clock(value: datetime | None) -> str | None:
    """A host-local wall clock whose offset is unknown (a transcript header): ``2026-11-29T03:17:00``,
    no zone, so nobody reads it as UTC. An aware value is written as :func:`format_timestamp` does."""
    if value is None:
        return None
    if value.tzinfo is not None:
        return format_timestamp(value)
    return _iso_text(value)


def format_minute(value: datetime | None, *, none: str = "-") -> str:
    """``2027-02-27 22:55`` in UTC, for people (tables, reports, messages); ``none`` when unknown."""
    if value is None:
        return none
    moment = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="minutes")


def _iso_text(naive: datetime) -> str:
    return naive.isoformat(timespec="microseconds" if naive.microsecond else "seconds")

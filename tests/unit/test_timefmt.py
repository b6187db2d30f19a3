"""poshbridge.timefmt: the one parser of the timestamps poshbridge reads and the one JSON formatter."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poshbridge.timefmt import (
    format_minute,
    format_timestamp,
    format_wall_clock,
    parse_compact,
    parse_timestamp,
    parse_wall_clock,
)

UTC = timezone.utc
JST = timezone(timedelta(hours=9))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Posh-ACME's order.json CertExpires/RenewAfter (Complete-PAOrder: ToString('yyyy-MM-ddTHH:mm:ssZ'))
        ("2027-02-27T22:55:04Z", datetime(2027, 2, 27, 22, 55, 4, tzinfo=UTC)),
        # CLIXML <DT>: .NET round-trip 'o' form, 7 fraction digits; Kind=Local carries the offset
        ("2026-11-29T03:17:00.1234567+09:00", datetime(2026, 11, 28, 18, 17, 0, 123456, tzinfo=UTC)),
        # ... Kind=Utc ends in Z, Kind=Unspecified has no zone (taken as UTC)
        ("2026-11-29T03:17:00.1234567Z", datetime(2026, 11, 29, 3, 17, 0, 123456, tzinfo=UTC)),
        ("2026-11-29T03:17:00", datetime(2026, 11, 29, 3, 17, tzinfo=UTC)),
        # Windows PowerShell 5.1 ConvertTo-Json of a DateTime (ms since the epoch, UTC whatever the suffix)
        ("/Date(1735689600000)/", datetime(2025, 1, 1, tzinfo=UTC)),
        ("\\/Date(1735689600000)\\/", datetime(2025, 1, 1, tzinfo=UTC)),
        ("/Date(1735689600000+0900)/", datetime(2025, 1, 1, tzinfo=UTC)),
        ("/Date(-86400000)/", datetime(1969, 12, 31, tzinfo=UTC)),
        # an ACME server's RFC 3339 expires (Go's RFC3339Nano: up to 9 fraction digits)
        ("2026-12-06T03:17:00.123456789Z", datetime(2026, 12, 6, 3, 17, 0, 123456, tzinfo=UTC)),
        # Task Scheduler's "never" (LastRunTime) still parses: never_is_none turns it into None
        ("1999-11-30T00:00:00", datetime(1999, 11, 30, tzinfo=UTC)),
        ("0001-01-01T00:00:00", datetime(1, 1, 1, tzinfo=UTC)),
        # a space for the T, no seconds, offsets without a colon or minutes, padding, lower-case z
        ("2025-01-01 00:00", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01T09:00:00+0900", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01T09:00:00+09", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2024-12-31T19:00:00-05:00", datetime(2025, 1, 1, tzinfo=UTC)),
        (" 2024-11-26T03:00:00 Z ", datetime(2024, 11, 26, 3, tzinfo=UTC)),
        ("2024-11-26t03:00:00z", datetime(2024, 11, 26, 3, tzinfo=UTC)),
        ("2024-11-26T03:00:00,5Z", datetime(2024, 11, 26, 3, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_parses_every_form_poshbridge_reads(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    [
        "2025-13-01T00:00:00Z",  # no 13th month
        "2025-02-29T00:00:00Z",  # not a leap year
        "2025-01-01T24:00:00Z",
        "2025-01-01T00:00:00+24:00",
        "2025-01-01T00:00:00+09:",
        "2025-01-01",  # a date is not a moment
        "0001-01-01T00:00:00+01:00",  # before datetime's first moment in UTC
        "/Date(999999999999999)/",  # beyond year 9999
        "/Date(abc)/",
        "20250101T000000Z",
        "yesterday",
        "",
        "2024-11-26T03:00:00" + " " * 100_000 + "x",  # long input: bounded, not scanned
    ],
)
def test_anything_else_is_none_never_an_exception(text: str) -> None:
    assert parse_timestamp(text) is None


def test_non_text_values() -> None:
    assert parse_timestamp(None) is None
    assert parse_timestamp(1735689600) is None
    assert parse_timestamp(datetime(2025, 1, 1, 9, tzinfo=JST)) == datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_timestamp(datetime(2025, 1, 1)) == datetime(2025, 1, 1, tzinfo=UTC)


def test_wall_clock_keeps_what_is_written() -> None:
    # Task Scheduler: a zone-less StartBoundary is local time, so it must not equal a zoned one
    assert parse_wall_clock("2026-01-01T03:17:00") == datetime(2026, 1, 1, 3, 17)
    zoned = parse_wall_clock("2026-01-01T03:17:00+09:00")
    assert zoned is not None and zoned.utcoffset() == timedelta(hours=9)
    assert parse_wall_clock("2026-01-01T03:17:00") != parse_wall_clock("2026-01-01T03:17:00Z")
    assert parse_wall_clock("2026-01-01T03:17:00.0000000") == datetime(2026, 1, 1, 3, 17)
    assert parse_wall_clock("/Date(0)/") is None


def test_compact_stamps() -> None:
    # a transcript header's "Start time: 20241126031702" is the host's local wall clock
    assert parse_compact("20241126031702") == datetime(2024, 11, 26, 3, 17, 2)
    # the renewal log's name stamp (renew-yyyyMMdd-HHmmss) is UTC
    assert parse_compact("20241126-031702", utc=True) == datetime(2024, 11, 26, 3, 17, 2, tzinfo=UTC)
    assert parse_compact("20241332031702") is None
    assert parse_compact("2024112603170") is None


def test_formats() -> None:
    assert format_timestamp(datetime(2027, 2, 27, 22, 55, 4, tzinfo=UTC)) == "2027-02-27T22:55:04Z"
    assert format_timestamp(datetime(2027, 2, 28, 7, 55, 4, tzinfo=JST)) == "2027-02-27T22:55:04Z"
    assert format_timestamp(datetime(2027, 2, 27, 22, 55, 4, 5, tzinfo=UTC)) == "2027-02-27T22:55:04.000005Z"
    assert format_timestamp(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00Z"
    assert format_timestamp(None) is None
    assert format_wall_clock(datetime(2024, 11, 26, 3, 17, 2)) == "2024-11-26T03:17:02"
    assert format_wall_clock(datetime(2024, 11, 26, 12, 17, 2, tzinfo=JST)) == "2024-11-26T03:17:02Z"
    assert format_minute(datetime(2027, 2, 28, 7, 55, 4, tzinfo=JST)) == "2027-02-27 22:55"
    assert format_minute(None) == "-" and format_minute(None, none="") == ""


# fixed offsets (minutes), as the text forms carry them
offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets)


@given(aware)
def test_format_then_parse_is_the_same_moment(moment: datetime) -> None:
    text = format_timestamp(moment)
    assert text is not None and text.endswith("Z")
    assert parse_timestamp(text) == moment
    assert format_timestamp(parse_timestamp(text)) == text


@given(
    aware,
    st.sampled_from(["T", " "]),
    st.integers(min_value=0, max_value=9_999_999),
    st.sampled_from(["Z", "+09:00", "-05:30", "+0000", ""]),
)
def test_parse_then_format_round_trips(moment: datetime, sep: str, ticks: int, zone: str) -> None:
    """Any text in the forms read (7 fraction digits, any zone) -> the canonical text, stable."""
    naive = moment.replace(tzinfo=None, microsecond=0)
    text = naive.isoformat(sep=sep) + f".{ticks:07d}" + zone
    parsed = parse_timestamp(text)
    if parsed is None:  # only when the offset pushes the moment out of datetime's range
        assert naive.year in (1, 9999)
        return
    canonical = format_timestamp(parsed)
    assert canonical is not None and canonical.endswith("Z")
    assert parse_timestamp(canonical) == parsed
    assert format_timestamp(parse_timestamp(canonical)) == canonical
    assert parsed.microsecond == ticks // 10


@given(st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999))
def test_net_json_dates_round_trip(ms: int) -> None:
    parsed = parse_timestamp(f"/Date({ms})/")
    assert parsed is not None
    assert parsed == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    assert parse_timestamp(format_timestamp(parsed)) == parsed


def test_the_module_is_pure() -> None:
    """Only the standard library's re and datetime: no clock, no IO, nothing of poshbridge."""
    import ast

    import poshbridge.timefmt as module

    tree = ast.parse(Path(module.__file__).read_text("utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__", "re", "datetime"}
    assert "now(" not in Path(module.__file__).read_text("utf-8")

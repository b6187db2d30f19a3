"""The parser never raises: arbitrary bytes, and real transcripts mutated in every way a broken disk,
a killed process or a foreign tool could leave them. 10 000 examples in total, no deadline."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poshbridge.audit.transcript import OUTCOMES, parse_result_file, parse_transcript

FIXTURES = Path(__file__).parent / "fixtures"
SOURCES = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.txt"))]
FUZZ = settings(max_examples=2_500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ENCODINGS = ("utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "utf-16", "cp932")
# Structural fragments the parser keys on, to build plausible-but-broken transcripts.
TOKENS = [
    "*" * 22,
    "*" * 21,
    "Windows PowerShell transcript start",
    "PowerShell transcript end",
    "Start time: 20241126031702",
    "End time: 99999999999999",
    "Command start time: 20241126031702",
    "Username: X\\Y",
    "PSVersion: 5.1",
    "PS>",
    'PS>TerminatingError(Invoke-WebRequest): "{',
    '>> TerminatingError(): "',
    '  "type": "urn:ietf:params:acme:error:badNonce",',
    '}"',
    "WARNING: Order 'x' is not recommended for renewal yet.",
    "VERBOSE: Importing cert with thumbprint " + "A" * 40,
    "警告: ",
    "Submit-Renewal : boom",
    "At C:\\renew.ps1:5 char:13",
    "+ ~~~~",
    "    + CategoryInfo          : NotSpecified: (:) [], X",
    "    + FullyQualifiedErrorId : X",
    "Exception: C:\\renew.ps1:5",
    "Line |",
    "   5 |  x",
    "     | ~~~",
    "     | message",
    "\x1b[31;1m",
    "\ufeff",
    "\x00",
    "",
]


def _check(data: bytes) -> None:
    parsed = parse_transcript(data, "fuzz.txt")
    for session in parsed.sessions:
        assert session.outcome in OUTCOMES
    json.dumps(parsed.to_json(include_events=True))


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    _check(data)
    parse_result_file(data, "fuzz.json")


@FUZZ
@given(
    st.sampled_from(SOURCES),
    st.sampled_from(ENCODINGS),
    st.lists(st.tuples(st.integers(min_value=0), st.binary(max_size=8), st.integers(0, 16)), max_size=8),
)
def test_mutated_transcripts_never_raise(
    source: str, encoding: str, edits: list[tuple[int, bytes, int]]
) -> None:
    data = bytearray(source.replace("\n", "\r\n").encode(encoding, errors="replace"))
    for position, insert, delete in edits:
        at = position % (len(data) + 1)
        data[at : at + delete] = insert
    _check(bytes(data))


@FUZZ
@given(st.lists(st.sampled_from(TOKENS) | st.text(max_size=30), max_size=60), st.sampled_from(ENCODINGS))
def test_token_soup_never_raises(lines: list[str], encoding: str) -> None:
    text = "\r\n".join(lines)
    _check(text.encode(encoding, errors="replace"))


@FUZZ
@given(st.sampled_from(SOURCES), st.data())
def test_truncated_and_spliced_transcripts_never_raise(source: str, data: st.DataObject) -> None:
    lines = source.split("\n")
    cut = data.draw(st.integers(0, len(lines)))
    other = data.draw(st.sampled_from(SOURCES)).split("\n")
    start = data.draw(st.integers(0, len(other)))
    text = "\n".join(lines[:cut] + other[start:])
    _check(text.encode("utf-8"))
    parsed = parse_transcript(text.encode("utf-8"), "spliced.txt")
    # whatever the splice, every session's line range is inside the file and ordered
    for before, after in zip(parsed.sessions, parsed.sessions[1:], strict=False):
        assert before.first_line <= after.first_line

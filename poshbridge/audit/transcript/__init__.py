"""Renewal transcripts (``Start-Transcript``) and result files -> sessions -> events -> outcome.

Pure: bytes in, data out, never raises on any input. The format facts (header/footer layout, stream
prefixes, error renderings, encodings, Posh-ACME strings of 4.6 and 4.7+) are those of
``docs/reference/transcripts.md``; the parser keys on STRUCTURE (22-star separators, a label line, a
14-digit time line) rather than on English labels, so localized transcripts split the same way.

One pass over the lines with compiled regexes; plain output lines are counted, not stored, so a
100 MB multi-session log stays linear in time and modest in memory.

The modules: ``decode`` (bytes -> lines), ``patterns`` and ``header`` (what a line is),
``parse`` (the pass over the lines), ``outcome`` (a session's verdict), ``model`` (the data),
``results`` (the hardened script's result files), ``runs`` (a session paired with its result file).
"""

from __future__ import annotations

from poshbridge.audit.transcript.decode import decode_transcript
from poshbridge.audit.transcript.model import (
    FAILED,
    INTERRUPTED,
    NOT_DUE,
    OUTCOMES,
    REBOUND,
    RENEWED,
    RESULT_SCHEMA,
    SKIPPED,
    UNKNOWN,
    Event,
    Session,
    TranscriptFile,
)
from poshbridge.audit.transcript.outcome import is_bad_nonce, problem_from_text
from poshbridge.audit.transcript.parse import parse_transcript, parse_transcript_stream
from poshbridge.audit.transcript.patterns import SEPARATOR
from poshbridge.audit.transcript.results import RenewalResult, parse_result_file
from poshbridge.audit.transcript.runs import RenewalRun, pair_runs

__all__ = [
    "FAILED",
    "INTERRUPTED",
    "NOT_DUE",
    "OUTCOMES",
    "REBOUND",
    "RENEWED",
    "RESULT_SCHEMA",
    "SEPARATOR",
    "SKIPPED",
    "UNKNOWN",
    "Event",
    "RenewalResult",
    "RenewalRun",
    "Session",
    "TranscriptFile",
    "decode_transcript",
    "is_bad_nonce",
    "pair_runs",
    "parse_result_file",
    "parse_transcript",
    "parse_transcript_stream",
    "problem_from_text",
]

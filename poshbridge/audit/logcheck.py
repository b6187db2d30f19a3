"""Is a log file what the audit expects? Pure: bytes in, a parsed transcript or result file and, when
the file cannot be trusted as a renewal log, the reason (never the file's content).

A file is usable when it is a PowerShell transcript (a ``**********************`` header with the
transcript's start label) or a result file of the hardened renewal script (JSON with ``schema`` =
``poshbridge.renewal-result/1``). An empty file, binary data, a JSON file cut off mid-document, JSON
nested deeper than the parser allows, JSON of another schema, or text without a transcript header
each gives a reason; the audit turns it into a WARN, never an OK.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from poshbridge.audit.transcript import (
    RESULT_SCHEMA,
    RenewalResult,
    TranscriptFile,
    decode_transcript,
    parse_result_file,
    parse_transcript,
)

_WHITESPACE = b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"
_BINARY_SAMPLE = 64 * 1024


def looks_binary(data: bytes) -> bool:
    """NUL-free control bytes or undecodable sequences in a large share of the first 64 KiB (UTF-16
    text has NULs, which are fine; transcripts never contain other C0 controls but tab/CR/LF/ESC)."""
    sample = data[:_BINARY_SAMPLE]
    if not sample:
        return False
    text, _encoding = decode_transcript(sample)
    if not text:
        return True
    odd = sum(1 for ch in text if (ch < " " and ch not in "\t\n\x1b") or ch in "\ufffd\x7f")
    return odd * 20 > len(text)  # more than 5 %


def _json_problem(data: bytes) -> str:
    text, _encoding = decode_transcript(data)
    try:
        body = json.loads(text)
    except RecursionError:
        return "JSON nested too deeply: not a renewal result file"
    except json.JSONDecodeError as exc:
        if exc.msg.startswith("Unterminated string") or exc.pos >= len(text.rstrip()):
            return "truncated: the JSON document ends before it is complete"
        return f"not JSON (invalid at line {exc.lineno}, column {exc.colno})"
    except ValueError:
        return "not JSON"
    if not isinstance(body, dict) or body.get("schema") != RESULT_SCHEMA:
        return f"JSON, but not a renewal result file (schema {RESULT_SCHEMA})"
    return "not a usable renewal result file"


HEAD_SAMPLE = _BINARY_SAMPLE  # what a streamed reader looks at before it parses


def check_head(name: str, head: bytes, *, complete: bool) -> str | None:
    """The problem a file's first bytes already show (empty, binary), or None. ``complete``: ``head``
    is the whole file."""
    if complete and not head.strip(_WHITESPACE):
        return f"{name}: empty file"
    if looks_binary(head):
        what = "a renewal result file" if name.lower().endswith(".json") else "a transcript"
        return f"{name}: binary data, not {what}"
    return None


def json_problem(name: str, data: bytes, *, complete: bool = True) -> str:
    """Why a ``.json`` file is not a usable result file (``data`` is all of it when ``complete``)."""
    if not complete:
        return f"{name}: too large for a renewal result file"
    return f"{name}: {_json_problem(data)}"


def header_problem(name: str, transcript: TranscriptFile) -> str | None:
    if not any(session.has_header for session in transcript.sessions):
        return f"{name}: no PowerShell transcript header: not a transcript"
    return None


def check_log(name: str, data: bytes) -> tuple[TranscriptFile | None, RenewalResult | None, str | None]:
    """(transcript, result, problem) for one file; the problem is ``"<name>: <why>"`` or None."""
    problem = check_head(name, data, complete=True)
    if problem is not None:
        return None, None, problem
    if name.lower().endswith(".json"):
        result = parse_result_file(data, name)
        if result is not None:
            return None, result, None
        return None, None, json_problem(name, data)
    transcript = parse_transcript(data, name)
    return transcript, None, header_problem(name, transcript)


def check_logs(
    files: Mapping[str, bytes],
) -> tuple[list[TranscriptFile], list[RenewalResult], list[str]]:
    """Every file checked: the usable transcripts and result files, and the problems."""
    transcripts: list[TranscriptFile] = []
    results: list[RenewalResult] = []
    problems: list[str] = []
    for name, data in files.items():
        transcript, result, problem = check_log(name, data)
        if problem is not None:
            problems.append(problem)
            continue
        if transcript is not None:
            transcripts.append(transcript)
        if result is not None:
            results.append(result)
    return transcripts, results, problems

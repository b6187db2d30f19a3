"""Renewal transcripts (``Start-Transcript``) and result files -> sessions -> events -> outcome.

Pure: bytes in, data out, never raises on any input. The format facts (header/footer layout, stream
prefixes, error renderings, encodings, Posh-ACME strings of 4.6 and 4.7+) are those of
``docs/reference/transcripts.md``; the parser keys on STRUCTURE (22-star separators, a label line, a
14-digit time line) rather than on English labels, so localized transcripts split the same way.

One pass over the lines with compiled regexes; plain output lines are counted, not stored, so a
100 MB multi-session log stays linear in time and modest in memory.
"""

from __future__ import annotations

import codecs
import gc
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from poshbridge.poshacme.problems import AcmeProblem, classify_problem
from poshbridge.timefmt import format_timestamp, format_wall_clock, parse_compact, parse_timestamp

RENEWED = "renewed"
NOT_DUE = "not-due"
REBOUND = "rebound"  # hardened script: not due, but the IIS binding held another certificate: rebound
FAILED = "failed"
SKIPPED = "skipped"
INTERRUPTED = "interrupted"
UNKNOWN = "unknown"
OUTCOMES = (RENEWED, NOT_DUE, REBOUND, FAILED, SKIPPED, INTERRUPTED, UNKNOWN)

RESULT_SCHEMA = "poshbridge.renewal-result/1"

SEPARATOR = "*" * 22
_MAX_HEADER_LINES = 64  # a $PSVersionTable never has this many entries
_MAX_TE_LINES = 400  # cap on a multi-line TerminatingError message (an ACME JSON body)
_PENDING_KEEP = 40  # unclassified lines kept as the possible message of an error record
_MAX_TE_CHARS = 1 << 20  # and on its size
_LOOKAHEAD = _MAX_HEADER_LINES + 8  # lines kept back between windows of a streamed file
_MAX_SESSIONS = 2000  # newest sessions kept per file (older ones are counted, not kept)
_MAX_EVENTS = 5000  # newest events kept per session
_MAX_LINE = 1 << 20  # characters kept of one line (the rest of a longer line is dropped)
_WINDOW_BYTES = 4 << 20  # bytes decoded at a time

# ----- decoding ------------------------------------------------------------------------------------

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decode_transcript(data: bytes) -> tuple[str, str]:
    """Bytes -> (text with LF line ends, encoding description). Never raises.

    BOM first (UTF-8, UTF-16 LE/BE); else strict UTF-8 for the whole file; else line by line:
    UTF-8, CP932 (Japanese Windows), CP1252 with replacement characters. A mid-file BOM (a 5.1
    writer appending to a 7.x file) and stray NULs are dropped.
    """
    encoding = ""
    text: str | None = None
    for bom, codec in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            encoding = codec + "-bom"
            if codec == "utf-8":
                # 5.1 starts the file with a BOM; other tools may append CP932 lines later.
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError:
                    text, mixed = _decode_line_by_line(body)
                    encoding = "utf-8-bom" + mixed[len("utf-8") :]
            else:
                text = body.decode(codec, errors="replace")
            break
    if text is None and _looks_utf16_without_bom(data):
        codec = "utf-16-le" if data[1:2] == b"\x00" else "utf-16-be"
        text = data.decode(codec, errors="replace")
        encoding = codec
    if text is None:
        try:
            text = data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            text, encoding = _decode_line_by_line(data)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        text = text.replace("\x00", "")
    if "\ufeff" in text:
        text = text.replace("\ufeff", "")
    return text, encoding


def _looks_utf16_without_bom(data: bytes) -> bool:
    head = data[:400]
    if len(head) < 8:
        return False
    even_nuls = head[0::2].count(0)
    odd_nuls = head[1::2].count(0)
    half = len(head) // 2
    return max(even_nuls, odd_nuls) > half * 0.8 and min(even_nuls, odd_nuls) < half * 0.1


def _decode_line_by_line(data: bytes) -> tuple[str, str]:
    used: set[str] = set()
    out: list[str] = []
    for raw in data.split(b"\n"):
        try:
            out.append(raw.decode("utf-8"))
            continue
        except UnicodeDecodeError:
            pass
        try:
            out.append(raw.decode("cp932"))
            used.add("cp932")
            continue
        except UnicodeDecodeError:
            pass
        out.append(raw.decode("cp1252", errors="replace"))
        used.add("cp1252")
    return "\n".join(out), "+".join(["utf-8", *sorted(used)])


# ----- data ----------------------------------------------------------------------------------------


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


# ----- line patterns -------------------------------------------------------------------------------

_TIME_LINE = re.compile(r"([^:：]{1,80})[:：]\s*(\d{14})\s*$")
_KEY_VALUE = re.compile(r"([^:：]{1,80})[:：] ?(.*)$")
_END_WORD = re.compile(r"end|終了|fin\b|fine\b", re.IGNORECASE)
_START_WORD = re.compile(r"start|beginn|開始|début|inicio|avvio", re.IGNORECASE)

_PROMPT = re.compile(r"PS(?:>| [^>]{0,300}> ?)(.*)$")
_CONTINUATION = re.compile(r">> ?(.*)$")
_PIPELINE_LOG = re.compile(
    r"(TerminatingError|NonTerminatingError|CommandInvocation|ParameterBinding)\(([^)]*)\): ?(.*)$"
)
_STREAM = re.compile(r"(WARNING|VERBOSE|DEBUG|WARNUNG|AUSFÜHRLICH|DEBUGGEN|警告|詳細|デバッグ)[:：] ?(.*)$")
_STREAM_KIND = {
    "WARNING": "warning",
    "WARNUNG": "warning",
    "警告": "warning",
    "VERBOSE": "verbose",
    "AUSFÜHRLICH": "verbose",
    "詳細": "verbose",
    "DEBUG": "debug",
    "DEBUGGEN": "debug",
    "デバッグ": "debug",
}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# Windows PowerShell 5.1 NormalView error record.
_AT_LINE = re.compile(r"(?:At|In|発生場所:?|場所) .{0,400}:\d+ ?\S{1,20}:\d+\s*$")
_RECORD_PLUS = re.compile(r"\s*\+ ")
_RECORD_PROPERTY = re.compile(r"\s*\+ (CategoryInfo|FullyQualifiedErrorId|PSComputerName)\s*: ?(.*)$")
_CMD_MESSAGE = re.compile(r"([A-Za-z][\w]*-[\w]+|[A-Za-z][\w.]*) : (.*)$", re.S)
# PowerShell 7 ConciseView.
_CONCISE_LINE = re.compile(r"Line \|\s*$")
_CONCISE_BODY = re.compile(r"\s*(\d+ )?\|(?: ?(.*))?$")
_TILDES = re.compile(r"\s*~+\s*$")

# Posh-ACME / Posh-ACME.Deploy strings (English in every UI culture).
_NOT_DUE = re.compile(r"Order (?:for (\S+)|'([^']+)') is not recommended for renewal yet")
_SKIPPED = re.compile(r"Skipping renewal for order '([^']+)' due to (null|Manual DNS) plugin")
_RENEWING = re.compile(r"Renewing certificate for order (?:'([^']+)'|(\S+))")
_IIS_DEPLOY = re.compile(
    r"(Importing cert with thumbprint|Adding IIS site binding for|IIS site binding already exists for"
    r"|Deleting IIS site binding for|Deleting old cert with thumbprint)"
)
_IMPORTING = re.compile(r"Importing cert with thumbprint ([0-9A-Fa-f]{40})")
_ACME_TYPE = re.compile(r'"type"\s*:\s*"([^"]*)"')
_ACME_STATUS = re.compile(r'"status"\s*:\s*(\d{3})')


# ----- header fields -------------------------------------------------------------------------------

_HEADER_KEYS = {
    # en-US
    "username": "username",
    "runas user": "runas_user",
    "configuration name": "configuration_name",
    "machine": "machine",
    "host application": "host_application",
    "process id": "process_id",
    # de-DE
    "benutzername": "username",
    "runas-benutzer": "runas_user",
    "konfigurationsname": "configuration_name",
    "computer": "machine",
    "hostanwendung": "host_application",
    "prozess-id": "process_id",
    # ja-JP (Windows Server with the Japanese UI language)
    "ユーザー名": "username",
    "runas ユーザー": "runas_user",
    "構成名": "configuration_name",
    "コンピューター": "machine",
    "ホスト アプリケーション": "host_application",
    "プロセス id": "process_id",
}
# Lines between the time line and $PSVersionTable, in order, when labels are unknown.
_POSITIONAL_6 = ("username", "runas_user", "configuration_name", "machine", "host_application", "process_id")
_POSITIONAL_5 = ("username", "runas_user", "machine", "host_application", "process_id")


def _apply_header(session: Session, lines: Sequence[str]) -> None:
    """``lines``: the header lines after the time line, up to (not incl.) the closing separator."""
    fixed: list[tuple[str, str]] = []
    in_table = False
    for raw in lines:
        key, colon, value = raw.partition(":")
        if not colon:
            key, colon, value = raw.partition("：")
            if not colon:
                continue
        key, value = key.strip(), value.strip()
        if key == "PSVersion" or in_table:
            in_table = True
            session.ps_version_table[key] = value
            continue
        fixed.append((key, value))
    positional = _POSITIONAL_6 if len(fixed) == 6 else _POSITIONAL_5 if len(fixed) == 5 else ()
    for position, (key, value) in enumerate(fixed):
        name = _HEADER_KEYS.get(key.lower()) or (positional[position] if positional else None)
        if name is not None:
            setattr(session, name, value or None)
    session.ps_version = session.ps_version_table.get("PSVersion")
    session.edition = session.ps_version_table.get("PSEdition") or _infer_edition(session)


def _infer_edition(session: Session) -> str | None:
    if session.ps_version:
        major = session.ps_version.split(".", 1)[0]
        if major.isdigit():
            return "Core" if int(major) >= 6 else "Desktop"
    if session.start_label and "windows powershell" in session.start_label.lower():
        return "Desktop"
    return None


# ----- the parser ----------------------------------------------------------------------------------


class _Builder:
    """Single pass over the lines. State: the current session, an open multi-line
    TerminatingError, an open error record, and the recent unclassified lines."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.offset = 0  # line number of lines[0] minus one (the parser sees the file in windows)
        self.session_count = 0
        self.sessions_dropped = 0  # older sessions beyond _MAX_SESSIONS (kept: the newest)
        self.sessions: list[Session] = []
        self.current: Session | None = None
        self.closed = True  # the current session has its footer (lines after it are strays)
        self.pending: list[tuple[int, str]] = []
        # open multi-line TerminatingError: [line, command, parts, repeated]
        self.te_line = 0
        self.te_command = ""
        self.te_parts: list[str] | None = None
        self.te_repeated = False
        self.te_chars = 0
        # open error record (5.1 NormalView or 7 ConciseView)
        self.rec_kind: str | None = None  # "normal" | "concise"
        self.rec_line = 0
        self.rec_message: list[str] = []
        self.rec_command: str | None = None
        self.rec_category: str | None = None
        self.rec_fqid: str | None = None
        self.rec_last_property: str | None = None
        self.rec_after_tildes = False
        self.last_te_messages: set[str] = set()

    # -- sessions --
    def _open_session(self, line_no: int, *, has_header: bool) -> Session:
        self._finish_session(line_no - 1)
        session = Session(index=self.session_count, first_line=line_no, has_header=has_header)
        self.session_count += 1
        if len(self.sessions) >= _MAX_SESSIONS:  # memory stays bounded: the audit wants the newest runs
            del self.sessions[0]
            self.sessions_dropped += 1
        self.sessions.append(session)
        self.current = session
        self.closed = False
        self.last_te_messages = set()
        return session

    def _finish_session(self, last_line: int) -> None:
        self._flush_te()
        self._close_record()
        self.pending.clear()
        if self.current is not None and not self.closed:
            self.current.last_line = max(self.current.first_line, last_line)
        self.closed = True

    def _body_session(self, line_no: int) -> Session | None:
        if self.current is None or self.closed:
            if self.current is None:
                # text before any header (a truncated file): a headerless session
                return self._open_session(line_no, has_header=False)
            return None  # strays after a footer
        return self.current

    # -- structure at a separator --
    def _structure(self, i: int) -> int:
        """At a separator line ``i``: handle a header/footer/invocation block and return the number
        of lines consumed, or 0 when it is not a structural separator."""
        lines = self.lines
        n = len(lines)
        l1 = lines[i + 1].strip() if i + 1 < n else ""
        t1 = _TIME_LINE.match(l1) if l1 else None
        if t1 is not None:
            # Invocation header: separator / Command start time: <14 digits> / separator
            session = self._body_session(self.offset + i + 1)
            if session is not None:
                self._boundary()
                session.events.append(Event("invocation", self.offset + i + 2, l1))
            return 3 if i + 2 < n and lines[i + 2].strip() == SEPARATOR else 2
        if not l1 or i + 2 >= n:
            return 0
        l2 = lines[i + 2].strip()
        t2 = _TIME_LINE.match(l2)
        if t2 is None:
            return 0
        label = l1
        key, stamp = t2.group(1).strip(), t2.group(2)
        short_block = i + 3 < n and lines[i + 3].strip() == SEPARATOR
        if short_block:
            words = label + " " + key
            is_end = bool(_END_WORD.search(words)) and not _START_WORD.search(words)
            is_start = bool(_START_WORD.search(words)) and not is_end
            if not is_end and not is_start:
                is_end = self.current is not None and not self.closed and self.current.has_header
            if is_end:
                self._footer(self.offset + i, label, stamp)
                return 4
            session = self._open_session(self.offset + i + 1, has_header=True)
            session.minimal_header = True
            session.start_label = label
            session.start = parse_compact(stamp)
            session.edition = "Core"  # -UseMinimalHeader exists in PowerShell 6.2+ only
            return 4
        # Full header: key/value lines up to the closing separator.
        end = i + 3
        limit = min(n, i + 3 + _MAX_HEADER_LINES)
        while end < limit and lines[end].strip() != SEPARATOR:
            end += 1
        if end >= limit:  # no closing separator: header runs while lines look like "Key: value"
            end = i + 3
            while end < limit and _KEY_VALUE.match(lines[end]) and lines[end].strip():
                end += 1
            consumed = end - i
        else:
            consumed = end - i + 1
        session = self._open_session(self.offset + i + 1, has_header=True)
        session.start_label = label
        session.start = parse_compact(stamp)
        _apply_header(session, lines[i + 3 : end])
        return consumed

    def _footer(self, i: int, label: str, stamp: str) -> None:
        session = self.current
        if session is None or self.closed:
            return  # a footer without a session: nothing to close
        self._flush_te()
        self._close_record()
        session.end_label = label
        session.end = parse_compact(stamp)
        session.complete = True
        session.last_line = i + 4
        self.pending.clear()
        self.closed = True

    # -- body --
    def _boundary(self) -> None:
        self._flush_te()
        self._close_record()
        self.pending.clear()

    def _flush_te(self) -> None:
        if self.te_parts is None:
            return
        message = "\n".join(self.te_parts)
        self.te_parts = None
        self._emit_te(self.te_line, self.te_command, message, self.te_repeated)

    def _emit_te(self, line_no: int, command: str, message: str, repeated: bool) -> None:
        session = self.current
        if session is None:
            return
        if message.endswith('"'):
            message = message[:-1]
        key = _message_key(message)
        repeated = repeated or key in self.last_te_messages
        self.last_te_messages.add(key)
        session.events.append(
            Event(
                "terminating-error",
                line_no,
                message,
                command=command or None,
                problem=problem_from_text(message),
                repeated=repeated,
            )
        )

    def _close_record(self) -> None:
        kind = self.rec_kind
        if kind is None:
            return
        self.rec_kind = None
        session = self.current
        if session is None:
            return
        joiner = " " if kind == "concise" else "\n"  # ConciseView wraps long messages
        message = joiner.join(part for part in self.rec_message if part).strip()
        command = self.rec_command
        if kind == "normal" and command is None:
            head = _CMD_MESSAGE.match(message)
            if head is not None:
                command, message = head.group(1), head.group(2)
        repeated = _message_key(message) in self.last_te_messages
        session.events.append(
            Event(
                "error",
                self.rec_line,
                message,
                command=command,
                problem=problem_from_text(message),
                repeated=repeated,
                fq_error_id=self.rec_fqid,
                category=self.rec_category,
            )
        )

    def _start_record(self, kind: str, line_no: int) -> None:
        self._flush_te()
        self._close_record()
        self.rec_kind = kind
        # The message starts at the last "<Command> : <message>" line (a JSON body may follow it);
        # without one, it is the line just above. Earlier lines are ordinary output.
        pending = self.pending
        start = len(pending) - 1
        for position in range(len(pending) - 1, -1, -1):
            if _CMD_MESSAGE.match(pending[position][1]):
                start = position
                break
        taken = pending[max(start, 0) :]
        self.rec_message = [text for _, text in taken]
        self.rec_line = taken[0][0] if taken else line_no
        self.pending.clear()
        self.rec_command = None
        self.rec_category = None
        self.rec_fqid = None
        self.rec_last_property = None
        self.rec_after_tildes = False

    def _record_line(self, line: str) -> bool:
        """Feed a line to the open error record; False when the record ends before it."""
        if self.rec_kind == "normal":
            prop = _RECORD_PROPERTY.match(line)
            if prop is not None:
                name, value = prop.group(1), prop.group(2).strip()
                self.rec_last_property = name
                if name == "CategoryInfo":
                    self.rec_category = value
                elif name == "FullyQualifiedErrorId":
                    self.rec_fqid = value
                return True
            last = self.rec_last_property
            if last and line.startswith("   ") and not line.lstrip().startswith("+"):
                # 5.1 wraps long property values at the console width, indenting by three spaces
                if last == "CategoryInfo":
                    self.rec_category = (self.rec_category or "") + line.strip()
                elif last == "FullyQualifiedErrorId":
                    self.rec_fqid = (self.rec_fqid or "") + line.strip()
                return True
            if self.rec_fqid is not None:
                return False  # FullyQualifiedErrorId is the last line of the record
            return bool(_RECORD_PLUS.match(line) or _AT_LINE.match(line))
        body = _CONCISE_BODY.match(line)
        if body is None:
            return False
        number, text = body.group(1), body.group(2) or ""
        if number is None:
            if _TILDES.match(text):
                self.rec_after_tildes = True
            elif (self.rec_after_tildes or text.strip()) and len(self.rec_message) < _MAX_TE_LINES:
                self.rec_message.append(text.strip())
        return True

    def feed(self, *, final: bool = True) -> None:
        """Parse ``self.lines``; unless ``final``, stop ``_LOOKAHEAD`` lines before the end and keep
        those for the next window (a header block looks ahead at most that far)."""
        lines = self.lines
        n = len(lines)
        limit = n if final else n - _LOOKAHEAD
        offset = self.offset
        i = 0
        while i < limit:
            line = lines[i]
            line_no = offset + i + 1
            if line and line[0] == "*" and line.strip() == SEPARATOR:
                consumed = self._structure(i)
                if consumed:
                    i += consumed
                    continue
            if "\x1b" in line:
                line = _ANSI.sub("", line)
            if self.te_parts is not None:
                self.te_parts.append(line)
                self.te_chars += len(line)
                if line.endswith('"') or len(self.te_parts) >= _MAX_TE_LINES or self.te_chars > _MAX_TE_CHARS:
                    self._flush_te()
                i += 1
                continue
            if self.rec_kind is not None:
                if self._record_line(line):
                    i += 1
                    continue
                self._close_record()
            self._body_line(line, line_no)
            i += 1
        if final:
            self._finish_session(offset + n)
        else:
            self.offset = offset + i
            self.lines = lines[i:]

    def _body_line(self, line: str, line_no: int) -> None:
        stripped = line.strip()
        if not stripped:
            if self.current is not None and not self.closed:
                self.pending.clear()
            return
        session = self._body_session(line_no)
        if session is None:
            return
        if len(session.events) > 2 * _MAX_EVENTS:  # bounded memory: the newest events decide
            session.events_dropped += len(session.events) - _MAX_EVENTS
            del session.events[: len(session.events) - _MAX_EVENTS]
        first = line[0]
        if first == "P" and line.startswith("PS"):
            prompt = _PROMPT.match(line)
            if prompt is not None:
                self._command_text(session, prompt.group(1), line_no, continuation=False)
                return
        elif first == ">" and line.startswith(">>"):
            cont = _CONTINUATION.match(line)
            if cont is not None:
                self._command_text(session, cont.group(1), line_no, continuation=True)
                return
        stream = _STREAM.match(line)
        if stream is not None:
            self._boundary()
            kind = _STREAM_KIND[stream.group(1)]
            text = stream.group(2).rstrip()
            session.events.append(Event(kind, line_no, text))
            _note_posh_acme(session, text)
            return
        if self.rec_kind is None:
            if _RECORD_PROPERTY.match(line) or _AT_LINE.match(line):
                self._start_record("normal", line_no)
                self._record_line(line)
                return
            if _CONCISE_LINE.match(line):
                head_text = self.pending[-1][1] if self.pending else ""
                head = _concise_head(head_text)
                if self.pending:
                    self.pending.pop()
                self._start_record("concise", line_no - 1 if head_text else line_no)
                self.rec_message = []
                if head is not None:
                    command = head.strip()
                    self.rec_command = None if command.endswith("Exception") else command
                return
        if first == "p" and stripped.startswith("poshbridge: "):
            _note_script_line(session, stripped)
        session.output_lines += 1
        self.pending.append((line_no, stripped))
        if len(self.pending) > 2 * _PENDING_KEEP:
            del self.pending[:_PENDING_KEEP]

    def _command_text(self, session: Session, text: str, line_no: int, *, continuation: bool) -> None:
        self._boundary()
        logged = _PIPELINE_LOG.match(text)
        if logged is None:
            kind = "continuation" if continuation else "command"
            session.events.append(Event(kind, line_no, text.rstrip()))
            return
        what, command, rest = logged.group(1), logged.group(2), logged.group(3)
        if what != "TerminatingError":
            session.events.append(Event("pipeline", line_no, f"{what}({command}): {rest}", command=command))
            return
        if rest.startswith('"'):
            rest = rest[1:]
        if rest.endswith('"') or not rest:
            self._emit_te(line_no, command, rest, continuation)
        else:
            self.te_line, self.te_command, self.te_parts = line_no, command, [rest]
            self.te_chars = len(rest)
            self.te_repeated = continuation


_SCRIPT_OUTCOME = re.compile(r"poshbridge: outcome (\S+)\s*$")
_SCRIPT_FAILED = re.compile(r"poshbridge: renewal failed: (.*)$")


def _note_script_line(session: Session, text: str) -> None:
    """The hardened renewal script prints its verdict: ``poshbridge: outcome <outcome>``."""
    outcome = _SCRIPT_OUTCOME.match(text)
    if outcome is not None and outcome.group(1) in OUTCOMES:
        session.script_outcome = outcome.group(1)
        return
    failed = _SCRIPT_FAILED.match(text)
    if failed is not None:
        session.script_error = failed.group(1).strip()


def _message_key(message: str) -> str:
    """Compare messages across renderings (wrapped, re-indented): no whitespace at all."""
    return "".join(message.split())


def _note_posh_acme(session: Session, text: str) -> None:
    """Remember order names and the imported thumbprint mentioned by Posh-ACME lines."""
    for regex in (_NOT_DUE, _SKIPPED, _RENEWING):
        match = regex.search(text)
        if match is not None:
            name = match.group(1) or (match.group(2) if regex is not _SKIPPED else None)
            if name and len(session.orders) < 100 and name not in session.orders:
                session.orders.append(name)
            return
    imported = _IMPORTING.search(text)
    if imported is not None:
        session.imported_thumbprint = imported.group(1).upper()


def problem_from_text(message: str) -> AcmeProblem | None:
    """The ACME problem in an error message: an RFC 7807 JSON body (possibly partial), else a
    Posh-ACME message form that the classifier recognises. None for non-ACME errors."""
    if not message:
        return None
    if "urn:ietf:params:acme:error:" in message or '"type"' in message:
        body = _json_object(message)
        if body is not None:
            status = body.get("status")
            return classify_problem(
                type=str(body["type"]) if body.get("type") is not None else None,
                status=int(status) if isinstance(status, int) else None,
                detail=str(body["detail"]) if body.get("detail") is not None else None,
            )
        type_match = _ACME_TYPE.search(message)
        if type_match is not None:
            detail = _json_string_after(message, '"detail"')
            status_match = _ACME_STATUS.search(message)
            return classify_problem(
                type=type_match.group(1),
                status=int(status_match.group(1)) if status_match else None,
                detail=detail,
            )
    problem = classify_problem(message=message)
    if problem.type is None and problem.fqdn is None:
        return None
    return problem


def _json_object(text: str) -> dict[str, Any] | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start : end + 1], strict=False)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _concise_head(text: str) -> str | None:
    """ConciseView's ``<command>: <script>:<line>`` above ``Line |`` -> the command, in linear time
    (the first ": " within 200 characters, then a non-empty script and a line number at the end)."""
    sep = text.find(": ", 1, 202)
    if sep < 1:
        return None
    script, colon, number = text[sep + 2 :].rstrip().rpartition(":")
    if not colon or not script or not number.isdigit() or not number.isascii():
        return None
    return text[:sep]


def _json_string_after(text: str, key: str) -> str | None:
    """The JSON string value after the first ``key :`` in ``text`` (a partial JSON body), decoded by
    the json module's linear string scanner; None when there is none or it does not close."""
    at = text.find(key)
    if at < 0:
        return None
    pos = at + len(key)
    rest = text[pos:].lstrip()
    if not rest.startswith(":"):
        return None
    rest = rest[1:].lstrip()
    if not rest.startswith('"'):
        return None
    try:
        value, _ = _STRING_DECODER.raw_decode(text, len(text) - len(rest))
    except ValueError:
        return None
    return value if isinstance(value, str) else None


_STRING_DECODER = json.JSONDecoder(strict=False)


def is_bad_nonce(problem: AcmeProblem | None) -> bool:
    return problem is not None and (problem.type or "").endswith("badNonce")


# ----- outcome -------------------------------------------------------------------------------------


def _decide_outcome(session: Session) -> None:
    """Outcome of one session from its events (README.md, "What is read from a transcript", has the rules)."""
    if session.script_outcome is not None:
        _script_outcome(session, session.script_outcome)
        return
    last_success = -1
    success_kinds: set[str] = set()
    for position, event in enumerate(session.events):
        kind = _success_kind(event)
        if kind is not None:
            last_success = position
            success_kinds.add(kind)
    failures: list[Event] = []
    nonce_errors: list[Event] = []
    for position, event in enumerate(session.events[last_success + 1 :], start=last_success + 1):
        del position
        if event.kind not in ("terminating-error", "error") or event.repeated:
            continue
        if _NOT_DUE.search(event.text):
            continue  # -WarningAction Stop turned the not-due warning into an error
        if is_bad_nonce(event.problem) and event.text.lstrip().startswith("{"):
            nonce_errors.append(event)  # the body Posh-ACME caught and retried
            continue
        failures.append(event)
    if failures:
        session.outcome = FAILED
        with_problem = next((e for e in failures if e.problem is not None and e.problem.type), None)
        with_problem = with_problem or next((e for e in failures if e.problem is not None), None)
        session.acme_problem = with_problem.problem if with_problem is not None else None
        # The reason reads best from the last plain-text message (not an ACME JSON body).
        readable = [e for e in failures if e.text and not e.text.lstrip().startswith("{")]
        culprit = readable[-1] if readable else failures[-1]
        text = " ".join(culprit.text.split())
        if not readable and session.acme_problem is not None:
            text = session.acme_problem.detail or text
        where = f"{culprit.command}: " if culprit.command else ""
        session.outcome_reason = (where + text).strip()[:500]
        return
    if not session.complete and session.has_header:
        session.outcome = INTERRUPTED
        session.outcome_reason = "no transcript footer: the run was stopped, killed or crashed"
        if nonce_errors:
            session.acme_problem = nonce_errors[-1].problem
        return
    for kind in (RENEWED, SKIPPED, NOT_DUE):
        if kind in success_kinds:
            session.outcome = kind
            session.outcome_reason = _success_reason(session, kind)
            return
    session.outcome = UNKNOWN
    session.outcome_reason = "no Posh-ACME renewal lines in the transcript"


def _script_outcome(session: Session, outcome: str) -> None:
    """The hardened script caught everything and said what happened; errors explain a failure."""
    session.outcome = outcome
    if outcome != FAILED:
        session.outcome_reason = _success_reason(session, outcome) + " (renewal script)"
        return
    failures = [e for e in session.errors if not e.repeated and not is_bad_nonce(e.problem)]
    with_problem = next((e for e in failures if e.problem is not None and e.problem.type), None)
    if with_problem is None and session.script_error:
        problem = problem_from_text(session.script_error)
        session.acme_problem = problem
    else:
        session.acme_problem = with_problem.problem if with_problem is not None else None
    session.outcome_reason = session.script_error or (failures[-1].text if failures else "renewal failed")


def _success_kind(event: Event) -> str | None:
    if event.kind == "warning":
        if _NOT_DUE.search(event.text):
            return NOT_DUE
        if _SKIPPED.search(event.text):
            return SKIPPED
    elif event.kind == "verbose":
        if _IIS_DEPLOY.match(event.text):
            return RENEWED
    elif event.kind == "terminating-error" and _NOT_DUE.search(event.text):
        return NOT_DUE
    return None


def _success_reason(session: Session, kind: str) -> str:
    orders = ", ".join(session.orders)
    if kind == RENEWED:
        thumb = f" ({session.imported_thumbprint})" if session.imported_thumbprint else ""
        return f"certificate renewed and installed in IIS{thumb}"
    if kind == SKIPPED:
        return f"renewal skipped (null/manual plugin): {orders}".rstrip(": ")
    if kind == REBOUND:
        thumb = f" ({session.imported_thumbprint})" if session.imported_thumbprint else ""
        return f"not due; Posh-ACME's certificate bound again in IIS{thumb}"
    return f"not due for renewal yet: {orders}".rstrip(": ")


class _StreamDecoder:
    """Bytes arriving in chunks -> complete lines, with the choices of :func:`decode_transcript`
    (BOM, UTF-16 guess, strict UTF-8 else line by line UTF-8/CP932/CP1252), one window at a time.
    Lines longer than ``_MAX_LINE`` characters are cut (counted in ``cut_lines``)."""

    def __init__(self) -> None:
        self.head = b""  # bytes before the encoding is decided
        self.mode: str | None = None  # "utf-8" | "utf-8-bom" | a UTF-16 codec
        self.utf16: Any = None  # incremental decoder
        self.encoding = ""
        self.used: set[str] = set()
        self.carry = b""  # an incomplete line (8-bit modes)
        self.pending = ""  # an incomplete decoded line
        self.cr = ""  # a held-back CR (it may be the first half of CRLF)
        self.overlong = False
        self.cut_lines = 0

    def push(self, chunk: bytes, *, final: bool = False) -> list[str]:
        if self.mode is None:
            self.head += chunk
            if len(self.head) < 400 and not final:
                return []
            chunk, self.head = self.head, b""
            self._decide(chunk)
            chunk = chunk[self._bom_length :]
        if self.utf16 is not None:
            return self._text(self.utf16.decode(chunk, final), final)
        data = self.carry + chunk
        cut = len(data) if final else data.rfind(b"\n") + 1
        if not final and cut == 0 and len(data) > 4 * _MAX_LINE:
            cut = len(data)  # a line longer than any kept: decode what there is
        self.carry = data[cut:]
        return self._text(self._decode_8bit(data[:cut]), final)

    def _decide(self, head: bytes) -> None:
        self._bom_length = 0
        for bom, codec in _BOMS:
            if head.startswith(bom):
                self._bom_length = len(bom)
                self.mode = codec + "-bom"
                if codec != "utf-8":
                    self.utf16 = codecs.getincrementaldecoder(codec)(errors="replace")
                self.encoding = self.mode
                return
        if _looks_utf16_without_bom(head):
            codec = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
            self.mode = self.encoding = codec
            self.utf16 = codecs.getincrementaldecoder(codec)(errors="replace")
            return
        self.mode = "utf-8"

    def _decode_8bit(self, data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            text, mixed = _decode_line_by_line(data)
            self.used.update(mixed.split("+")[1:])
            return text

    def finish_encoding(self) -> str:
        if self.utf16 is not None:
            return self.encoding
        base = self.mode or "utf-8"
        return "+".join([base, *sorted(self.used)])

    def _text(self, piece: str, final: bool) -> list[str]:
        piece = self.cr + piece
        self.cr = ""
        if not final and piece.endswith("\r"):
            self.cr, piece = "\r", piece[:-1]
        if "\r" in piece:
            piece = piece.replace("\r\n", "\n").replace("\r", "\n")
        if "\x00" in piece:
            piece = piece.replace("\x00", "")
        if "\ufeff" in piece:
            piece = piece.replace("\ufeff", "")
        if self.overlong:
            newline = piece.find("\n")
            if newline < 0:
                return []
            piece, self.overlong = piece[newline:], False
        parts = (self.pending + piece).split("\n")
        self.pending = parts.pop()
        if final and self.pending:
            parts.append(self.pending)
            self.pending = ""
        elif len(self.pending) > _MAX_LINE:
            self.pending, self.overlong = self.pending[:_MAX_LINE], True
            self.cut_lines += 1
        for position, part in enumerate(parts):
            if len(part) > _MAX_LINE:
                parts[position] = part[:_MAX_LINE]
                self.cut_lines += 1
        return parts


def parse_transcript(data: bytes, name: str = "") -> TranscriptFile:
    """Parse one transcript file. Never raises."""
    return parse_transcript_stream([data], name)


def parse_transcript_stream(chunks: Iterable[bytes], name: str = "") -> TranscriptFile:
    """Parse a transcript arriving as byte chunks (a file read piece by piece): memory stays bounded
    by the window (``_WINDOW_BYTES``), the newest ``_MAX_SESSIONS`` sessions and their newest
    ``_MAX_EVENTS`` events, whatever the size of the input. Never raises."""
    decoder = _StreamDecoder()
    builder = _Builder([])
    line_count = 0
    # A big log creates many small objects and no cycles: pausing the cyclic GC keeps the pass linear.
    pause_gc = gc.isenabled()
    if pause_gc:
        gc.disable()
    try:
        for chunk in _windows(chunks):
            lines = decoder.push(chunk)
            if lines:
                line_count += len(lines)
                builder.lines = builder.lines + lines if builder.lines else lines
                builder.feed(final=False)
        lines = decoder.push(b"", final=True)
        line_count += len(lines)
        builder.lines = builder.lines + lines
        builder.feed(final=True)
        for session in builder.sessions:
            _decide_outcome(session)
    finally:
        if pause_gc:
            gc.enable()
    parsed = TranscriptFile(
        name=name, encoding=decoder.finish_encoding(), line_count=line_count, sessions=builder.sessions
    )
    parsed.sessions_dropped = builder.sessions_dropped
    parsed.cut_lines = decoder.cut_lines
    return parsed


def _windows(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Chunks of at most ``_WINDOW_BYTES`` (a whole file given as one chunk is decoded in windows)."""
    for chunk in chunks:
        if len(chunk) <= _WINDOW_BYTES:
            yield chunk
            continue
        view = memoryview(chunk)
        for start in range(0, len(chunk), _WINDOW_BYTES):
            yield bytes(view[start : start + _WINDOW_BYTES])


# ----- hardened script result files ----------------------------------------------------------------


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

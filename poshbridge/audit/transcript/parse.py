"""The single pass over the lines: sessions, events, error records; the parse entry points."""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable

from poshbridge.audit.transcript.decode import _StreamDecoder, _windows
from poshbridge.audit.transcript.header import _apply_header
from poshbridge.audit.transcript.model import OUTCOMES, Event, Session, TranscriptFile
from poshbridge.audit.transcript.outcome import _decide_outcome, problem_from_text
from poshbridge.audit.transcript.patterns import (
    _ANSI,
    _AT_LINE,
    _CMD_MESSAGE,
    _CONCISE_BODY,
    _CONCISE_LINE,
    _CONTINUATION,
    _END_WORD,
    _IMPORTING,
    _KEY_VALUE,
    _NOT_DUE,
    _PIPELINE_LOG,
    _PROMPT,
    _RECORD_PLUS,
    _RECORD_PROPERTY,
    _RENEWING,
    _SKIPPED,
    _START_WORD,
    _STREAM,
    _STREAM_KIND,
    _TILDES,
    _TIME_LINE,
    SEPARATOR,
)
from poshbridge.timefmt import parse_compact

_MAX_HEADER_LINES = 64  # a $PSVersionTable never has this many entries
_MAX_TE_LINES = 400  # cap on a multi-line TerminatingError message (an ACME JSON body)
_PENDING_KEEP = 40  # unclassified lines kept as the possible message of an error record
_MAX_TE_CHARS = 1 << 20  # and on its size
_LOOKAHEAD = _MAX_HEADER_LINES + 8  # lines kept back between windows of a streamed file
_MAX_SESSIONS = 2000  # newest sessions kept per file (older ones are counted, not kept)
_MAX_EVENTS = 5000  # newest events kept per session


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

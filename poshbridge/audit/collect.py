"""Remote collection for the audit: ONE pool per host and, normally, TWO invocations.

Per host (``HostSession`` = one RunspacePool; open + the state invocation + the certificate files
invocation + close = 7 WSMan requests):

- the one host-state batch ``status`` sends too (:mod:`poshbridge.hoststate.batch`:
  ``Set-Item Env:POSHACME_HOME``, the renewal task (``Get-ScheduledTask`` + ``Get-ScheduledTaskInfo``),
  the site's bindings (``Get-IISSiteBinding``), ``*.bak`` files under the Posh-ACME home, and LAST the
  Posh-ACME cmdlets ``Get-PAOrder -List`` and ``Get-PACertificate -Name <order>``, which ``throw`` on
  a host without Posh-ACME state: the throw is recorded on its statement; a batch goes on), with the
  audit's own reads before the Posh-ACME ones (:func:`log_statements`):
- ``Get-ChildItem -Name`` of the log folder (names only: a 90-day folder holds thousands of files,
  names are a few bytes each); the runs of the last two days (the hardened script names its files
  ``renew-<UTC stamp>``, so the control node knows the day prefixes) and the manual script's
  ``acme_log.txt``: ``Get-ChildItem -Name`` and ``Get-Content -Encoding Byte -Raw`` of the same path
  list (``<dir>\renew-<today>-*``, ``<dir>\renew-<yesterday>-*``, ``<dir>\acme_log.txt``) in the same
  invocation; the provider enumerates both in the same order, so names and contents pair by
  position; the newest poshbridge events.

The answers become facts with the one facts builder (:func:`poshbridge.hoststate.state.read_state` and
:func:`~poshbridge.hoststate.state.host_facts`, as ``status``); the audit adds the runs and the
unusable log files.

Files are read as BYTES: ``Get-Content -Encoding Byte -Raw`` is Windows PowerShell 5.1's way to get
one ``byte[]`` per file (PowerShell 7 spells it ``-AsByteStream``; WinRM's default endpoint and the
renewal task run 5.1). Without ``-Raw`` 5.1 answers an ``object[]`` of boxed bytes, one ``<By>``
element per byte on the wire (about ten times the size); an empty file answers nothing.
Transcripts are UTF-8 with or without BOM, UTF-16 or CP932, and only the parser decides. Text
answers (a host that returns strings) are accepted too.

Only when the newest ``max_logs`` runs are not all among those (the task has not run for two days,
or a file appeared between listing and reading) does a second invocation read them by name.

Then Posh-ACME's current certificate and chain files (one more small invocation), the TLS probe from
the control node of what the site serves, and the OCSP checks of both (verified answers only). A
failing host is data (a ``HostFacts`` with collection errors; a connection that fails: ``unreachable``,
which the health model reports as UNKNOWN), never an exception that stops the fleet. Log files that
are empty, truncated or not renewal logs become findings (:mod:`poshbridge.audit.logcheck`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from poshbridge.audit import events
from poshbridge.audit.capped import DEFAULT_MAX_FILE_SIZE, truncation_note
from poshbridge.audit.logcheck import check_logs
from poshbridge.audit.transcript import (
    RenewalResult,
    TranscriptFile,
    pair_runs,
    parse_result_file,
    parse_transcript,
)
from poshbridge.audit.verdict import HostFacts, Revocation, ServedCertificate
from poshbridge.hoststate import batch as hoststate_batch
from poshbridge.hoststate.state import StatementAnswer, host_facts, pems, read_state
from poshbridge.inventory.model import HostConfig
from poshbridge.powershell.command import SWITCH, Batch, Cmd, Statement
from poshbridge.remote import tls
from poshbridge.remote.outcome import BatchResult, RemoteConnectionError, StatementResult

DEFAULT_MAX_LOGS = 10
RECENT_DAYS = 2  # days of runs read in the first invocation (today and yesterday, UTC)
MANUAL_LOG = "acme_log.txt"
_RUN_FILE = re.compile(r"^renew-(\d{8}-\d{6})\.(txt|json)$", re.IGNORECASE)
_SILENT = "SilentlyContinue"


# ----- batches (pure) -------------------------------------------------------------------------------


def recent_days(now: datetime, days: int = RECENT_DAYS) -> list[str]:
    """``yyyyMMdd`` (UTC) of today and the days before, newest first."""
    utc = now.astimezone(timezone.utc) if now.tzinfo else now
    return [(utc - timedelta(days=back)).strftime("%Y%m%d") for back in range(days)]


def log_statements(host: HostConfig, now: datetime, edition: str | None = None) -> list[Statement]:
    """What only the audit reads: the log folder's names, the recent runs and the manual log (names and
    contents of the same paths, paired by position), the newest poshbridge events."""
    log_dir = host.renewal.log_dir
    recent = [_join(log_dir, f"renew-{day}-*") for day in recent_days(now)] + [_join(log_dir, MANUAL_LOG)]
    return [
        Statement((Cmd.of("Get-ChildItem", Path=log_dir, Name=SWITCH, ErrorAction=_SILENT),), "logs"),
        Statement((Cmd.of("Get-ChildItem", Path=recent, Name=SWITCH, ErrorAction=_SILENT),), "recent-names"),
        Statement(
            (Cmd.of("Get-Content", {"Path": recent, **_bytes(edition)}, Raw=SWITCH, ErrorAction=_SILENT),),
            "recent-content",
        ),
        # the newest poshbridge events (one per run, the result JSON): the runs when the logs are gone
        Statement((events.get_run_events(DEFAULT_MAX_LOGS),), "events"),
    ]


def state_batch(host: HostConfig, now: datetime, edition: str | None = None) -> Batch:
    """The one host-state read batch (:mod:`poshbridge.hoststate.batch`, shared with ``status``) with
    the audit's log reads before the Posh-ACME statements."""
    return hoststate_batch.read_batch(host, log_statements(host, now, edition))


def choose_log_files(names: Iterable[str], max_runs: int) -> list[str]:
    """The newest ``max_runs`` runs' files (``renew-<stamp>.txt``/``.json``; stamps sort by time), plus
    the manual script's ``acme_log.txt``. Oldest first."""
    stamps: dict[str, list[str]] = {}
    manual: list[str] = []
    for name in names:
        if "/" in name.replace("\\", "/"):
            continue  # not in the log folder itself
        match = _RUN_FILE.match(name)
        if match is not None:
            stamps.setdefault(match.group(1), []).append(name)
        elif name.lower() == MANUAL_LOG:
            manual.append(name)
    chosen: list[str] = []
    for stamp in sorted(stamps)[-max_runs:] if max_runs > 0 else []:
        chosen.extend(sorted(stamps[stamp]))
    return manual + chosen


def read_batch(log_dir: str, names: Sequence[str], edition: str | None = None) -> Batch:
    batch = Batch()
    for name in names:
        batch.add(_read(log_dir, name, edition=edition), label=f"file:{name}")
    return batch


def _bytes(edition: str | None) -> dict[str, Any]:
    """How the endpoint reads bytes: 5.1 ``-Encoding Byte``; PowerShell 7 (a PowerShell.7 endpoint) has
    no Byte encoding and spells it ``-AsByteStream``."""
    return {"AsByteStream": SWITCH} if (edition or "").lower() == "core" else {"Encoding": "Byte"}


def _read(log_dir: str, name: str, *, silent: bool = False, edition: str | None = None) -> Cmd:
    # -Raw: one byte[] instead of one boxed byte per element (~10x on the wire). With -Raw, PowerShell
    # reads the whole file and ignores -TotalCount (FileSystemContentStream.cs, ReadByteEncoded: "When
    # RawStream is used, we dont support -first, -last"), so the cap is applied when the bytes arrive.
    return Cmd.of(
        "Get-Content",
        {"LiteralPath": _join(log_dir, name), **_bytes(edition)},
        Raw=SWITCH,
        ErrorAction=_SILENT if silent else None,
    )


def _join(folder: str, name: str) -> str:
    return folder.rstrip("\\") + "\\" + name


def cap_files(files: dict[str, bytes], max_file_size: int) -> list[str]:
    """Cut every file to ``max_file_size`` bytes in place; the "truncated at cap" notes (WARN reasons)."""
    notes: list[str] = []
    for name, data in files.items():
        if len(data) > max_file_size:
            files[name] = data[:max_file_size]
            notes.append(truncation_note(name, max_file_size))
    return notes


def files_from_outputs(outputs: Mapping[str, Sequence[Any]]) -> dict[str, bytes]:
    """File contents by name: ``file:<name>`` statements, and the ``recent-names`` /
    ``recent-content`` pair (dropped when the counts differ — a file appeared between listing and
    reading, or one is empty: those are then read again by name)."""
    files: dict[str, bytes] = {}
    for label, output in outputs.items():
        if label.startswith("file:") and output:
            files[label[5:]] = content_bytes(output)
    names = [str(n) for n in outputs.get("recent-names", [])]
    contents = [content_bytes([item]) for item in outputs.get("recent-content", [])]
    if names and len(names) == len(contents):
        files.update(zip(names, contents, strict=True))
    return files


# ----- turning answers into facts (pure) -------------------------------------------------------------


def content_bytes(output: Sequence[Any]) -> bytes:
    """Get-Content output -> bytes: one byte[] (bytes), a list of ints, or text (string/lines)."""
    if not output:
        return b""
    if len(output) == 1 and isinstance(output[0], (bytes, bytearray)):
        return bytes(output[0])
    if all(isinstance(x, (bytes, bytearray)) for x in output):
        return b"".join(bytes(x) for x in output)
    if all(isinstance(x, int) and not isinstance(x, bool) for x in output):
        return bytes(x & 0xFF for x in output)
    if len(output) == 1 and isinstance(output[0], list):
        return content_bytes(output[0])
    return "\r\n".join(_as_text(x) for x in output).encode("utf-8")


def _as_text(value: Any) -> str:
    if isinstance(value, Mapping):
        for key in ("_value", "value", "ToString"):
            if key in value:
                return str(value[key])
        return ""
    return str(value)


def parse_logs(files: Mapping[str, bytes]) -> tuple[list[TranscriptFile], list[RenewalResult]]:
    transcripts: list[TranscriptFile] = []
    results: list[RenewalResult] = []
    for name, data in files.items():
        if name.lower().endswith(".json"):
            result = parse_result_file(data, name)
            if result is not None:
                results.append(result)
        else:
            transcripts.append(parse_transcript(data, name))
    return transcripts, results


def facts_from_answers(
    host: HostConfig,
    statements: Sequence[StatementAnswer],
    files: Mapping[str, bytes],
    served: ServedCertificate | None,
    *,
    unreachable: str | None = None,
    revocations: tuple[Revocation | None, Revocation | None] = (None, None),
    errors: Sequence[str] = (),
) -> HostFacts:
    """The host's health facts: the one host-state model (:func:`poshbridge.hoststate.state.read_state`,
    the same as ``status``) plus what only the audit sees: the runs and the unusable log files."""
    state = read_state(host, statements) if unreachable is None else None
    transcripts, results, log_problems = check_logs(files)
    event_output: list[Any] = []
    for statement in statements:
        if statement.label == "events" and statement.ran:
            event_output = list(statement.output)
    runs = pair_runs(transcripts, results) or events.runs_from_events(event_output)
    return host_facts(
        host,
        state,
        served=served,
        unreachable=unreachable,
        revocations=revocations,
        runs=runs,
        log_problems=log_problems,
        errors=errors,
    )


# ----- IO: the session and the probe ----------------------------------------------------------------


def probe_served(host: HostConfig) -> ServedCertificate:
    """TLS handshake from the control node to ``address:iis.port`` with SNI = main domain."""
    try:
        return tls.probe(host)
    except Exception as exc:  # a probe failure is a finding, not a crash
        return ServedCertificate(
            error=f"{type(exc).__name__}: {exc}", endpoint=f"{host.address}:{host.iis.port}"
        )


Revocations = Callable[[bytes | None, str, str], tuple[Revocation | None, Revocation | None]]


def check_revocations(
    served_der: bytes | None, cert_pem: str, chain_pem: str
) -> tuple[Revocation | None, Revocation | None]:
    from poshbridge.remote.revocation import check_revocations as check

    return check(served_der, cert_pem, chain_pem)


def _outputs(result: BatchResult) -> dict[str, list[Any]]:
    """Output per label of the statements that ran to completion."""
    outputs: dict[str, list[Any]] = {}
    for position, statement in enumerate(result.statements):
        if statement.ran and position != result.failed_statement:
            outputs[statement.label] = list(statement.output)
    return outputs


def _not_run(batch: Batch, result: BatchResult) -> list[Statement]:
    """Statements a terminating error stopped before they ran (the failing one is not retried)."""
    ran = {s.label for s in result.statements if s.ran}
    return [s for s in batch.statements if s.label not in ran]


def _file_errors(result: BatchResult) -> list[str]:
    """A log file that could not be read is a collection error (not "no runs"). A missing log folder is
    not an error here (the verdict rules report the absence of runs)."""
    out: list[str] = []
    for statement in result.statements:
        if statement.label.startswith("file:"):
            out.extend(f"cannot read {statement.label[5:]}: {error}" for error in statement.errors)
    return out


def _pypsrp_session(insecure: bool, base_dir: Path | None) -> Callable[[HostConfig], Any]:
    """The default session: pypsrp's HostSession, imported when a host is really audited."""
    from poshbridge.remote.session import HostSession

    return lambda h: HostSession(h, insecure=insecure, base_dir=base_dir or Path.cwd())


def collect_host(
    host: HostConfig,
    *,
    now: datetime | None = None,
    max_logs: int = DEFAULT_MAX_LOGS,
    insecure: bool = False,
    base_dir: Path | None = None,
    probe: Callable[[HostConfig], ServedCertificate] = probe_served,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    revocations: Revocations = check_revocations,
    connect: Callable[[HostConfig], Any] | None = None,
) -> HostFacts:
    """``connect(host)``: the host's session (a :class:`poshbridge.runner.session.Session`, not yet
    open); default pypsrp's HostSession."""
    moment = now or datetime.now(timezone.utc)
    statements: list[StatementResult] = []
    errors: list[str] = []
    files: dict[str, bytes] = {}
    unreachable: str | None = None
    cert_pem = chain_pem = ""
    try:
        session_of = connect or _pypsrp_session(insecure, base_dir)
        with session_of(host) as session:
            batch = state_batch(host, moment, session.ps_edition)
            result = session.run(batch)
            statements.extend(result.statements)
            outputs = _outputs(result)
            files = files_from_outputs(outputs)
            wanted = choose_log_files((str(n) for n in outputs.get("logs", [])), max_logs)
            missing = [name for name in wanted if name not in files]
            if missing:
                # the reads first: a Posh-ACME statement that throws again must not stop them
                second = Batch(
                    read_batch(host.renewal.log_dir, missing, session.ps_edition).statements
                    + _not_run(batch, result)
                )
                answer = session.run(second)
                statements.extend(answer.statements)
                files.update(files_from_outputs(_outputs(answer)))
                errors.extend(_file_errors(answer))
            keep = set(wanted)
            files = {name: data for name, data in files.items() if name in keep}
            errors.extend(cap_files(files, max_file_size))
            pem_batch = hoststate_batch.cert_files_batch(read_state(host, statements).certificate)
            if pem_batch.statements:
                cert_pem, chain_pem = pems(_outputs(session.run(pem_batch)))
    except RemoteConnectionError as exc:
        unreachable = f"{exc.kind}: {exc.message}"
    served = probe(host)
    checked = revocations(served.der, cert_pem, chain_pem)
    return facts_from_answers(
        host, statements, files, served, unreachable=unreachable, revocations=checked, errors=errors
    )


def collect_fleet(
    hosts: Sequence[HostConfig],
    *,
    now: datetime | None = None,
    parallel: int = 10,
    max_logs: int = DEFAULT_MAX_LOGS,
    insecure: bool = False,
    base_dir: Path | None = None,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    connect: Callable[[HostConfig], Any] | None = None,
) -> list[HostFacts]:
    """Collect every host, ``parallel`` at a time; results in the order of ``hosts``."""

    def one(host: HostConfig) -> HostFacts:
        try:
            return collect_host(
                host,
                now=now,
                max_logs=max_logs,
                insecure=insecure,
                base_dir=base_dir,
                max_file_size=max_file_size,
                connect=connect,
            )
        except Exception as exc:  # a failing host is data
            return HostFacts(
                host=host.name,
                order=host.order_name,
                collection_errors=[f"{type(exc).__name__}: {exc}"],
                served=probe_served(host),
                endpoint=f"{host.address}:{host.iis.port}",
            )

    if not hosts:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(hosts)))) as pool:
        return list(pool.map(one, hosts))

"""Remote collection for the audit: ONE pool per host and, normally, TWO invocations.

Per host (``HostSession`` = one RunspacePool; open + the state invocation + the certificate files
invocation + close = 7 WSMan requests):

- ``Set-Item Env:POSHACME_HOME``; ``Get-ChildItem -Name`` of the log folder (names only: a 90-day
  folder holds thousands of files, names are a few bytes each); the renewal task
  (``Get-ScheduledTask`` + ``Get-ScheduledTaskInfo``); the site's bindings (``Get-IISSiteBinding``);
  ``*.bak`` files under the Posh-ACME home (``-Recurse -Name``);
- the runs of the last two days (the hardened script names its files ``renew-<UTC stamp>``, so the
  control node knows the day prefixes) and the manual script's ``acme_log.txt``: ``Get-ChildItem
  -Name`` and ``Get-Content -Encoding Byte -Raw`` of the same path list
  (``<dir>\renew-<today>-*``, ``<dir>\renew-<yesterday>-*``, ``<dir>\acme_log.txt``) in the same
  invocation; the provider enumerates both in the same order, so names and contents pair by
  position;
- last the Posh-ACME cmdlets (``Get-PAOrder -List``, ``Get-PACertificate -List``), which ``throw``
  on a host without Posh-ACME state (the throw is recorded on its statement; a batch goes on).

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
from dataclasses import dataclass, field
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
from poshbridge.audit.verdict import CertificateInfo, HostFacts, Revocation, ServedCertificate, TaskInfo
from poshbridge.inventory.model import HostConfig
from poshbridge.poshacme import calls
from poshbridge.poshacme.model import get_field
from poshbridge.powershell.command import SWITCH, Batch, Cmd, Statement
from poshbridge.remote import tls
from poshbridge.remote.session import BatchResult, HostSession, RemoteConnectionError

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


def state_batch(host: HostConfig, now: datetime, edition: str | None = None) -> Batch:
    renewal = host.renewal
    log_dir = renewal.log_dir
    batch = Batch()
    batch.add(calls.set_poshacme_home(host.acme.poshacme_home), label="env")
    batch.add(Cmd.of("Get-ChildItem", Path=log_dir, Name=SWITCH, ErrorAction=_SILENT), label="logs")
    task = {"name": renewal.task_name, "path": renewal.task_path}
    batch.add(calls.get_scheduled_task(**task), label="task")
    batch.add(calls.get_scheduled_task_info(**task), label="task-info")
    batch.add(calls.get_iis_site_bindings(host.iis.site), label="binding")
    batch.add(
        Cmd.of(
            "Get-ChildItem",
            Path=host.acme.poshacme_home,
            Filter="*.bak",
            Recurse=SWITCH,
            Name=SWITCH,
            ErrorAction=_SILENT,
        ),
        label="bak",
    )
    # The recent runs and the manual log: names and contents of the same paths, paired by position.
    recent = [_join(log_dir, f"renew-{day}-*") for day in recent_days(now)] + [_join(log_dir, MANUAL_LOG)]
    batch.add(Cmd.of("Get-ChildItem", Path=recent, Name=SWITCH, ErrorAction=_SILENT), label="recent-names")
    batch.add(
        Cmd.of("Get-Content", {"Path": recent, **_bytes(edition)}, Raw=SWITCH, ErrorAction=_SILENT),
        label="recent-content",
    )
    # the newest poshbridge events (one per run, the result JSON): the runs when the logs are gone
    batch.add(events.get_run_events(DEFAULT_MAX_LOGS), label="events")
    batch.add(calls.get_pa_orders(), label="orders")
    batch.add(calls.get_pa_certificates(), label="certificates")
    return batch


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


@dataclass
class StateAnswer:
    """What the state batch returned, by statement label (missing label: not run)."""

    outputs: dict[str, list[Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    missing_task: bool = False


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


def pick_order(host: HostConfig, orders: Sequence[Any]) -> Mapping[str, Any] | None:
    for order in orders:
        name = str(get_field(order, "Name") or "")
        if isinstance(order, Mapping) and name.lower() == host.order_name.lower():
            return order
    for order in orders:
        if (
            isinstance(order, Mapping)
            and str(get_field(order, "MainDomain") or "").lower() == host.main_domain.lower()
        ):
            return order
    return None


def pick_certificate(host: HostConfig, certificates: Sequence[Any]) -> Mapping[str, Any] | None:
    """PACertificate objects carry no order name: match the subject / first SAN to the main domain."""
    main = host.main_domain.lower()
    for cert in certificates:
        if not isinstance(cert, Mapping):
            continue
        subject = str(get_field(cert, "Subject") or "").lower()
        sans = get_field(cert, "AllSANs")
        san_list = [str(s).lower() for s in sans] if isinstance(sans, (list, tuple)) else []
        if subject == f"cn={main}" or (san_list and san_list[0] == main):
            return cert
    return None


def binding_thumbprint(host: HostConfig, bindings: Sequence[Any]) -> tuple[bool, str | None]:
    """(found, certificate thumbprint) of the https binding for the host's port and host header."""
    candidates: list[tuple[int, Mapping[str, Any]]] = []
    for binding in bindings:
        if not isinstance(binding, Mapping):
            continue
        protocol = str(get_field(binding, "protocol") or "").lower()
        info = str(get_field(binding, "bindingInformation") or get_field(binding, "BindingInformation") or "")
        if protocol != "https" or info.count(":") < 2:
            continue
        ip, port, header = info.split(":", 2)
        if port != str(host.iis.port):
            continue
        score = (header.lower() == host.iis.host_header.lower()) * 2 + (ip == host.iis.ip_address)
        candidates.append((score, binding))
    if not candidates:
        return False, None
    candidates.sort(key=lambda c: -c[0])
    return True, _thumbprint(get_field(candidates[0][1], "certificateHash"))


def _thumbprint(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex().upper() or None
    if isinstance(value, (list, tuple)) and all(isinstance(x, int) for x in value):
        return bytes(x & 0xFF for x in value).hex().upper() or None
    text = re.sub(r"[^0-9A-Fa-f]", "", str(value))
    return text.upper() or None


def bak_for_order(names: Sequence[Any], order: Mapping[str, Any] | None, order_name: str) -> list[str]:
    """``*.bak`` names (relative to the Posh-ACME home) inside the order's folder."""
    folder = str(get_field(order, "Folder") or "") if order is not None else ""
    wanted = folder.replace("/", "\\").rstrip("\\").lower()
    out: list[str] = []
    for raw in names:
        name = str(raw).replace("/", "\\")
        parts = name.lower().split("\\")
        if len(parts) >= 2 and (parts[-2] == order_name.lower() or (wanted and wanted.endswith(
            "\\" + "\\".join(parts[:-1])
        ))):  # fmt: skip
            out.append(name.split("\\")[-1])
    return sorted(set(out))


def facts_from_answers(
    host: HostConfig,
    state: StateAnswer,
    files: Mapping[str, bytes],
    served: ServedCertificate | None,
    *,
    unreachable: str | None = None,
    revocations: tuple[Revocation | None, Revocation | None] = (None, None),
) -> HostFacts:
    out = state.outputs
    order = pick_order(host, out.get("orders", []))
    cert = pick_certificate(host, out.get("certificates", []))
    bak = bak_for_order(out.get("bak", []), order, host.order_name)
    certificate = CertificateInfo.from_posh_acme(cert, order, bak) if "certificates" in out else None
    task: TaskInfo | None = None
    if "task" in out:
        task_obj = next((t for t in out["task"] if isinstance(t, Mapping)), None)
        info_obj = next((t for t in out.get("task-info", []) if isinstance(t, Mapping)), None)
        task = TaskInfo.from_objects(host.renewal.task_name, task_obj, info_obj)
    found, thumb = binding_thumbprint(host, out.get("binding", [])) if "binding" in out else (None, None)
    transcripts, results, log_problems = check_logs(files)
    runs = pair_runs(transcripts, results) or events.runs_from_events(out.get("events", []))
    return HostFacts(
        host=host.name,
        order=host.order_name,
        certificate=certificate,
        task=task,
        binding_thumbprint=thumb,
        binding_found=found,
        served=served,
        runs=runs,
        collection_errors=list(state.errors),
        endpoint=f"{host.address}:{host.iis.port}",
        unreachable=unreachable,
        served_revocation=revocations[0]
        if served is not None and served.thumbprint and unreachable is None
        else None,
        current_revocation=revocations[1],
        log_problems=log_problems,
    )


# ----- IO: the session and the probe ----------------------------------------------------------------


def probe_served(host: HostConfig) -> ServedCertificate:
    """TLS handshake from the control node to ``address:iis.port`` with SNI = main domain."""
    try:
        served = tls.probe(host)
    except Exception as exc:  # a probe failure is a finding, not a crash
        return ServedCertificate(error=f"{type(exc).__name__}: {exc}")
    error = served.error or (None if served.thumbprint else "no certificate presented")
    return ServedCertificate(
        thumbprint=served.thumbprint,
        not_after=served.not_after,
        subject=served.subject,
        error=error,
        der=served.der,
    )


Revocations = Callable[[bytes | None, str, str], tuple[Revocation | None, Revocation | None]]


def check_revocations(
    served_der: bytes | None, cert_pem: str, chain_pem: str
) -> tuple[Revocation | None, Revocation | None]:
    from poshbridge.remote.revocation import check_revocations as check

    return check(served_der, cert_pem, chain_pem)


def cert_files_batch(certificate: Mapping[str, Any] | None) -> Batch:
    """Posh-ACME's current certificate and chain (PEM) for the OCSP checks."""
    batch = Batch()
    for label, key in (("pem:cert", "CertFile"), ("pem:chain", "ChainFile")):
        path = get_field(certificate, key) if certificate is not None else None
        if isinstance(path, str) and path:
            batch.add(calls.get_content_raw(path), label=label)
    return batch


_POSH_ACME_LABELS = ("env", "orders", "certificates")


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


# Posh-ACME's reads throw these on a host without Posh-ACME state (Get-PAOrder.ps1 / Get-PACertificate.ps1
# Begin blocks; Get-PAAccount.ps1 for the server): a fact ("no server / no account yet"), which the
# verdict rules report from the empty answers, not a collection error.
_NO_POSH_ACME_STATE = ("No ACME server configured.", "No ACME account configured.")


def _findings(result: BatchResult) -> list[str]:
    """Errors worth reporting: Posh-ACME's, and a log file that could not be read (a collection error,
    not "no runs"). A missing task, log folder or binding is not an error here; the verdict rules
    report those from the (empty) answers; neither is Posh-ACME having no server or account yet."""
    out: list[str] = []
    for statement in result.statements:
        if statement.label in _POSH_ACME_LABELS:
            out.extend(
                str(error) for error in statement.errors if not error.message.startswith(_NO_POSH_ACME_STATE)
            )
        elif statement.label.startswith("file:"):
            out.extend(f"cannot read {statement.label[5:]}: {error}" for error in statement.errors)
    return out


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
    state = StateAnswer()
    files: dict[str, bytes] = {}
    unreachable: str | None = None
    pems: dict[str, str] = {}
    try:
        session_of = connect or (lambda h: HostSession(h, insecure=insecure, base_dir=base_dir or Path.cwd()))
        with session_of(host) as session:
            batch = state_batch(host, moment, session.ps_edition)
            result = session.run(batch)
            state.outputs = _outputs(result)
            state.errors = _findings(result)
            files = files_from_outputs(state.outputs)
            wanted = choose_log_files((str(n) for n in state.outputs.get("logs", [])), max_logs)
            missing = [name for name in wanted if name not in files]
            if missing:
                # the reads first: a Posh-ACME statement that throws again must not stop them
                second = Batch(
                    read_batch(host.renewal.log_dir, missing, session.ps_edition).statements
                    + _not_run(batch, result)
                )
                answer = session.run(second)
                more = _outputs(answer)
                files.update(files_from_outputs(more))
                state.outputs.update({k: v for k, v in more.items() if not k.startswith("file:")})
                state.errors.extend(_findings(answer))
            keep = set(wanted)
            files = {name: data for name, data in files.items() if name in keep}
            state.errors.extend(cap_files(files, max_file_size))
            current = pick_certificate(host, state.outputs.get("certificates", []))
            pem_batch = cert_files_batch(current)
            if pem_batch.statements:
                pem_out = _outputs(session.run(pem_batch))
                pems = {label: "".join(str(v) for v in out if v is not None)
                        for label, out in pem_out.items()}  # fmt: skip
    except RemoteConnectionError as exc:
        unreachable = f"{exc.kind}: {exc.message}"
    served = probe(host)
    checked = revocations(served.der, pems.get("pem:cert", ""), pems.get("pem:chain", ""))
    current = pick_certificate(host, state.outputs.get("certificates", []))
    thumb = get_field(current, "Thumbprint") if current is not None else None
    if checked[1] is None and unreachable is None and isinstance(thumb, str) and thumb:
        why = "the certificate file could not be read from the host"
        checked = (checked[0], Revocation("not-checked", why, thumb.upper()))
    return facts_from_answers(host, state, files, served, unreachable=unreachable, revocations=checked)


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

"""Start-ScheduledTask: run the task's action the way ``powershell.exe`` would - for poshbridge's own
renewal scripts only.

THIS IS THE ONE PLACE WHERE THE LAB STANDS IN FOR POWERSHELL ITSELF. The lab interprets no PowerShell
text anywhere else. A task whose Exec is ``powershell.exe`` running a script whose first line is
``# poshbridge-renewal-script style=<hardened|manual> version=1`` is carried out here, step by step,
through the emulated cmdlets (exactly the steps the generated script takes), in a background thread,
as ``WORKGROUP\\SYSTEM`` with SYSTEM's environment. It writes what the real run leaves behind: the
transcript (5.1 format), and for the hardened style the JSON result file; the exit code becomes the
task's LastTaskResult. The script text is only READ for its settings (the hardened header block, or the
manual script's literals); nothing else in it is executed. Any other action: LastTaskResult 2147942402
(0x80070002, file not found) for a missing program, 1 for a script the lab cannot run.
"""

from __future__ import annotations

import datetime
import json
import logging
import ntpath
import re
import threading
import zlib
from dataclasses import dataclass, field
from typing import Any

from poshbridge.lab.cmdlets.encodings import decode_bytes
from poshbridge.lab.cmdlets.tasks import update_task
from poshbridge.lab.cmdlets.taskxml import parse_task_xml
from poshbridge.lab.cmdlets.transcript import Transcript, render_error
from poshbridge.lab.engine import run_statement
from poshbridge.lab.engine.contract import (
    HASHTABLE,
    CommandCall,
    LabErrorRecord,
    RunspaceState,
    TerminatingError,
)
from poshbridge.lab.engine.registry import ensure_env, env_set
from poshbridge.lab.engine.values import get_property
from poshbridge.lab.host import TwinHost
from poshbridge.lab.sandbox import PathRefused, confine

log = logging.getLogger(__name__)

MARKER = "# poshbridge-renewal-script"
POWERSHELL = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
FILE_NOT_FOUND = 2147942402  # 0x80070002
FILE_ARGUMENT_MISSING = 4294770688  # powershell.exe -File <missing>: exit code -196608
SYSTEM_USER = "WORKGROUP\\SYSTEM"
SYSTEM_CWD = "C:\\Windows\\system32"

_threads: dict[tuple[str, str], threading.Thread] = {}
_threads_lock = threading.Lock()


def start_task(host: TwinHost, task: dict[str, Any]) -> None:
    """Mark the task running (LastTaskResult 267009) and run its action in a background thread."""
    started = datetime.datetime.fromtimestamp(host.clock(), datetime.timezone.utc)
    update_task(
        host, task["path"], task["name"], running=True, last_run_time=started.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    thread = threading.Thread(
        target=_run, args=(host, task, started), daemon=True, name=f"lab-{host.name}-task-{task['name']}"
    )
    with _threads_lock:
        _threads[(host.name, (task["path"] + task["name"]).lower())] = thread
    thread.start()


def wait_for_task(host: TwinHost, path: str, name: str, timeout: float = 60.0) -> bool:
    """Wait for a run started by Start-ScheduledTask (tests and the lab's own tooling)."""
    with _threads_lock:
        thread = _threads.get((host.name, (path + name).lower()))
    if thread is None:
        return True
    thread.join(timeout)
    return not thread.is_alive()


def _run(host: TwinHost, task: dict[str, Any], started: datetime.datetime) -> None:
    try:
        code = run_action(host, task, started)
    except Exception:  # a lab bug must not leave the task "running" forever
        log.exception("lab bug while running task %s on %s", task["name"], host.name)
        code = 1
    update_task(host, task["path"], task["name"], running=False, last_result=code)


def split_arguments(text: str) -> list[str]:
    """CommandLineToArgvW, simplified: spaces separate, double quotes group and are removed."""
    args: list[str] = []
    current: list[str] = []
    quoted = False
    has_token = False
    for char in text:
        if char == '"':
            quoted = not quoted
            has_token = True
        elif char.isspace() and not quoted:
            if has_token:
                args.append("".join(current))
                current, has_token = [], False
        else:
            current.append(char)
            has_token = True
    if has_token:
        args.append("".join(current))
    return args


def _script_from_arguments(argv: list[str]) -> tuple[str | None, str | None]:
    """(mode, script path) from powershell.exe arguments: -File <path> or -Command <text>."""
    for index, arg in enumerate(argv):
        lowered = arg.lower()
        if lowered in ("-file", "-f") and index + 1 < len(argv):
            return "file", argv[index + 1]
        if lowered in ("-command", "-c") and index + 1 < len(argv):
            text = " ".join(argv[index + 1 :]).strip()
            match = re.fullmatch(r"&\s*'((?:[^']|'')*)'", text)
            if match:
                return "command", match.group(1).replace("''", "'")
            return "command", text
    return None, None


def run_action(host: TwinHost, task: dict[str, Any], started: datetime.datetime) -> int:
    root = parse_task_xml(task["xml"])
    exec_node = root.find("Actions", "Exec")
    if exec_node is None:
        return 1
    command = (exec_node.value("Command") or "").strip().strip('"')
    if ntpath.basename(command).lower() not in ("powershell.exe", "powershell"):
        return FILE_NOT_FOUND
    if "\\" in command and command.lower() != POWERSHELL.lower():
        return FILE_NOT_FOUND
    argv = split_arguments(exec_node.value("Arguments") or "")
    mode, script = _script_from_arguments(argv)
    if script is None:
        return 1
    script_path = ntpath.normpath(ntpath.join(SYSTEM_CWD, script))
    try:
        real = confine(host, script_path)
    except PathRefused:
        return 1
    if not real.is_file():
        return FILE_ARGUMENT_MISSING if mode == "file" else 1
    text = decode_bytes(real.read_bytes(), None)
    first = text.splitlines()[0] if text else ""
    if not first.startswith(MARKER):
        return 1
    style = re.search(r"style=(\w+)", first)
    host_application = " ".join([POWERSHELL, *argv])
    run = ScriptRun(host, script_path, text, started, host_application)
    if style and style.group(1) == "hardened":
        return run.hardened()
    if style and style.group(1) == "manual":
        return run.manual()
    return 1


# ----- the runner ---------------------------------------------------------------------------------------
@dataclass
class _Sink:
    """Streams of the script's commands: into the transcript (when one is running)."""

    run: ScriptRun
    outputs: list[Any] = field(default_factory=list)

    def output(self, value: Any) -> None:
        self.outputs.append(value)

    def error(self, record: LabErrorRecord) -> None:
        self.run.render(record)

    def warning(self, message: str) -> None:
        if self.run.transcript:
            self.run.transcript.warning(message)

    def verbose(self, message: str) -> None:
        if self.run.transcript:
            self.run.transcript.verbose(message)

    def debug(self, message: str) -> None:
        return None

    def information(self, message_data: Any, source: str, tags: list[str] | None = None) -> None:
        if self.run.transcript:
            self.run.transcript.line(str(message_data))


def _literal(pattern: str, text: str) -> str | None:
    """The single-quoted literal (or bare word) captured by ``pattern``'s group 1/2."""
    match = re.search(pattern, text, re.IGNORECASE | re.MULTILINE)
    if match is None:
        return None
    if match.group(1) is not None:
        return match.group(1).replace("''", "'")
    return match.group(2)


_LIT = r"(?:'((?:[^']|'')*)'|([^\s'`$]+))"


class ScriptRun:
    def __init__(
        self, host: TwinHost, script_path: str, text: str, started: datetime.datetime, host_application: str
    ) -> None:
        self.host = host
        self.script_path = script_path
        self.text = text
        self.lines = text.replace("\r\n", "\n").split("\n")
        self.started = started
        self.host_application = host_application
        self.runspace = RunspaceState(user="SYSTEM", location=SYSTEM_CWD)
        ensure_env(host, self.runspace)
        self.transcript: Transcript | None = None
        self.sink = _Sink(self)
        self.current = ""

    # ----- plumbing -------------------------------------------------------------------------------
    def now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.host.clock(), datetime.timezone.utc)

    def call(
        self, name: str, params: list[tuple[str | None, Any]], items: list[Any] | None = None
    ) -> list[Any]:
        self.current = name
        self.sink.outputs = []
        run_statement(self.host, self.runspace, [CommandCall(name, parameters=params)], items, self.sink)
        return list(self.sink.outputs)

    def locate(self, command: str) -> tuple[int, str, int]:
        for number, line in enumerate(self.lines, start=1):
            if line.lstrip().startswith("#"):
                continue
            index = line.lower().find(command.lower())
            if index >= 0:
                return number, line, index + 1
        return 1, self.lines[0] if self.lines else "", 1

    def render(self, record: LabErrorRecord) -> None:
        if self.transcript is None:
            return
        command = self.current or record.command_name or ""
        number, line, column = self.locate(command)
        self.transcript.write_lines(
            render_error(
                record,
                script_path=self.script_path,
                line_no=number,
                line_text=line,
                column=column,
                length=len(command),
            )
        )

    def start_transcript(self, windows_path: str, *, announce: bool) -> bool:
        try:
            real = confine(self.host, windows_path)
        except PathRefused:
            return False
        self.transcript = Transcript(real, windows_path)
        pid = 1000 + zlib.crc32(f"{self.host.name}{self.started.isoformat()}".encode()) % 8000
        self.transcript.start(
            when=self.now(),
            user=SYSTEM_USER,
            machine=self.host.name.upper(),
            host_application=self.host_application,
            pid=pid,
            announce=announce,
        )
        return True

    def terminating(self, exc: TerminatingError) -> None:
        if self.transcript is not None:
            command = exc.record.command_name or self.current
            self.transcript.terminating_error(command, exc.record.message)

    # ----- style=manual ---------------------------------------------------------------------------
    def manual(self) -> int:
        """The manual's section 4.3 script: Start-Transcript; Set-PAOrder -Verbose; if ($cert =
        Submit-Renewal) { Start-Sleep; $cert | Set-IISCertificate -Verbose }; Stop-Transcript."""
        text = self.text
        log_path = _literal(rf"^\s*Start-Transcript\s+(?:-(?:Literal)?Path\s+)?{_LIT}", text)
        main_domain = _literal(rf"^\s*Set-PAOrder\s+(?:-MainDomain\s+)?{_LIT}", text)
        wait = _literal(r"^\s*Start-Sleep\s+(?:-Seconds\s+)?()(\d+)", text)
        site = _literal(rf"Set-IISCertificate\b.*?-SiteName\s+{_LIT}", text)
        port = _literal(r"Set-IISCertificate\b.*?-Port\s+()(\d+)", text)
        order_verbose = bool(re.search(r"^\s*Set-PAOrder\b.*-Verbose", text, re.IGNORECASE | re.MULTILINE))
        iis_verbose = bool(re.search(r"Set-IISCertificate\b.*-Verbose", text, re.IGNORECASE))
        if log_path is not None and not self.start_transcript(
            ntpath.normpath(ntpath.join(SYSTEM_CWD, log_path)), announce=True
        ):
            return 1
        try:
            params: list[tuple[str | None, Any]] = [("MainDomain", main_domain)] if main_domain else []
            self.call("Set-PAOrder", params + ([("Verbose", True)] if order_verbose else []))
            certs = self.call("Submit-Renewal", [])
            if certs:
                self.call("Start-Sleep", [("Seconds", int(wait or 0))])
                iis: list[tuple[str | None, Any]] = []
                if site is not None:
                    iis.append(("SiteName", site))
                if port is not None:
                    iis.append(("Port", int(port)))
                if iis_verbose:
                    iis.append(("Verbose", True))
                self.call("Set-IISCertificate", iis, items=certs)
        except TerminatingError as exc:
            # The script stops here: no Stop-Transcript, so no footer (like a 5.1 -Command run).
            self.terminating(exc)
            self.render(exc.record)
            return 1
        if self.transcript is not None:
            self.transcript.stop(self.now())
        return 0

    # ----- style=hardened -------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for line in self.lines[1:]:
            if line.strip().lower().startswith("# end of settings"):
                break
            match = re.fullmatch(r"\s*\$(\w+)\s*=\s*(?:'((?:[^']|'')*)'|(-?\d+))\s*", line)
            if match:
                values[match.group(1)] = (
                    match.group(2).replace("''", "'") if match.group(2) is not None else int(match.group(3))
                )
        return values

    def hardened(self) -> int:
        settings = self.settings()
        log_dir = str(settings.get("LogDir", "C:\\poshbridge\\logs"))
        home = str(settings.get("PoshAcmeHome", ""))
        env_set(self.runspace, "POSHACME_HOME", home)
        stamp_text = self.started.strftime("%Y%m%d-%H%M%S")
        transcript_name = f"renew-{stamp_text}.txt"
        result_path = f"{log_dir}\\renew-{stamp_text}.json"
        result: dict[str, Any] = {
            "schema": "poshbridge.renewal-result/1",
            "host": settings.get("PoshbridgeHost"),
            "order": settings.get("OrderName"),
            "outcome": "failed",
            "started": self.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished": None,
            "thumbprint": None,
            "not_after": None,
            "renew_after": None,
            "error": None,
            "transcript": transcript_name,
        }
        try:
            confine(self.host, log_dir).mkdir(parents=True, exist_ok=True)
        except PathRefused:
            return 1
        self.start_transcript(f"{log_dir}\\{transcript_name}", announce=False)
        exit_code = 1
        try:
            try:
                home_exists = confine(self.host, home).is_dir() if home else False
            except PathRefused:
                home_exists = False
            if not home_exists:
                raise TerminatingError(
                    LabErrorRecord(
                        f"POSHACME_HOME folder '{home}' does not exist; run 'poshbridge setup' for this "
                        "host first.",
                        "ScriptHalted",
                        "OperationStopped",
                    )
                )
            self.call("Import-Module", [("Name", ["Posh-ACME"]), ("ErrorAction", "Stop")])
            self.call("Import-Module", [("Name", ["Posh-ACME.Deploy"]), ("ErrorAction", "Stop")])
            self.call(
                "Set-PAOrder", [*self._order_selector(settings), ("Verbose", True), ("ErrorAction", "Stop")]
            )
            certs = self.call("Submit-Renewal", [("ErrorAction", "Stop")])
            if certs:
                cert = certs[0]
                result["thumbprint"] = get_property(cert, "Thumbprint")[1]
                result["not_after"] = _utc(get_property(cert, "NotAfter")[1])
                self.call("Start-Sleep", [("Seconds", int(settings.get("WaitSeconds", 0)))])
                self.call("Set-IISCertificate", self._iis_params(settings), items=[cert])
                result["outcome"] = "renewed"
            else:
                result["outcome"] = "not-due"
                current = self.call("Get-PACertificate", [])
                if current:
                    result["thumbprint"] = get_property(current[0], "Thumbprint")[1]
                    result["not_after"] = _utc(get_property(current[0], "NotAfter")[1])
                    if self._rebinds() and self._rebind(settings, current[0]):
                        result["outcome"] = "rebound"
            orders = self.call("Get-PAOrder", [])
            if orders:
                result["renew_after"] = _utc(get_property(orders[0], "RenewAfter")[1])
            exit_code = 0
        except TerminatingError as exc:
            if exc.record.fully_qualified_error_id != "ScriptHalted":
                self.terminating(exc)
            data = exc.record.exception_data or {}
            result["outcome"] = "failed"
            exit_code = 1
            failure = self._catch_failure(exc.record)
            if failure is None:
                result["error"] = {
                    "message": exc.record.message,
                    "type": data.get("type"),
                    "status": data.get("status"),
                    "detail": data.get("detail")
                    if "detail" in data
                    else (exc.record.message if data.get("type") else None),
                }
                if self.transcript:
                    self.transcript.line(f"poshbridge: renewal failed: {exc.record.message}")
            else:
                # the catch block itself threw: the rest of it does not run (no error in the result,
                # no "renewal failed" line); finally still runs, then the script ends with the error
                self.current = failure.command_name or ""
                self.render(failure)
        finally:
            result["finished"] = self.now().strftime("%Y-%m-%dT%H:%M:%SZ")
            if self.transcript:
                self.transcript.line(f"poshbridge: outcome {result['outcome']}")
            try:
                real = confine(self.host, result_path)
                real.write_bytes(b"\xef\xbb\xbf" + _convertto_json(result).encode("utf-8"))
            except PathRefused:
                exit_code = 1
            self._retention(log_dir, int(settings.get("RetentionDays", 90)))
            self._event_log(result)
            if self.transcript:
                self.transcript.stop(self.now())
        return exit_code

    # ----- what the hardened script's text decides ------------------------------------------------
    def _order_selector(self, settings: dict[str, Any]) -> list[tuple[str | None, Any]]:
        """The script's ``Set-PAOrder -Name $OrderName`` (older scripts: ``-MainDomain $MainDomain``)."""
        line = next((x for x in self.lines if x.strip().lower().startswith("set-paorder")), "")
        if re.search(r"-Name\s+\$OrderName\b", line, re.IGNORECASE):
            return [("Name", settings.get("OrderName"))]
        return [("MainDomain", settings.get("MainDomain"))]

    def _iis_params(self, settings: dict[str, Any]) -> list[tuple[str | None, Any]]:
        iis_line = next(
            (
                line
                for line in self.lines
                if "Set-IISCertificate" in line and not line.lstrip().startswith("#")
            ),
            "",
        )
        params: list[tuple[str | None, Any]] = [
            ("SiteName", settings.get("SiteName")),
            ("Port", settings.get("Port")),
            ("IPAddress", settings.get("IPAddress")),
            ("HostHeader", settings.get("HostHeader")),
        ]
        # a literal switch on the line (scripts before the old-certificate check pass it always)
        for switch in ("RequireSNI", "RemoveOldCert"):
            if re.search(rf"-{switch}\b", iis_line):
                params.append((switch, True))
        if re.search(r"@oldCert\b", iis_line) and self._old_cert_unshared(settings):
            params.append(("RemoveOldCert", True))
        return [*params, ("Verbose", True), ("ErrorAction", "Stop")]

    def _old_cert_unshared(self, settings: dict[str, Any]) -> bool:
        """The script's ``Get-PoshbridgeOldCertSwitch`` (ps_scripts/renew-hardened.ps1.tmpl), splatted as
        ``@oldCert``: with ``$RemoveOldCert = 1``, read every site's bindings (``Get-IISSite |
        Get-IISSiteBinding``) and this site's https binding for ``<ip>:<port>:<host>``; True (pass
        ``-RemoveOldCert``) only when that binding holds a certificate no other binding holds. Any
        error while reading: the old certificate is kept (the function's catch, one Write-Host line).
        Why: Posh-ACME.Deploy Private/Remove-OldCert.ps1 removes the replaced thumbprint from
        Cert:\\LocalMachine\\My with no look at other bindings."""
        if settings.get("RemoveOldCert") != 1:
            return False
        wanted = f"{settings.get('IPAddress')}:{settings.get('Port')}:{settings.get('HostHeader')}".lower()
        try:
            self.current = "Get-IISSite"
            self.sink.outputs = []
            run_statement(
                self.host,
                self.runspace,
                [
                    CommandCall("Get-IISSite", parameters=[("ErrorAction", "Stop")]),
                    CommandCall("Get-IISSiteBinding", parameters=[("ErrorAction", "Stop")]),
                ],
                None,
                self.sink,
            )
            every = list(self.sink.outputs)
            mine = self.call(
                "Get-IISSiteBinding", [("Name", settings.get("SiteName")), ("ErrorAction", "Stop")]
            )
        except TerminatingError as exc:
            unread = "poshbridge: keeping the old certificate: the bindings could not be read: "
            self._host_line(unread + exc.record.message)
            return False
        old = next(
            (
                _hash_text(get_property(b, "CertificateHash")[1])
                for b in mine
                if str(get_property(b, "Protocol")[1] or "").lower() == "https"
                and str(get_property(b, "BindingInformation")[1] or "").lower() == wanted
            ),
            None,
        )
        if not old:
            return False
        users = sum(1 for b in every if _hash_text(get_property(b, "CertificateHash")[1]) == old)
        if users <= 1:
            return True
        self._host_line(f"poshbridge: keeping {old} in LocalMachine\\My: another binding uses it")
        return False

    def _host_line(self, text: str) -> None:
        if self.transcript:
            self.transcript.line(text)

    def _rebinds(self) -> bool:
        """A script whose not-due branch reads the site's binding (Get-IISSiteBinding) rebinds."""
        return any("Get-IISSiteBinding" in line and not line.lstrip().startswith("#") for line in self.lines)

    def _rebind(self, settings: dict[str, Any], current: Any) -> bool:
        """``Get-IISSiteBinding -Name $SiteName | Where-Object { https, "<ip>:<port>:<host>" } |
        Select-Object -First 1``; when its CertificateHash is not Get-PACertificate's thumbprint
        (``-ne``: case-insensitive, $null differs), ``$current | Set-IISCertificate ...``."""
        wanted = f"{settings.get('IPAddress')}:{settings.get('Port')}:{settings.get('HostHeader')}".lower()
        bound: str | None = None
        for binding in self.call(
            "Get-IISSiteBinding", [("Name", settings.get("SiteName")), ("ErrorAction", "Stop")]
        ):
            protocol = str(get_property(binding, "Protocol")[1] or "").lower()
            info = str(get_property(binding, "BindingInformation")[1] or "").lower()
            if protocol == "https" and info == wanted:
                raw = get_property(binding, "CertificateHash")[1]
                bound = bytes(raw).hex().upper() if raw else None
                break
        thumbprint = str(get_property(current, "Thumbprint")[1] or "")
        if bound is not None and bound.lower() == thumbprint.lower():
            return False
        if self.transcript:
            self.transcript.line(
                f"poshbridge: the binding holds {bound or ''}, Posh-ACME has {thumbprint}: rebinding"
            )
        self.call("Set-IISCertificate", self._iis_params(settings), items=[current])
        return True

    def _catch_failure(self, record: LabErrorRecord) -> LabErrorRecord | None:
        """What PowerShell does with the script's ``catch`` block reading ``$_.Exception.Data``: a method
        called on it that its type does not have throws (RuntimeException MethodNotFound), unless the
        call sits under an ``-is [System.Collections.IDictionary]`` test or inside a nested ``try``.

        The types: Posh-ACME's AcmeException.Data is a PSCustomObject (Private/AcmeException.ps1
        ``[PSObject]$Data``, Invoke-ACME.ps1 ``$body | ConvertFrom-Json``), whose only methods are
        System.Object's; any other exception's Data is System.Exception.Data, an IDictionary. The
        message is PowerShell's (ParserStrings MethodNotFound, raised by the binder for a missing
        method). Only the catch block's method calls on the variable holding the Data are looked at.
        """
        if record.exception_data_type is None or record.exception_data_type == HASHTABLE:
            return None  # a dictionary: Contains/ContainsKey/... exist
        block = _top_level_block(self.lines, "catch")
        holder = re.search(r"\$(\w+)\s*=\s*\$(?:\w+|_\.Exception)\.Data\b", block, re.IGNORECASE)
        if holder is None:
            return None
        variable = holder.group(1)
        for method, guarded, in_try in _method_calls(block, variable):
            if guarded or method.lower() in _OBJECT_METHODS:
                continue
            if in_try:
                return None  # the nested try catches it (the script's own fallback applies)
            failure = LabErrorRecord(
                f"Method invocation failed because [{record.exception_data_type}] does not contain a "
                f"method named '{method}'.",
                "MethodNotFound",
                "InvalidOperation",
            )
            failure.command_name = f".{method}("
            return failure
        return None

    def _event_log(self, result: dict[str, Any]) -> None:
        """The script's event-log block: ``Write-EventLog`` with the id its table gives the outcome
        (read from the script text), the result JSON as the message; a failure is one transcript line."""
        table = next((line for line in self.lines if "[$result.outcome]" in line), None)
        if table is None:
            return  # a script from before the event-log block
        ids = {name: int(number) for name, number in re.findall(r"'([\w-]+)'\s*=\s*(\d+)", table)}
        event_id = ids.get(str(result["outcome"]), ids.get("failed", 0))
        params: list[tuple[str | None, Any]] = [
            ("LogName", "Application"),
            ("Source", "poshbridge"),
            ("EventId", event_id),
            ("EntryType", "Error" if event_id == ids.get("failed") else "Information"),
            ("Message", _convertto_json(result)),
            ("ErrorAction", "Stop"),
        ]
        try:
            self.call("Write-EventLog", params)
        except TerminatingError as exc:
            if self.transcript:
                self.transcript.line(f"poshbridge: event log: {exc.record.message}")

    def _retention(self, log_dir: str, days: int) -> None:
        cutoff = (self.started - datetime.timedelta(days=days)).timestamp()
        try:
            folder = confine(self.host, log_dir)
        except PathRefused:
            return
        for entry in folder.glob("renew-*"):
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink(missing_ok=True)


_OBJECT_METHODS = frozenset({"tostring", "gettype", "equals", "gethashcode"})
_IS_DICTIONARY = re.compile(r"-is\s*\[(?:System\.Collections\.)?IDictionary\]", re.IGNORECASE)


def _top_level_block(lines: list[str], keyword: str) -> str:
    """The text of the script's top-level ``<keyword> {`` ... ``}`` block (lines at column 0)."""
    out: list[str] = []
    inside = False
    for line in lines:
        if not inside and re.match(rf"{keyword}\s*\{{\s*$", line, re.IGNORECASE):
            inside = True
            continue
        if inside:
            if line.startswith("}"):
                break
            out.append(line)
    return "\n".join(out)


def _method_calls(block: str, variable: str) -> list[tuple[str, bool, bool]]:
    """(method, under an IDictionary test, inside a nested try) for each ``$variable.Method(`` in
    ``block``, in order. Braces open blocks; a block's header is the text since the previous brace or
    line end. Strings and comments are not special-cased: the generated script has no braces in them."""
    calls: list[tuple[str, bool, bool]] = []
    stack: list[str] = []
    header_start = 0
    call = re.compile(rf"\${re.escape(variable)}\.(\w+)\s*\(", re.IGNORECASE)
    for match in re.finditer(r"[{}\n]|" + call.pattern, block, re.IGNORECASE):
        piece = match.group(0)
        if piece == "{":
            header = block[header_start : match.start()]
            if _IS_DICTIONARY.search(header) and re.match(r"\s*(?:if|elseif)\b", header, re.IGNORECASE):
                stack.append("dict")
            elif re.fullmatch(r"\s*try\s*", header, re.IGNORECASE):
                stack.append("try")
            else:
                stack.append("block")
            header_start = match.end()
        elif piece == "}":
            if stack:
                stack.pop()
            header_start = match.end()
        elif piece == "\n":
            header_start = match.end()
        else:
            calls.append((match.group(1), "dict" in stack, "try" in stack))
    return calls


def _hash_text(raw: Any) -> str | None:
    """``[System.BitConverter]::ToString([byte[]]$hash).Replace('-', '')`` (None for no hash)."""
    return bytes(raw).hex().upper() if raw else None


def _utc(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        return aware.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _convertto_json(value: dict[str, Any]) -> str:
    """Windows PowerShell 5.1 ConvertTo-Json layout: 4-space indent, two spaces after the colon, CRLF."""
    text = json.dumps(value, indent=4, ensure_ascii=False)
    text = re.sub(r'^(\s*"(?:[^"\\]|\\.)*"): ', r"\1:  ", text, flags=re.MULTILINE)
    return text.replace("\n", "\r\n")

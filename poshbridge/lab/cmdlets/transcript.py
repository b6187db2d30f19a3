"""Start-Transcript as PowerShell 5.1 writes it (docs/reference/transcripts.md): UTF-8 with BOM, CRLF, the
22-star prologue/epilogue, ``WARNING:``/``VERBOSE:`` prefixes, ``PS>TerminatingError(...)`` lines and
the 5.1 (NormalView) rendering of error records. Times are the host's local time (the lab: UTC).
"""

from __future__ import annotations

import datetime
from pathlib import Path

from poshbridge.lab.engine.contract import LabErrorRecord

STARS = "*" * 22
PS_BUILD = "5.1.17763.6054"
OS_VERSION = "Microsoft Windows NT 10.0.17763.0"
PS_VERSION_TABLE = [
    ("PSVersion", PS_BUILD),
    ("PSEdition", "Desktop"),
    ("PSCompatibleVersions", f"1.0, 2.0, 3.0, 4.0, 5.0, {PS_BUILD}"),
    ("BuildVersion", "10.0.17763.6054"),
    ("CLRVersion", "4.0.30319.42000"),
    ("WSManStackVersion", "3.0"),
    ("PSRemotingProtocolVersion", "2.3"),
    ("SerializationVersion", "1.1.0.1"),
]


def stamp(value: datetime.datetime) -> str:
    return value.astimezone(datetime.timezone.utc).strftime("%Y%m%d%H%M%S")


def ellipsize(text: str) -> str:
    """ErrorCategoryInfo shortens long target names to 15 + '...' + 15 characters."""
    return text if len(text) <= 40 else text[:15] + "..." + text[-15:]


def render_error(
    record: LabErrorRecord, *, script_path: str, line_no: int, line_text: str, column: int, length: int
) -> list[str]:
    """``$error[0] | Out-String`` in 5.1 for an error raised by the command at ``line_no``/``column``."""
    command = record.command_name or ""
    exception = (record.exception_type or "System.Management.Automation.RuntimeException").rsplit(".", 1)[-1]
    target = "" if record.target_object is None else str(record.target_object)
    target_type = (
        "String"
        if isinstance(record.target_object, str)
        else ("" if record.target_object is None else type(record.target_object).__name__)
    )
    first = f"{command} : {record.message}" if command else record.message
    message_lines = first.replace("\r\n", "\n").split("\n")
    return [
        *message_lines,
        f"At {script_path}:{line_no} char:{column}",
        f"+ {line_text}",
        "+ " + " " * (column - 1) + "~" * max(1, length),
        f"    + CategoryInfo          : {record.category}: ({ellipsize(target)}:{target_type}) [{command}], "
        f"{exception}",
        f"    + FullyQualifiedErrorId : {record.fully_qualified_error_id}",
        " ",
    ]


class Transcript:
    """One transcript file, written as the script runs (readable mid-run, like the real one)."""

    def __init__(self, real_path: Path, windows_path: str, *, append: bool = False) -> None:
        self.real_path = real_path
        self.windows_path = windows_path
        real_path.parent.mkdir(parents=True, exist_ok=True)
        if not append or not real_path.exists():
            real_path.write_bytes(b"\xef\xbb\xbf")  # Encoding.UTF8: BOM, then CRLF lines
        self.open = False

    def write_lines(self, lines: list[str]) -> None:
        with self.real_path.open("ab") as handle:
            handle.write("".join(line + "\r\n" for line in lines).encode("utf-8"))

    def start(
        self,
        *,
        when: datetime.datetime,
        user: str,
        machine: str,
        host_application: str,
        pid: int,
        announce: bool,
    ) -> None:
        lines = [
            STARS,
            "Windows PowerShell transcript start",
            f"Start time: {stamp(when)}",
            f"Username: {user}",
            f"RunAs User: {user}",
            "Configuration Name: ",
            f"Machine: {machine} ({OS_VERSION})",
            f"Host Application: {host_application}",
            f"Process ID: {pid}",
            *[f"{key}: {value}" for key, value in PS_VERSION_TABLE],
            STARS,
        ]
        if announce:
            lines.append(f"Transcript started, output file is {self.windows_path}")
        self.write_lines(lines)
        self.open = True

    def line(self, text: str) -> None:
        if self.open:
            self.write_lines(text.replace("\r\n", "\n").split("\n"))

    def warning(self, message: str) -> None:
        self.line(f"WARNING: {message}")

    def verbose(self, message: str) -> None:
        self.line(f"VERBOSE: {message}")

    def terminating_error(self, command: str, message: str) -> None:
        self.line(f'PS>TerminatingError({command}): "{message}"')

    def stop(self, when: datetime.datetime) -> None:
        if self.open:
            self.write_lines([STARS, "Windows PowerShell transcript end", f"End time: {stamp(when)}", STARS])
            self.open = False

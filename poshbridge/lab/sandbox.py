"""The twin's file sandbox: Windows paths on its one C:\\ drive mapped to a real folder, or refused.

Every path a cmdlet touches goes through :func:`confine` (on top of :meth:`TwinHost.real_path`): a UNC path,
another drive letter or anything that resolves (through ``..`` or a symlink) outside the twin's C:\\
folder is refused and never touched. :func:`resolve_paths` binds ``-Path`` (PowerShell wildcards,
expanded segment by segment over existing items) and ``-LiteralPath`` the way the FileSystem provider
does, writing Windows PowerShell 5.1's errors for the rest: ``Cannot find path 'X' because it does not
exist.`` (ItemNotFoundException, ``PathNotFound``), ``Cannot find drive. ...`` (DriveNotFoundException).
"""

from __future__ import annotations

import fnmatch
import functools
import ntpath
import os
import re
import stat
from pathlib import Path
from typing import Any

from poshbridge.lab.engine.registry import Invocation, Param, error_record
from poshbridge.lab.host import SandboxError, TwinHost

WILDCARD = re.compile(r"[*?\[]")


class PathRefused(Exception):
    """A path the sandbox will not touch: ``kind`` is ``unc``, ``drive`` (``detail`` is the letter) or
    ``sandbox`` (it resolves outside the twin's C:\\ folder)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


# -Path / -LiteralPath as the FileSystem provider cmdlets declare them (both mandatory, one set each)
MANDATORY_PATH = [
    Param("Path", "string[]", position=0, sets=("Path",), mandatory=True, by_property_name=True),
    Param(
        "LiteralPath",
        "string[]",
        sets=("LiteralPath",),
        aliases=("PSPath", "LP"),
        mandatory=True,
        by_property_name=True,
    ),
]


def confine(host: TwinHost, windows_path: str) -> Path:
    """The real path of a C:\\ path, refusing everything else (and anything resolving outside)."""
    drive, _ = ntpath.splitdrive(windows_path)
    if windows_path.startswith("\\\\") or (drive and len(drive) != 2):
        raise PathRefused("unc", windows_path)
    if drive and drive.upper() != "C:":
        raise PathRefused("drive", drive[0].upper())
    try:
        real = host.real_path(windows_path)
    except SandboxError:
        raise PathRefused("sandbox", windows_path) from None
    root = _resolved_drive(host.drive)
    resolved = _resolve_below(host.drive, root, real)
    if resolved != root and root not in resolved.parents:
        raise PathRefused("sandbox", windows_path)
    return real


@functools.lru_cache(maxsize=256)
def _resolved_drive(drive: Path) -> Path:
    """The twin's C:\\ folder with symlinks resolved (it never moves while the lab runs)."""
    return drive.resolve()


def _resolve_below(drive: Path, root: Path, real: Path) -> Path:
    """``real.resolve()`` without re-resolving the drive on every call: when the drive is its own
    resolved path and no existing entry below it is a symlink, the path is already resolved."""
    if drive != root:
        return real.resolve()
    try:
        below = real.relative_to(drive).parts
    except ValueError:
        return real.resolve()
    current = drive
    for part in below:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            break  # nothing below exists: the rest is taken literally, as resolve() does
        except OSError:
            return real.resolve()
        if stat.S_ISLNK(mode):
            return real.resolve()
    return real


def refused_record(exc: PathRefused) -> Any:
    if exc.kind == "drive":
        return error_record(
            f"Cannot find drive. A drive with the name '{exc.detail}' does not exist.",
            "DriveNotFound",
            "ObjectNotFound",
            exception_type="System.Management.Automation.DriveNotFoundException",
            target=exc.detail,
        )
    return error_record(
        f"The poshbridge lab twin has only a C:\\ drive; the path '{exc.detail}' is outside its sandbox and "
        "was not touched.",
        "PathOutsideLabSandbox",
        "PermissionDenied",
        exception_type="System.UnauthorizedAccessException",
        target=exc.detail,
    )


def not_found_record(path: str) -> Any:
    return error_record(
        f"Cannot find path '{path}' because it does not exist.",
        "PathNotFound",
        "ObjectNotFound",
        exception_type="System.Management.Automation.ItemNotFoundException",
        target=path,
    )


def wildcard_match(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name.lower(), pattern.lower())


def expand(host: TwinHost, windows_path: str) -> list[str]:
    """Expand PowerShell wildcards segment by segment (existing items only)."""
    drive, rest = ntpath.splitdrive(windows_path)
    parts = [p for p in rest.split("\\") if p]
    current = [drive + "\\"]
    for part in parts:
        following: list[str] = []
        for base in current:
            real = confine(host, base)
            if WILDCARD.search(part):
                if real.is_dir():
                    for child in sorted(real.iterdir(), key=lambda c: c.name.lower()):
                        if wildcard_match(child.name, part):
                            following.append(ntpath.join(base, child.name))
            else:
                following.append(ntpath.join(base, part))
        current = following
    return [p for p in current if confine(host, p).exists()]


def resolve_paths(ctx: Invocation, *, must_exist: bool = True) -> list[tuple[str, Path]]:
    """(Windows path, real path) for -Path (wildcards) / -LiteralPath; errors for the rest."""
    literal = ctx.get("LiteralPath")
    raw_paths = literal if literal is not None else ctx.get("Path")
    if raw_paths is None:
        raw_paths = [ctx.runspace.location]
    if isinstance(raw_paths, str):
        raw_paths = [raw_paths]
    result: list[tuple[str, Path]] = []
    for raw in raw_paths:
        full = ctx.full_path(str(raw))
        try:
            if literal is None and WILDCARD.search(full):
                for match in expand(ctx.host, full):
                    result.append((display_path(ctx.host, match), confine(ctx.host, match)))
                continue
            real = confine(ctx.host, full)
        except PathRefused as exc:
            ctx.error(refused_record(exc))
            continue
        if must_exist and not real.exists():
            ctx.error(not_found_record(full))
            continue
        result.append((display_path(ctx.host, full, real), real))
    return result


def display_path(host: TwinHost, windows_path: str, real: Path | None = None) -> str:
    """The path with each existing segment in its on-disk case (as Windows reports it)."""
    real = real or confine(host, windows_path)
    if real.exists():
        try:
            return host.windows_path(real) if real != host.drive else "C:\\"
        except ValueError:
            return windows_path
    return windows_path

"""The session header: the start time line and the fields above ``$PSVersionTable``, in any UI language."""

from __future__ import annotations

from collections.abc import Sequence

from poshbridge.audit.transcript.model import Session

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

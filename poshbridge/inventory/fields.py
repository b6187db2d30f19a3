"""Per-field checks: for each key of each section (``winrm``, ``acme``, ``renewal``, ``iis``), the
check of its value."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import fields
from typing import Any, Final

from poshbridge.inventory.checks import (
    _DATE_RE,
    _DATETIME_RE,
    _TASK_NAME_FORBIDDEN,
    _TIME_RE,
    INVALID,
    KEY_LENGTHS,
    MAX_CONTACTS,
    OCSP_WAIT_SECONDS,
    Problems,
    _describe,
    _Invalid,
    check_bool,
    check_choice,
    check_duration,
    check_email,
    check_int,
    check_port,
    check_secret,
    check_text,
    check_windows_path,
    join_path,
    normalize_fqdn,
)
from poshbridge.inventory.model import AcmeConfig, IISConfig, RenewalConfig, WinRMConfig
from poshbridge.timefmt import parse_wall_clock

SECTION_TYPES: Final = {"winrm": WinRMConfig, "acme": AcmeConfig, "renewal": RenewalConfig, "iis": IISConfig}
SECTIONS: Final = tuple(SECTION_TYPES)
SECTION_KEYS: Final = {name: tuple(f.name for f in fields(cls)) for name, cls in SECTION_TYPES.items()}
TOP_KEYS: Final = ("defaults", "groups", "hosts")
GROUP_KEYS: Final = ("hosts", "vars")
HOST_KEYS: Final = ("address", "domains", "webroot", *SECTIONS)
RESERVED_TARGETS: Final = ("all",)


# ----- per-field checks ---------------------------------------------------------------------------------

Check = Callable[[Any, str, Problems], Any]


def _verify(raw: Any, path: str, out: Problems) -> bool | str | _Invalid:
    if isinstance(raw, bool):
        if not raw:
            out.warning(path, "TLS certificate verification of the WinRM endpoint is disabled")
        return raw
    return check_text(raw, path, out, what="true, false or a CA bundle path")


def _optional_text(raw: Any, path: str, out: Problems) -> str | _Invalid | None:
    return None if raw is None else check_text(raw, path, out)


def _timeout(raw: Any, path: str, out: Problems) -> int | _Invalid:
    return check_int(raw, path, out, low=1, high=3600, what="a number of seconds")


def _directory(raw: Any, path: str, out: Problems) -> str | _Invalid:
    text = check_text(raw, path, out, what="an ACME directory URL")
    if isinstance(text, _Invalid):
        return text
    if not re.match(r"^https?://[^\s/?#]+", text):
        return out.error(path, "must be an http(s) URL of the ACME directory")
    if text.startswith("http://"):
        out.warning(path, "ACME directory over plain http; the CA should be reached over https")
    return text


def _contacts(raw: Any, path: str, out: Problems) -> tuple[str, ...] | _Invalid:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        return out.error(path, f"must be a list of e-mail addresses, not {_describe(raw)}")
    if not 1 <= len(items) <= MAX_CONTACTS:
        return out.error(
            path,
            f"the CA accepts 1 to {MAX_CONTACTS} contact addresses (got {len(items)}); "
            "it rejects others with 'The contact information is invalid:'",
        )
    result: list[str] = []
    seen: dict[str, int] = {}
    failed = False
    for index, item in enumerate(items):
        item_path = join_path(path, index) if not isinstance(raw, str) else path
        address = check_email(item, item_path, out)
        if isinstance(address, _Invalid):
            failed = True
            continue
        key = address.lower()
        if key in seen:
            out.error(
                item_path,
                f"duplicate contact (also at {join_path(path, seen[key])}); the CA "
                "rejects duplicates with 'The contact information is invalid:'",
            )
            failed = True
            continue
        seen[key] = index
        result.append(address)
    return INVALID if failed else tuple(result)


def _key_length(raw: Any, path: str, out: Problems) -> str | _Invalid:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if isinstance(raw, str):
        if raw.lower() in KEY_LENGTHS:
            return raw.lower()
        if raw.isdigit() and 2048 <= int(raw) <= 4096:
            return raw
    return out.error(path, f"must be an RSA size 2048..4096 or one of {', '.join(KEY_LENGTHS)}")


def _plugin(raw: Any, path: str, out: Problems) -> str | _Invalid:
    text = check_text(raw, path, out, what="a Posh-ACME plugin name")
    if isinstance(text, _Invalid):
        return text
    if not re.match(r"^[A-Za-z0-9_-]+$", text):
        return out.error(path, "is not a Posh-ACME plugin name (letters, digits, '_' and '-')")
    return text


def _script_path(raw: Any, path: str, out: Problems) -> str | _Invalid:
    text = check_windows_path(raw, path, out)
    if isinstance(text, _Invalid):
        return text
    if not text.lower().endswith(".ps1"):
        return out.error(path, "must end in .ps1 (powershell.exe -File runs only .ps1 files)")
    return text


def _start(raw: Any, path: str, out: Problems) -> str | _Invalid:
    match = _TIME_RE.match(raw) if isinstance(raw, str) else None
    if not match:
        return out.error(
            path, f"must be a time of day HH:MM such as '03:17', not {_describe(raw)}; quote it in YAML"
        )
    return f"{int(match[1]):02d}:{match[2]}"


def _start_date(raw: Any, path: str, out: Problems) -> str | _Invalid:
    if isinstance(raw, str) and _DATE_RE.match(raw) and parse_wall_clock(f"{raw}T00:00") is not None:
        return raw
    return out.error(path, "must be a date YYYY-MM-DD")


def _end_boundary(raw: Any, path: str, out: Problems) -> str | _Invalid | None:
    if raw is None:
        return None
    match = _DATETIME_RE.match(raw) if isinstance(raw, str) else None
    if match and parse_wall_clock(f"{match[1]}T{match[2]}:{match[3]}:{match[4]}") is not None:
        return str(raw)
    return out.error(path, "must be a date-time YYYY-MM-DDTHH:MM:SS such as 2026-01-31T17:17:58")


def _task_name(raw: Any, path: str, out: Problems) -> str | _Invalid:
    text = check_text(raw, path, out, what="a task name")
    if isinstance(text, _Invalid):
        return text
    bad = sorted({ch for ch in text if ch in _TASK_NAME_FORBIDDEN})
    if bad:
        return out.error(path, f"contains characters not allowed in a task name: {' '.join(bad)}")
    if len(text) > 238:
        return out.error(path, "is longer than 238 characters")
    return text


def _task_path(raw: Any, path: str, out: Problems) -> str | _Invalid:
    text = check_text(raw, path, out, what="a task folder such as '\\' or '\\poshbridge\\'")
    if isinstance(text, _Invalid):
        return text
    if not (text.startswith("\\") and text.endswith("\\")) or "\\\\" in text:
        return out.error(path, "must start and end with a backslash, such as '\\' or '\\poshbridge\\'")
    bad = sorted({ch for ch in text if ch in _TASK_NAME_FORBIDDEN and ch != "\\"})
    if bad:
        return out.error(path, f"contains characters not allowed in a task folder: {' '.join(bad)}")
    return text


def _ip_address(raw: Any, path: str, out: Problems) -> str | _Invalid:
    if raw == "*":
        return "*"
    text = check_text(raw, path, out, what="'*' or an IP address")
    if isinstance(text, _Invalid):
        return text
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return out.error(path, "must be '*' or an IP address")
    return text


def _host_header(raw: Any, path: str, out: Problems) -> str | _Invalid:
    if raw is None or raw == "":
        return ""
    text = check_text(raw, path, out, what="a host name")
    if isinstance(text, _Invalid):
        return text
    ascii_name, reason = normalize_fqdn(text)
    if ascii_name is None:
        return out.error(path, f"host header {reason}")
    return ascii_name


def _retention(raw: Any, path: str, out: Problems) -> int | _Invalid:
    return check_int(raw, path, out, low=1, high=36500, what="a number of days")


def _wait(raw: Any, path: str, out: Problems) -> int | _Invalid:
    value = check_int(raw, path, out, low=0, high=86400, what="a number of seconds")
    if isinstance(value, int) and value < OCSP_WAIT_SECONDS:
        out.warning(
            path,
            f"is shorter than the manual's {OCSP_WAIT_SECONDS} s: the CA may take up to "
            "about 10 minutes to publish OCSP for a new certificate",
        )
    return value


def _optional_port(raw: Any, path: str, out: Problems) -> int | _Invalid | None:
    return None if raw is None else check_port(raw, path, out)


_DAY = 86400.0

FIELD_CHECKS: Final[dict[str, dict[str, Check]]] = {
    "winrm": {
        "transport": lambda r, p, o: check_choice(r, p, o, ("http", "https")),
        "port": _optional_port,
        "auth": lambda r, p, o: check_choice(
            r, p, o, ("negotiate", "kerberos", "ntlm", "credssp", "certificate", "basic")
        ),
        "username": _optional_text,
        "password": check_secret,
        "verify": _verify,
        "configuration_name": lambda r, p, o: check_text(r, p, o, what="a PowerShell configuration name"),
        "operation_timeout": _timeout,
        "connection_timeout": _timeout,
        "read_timeout": _timeout,
        "certificate_pem": _optional_text,
        "certificate_key_pem": _optional_text,
    },
    "acme": {
        "directory": _directory,
        "eab_kid": check_secret,
        "eab_hmac": check_secret,
        "contacts": _contacts,
        "plugin": _plugin,
        "cert_key_length": _key_length,
        "account_key_length": _key_length,
        "poshacme_home": check_windows_path,
        "skip_certificate_check": check_bool,
        "pfx_password": check_secret,
    },
    "renewal": {
        "script_path": _script_path,
        "log_dir": check_windows_path,
        "start": _start,
        "random_delay": lambda r, p, o: check_duration(r, p, o),
        "repeat_every": lambda r, p, o: check_duration(
            r, p, o, minimum=60, maximum=31 * _DAY, minimum_text="PT1M", maximum_text="P31D"
        ),
        "repeat_for": lambda r, p, o: check_duration(r, p, o, minimum=60, minimum_text="PT1M"),
        "time_limit": lambda r, p, o: check_duration(r, p, o),
        "wait_after_renewal": _wait,
        "task_name": _task_name,
        "task_path": _task_path,
        "end_boundary": _end_boundary,
        "log_retention_days": _retention,
        "start_date": _start_date,
    },
    "iis": {
        "site": lambda r, p, o: check_text(r, p, o, what="an IIS site name"),
        "port": check_port,
        "ip_address": _ip_address,
        "host_header": _host_header,
        "require_sni": check_bool,
        "remove_old_cert": check_bool,
    },
}
assert all(set(FIELD_CHECKS[s]) == set(SECTION_KEYS[s]) for s in SECTIONS), "checks out of sync with model"

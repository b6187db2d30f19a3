"""Validate inventory data and build typed host configurations, collecting EVERY problem at once.

Each problem names the key path it is about (``hosts.host01.domains[1]``). A value is checked where it
is written (``defaults``, ``groups.<g>.vars`` or ``hosts.<h>``), so a bad default is reported once,
not once per host. Rules that need the merged host (wildcard + WebRoot, basic over http, …) point at
the key that supplied the offending value.

Merge order for each section (``winrm``, ``acme``, ``renewal``, ``iis``), key by key:
``defaults`` < each group's ``vars`` in file order < the host's own section.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Final

import idna

from poshbridge.inventory.model import (
    AcmeConfig,
    HostConfig,
    IISConfig,
    Inventory,
    Problem,
    RenewalConfig,
    SecretRef,
    WinRMConfig,
)
from poshbridge.timefmt import parse_wall_clock

SECTION_TYPES: Final = {"winrm": WinRMConfig, "acme": AcmeConfig, "renewal": RenewalConfig, "iis": IISConfig}
SECTIONS: Final = tuple(SECTION_TYPES)
SECTION_KEYS: Final = {name: tuple(f.name for f in fields(cls)) for name, cls in SECTION_TYPES.items()}
TOP_KEYS: Final = ("defaults", "groups", "hosts")
GROUP_KEYS: Final = ("hosts", "vars")
HOST_KEYS: Final = ("address", "domains", "webroot", *SECTIONS)
RESERVED_TARGETS: Final = ("all",)

MAX_CONTACTS: Final = 6
OCSP_WAIT_SECONDS: Final = 600  # the manual's Start-Sleep 600 (OCSP registration lag up to ~10 min)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_ATOM_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$")  # one dot-atom part of a local part
_DURATION_RE = re.compile(
    r"^P(?!$)(?:(?P<Y>\d+)Y)?(?:(?P<Mo>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<H>\d+)H)?(?:(?P<Mi>\d+)M)?(?:(?P<S>\d+(?:\.\d+)?)S)?)?$"
)
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(Z|[+-]\d{2}:\d{2})?$")
_DRIVE_PATH_RE = re.compile(r"^[A-Za-z]:\\")
_UNC_PATH_RE = re.compile(r"^\\\\[^\\]+\\[^\\]+")
_PATH_FORBIDDEN = '"<>|?*'
_TASK_NAME_FORBIDDEN = '\\/:*?"<>|'
KEY_LENGTHS: Final = ("ec-256", "ec-384", "ec-521")


class _Invalid:
    """Marker: the value was rejected (a problem has been recorded)."""


INVALID: Final = _Invalid()


class Problems:
    """Collects problems in the order found, without duplicates."""

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.error_count = 0  # every error raised, duplicates included (a shared default fails each host)

    def error(self, path: str, message: str) -> _Invalid:
        self.error_count += 1
        self._add(Problem(path, message, "error"))
        return INVALID

    def warning(self, path: str, message: str) -> None:
        self._add(Problem(path, message, "warning"))

    def _add(self, problem: Problem) -> None:
        if problem not in self.items:
            self.items.append(problem)


def join_path(base: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{base}[{key}]"
    return f"{base}.{key}" if base else key


# ----- scalar checks ------------------------------------------------------------------------------------


def control_character(text: str) -> str | None:
    """The first control/line-separator character in ``text`` as ``U+XXXX``, or None."""
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            return f"U+{ord(ch):04X}"
    return None


def bad_code_point(text: str) -> str | None:
    """A lone surrogate or a Unicode noncharacter in ``text``, described by code point; else None."""
    for ch in text:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            return f"a lone surrogate (U+{code:04X})"
        if 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
            return f"a Unicode noncharacter (U+{code:04X})"
    return None


def check_code_points(data: Any, path: str, out: Problems) -> None:
    """Every key and text value of the parsed file: no lone surrogates, no noncharacters."""
    stack: list[tuple[Any, str]] = [(data, path)]
    seen: set[int] = set()  # YAML anchors can share (or nest) a node
    while stack:
        value, where = stack.pop()
        if isinstance(value, (Mapping, list)):
            if id(value) in seen:
                continue
            seen.add(id(value))
        if isinstance(value, str):
            bad = bad_code_point(value)
            if bad is not None:
                out.error(where, f"contains {bad}; text must be valid Unicode characters")
        elif isinstance(value, Mapping):
            for key, item in value.items():
                key_bad = bad_code_point(key) if isinstance(key, str) else None
                if key_bad is not None:
                    out.error(where, f"a key contains {key_bad}; keys must be valid Unicode characters")
                    continue
                stack.append((item, join_path(where, str(key))))
        elif isinstance(value, list):
            stack.extend((item, join_path(where, index)) for index, item in enumerate(value))


def check_text(
    raw: Any,
    path: str,
    out: Problems,
    *,
    what: str = "a string",
    allow_empty: bool = False,
    numbers_ok: bool = False,
) -> str | _Invalid:
    if numbers_ok and isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        return out.error(path, f"must be {what}, not {_describe(raw)}")
    if not raw and not allow_empty:
        return out.error(path, f"must be {what}, not empty")
    bad = control_character(raw)
    if bad is not None:
        return out.error(
            path,
            f"contains a control character ({bad}); names and paths cannot span lines "
            "or hold control characters",
        )
    return raw


def check_windows_path(
    raw: Any, path: str, out: Problems, *, what: str = "an absolute Windows path"
) -> str | _Invalid:
    text = check_text(raw, path, out, what=what)
    if isinstance(text, _Invalid):
        return text
    if not (_DRIVE_PATH_RE.match(text) or _UNC_PATH_RE.match(text)):
        return out.error(path, f"must be {what} such as C:\\poshbridge\\logs")
    bad = sorted({ch for ch in text[2:] if ch in _PATH_FORBIDDEN or ch == ":"})
    if bad:
        return out.error(path, f"contains characters Windows does not allow in a path: {' '.join(bad)}")
    return text


def check_int(
    raw: Any, path: str, out: Problems, *, low: int, high: int | None = None, what: str = "an integer"
) -> int | _Invalid:
    if isinstance(raw, bool) or not isinstance(raw, int):
        return out.error(path, f"must be {what}, not {_describe(raw)}")
    if raw < low or (high is not None and raw > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        return out.error(path, f"must be in the range {bounds}")
    return raw


def check_port(raw: Any, path: str, out: Problems) -> int | _Invalid:
    return check_int(raw, path, out, low=1, high=65535, what="a port number (1..65535)")


def check_bool(raw: Any, path: str, out: Problems) -> bool | _Invalid:
    if not isinstance(raw, bool):
        return out.error(path, f"must be true or false, not {_describe(raw)}")
    return raw


def check_choice(raw: Any, path: str, out: Problems, choices: Sequence[str]) -> str | _Invalid:
    if isinstance(raw, str) and raw.lower() in choices:
        return raw.lower()
    hint = _suggest(str(raw), choices) if isinstance(raw, str) else ""
    return out.error(path, f"must be one of {', '.join(choices)}, not {_describe(raw)}{hint}")


def duration_seconds(text: str) -> float | None:
    """Seconds in an ISO 8601 duration of days/hours/minutes/seconds; None if not such a duration."""
    match = _DURATION_RE.match(text)
    if not match or match["Y"] or match["Mo"] or match["W"]:
        return None
    days, hours, minutes = (int(match[k] or 0) for k in ("D", "H", "Mi"))
    return days * 86400 + hours * 3600 + minutes * 60 + float(match["S"] or 0)


def check_duration(
    raw: Any,
    path: str,
    out: Problems,
    *,
    minimum: float = 0,
    maximum: float | None = None,
    minimum_text: str = "",
    maximum_text: str = "",
) -> str | _Invalid:
    if not isinstance(raw, str):
        return out.error(path, f"must be an ISO 8601 duration such as PT1H or P1D, not {_describe(raw)}")
    match = _DURATION_RE.match(raw)
    if not match:
        return out.error(path, "must be an ISO 8601 duration such as PT30M, PT1H or P3D")
    if match["W"]:
        return out.error(
            path, "weeks are not allowed in a Task Scheduler duration; write days"
        )
    if match["Y"] or match["Mo"]:
        return out.error(path, "years and months have no fixed length; write days")
    seconds = duration_seconds(raw)
    assert seconds is not None
    if seconds < minimum:
        return out.error(path, f"must be at least {minimum_text}")
    if maximum is not None and seconds > maximum:
        return out.error(path, f"must be at most {maximum_text}")
    return raw


def normalize_fqdn(raw: str, *, allow_wildcard: bool = True) -> tuple[str | None, str]:
    """(ASCII FQDN, "") or (None, reason). IDNA 2008 with UTS #46 mapping (non-transitional: ß stays
    ß) via the ``idna`` package; A-labels (``xn--``) must decode to a valid U-label. The reason never
    quotes the name (it may be anything a file holds)."""
    text = raw[:-1] if raw.endswith(".") else raw
    if not text:
        return None, "is empty"
    if any(ch.isspace() for ch in text):
        return None, "contains white space"
    invisible = next((ch for ch in text if unicodedata.category(ch) == "Cf"), None)
    if invisible is not None:
        code = f"U+{ord(invisible):04X}"
        return None, f"contains an invisible format character ({code}, such as a zero-width space)"
    wildcard = text.startswith("*.")
    body = text[2:] if wildcard else text
    if wildcard and not allow_wildcard:
        return None, "is a wildcard; wildcards are not allowed here"
    if "*" in body:
        return None, "has a wildcard that is not the whole leftmost label, as in *.example.jp"
    try:
        ipaddress.ip_address(body)
    except ValueError:
        pass
    else:
        return None, "is an IP address; the certificate needs a domain name"
    labels = body.split(".")
    if len(labels) < 2:
        return None, "must be a fully qualified domain name with at least two labels"
    for position, label in enumerate(labels, start=1):
        if not label:
            return None, f"has an empty label (label {position})"
        try:
            ascii_label = idna.encode(label, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            if label[:4].lower() == "xn--":
                return None, f"label {position} is an A-label (xn--) that does not decode to a valid name"
            return None, (
                f"label {position} is not a valid (internationalized) label under IDNA 2008 / UTS #46: "
                "letters, digits and '-' only, no leading or trailing '-'"
            )
        if not _LABEL_RE.match(ascii_label):
            return None, (
                f"label {position} is invalid: letters, digits and '-' only, 1-63 characters, "
                "no leading or trailing '-'"
            )
        labels[position - 1] = ascii_label
    ascii_name = ".".join(labels)
    if len(ascii_name) > 253:
        return None, f"is longer than 253 characters ({len(ascii_name)})"
    if labels[-1].isdigit():
        return None, "has an all-numeric top-level label"
    return ("*." if wildcard else "") + ascii_name, ""


def check_email(raw: Any, path: str, out: Problems) -> str | _Invalid:
    text = check_text(raw, path, out, what="an e-mail address")
    if isinstance(text, _Invalid):
        return text
    address = text[7:] if text.lower().startswith("mailto:") else text
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return out.error(path, "is not a valid e-mail address")
    if len(local) > 64 or not all(_ATOM_RE.match(part) for part in local.split(".")):
        return out.error(path, "is not a valid e-mail address: bad local part")
    ascii_domain, reason = normalize_fqdn(domain, allow_wildcard=False)
    if ascii_domain is None:
        return out.error(path, f"is not a valid e-mail address: the domain {reason}")
    return f"{local}@{ascii_domain}"


def check_secret(raw: Any, path: str, out: Problems) -> SecretRef | _Invalid | None:
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        keys = list(raw)
        if len(keys) != 1 or keys[0] not in ("env", "file"):
            return out.error(
                path,
                "a secret reference must be {env: NAME} or {file: PATH}"
                f" (got a mapping with {len(keys)} key(s); keys not shown: one may be the secret)",
            )
        kind = keys[0]
        value = raw[kind]
        sub = join_path(path, kind)
        if kind == "env":
            if not isinstance(value, str) or not _ENV_NAME_RE.match(value):
                return out.error(sub, f"must be an environment variable name, not {_secret_kind(value)}")
            return SecretRef("env", value)
        text = check_text(value, sub, out, what="a file path")
        if isinstance(text, _Invalid):
            return text
        return SecretRef("file", text)
    if isinstance(raw, (str, int)) and not isinstance(raw, bool):
        literal = str(raw)
        if not literal:
            return out.error(path, "is empty; use {env: NAME} or {file: PATH}")
        out.warning(path, "literal secret in the inventory file; prefer {env: NAME} or {file: PATH}")
        return SecretRef("literal", "", literal)
    return out.error(path, f"must be {{env: NAME}} or {{file: PATH}}, not {_secret_kind(raw)}")


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
    return out.error(
        path, "must be a date-time YYYY-MM-DDTHH:MM:SS such as 2026-01-31T17:17:58"
    )


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
        return out.error(
            path, "must start and end with a backslash, such as '\\' or '\\poshbridge\\'"
        )
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


# ----- structure ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sourced:
    """A checked value and the key path it came from."""

    value: Any
    path: str


SectionValues = dict[str, Sourced]


def _describe(raw: Any) -> str:
    if raw is None:
        return "null"
    if isinstance(raw, bool):
        return f"the boolean {str(raw).lower()}"
    if isinstance(raw, Mapping):
        return "a mapping"
    if isinstance(raw, list):
        return "a list"
    if isinstance(raw, (int, float)):
        return "a number"
    if isinstance(raw, str):
        return "a text" if raw else "an empty text"
    return f"a value of type {type(raw).__name__}"


def _secret_kind(raw: Any) -> str:
    """Like :func:`_describe` but never the value: under a secret key it may be a pasted password."""
    if raw is None:
        return "null"
    if isinstance(raw, str):
        return "a text that is not one (value not shown)"
    if isinstance(raw, (bool, Mapping, list)):
        return _describe(raw)
    return f"a {type(raw).__name__} (value not shown)"


def _suggest(key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_keys(raw: Mapping[Any, Any], path: str, known: Sequence[str], out: Problems, what: str) -> None:
    for key in raw:
        if key not in known:
            where = f"in {what}" if what else ""
            out.error(
                join_path(path, str(key)),
                f"unknown key {str(key)!r} {where}{_suggest(str(key), known)}".replace("  ", " "),
            )


def _mapping(raw: Any, path: str, out: Problems, what: str) -> Mapping[Any, Any] | None:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        out.error(path, f"must be a mapping ({what}), not {_describe(raw)}")
        return None
    return raw


def parse_section(section: str, raw: Any, path: str, out: Problems) -> SectionValues:
    """Check one ``winrm``/``acme``/``renewal``/``iis`` mapping written at ``path``."""
    mapping = _mapping(raw, path, out, f"the {section} settings")
    if mapping is None:
        return {}
    check_keys(mapping, path, SECTION_KEYS[section], out, f"the {section} section")
    values: SectionValues = {}
    for key, check in FIELD_CHECKS[section].items():
        if key not in mapping:
            continue
        key_path = join_path(path, key)
        value = check(mapping[key], key_path, out)
        if not isinstance(value, _Invalid):
            values[key] = Sourced(value, key_path)
    return values


def parse_sections(raw: Mapping[Any, Any], path: str, out: Problems) -> dict[str, SectionValues]:
    return {
        name: parse_section(name, raw[name], join_path(path, name), out) for name in SECTIONS if name in raw
    }


def _merge(layers: Sequence[dict[str, SectionValues]]) -> dict[str, SectionValues]:
    merged: dict[str, SectionValues] = {name: {} for name in SECTIONS}
    for layer in layers:
        for name, values in layer.items():
            merged[name].update(values)
    return merged


def _build(cls: Any, values: SectionValues) -> Any:
    return cls(**{key: sourced.value for key, sourced in values.items()})


def _where(values: SectionValues, key: str, fallback: str) -> str:
    sourced = values.get(key)
    return sourced.path if sourced is not None else fallback


def _cross_checks(
    host_path: str,
    merged: dict[str, SectionValues],
    winrm: WinRMConfig,
    acme: AcmeConfig,
    renewal: RenewalConfig,
    out: Problems,
) -> None:
    w = merged["winrm"]
    if winrm.auth == "basic" and winrm.transport == "http":
        out.error(
            _where(w, "auth", f"{host_path}.winrm.auth"),
            "basic authentication over http sends the password in clear text; use transport https",
        )
    if winrm.auth == "certificate":
        if winrm.transport != "https":
            out.error(
                _where(w, "transport", f"{host_path}.winrm.transport"),
                "certificate authentication needs transport https",
            )
        if not winrm.certificate_pem or not winrm.certificate_key_pem:
            out.error(
                f"{host_path}.winrm",
                "certificate authentication needs certificate_pem and certificate_key_pem",
            )
    elif winrm.username is None and winrm.auth in ("basic", "ntlm", "credssp"):
        out.error(f"{host_path}.winrm.username", f"missing: auth {winrm.auth} needs a username")
    if winrm.read_timeout <= winrm.operation_timeout:
        out.error(
            _where(w, "read_timeout", f"{host_path}.winrm.read_timeout"),
            "read_timeout must be greater than operation_timeout "
            f"({_where(w, 'operation_timeout', 'the default')}): a WSMan Receive may wait the whole "
            "operation timeout",
        )
    if not acme.contacts:
        out.error(
            f"{host_path}.acme.contacts",
            f"missing: the CA requires 1 to {MAX_CONTACTS} contact e-mail addresses for emergency contact",
        )
    r = merged["renewal"]
    every = duration_seconds(renewal.repeat_every)
    span = duration_seconds(renewal.repeat_for)
    if every is not None and span is not None and span < every:
        out.error(
            _where(r, "repeat_for", f"{host_path}.renewal.repeat_for"),
            "repeat_for must not be shorter than repeat_every "
            f"({_where(r, 'repeat_every', 'the default')})",
        )
    if renewal.end_boundary is not None:
        end = renewal.end_boundary[:19]
        if end <= f"{renewal.start_date}T{renewal.start}:00":
            out.error(
                _where(r, "end_boundary", f"{host_path}.renewal.end_boundary"),
                "end_boundary is not after the first start (start_date and start)",
            )
        else:
            out.warning(
                _where(r, "end_boundary", f"{host_path}.renewal.end_boundary"),
                "the task stops firing after end_boundary and renewals then silently stop",
            )


def _domains(raw: Any, path: str, plugin: Sourced | None, out: Problems) -> tuple[str, ...] | _Invalid:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        return out.error(path, "must be a non-empty list of FQDNs (the first is the main domain)")
    result: list[str] = []
    seen: dict[str, int] = {}
    failed = False
    plugin_name = plugin.value if plugin is not None else "WebRoot"
    for index, item in enumerate(raw):
        item_path = join_path(path, index)
        text = check_text(item, item_path, out, what="an FQDN")
        if isinstance(text, _Invalid):
            failed = True
            continue
        name, reason = normalize_fqdn(text)
        if name is None:
            out.error(item_path, f"FQDN {reason}")
            failed = True
            continue
        if name.startswith("*.") and plugin_name.lower() == "webroot":
            via = f" (plugin set at {plugin.path})" if plugin is not None else ""
            out.error(
                item_path,
                f"a wildcard cannot be validated with http-01 (the WebRoot plugin{via}); "
                "the manual requires dns-01 with a DNS plugin for wildcards",
            )
            failed = True
            continue
        if name in seen:
            out.error(item_path, f"duplicate domain (same as {join_path(path, seen[name])})")
            failed = True
            continue
        seen[name] = index
        result.append(name)
    if not failed and len(result) > 1:
        out.warning(
            path,
            f"one certificate for {len(result)} FQDNs: if one FQDN stops being used the "
            "certificate is revoked for all of them (the manual's SAN caution); combine only "
            "FQDNs with the same period of use",
        )
    return INVALID if failed else tuple(result)


def _address(raw: Any, path: str, out: Problems) -> str | _Invalid:
    text = check_text(raw, path, out, what="a host name or IP address")
    if isinstance(text, _Invalid):
        return text
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return text
    labels = text.rstrip(".").split(".")
    if not all(re.match(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$", label) for label in labels):
        return out.error(path, "is not a valid host name or IP address")
    return text


def _check_name(name: Any, path: str, kind: str, out: Problems) -> bool:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        out.error(
            path,
            f"{kind} name {name!r} must be letters, digits, '.', '_' or '-' (starting with a "
            "letter or digit)",
        )
        return False
    if name.lower() in RESERVED_TARGETS:
        out.error(path, f"{kind} name {name!r} is reserved (it means every host)")
        return False
    return True


def build_inventory(data: Any, source: str = "") -> Inventory:
    """Check ``data`` (parsed YAML) and build the inventory; problems are in ``Inventory.problems``."""
    out = Problems()
    check_code_points(data, "", out)
    if out.items:  # such text cannot even be printed safely: nothing else is checked
        return Inventory(hosts={}, groups={}, source=source, problems=tuple(out.items))
    root = _mapping(data, "", out, "with defaults, groups and hosts") if data is not None else None
    if data is None:
        out.error("", "the inventory is empty: it needs at least a 'hosts' mapping")
    if root is None:
        return Inventory(hosts={}, groups={}, source=source, problems=tuple(out.items))
    check_keys(root, "", TOP_KEYS, out, "the inventory (top level)")

    defaults_raw = _mapping(root.get("defaults"), "defaults", out, "winrm/acme/renewal/iis sections")
    defaults: dict[str, SectionValues] = {}
    if defaults_raw is not None:
        check_keys(defaults_raw, "defaults", SECTIONS, out, "defaults")
        defaults = parse_sections(defaults_raw, "defaults", out)

    hosts_raw = _mapping(root.get("hosts"), "hosts", out, "host name → settings")
    if hosts_raw is not None and not hosts_raw:
        out.error("hosts", "no hosts defined")
    hosts_raw = hosts_raw or {}
    host_names = [str(name) for name in hosts_raw]

    groups: dict[str, tuple[str, ...]] = {}
    group_layers: dict[str, dict[str, SectionValues]] = {}
    groups_raw = _mapping(root.get("groups"), "groups", out, "group name → {hosts, vars}") or {}
    for group_name, group_raw in groups_raw.items():
        gpath = join_path("groups", str(group_name))
        if not _check_name(group_name, gpath, "group", out):
            continue
        if group_name in hosts_raw:
            out.error(gpath, f"group {group_name!r} has the same name as a host; targets would be ambiguous")
        group = _mapping(group_raw, gpath, out, "hosts and vars")
        if group is None:
            continue
        check_keys(group, gpath, GROUP_KEYS, out, f"group {group_name!r}")
        members_raw = group.get("hosts", [])
        members: list[str] = []
        if not isinstance(members_raw, list):
            out.error(
                join_path(gpath, "hosts"), f"must be a list of host names, not {_describe(members_raw)}"
            )
            members_raw = []
        for index, member in enumerate(members_raw):
            mpath = join_path(join_path(gpath, "hosts"), index)
            if not isinstance(member, str) or member not in hosts_raw:
                out.error(mpath, f"not a host of this inventory{_suggest(str(member), host_names)}")
            elif member in members:
                out.warning(mpath, "the host is listed twice")
            else:
                members.append(member)
        vars_raw = _mapping(
            group.get("vars"), join_path(gpath, "vars"), out, "winrm/acme/renewal/iis sections"
        )
        if vars_raw is not None:
            check_keys(vars_raw, join_path(gpath, "vars"), SECTIONS, out, f"vars of group {group_name!r}")
            group_layers[group_name] = parse_sections(vars_raw, join_path(gpath, "vars"), out)
        groups[group_name] = tuple(members)

    hosts: dict[str, HostConfig] = {}
    for host_name, host_raw in hosts_raw.items():
        hpath = join_path("hosts", str(host_name))
        if not _check_name(host_name, hpath, "host", out):
            continue
        host_map = _mapping(host_raw, hpath, out, "address, domains, webroot and sections")
        if host_map is None:
            continue
        before = out.error_count
        check_keys(host_map, hpath, HOST_KEYS, out, f"host {host_name!r}")
        member_of = tuple(g for g, members in groups.items() if host_name in members)
        layers = [
            defaults,
            *(group_layers.get(g, {}) for g in member_of),
            parse_sections(host_map, hpath, out),
        ]
        merged = _merge(layers)

        address = _address(host_map.get("address", host_name), join_path(hpath, "address"), out)
        if "domains" not in host_map:
            out.error(
                join_path(hpath, "domains"), "missing: the FQDNs of the certificate (first = main domain)"
            )
            domains: tuple[str, ...] | _Invalid = INVALID
        else:
            domains = _domains(
                host_map["domains"], join_path(hpath, "domains"), merged["acme"].get("plugin"), out
            )
        if "webroot" not in host_map:
            out.error(join_path(hpath, "webroot"), "missing: the IIS site's root folder (WebRoot WRPath)")
            webroot: str | _Invalid = INVALID
        else:
            webroot = check_windows_path(host_map["webroot"], join_path(hpath, "webroot"), out)

        winrm: WinRMConfig = _build(WinRMConfig, merged["winrm"])
        acme: AcmeConfig = _build(AcmeConfig, merged["acme"])
        renewal: RenewalConfig = _build(RenewalConfig, merged["renewal"])
        iis: IISConfig = _build(IISConfig, merged["iis"])
        _cross_checks(hpath, merged, winrm, acme, renewal, out)
        after = out.error_count
        if isinstance(address, _Invalid) or isinstance(domains, _Invalid) or isinstance(webroot, _Invalid):
            continue
        if after > before:
            continue  # errors about this host: leave it out rather than run with a guess
        hosts[host_name] = HostConfig(
            name=host_name,
            address=address,
            domains=domains,
            webroot=webroot,
            iis=iis,
            winrm=winrm,
            acme=acme,
            renewal=renewal,
            groups=member_of,
        )

    return Inventory(hosts=hosts, groups=groups, source=source, problems=tuple(out.items))

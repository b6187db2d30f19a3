"""Scalar checks of inventory values, and the problem list they report to (every problem at once,
each naming its key path)."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Final

import idna

from poshbridge.inventory.model import Problem, SecretRef

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
        return out.error(path, "weeks are not allowed in a Task Scheduler duration; write days")
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
    import difflib  # only for an unknown key: a valid inventory does not load it

    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""

"""ACME problems: the JPRS error table (manual §6.2, English and Japanese), classification, fix hints.

Posh-ACME reports an ACME problem in one of two ways:

- an ``AcmeException`` whose message is the problem ``detail`` and whose ``Exception.Data`` carries
  ``type``/``status`` (the data does not always survive WinRM deserialization), or
- a plain string of its own that embeds the CA's detail, e.g.
  ``Authorization invalid for <fqdn>: <detail>`` (challenge validation).

:func:`classify_problem` accepts whatever is known (type, status, detail, the whole message) and
returns an :class:`AcmeProblem` with the matching row(s) of the CA's table and an actionable hint.
Pure: no IO.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from poshbridge.poshacme.jprs_table import JPRS_TABLE, RFC8555_EXTRA, TableRow

ACME_URN_PREFIX = "urn:ietf:params:acme:error:"


# ----- hints -----------------------------------------------------------------------------------------

HINT_HTTP01_MIME = (
    "The CA could not fetch the http-01 challenge file. IIS does not serve extension-less files without a"
    ' MIME map: put the challenge web.config (<remove fileExtension="."/> + <mimeMap fileExtension="."'
    ' mimeType="text/plain"/>) at <webroot>\\.well-known\\acme-challenge\\web.config (poshbridge setup'
    " writes it), check that the inventory webroot is the IIS site's physical path and that port 80 of"
    " every domain reaches this site, then run setup again."
)
HINT_EAB_MISSING = (
    "The CA requires External Account Binding: set acme.eab_kid (MAC key identifier) and acme.eab_hmac"
    " (MAC key) from your registrar in the inventory, then run setup again."
)
HINT_EAB_REJECTED = (
    "The CA rejected the EAB credentials: the MAC key identifier or MAC key is wrong, or they are older"
    " than 14 days (JPRS EAB credentials are valid for 14 days after issue). Ask your registrar for new"
    " EAB credentials, update acme.eab_kid/acme.eab_hmac, then run setup again."
)
HINT_ACCOUNT_INVALID = (
    "The ACME account is not valid any more (deactivated or revoked). Create a new account: remove the"
    " account from the host's Posh-ACME state or run setup with fresh EAB credentials."
)
HINT_CONTACTS = (
    "Fix acme.contacts in the inventory: 1 to 6 e-mail addresses, each one only once, then run setup again."
)
HINT_CONTACT_FORMAT = (
    "Each acme.contacts entry must be a plain e-mail address (poshbridge adds mailto:); fix it and run"
    " setup again."
)
HINT_BAD_NONCE = (
    "Transient: the CA rejected a replay nonce. Posh-ACME retries once by itself; if it still failed,"
    " run the command again."
)
HINT_RATE_LIMITED = (
    "The CA is limiting requests (e.g. after many forced renewals). Wait before trying again and avoid"
    " repeated --force renewals."
)
HINT_CONNECTION = (
    "The CA could not connect to the host for http-01 validation: make sure every domain resolves to this"
    " server from the Internet and that TCP port 80 is open to the CA (firewall, load balancer, redirects)."
)
HINT_CAA = (
    "A CAA record of the domain does not allow this CA: add a CAA issue record for the CA (ask the CA for"
    " its CAA identifier) or remove the restrictive record, then run again."
)
HINT_REJECTED_IDENTIFIER = (
    "The CA will not issue for this name (policy, name not covered by your contract, or a blocked name):"
    " check the domains in the inventory and your application with the registrar."
)
HINT_FQDN = (
    "The CA cannot issue for this FQDN: check the domains in the inventory (no wildcard with http-01)."
)
HINT_TOS = "Accept the CA's terms of service (poshbridge passes -AcceptTOS when it creates the account)."
HINT_EXPIRED = (
    "The order or authorization expired before it completed: run the command again to create a fresh"
    " order (renew with --force if needed)."
)
HINT_ORDER_STATE = (
    "The order or authorization is in a state the CA does not accept (e.g. invalid after a failed"
    " validation): fix the cause of the earlier failure and run again; a new order will be created."
)
HINT_SERVER = "An error on the CA side: try again later; contact the CA if it persists."
HINT_CSR = "The CSR was refused (e.g. key too short): use acme.cert_key_length 2048 or larger."
HINT_NO_CERT = "The certificate to revoke does not exist at the CA: check the order name on the host."
HINT_ALREADY_REVOKED = "The certificate is already revoked: issue a new one with renew --force."
HINT_REVOCATION_REASON = "Use a revocation reason the CA accepts (e.g. keyCompromise, superseded)."
HINT_TIMEOUT = (
    "Validation did not complete in time: check that every domain reaches the host on port 80 and"
    " raise the validation timeout if the CA is slow."
)
HINT_NO_SERVER = "No ACME server configured on the host: run poshbridge setup first."
HINT_NO_ACCOUNT = "No ACME account on the host: run poshbridge setup first (it creates the account with EAB)."
HINT_GENERIC = "See the CA's explanation above; fix the cause and run the command again."

# ----- the problem ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AcmeProblem:
    """An ACME problem as poshbridge understands it.

    ``type`` is the short name (``externalAccountRequired``) or None when unknown; ``table_message``,
    ``condition_en`` and ``condition_ja`` come from the CA's table (rows sharing type and message are
    joined with `` / ``); ``hint`` says what to do.
    """

    type: str | None = None
    status: int | None = None
    detail: str | None = None
    fqdn: str | None = None
    table_message: str | None = None
    condition_en: str | None = None
    condition_ja: str | None = None
    hint: str | None = None
    transient: bool = False

    @property
    def urn(self) -> str | None:
        return ACME_URN_PREFIX + self.type if self.type else None

    def condition(self, lang: str = "en") -> str | None:
        return self.condition_ja if lang == "ja" else self.condition_en

    def summary(self, lang: str = "en") -> str:
        """One line for a person: type (status): CA explanation — condition."""
        head = self.type or "error"
        if self.status is not None:
            head += f" ({self.status})"
        text = self.detail or self.table_message or ""
        cond = self.condition(lang)
        parts = [f"{head}: {text}" if text else head]
        if cond:
            parts.append(cond)
        return " — ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """``{"type", "urn", "status", "detail", "fqdn", "table_message", "condition_en",
        "condition_ja", "hint", "transient"}`` — every key always present (null when unknown)."""
        return {
            "type": self.type,
            "urn": self.urn,
            "status": self.status,
            "detail": self.detail,
            "fqdn": self.fqdn,
            "table_message": self.table_message,
            "condition_en": self.condition_en,
            "condition_ja": self.condition_ja,
            "hint": self.hint,
            "transient": self.transient,
        }


# ----- classification --------------------------------------------------------------------------------

_AUTHZ_INVALID = re.compile(r"Authorization invalid for (?P<fqdn>[^\s:]+):(?P<detail>.*)", re.S)
_AUTHZ_STATUS = re.compile(r"Authorization for (?P<fqdn>\S+) returned status '(?P<status>[^']*)'")
_AUTHZ_NEW_ORDER_TAIL = " authorization status is '"
_VALIDATION_TIMEOUT = re.compile(r"Timed out waiting \d+ seconds for authorizations to become valid")
_EAB_REQUIRED_PA = "requires external account credentials"
_URN = re.compile(r"urn:ietf:params:acme:error:(?P<type>[A-Za-z]+)")
_HTTP_404 = re.compile(r"\b404\b")
# Error text comes from the network: every pattern here runs in linear time (no backtracking
# between overlapping repeats; tests/unit/test_regex_linear.py checks the shapes), and the table
# rows are matched with plain string operations.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _authz_new_order(msg: str) -> tuple[str, str] | None:
    """``<fqdn> authorization status is '<status>'`` (New-PAOrder) -> (fqdn, status), in linear time:
    each occurrence is looked at once, and the words before two occurrences never overlap."""
    at = msg.find(_AUTHZ_NEW_ORDER_TAIL)
    while at >= 0:
        start = at
        while start > 0 and not msg[start - 1].isspace():
            start -= 1
        value_start = at + len(_AUTHZ_NEW_ORDER_TAIL)
        close = msg.find("'", value_start)
        if close < 0:
            return None
        if start < at:
            return msg[start:at], msg[value_start:close]
        at = msg.find(_AUTHZ_NEW_ORDER_TAIL, at + 1)
    return None


@dataclass(frozen=True)
class _RowPattern:
    """A table message as a prefix, an optional ``[%s]`` placeholder and a suffix (ASCII-lowered)."""

    head: str
    placeholder: bool
    tail: str

    def match(self, lowered: str, original: str) -> tuple[bool, str | None]:
        """``lowered``: the detail with ASCII letters lowered (same length). (matched, value)."""
        pos = len(lowered) - len(lowered.lstrip())
        if not lowered.startswith(self.head, pos):
            return False, None
        pos += len(self.head)
        if not self.placeholder:
            return True, None
        if self.tail:
            end = lowered.find(self.tail, pos)
            if end < 0:
                return False, None
            value = original[pos:end]
        else:  # a trailing placeholder: "[value]", else the next word
            rest = original[pos:].lstrip()
            if rest.startswith("["):
                close = rest.find("]")
                value = rest[1:close] if close >= 0 else rest[1:]
            else:
                value = rest.split(maxsplit=1)[0] if rest.strip() else ""
        return True, value.strip().removeprefix("[").removesuffix("]")


def _row_pattern(message: str) -> _RowPattern:
    lowered = message.translate(_ASCII_LOWER)
    for marker in ("[%s]", "[%d]"):
        if marker in lowered:
            head, _, tail = lowered.partition(marker)
            return _RowPattern(head, True, tail)
    return _RowPattern(lowered, False, "")


_ROW_PATTERNS = [(row, _row_pattern(row.message)) for row in JPRS_TABLE]


def short_type(value: str | None) -> str | None:
    if not value:
        return None
    text = value.strip()
    if text.startswith(ACME_URN_PREFIX):
        text = text[len(ACME_URN_PREFIX) :]
    return text or None


def _match_rows(detail: str, type_: str | None) -> tuple[list[TableRow], str | None]:
    """Rows whose message the detail matches (longest message first), plus the ``[%s]`` value."""
    best: list[TableRow] = []
    value: str | None = None
    best_len = -1
    lowered = detail.lower() if detail.isascii() else detail.translate(_ASCII_LOWER)
    for row, pattern in _ROW_PATTERNS:
        if type_ is not None and row.type != type_:
            continue
        matched, found = pattern.match(lowered, detail)
        if not matched:
            continue
        if len(row.message) > best_len:
            best, best_len = [row], len(row.message)
            value = found
        elif len(row.message) == best_len and row.message == best[0].message:
            best.append(row)
    return best, (value.strip() or None) if value else None


def _json_problem(text: str) -> dict[str, Any] | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        body = json.loads(text[start : end + 1], strict=False)
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) and ("type" in body or "detail" in body) else None


def _looks_http01(detail: str) -> bool:
    lowered = detail.lower()
    return (
        "acme-challenge" in lowered
        or "non-200 status code" in lowered
        or "key authorization" in lowered
        or "invalid response from http" in lowered
        or _HTTP_404.search(lowered) is not None
        or "http-01" in lowered
    )


def _looks_eab(detail: str) -> bool:
    lowered = detail.lower()
    return "external account" in lowered or "externalaccountbinding" in lowered or "'kid'" in lowered


def _hint(type_: str | None, detail: str, rows: list[TableRow], context: str | None) -> str:
    msg = rows[0].message if rows else ""
    if type_ == "externalAccountRequired":
        return HINT_EAB_MISSING
    if type_ == "unauthorized":
        if _looks_eab(detail) or context == "account":
            return HINT_EAB_REJECTED
        if _looks_http01(detail) or context == "http-01":
            return HINT_HTTP01_MIME
        return HINT_ACCOUNT_INVALID
    if type_ == "incorrectResponse" or (type_ is None and _looks_http01(detail)):
        return HINT_HTTP01_MIME
    if type_ == "malformed":
        if msg == "Unable to create account" or _looks_eab(detail):
            return HINT_EAB_REJECTED
        if msg == "The contact information is invalid:" or "contact" in detail.lower():
            return HINT_CONTACTS
        if msg == "Please agree to the term of service.":
            return HINT_TOS
        if msg == "The FQDN is invalid: [%s]":
            return HINT_FQDN
        if msg == "Validity period of application has been expired":
            return HINT_EXPIRED
        if msg == "Unable to accept order":
            return HINT_ORDER_STATE
        if msg == "The certificate does not exist: [%s]":
            return HINT_NO_CERT
        if _looks_http01(detail):
            return HINT_HTTP01_MIME
        return HINT_GENERIC
    simple = {
        "badNonce": HINT_BAD_NONCE,
        "rateLimited": HINT_RATE_LIMITED,
        "connection": HINT_CONNECTION,
        "dns": HINT_CONNECTION,
        "tls": HINT_CONNECTION,
        "caa": HINT_CAA,
        "rejectedIdentifier": HINT_REJECTED_IDENTIFIER,
        "unsupportedIdentifier": HINT_FQDN,
        "invalidContact": HINT_CONTACT_FORMAT,
        "unsupportedContact": HINT_CONTACT_FORMAT,
        "serverInternal": HINT_SERVER,
        "badCSR": HINT_CSR,
        "alreadyRevoked": HINT_ALREADY_REVOKED,
        "badRevocationReason": HINT_REVOCATION_REASON,
        "accountDoesNotExist": HINT_ACCOUNT_INVALID,
        "orderNotReady": HINT_ORDER_STATE,
        "badPublicKey": HINT_ACCOUNT_INVALID,
        "badSignatureAlgorithm": "Use an account key the CA supports (acme.account_key_length ec-256).",
    }
    if type_ in simple:
        return simple[type_]
    return HINT_GENERIC


def classify_problem(
    *,
    type: str | None = None,
    status: int | None = None,
    detail: str | None = None,
    message: str | None = None,
    context: str | None = None,
) -> AcmeProblem:
    """Classify an ACME problem from whatever is known.

    ``type`` may be the URN or the short name. ``message`` is the error text as PowerShell showed it
    (Posh-ACME message forms and RFC 7807 JSON bodies are recognised). ``context`` (optional:
    ``"account"``, ``"http-01"``, ``"revoke"``) says what poshbridge was doing, to refine the hint.
    """
    type_ = short_type(type)
    fqdn: str | None = None
    text = (detail or "").strip()
    msg = (message or "").strip()
    transient_forced = False
    if msg:
        body = _json_problem(msg) if ("{" in msg and ("type" in msg or "detail" in msg)) else None
        if body is not None:
            type_ = type_ or short_type(str(body["type"])) if body.get("type") else type_
            if status is None and isinstance(body.get("status"), int):
                status = int(body["status"])
            if not text and body.get("detail") is not None:
                text = str(body["detail"])
        authz = _AUTHZ_INVALID.search(msg)
        if authz is not None:
            fqdn = authz.group("fqdn")
            if not text:
                text = authz.group("detail").strip()
            context = context or "http-01"
        else:
            other = _AUTHZ_STATUS.search(msg)
            if other is not None:
                fqdn = other.group("fqdn")
            else:
                new_order = _authz_new_order(msg)
                fqdn = new_order[0] if new_order is not None else None
        if type_ is None and _EAB_REQUIRED_PA in msg:
            type_ = "externalAccountRequired"
        if type_ is None:
            urn = _URN.search(msg)
            if urn is not None:
                type_ = urn.group("type")
        if not text:
            text = msg
    if type_ is None and text:
        urn = _URN.search(text)
        if urn is not None:
            type_ = urn.group("type")
    rows, value = _match_rows(text, type_) if text else ([], None)
    if not rows and type_ is None and text:
        rows, value = _match_rows(text, None)
    if type_ is None and rows:
        type_ = rows[0].type
    if type_ is None and text and "externalaccountbinding" in text.lower().replace("'", "").replace(" ", ""):
        type_ = "externalAccountRequired"
    if not rows and type_ is not None:
        candidates = [r for r in JPRS_TABLE if r.type == type_]
        if len(candidates) == 1:
            rows = candidates
        elif type_ == "malformed" and not text:
            rows = [candidates[0]]
    if fqdn is None and value and rows and rows[0].type == "connection":
        fqdn = value
    if fqdn is None and value and rows and rows[0].message.startswith("The FQDN is invalid"):
        fqdn = value
    if rows and status is None and len({r.status for r in rows}) == 1:
        status = rows[0].status
    if msg and _VALIDATION_TIMEOUT.search(msg) and type_ is None:
        hint = HINT_TIMEOUT
    elif type_ is None and "No ACME server configured" in (msg or text):
        hint = HINT_NO_SERVER
    elif type_ is None and "No ACME account configured" in (msg or text):
        hint = HINT_NO_ACCOUNT
    else:
        hint = _hint(type_, text, rows, context)
    cond_en = " / ".join(dict.fromkeys(r.condition_en for r in rows)) if rows else None
    cond_ja = " / ".join(dict.fromkeys(r.condition_ja for r in rows)) if rows else None
    if not rows and type_ in RFC8555_EXTRA:
        cond_en, cond_ja = RFC8555_EXTRA[type_]
    transient = transient_forced or type_ in ("badNonce", "rateLimited", "serverInternal")
    return AcmeProblem(
        type=type_,
        status=status,
        detail=text or None,
        fqdn=fqdn,
        table_message=rows[0].message if rows else None,
        condition_en=cond_en,
        condition_ja=cond_ja,
        hint=hint,
        transient=transient,
    )


def problem_from_exception_data(
    data: Any, message: str | None = None, context: str | None = None
) -> AcmeProblem:
    """From an ErrorRecord's ``Exception.Data`` (a dict with ``type``/``status``/``detail``) and message."""
    type_: str | None = None
    status: int | None = None
    detail: str | None = None
    if isinstance(data, dict):
        lowered = {str(k).lower(): v for k, v in data.items()}
        if lowered.get("type") is not None:
            type_ = str(lowered["type"])
        raw_status = lowered.get("status")
        if isinstance(raw_status, int) and not isinstance(raw_status, bool):
            status = raw_status
        elif isinstance(raw_status, str) and raw_status.strip().isdigit():
            status = int(raw_status)
        if lowered.get("detail") is not None:
            detail = str(lowered["detail"])
    return classify_problem(type=type_, status=status, detail=detail, message=message, context=context)


def is_acme_related(problem: AcmeProblem) -> bool:
    """True when the classification found an ACME type or a Posh-ACME authorization message."""
    return problem.type is not None or problem.fqdn is not None

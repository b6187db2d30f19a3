"""The ACME problem in an error message, and the outcome of a session from its events."""

from __future__ import annotations

import json
from typing import Any

from poshbridge.audit.transcript.model import (
    FAILED,
    INTERRUPTED,
    NOT_DUE,
    REBOUND,
    RENEWED,
    SKIPPED,
    UNKNOWN,
    Event,
    Session,
)
from poshbridge.audit.transcript.patterns import _ACME_STATUS, _ACME_TYPE, _IIS_DEPLOY, _NOT_DUE, _SKIPPED
from poshbridge.poshacme.problems import AcmeProblem, classify_problem


def problem_from_text(message: str) -> AcmeProblem | None:
    """The ACME problem in an error message: an RFC 7807 JSON body (possibly partial), else a
    Posh-ACME message form that the classifier recognises. None for non-ACME errors."""
    if not message:
        return None
    if "urn:ietf:params:acme:error:" in message or '"type"' in message:
        body = _json_object(message)
        if body is not None:
            status = body.get("status")
            return classify_problem(
                type=str(body["type"]) if body.get("type") is not None else None,
                status=int(status) if isinstance(status, int) else None,
                detail=str(body["detail"]) if body.get("detail") is not None else None,
            )
        type_match = _ACME_TYPE.search(message)
        if type_match is not None:
            detail = _json_string_after(message, '"detail"')
            status_match = _ACME_STATUS.search(message)
            return classify_problem(
                type=type_match.group(1),
                status=int(status_match.group(1)) if status_match else None,
                detail=detail,
            )
    problem = classify_problem(message=message)
    if problem.type is None and problem.fqdn is None:
        return None
    return problem


def _json_object(text: str) -> dict[str, Any] | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start : end + 1], strict=False)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _json_string_after(text: str, key: str) -> str | None:
    """The JSON string value after the first ``key :`` in ``text`` (a partial JSON body), decoded by
    the json module's linear string scanner; None when there is none or it does not close."""
    at = text.find(key)
    if at < 0:
        return None
    pos = at + len(key)
    rest = text[pos:].lstrip()
    if not rest.startswith(":"):
        return None
    rest = rest[1:].lstrip()
    if not rest.startswith('"'):
        return None
    try:
        value, _ = _STRING_DECODER.raw_decode(text, len(text) - len(rest))
    except ValueError:
        return None
    return value if isinstance(value, str) else None


_STRING_DECODER = json.JSONDecoder(strict=False)


def is_bad_nonce(problem: AcmeProblem | None) -> bool:
    return problem is not None and (problem.type or "").endswith("badNonce")


# ----- outcome -------------------------------------------------------------------------------------


def _decide_outcome(session: Session) -> None:
    """Outcome of one session from its events (README.md, "What is read from a transcript", has the rules)."""
    if session.script_outcome is not None:
        _script_outcome(session, session.script_outcome)
        return
    last_success = -1
    success_kinds: set[str] = set()
    for position, event in enumerate(session.events):
        kind = _success_kind(event)
        if kind is not None:
            last_success = position
            success_kinds.add(kind)
    failures: list[Event] = []
    nonce_errors: list[Event] = []
    for position, event in enumerate(session.events[last_success + 1 :], start=last_success + 1):
        del position
        if event.kind not in ("terminating-error", "error") or event.repeated:
            continue
        if _NOT_DUE.search(event.text):
            continue  # -WarningAction Stop turned the not-due warning into an error
        if is_bad_nonce(event.problem) and event.text.lstrip().startswith("{"):
            nonce_errors.append(event)  # the body Posh-ACME caught and retried
            continue
        failures.append(event)
    if failures:
        session.outcome = FAILED
        with_problem = next((e for e in failures if e.problem is not None and e.problem.type), None)
        with_problem = with_problem or next((e for e in failures if e.problem is not None), None)
        session.acme_problem = with_problem.problem if with_problem is not None else None
        # The reason reads best from the last plain-text message (not an ACME JSON body).
        readable = [e for e in failures if e.text and not e.text.lstrip().startswith("{")]
        culprit = readable[-1] if readable else failures[-1]
        text = " ".join(culprit.text.split())
        if not readable and session.acme_problem is not None:
            text = session.acme_problem.detail or text
        where = f"{culprit.command}: " if culprit.command else ""
        session.outcome_reason = (where + text).strip()[:500]
        return
    if not session.complete and session.has_header:
        session.outcome = INTERRUPTED
        session.outcome_reason = "no transcript footer: the run was stopped, killed or crashed"
        if nonce_errors:
            session.acme_problem = nonce_errors[-1].problem
        return
    for kind in (RENEWED, SKIPPED, NOT_DUE):
        if kind in success_kinds:
            session.outcome = kind
            session.outcome_reason = _success_reason(session, kind)
            return
    session.outcome = UNKNOWN
    session.outcome_reason = "no Posh-ACME renewal lines in the transcript"


def _script_outcome(session: Session, outcome: str) -> None:
    """The hardened script caught everything and said what happened; errors explain a failure."""
    session.outcome = outcome
    if outcome != FAILED:
        session.outcome_reason = _success_reason(session, outcome) + " (renewal script)"
        return
    failures = [e for e in session.errors if not e.repeated and not is_bad_nonce(e.problem)]
    with_problem = next((e for e in failures if e.problem is not None and e.problem.type), None)
    if with_problem is None and session.script_error:
        problem = problem_from_text(session.script_error)
        session.acme_problem = problem
    else:
        session.acme_problem = with_problem.problem if with_problem is not None else None
    session.outcome_reason = session.script_error or (failures[-1].text if failures else "renewal failed")


def _success_kind(event: Event) -> str | None:
    if event.kind == "warning":
        if _NOT_DUE.search(event.text):
            return NOT_DUE
        if _SKIPPED.search(event.text):
            return SKIPPED
    elif event.kind == "verbose":
        if _IIS_DEPLOY.match(event.text):
            return RENEWED
    elif event.kind == "terminating-error" and _NOT_DUE.search(event.text):
        return NOT_DUE
    return None


def _success_reason(session: Session, kind: str) -> str:
    orders = ", ".join(session.orders)
    if kind == RENEWED:
        thumb = f" ({session.imported_thumbprint})" if session.imported_thumbprint else ""
        return f"certificate renewed and installed in IIS{thumb}"
    if kind == SKIPPED:
        return f"renewal skipped (null/manual plugin): {orders}".rstrip(": ")
    if kind == REBOUND:
        thumb = f" ({session.imported_thumbprint})" if session.imported_thumbprint else ""
        return f"not due; Posh-ACME's certificate bound again in IIS{thumb}"
    return f"not due for renewal yet: {orders}".rstrip(": ")

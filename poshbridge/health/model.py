"""The one health model: per host OK / WARN / UNKNOWN / CRIT with a reason and a fix for each finding.
``status`` and ``audit`` both build their verdict here. Pure: ``now`` is a parameter.

Rules (README.md, "The health model", lists them for operators):

CRIT     no certificate served (the TLS probe found none / failed); the certificate expired or expires
         within ``crit_days`` (default 7); the served certificate or Posh-ACME's current one is revoked
         (a verified OCSP answer); Posh-ACME has no certificate and none is bound or served.
UNKNOWN  the host's state could not be read (connection failed): the verdict says so with the error;
         what can still be checked from here (the served certificate) is checked.
WARN     it expires within ``warn_days`` (default 21); the renewal window opened (Posh-ACME's
         RenewAfter) more than ``renewal_grace`` ago with no successful renewal since; the last run
         failed or was interrupted, or the task's last result is an error; the renewal task is missing
         or disabled; the site serves / IIS binds a certificate other than Posh-ACME's current one;
         Posh-ACME has no current certificate but ``*.bak`` files exist (a renewal failed mid-way);
         revocation could not be verified (OCSP unreachable, an answer that fails verification) or the
         responder does not know the certificate; a log file is empty, truncated or not a renewal
         transcript / result file; part of the host state could not be read.
OK       none of the above.

Severity: OK < WARN < UNKNOWN < CRIT (the worst finding is the verdict). Exit codes follow the
Nagios plugin convention: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from poshbridge.audit.task_results import describe_task_result
from poshbridge.audit.transcript import (
    FAILED,
    INTERRUPTED,
    RENEWED,
    RenewalRun,
)
from poshbridge.defaults import DEFAULT_CRIT_DAYS as DEFAULT_CRIT_DAYS  # the CLI's help shows them
from poshbridge.defaults import DEFAULT_WARN_DAYS as DEFAULT_WARN_DAYS
from poshbridge.hoststate.served import ServedCertificate as ServedCertificate  # the one model
from poshbridge.poshacme.model import get_field
from poshbridge.timefmt import format_minute, format_timestamp, format_wall_clock, parse_timestamp

OK = "OK"
WARN = "WARN"
UNKNOWN = "UNKNOWN"
CRIT = "CRIT"
LEVELS = (OK, WARN, UNKNOWN, CRIT)  # by severity
EXIT_CODES = {OK: 0, WARN: 1, CRIT: 2, UNKNOWN: 3}  # Nagios plugin convention

DEFAULT_RENEWAL_GRACE = timedelta(days=1)  # the task runs daily: allow one day inside the window
# A CA registers a new certificate with its OCSP responder a little after issuance (JPRS: up to ~10
# minutes): "unknown" for a certificate younger than this is not a finding yet.
OCSP_UNKNOWN_GRACE = timedelta(minutes=15)

# Task Scheduler result codes that are not a failure of the last run.
TASK_RESULT_OK = 0
SCHED_S_TASK_RUNNING = 0x41301
SCHED_S_TASK_HAS_NOT_RUN = 0x41303
SCHED_S_TASK_QUEUED = 0x41325
_BENIGN_TASK_RESULTS = {TASK_RESULT_OK, SCHED_S_TASK_RUNNING, SCHED_S_TASK_HAS_NOT_RUN, SCHED_S_TASK_QUEUED}
_TASK_STATES = {0: "Unknown", 1: "Disabled", 2: "Queued", 3: "Ready", 4: "Running"}


# ----- inputs --------------------------------------------------------------------------------------


@dataclass
class CertificateInfo:
    """Posh-ACME's view of the order and its current certificate (built from the typed Get-PAOrder /
    Get-PACertificate objects by :func:`poshbridge.hoststate.state.certificate_info`)."""

    order_name: str | None = None
    main_domain: str | None = None
    thumbprint: str | None = None  # None: Get-PACertificate returned nothing
    not_before: datetime | None = None
    not_after: datetime | None = None
    renew_after: datetime | None = None
    order_status: str | None = None
    bak_files: tuple[str, ...] = ()

    def window_opens_at(self) -> datetime | None:
        """Posh-ACME's RenewAfter, else its rule NotAfter − min(30 days, lifetime / 3)."""
        if self.renew_after is not None:
            return self.renew_after
        if self.not_after is None:
            return None
        before = timedelta(days=30)
        if self.not_before is not None:
            before = min(before, (self.not_after - self.not_before) / 3)
        return self.not_after - before


@dataclass
class TaskInfo:
    """Get-ScheduledTask + Get-ScheduledTaskInfo for the renewal task."""

    exists: bool
    name: str = ""
    state: str | None = None  # Ready | Disabled | Running | Queued | Unknown
    last_run_time: datetime | None = None  # None: never ran
    last_task_result: int | None = None
    next_run_time: datetime | None = None
    # True: the task says it never ran (LastTaskResult 0x41303 or LastRunTime 1999-11-30);
    # False: it ran; None: not known (Get-ScheduledTaskInfo gave nothing)
    never_ran: bool | None = None

    @classmethod
    def from_objects(
        cls, name: str, task: Mapping[str, Any] | None, info: Mapping[str, Any] | None
    ) -> TaskInfo:
        if not task:
            return cls(exists=False, name=name)
        info_ = info or {}
        state = get_field(task, "State")
        if isinstance(state, bool):
            state = None
        if isinstance(state, int):
            state = _TASK_STATES.get(state, str(state))
        result = get_field(info_, "LastTaskResult")
        raw_run = parse_timestamp(get_field(info_, "LastRunTime"))
        never_ran: bool | None = None
        if _int(result) == SCHED_S_TASK_HAS_NOT_RUN or (raw_run is not None and raw_run.year < 2000):
            never_ran = True
        elif raw_run is not None:
            never_ran = False
        return cls(
            exists=True,
            name=_text(get_field(task, "TaskName")) or name,
            state=_text(state),
            last_run_time=_never_is_none(parse_timestamp(get_field(info_, "LastRunTime"))),
            last_task_result=_int(result),
            next_run_time=_never_is_none(parse_timestamp(get_field(info_, "NextRunTime"))),
            never_ran=never_ran,
        )

    def to_json(self) -> dict[str, Any]:
        """``{"task_name", "exists", "state", "last_run_time", "last_task_result", "next_run_time",
        "never_ran"}`` (times RFC 3339 UTC with ``Z``)."""
        return {
            "task_name": self.name,
            "exists": self.exists,
            "state": self.state,
            "last_run_time": format_timestamp(self.last_run_time),
            "last_task_result": self.last_task_result,
            "next_run_time": format_timestamp(self.next_run_time),
            "never_ran": self.never_ran,
        }


@dataclass(frozen=True)
class Revocation:
    """What the OCSP check found for one certificate: ``good`` / ``revoked`` / ``unknown`` (the
    responder does not know it) / ``unverifiable`` (an answer that failed verification) / ``error``
    (no answer) / ``no-url`` (the certificate names no responder) / ``not-checked`` (with the why)."""

    state: str
    detail: str = ""
    thumbprint: str | None = None
    not_before: datetime | None = None  # of the certificate: a new one may not be known yet

    def to_json(self) -> dict[str, str | None]:
        return {"state": self.state, "detail": self.detail, "thumbprint": self.thumbprint}


@dataclass
class HostFacts:
    host: str
    order: str | None = None
    certificate: CertificateInfo | None = None  # None: Posh-ACME state not read
    task: TaskInfo | None = None  # None: not read; TaskInfo(exists=False): not registered
    binding_thumbprint: str | None = None
    binding_found: bool | None = None  # None: not read
    served: ServedCertificate | None = None  # None: not probed
    runs: list[RenewalRun] = field(default_factory=list)  # oldest first
    collection_errors: list[str] = field(default_factory=list)
    endpoint: str = ""  # address:port that was probed
    unreachable: str | None = None  # the connection to the host failed: its state was not read
    served_revocation: Revocation | None = None  # None: not checked
    current_revocation: Revocation | None = None  # Posh-ACME's current certificate; None: not checked
    log_problems: list[str] = field(default_factory=list)  # "<file>: <why it is no usable log>"


# ----- output --------------------------------------------------------------------------------------


@dataclass
class Reason:
    level: str
    code: str
    message: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"level": self.level, "code": self.code, "message": self.message, "fix": self.fix}


@dataclass
class HostVerdict:
    host: str
    order: str | None
    level: str
    reasons: list[Reason]
    now: datetime
    expires: datetime | None
    days_left: float | None
    renewal_window_opens: datetime | None
    posh_acme_thumbprint: str | None
    binding_thumbprint: str | None
    served_thumbprint: str | None
    ready: str  # cert-manager style condition: "True" | "False" | "Unknown"
    last_run: datetime | None
    last_outcome: str | None
    last_reason: str
    task_state: str | None
    last_task_result: int | None
    runs: list[RenewalRun] = field(default_factory=list)
    last_run_state: str = "unknown"  # "ran" | "never" (the task says so) | "unknown"
    served_revocation: Revocation | None = None
    current_revocation: Revocation | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.level]

    @property
    def summary(self) -> str:
        worst = [r for r in self.reasons if r.level == self.level]
        return "; ".join(r.message for r in worst) if worst else "certificate current, renewal healthy"

    def to_json(self, *, include_runs: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "host": self.host,
            "order": self.order,
            "verdict": self.level,
            "reasons": [r.to_json() for r in self.reasons],
            "expires": format_timestamp(self.expires),
            "days_left": self.days_left,
            "renewal_window_opens": format_timestamp(self.renewal_window_opens),
            "thumbprints": {
                "posh_acme": self.posh_acme_thumbprint,
                "iis_binding": self.binding_thumbprint,
                "served": self.served_thumbprint,
            },
            "ready": self.ready,
            "last_run": format_wall_clock(self.last_run),  # local only when no UTC is known
            "last_outcome": self.last_outcome,
            "last_reason": self.last_reason,
            "last_run_state": self.last_run_state,
            "task": {"state": self.task_state, "last_task_result": self.last_task_result},
            "revocation": {
                "served": self.served_revocation.to_json() if self.served_revocation else None,
                "posh_acme": self.current_revocation.to_json() if self.current_revocation else None,
            },
        }
        if include_runs:
            out["runs"] = [run.to_json() for run in self.runs]
        return out


# ----- the rules -----------------------------------------------------------------------------------


def evaluate(
    facts: HostFacts,
    *,
    now: datetime,
    warn_days: int = DEFAULT_WARN_DAYS,
    crit_days: int = DEFAULT_CRIT_DAYS,
    renewal_grace: timedelta = DEFAULT_RENEWAL_GRACE,
) -> HostVerdict:
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    reasons: list[Reason] = []

    def add(level: str, code: str, message: str, fix: str = "") -> None:
        reasons.append(Reason(level, code, message, fix))

    host = facts.host
    setup_fix = f"run `poshbridge setup {host}`"
    cert = facts.certificate
    served = facts.served
    pa_thumb = cert.thumbprint if cert is not None else None
    served_thumb = served.thumbprint.upper() if served is not None and served.thumbprint else None
    binding_thumb = facts.binding_thumbprint.upper() if facts.binding_thumbprint else None

    # What clients get is what counts for expiry; Posh-ACME's certificate when nothing was probed.
    expires: datetime | None = None
    if served is not None and served.error is None and served.not_after is not None:
        expires = served.not_after
    elif cert is not None and cert.not_after is not None:
        expires = cert.not_after
    days_left = round((expires - now).total_seconds() / 86400, 1) if expires is not None else None

    # --- UNKNOWN: the host's own state could not be read
    if facts.unreachable is not None:
        add(
            UNKNOWN,
            "not-verifiable",
            f"host state not verifiable: connection failed: {facts.unreachable}",
            "check that the host is up and WinRM answers (address, port, credentials), then run again",
        )

    # --- CRIT
    # a host poshbridge never set up: no Posh-ACME certificate, nothing bound, no renewal task (a
    # failed TLS handshake there is the consequence, not the news)
    not_set_up = (
        cert is not None
        and not pa_thumb
        and not binding_thumb
        and not served_thumb
        and not cert.bak_files
        and facts.task is not None
        and not facts.task.exists
        and not facts.runs
    )
    if not_set_up:
        add(CRIT, "not-set-up", "not set up: no certificate, binding or renewal task", setup_fix)
    elif served is not None and (served.error is not None or not served.thumbprint):
        where = f" on {facts.endpoint}" if facts.endpoint else ""
        add(
            CRIT,
            "not-served",
            f"no certificate served{where}: {served.error or 'no certificate'}",
            f"check that the IIS site runs and has an https binding on that port; {setup_fix}",
        )
    renew_fix = f"run `poshbridge renew {host}` (or check why the renewal task does not renew)"
    if expires is not None and expires <= now:
        add(CRIT, "expired", f"certificate expired {_day(expires)}", renew_fix)
    elif expires is not None and expires - now <= timedelta(days=crit_days):
        add(CRIT, "expires-soon", f"certificate expires in {days_left:.1f} days (≤ {crit_days})", renew_fix)
    elif expires is not None and expires - now <= timedelta(days=warn_days):
        add(WARN, "expires-warn", f"certificate expires in {days_left:.1f} days (≤ {warn_days})", renew_fix)
    if (
        not not_set_up
        and cert is not None
        and not pa_thumb
        and not binding_thumb
        and not cert.bak_files
        and not served_thumb
    ):
        add(CRIT, "no-certificate", "no Posh-ACME certificate and no certificate bound in IIS", setup_fix)

    # --- revocation (verified OCSP answers only)
    _revocation_reasons(facts, add, served_thumb, setup_fix, now)

    # --- WARN: Posh-ACME state
    if cert is not None and not pa_thumb:
        if cert.bak_files:
            add(
                WARN,
                "renewal-incomplete",
                "Posh-ACME has no current certificate but *.bak files exist: a renewal failed mid-way"
                f" ({', '.join(sorted(cert.bak_files)[:3])})",
                f"run `poshbridge renew {host} --force` (or {setup_fix}) to get a certificate again",
            )
        elif binding_thumb or served_thumb:
            add(WARN, "no-posh-acme-cert", "Posh-ACME has no certificate for this order", setup_fix)

    window_opens = cert.window_opens_at() if cert is not None else None
    if window_opens is not None and now >= window_opens + renewal_grace:
        renewed_since = any(
            run.outcome == RENEWED and (run.started_utc or run.finished_utc or now) >= window_opens
            for run in facts.runs
        )
        if not renewed_since:
            add(
                WARN,
                "window-not-renewed",
                f"renewal window opened {_day(window_opens)}"
                f" ({(now - window_opens).days} days ago) and no successful renewal since",
                f"look at the renewal runs (`poshbridge audit {host}`) and run `poshbridge renew {host}`",
            )

    # --- WARN: last run and the task
    last = facts.runs[-1] if facts.runs else None
    if last is not None and last.outcome == FAILED:
        problem = last.acme_problem
        kind = f" [{problem.type}]" if problem is not None and problem.type else ""
        hint = problem.hint if problem is not None and problem.hint else ""
        add(
            WARN,
            "last-run-failed",
            f"last renewal run failed{kind}: {last.reason}".rstrip(": "),
            hint or f"read the run's transcript ({last.source}); then `poshbridge renew {host}`",
        )
    elif last is not None and last.outcome == INTERRUPTED:
        add(
            WARN,
            "last-run-interrupted",
            "last renewal run was interrupted or its transcript is truncated (no transcript footer)",
            f"check the task's time limit and the host's restarts; `poshbridge renew {host}`",
        )
    task = facts.task
    if task is not None and not not_set_up:
        if not task.exists:
            add(WARN, "task-missing", f"renewal task '{task.name}' is not registered", setup_fix)
        else:
            if (task.state or "").lower() == "disabled":
                add(
                    WARN,
                    "task-disabled",
                    f"renewal task '{task.name}' is disabled",
                    f"Enable-ScheduledTask on the host, or {setup_fix}",
                )
            result = task.last_task_result
            if result is not None and result not in _BENIGN_TASK_RESULTS:
                add(
                    WARN,
                    "task-result",
                    f"renewal task's last result: {describe_task_result(result)}",
                    f"read the last run's transcript: `poshbridge audit {host}`",
                )

    # --- WARN: binding / served drift
    if pa_thumb and binding_thumb and binding_thumb != pa_thumb:
        add(
            WARN,
            "binding-drift",
            f"IIS binding uses {binding_thumb}, Posh-ACME's current certificate is {pa_thumb}",
            f"{setup_fix} (binds Posh-ACME's current certificate)",
        )
    if pa_thumb and served_thumb and served_thumb != pa_thumb:
        add(
            WARN,
            "served-drift",
            f"site serves {served_thumb}, Posh-ACME's current certificate is {pa_thumb}",
            f"{setup_fix} (binds Posh-ACME's current certificate)",
        )
    if facts.binding_found is False and not not_set_up:  # "not set up" says "no binding" already
        add(WARN, "binding-missing", "no https binding found for the site and port", setup_fix)
    for trouble in facts.log_problems:
        add(
            WARN,
            "log-unusable",
            trouble,
            "check the file was copied whole (a run may still have been writing it); only renewal"
            " transcripts (.txt) and result files (.json) of the renewal script can be audited",
        )
    for trouble in facts.collection_errors:
        add(WARN, "collection", trouble, "see the message; run the audit again once it is fixed")

    level = OK
    for reason in reasons:
        if LEVELS.index(reason.level) > LEVELS.index(level):
            level = reason.level
    reasons.sort(key=lambda r: -LEVELS.index(r.level))

    ready = _ready(expires, now, served, pa_thumb, served_thumb, binding_thumb, level)
    last_run = last.started_utc if last is not None else None
    task_run = task.last_run_time if task is not None else None
    if task_run is not None and (last_run is None or task_run > last_run):
        last_run = task_run
    if last_run is None and last is not None and last.started_local is not None:
        last_run = last.started_local
    if last_run is not None or last is not None:
        last_run_state = "ran"
    elif task is not None and task.exists and task.never_ran is True:
        last_run_state = "never"
    else:
        last_run_state = "unknown"
    return HostVerdict(
        host=facts.host,
        order=facts.order or (cert.order_name if cert is not None else None),
        level=level,
        reasons=reasons,
        now=now,
        expires=expires,
        days_left=days_left,
        renewal_window_opens=window_opens,
        posh_acme_thumbprint=pa_thumb,
        binding_thumbprint=binding_thumb,
        served_thumbprint=served_thumb,
        ready=ready,
        last_run=last_run,
        last_outcome=last.outcome if last is not None else None,
        last_reason=last.reason if last is not None else "",
        task_state=task.state if task is not None else None,
        last_task_result=task.last_task_result if task is not None else None,
        runs=list(facts.runs),
        last_run_state=last_run_state,
        served_revocation=facts.served_revocation,
        current_revocation=facts.current_revocation,
    )


_REVOCATION_TROUBLE = {"unverifiable", "error", "not-checked"}


def _revocation_reasons(
    facts: HostFacts,
    add: Callable[[str, str, str, str], None],
    served_thumb: str | None,
    setup_fix: str,
    now: datetime,
) -> None:
    """Findings from the OCSP checks of the served certificate and of Posh-ACME's current one (the
    same certificate is reported once)."""
    checks: list[tuple[str, Revocation]] = []
    if facts.served_revocation is not None:
        checks.append(("served", facts.served_revocation))
    current = facts.current_revocation
    if current is not None and not (
        facts.served_revocation is not None
        and current.thumbprint is not None
        and current.thumbprint == (facts.served_revocation.thumbprint or served_thumb)
    ):
        checks.append(("Posh-ACME's current", current))
    for which, check in checks:
        thumb = f" {check.thumbprint}" if check.thumbprint else ""
        detail = f": {check.detail}" if check.detail else ""
        code_prefix = "" if which == "served" else "current-"
        if check.state == "revoked":
            add(
                CRIT,
                f"{code_prefix}revoked",
                f"the {which} certificate{thumb} is revoked (OCSP){detail}",
                f"{setup_fix}: it replaces a revoked certificate and binds the new one",
            )
        elif check.state == "unknown":
            if check.not_before is not None and now - check.not_before < OCSP_UNKNOWN_GRACE:
                continue
            add(
                WARN,
                f"{code_prefix}ocsp-unknown",
                f"the OCSP responder does not know the {which} certificate{thumb}",
                "a new certificate reaches the CA's responder within minutes (JPRS: up to ~10);"
                " if it persists, ask the CA",
            )
        elif check.state in _REVOCATION_TROUBLE:
            add(
                WARN,
                f"{code_prefix}revocation-unverifiable",
                f"revocation of the {which} certificate{thumb} not verifiable{detail}",
                "check that this machine reaches the OCSP responder named in the certificate (AIA)"
                " and that its clock is right",
            )


def _ready(
    expires: datetime | None,
    now: datetime,
    served: ServedCertificate | None,
    pa_thumb: str | None,
    served_thumb: str | None,
    binding_thumb: str | None,
    level: str,
) -> str:
    """cert-manager's Ready condition: a valid certificate that is the one Posh-ACME holds is in use."""
    if expires is None and served is None:
        return "Unknown"
    if expires is None or expires <= now or level == CRIT:
        return "False"
    in_use = served_thumb or binding_thumb
    if pa_thumb is None or (in_use is not None and in_use != pa_thumb):
        return "False"
    return "True"


# ----- value helpers (objects come as plain dicts; dates as datetime or text) ----------------------


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, tuple)):
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value & 0xFFFFFFFF if value < 0 else value
    if isinstance(value, str):
        try:
            return int(value, 0) & 0xFFFFFFFF
        except ValueError:
            return None
    return None


def _never_is_none(value: datetime | None) -> datetime | None:
    """Task Scheduler reports 'never' as 1999-11-30 (or 0001-01-01)."""
    if value is None or value.year < 2000:
        return None
    return value


def _hex(value: int) -> str:
    return f"0x{value:X}" if value > 9 else str(value)


def _day(value: datetime) -> str:
    return f"{format_minute(value)} UTC"


def worst_level(levels: Sequence[str]) -> str:
    """The most severe of ``levels`` (OK when empty): OK < WARN < UNKNOWN < CRIT."""
    return max(levels, key=LEVELS.index, default=OK)

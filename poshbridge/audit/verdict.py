"""The audit's verdict: the one health model of :mod:`poshbridge.health.model`, under its old name.

``status`` and ``audit`` both evaluate hosts there; this module keeps the audit's imports working.
"""

from __future__ import annotations

from poshbridge.health.model import (
    CRIT,
    DEFAULT_CRIT_DAYS,
    DEFAULT_RENEWAL_GRACE,
    DEFAULT_WARN_DAYS,
    EXIT_CODES,
    LEVELS,
    OK,
    SCHED_S_TASK_HAS_NOT_RUN,
    SCHED_S_TASK_QUEUED,
    SCHED_S_TASK_RUNNING,
    TASK_RESULT_OK,
    UNKNOWN,
    WARN,
    CertificateInfo,
    HostFacts,
    HostVerdict,
    Reason,
    Revocation,
    ServedCertificate,
    TaskInfo,
    evaluate,
    worst_level,
)

__all__ = [
    "CRIT",
    "DEFAULT_CRIT_DAYS",
    "DEFAULT_RENEWAL_GRACE",
    "DEFAULT_WARN_DAYS",
    "EXIT_CODES",
    "LEVELS",
    "OK",
    "SCHED_S_TASK_HAS_NOT_RUN",
    "SCHED_S_TASK_QUEUED",
    "SCHED_S_TASK_RUNNING",
    "TASK_RESULT_OK",
    "UNKNOWN",
    "WARN",
    "CertificateInfo",
    "HostFacts",
    "HostVerdict",
    "Reason",
    "Revocation",
    "ServedCertificate",
    "TaskInfo",
    "evaluate",
    "worst_level",
]

"""Audit verdicts as a node_exporter textfile-collector file, with cert-manager-style metric names.

``render_textfile`` is pure (verdicts + ``now`` -> text); ``write_textfile`` writes it atomically
(temp file in the same directory, then rename) so the collector never reads half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from poshbridge.audit.transcript import OUTCOMES
from poshbridge.audit.verdict import EXIT_CODES, HostVerdict

PREFIX = "poshbridge_"

METRICS: tuple[tuple[str, str, str], ...] = (
    (
        "certificate_expiration_timestamp_seconds",
        "gauge",
        "The date after which the certificate expires (served certificate, else Posh-ACME's), Unix time.",
    ),
    (
        "certificate_renewal_timestamp_seconds",
        "gauge",
        "The time from which Posh-ACME renews the certificate (RenewAfter), Unix time.",
    ),
    (
        "certificate_ready_status",
        "gauge",
        "The ready status of the certificate: valid, not expired, and the one Posh-ACME holds is in use.",
    ),
    ("audit_verdict", "gauge", "Audit verdict per host and order: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN."),
    ("audit_reasons", "gauge", "Number of audit findings per level."),
    ("renewal_last_run_timestamp_seconds", "gauge", "Start of the last renewal run, Unix time."),
    (
        "renewal_last_run_outcome",
        "gauge",
        "Outcome of the last renewal run found in the logs (1 for the outcome that applies).",
    ),
    ("renewal_task_last_result", "gauge", "LastTaskResult of the renewal scheduled task."),
    ("audit_timestamp_seconds", "gauge", "When the audit ran, Unix time."),
)
READY_CONDITIONS = ("True", "False", "Unknown")


def escape_label_value(value: str) -> str:
    """Prometheus text format: backslash, double quote and line feed are escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Sequence[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in pairs) + "}"


def _number(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def render_textfile(verdicts: Iterable[HostVerdict], *, now: datetime) -> str:
    samples: dict[str, list[str]] = {name: [] for name, _, _ in METRICS}

    def sample(metric: str, labels: Sequence[tuple[str, str]], value: float) -> None:
        samples[metric].append(f"{PREFIX}{metric}{_labels(labels)} {_number(value)}")

    for verdict in verdicts:
        base = (("host", verdict.host), ("order", verdict.order or ""))
        if verdict.expires is not None:
            sample("certificate_expiration_timestamp_seconds", base, verdict.expires.timestamp())
        if verdict.renewal_window_opens is not None:
            sample("certificate_renewal_timestamp_seconds", base, verdict.renewal_window_opens.timestamp())
        for condition in READY_CONDITIONS:
            sample(
                "certificate_ready_status",
                (*base, ("condition", condition)),
                1 if verdict.ready == condition else 0,
            )
        sample("audit_verdict", base, EXIT_CODES[verdict.level])
        for level in EXIT_CODES:
            count = sum(1 for r in verdict.reasons if r.level == level)
            sample("audit_reasons", (*base, ("level", level)), count)
        if verdict.last_run is not None and verdict.last_run.tzinfo is not None:
            sample("renewal_last_run_timestamp_seconds", base, verdict.last_run.timestamp())
        if verdict.last_outcome is not None:
            for outcome in OUTCOMES:
                sample(
                    "renewal_last_run_outcome",
                    (*base, ("outcome", outcome)),
                    1 if verdict.last_outcome == outcome else 0,
                )
        if verdict.last_task_result is not None:
            sample("renewal_task_last_result", base, verdict.last_task_result)
    samples["audit_timestamp_seconds"].append(f"{PREFIX}audit_timestamp_seconds {_number(now.timestamp())}")

    out: list[str] = []
    for name, kind, help_text in METRICS:
        if not samples[name]:
            continue
        out.append(f"# HELP {PREFIX}{name} {help_text}")
        out.append(f"# TYPE {PREFIX}{name} {kind}")
        out.extend(samples[name])
    return "\n".join(out) + "\n"


def write_textfile(path: str | Path, text: str) -> None:
    """Write atomically: node_exporter reads ``*.prom`` files at any moment."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise

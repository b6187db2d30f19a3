"""Prometheus textfile output: parse it back with a strict reader of the exposition format."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from poshbridge.audit.prometheus import escape_label_value, render_textfile, write_textfile
from poshbridge.audit.transcript import NOT_DUE, RenewalResult, RenewalRun
from poshbridge.audit.verdict import CertificateInfo, HostFacts, ServedCertificate, TaskInfo, evaluate

NOW = datetime(2025, 1, 10, 12, 0, tzinfo=timezone.utc)
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(rf"^({NAME})(\{{.*\}})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def parse_exposition(text: str) -> tuple[dict[str, tuple[str, str]], list[tuple[str, dict[str, str], float]]]:
    """HELP/TYPE per metric family (each declared once, before its samples) and the samples."""
    assert text.endswith("\n")
    meta: dict[str, tuple[str, str]] = {}
    helps: dict[str, str] = {}
    samples: list[tuple[str, dict[str, str], float]] = []
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, help_text = line[7:].split(" ", 1)
            assert name not in helps
            helps[name] = help_text
        elif line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            assert name in helps and name not in meta and kind in ("gauge", "counter")
            meta[name] = (helps[name], kind)
        else:
            match = SAMPLE.match(line)
            assert match, line
            name, raw_labels, value = match.groups()
            assert name in meta, f"sample before TYPE: {line}"
            labels: dict[str, str] = {}
            if raw_labels:
                body = raw_labels[1:-1]
                position = 0
                while position < len(body):
                    label = LABEL.match(body, position)
                    assert label, body[position:]
                    labels[label.group(1)] = (
                        label.group(2).replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
                    )
                    position = label.end()
            samples.append((name, labels, float(value)))
    return meta, samples


def verdicts():  # type: ignore[no-untyped-def]
    run = RenewalRun(
        "renew-20250110-100000.json",
        None,
        RenewalResult(
            "renew-20250110-100000.json",
            "host01",
            "o",
            NOT_DUE,
            NOW - timedelta(hours=2),
            None,
            None,
            None,
            None,
            None,
            None,
        ),
    )
    good = HostFacts(
        host="host01",
        order="host01.example.jp",
        certificate=CertificateInfo(
            thumbprint="A" * 40, not_after=NOW + timedelta(days=60), renew_after=NOW + timedelta(days=30)
        ),
        task=TaskInfo(exists=True, name="t", state="Ready", last_task_result=0),
        binding_thumbprint="A" * 40,
        served=ServedCertificate(thumbprint="A" * 40, not_after=NOW + timedelta(days=60)),
        runs=[run],
    )
    nasty = HostFacts(host='we"ird\\host\nname', order=None, served=ServedCertificate(error="refused"))
    return [evaluate(good, now=NOW), evaluate(nasty, now=NOW)]


def test_metrics_parse_back_with_cert_manager_names() -> None:
    text = render_textfile(verdicts(), now=NOW)
    meta, samples = parse_exposition(text)
    for name in (
        "poshbridge_certificate_expiration_timestamp_seconds",
        "poshbridge_certificate_renewal_timestamp_seconds",
        "poshbridge_certificate_ready_status",
        "poshbridge_audit_verdict",
        "poshbridge_renewal_last_run_timestamp_seconds",
        "poshbridge_renewal_last_run_outcome",
        "poshbridge_renewal_task_last_result",
    ):
        assert meta[name][1] == "gauge", name

    def value(name: str, **labels: str) -> float:
        found = [v for n, ls, v in samples if n == name and all(ls.get(k) == x for k, x in labels.items())]
        assert len(found) == 1, (name, labels, found)
        return found[0]

    host = {"host": "host01", "order": "host01.example.jp"}
    assert (
        value("poshbridge_certificate_expiration_timestamp_seconds", **host)
        == (NOW + timedelta(days=60)).timestamp()
    )
    assert (
        value("poshbridge_certificate_renewal_timestamp_seconds", **host)
        == (NOW + timedelta(days=30)).timestamp()
    )
    assert value("poshbridge_certificate_ready_status", condition="True", **host) == 1
    assert value("poshbridge_certificate_ready_status", condition="False", **host) == 0
    assert value("poshbridge_certificate_ready_status", condition="Unknown", **host) == 0
    assert value("poshbridge_audit_verdict", **host) == 0
    assert value("poshbridge_renewal_last_run_outcome", outcome="not-due", **host) == 1
    assert value("poshbridge_renewal_last_run_outcome", outcome="failed", **host) == 0
    assert (
        value("poshbridge_renewal_last_run_timestamp_seconds", **host)
        == (NOW - timedelta(hours=2)).timestamp()
    )
    # label values with quotes, backslashes and newlines survive the round trip
    weird = {"host": 'we"ird\\host\nname', "order": ""}
    assert value("poshbridge_audit_verdict", **weird) == 2
    assert value("poshbridge_certificate_ready_status", condition="False", **weird) == 1
    assert value("poshbridge_audit_timestamp_seconds") == NOW.timestamp()


def test_escape_label_value() -> None:
    assert escape_label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "poshbridge.prom"
    target.write_text("old\n")
    write_textfile(target, "new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["poshbridge.prom"]

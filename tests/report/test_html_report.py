"""The fleet report renderer (pure): self-contained, escaped, one row per host, EN/JA, and the CLI."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import GROUPS, NOW, fleet

from poshbridge.audit.verdict import CertificateInfo, HostFacts, evaluate
from poshbridge.cli.main import main
from poshbridge.report.html import render_fleet_report

REPO = Path(__file__).resolve().parents[2]


def page(lang: str = "en") -> str:
    return render_fleet_report(
        fleet(),
        generated=NOW,
        inventory_name="fleet.yaml",
        groups=GROUPS,
        warn_days=21,
        crit_days=7,
        lang=lang,
    )


def test_the_page_loads_nothing_from_anywhere() -> None:
    html = page()
    assert not re.search(r"(?i)\b(src|href)\s*=", html)
    assert "url(" not in html and "@import" not in html
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", html)
    assert html.count("<style>") == 1 and html.count("<script>") == 1 and "<svg" in html


def test_one_row_per_host_with_verdict_groups_and_thumbprints() -> None:
    html = page()
    rows = re.findall(r'<tr data-index="\d+" data-verdict="(\w+)" data-groups="([^"]*)">', html)
    assert sorted(rows) == sorted(
        [("OK", "web tokyo"), ("WARN", "web osaka"), ("CRIT", "shop"), ("CRIT", "mail")]
    )
    assert 'class="diff"' in html  # shop01 serves another thumbprint than Posh-ACME's
    assert "fleet.yaml" in html and "2024-12-28 12:00 UTC" in html


def test_timeline_has_window_notafter_and_the_warn_crit_lines() -> None:
    html = page()
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count('class="notafter"') == 3  # mail01 has no certificate
    assert 'class="window"' in svg and 'class="warnline"' in svg and 'class="critline"' in svg


def test_failed_runs_are_explained_in_the_chosen_language() -> None:
    english, japanese = page("en"), page("ja")
    assert "condition: " in english and "fix: " in english
    assert "発生条件: " in japanese and '<html lang="ja">' in japanese


def test_untrusted_text_is_escaped() -> None:
    facts = HostFacts(host="<script>alert(1)</script>", certificate=CertificateInfo())
    html = render_fleet_report(
        [evaluate(facts, now=NOW)],
        generated=NOW,
        inventory_name='"><img onerror=x>',
        groups={"<script>alert(1)</script>": ['x" onmouseover="y']},
        warn_days=21,
        crit_days=7,
    )
    assert "<script>alert" not in html and "<img" not in html and 'x" onmouseover' not in html
    assert html.count("<script>") == 1


def test_audit_html_writes_the_file_and_one_wrote_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "renew-20241126-031702.txt"
    log.write_bytes((REPO / "tests" / "audit" / "fixtures" / "ps51_failed_acme.txt").read_bytes())
    target = tmp_path / "report.html"
    main(["audit", "--log", str(log), "--html", str(target), "--lang", "ja"])
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("wrote ")] == [
        f"wrote {target} (HTML fleet report, 1 host(s))"
    ]
    html = target.read_text("utf-8")
    assert "発生条件" in html and "rejectedIdentifier" in html


def test_html_dash_writes_the_page_to_stdout_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "renew-20241126-031702.txt"
    log.write_bytes((REPO / "tests" / "audit" / "fixtures" / "ps51_not_due_47.txt").read_bytes())
    monkeypatch.chdir(tmp_path)
    main(["audit", "--log", str(log), "--html", "-"])
    captured = capsys.readouterr()
    assert captured.out.startswith("<!DOCTYPE html>") and captured.out.rstrip().endswith("</html>")
    assert not (tmp_path / "-").exists() and "wrote" not in captured.err
    assert main(["audit", "--log", str(log), "--html", "-", "--prometheus", "-"]) == 2
    assert "choose one" in capsys.readouterr().err

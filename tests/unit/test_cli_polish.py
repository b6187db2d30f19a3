"""CLI polish seen in a trial (issue 12): each rough edge has a test here (fast, no lab) or in
tests/remote/test_polish_lab.py (against the lab)."""

from __future__ import annotations

import io
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from rich.console import Console

from poshbridge.audit.task_results import describe_task_result, is_problem, never_is_none
from poshbridge.audit.verdict import CRIT, CertificateInfo, HostFacts, ServedCertificate, TaskInfo, evaluate
from poshbridge.cli import ops_render as ops
from poshbridge.cli.audit import render_verdicts
from poshbridge.cli.main import build_parser, lab_arguments, main
from poshbridge.cli.next_steps import setup_next_line
from poshbridge.cli.progress import RichView
from poshbridge.cli.tables import render_records
from poshbridge.inventory.model import AcmeConfig, HostConfig, IISConfig
from poshbridge.plan.setup import SetupFacts, plan_binding
from poshbridge.poshacme.model import IISBinding, PACertificate, ScheduledTaskInfo

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "inventory.yaml"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
THUMB = "91FBC1790641966BC468347AC949D4C1B6AB2F4B"
LONG_HOST = "web-frontend-host01.tokyo.example.jp"


# ----- `-i FILE lab ...` ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["-i", "fleet.yaml", "lab", "status"],
        ["--inventory", "fleet.yaml", "lab", "status"],
        ["--inventory=fleet.yaml", "lab", "status"],
        ["-ifleet.yaml", "lab", "status"],
    ],
)
def test_global_inventory_option_before_lab_hands_over_to_the_lab(argv: list[str]) -> None:
    assert lab_arguments(argv) == ["status"]


def test_lab_status_after_inventory_option_does_not_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["-i", "fleet.yaml", "lab", "status", "--dir", str(tmp_path / "nolab")])
    captured = capsys.readouterr()
    assert code == 1
    assert "no lab in" in captured.err and "Traceback" not in captured.err


def test_lab_help_after_inventory_option_prints_the_lab_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["-i", "fleet.yaml", "lab", "--help"])
    assert exc.value.code == 0
    assert "usage: poshbridge lab" in capsys.readouterr().out


def test_the_lab_subparser_itself_hands_over_when_reached() -> None:
    args = build_parser().parse_args(["lab", "status"])
    assert callable(args.func)


# ----- help texts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["setup", "renew", "status", "revoke"])
def test_operation_commands_have_a_description(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    description = out.split("positional arguments:")[0].split("\n\n", 1)[1].strip()
    assert len(description) > 60, out


def test_top_level_help_lists_every_lab_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for action in ("up", "down", "status", "fault", "reset"):
        assert re.search(rf"\b{action}\b", out.split("run the loopback", 1)[1]), action


def test_status_lang_is_documented(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["status", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--lang {en,ja}" in out and "explanation of an ACME error" in out


# ----- --prometheus - and "wrote FILE" -------------------------------------------------------------


@pytest.fixture
def one_log(tmp_path: Path) -> Path:
    path = tmp_path / "run.txt"
    path.write_bytes((REPO / "tests" / "audit" / "fixtures" / "ps51_not_due_47.txt").read_bytes())
    return path


def test_prometheus_dash_writes_stdout_not_a_file(
    one_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["audit", "--log", str(one_log), "--prometheus", "-"])
    captured = capsys.readouterr()
    assert code == 0
    assert not (tmp_path / "-").exists()
    assert "# TYPE poshbridge_" in captured.out
    assert "Renewal transcripts" not in captured.out  # the metrics alone, parseable
    assert "wrote" not in captured.err


def test_prometheus_and_json_both_on_stdout_is_refused(
    one_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--log", str(one_log), "--prometheus", "-", "--json"]) == 2
    assert "choose one" in capsys.readouterr().err


def test_prometheus_file_prints_one_wrote_line(
    one_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "audit.prom"
    main(["audit", "--log", str(one_log), "--prometheus", str(target)])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("wrote ")]
    assert lines == [lines[0]] and lines[0].startswith(f"wrote {target} (")
    assert target.read_text("utf-8").startswith("# HELP")


@pytest.mark.parametrize("command", ["renew-script", "task-xml"])
def test_generate_output_file_prints_one_wrote_line(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSHBRIDGE_WINRM_PASSWORD", "x")
    target = tmp_path / "out.file"
    assert main(["-i", str(EXAMPLE), command, "host01", "-o", str(target)]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("wrote ")]
    assert len(lines) == 1 and lines[0].startswith(f"wrote {target} ("), err


# ----- after setup: one "next" line ----------------------------------------------------------------


def _host(name: str = "host01", log_dir: str = r"C:\poshbridge\logs") -> HostConfig:
    from poshbridge.inventory.model import RenewalConfig

    return HostConfig(
        name=name,
        address="web01.example.jp",
        domains=("example.jp",),
        webroot="C:\\inetpub\\wwwroot",
        iis=IISConfig(site="example.jp", port=443),
        acme=AcmeConfig(),
        renewal=RenewalConfig(log_dir=log_dir),
    )


def test_setup_next_line_names_store_checks_and_logs() -> None:
    line = setup_next_line([_host()], ["host01"])
    assert "\n" not in line and line.startswith("next: ")
    assert "Cert:\\LocalMachine\\My" in line
    assert "`poshbridge status host01`" in line and "`poshbridge audit host01`" in line
    assert "C:\\poshbridge\\logs" in line
    mixed = setup_next_line([_host(), _host("host02", r"D:\logs")], ["web"])
    assert "each host's renewal.log_dir" in mixed


# ----- task results --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (0x41303, "has not yet run (0x41303)"),
        (267011, "has not yet run (0x41303)"),
        (0x41301, "running (0x41301)"),
        (0x800710E0, "refused"),
        (-2147020576, "refused"),  # the same HRESULT as a signed Int32, as PowerShell shows it
        (0, "completed successfully (0)"),
        (0x1234ABCD, "0x1234ABCD"),
    ],
)
def test_task_results_are_decoded(code: int, text: str) -> None:
    assert text in describe_task_result(code)


def test_task_result_problem_classes() -> None:
    assert is_problem(0x41303) is False and is_problem(0x800710E0) is True and is_problem(0x1234) is None


def test_never_run_date_is_none() -> None:
    assert never_is_none(datetime(1999, 11, 30, tzinfo=timezone.utc)) is None
    info = ScheduledTaskInfo.from_objs(
        {"TaskName": "poshbridge renew", "State": 3},
        {"LastRunTime": "1999-11-30T00:00:00", "LastTaskResult": 267011},
    )
    assert info.last_run_time is None and info.to_json()["last_run_time"] is None


def test_audit_reason_decodes_a_refused_task() -> None:
    facts = HostFacts(
        host="host01",
        certificate=CertificateInfo(thumbprint=THUMB, not_after=datetime(2027, 2, 1, tzinfo=timezone.utc)),
        task=TaskInfo(exists=True, name="poshbridge renew", state="Ready", last_task_result=0x800710E0),
    )
    verdict = evaluate(facts, now=NOW)
    assert any("refused" in r.message and "0x800710E0" in r.message for r in verdict.reasons)


def test_status_table_shows_decoded_task_result() -> None:
    run = ops.HostRun("host01", "status")
    run.objects["status"] = {"task_state": "Ready", "task_last_result": 267011, "thumbprint": THUMB}
    out = _render(lambda c: ops.render_status(c, [run]), width=200)
    assert "has not yet run (0x41303)" in out and "267011" not in out


# ----- a host never set up -------------------------------------------------------------------------


def test_audit_of_a_host_never_set_up_says_not_set_up() -> None:
    facts = HostFacts(
        host="host02",
        certificate=CertificateInfo(),
        task=TaskInfo(exists=False, name="poshbridge renew"),
        binding_found=True,
        served=ServedCertificate(error="SSLError: [SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert"),
    )
    verdict = evaluate(facts, now=NOW)
    assert verdict.level == CRIT
    assert [r.code for r in verdict.reasons if r.level == CRIT] == ["not-set-up"]
    assert "not set up" in verdict.summary and "poshbridge setup host02" in verdict.reasons[0].fix
    assert "SSL" not in verdict.summary


def test_a_set_up_host_whose_site_fails_still_reports_the_tls_error() -> None:
    facts = HostFacts(
        host="host01",
        certificate=CertificateInfo(thumbprint=THUMB, not_after=datetime(2027, 2, 1, tzinfo=timezone.utc)),
        task=TaskInfo(exists=True, name="poshbridge renew"),
        served=ServedCertificate(error="ConnectionRefusedError"),
    )
    assert "ConnectionRefusedError" in evaluate(facts, now=NOW).summary


# ----- tables and the progress line ----------------------------------------------------------------


def _render(draw: object, width: int, terminal: bool = False) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=terminal, color_system=None)
    draw(console)  # type: ignore[operator]
    return buffer.getvalue()


def _status_run(host: str) -> ops.HostRun:
    run = ops.HostRun(host, "status")
    run.objects["status"] = {
        "order": f"{host}",
        "sans": [host, f"www.{host}"],
        "not_after": "2027-02-27T22:55:04Z",
        "days_left": 90.0,
        "renew_after": "2027-01-28T22:55:04Z",
        "thumbprint": THUMB,
        "served_thumbprint": THUMB,
        "served_matches": True,
        "task_state": "Ready",
        "task_last_result": 0x41303,
    }
    return run


@pytest.mark.parametrize("width", [80, 100, 160, 240])
def test_status_table_never_breaks_host_names_or_thumbprints(width: int) -> None:
    out = _render(lambda c: ops.render_status(c, [_status_run(LONG_HOST), _status_run("h2")]), width)
    lines = out.splitlines()
    for whole in (LONG_HOST, f"www.{LONG_HOST}", THUMB):
        assert any(whole in line for line in lines), (whole, out)
    assert "…" not in out
    assert max(len(line) for line in lines) <= width


@pytest.mark.parametrize("width", [60, 100, 200])
def test_audit_table_never_breaks_host_names(width: int) -> None:
    facts = HostFacts(
        host=LONG_HOST,
        certificate=CertificateInfo(thumbprint=THUMB, not_after=datetime(2027, 2, 1, tzinfo=timezone.utc)),
    )
    out = _render(lambda c: render_verdicts(c, [evaluate(facts, now=NOW)]), width)
    assert any(LONG_HOST in line for line in out.splitlines()), out


def test_records_fold_into_blocks_when_too_wide() -> None:
    rows = [[LONG_HOST, THUMB, "some reason text"]]
    folded = render_records(Console(file=io.StringIO(), width=50), "t", ("host", "thumbprint", "r"), rows)
    unfolded = render_records(Console(file=io.StringIO(), width=200), "t", ("host", "thumbprint", "r"), rows)
    assert folded and not unfolded


def test_final_progress_line_keeps_host_names_at_100_columns() -> None:
    def draw(console: Console) -> None:
        view = RichView(console)
        view.start(LONG_HOST)
        view.start("host02")
        view.finish(LONG_HOST, True, "changed: " + ", ".join(["poshacme-home", "challenge-web.config"] * 6))
        view.finish("host02", False, "connect: auth: authentication refused (check winrm.username)")
        view.close()

    out = _render(draw, 100, terminal=True)
    final = out.rsplit("\x1b[?25h", 1)[0].rsplit("\x1b[2K", 1)[-1]
    assert LONG_HOST in final and "host02" in final, final


# ----- small texts ---------------------------------------------------------------------------------


def test_auth_hint_is_printed_once() -> None:
    error = ops.ErrorInfo(
        "connect", "auth", "authentication refused (check winrm.username/password and winrm.auth)"
    )
    text = ops.error_text("host01", error)
    assert text.count("winrm.auth") == 1, text


def test_a_hint_the_message_lacks_is_still_printed() -> None:
    text = ops.error_text("host01", ops.ErrorInfo("connect", "unreachable", "connection refused"))
    assert "fix: check winrm.transport" in text


def test_binding_text_has_no_double_colon_or_none() -> None:
    host = HostConfig(
        name="host01",
        address="a",
        domains=("example.jp",),
        webroot="C:\\w",
        iis=IISConfig(site="s", port=38319),
    )
    cert = PACertificate(thumbprint=THUMB)
    for bindings in (
        (),
        (IISBinding("https", "*:38319:", None),),
        (IISBinding("https", "*:38319:", "CD" * 20),),
    ):
        step = plan_binding(host, SetupFacts(certificate=cert, bindings=bindings))
        assert "::" not in step.reason and "None" not in step.reason, step.reason
        assert "*:38319" in step.reason


def test_declining_the_revoke_prompt_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("POSHBRIDGE_WINRM_PASSWORD", "x")
    monkeypatch.setattr(sys, "stdin", Tty("no\n"))
    assert main(["-i", str(EXAMPLE), "revoke", "host01"]) == 1
    assert "not revoked" in capsys.readouterr().err


def test_revoke_without_a_terminal_and_without_yes_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSHBRIDGE_WINRM_PASSWORD", "x")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["-i", str(EXAMPLE), "revoke", "host01"]) == 2
    assert "--yes" in capsys.readouterr().err


def test_json_still_has_the_full_values() -> None:
    doc = _status_run(LONG_HOST).to_json()
    assert json.dumps(doc).count(THUMB) >= 1


# ----- check --secrets -----------------------------------------------------------------------------


def test_check_secrets_reports_missing_references_and_never_a_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = tmp_path / "fleet.yaml"
    (tmp_path / "hmac.txt").write_text("Sentinel-HMAC-value-4711\n", "utf-8")
    inventory.write_text(
        "defaults:\n"
        "  winrm: {transport: https, username: admin, password: {env: PB_TEST_WINRM}}\n"
        "  acme: {eab_kid: {env: PB_TEST_KID}, eab_hmac: {file: hmac.txt}, contacts: [a@example.jp]}\n"
        "hosts:\n"
        "  host01: {address: web01.example.jp, domains: [example.jp], webroot: 'C:\\inetpub\\wwwroot'}\n"
        "  host02: {address: web02.example.jp, domains: [example.com], webroot: 'C:\\inetpub\\wwwroot'}\n",
        "utf-8",
    )
    monkeypatch.setenv("PB_TEST_WINRM", "Sentinel-password-0815")
    monkeypatch.delenv("PB_TEST_KID", raising=False)
    assert main(["-i", str(inventory), "check", "--secrets"]) == 1
    out = capsys.readouterr().out
    assert "Sentinel" not in out
    assert re.search(
        r"secret env:PB_TEST_WINRM \(hosts.host01.winrm.password, hosts.host02.winrm.password\): ok", out
    )
    assert re.search(r"secret file:hmac.txt \(.*\): ok", out)
    assert re.search(
        r"secret env:PB_TEST_KID \(.*\): missing: environment variable PB_TEST_KID is not set", out
    )
    assert "3 secret reference(s), 1 missing" in out
    monkeypatch.setenv("PB_TEST_KID", "Sentinel-kid-1234")
    assert main(["-i", str(inventory), "check", "--secrets"]) == 0
    assert "Sentinel" not in capsys.readouterr().out
    assert main(["-i", str(inventory), "check"]) == 0  # without --secrets nothing is resolved

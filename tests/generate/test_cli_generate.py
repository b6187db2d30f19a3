"""CLI: `check`, `renew-script`, `task-xml` through poshbridge.cli.main.main (exit codes, files, help)."""

from __future__ import annotations

from pathlib import Path

import pytest

from poshbridge.cli.main import main
from poshbridge.generate.renew_script import render_renew_script
from poshbridge.generate.task_xml import task_xml_text
from poshbridge.inventory.load import load_inventory

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = str(REPO / "examples" / "inventory.yaml")


def run(*argv: str) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.fixture
def broken(tmp_path: Path) -> str:
    text = (
        Path(EXAMPLE).read_text(encoding="utf-8").replace("[example.jp, www.example.jp]", "['*.example.jp']")
    )
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("style", ["hardened", "manual"])
def test_renew_script_to_stdout(capsys: pytest.CaptureFixture[str], style: str) -> None:
    assert run("-i", EXAMPLE, "renew-script", "host01", "--style", style) == 0
    out = capsys.readouterr().out
    assert out == render_renew_script(load_inventory(EXAMPLE).hosts["host01"], style)


def test_renew_script_default_style_and_inventory_option_after_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("renew-script", "host01", "-i", EXAMPLE) == 0
    assert capsys.readouterr().out.startswith("# poshbridge-renewal-script style=hardened version=1\n")


def test_renew_script_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "renew.ps1"
    assert run("-i", EXAMPLE, "renew-script", "host01", "-o", str(target)) == 0
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf# poshbridge-renewal-script style=hardened")
    assert b"\r\n" in data
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "wrote" in captured.err


@pytest.mark.parametrize("style", ["hardened", "manual"])
def test_task_xml_stdout_and_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], style: str) -> None:
    assert run("-i", EXAMPLE, "task-xml", "host01", "--style", style) == 0
    text = capsys.readouterr().out
    assert text == task_xml_text(load_inventory(EXAMPLE).hosts["host01"], style)
    target = tmp_path / "task.xml"
    assert run("-i", EXAMPLE, "task-xml", "host01", "--style", style, "-o", str(target)) == 0
    data = target.read_bytes()
    assert data[:2] == b"\xff\xfe"
    assert data[2:].decode("utf-16-le") == text.replace("\n", "\r\n")


def test_unknown_host_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("-i", EXAMPLE, "task-xml", "host9") == 2
    err = capsys.readouterr().err
    assert "unknown target 'host9'" in err
    assert "host01" in err


def test_generators_need_exactly_one_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("-i", EXAMPLE, "renew-script", "web") == 2
    assert "matches 2 hosts" in capsys.readouterr().err
    assert run("-i", EXAMPLE, "renew-script", "shop") == 0  # a group with one host is fine


def test_generators_refuse_an_inventory_with_errors(broken: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("-i", broken, "renew-script", "host02") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "hosts.host01.domains[0]" in captured.err
    assert "nothing was done" in captured.err


def test_bad_style_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("-i", EXAMPLE, "renew-script", "host01", "--style", "fancy") == 2
    assert "invalid choice" in capsys.readouterr().err


def test_check_ok_with_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("-i", EXAMPLE, "check") == 0
    out = capsys.readouterr().out
    assert "warning: hosts.host01.domains: one certificate for 2 FQDNs" in out
    assert "OK: 2 host(s), 2 warning(s)" in out


def test_check_errors_exit_2(broken: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("-i", broken, "check") == 2
    out = capsys.readouterr().out
    assert "error: hosts.host01.domains[0]: a wildcard cannot be validated with http-01" in out
    assert "1 error(s)" in out


def test_check_targets_filter_host_problems(broken: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("-i", broken, "check", "host02") == 0  # host01's error is not about host02
    assert "host01" not in capsys.readouterr().out
    assert run("-i", broken, "check", "host0*") == 2  # the pattern also selects host01 (which has errors)
    assert run("-i", broken, "check", "nope") == 2
    assert "unknown target 'nope'" in capsys.readouterr().err


def test_check_missing_inventory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("-i", str(tmp_path / "missing.yaml"), "check") == 2
    assert "cannot read inventory file" in capsys.readouterr().out


def test_inventory_from_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSHBRIDGE_INVENTORY", EXAMPLE)
    assert run("check") == 0


@pytest.mark.parametrize("command", ["check", "renew-script", "task-xml"])
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(command, "--help") == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: poshbridge " + command)
    assert "--inventory" in out

"""``poshbridge lab`` as an operator uses it: up, status, fault, reset, down; and the management API.

Given a lab directory, when the operator runs ``lab up`` and later ``lab down``, then every process the
lab started is gone and every port it listened on is closed; ``lab status --json`` lists each twin's
WinRM URLs and site endpoints, Pebble's directory and the CA file; without pebble, ``lab up`` says how
to install it.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import pytest
import yaml
from labkit import (
    CHALLENGE_WEB_CONFIG,
    LabAPIError,
    LabHandle,
    bind_certificate,
    pfx_bytes,
    require_pebble,
    run_lab_cli,
    self_signed,
)

from poshbridge.lab.cli import pid_alive


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _all_ports(data: dict) -> list[int]:
    ports = [
        int(data["management_url"].rsplit(":", 1)[1]),
        int(data["pebble_directory"].split(":")[2].split("/")[0]),
        int(data["pebble"]["management_url"].rsplit(":", 1)[1]),
        data["pebble"]["http_port"],
        data["ocsp"]["port"],
        data["dns"]["management_port"],
    ]
    for host in data["hosts"].values():
        ports += [
            host[k] for k in ("winrm_http_port", "winrm_https_port", "site_http_port", "site_https_port")
        ]
    return ports


@pytest.fixture
def require_lab_programs() -> None:
    require_pebble()


# ----- a lab of its own: up / down ------------------------------------------------------------------------
def test_up_then_down_leaves_no_process_and_no_open_port(tmp_path: Path, require_lab_programs: None) -> None:
    lab_dir = tmp_path / "lab"
    started = run_lab_cli("up", "--dir", str(lab_dir), "--hosts", "1", "--ocsp-lag", "1")
    try:
        assert started.returncode == 0, started.stderr
        data = json.loads((lab_dir / "lab.json").read_text())
        pids = dict(data["pids"])
        assert set(pids) == {"daemon", "pebble", "dns"}
        assert all(pid_alive(pid) for pid in pids.values())
        assert {p.stem for p in (lab_dir / "run").glob("*.pid")} == set(pids)
        ports = _all_ports(data)
        assert all(_port_open(port) for port in ports)
        again = run_lab_cli("up", "--dir", str(lab_dir), "--hosts", "1")
        assert again.returncode == 1 and "already running" in again.stderr
    finally:
        stopped = run_lab_cli("down", "--dir", str(lab_dir))
    assert stopped.returncode == 0, stopped.stderr
    assert not any(pid_alive(pid) for pid in pids.values())
    assert not any(_port_open(port) for port in ports)
    assert list((lab_dir / "run").glob("*.pid")) == []
    assert not (lab_dir / "ready").exists()
    # a second down is harmless
    assert run_lab_cli("down", "--dir", str(lab_dir)).returncode == 0
    status = run_lab_cli("status", "--dir", str(lab_dir), "--json")
    assert status.returncode == 1 and json.loads(status.stdout)["running"] is False


def test_missing_pebble_names_the_package(tmp_path: Path) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {**os.environ, "PATH": str(empty_bin)}
    result = run_lab_cli("up", "--dir", str(tmp_path / "lab"), env=env)
    assert result.returncode == 1
    assert "apt-get install pebble" in result.stderr
    assert not (tmp_path / "lab" / "run").exists()  # nothing was started

    env = {**os.environ, "POSHBRIDGE_LAB_PEBBLE": str(tmp_path / "no-such-pebble")}
    result = run_lab_cli("up", "--dir", str(tmp_path / "lab"), env=env)
    assert result.returncode == 1
    assert "apt-get install pebble" in result.stderr and "no-such-pebble" in result.stderr


def test_daemon_itself_reports_missing_pebble(tmp_path: Path) -> None:
    import subprocess

    from labkit import REPO_ROOT

    env = {**os.environ, "POSHBRIDGE_LAB_PEBBLE": str(tmp_path / "no-such-pebble")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "poshbridge.lab.services.daemon",
            "--dir",
            str(tmp_path / "lab"),
            "--hosts",
            "1",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "apt-get install pebble" in (tmp_path / "lab" / "failed").read_text()
    assert list((tmp_path / "lab" / "run").glob("*.pid")) == []


@pytest.mark.parametrize("args", [[], ["up"], ["status"], ["down"], ["fault"], ["reset"]])
def test_help_everywhere(args: list[str]) -> None:
    result = run_lab_cli(*args, "--help")
    assert result.returncode == 0
    assert "usage: poshbridge lab" in result.stdout


# ----- the session lab ------------------------------------------------------------------------------------
def test_status_json_shape(lab: LabHandle) -> None:
    result = run_lab_cli("status", "--dir", str(lab.dir), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["running"] is True
    assert doc["pebble_directory"].startswith("https://127.0.0.1:")
    assert doc["pebble_directory"].endswith("/dir")
    assert Path(doc["ca_file"]).is_file()
    assert [h["name"] for h in doc["hosts"]] == lab.host_names
    first = doc["hosts"][0]
    assert set(first) >= {"name", "domains", "winrm_http_url", "winrm_https_url", "site_http", "site_https"}
    assert first["winrm_http_url"].startswith("http://127.0.0.1:")
    assert first["winrm_http_url"].endswith("/wsman")
    assert first["winrm_https_url"].startswith("https://127.0.0.1:")
    assert first["site_https"] == f"127.0.0.1:{lab.host(first['name'])['site_https_port']}"
    assert first["domains"] == [f"{first['name']}.poshbridge.test", f"www.{first['name']}.poshbridge.test"]

    human = run_lab_cli("status", "--dir", str(lab.dir))
    assert human.returncode == 0 and first["winrm_https_url"] in human.stdout


def test_inventory_is_the_brief_format(lab: LabHandle) -> None:
    inventory = yaml.safe_load(lab.inventory.read_text())
    winrm = inventory["defaults"]["winrm"]
    assert winrm == {
        "transport": "https",
        "auth": "negotiate",
        "username": "certadmin",
        "password": {"file": "secrets/winrm-password"},
        "verify": str(lab.ca_file),
    }
    acme = inventory["defaults"]["acme"]
    assert acme["directory"] == lab.pebble_directory
    assert acme["eab_kid"] == {"file": "secrets/eab-kid"} and acme["eab_hmac"] == {"file": "secrets/eab-hmac"}
    assert inventory["defaults"]["renewal"]["wait_after_renewal"] == 30  # max(30, 3 * lag 3)
    assert inventory["groups"]["lab"]["hosts"] == lab.host_names
    host = inventory["hosts"]["host01"]
    assert host == {
        "address": "127.0.0.1",
        "winrm": {"port": lab.host("host01")["winrm_https_port"]},
        "domains": ["host01.poshbridge.test", "www.host01.poshbridge.test"],
        "webroot": "C:\\inetpub\\wwwroot",
        "iis": {"site": "host01.poshbridge.test", "port": lab.host("host01")["site_https_port"]},
    }
    for name in ("winrm-password", "eab-kid", "eab-hmac"):
        secret = lab.dir / "secrets" / name
        assert secret.stat().st_mode & 0o777 == 0o600
        assert lab.secret(name) not in (lab.dir / "lab.json").read_text()
    assert "=" not in lab.secret("eab-hmac")  # unpadded base64url, as Pebble requires


def test_fault_cli_and_management_api(lab: LabHandle, lab_host: str) -> None:
    result = run_lab_cli(
        "fault",
        lab_host,
        "--dir",
        str(lab.dir),
        "--latency-ms",
        "25",
        "--fault-500",
        "2",
        "--auth-fail",
        "--acme-error",
        "rejectedIdentifier:no such name",
    )
    assert result.returncode == 0, result.stderr
    faults = lab.faults(lab_host)
    assert faults["latency_ms"] == 25 and faults["fault_500_next"] == 2 and faults["auth_fail"] is True
    assert faults["acme_error_next_order"] == {
        "type": "urn:ietf:params:acme:error:rejectedIdentifier",
        "detail": "no such name",
        "status": 400,
    }
    assert run_lab_cli("fault", lab_host, "--dir", str(lab.dir), "--no-auth-fail").returncode == 0
    assert lab.faults(lab_host)["auth_fail"] is False and lab.faults(lab_host)["latency_ms"] == 25
    assert run_lab_cli("fault", lab_host, "--dir", str(lab.dir), "--clear").returncode == 0
    assert lab.faults(lab_host) == {
        "latency_ms": 0,
        "drop_next_receive": False,
        "fault_500_next": 0,
        "auth_fail": False,
        "hang_next": False,
        "statement_delay_ms": 0,
        "fault_500_action": "",
        "fault_500_skip": 0,
        "acme_error_next_order": None,
        "iis_administration_inbox": False,
    }
    assert run_lab_cli("fault", lab_host, "--dir", str(lab.dir), "--iis-administration-inbox").returncode == 0
    assert lab.faults(lab_host)["iis_administration_inbox"] is True
    with pytest.raises(LabAPIError) as not_a_bool:
        lab.faults(lab_host, iis_administration_inbox="yes")
    assert not_a_bool.value.status == 400
    assert run_lab_cli("fault", lab_host, "--dir", str(lab.dir), "--clear").returncode == 0
    assert lab.faults(lab_host)["iis_administration_inbox"] is False
    with pytest.raises(LabAPIError) as unknown_field:
        lab.faults(lab_host, latency=5)
    assert unknown_field.value.status == 400
    with pytest.raises(LabAPIError) as wrong_type:
        lab.faults(lab_host, auth_fail="yes")
    assert wrong_type.value.status == 400
    with pytest.raises(LabAPIError) as no_host:
        lab.counters("host99")
    assert no_host.value.status == 404
    bad = run_lab_cli("fault", "host99", "--dir", str(lab.dir), "--hang-next")
    assert bad.returncode == 1 and "no such lab host" in bad.stderr
    counters = lab.reset_counters(lab_host)
    assert counters["wsman_requests"] == 0 and counters["by_action"] == {}


def test_reset_wipes_the_twin_back_to_fresh(lab: LabHandle, lab_host: str) -> None:
    twin = lab.twin(lab_host)
    webroot = twin.real_path("C:\\inetpub\\wwwroot")
    challenge = webroot / ".well-known" / "acme-challenge"
    challenge.mkdir(parents=True)
    (challenge / "web.config").write_text(CHALLENGE_WEB_CONFIG)
    twin.real_path("C:\\ProgramData\\poshbridge\\Posh-ACME").mkdir(parents=True)
    cert, key = self_signed(twin.domains[0], twin.domains)
    thumb = bind_certificate(twin, pfx_bytes(cert, key))
    lab.faults(lab_host, latency_ms=10)

    result = run_lab_cli("reset", lab_host, "--dir", str(lab.dir))
    assert result.returncode == 0, result.stderr
    assert not (webroot / ".well-known").exists()
    assert (webroot / "iisstart.htm").is_file()
    assert not twin.real_path("C:\\ProgramData\\poshbridge").exists()
    assert twin.cert_store().path(thumb) is None
    binding = twin.iis().https_binding_for_port(twin.site_https_port, twin.domains[0])
    assert binding is not None and binding["certificate_hash"] is None
    assert lab.faults(lab_host)["latency_ms"] == 0
    modules = twin.real_path("C:\\Program Files\\WindowsPowerShell\\Modules")
    assert (modules / "Posh-ACME").is_dir() and (modules / "Posh-ACME.Deploy").is_dir()


def test_management_status(lab: LabHandle) -> None:
    status = lab.management("GET", "/status")
    assert status["ready"] is True
    assert status["children"] == {"pebble": True, "dns": True}
    assert sorted(status["hosts"]) == lab.host_names
    with pytest.raises(LabAPIError) as missing:
        lab.management("GET", "/nothing")
    assert missing.value.status == 404

"""The lab's HTTP front and WinRM listeners queue a fleet's worth of connections.

Given the shared HTTP front (Pebble's http-01 port) and a twin's WinRM listener, bound but not yet
accepting, when 100 clients connect at once (50 twins set up in parallel: Pebble validates about two
names each), then every connection is established at once; with socketserver's default backlog of 5
the kernel dropped the rest and Pebble's validations timed out ("awaiting headers").
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from poshbridge.lab.host import TwinHost
from poshbridge.lab.server import WinRMListener, _HTTPServer
from poshbridge.lab.services.web import FrontServer

CLIENTS = 100


def _connects(port: int) -> int:
    """How many of CLIENTS connections complete within 0.5 s while nobody accepts them."""
    opened: list[socket.socket] = []
    done = 0
    try:
        for _ in range(CLIENTS):
            sock = socket.socket()
            sock.settimeout(0.5)
            opened.append(sock)
            try:
                sock.connect(("127.0.0.1", port))
                done += 1
            except OSError:
                pass
    finally:
        for sock in opened:
            sock.close()
    return done


def test_the_http_front_queues_a_fleet_of_validations() -> None:
    front = FrontServer(0, lambda: [])  # bound and listening, not accepting yet
    try:
        assert _connects(front.port) == CLIENTS
    finally:
        front.stop()


def test_a_winrm_listener_queues_parallel_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NTLM_USER_FILE", str(tmp_path / "ntlm-users.txt"))
    host = TwinHost(
        name="host01", root=tmp_path / "host01", domains=["host01.poshbridge.test"],
        site_name="host01.poshbridge.test", winrm_http_port=0, winrm_https_port=0,
        site_http_port=0, site_https_port=0, services=None,  # type: ignore[arg-type]
    )  # fmt: skip
    listener = WinRMListener(host, 0, tls=None, username="u", password="p")
    server = _HTTPServer(listener, 0)  # bound and listening, not accepting yet
    try:
        assert _connects(int(server.server_address[1])) >= 100
    finally:
        server.server_close()

"""Many twins' listeners cost no thread and no wake-up each while idle.

Given 40 WinRM listeners and 40 IIS site servers started in one process, then the process has at most
one more thread than before (the shared acceptor: socketserver's serve_forever gave each its own thread,
polling 20 times a second: 200 twins were 800 threads and ~10,000 idle wake-ups a second), every
listener answers a request (WinRM's 401 challenge, the site's page), and a stopped listener accepts
nothing more while the others go on.
"""

from __future__ import annotations

import http.client
import socket
import threading
from pathlib import Path

import pytest

from poshbridge.lab.acceptor import ACCEPTOR
from poshbridge.lab.host import TwinHost
from poshbridge.lab.server import WinRMListener
from poshbridge.lab.services.web import TwinSiteServers

COUNT = 40


def _twin(root: Path, name: str) -> TwinHost:
    return TwinHost(
        name=name, root=root / name, domains=[f"{name}.poshbridge.test"],
        site_name=f"{name}.poshbridge.test", winrm_http_port=0, winrm_https_port=0,
        site_http_port=0, site_https_port=0, services=None,  # type: ignore[arg-type]
    )  # fmt: skip


def _status(port: int, method: str, path: str, host: str = "x") -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path, body=b"" if method == "POST" else None, headers={"Host": host})
        return connection.getresponse().status
    finally:
        connection.close()


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def test_listeners_share_one_accepting_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NTLM_USER_FILE", str(tmp_path / "ntlm-users.txt"))
    before = threading.active_count()
    listeners: list[WinRMListener] = []
    sites: list[TwinSiteServers] = []
    try:
        for index in range(COUNT):
            twin = _twin(tmp_path, f"host{index:02d}")
            listener = WinRMListener(twin, 0, tls=None, username="u", password="p")
            listener.start()
            listeners.append(listener)
            site = TwinSiteServers(twin)
            site.start()
            sites.append(site)
        assert threading.active_count() <= before + 1  # the acceptor, once per process
        for listener in listeners:
            assert _status(listener.port, "POST", "/wsman") == 401
        for site in sites:
            # no IIS site configured on this bare twin: http.sys's "Bad Request - Invalid Hostname"
            assert _status(site.host.site_http_port, "GET", "/") == 400
        stopped = listeners.pop(0)
        stopped.stop()
        assert stopped._server is None
        assert _refused(stopped.port)
        assert _status(listeners[0].port, "POST", "/wsman") == 401
    finally:
        for listener in listeners:
            listener.stop()
        for site in sites:
            site.stop()
    for site in sites:
        assert site.http._server not in ACCEPTOR
        assert _refused(site.host.site_http_port)

"""The lab's WinRM listener protects itself as http.sys does: slow or silent peers and oversized bodies.

Given an in-process WinRMListener (plain HTTP and HTTPS), when a peer sends its request headers too
slowly, never sends the body it announced, or announces a body above the cap, then the listener closes
the connection after its read timeout, or answers 413/400/411 from the headers alone, without reading
(or waiting for) the body.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from poshbridge.lab.host import TwinHost
from poshbridge.lab.server import MAX_BODY, WinRMListener
from poshbridge.lab.wsman import MAX_ENVELOPE_SIZE_KB

USER = "certadmin"
PASSWORD = "Lab-Passw0rd!"


class _NoServices:
    def sleep(self, seconds: float) -> None:
        raise AssertionError("not used")


def _never_invoked(*args: Any) -> None:
    raise AssertionError("no pipeline runs in these tests")


@pytest.fixture
def listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WinRMListener]:
    monkeypatch.setenv("NTLM_USER_FILE", str(tmp_path / "ntlm-users.txt"))
    host = TwinHost(
        name="host01",
        root=tmp_path / "hosts" / "host01",
        domains=["host01.poshbridge.test"],
        site_name="host01.poshbridge.test",
        winrm_http_port=0,
        winrm_https_port=0,
        site_http_port=0,
        site_https_port=0,
        services=_NoServices(),  # type: ignore[arg-type]
    )
    (host.root / "C").mkdir(parents=True)
    server = WinRMListener(host, 0, tls=None, username=USER, password=PASSWORD, invoke=_never_invoked)
    server.read_timeout = 0.5
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """(closed by the peer within ``seconds``, what it sent before closing)."""
    sock.settimeout(seconds)
    received = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True, received
            received += chunk
    except (TimeoutError, ConnectionResetError):
        return False, received


def test_a_peer_that_stops_in_its_headers_is_disconnected_after_the_read_timeout(
    listener: WinRMListener,
) -> None:
    with socket.create_connection(("127.0.0.1", listener.port)) as sock:
        sock.sendall(b"POST /wsman HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and then nothing
        started = time.monotonic()
        closed, _ = _closed_within(sock, 5)
    assert closed
    assert time.monotonic() - started < 3


def test_a_silent_connection_is_disconnected_after_the_read_timeout(listener: WinRMListener) -> None:
    with socket.create_connection(("127.0.0.1", listener.port)) as sock:
        closed, sent = _closed_within(sock, 5)
    assert closed and sent == b""


def test_a_body_that_never_arrives_ends_the_connection(listener: WinRMListener) -> None:
    with socket.create_connection(("127.0.0.1", listener.port)) as sock:
        sock.sendall(b"POST /wsman HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nabc")
        closed, _ = _closed_within(sock, 5)
    assert closed


def test_an_oversized_body_is_refused_from_its_content_length_without_reading_it(
    listener: WinRMListener,
) -> None:
    assert MAX_BODY < 2 * MAX_ENVELOPE_SIZE_KB * 1024
    with socket.create_connection(("127.0.0.1", listener.port)) as sock:
        # 5 GB announced, nothing sent: the answer comes from the headers alone
        sock.sendall(b"POST /wsman HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000000000\r\n\r\n")
        closed, answer = _closed_within(sock, 0.4)  # less than the read timeout
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert closed


@pytest.mark.parametrize(
    "header,status",
    [
        (b"Content-Length: -5\r\n", b"400"),
        (b"Content-Length: 12abc\r\n", b"400"),
        (b"Content-Length: 99999999999999999999\r\n", b"400"),
        (b"Transfer-Encoding: chunked\r\n", b"411"),
    ],
)
def test_a_malformed_or_missing_length_is_refused(
    listener: WinRMListener, header: bytes, status: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", listener.port)) as sock:
        sock.sendall(b"POST /wsman HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + b"\r\n")
        closed, answer = _closed_within(sock, 0.4)
    assert answer.startswith(b"HTTP/1.1 " + status + b" "), answer
    assert closed


def test_a_body_at_the_cap_is_read(listener: WinRMListener) -> None:
    listener.max_body = 1000
    with socket.create_connection(("127.0.0.1", listener.port)) as sock:
        sock.sendall(b"POST /wsman HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000)
        sock.settimeout(5)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 401 "), answer  # read, then refused for lack of authentication

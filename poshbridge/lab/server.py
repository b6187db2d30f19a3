"""The lab's WinRM listener: HTTP/1.1 (keep-alive) on 127.0.0.1, optional TLS, auth, fault injection.

``WinRMListener(host, port, tls=..., username=..., password=..., invoke=...)`` serves ``POST /wsman``
for one twin host. Per request it applies the host's :class:`~poshbridge.lab.host.FaultConfig`
(latency, a 500 fault, a hang, a dropped Receive, refused authentication) and counts requests in
``host.counters``. Every internal error becomes a SOAP fault; the socket is only closed on purpose
(``drop_next_receive``) or when the client goes away.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from poshbridge.lab.acceptor import ACCEPTOR
from poshbridge.lab.auth import (
    ENCRYPTED_CONTENT_TYPE,
    SOAP_CONTENT_TYPE,
    AuthError,
    ConnectionAuth,
    ensure_ntlm_user,
)
from poshbridge.lab.host import TwinHost
from poshbridge.lab.psrp import InvokeFn, ShellRegistry
from poshbridge.lab.wsman import (
    MAX_ENVELOPE_SIZE_KB,
    RequestContext,
    WSManFault,
    WSManRequest,
    WSManService,
    bad_request_fault,
    build_fault,
    internal_error_fault,
    parse_request,
)

log = logging.getLogger(__name__)

# A request body larger than the service's MaxEnvelopeSizekb (plus the encryption framing around a
# sealed envelope) is refused from its Content-Length, before any of it is read.
MAX_BODY = MAX_ENVELOPE_SIZE_KB * 1024 + 64 * 1024
# http.sys (which serves WinRM on Windows) closes a connection that sends no request, or sends its
# headers too slowly, after 120 s (its IdleConnectionTimeout / HeaderWaitTimeout defaults, shown by
# `netsh http show timeout`). The lab does the same for every socket read, on HTTP and HTTPS alike.
READ_TIMEOUT = 120.0


def default_invoke(*args: Any) -> None:
    """``poshbridge.lab.engine.invoke``, imported at first use (the engine is a separate part)."""
    from poshbridge.lab.engine import invoke  # type: ignore[attr-defined,unused-ignore]

    invoke(*args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 128  # socketserver's default of 5 drops connections under a parallel fleet

    def __init__(self, listener: WinRMListener, port: int) -> None:
        self.listener = listener
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    server: _HTTPServer

    # ----- connection life cycle ----------------------------------------------------------------
    def setup(self) -> None:
        listener = self.server.listener
        self.listener = listener
        if listener.tls is not None:
            self.request.settimeout(min(10.0, listener.read_timeout))
            self.request = listener.tls.wrap_socket(self.request, server_side=True)
        super().setup()
        # every socket read (request line, headers, body), on HTTP as on HTTPS: a read that waits
        # longer ends the connection (handle_one_request treats the timeout as "close")
        self.connection.settimeout(listener.read_timeout)
        self.auth = ConnectionAuth(listener.username, listener.password, tls=listener.tls is not None)
        listener._register(self)
        with listener.host.lock:
            listener.host.counters.connections += 1

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.listener._unregister(self)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def client_gone(self) -> bool:
        """True when the peer closed (or reset) the connection while we hold its request."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
        except (OSError, ValueError):
            return True
        if not readable:
            return False
        if isinstance(self.connection, ssl.SSLSocket):
            return True  # no pipelining from WinRM clients: readable means close_notify or FIN
        try:
            return bool(self.connection.recv(1, socket.MSG_PEEK) == b"")
        except OSError:
            return True

    def drop_connection(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # ----- HTTP ---------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._plain(405, b"")

    def do_POST(self) -> None:
        listener = self.listener
        host = listener.host
        with host.lock:
            host.counters.http_requests += 1
        length = self._content_length()
        if length is None:
            return
        try:
            body = self.rfile.read(length) if length else b""
        except TimeoutError:
            self.close_connection = True  # the body did not arrive in time: drop the connection
            return
        if self.path.split("?", 1)[0].rstrip("/").lower() != "/wsman":
            self._plain(404, b"")
            return
        if host.faults.auth_fail:
            self.auth.reset()
            self._plain(401, b"", self.auth.challenge_headers())
            return
        decision = self.auth.authenticate(self.headers.get("Authorization"))
        if not decision.ok:
            self._plain(401, b"", decision.headers)
            return
        if not body:
            # An authentication leg (pypsrp sends an empty POST before sealing messages).
            self._plain(200, b"", decision.headers)
            return
        content_type = self.headers.get("Content-Type", "")
        sealed = content_type.lower().startswith(("multipart/encrypted", "multipart/x-multi-encrypted"))
        if sealed:
            try:
                soap = self.auth.unwrap(content_type, body)
            except AuthError as exc:
                log.info("%s: %s", host.name, exc)
                self._fault(bad_request_fault(f"The encrypted message could not be read: {exc}"), "", False)
                return
        elif listener.tls is None:
            # AllowUnencrypted=false: over HTTP only sealed messages are accepted.
            self.auth.reset()
            self._plain(401, b"", self.auth.challenge_headers())
            return
        else:
            soap = body
        self._soap(soap, sealed, decision.headers)

    def _content_length(self) -> int | None:
        """The request's Content-Length, checked before the body is read: a missing length with a
        chunked body is 411, a malformed one 400, one above :data:`MAX_BODY` 413 (the connection is
        closed then, the body never read). None when the request was answered here."""
        if self.headers.get("Transfer-Encoding"):
            status = 411
        else:
            raw = (self.headers.get("Content-Length") or "0").strip()
            if not raw.isdigit() or len(raw) > 12:
                status = 400
            elif int(raw) > self.listener.max_body:
                status = 413
            else:
                return int(raw)
        self._plain(status, b"", [("Connection", "close")])
        self.close_connection = True
        return None

    def _soap(self, soap: bytes, sealed: bool, extra_headers: list[tuple[str, str]]) -> None:
        listener = self.listener
        host = listener.host
        relates_to = ""
        try:
            request = parse_request(soap)
            relates_to = request.message_id
            with host.lock:
                host.counters.count(request.short_action)
                faults = host.faults
                latency = faults.latency_ms
                hang = faults.hang_next
                faults.hang_next = False
                fail = faults.fault_500_next > 0
                if fail:
                    faults.fault_500_next -= 1
                if faults.fault_500_action and faults.fault_500_action == request.short_action:
                    if faults.fault_500_skip > 0:
                        faults.fault_500_skip -= 1
                    else:
                        faults.fault_500_action = ""
                        fail = True
                drop = faults.drop_next_receive and request.short_action == "Receive"
                if drop:
                    faults.drop_next_receive = False
            if latency > 0 and listener._stopping.wait(latency / 1000.0):
                self.drop_connection()
                return
            if hang:
                log.info("%s: fault hang_next: holding %s unanswered", host.name, request.short_action)
                while not listener._stopping.wait(0.1):
                    if self.client_gone():
                        break
                self.drop_connection()
                return
            if fail:
                raise internal_error_fault("Injected fault (fault_500_next): the lab answered with a 500.")
            if drop:
                log.info("%s: fault drop_next_receive: closing the connection", host.name)
                self.drop_connection()
                return
            response = listener.service.handle(request, self._context(request))
            self._send_soap(200, response, sealed, extra_headers)
        except WSManFault as fault:
            self._fault(fault, relates_to, sealed, extra_headers)
        except Exception as exc:
            log.exception("%s: internal error handling a WSMan request", host.name)
            internal = internal_error_fault(f"Internal error in the poshbridge lab: {exc}")
            self._fault(internal, relates_to, sealed)

    def _context(self, request: WSManRequest) -> RequestContext:
        return RequestContext(
            user=self.auth.principal or self.listener.username,
            client_ip=self.client_address[0],
            endpoint=self.listener.endpoint,
            should_abort=lambda: self.listener._stopping.is_set() or self.client_gone(),
        )

    def _fault(
        self,
        fault: WSManFault,
        relates_to: str,
        sealed: bool,
        extra_headers: list[tuple[str, str]] | None = None,
    ) -> None:
        body = build_fault(fault, relates_to, machine=self.listener.host.name)
        self._send_soap(fault.http_status, body, sealed, extra_headers or [])

    def _send_soap(
        self, status: int, body: bytes, sealed: bool, extra_headers: list[tuple[str, str]]
    ) -> None:
        if sealed and self.auth.can_seal:
            payload = self.auth.wrap(body)
            content_type = ENCRYPTED_CONTENT_TYPE
        else:
            payload = body
            content_type = SOAP_CONTENT_TYPE
        self._plain(status, payload, [("Content-Type", content_type), *extra_headers])

    def _plain(self, status: int, payload: bytes, headers: list[tuple[str, str]] | None = None) -> None:
        try:
            self.send_response(status)
            for name, value in headers or []:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True


class WinRMListener:
    """One WinRM endpoint (HTTP or HTTPS) of a twin host, served from background threads."""

    def __init__(
        self,
        host: TwinHost,
        port: int,
        *,
        tls: ssl.SSLContext | None,
        username: str,
        password: str,
        invoke: InvokeFn = default_invoke,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.tls = tls
        self.username = username
        self.password = password
        self.invoke = invoke
        self.read_timeout = READ_TIMEOUT  # seconds a socket read may wait (tests lower it)
        self.max_body = MAX_BODY  # bytes of request body accepted (from Content-Length)
        self.shells = ShellRegistry(host, invoke)
        self.service = WSManService(self.shells, machine=host.name)
        self._stopping = threading.Event()
        self._server: _HTTPServer | None = None
        self._handlers: set[_Handler] = set()
        self._handlers_lock = threading.Lock()

    @property
    def receive_wait_cap(self) -> float:
        """Longest a Receive waits before the OperationTimeout fault (seconds; default 1)."""
        return self.service.receive_wait_cap

    @receive_wait_cap.setter
    def receive_wait_cap(self, value: float) -> None:
        self.service.receive_wait_cap = value

    @property
    def port(self) -> int:
        if self._server is None:
            return self.requested_port
        return int(self._server.server_address[1])

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/wsman"

    def start(self) -> None:
        if self._server is not None:
            return
        ensure_ntlm_user(self.username, self.password, Path(self.host.root).parent / "ntlm-users.txt")
        self._stopping.clear()
        self._server = _HTTPServer(self, self.requested_port)
        ACCEPTOR.add(self._server)  # one accepting thread for all listeners (see acceptor.py)
        log.info("%s: WinRM listening on %s", self.host.name, self.endpoint)

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        self._stopping.set()
        ACCEPTOR.remove(server)
        server.server_close()
        with self._handlers_lock:
            handlers = list(self._handlers)
        for handler in handlers:
            handler.drop_connection()
        self.shells.close_all()
        for handler in handlers:
            thread = getattr(handler, "_thread", None)
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> WinRMListener:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _register(self, handler: _Handler) -> None:
        handler._thread = threading.current_thread()  # type: ignore[attr-defined]
        with self._handlers_lock:
            self._handlers.add(handler)

    def _unregister(self, handler: _Handler) -> None:
        with self._handlers_lock:
            self._handlers.discard(handler)

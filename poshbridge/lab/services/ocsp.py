"""The lab's OCSP responder for the ACME CA (Pebble's intermediate), with a configurable lag.

``openssl ocsp -port`` (OpenSSL 3.0) binds the wildcard address and cannot be limited to 127.0.0.1, so
the lab runs its own HTTP server on 127.0.0.1 and answers each request with ``openssl ocsp`` in
one-shot responder mode::

    openssl ocsp -index index.txt -CA issuer.pem -rsigner issuer.pem -rkey issuer.key
                 -reqin req.der -respout resp.der -nmin 5

Every request reads ``index.txt`` afresh (no stale-index quirk of the long-running responder).

Status model (the JPRS OCSP lag): a certificate registered with :meth:`OCSPResponder.register_issued`
is ``unknown`` until ``lag`` seconds have passed, then its ``V`` line is written to ``index.txt`` and
it is ``good``; :meth:`register_revoked` writes an ``R`` line at once (``revoked``). Serials never
registered stay ``unknown``. Requests: POST ``application/ocsp-request`` to any path, or GET
``/<base64 of the DER request>`` (RFC 6960 appendix A).
"""

from __future__ import annotations

import base64
import datetime
import logging
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from poshbridge.lab.services.ca import write_private
from poshbridge.lab.services.pebble import find_binary

log = logging.getLogger(__name__)

# RFC 5280 CRLReason -> the names openssl writes in index.txt
REASONS = {
    0: "unspecified",
    1: "keyCompromise",
    2: "CACompromise",
    3: "affiliationChanged",
    4: "superseded",
    5: "cessationOfOperation",
    6: "certificateHold",
    8: "removeFromCRL",
}


def _index_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%y%m%d%H%M%SZ")


def _serial_hex(serial: int) -> str:
    text = format(serial, "X")
    return ("0" + text) if len(text) % 2 else text


def _oneline(name: x509.Name) -> str:
    return "".join(f"/{attr.rfc4514_attribute_name}={attr.value!s}" for attr in name)


@dataclass
class _Entry:
    serial: int
    not_after: datetime.datetime
    subject: str
    due: float  # clock time from which the responder says good
    revoked_at: datetime.datetime | None = None
    reason: int = 0

    def index_line(self, now: float) -> str | None:
        serial = _serial_hex(self.serial)
        expiry = _index_time(self.not_after)
        if self.revoked_at is not None:
            reason = REASONS.get(self.reason, "unspecified")
            return f"R\t{expiry}\t{_index_time(self.revoked_at)},{reason}\t{serial}\tunknown\t{self.subject}"
        if now >= self.due:
            return f"V\t{expiry}\t\t{serial}\tunknown\t{self.subject}"
        return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("ocsp %s", format % args)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if 0 < length <= 65536 else b""
        self._answer(body)

    def do_GET(self) -> None:
        encoded = urllib.parse.unquote(self.path.lstrip("/"))
        try:
            body = base64.b64decode(encoded, validate=False) if encoded else b""
        except ValueError:
            body = b""
        self._answer(body)

    def _answer(self, request_der: bytes) -> None:
        response = self.server.responder.respond(request_der)
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(response)))
        self.end_headers()
        self.wfile.write(response)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, responder: OCSPResponder, port: int) -> None:
        self.responder = responder
        super().__init__(("127.0.0.1", port), _Handler)


class OCSPResponder:
    """Bind at construction (so the URL is known before Pebble starts); :meth:`configure` with the
    issuer once Pebble is up; :meth:`start` serves from a background thread."""

    def __init__(
        self, workdir: Path, *, lag: float, port: int = 0, clock: Callable[[], float] = time.time
    ) -> None:
        self.workdir = workdir
        self.lag = lag
        self.clock = clock
        self.openssl = find_binary("openssl")
        self.index_file = workdir / "index.txt"
        self.issuer_file = workdir / "issuer.pem"
        self.issuer_key_file = workdir / "issuer.key"
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()
        self._configured = False
        self._counter = 0
        self.requests = 0
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "tmp").mkdir(exist_ok=True)
        self._server = _Server(self, port)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def configure(self, issuer_pem: bytes, issuer_key_pem: bytes) -> None:
        """Use a (new) issuing CA; earlier registrations belong to the old one and are dropped."""
        with self._lock:
            self.issuer_file.write_bytes(issuer_pem)
            write_private(self.issuer_key_file, issuer_key_pem)
            self._entries.clear()
            self._write_index()
            self._configured = True

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="ocsp", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for serve_forever: only when it runs
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    # ----- registry ------------------------------------------------------------------------------
    def register_issued(self, cert_pem: bytes, lag: float | None = None) -> int:
        """The certificate exists; ``good`` after ``lag`` seconds (default: the lab's lag). Its serial."""
        cert = x509.load_pem_x509_certificate(cert_pem)
        wait = self.lag if lag is None else lag
        with self._lock:
            entry = self._entries.get(cert.serial_number)
            if entry is None:
                self._entries[cert.serial_number] = _Entry(
                    serial=cert.serial_number,
                    not_after=cert.not_valid_after_utc,
                    subject=_oneline(cert.subject),
                    due=self.clock() + wait,
                )
            self._write_index()
        if wait > 0:
            timer = threading.Timer(wait + 0.05, self._refresh)
            timer.daemon = True
            timer.start()
        log.info("ocsp: registered serial %s (good in %.1f s)", _serial_hex(cert.serial_number), wait)
        return cert.serial_number

    def register_revoked(self, cert_pem: bytes, reason: int = 0) -> int:
        cert = x509.load_pem_x509_certificate(cert_pem)
        with self._lock:
            entry = self._entries.get(cert.serial_number)
            if entry is None:
                entry = _Entry(
                    serial=cert.serial_number,
                    not_after=cert.not_valid_after_utc,
                    subject=_oneline(cert.subject),
                    due=self.clock(),
                )
                self._entries[cert.serial_number] = entry
            entry.revoked_at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
            entry.reason = reason
            self._write_index()
        log.info("ocsp: revoked serial %s (reason %d)", _serial_hex(cert.serial_number), reason)
        return cert.serial_number

    def status_of(self, serial: int) -> str:
        """``good`` / ``revoked`` / ``unknown`` as the responder would answer now."""
        with self._lock:
            entry = self._entries.get(serial)
            if entry is None:
                return "unknown"
            if entry.revoked_at is not None:
                return "revoked"
            return "good" if self.clock() >= entry.due else "unknown"

    def _refresh(self) -> None:
        with self._lock:
            self._write_index()

    def _write_index(self) -> None:
        now = self.clock()
        lines = [line for entry in self._entries.values() if (line := entry.index_line(now)) is not None]
        tmp = self.index_file.with_name("index.txt.tmp")
        tmp.write_text("".join(line + "\n" for line in lines), "ascii")
        tmp.replace(self.index_file)
        # A renewal gives a second valid certificate with the same subject; openssl's default
        # unique_subject=yes would then refuse to load the index (every answer INTERNAL_ERROR).
        attr = self.index_file.with_name("index.txt.attr")
        if not attr.exists():
            attr.write_text("unique_subject = no\n", "ascii")

    # ----- answering ----------------------------------------------------------------------------
    def respond(self, request_der: bytes) -> bytes:
        with self._lock:
            self.requests += 1
            if not self._configured:
                return _unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
            try:
                ocsp.load_der_ocsp_request(request_der)
            except ValueError:
                return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
            self._write_index()  # entries whose lag has passed become V lines now
            self._counter += 1
            req_file = self.workdir / "tmp" / f"req-{self._counter}.der"
            resp_file = self.workdir / "tmp" / f"resp-{self._counter}.der"
            req_file.write_bytes(request_der)
            try:
                done = subprocess.run(
                    [
                        self.openssl,
                        "ocsp",
                        "-index",
                        str(self.index_file),
                        "-CA",
                        str(self.issuer_file),
                        "-rsigner",
                        str(self.issuer_file),
                        "-rkey",
                        str(self.issuer_key_file),
                        "-reqin",
                        str(req_file),
                        "-respout",
                        str(resp_file),
                        "-nmin",
                        "5",
                    ],
                    capture_output=True,
                    timeout=10,
                    check=False,
                )
                if done.returncode != 0 or not resp_file.exists():
                    log.warning("openssl ocsp failed (%d): %s", done.returncode, done.stderr.decode()[-500:])
                    return _unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR)
                return resp_file.read_bytes()
            finally:
                req_file.unlink(missing_ok=True)
                resp_file.unlink(missing_ok=True)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)

"""The IIS stand-in: static file servers for the twins' sites, HTTP and HTTPS, on 127.0.0.1.

Per twin:

- **HTTP** on ``site_http_port``: the site whose http binding has that port (host header match, else the
  catch-all binding) serves its physical path from ``iis.json`` (``C:\\inetpub\\wwwroot`` mapped into
  the twin's sandbox) with IIS's static-file rules:

  * the effective ``<staticContent>`` MIME map starts from IIS's server-level defaults and applies
    every ``web.config`` from the site root down to the file's folder, in order: ``<clear/>``,
    ``<remove fileExtension="."/>``, ``<mimeMap fileExtension="." mimeType="..."/>``. Adding an
    extension that is already mapped is IIS's HTTP 500.19 ``Cannot add duplicate collection entry of
    type 'mimeMap' with unique key attribute 'fileExtension' set to '.'``; a web.config that is not
    well-formed XML is a 500.19 too.
  * a file without an extension uses the ``"."`` entry (absent by default → 404.3, which is why
    http-01 fails on a stock IIS until the manual's web.config is in place); an unmapped extension
    uses ``".*"`` if mapped, else 404.3.
  * ``web.config``, ``bin``, ``App_Data``... are hidden segments (404.8); a folder without a trailing
    slash redirects (301); a folder is served through its default document (``iisstart.htm``...)
    or is 403.14.

- **HTTPS** on ``site_https_port``: an SNI callback picks ``iis().https_binding_for_port(port, sni)``
  and serves the certificate of that binding from the twin's ``CertStore`` — re-read on every
  handshake, so a new binding is served at once. No binding or no certificate → handshake failure.

And one **front** on Pebble's ``httpPort`` (http-01 validation arrives there): it routes by ``Host``
header to the twin that owns the domain and serves the request as that twin's HTTP site.
"""

from __future__ import annotations

import email.utils
import html
import logging
import socket
import ssl
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from poshbridge.lab.acceptor import ACCEPTOR
from poshbridge.lab.host import SandboxError, TwinHost

log = logging.getLogger(__name__)

SERVER_HEADER = "Microsoft-IIS/10.0"

# Server-level <staticContent> of a default IIS 10 applicationHost.config (the part the lab needs).
# Note: no "." entry, which is why extensionless files (ACME http-01 tokens) are 404.3 by default.
DEFAULT_MIME_MAP: dict[str, str] = {
    ".htm": "text/html",
    ".html": "text/html",
    ".txt": "text/plain",
    ".css": "text/css",
    ".js": "application/javascript",
    ".json": "application/json",
    ".xml": "text/xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff": "font/x-woff",
    ".woff2": "application/font-woff2",
    ".pdf": "application/pdf",
    ".zip": "application/x-zip-compressed",
    ".cer": "application/pkix-cert",
    ".crt": "application/x-x509-ca-cert",
    ".pem": "application/x-x509-ca-cert",
    ".csv": "application/octet-stream",
    ".mp4": "video/mp4",
}
DEFAULT_DOCUMENTS = ("Default.htm", "Default.asp", "index.htm", "index.html", "iisstart.htm", "default.aspx")
HIDDEN_SEGMENTS = {
    "web.config",
    "bin",
    "app_code",
    "app_globalresources",
    "app_localresources",
    "app_webreferences",
    "app_data",
    "app_browsers",
}
_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


# ----- IIS configuration ---------------------------------------------------------------------------
class ConfigError(Exception):
    """An IIS configuration error (HTTP 500.19)."""

    def __init__(self, message: str, config_file: str) -> None:
        super().__init__(message)
        self.message = message
        self.config_file = config_file


def apply_static_content(mime_map: dict[str, str], web_config: bytes, config_file: str) -> dict[str, str]:
    """Apply one web.config's ``system.webServer/staticContent`` to ``mime_map`` (a new dict)."""
    try:
        root = ET.fromstring(web_config.decode("utf-8-sig") if web_config else "")  # noqa: S314
    except (ET.ParseError, UnicodeDecodeError) as exc:
        raise ConfigError("Configuration file is not well-formed XML", config_file) from exc
    result = dict(mime_map)
    if root.tag != "configuration":
        return result
    for static in root.findall("./system.webServer/staticContent"):
        for element in static:
            if element.tag == "clear":
                result.clear()
            elif element.tag == "remove":
                result.pop(element.get("fileExtension", "").lower(), None)
            elif element.tag == "mimeMap":
                extension = element.get("fileExtension", "")
                mime_type = element.get("mimeType", "")
                if extension.lower() in result:
                    raise ConfigError(
                        "Cannot add duplicate collection entry of type 'mimeMap' with unique key attribute "
                        f"'fileExtension' set to '{extension}'",
                        config_file,
                    )
                result[extension.lower()] = mime_type
    return result


def file_extension(name: str) -> str:
    """The extension IIS maps for ``name``: ``.txt``, or ``"."`` for a name with no extension."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return "."
    return "." + ext.lower()


# ----- responses ------------------------------------------------------------------------------------
@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/html"
    headers: list[tuple[str, str]] = field(default_factory=list)
    substatus: int = 0  # IIS sub-status, for the log (404.3, 500.19...)

    @property
    def code(self) -> str:
        return f"{self.status}.{self.substatus}" if self.substatus else str(self.status)


def _error_page(status: int, substatus: int, title: str, detail: str, extra: str = "") -> Response:
    code = f"{status}.{substatus}" if substatus else str(status)
    body = (
        "<!DOCTYPE html><html><head><title>IIS 10.0 Detailed Error - "
        f"{code} - {html.escape(title)}</title></head><body>"
        f"<h1>HTTP Error {code} - {html.escape(title)}</h1>"
        f"<h2>{html.escape(detail)}</h2>{extra}</body></html>"
    ).encode()
    return Response(status, body, "text/html", substatus=substatus)


def _not_found(substatus: int = 0, detail: str | None = None) -> Response:
    return _error_page(
        404,
        substatus,
        "Not Found",
        detail
        or "The resource you are looking for has been removed, had its name changed, "
        "or is temporarily unavailable.",
    )


def _invalid_hostname() -> Response:
    return _error_page(400, 0, "Bad Request", "The request hostname is invalid.")


# ----- sites and static files ------------------------------------------------------------------------
def _split_binding(info: str) -> tuple[str, int, str]:
    ip, _, rest = info.partition(":")
    port_text, _, host_header = rest.partition(":")
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    return ip, port, host_header


def find_site(host: TwinHost, protocol: str, port: int, host_name: str | None) -> dict[str, Any] | None:
    """The site with a ``protocol`` binding on ``port`` for ``host_name`` (exact header, else catch-all)."""
    catch_all: dict[str, Any] | None = None
    for site_name, site in host.iis().load().get("sites", {}).items():
        for binding in site.get("bindings", []):
            if binding.get("protocol") != protocol:
                continue
            _ip, b_port, header = _split_binding(str(binding.get("binding_information", "")))
            if b_port != port:
                continue
            if header and host_name and header.lower() == host_name.lower():
                return {"name": site_name, **site}
            if not header and catch_all is None:
                catch_all = {"name": site_name, **site}
    return catch_all


def _windows_join(base: str, parts: list[str]) -> str:
    base = base.replace("%SystemDrive%", "C:").replace("%SYSTEMDRIVE%", "C:").rstrip("\\/")
    return base + ("\\" + "\\".join(parts) if parts else "\\")


def serve_static(host: TwinHost, site: dict[str, Any], method: str, raw_path: str) -> Response:
    """Answer ``method raw_path`` from ``site``'s physical path with IIS's static-file rules."""
    if method not in ("GET", "HEAD"):
        return _error_page(
            405,
            0,
            "Method Not Allowed",
            "The page you are looking for cannot be displayed "
            "because an invalid method (HTTP verb) is being used.",
        )
    if str(site.get("state", "Started")).lower() == "stopped":
        return _error_page(503, 0, "Service Unavailable", "The service is unavailable.")
    url_path = urllib.parse.unquote(raw_path.split("?", 1)[0].split("#", 1)[0])
    raw_parts = url_path.replace("\\", "/").split("/")
    parts = [p for p in raw_parts if p not in ("", ".")]
    if any(p == ".." for p in parts) or any(":" in p or "\0" in p for p in parts):
        return _error_page(400, 0, "Bad Request", "The request could not be understood by the server.")
    if any(p.lower() in HIDDEN_SEGMENTS for p in parts):
        return _not_found(
            8,
            "The request filtering module is configured to deny a path in the URL that "
            "contains a hiddenSegment section.",
        )
    physical = str(site.get("physical_path", "C:\\inetpub\\wwwroot"))
    try:
        root = host.real_path(_windows_join(physical, []))
        target = host.real_path(_windows_join(physical, parts))
    except SandboxError:
        return _not_found()
    # Configuration applies to the URL's folder chain whether or not the file exists.
    folders = [root]
    current = root
    for part in parts[:-1] if not target.is_dir() else parts:
        current = _child(current, part)
        folders.append(current)
    mime_map = dict(DEFAULT_MIME_MAP)
    for folder in folders:
        config = _child(folder, "web.config")
        if config.is_file():
            try:
                mime_map = apply_static_content(mime_map, config.read_bytes(), host.windows_path(config))
            except ConfigError as exc:
                return _config_error(exc)
    if target.is_dir():
        if not url_path.endswith("/"):
            location = urllib.parse.quote(url_path + "/")
            response = _error_page(301, 0, "Moved Permanently", "Document Moved")
            response.headers.append(("Location", location))
            return response
        for document in DEFAULT_DOCUMENTS:
            candidate = _child(target, document)
            if candidate.is_file():
                target = candidate
                break
        else:
            return _error_page(
                403,
                14,
                "Forbidden",
                "The Web server is configured to not list the contents of this directory.",
            )
    if not target.is_file():
        return _not_found()
    extension = file_extension(target.name)
    mime_type = mime_map.get(extension)
    if mime_type is None and extension != ".":
        mime_type = mime_map.get(".*")
    if mime_type is None:
        return _not_found(
            3,
            "The page you are requesting cannot be served because of the extension "
            "configuration. If the page is a script, add a handler. If the file should be "
            "downloaded, add a MIME map.",
        )
    data = target.read_bytes()
    stat = target.stat()
    headers = [
        ("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True)),
        ("Accept-Ranges", "bytes"),
        ("ETag", f'"{stat.st_mtime_ns:x}:{stat.st_size:x}"'),
    ]
    return Response(200, data, mime_type, headers)  # the handler sends no body for HEAD


def _child(folder: Path, name: str) -> Path:
    """``folder / name`` with Windows' case-insensitive lookup."""
    candidate = folder / name
    if candidate.exists() or not folder.is_dir():
        return candidate
    for entry in folder.iterdir():
        if entry.name.lower() == name.lower():
            return entry
    return candidate


def _config_error(exc: ConfigError) -> Response:
    extra = (
        "<p>The requested page cannot be accessed because the related configuration data for the page is "
        "invalid.</p>"
        f"<p>Config Error: {html.escape(exc.message)}</p>"
        f"<p>Config File: \\\\?\\{html.escape(exc.config_file)}</p>"
    )
    return _error_page(500, 19, "Internal Server Error", exc.message, extra)


# ----- HTTP plumbing ---------------------------------------------------------------------------------
Router = Callable[[str, str, str | None], tuple[str, Response]]  # (method, path, host) -> (who, response)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = SERVER_HEADER
    sys_version = ""
    server: _SiteHTTPServer

    def setup(self) -> None:
        tls = self.server.tls
        if tls is not None:
            self.request.settimeout(10)
            try:
                self.request = tls.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                log.debug("TLS handshake on %d failed: %s", self.server.server_address[1], exc)
                self.request.close()
                raise _HandshakeFailed from exc
        self.request.settimeout(30)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("web %s", format % args)

    def _host_name(self) -> str | None:
        value = self.headers.get("Host")
        if not value:
            return None
        if value.startswith("["):
            return value[1:].split("]", 1)[0]
        return value.rsplit(":", 1)[0] if value.count(":") == 1 else value

    def _handle(self, method: str) -> None:
        host_name = self._host_name()
        try:
            who, response = self.server.router(method, self.path, host_name)
        except Exception:
            log.exception("web: internal error for %s %s", method, self.path)
            who, response = "?", _error_page(500, 0, "Internal Server Error", "Internal lab error.")
        log.info(
            "%s %s %s %s (Host: %s) -> %s",
            who,
            self.server.label,
            method,
            self.path,
            host_name,
            response.code,
        )
        try:
            self.send_response(response.status, _REASONS.get(response.status))
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("X-Powered-By", "ASP.NET")
            self.end_headers()
            if method != "HEAD" and response.body:
                self.wfile.write(response.body)
        except OSError:
            self.close_connection = True

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length < 1 << 20:
            self.rfile.read(length)
        self._handle("POST")

    def do_PUT(self) -> None:
        self.do_POST()


class _HandshakeFailed(Exception):
    pass


class _SiteHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    # socketserver's default listen backlog is 5: with 50 twins set up at once, Pebble's ~100
    # concurrent http-01 requests to the shared front overflowed it and some validations timed out
    # ("context deadline exceeded ... awaiting headers"). IIS (http.sys) queues far more.
    request_queue_size = 1024

    def __init__(self, port: int, router: Router, tls: ssl.SSLContext | None, label: str) -> None:
        self.router = router
        self.tls = tls
        self.label = label
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("web connection from %s ended with an error", client_address, exc_info=True)


class _Server:
    """A started/stopped HTTP(S) server on 127.0.0.1 (bound at construction)."""

    def __init__(self, port: int, router: Router, tls: ssl.SSLContext | None, label: str) -> None:
        self._server = _SiteHTTPServer(port, router, tls, label)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        ACCEPTOR.add(self._server)  # one accepting thread for all the lab's servers (acceptor.py)

    def stop(self) -> None:
        ACCEPTOR.remove(self._server)
        self._server.server_close()


# ----- TLS with the bound certificate ---------------------------------------------------------------------
class BoundCertificateTLS:
    """Server TLS context whose certificate is chosen per handshake from the twin's IIS binding."""

    def __init__(self, host: TwinHost, port: int) -> None:
        self.host = host
        self.port = port
        self._cache: dict[tuple[str, int, int], ssl.SSLContext] = {}
        self._cache_lock = threading.Lock()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.sni_callback = self._select

    def _select(
        self, sock: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _ctx: ssl.SSLContext
    ) -> int | None:
        try:
            binding = self.host.iis().https_binding_for_port(self.port, server_name)
            thumbprint = (binding or {}).get("certificate_hash")
            if not thumbprint:
                log.info(
                    "%s: no https binding with a certificate on %d for SNI %r",
                    self.host.name,
                    self.port,
                    server_name,
                )
                return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
            path = self.host.cert_store().path(str(thumbprint))
            if path is None:
                log.info(
                    "%s: certificate %s of the binding is not in LocalMachine\\My", self.host.name, thumbprint
                )
                return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
            sock.context = self._context_for(path)
            return None
        except Exception:
            log.exception("%s: choosing the certificate for port %d failed", self.host.name, self.port)
            return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR

    def _context_for(self, path: Path) -> ssl.SSLContext:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._cache_lock:
            context = self._cache.get(key)
            if context is None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                context.load_cert_chain(str(path))  # leaf + chain, then the key, in one PEM
                self._cache = {k: v for k, v in self._cache.items() if k[0] != key[0]}
                self._cache[key] = context
            return context


# ----- the servers the daemon runs ------------------------------------------------------------------
class TwinSiteServers:
    """HTTP and HTTPS site servers of one twin (its ``site_http_port`` / ``site_https_port``)."""

    def __init__(self, host: TwinHost) -> None:
        """Bind both ports now; a port of 0 takes a free one and is written back to ``host``."""
        self.host = host
        self.tls = BoundCertificateTLS(host, host.site_https_port)
        self.http = _Server(host.site_http_port, self._route_http, None, f"{host.name}-http")
        self.https = _Server(host.site_https_port, self._route_https, self.tls.context, f"{host.name}-https")
        host.site_http_port = self.http.port
        host.site_https_port = self.tls.port = self.https.port

    def _route_http(self, method: str, path: str, host_name: str | None) -> tuple[str, Response]:
        return self.host.name, route_to_twin(
            self.host, "http", self.host.site_http_port, method, path, host_name
        )

    def _route_https(self, method: str, path: str, host_name: str | None) -> tuple[str, Response]:
        return self.host.name, route_to_twin(
            self.host, "https", self.host.site_https_port, method, path, host_name
        )

    def start(self) -> None:
        self.http.start()
        self.https.start()

    def stop(self) -> None:
        self.http.stop()
        self.https.stop()


def route_to_twin(
    host: TwinHost, protocol: str, port: int, method: str, path: str, host_name: str | None
) -> Response:
    site = find_site(host, protocol, port, host_name)
    if site is None:
        return _invalid_hostname()
    return serve_static(host, site, method, path)


class FrontServer:
    """The shared HTTP front on Pebble's ``httpPort``: routes by Host header to the owning twin."""

    def __init__(self, port: int, twins: Callable[[], list[TwinHost]]) -> None:
        self.twins = twins
        self.server = _Server(port, self._route, None, "front")

    @property
    def port(self) -> int:
        return self.server.port

    def owner(self, host_name: str | None) -> TwinHost | None:
        if not host_name:
            return None
        wanted = host_name.lower().rstrip(".")
        for twin in self.twins():
            if any(domain.lower() == wanted for domain in twin.domains):
                return twin
        for twin in self.twins():  # a domain added later as a binding host header
            if find_site(twin, "http", twin.site_http_port, wanted) is not None and any(
                _split_binding(str(b.get("binding_information", "")))[2].lower() == wanted
                for site in twin.iis().load().get("sites", {}).values()
                for b in site.get("bindings", [])
            ):
                return twin
        return None

    def _route(self, method: str, path: str, host_name: str | None) -> tuple[str, Response]:
        twin = self.owner(host_name)
        if twin is None:
            return "-", _invalid_hostname()
        return twin.name, route_to_twin(twin, "http", twin.site_http_port, method, path, host_name)

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()


def port_is_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False

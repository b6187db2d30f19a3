"""What a site actually serves: connect to ``address:iis.port`` with SNI = the main domain.

No trust is required (the point is to see the leaf, whoever issued it); the thumbprint is the
Windows one: uppercase hex SHA-1 of the DER certificate.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from poshbridge.inventory.model import HostConfig
from poshbridge.timefmt import format_timestamp


@dataclass(frozen=True)
class ServedCertificate:
    endpoint: str
    sni: str
    thumbprint: str | None = None
    not_after: datetime | None = None
    subject: str | None = None
    issuer: str | None = None
    der: bytes | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.thumbprint is not None

    def certificate(self) -> x509.Certificate | None:
        return x509.load_der_x509_certificate(self.der) if self.der else None

    def to_json(self) -> dict[str, Any]:
        """``{"endpoint", "sni", "thumbprint", "not_after", "subject", "issuer", "error"}``."""
        return {
            "endpoint": self.endpoint,
            "sni": self.sni,
            "thumbprint": self.thumbprint,
            "not_after": format_timestamp(self.not_after),
            "subject": self.subject,
            "issuer": self.issuer,
            "error": self.error,
        }



def fetch_served(address: str, port: int, sni: str, *, timeout: float = 10.0) -> ServedCertificate:
    endpoint = f"{address}:{port}"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # we look at the certificate, we do not trust it
    try:
        with (
            socket.create_connection((address, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=sni) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        return ServedCertificate(endpoint, sni, error=f"{type(exc).__name__}: {exc}")
    if not der:
        return ServedCertificate(endpoint, sni, error="no certificate presented")
    cert = x509.load_der_x509_certificate(der)
    return ServedCertificate(
        endpoint,
        sni,
        thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303
        not_after=cert.not_valid_after_utc.astimezone(timezone.utc),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        der=der,
    )


def probe(host: HostConfig, *, timeout: float = 10.0) -> ServedCertificate:
    """The leaf served at ``host.address:host.iis.port`` for SNI = the main domain."""
    return fetch_served(host.address, host.iis.port, host.main_domain, timeout=timeout)

"""What a site actually serves: connect to ``address:iis.port`` with SNI = the main domain.
The answer is the one served-certificate model, :class:`poshbridge.hoststate.served.ServedCertificate`.

No trust is required (the point is to see the leaf, whoever issued it); the thumbprint is the
Windows one: uppercase hex SHA-1 of the DER certificate.
"""

from __future__ import annotations

import socket
import ssl
from datetime import timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from poshbridge.hoststate.served import ServedCertificate
from poshbridge.inventory.model import HostConfig

__all__ = ["ServedCertificate", "fetch_served", "probe"]


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
        return ServedCertificate(endpoint=endpoint, sni=sni, error=f"{type(exc).__name__}: {exc}")
    if not der:
        return ServedCertificate(endpoint=endpoint, sni=sni, error="no certificate presented")
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:  # a served certificate that does not parse is a finding, not a crash
        return ServedCertificate(endpoint=endpoint, sni=sni, error=f"unreadable certificate: {exc}", der=der)
    return ServedCertificate(
        endpoint=endpoint,
        sni=sni,
        thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303
        not_after=cert.not_valid_after_utc.astimezone(timezone.utc),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        der=der,
    )


def probe(host: HostConfig, *, timeout: float = 10.0) -> ServedCertificate:
    """The leaf served at ``host.address:host.iis.port`` for SNI = the main domain."""
    return fetch_served(host.address, host.iis.port, host.main_domain, timeout=timeout)

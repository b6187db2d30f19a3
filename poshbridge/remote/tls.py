"""What a site actually serves: connect to ``address:iis.port`` with SNI = the main domain.
The answer is the one served-certificate model, :class:`poshbridge.hoststate.served.ServedCertificate`.

No trust is required (the point is to see the leaf, whoever issued it); the thumbprint is the
Windows one: uppercase hex SHA-1 of the DER certificate.
"""

from __future__ import annotations

import socket
import ssl

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
    return ServedCertificate.from_der(der, endpoint=endpoint, sni=sni)


def probe(host: HostConfig, *, timeout: float = 10.0) -> ServedCertificate:
    """The leaf served at ``host.address:host.iis.port`` for SNI = the main domain."""
    return fetch_served(host.address, host.iis.port, host.main_domain, timeout=timeout)

"""What a site served to the TLS probe from the control node: the one served-certificate model.

:func:`poshbridge.remote.tls.probe` fills it (IO); ``status``, ``audit``, setup's TLS check and the
health model read it. The thumbprint is the Windows one: uppercase hex SHA-1 of the DER certificate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from poshbridge.timefmt import format_timestamp


@dataclass(frozen=True)
class ServedCertificate:
    """``error`` is set when nothing usable was served (refused, handshake failure, no certificate)."""

    thumbprint: str | None = None
    not_after: datetime | None = None
    subject: str | None = None
    error: str | None = None
    der: bytes | None = field(default=None, repr=False)  # the leaf, for the OCSP check
    endpoint: str = ""  # address:port that was probed
    sni: str = ""
    issuer: str | None = None

    @classmethod
    def from_der(cls, der: bytes | None, *, endpoint: str = "", sni: str = "") -> ServedCertificate:
        """The leaf the TLS handshake gave (None or empty: none was presented). A certificate that does
        not parse is a finding (``error``), never an exception."""
        if not der:
            return cls(endpoint=endpoint, sni=sni, error="no certificate presented")
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            return cls(endpoint=endpoint, sni=sni, error=f"unreadable certificate: {exc}", der=der)
        return cls(
            endpoint=endpoint,
            sni=sni,
            thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - Windows' thumbprint
            not_after=cert.not_valid_after_utc.astimezone(timezone.utc),
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            der=der,
        )

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

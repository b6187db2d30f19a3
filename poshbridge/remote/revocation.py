"""Revocation of the served certificate and of Posh-ACME's current one, checked from the control node.

The issuer is taken from Posh-ACME's chain file (``chain.cer``): the certificate whose subject is the
leaf's issuer and whose key verifies the leaf's signature. One OCSP query per distinct certificate
(the served one is usually Posh-ACME's current one); every answer is verified
(:mod:`poshbridge.health.ocsp_verify`) before it counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes

from poshbridge.health.model import Revocation
from poshbridge.remote import ocsp

Check = Callable[[x509.Certificate, x509.Certificate], ocsp.OcspAnswer]


def thumbprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - the Windows thumbprint


def find_issuer(leaf: x509.Certificate, candidates: Sequence[x509.Certificate]) -> x509.Certificate | None:
    for candidate in candidates:
        if candidate.subject != leaf.issuer:
            continue
        try:
            leaf.verify_directly_issued_by(candidate)
        except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
            continue
        return candidate
    return None


def check_one(
    leaf: x509.Certificate | None, issuers: Sequence[x509.Certificate], check: Check, *, what: str
) -> Revocation | None:
    if leaf is None:
        return None
    thumb = thumbprint(leaf)
    issued = leaf.not_valid_before_utc
    if ocsp.ocsp_url(leaf) is None:  # e.g. a self-signed certificate: nothing to ask
        return Revocation("no-url", "the certificate names no OCSP responder", thumb, issued)
    issuer = find_issuer(leaf, issuers)
    if issuer is None:
        why = f"the issuer of the {what} certificate is not in Posh-ACME's chain"
        return Revocation("not-checked", why, thumb, issued)
    answer = check(leaf, issuer)
    return Revocation(answer.state, answer.detail, thumb, issued)


def check_revocations(
    served_der: bytes | None,
    current_pem: str,
    chain_pem: str,
    *,
    post: ocsp.Post = ocsp.http_post,
    now: Callable[[], datetime] | None = None,
    timeout: float = 10.0,
) -> tuple[Revocation | None, Revocation | None]:
    """(served, current): ``None`` where there is no such certificate."""
    kwargs: dict[str, object] = {}
    if now is not None:
        kwargs["now"] = now

    def check(leaf: x509.Certificate, issuer: x509.Certificate) -> ocsp.OcspAnswer:
        return ocsp.check(leaf, issuer, post=post, timeout=timeout, **kwargs)  # type: ignore[arg-type]

    issuers = ocsp.load_pem_certificates(chain_pem)
    current_list = ocsp.load_pem_certificates(current_pem)
    current = current_list[0] if current_list else None
    served: x509.Certificate | None = None
    if served_der:
        try:
            served = x509.load_der_x509_certificate(served_der)
        except ValueError:
            served = None
    current_result = check_one(current, issuers, check, what="current")
    if served is not None and current is not None and thumbprint(served) == thumbprint(current):
        return current_result, current_result
    return check_one(served, issuers, check, what="served"), current_result

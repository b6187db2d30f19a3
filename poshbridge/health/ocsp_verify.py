"""Is an OCSP answer to be believed? Pure: the DER answer, the certificate asked about, its issuer and
``now`` in; a state and a reason out. Nothing here reads a clock or a socket.

An answer is believed only when all of these hold (RFC 6960 §3.2 and §4.2.2.2):

- the response status is ``successful`` and it is a basic response;
- one of its single responses has the CertID of the certificate asked about: the same serial, and
  issuer name and key hashes equal to those of the issuer (computed with the hash algorithm the
  responder used);
- it is signed by the issuer itself, or by a delegated responder whose certificate is in the answer,
  was issued (signed) by the issuer, carries the extended key usage id-kp-OCSPSigning and is valid now;
  the responder ID names that signer (by name or by key hash);
- ``thisUpdate`` is not in the future and ``nextUpdate`` not in the past, each allowing ``skew``;
  without ``nextUpdate``, ``thisUpdate`` is at most ``max_age`` old.

Anything else is ``unverifiable`` with the reason; never ``good`` or ``revoked``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

VerifiedState = Literal["good", "revoked", "unknown", "unverifiable"]

DEFAULT_SKEW = timedelta(minutes=5)
DEFAULT_MAX_AGE = timedelta(days=4)  # no nextUpdate: older than this is stale (CA/B BR: ≤ 4 days)


@dataclass(frozen=True)
class VerifiedAnswer:
    state: VerifiedState
    detail: str = ""
    revoked_at: datetime | None = None


def _unverifiable(why: str) -> VerifiedAnswer:
    return VerifiedAnswer("unverifiable", why)


def key_hash(certificate: x509.Certificate) -> bytes:
    """SHA-1 of the subjectPublicKey bit string (the responder ID byKey, RFC 6960 §4.2.1)."""
    return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest


def _cert_id_hashes(
    leaf: x509.Certificate, issuer: x509.Certificate, algorithm: hashes.HashAlgorithm
) -> tuple[bytes, bytes]:
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, algorithm).build()
    return request.issuer_name_hash, request.issuer_key_hash


def _signature_ok(signer: x509.Certificate, signature: bytes, data: bytes,
                  algorithm: hashes.HashAlgorithm | None) -> bool:  # fmt: skip
    key = signer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, dsa.DSAPublicKey) and algorithm is not None:
            key.verify(signature, data, algorithm)
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _names_signer(answer: ocsp.OCSPResponse, candidate: x509.Certificate) -> bool:
    if answer.responder_name is not None:
        return answer.responder_name == candidate.subject
    return answer.responder_key_hash == key_hash(candidate)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _signer(answer: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime) -> x509.Certificate | str:
    """The certificate that signed ``answer``, or why no acceptable signer was found."""
    if _names_signer(answer, issuer):
        return issuer
    reasons: list[str] = []
    for candidate in answer.certificates:
        if not _names_signer(answer, candidate):
            continue
        if not _issued_by(candidate, issuer):
            reasons.append("the responder certificate was not issued by the certificate's issuer")
            continue
        try:
            usages = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            usages = None
        if usages is None or ExtendedKeyUsageOID.OCSP_SIGNING not in usages:
            reasons.append("the delegated responder certificate lacks id-kp-OCSPSigning")
            continue
        if not candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc:
            reasons.append("the delegated responder certificate is not valid now")
            continue
        return candidate
    if reasons:
        return reasons[0]
    return "signed by neither the issuer nor a responder certificate included in the answer"


def verify_ocsp_response(
    der: bytes,
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    *,
    now: datetime,
    skew: timedelta = DEFAULT_SKEW,
    max_age: timedelta = DEFAULT_MAX_AGE,
) -> VerifiedAnswer:
    """The certificate status ``der`` states for ``leaf``, if the answer can be believed."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    try:
        answer = ocsp.load_der_ocsp_response(der)
    except ValueError:
        return _unverifiable("not a DER OCSP response")
    if answer.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return _unverifiable(f"responder status {answer.response_status.name}")
    try:
        singles = list(answer.responses)
        tbs = answer.tbs_response_bytes
        signature = answer.signature
        sig_hash = answer.signature_hash_algorithm
    except (ValueError, UnsupportedAlgorithm) as exc:
        return _unverifiable(f"unreadable basic response ({type(exc).__name__})")
    single = None
    for candidate in singles:
        if candidate.serial_number != leaf.serial_number:
            continue
        try:
            name_hash, key_hash_ = _cert_id_hashes(leaf, issuer, candidate.hash_algorithm)
        except (ValueError, UnsupportedAlgorithm):
            continue
        if candidate.issuer_name_hash == name_hash and candidate.issuer_key_hash == key_hash_:
            single = candidate
            break
    if single is None:
        return _unverifiable("no single response for this certificate's serial and issuer (CertID mismatch)")
    signer = _signer(answer, issuer, now)
    if isinstance(signer, str):
        return _unverifiable(signer)
    if not _signature_ok(signer, signature, tbs, sig_hash):
        return _unverifiable("the signature does not verify with the responder's key")
    this_update = single.this_update_utc
    next_update = single.next_update_utc
    if this_update > now + skew:
        return _unverifiable(f"thisUpdate {this_update:%Y-%m-%d %H:%M} UTC is in the future")
    if next_update is not None and next_update < now - skew:
        return _unverifiable(f"stale: nextUpdate {next_update:%Y-%m-%d %H:%M} UTC has passed")
    if next_update is None and this_update < now - max_age - skew:
        return _unverifiable(f"stale: thisUpdate {this_update:%Y-%m-%d %H:%M} UTC and no nextUpdate")
    status = single.certificate_status
    if status == ocsp.OCSPCertStatus.GOOD:
        return VerifiedAnswer("good")
    if status == ocsp.OCSPCertStatus.REVOKED:
        when = single.revocation_time_utc
        return VerifiedAnswer("revoked", f"revoked at {when:%Y-%m-%d %H:%M} UTC" if when else "revoked", when)
    return VerifiedAnswer("unknown", "the responder does not know the certificate")

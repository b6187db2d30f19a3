"""Revocation of the served and the current certificate: issuer from Posh-ACME's chain, one query per
certificate, verified answers (an injected responder; no network)."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from poshbridge.remote.revocation import check_revocations

NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)
CA_KEY = ec.generate_private_key(ec.SECP256R1())
CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])


def _cert(serial: int, *, signer: ec.EllipticCurvePrivateKey = CA_KEY, url: bool = True,
          subject: str = "leaf", issuer: x509.Name = CA_NAME) -> x509.Certificate:  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key() if subject != "issuer" else CA_KEY.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - datetime.timedelta(days=5))
        .not_valid_after(NOW + datetime.timedelta(days=60))
    )
    if url:
        location = x509.UniformResourceIdentifier("http://ocsp.test/")
        access = x509.AccessDescription(AuthorityInformationAccessOID.OCSP, location)
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    return builder.sign(signer, hashes.SHA256())


ISSUER = _cert(1, subject="issuer", url=False)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _responder(revoked: set[int], calls: list[int]) -> Callable[[str, bytes, float], bytes]:
    def post(url: str, body: bytes, timeout: float) -> bytes:
        request = ocsp.load_der_ocsp_request(body)
        calls.append(request.serial_number)
        status = ocsp.OCSPCertStatus.REVOKED if request.serial_number in revoked else ocsp.OCSPCertStatus.GOOD
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=request.serial_number,
                algorithm=request.hash_algorithm,
                cert_status=status,
                this_update=NOW - datetime.timedelta(hours=1),
                next_update=NOW + datetime.timedelta(days=2),
                revocation_time=NOW - datetime.timedelta(hours=2)
                if request.serial_number in revoked
                else None,
                revocation_reason=None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, ISSUER)
        )
        return builder.sign(CA_KEY, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    return post


def test_the_same_certificate_served_and_current_is_asked_once_and_revoked_is_seen() -> None:
    leaf = _cert(10)
    calls: list[int] = []
    served, current = check_revocations(
        leaf.public_bytes(serialization.Encoding.DER), _pem(leaf), _pem(ISSUER),
        post=_responder({10}, calls), now=lambda: NOW,
    )  # fmt: skip
    assert calls == [10]
    assert served is not None and current is not None
    assert served.state == current.state == "revoked"


def test_a_different_served_certificate_is_checked_on_its_own() -> None:
    old, new = _cert(11), _cert(12)
    calls: list[int] = []
    served, current = check_revocations(
        old.public_bytes(serialization.Encoding.DER), _pem(new), _pem(ISSUER),
        post=_responder({11}, calls), now=lambda: NOW,
    )  # fmt: skip
    assert sorted(calls) == [11, 12]
    assert served is not None and served.state == "revoked"
    assert current is not None and current.state == "good"


def test_no_url_and_unknown_issuer_are_said_not_guessed() -> None:
    self_signed = _cert(13, url=False)
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    other_ca = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "other CA")])
    foreign = _cert(14, signer=stranger_key, issuer=other_ca)
    calls: list[int] = []
    served, current = check_revocations(
        self_signed.public_bytes(serialization.Encoding.DER), _pem(foreign), _pem(ISSUER),
        post=_responder(set(), calls), now=lambda: NOW,
    )  # fmt: skip
    assert calls == []
    assert served is not None and served.state == "no-url"
    assert current is not None and current.state == "not-checked" and "issuer" in current.detail
    assert check_revocations(None, "", "") == (None, None)

"""OCSP answers are verified before they are believed: signer, CertID and freshness."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from poshbridge.health.ocsp_verify import verify_ocsp_response

NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


class Pki:
    def __init__(self) -> None:
        self.ca_key = _key()
        self.issuer = self._cert(_name("issuer"), _name("issuer"), self.ca_key.public_key(), self.ca_key, 1,
                                 ca=True)  # fmt: skip
        self.leaf = self._cert(_name("leaf"), _name("issuer"), _key().public_key(), self.ca_key, 4242)
        self.other = self._cert(_name("other"), _name("issuer"), _key().public_key(), self.ca_key, 4343)

    @staticmethod
    def _cert(subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey,
              signer: ec.EllipticCurvePrivateKey, serial: int, *, ca: bool = False,
              eku: list[x509.ObjectIdentifier] | None = None) -> x509.Certificate:  # fmt: skip
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public)
            .serial_number(serial)
            .not_valid_before(NOW - 30 * DAY)
            .not_valid_after(NOW + 60 * DAY)
        )
        if ca:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        if eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        return builder.sign(signer, hashes.SHA256())

    def delegated(
        self, *, eku: bool, issued_by_ca: bool = True
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = _key()
        signer = self.ca_key if issued_by_ca else _key()
        usages = [ExtendedKeyUsageOID.OCSP_SIGNING] if eku else [ExtendedKeyUsageOID.SERVER_AUTH]
        cert = self._cert(_name("ocsp responder"), _name("issuer"), key.public_key(), signer, 77, eku=usages)
        return cert, key

    def answer(
        self,
        *,
        about: x509.Certificate | None = None,
        status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
        key: ec.EllipticCurvePrivateKey | None = None,
        responder: x509.Certificate | None = None,
        this_update: datetime.datetime = NOW - datetime.timedelta(hours=1),
        next_update: datetime.datetime | None = NOW + 3 * DAY,
        by_name: bool = False,
    ) -> bytes:
        revoked = status == ocsp.OCSPCertStatus.REVOKED
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=about or self.leaf,
            issuer=self.issuer,
            algorithm=hashes.SHA1(),  # noqa: S303 - OCSP CertID
            cert_status=status,
            this_update=this_update,
            next_update=next_update,
            revocation_time=NOW - DAY if revoked else None,
            revocation_reason=None,
        )
        encoding = ocsp.OCSPResponderEncoding.NAME if by_name else ocsp.OCSPResponderEncoding.HASH
        builder = builder.responder_id(encoding, responder or self.issuer)
        if responder is not None and responder.subject != self.issuer.subject:
            builder = builder.certificates([responder])
        return builder.sign(key or self.ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def _verify(pki: Pki, der: bytes) -> tuple[str, str]:
    result = verify_ocsp_response(der, pki.leaf, pki.issuer, now=NOW)
    return result.state, result.detail


def test_an_answer_signed_by_the_issuer_is_believed(pki: Pki) -> None:
    assert _verify(pki, pki.answer())[0] == "good"
    state, detail = _verify(pki, pki.answer(status=ocsp.OCSPCertStatus.REVOKED))
    assert state == "revoked" and "revoked at" in detail
    assert _verify(pki, pki.answer(status=ocsp.OCSPCertStatus.UNKNOWN))[0] == "unknown"


def test_a_forged_answer_signed_by_an_unrelated_key_is_unverifiable(pki: Pki) -> None:
    forger = _key()
    # a self-made certificate with the issuer's name: the answer claims to come from the issuer
    fake_issuer = Pki._cert(_name("issuer"), _name("issuer"), forger.public_key(), forger, 1, ca=True)
    for status in (ocsp.OCSPCertStatus.GOOD, ocsp.OCSPCertStatus.REVOKED):
        der = pki.answer(status=status, key=forger, responder=fake_issuer, by_name=True)
        state, detail = _verify(pki, der)
        assert state == "unverifiable" and "signature" in detail
        # the same, naming the forger's key as responder
        state, detail = _verify(pki, pki.answer(status=status, key=forger, responder=fake_issuer))
        assert state == "unverifiable" and "signed by neither" in detail


def test_a_forged_responder_certificate_not_issued_by_the_issuer_is_unverifiable(pki: Pki) -> None:
    cert, key = pki.delegated(eku=True, issued_by_ca=False)
    state, detail = _verify(pki, pki.answer(key=key, responder=cert))
    assert state == "unverifiable" and "not issued by" in detail


def test_an_answer_for_another_serial_is_unverifiable(pki: Pki) -> None:
    for status in (ocsp.OCSPCertStatus.GOOD, ocsp.OCSPCertStatus.REVOKED):
        state, detail = _verify(pki, pki.answer(about=pki.other, status=status))
        assert state == "unverifiable" and "CertID" in detail


def test_a_stale_answer_is_unverifiable(pki: Pki) -> None:
    old = NOW - 400 * DAY
    state, detail = _verify(pki, pki.answer(this_update=old, next_update=old + 7 * DAY))
    assert state == "unverifiable" and "stale" in detail
    state, detail = _verify(pki, pki.answer(this_update=old, next_update=None))
    assert state == "unverifiable" and "stale" in detail


def test_an_answer_from_the_future_is_unverifiable(pki: Pki) -> None:
    state, detail = _verify(pki, pki.answer(this_update=NOW + DAY, next_update=NOW + 5 * DAY))
    assert state == "unverifiable" and "future" in detail


def test_freshness_allows_a_small_skew(pki: Pki) -> None:
    minute = datetime.timedelta(minutes=1)
    assert _verify(pki, pki.answer(this_update=NOW + 2 * minute, next_update=NOW + DAY))[0] == "good"
    assert _verify(pki, pki.answer(this_update=NOW - DAY, next_update=NOW - 2 * minute))[0] == "good"


def test_a_delegated_responder_with_ocsp_signing_is_believed(pki: Pki) -> None:
    cert, key = pki.delegated(eku=True)
    der = pki.answer(key=key, responder=cert, status=ocsp.OCSPCertStatus.REVOKED)
    assert _verify(pki, der)[0] == "revoked"


def test_a_delegated_responder_without_the_eku_is_unverifiable(pki: Pki) -> None:
    cert, key = pki.delegated(eku=False)
    state, detail = _verify(pki, pki.answer(key=key, responder=cert))
    assert state == "unverifiable" and "OCSPSigning" in detail


def test_garbage_and_unsuccessful_answers_are_unverifiable(pki: Pki) -> None:
    assert _verify(pki, b"\x00" * 64)[0] == "unverifiable"
    try_later = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
    state, detail = _verify(pki, try_later.public_bytes(serialization.Encoding.DER))
    assert state == "unverifiable" and "TRY_LATER" in detail

"""The OCSP poll loop with an injected clock, sleep and responder (pure of network)."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from poshbridge.remote import ocsp

NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)


def _pair(with_url: bool = True) -> tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test issuer")])
    issuer = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")]))
        .issuer_name(ca_name)
        .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
        .serial_number(4242)
        .not_valid_before(NOW)
        .not_valid_after(NOW + datetime.timedelta(days=90))
    )
    if with_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier("http://127.0.0.1:1/ocsp"),
                    )
                ]
            ),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), issuer, ca_key


def _response(
    leaf: x509.Certificate, issuer: x509.Certificate, key: ec.EllipticCurvePrivateKey, status: str
) -> bytes:
    cert_status = {"good": x509_ocsp.OCSPCertStatus.GOOD, "unknown": x509_ocsp.OCSPCertStatus.UNKNOWN}[status]
    builder = (
        x509_ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf,
            issuer=issuer,
            algorithm=hashes.SHA1(),  # noqa: S303 - OCSP CertID
            cert_status=cert_status,
            this_update=NOW,
            next_update=None,
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(x509_ocsp.OCSPResponderEncoding.HASH, issuer)
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_polls_until_good_and_reports_the_countdown() -> None:
    leaf, issuer, key = _pair()
    answers = iter(["unknown", "unknown", "good"])
    requests: list[bytes] = []

    def post(url: str, body: bytes, timeout: float) -> bytes:
        assert url == "http://127.0.0.1:1/ocsp"
        request = x509_ocsp.load_der_ocsp_request(body)
        assert request.serial_number == 4242
        requests.append(body)
        return _response(leaf, issuer, key, next(answers))

    fake = FakeTime()
    ticks: list[tuple[float, str]] = []
    result = ocsp.wait_until_good(
        leaf,
        issuer,
        cap_seconds=600,
        interval=5,
        clock=fake.clock,
        sleep=fake.sleep,
        post=post,
        on_tick=lambda left, state: ticks.append((left, state)),
        now=lambda: NOW,
    )
    assert result.state == "good" and result.polls == 3
    assert result.waited == 10
    assert ticks and ticks[0] == (600, "unknown")


def test_cap_is_respected_when_the_responder_never_knows_the_certificate() -> None:
    leaf, issuer, key = _pair()
    fake = FakeTime()
    result = ocsp.wait_until_good(
        leaf,
        issuer,
        cap_seconds=12,
        interval=5,
        clock=fake.clock,
        sleep=fake.sleep,
        post=lambda u, b, t: _response(leaf, issuer, key, "unknown"),
        now=lambda: NOW,
    )
    assert result.state == "unknown"
    assert result.waited == 12


def test_no_ocsp_url_waits_the_full_time() -> None:
    leaf, issuer, _key = _pair(with_url=False)
    fake = FakeTime()
    result = ocsp.wait_until_good(leaf, issuer, cap_seconds=7, clock=fake.clock, sleep=fake.sleep)
    assert result.state == "no-url" and result.waited == 7 and result.polls == 0


def test_a_forged_answer_is_not_believed_and_the_wait_goes_on() -> None:
    leaf, issuer, _key = _pair()
    forger = ec.generate_private_key(ec.SECP256R1())
    fake_issuer = (
        x509.CertificateBuilder()
        .subject_name(issuer.subject)
        .issuer_name(issuer.subject)
        .public_key(forger.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + datetime.timedelta(days=30))
        .sign(forger, hashes.SHA256())
    )
    fake = FakeTime()
    result = ocsp.wait_until_good(
        leaf,
        issuer,
        cap_seconds=12,
        interval=5,
        clock=fake.clock,
        sleep=fake.sleep,
        post=lambda u, b, t: _response(leaf, fake_issuer, forger, "good"),
        now=lambda: NOW,
    )
    assert result.state == "unverifiable"

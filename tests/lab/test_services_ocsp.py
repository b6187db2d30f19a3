"""The lab's OCSP responder: the JPRS lag (unknown, then good), revocation, and protocol forms.

Given a real Pebble certificate (certbot's acme library, EAB, http-01 on a twin), when a client POSTs
an OCSP request to the URL in the certificate's AIA, then the lab answers ``unknown`` until the lag
has passed, ``good`` afterwards, and ``revoked`` once the revocation is registered; every answer is
signed by Pebble's intermediate.
"""

from __future__ import annotations

import base64
import time
import urllib.parse
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID
from labkit import IssuedCertificate, LabHandle, issue_certificate

POLL_LIMIT_SECONDS = 60  # a deadline for polling, not an assertion about speed


def aia_ocsp_url(cert: x509.Certificate) -> str:
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    urls = [d.access_location.value for d in aia if d.access_method == AuthorityInformationAccessOID.OCSP]
    assert len(urls) == 1
    return str(urls[0])


def ocsp_request(issued: IssuedCertificate) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(issued.cert, issued.issuer, hashes.SHA1())  # noqa: S303
    return builder.build().public_bytes(serialization.Encoding.DER)


def post_ocsp(url: str, request_der: bytes) -> ocsp.OCSPResponse:
    http_request = urllib.request.Request(  # noqa: S310 - the lab's loopback URL
        url, data=request_der, method="POST", headers={"Content-Type": "application/ocsp-request"}
    )
    with urllib.request.urlopen(http_request, timeout=10) as response:  # noqa: S310
        assert response.headers["Content-Type"] == "application/ocsp-response"
        return ocsp.load_der_ocsp_response(response.read())


def checked_status(response: ocsp.OCSPResponse, issued: IssuedCertificate) -> ocsp.OCSPCertStatus:
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.serial_number == issued.cert.serial_number
    public_key = issued.issuer.public_key()
    public_key.verify(  # type: ignore[union-attr,call-arg]
        response.signature,
        response.tbs_response_bytes,
        *_verify_args(issued.issuer, response),
    )
    return response.certificate_status


def _verify_args(issuer: x509.Certificate, response: ocsp.OCSPResponse) -> tuple[object, ...]:
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    key = issuer.public_key()
    algorithm = response.signature_hash_algorithm
    assert algorithm is not None
    if isinstance(key, rsa.RSAPublicKey):
        return (padding.PKCS1v15(), algorithm)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return (ec.ECDSA(algorithm),)


@pytest.fixture(scope="module")
def issued(lab: LabHandle) -> IssuedCertificate:
    host = lab.claim("ocsp: issue one certificate")
    return issue_certificate(lab, host)


def test_aia_points_at_the_lab_responder(lab: LabHandle, issued: IssuedCertificate) -> None:
    assert aia_ocsp_url(issued.cert) == lab.data["ocsp"]["url"]
    validity = issued.cert.not_valid_after_utc - issued.cert.not_valid_before_utc
    assert validity.total_seconds() == 90 * 86400 - 1  # certificateValidityPeriod 7776000, like JPRS


def test_unknown_then_good_after_the_lag_then_revoked(lab: LabHandle, issued: IssuedCertificate) -> None:
    url = aia_ocsp_url(issued.cert)
    request = ocsp_request(issued)

    # Never registered: unknown (Pebble does not tell the responder; the lab's cmdlets do).
    assert checked_status(post_ocsp(url, request), issued) == ocsp.OCSPCertStatus.UNKNOWN

    registered = lab.register_issued(issued.cert_pem, lag=8)
    assert registered["status"] == "unknown"
    assert checked_status(post_ocsp(url, request), issued) == ocsp.OCSPCertStatus.UNKNOWN

    deadline = time.monotonic() + POLL_LIMIT_SECONDS
    status = ocsp.OCSPCertStatus.UNKNOWN
    while status == ocsp.OCSPCertStatus.UNKNOWN and time.monotonic() < deadline:
        time.sleep(0.5)
        status = checked_status(post_ocsp(url, request), issued)
    assert status == ocsp.OCSPCertStatus.GOOD

    issued.account.revoke(issued.cert, 4)  # superseded, at Pebble
    lab.register_revoked(issued.cert_pem, reason=4)
    response = post_ocsp(url, request)
    assert checked_status(response, issued) == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_reason == x509.ReasonFlags.superseded


def test_default_lag_is_the_labs(lab: LabHandle, lab_host: str) -> None:
    issued = issue_certificate(lab, lab_host)
    url = aia_ocsp_url(issued.cert)
    lab.register_issued(issued.cert_pem)  # the lab's --ocsp-lag (3 s in the test lab)
    deadline = time.monotonic() + POLL_LIMIT_SECONDS
    status = checked_status(post_ocsp(url, ocsp_request(issued)), issued)
    while status == ocsp.OCSPCertStatus.UNKNOWN and time.monotonic() < deadline:
        time.sleep(0.5)
        status = checked_status(post_ocsp(url, ocsp_request(issued)), issued)
    assert status == ocsp.OCSPCertStatus.GOOD
    serial = format(issued.cert.serial_number, "X")
    assert lab.management("GET", f"/ocsp/status/{serial}")["status"] == "good"
    index = (lab.dir / "ocsp" / "index.txt").read_text("ascii")
    assert any(line.startswith("V\t") and serial in line.split("\t")[3] for line in index.splitlines())


def test_get_form_and_malformed_requests(lab: LabHandle, issued: IssuedCertificate) -> None:
    url = aia_ocsp_url(issued.cert)
    encoded = urllib.parse.quote(base64.b64encode(ocsp_request(issued)).decode(), safe="")
    with urllib.request.urlopen(url + encoded, timeout=10) as response:  # noqa: S310
        answer = ocsp.load_der_ocsp_response(response.read())
    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.serial_number == issued.cert.serial_number

    garbage = post_ocsp(url, b"not an OCSP request")
    assert garbage.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST

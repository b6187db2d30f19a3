"""OCSP from the control node: is the new certificate known to the CA's responder yet?

JPRS registers a certificate with its OCSP responder up to ~10 minutes after issuance; browsers
that check OCSP fail in that window. Setup/renew therefore poll the responder named in the leaf's
AIA until it answers ``good``, capped at ``renewal.wait_after_renewal`` seconds (without an OCSP
URL: wait that long, as the manual's script does). Clock and sleep are injectable for tests.

Every answer is verified before it is believed (:func:`poshbridge.health.ocsp_verify.verify_ocsp_response`:
signer, CertID, freshness); one that fails is ``unverifiable``, never ``good`` or ``revoked``.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from poshbridge.health.ocsp_verify import verify_ocsp_response

OcspState = Literal["good", "unknown", "revoked", "error", "no-url", "unverifiable"]
Now = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


Post = Callable[[str, bytes, float], bytes]
Tick = Callable[[float, str], None]  # (seconds left, last state)


@dataclass(frozen=True)
class OcspAnswer:
    state: OcspState
    detail: str = ""


@dataclass(frozen=True)
class OcspWait:
    state: OcspState
    waited: float
    polls: int
    url: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "state": self.state,
            "waited_seconds": round(self.waited, 1),
            "polls": self.polls,
            "url": self.url,
        }


def load_pem_certificates(text: str | bytes) -> list[x509.Certificate]:
    data = text.encode("ascii", "ignore") if isinstance(text, str) else text
    try:
        return list(x509.load_pem_x509_certificates(data))
    except ValueError:
        return []


def ocsp_url(cert: x509.Certificate) -> str | None:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for desc in aia:
        if desc.access_method == AuthorityInformationAccessOID.OCSP:
            return str(desc.access_location.value)
    return None


def build_request(leaf: x509.Certificate, issuer: x509.Certificate) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1())  # noqa: S303 - OCSP CertID
    return builder.build().public_bytes(serialization.Encoding.DER)


def http_post(url: str, body: bytes, timeout: float) -> bytes:
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) OCSP URL: {url}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=body, headers={"Content-Type": "application/ocsp-request"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return bytes(response.read())


def check(
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    *,
    post: Post = http_post,
    timeout: float = 10.0,
    now: Now = _utc_now,
) -> OcspAnswer:
    url = ocsp_url(leaf)
    if url is None:
        return OcspAnswer("no-url", "the certificate names no OCSP responder")
    try:
        raw = post(url, build_request(leaf, issuer), timeout)
    except (OSError, ValueError, urllib.error.URLError) as exc:
        return OcspAnswer("error", f"{type(exc).__name__}: {exc}")
    try:
        status = ocsp.load_der_ocsp_response(raw).response_status
    except ValueError:
        return OcspAnswer("unverifiable", "the responder's answer is not a DER OCSP response")
    if status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return OcspAnswer("error", f"responder status {status.name}")
    verified = verify_ocsp_response(raw, leaf, issuer, now=now())
    return OcspAnswer(verified.state, verified.detail)


def wait_until_good(
    leaf: x509.Certificate,
    issuer: x509.Certificate | None,
    *,
    cap_seconds: float,
    interval: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    post: Post = http_post,
    on_tick: Tick | None = None,
    now: Now = _utc_now,
) -> OcspWait:
    """Poll until ``good`` (or ``revoked``), at most ``cap_seconds``. No OCSP URL or no issuer:
    wait ``cap_seconds`` (the manual's fixed wait) and report ``no-url``."""
    start = clock()
    url = ocsp_url(leaf)
    polls = 0
    if url is None or issuer is None:
        deadline = start + cap_seconds
        while (left := deadline - clock()) > 0:
            if on_tick:
                on_tick(left, "no-url")
            sleep(min(1.0, left))
        return OcspWait("no-url", clock() - start, 0, url)
    state: OcspState = "unknown"
    while True:
        answer = check(leaf, issuer, post=post, now=now)
        polls += 1
        state = answer.state
        if state in ("good", "revoked"):
            return OcspWait(state, clock() - start, polls, url)
        left = start + cap_seconds - clock()
        if left <= 0:
            return OcspWait(state, clock() - start, polls, url)
        pause = min(interval, left)
        end = clock() + pause
        while (remaining := end - clock()) > 0:
            if on_tick:
                on_tick(start + cap_seconds - clock(), state)
            sleep(min(1.0, remaining))

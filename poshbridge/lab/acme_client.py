"""The emulated Posh-ACME's wire side: ACME (RFC 8555) against Pebble with certbot's ``acme`` library.

Thin on purpose: every call returns the server's JSON (so the emulated cmdlets can store it the way
Posh-ACME does in its config folder) and every RFC 7807 problem becomes :class:`AcmeProblem` with the
full ``type`` URN, ``detail`` and the HTTP ``status`` (which ``acme.messages.Error`` does not keep).

From docs/reference/acme-lab.md: EAB HMAC keys are unpadded base64url (Posh-ACME's ConvertFrom-Base64Url also
accepts standard base64); Pebble echoes ``externalAccountBinding`` in the account object, which makes
``ClientV2.query_registration`` crash (certbot#9550) - this module never re-sends an account body, it
only POST-as-GETs the account URL; Pebble's TLS certificate is trusted through the lab's CA bundle.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

import requests
from acme import challenges, messages
from acme.client import ClientNetwork, ClientV2
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy import jwa, jwk

ACME_ERROR_PREFIX = "urn:ietf:params:acme:error:"
USER_AGENT = "Posh-ACME/4.32.0 PowerShell/5.1.17763.6054"
TIMEOUT = 30


class AcmeProblem(Exception):
    """An ACME problem document (what Posh-ACME throws as ``AcmeException``)."""

    def __init__(self, type_: str, detail: str, status: int, subproblems: list[Any] | None = None) -> None:
        super().__init__(detail)
        self.type = type_ if ":" in type_ else ACME_ERROR_PREFIX + type_
        self.detail = detail
        self.status = status
        self.subproblems = subproblems or []

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type, "status": self.status, "detail": self.detail}
        if self.subproblems:
            data["subproblems"] = self.subproblems
        return data


class AcmeConnectionError(Exception):
    """The ACME server could not be reached (what Invoke-WebRequest would report)."""


class _Network(ClientNetwork):
    """ClientNetwork that keeps the HTTP status of problems and retries badNonce once itself."""

    @classmethod
    def _check_response(
        cls, response: requests.Response, content_type: str | None = None
    ) -> requests.Response:
        if not response.ok:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and "type" in body:
                raise AcmeProblem(
                    str(body.get("type", "")),
                    str(body.get("detail", "")),
                    int(body.get("status", response.status_code) or response.status_code),
                    list(body.get("subproblems") or []),
                )
            if response.status_code == 404:
                raise AcmeProblem("malformed", "Page not found", 404)
        return super()._check_response(response, content_type=content_type)

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            return self._post_once(*args, **dict(kwargs))
        except AcmeProblem as problem:
            if problem.type == ACME_ERROR_PREFIX + "badNonce":
                return self._post_once(*args, **dict(kwargs))
            raise


def decode_base64url(text: str) -> bytes:
    """Posh-ACME's ConvertFrom-Base64Url -AsByteArray: url-safe or standard alphabet, padding optional."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    if len(cleaned) % 4 == 1:
        raise ValueError("Invalid Base64Url string")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except binascii.Error:
        raise ValueError("Invalid Base64Url string") from None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def new_account_key(key_length: str) -> tuple[jwk.JWK, str]:
    """(private JWK, JWS alg) for Posh-ACME's -KeyLength values (ec-256/384/521, RSA 2048..4096)."""
    text = key_length.lower()
    if text.startswith("ec-"):
        curve, alg = {
            "ec-256": (ec.SECP256R1(), "ES256"),
            "ec-384": (ec.SECP384R1(), "ES384"),
            "ec-521": (ec.SECP521R1(), "ES512"),
        }[text]
        return jwk.JWKEC(key=ec.generate_private_key(curve)), alg
    return jwk.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=int(text))), "RS256"


_ALGS: dict[str, jwa.JWASignature] = {
    "ES256": jwa.ES256,
    "ES384": jwa.ES384,
    "ES512": jwa.ES512,
    "RS256": jwa.RS256,
}


def jwk_to_json(key: jwk.JWK) -> dict[str, Any]:
    """The private JWK as Posh-ACME stores it in acct.json (including ``d``)."""
    return dict(json.loads(key.json_dumps()))


def jwk_from_json(data: dict[str, Any]) -> jwk.JWK:
    key = jwk.JWK.from_json(data)
    assert isinstance(key, jwk.JWK)
    return key


class AcmeSession:
    """One ACME server (directory) with an optional account key / account URL."""

    def __init__(
        self,
        directory_url: str,
        ca_bundle: Path | str | bool,
        *,
        key: jwk.JWK | None = None,
        alg: str = "ES256",
        account_url: str | None = None,
    ) -> None:
        verify: Any = str(ca_bundle) if isinstance(ca_bundle, Path) else ca_bundle
        self.directory_url = directory_url
        self.net = _Network(
            key, alg=_ALGS.get(alg, jwa.ES256), verify_ssl=verify, user_agent=USER_AGENT, timeout=TIMEOUT
        )
        try:
            response = self.net.get(directory_url)
        except requests.RequestException as exc:
            raise AcmeConnectionError(str(exc)) from None
        self.directory_json: dict[str, Any] = dict(response.json())
        self.client = ClientV2(messages.Directory.from_json(json.loads(response.text)), self.net)
        if account_url:
            self.set_account(account_url)

    def use_key(self, key: jwk.JWK, alg: str) -> None:
        self.net.key = key
        self.net.alg = _ALGS.get(alg, jwa.ES256)

    def set_account(self, account_url: str) -> None:
        self.net.account = messages.RegistrationResource(body=messages.Registration(), uri=account_url)

    @property
    def eab_required(self) -> bool:
        meta = self.directory_json.get("meta") or {}
        return bool(meta.get("externalAccountRequired"))

    def _post(self, url: str, obj: Any) -> requests.Response:
        try:
            return self.net.post(url, obj, new_nonce_url=self.directory_json["newNonce"])
        except requests.RequestException as exc:
            raise AcmeConnectionError(str(exc)) from None

    def get(self, url: str) -> dict[str, Any]:
        """POST-as-GET returning JSON."""
        return dict(self._post(url, None).json())

    # ----- accounts -------------------------------------------------------------------------------
    def register(
        self,
        contacts: list[str],
        *,
        tos: bool,
        eab_kid: str | None = None,
        eab_hmac: bytes | None = None,
        eab_alg: str = "HS256",
        only_existing: bool = False,
    ) -> tuple[str, dict[str, Any]]:
        """newAccount; returns (account URL, account JSON)."""
        assert self.net.key is not None
        eab = None
        if eab_kid is not None and eab_hmac is not None:
            eab = messages.ExternalAccountBinding.from_data(
                account_public_key=self.net.key.public_key(),
                kid=eab_kid,
                hmac_key=b64url(eab_hmac),
                directory=self.client.directory,
                hmac_alg=eab_alg,
            )
        fields: dict[str, Any] = {"contact": tuple(contacts)}
        if tos:
            fields["terms_of_service_agreed"] = True
        if eab is not None:
            fields["external_account_binding"] = eab
        if only_existing:
            fields["only_return_existing"] = True
        response = self._post(self.directory_json["newAccount"], messages.NewRegistration(**fields))
        location = response.headers.get("Location", "")
        self.set_account(location)
        return location, dict(response.json())

    def account(self, account_url: str) -> dict[str, Any]:
        return self.get(account_url)

    def update_contacts(self, account_url: str, contacts: list[str]) -> dict[str, Any]:
        response = self._post(account_url, messages.UpdateRegistration(contact=tuple(contacts)))
        return dict(response.json())

    # ----- orders ---------------------------------------------------------------------------------
    def new_order(self, domains: list[str]) -> tuple[str, dict[str, Any]]:
        identifiers = [messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=d) for d in domains]
        response = self._post(self.directory_json["newOrder"], messages.NewOrder(identifiers=identifiers))
        return response.headers.get("Location", ""), dict(response.json())

    def key_authorization(self, token: str) -> str:
        assert self.net.key is not None
        return f"{token}.{b64url(self.net.key.thumbprint())}"

    def answer_challenge(self, url: str) -> dict[str, Any]:
        return dict(self._post(url, challenges.HTTP01Response()).json())

    def finalize(self, url: str, csr_pem: bytes) -> dict[str, Any]:
        csr = x509.load_pem_x509_csr(csr_pem)
        return dict(self._post(url, messages.CertificateRequest(csr=csr)).json())

    def download(self, url: str) -> str:
        return self._post(url, None).text

    def revoke(self, cert_pem: bytes, reason: int) -> None:
        try:
            self.client.revoke(x509.load_pem_x509_certificate(cert_pem), reason)
        except requests.RequestException as exc:
            raise AcmeConnectionError(str(exc)) from None

"""Helpers for tests that use the lab (``tests/conftest.py`` provides the session ``lab`` fixture).

``LabHandle`` is what the fixture yields::

    lab.dir, lab.inventory, lab.data (lab.json), lab.ca_file, lab.ca_bundle
    lab.management("GET", "/status")          -> JSON (raises LabAPIError on HTTP errors)
    lab.host("host01")                        -> that host's lab.json entry (ports, URLs, root...)
    lab.claim("purpose")                      -> a host name no other test has claimed, reset to fresh
    lab.reset(name); lab.faults(name, **kw); lab.counters(name)
    lab.twin(name)                            -> a TwinHost view of the host's files (IIS state, certs)

Also an ACME client (certbot's ``acme`` library, not the lab's emulated Posh-ACME) that gets a real
Pebble certificate for a twin through http-01 on its webroot: :func:`issue_certificate`.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from poshbridge.lab.host import TwinHost

REPO_ROOT = Path(__file__).resolve().parent.parent
CHALLENGE_WEB_CONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<configuration>
  <system.webServer>
    <staticContent>
      <remove fileExtension="." />
      <mimeMap fileExtension="." mimeType="text/plain" />
    </staticContent>
  </system.webServer>
</configuration>
"""


class LabAPIError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


def run_lab_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """``python -m poshbridge lab ARGS`` from the repository root (the project is not installed)."""
    return subprocess.run(
        [sys.executable, "-m", "poshbridge", "lab", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def pebble_missing() -> str | None:
    """Why the lab cannot start here (None when pebble, pebble-challtestsrv and openssl exist)."""
    for binary in ("pebble", "pebble-challtestsrv", "openssl"):
        if shutil.which(binary) is None:
            return f"{binary} not found: install it with `apt-get install pebble` (and openssl)"
    return None


def require_pebble() -> None:
    """Skip (or, in CI, fail) when the lab's programs are not installed."""
    import pytest

    reason = pebble_missing()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the lab is required in CI: {reason}")
    pytest.skip(reason)


class _NoServices:
    """Tests read twin files directly; the lab's services live in the daemon process."""

    @property
    def ca_bundle(self) -> Path:
        raise AssertionError("use the LabHandle for the CA bundle")

    @property
    def pebble_directory(self) -> str:
        raise AssertionError("use the LabHandle for the Pebble directory")

    def register_issued(self, cert_pem: bytes) -> None:
        raise AssertionError("use LabHandle.register_issued")

    def register_revoked(self, cert_pem: bytes, reason: int) -> None:
        raise AssertionError("use LabHandle.register_revoked")

    def sleep(self, seconds: float) -> None:
        raise AssertionError("not in a test")


@dataclass
class LabHandle:
    dir: Path
    data: dict[str, Any]
    _claimed: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, lab_dir: Path) -> LabHandle:
        return cls(dir=lab_dir, data=json.loads((lab_dir / "lab.json").read_text("utf-8")))

    # ----- files and addresses ---------------------------------------------------------------------
    @property
    def inventory(self) -> Path:
        return Path(self.data["inventory"])

    @property
    def ca_file(self) -> Path:
        """The lab CA (trust anchor of WinRM HTTPS and Pebble's ACME listener)."""
        return Path(self.data["ca_file"])

    @property
    def ca_bundle(self) -> Path:
        """Lab CA + this Pebble start's root (verifies Pebble-issued site certificates too)."""
        return Path(self.data["ca_bundle"])

    @property
    def pebble_directory(self) -> str:
        return str(self.data["pebble_directory"])

    @property
    def host_names(self) -> list[str]:
        return sorted(self.data["hosts"])

    def host(self, name: str) -> dict[str, Any]:
        return dict(self.data["hosts"][name])

    def secret(self, name: str) -> str:
        """``winrm-password``, ``eab-kid`` or ``eab-hmac`` (tests only; never printed)."""
        return (self.dir / "secrets" / name).read_text("utf-8").strip()

    def twin(self, name: str) -> TwinHost:
        """A TwinHost over the host's files (IISState, CertStore, real_path) for direct inspection."""
        h = self.host(name)
        return TwinHost(
            name=name,
            root=Path(h["root"]),
            domains=list(h["domains"]),
            site_name=h["site"],
            winrm_http_port=h["winrm_http_port"],
            winrm_https_port=h["winrm_https_port"],
            site_http_port=h["site_http_port"],
            site_https_port=h["site_https_port"],
            services=_NoServices(),
        )

    # ----- management API --------------------------------------------------------------------------
    def management(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the lab's loopback URL
            self.data["management_url"] + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                message = json.loads(raw).get("error", raw.decode())
            except ValueError:
                message = raw.decode(errors="replace")
            raise LabAPIError(exc.code, message) from exc

    def reset(self, name: str) -> None:
        self.management("POST", f"/hosts/{name}/reset", {})

    def faults(self, name: str, **changes: Any) -> dict[str, Any]:
        """Set the given FaultConfig fields (none: just read them)."""
        if changes:
            return dict(self.management("POST", f"/hosts/{name}/faults", changes))
        return dict(self.management("GET", f"/hosts/{name}/faults"))

    def counters(self, name: str) -> dict[str, Any]:
        return dict(self.management("GET", f"/hosts/{name}/counters"))

    def reset_counters(self, name: str) -> dict[str, Any]:
        return dict(self.management("POST", f"/hosts/{name}/counters/reset", {}))

    def register_issued(self, cert_pem: bytes, lag: float | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"pem": cert_pem.decode()}
        if lag is not None:
            body["lag"] = lag
        return dict(self.management("POST", "/ocsp/issued", body))

    def register_revoked(self, cert_pem: bytes, reason: int = 0) -> dict[str, Any]:
        return dict(self.management("POST", "/ocsp/revoked", {"pem": cert_pem.decode(), "reason": reason}))

    # ----- host allocation -------------------------------------------------------------------------
    def claim(self, purpose: str) -> str:
        """A twin no other test of this session has claimed, reset to fresh. Tests that change a twin
        (files, IIS, certificates, tasks, faults) claim one so they never disturb each other."""
        with self._lock:
            free = [name for name in self.host_names if name not in self._claimed]
            if not free:
                raise RuntimeError(
                    f"all {len(self.host_names)} lab hosts are claimed ({self._claimed}); "
                    "raise --hosts in tests/conftest.py"
                )
            name = free[0]
            self._claimed[name] = purpose
        self.reset(name)
        return name

    def release(self, name: str) -> None:
        """Give a claimed twin back (the next claim resets it first)."""
        with self._lock:
            self._claimed.pop(name, None)


# ----- ACME (certbot's acme library) against the lab's Pebble ---------------------------------------------
@dataclass
class IssuedCertificate:
    cert_pem: bytes  # the leaf
    chain_pem: bytes  # the intermediate(s)
    fullchain_pem: bytes
    key_pem: bytes
    account: Any  # acme.client.ClientV2 (for revocation)

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def issuer(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.chain_pem)


def _split_pem(fullchain: str) -> list[bytes]:
    marker = "-----END CERTIFICATE-----"
    parts = [part for part in fullchain.split(marker) if part.strip()]
    return [(part + marker).strip().encode() + b"\n" for part in parts]


def acme_client(lab: LabHandle) -> Any:
    """An EAB-registered ``acme.client.ClientV2`` against the lab's Pebble."""
    import josepy as jose
    from acme import client, messages

    account_key = jose.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    net = client.ClientNetwork(account_key, user_agent="poshbridge-tests", verify_ssl=str(lab.ca_file))
    directory = client.ClientV2.get_directory(lab.pebble_directory, net)
    acme = client.ClientV2(directory, net)
    eab = messages.ExternalAccountBinding.from_data(
        account_public_key=account_key.public_key(),
        kid=lab.secret("eab-kid"),
        hmac_key=lab.secret("eab-hmac"),
        directory=directory,
    )
    acme.new_account(
        messages.NewRegistration.from_data(
            email="admin@poshbridge.test", terms_of_service_agreed=True, external_account_binding=eab
        )
    )
    return acme


def issue_certificate(
    lab: LabHandle, host_name: str, domains: list[str] | None = None, *, web_config: bool = True
) -> IssuedCertificate:
    """Get a Pebble certificate for ``domains`` (default: the host's) by http-01 on the twin's webroot.

    With ``web_config`` the challenge folder gets the manual's MIME fix, without which the lab's IIS
    answers 404.3 for the extensionless token (and Pebble's validation fails, as on a real IIS).
    """
    from acme import challenges, crypto_util

    twin = lab.twin(host_name)
    names = domains or list(twin.domains)
    challenge_dir = twin.real_path("C:\\inetpub\\wwwroot\\.well-known\\acme-challenge")
    challenge_dir.mkdir(parents=True, exist_ok=True)
    if web_config:
        (challenge_dir / "web.config").write_text(CHALLENGE_WEB_CONFIG, "utf-8")
    acme = acme_client(lab)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    order = acme.new_order(crypto_util.make_csr(key_pem, names))
    written: list[Path] = []
    try:
        for authz in order.authorizations:
            if authz.body.status.name == "valid":
                continue
            for challenge in authz.body.challenges:
                if isinstance(challenge.chall, challenges.HTTP01):
                    response, validation = challenge.response_and_validation(acme.net.key)
                    token_file = challenge_dir / challenge.chall.encode("token")
                    token_file.write_text(validation, "ascii")
                    written.append(token_file)
                    acme.answer_challenge(challenge, response)
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=60)
        order = acme.poll_and_finalize(order, deadline)
    finally:
        for path in written:
            path.unlink(missing_ok=True)
    parts = _split_pem(order.fullchain_pem)
    return IssuedCertificate(
        cert_pem=parts[0],
        chain_pem=b"".join(parts[1:]),
        fullchain_pem=order.fullchain_pem.encode(),
        key_pem=key_pem,
        account=acme,
    )


def thumbprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - the Windows thumbprint


def environ_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}


# ----- IIS bindings and TLS probes ----------------------------------------------------------------------
def self_signed(common_name: str, sans: list[str]) -> tuple[x509.Certificate, Any]:
    """A throw-away self-signed server certificate (for binding tests that need no CA)."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def pfx_bytes(
    cert: x509.Certificate,
    key: Any,
    chain: list[x509.Certificate] | None = None,
    password: str = "pfx-pass",  # noqa: S107 - a test PFX's password
) -> bytes:
    from cryptography.hazmat.primitives.serialization import pkcs12

    return pkcs12.serialize_key_and_certificates(
        b"poshbridge-test",
        key,
        cert,
        chain or None,
        serialization.BestAvailableEncryption(password.encode()),
    )


def bind_certificate(twin: TwinHost, pfx: bytes, password: str = "pfx-pass") -> str:  # noqa: S107
    """What Set-IISCertificate leaves behind: the PFX in LocalMachine\\My and the site's https binding
    on its port pointing at the thumbprint. Written straight into the twin's files."""
    thumb = twin.cert_store().import_pfx(pfx, password)
    iis = twin.iis()
    state = iis.load()
    for site in state["sites"].values():
        for binding in site["bindings"]:
            if binding["protocol"] == "https" and binding["binding_information"].split(":")[1] == str(
                twin.site_https_port
            ):
                binding["certificate_hash"] = thumb
                binding["certificate_store"] = "My"
    iis.save(state)
    return thumb


def served_certificate(port: int, server_name: str | None, cafile: Path | None = None) -> x509.Certificate:
    """The leaf a TLS client sees at 127.0.0.1:``port`` with SNI ``server_name`` (verified if cafile)."""
    import socket
    import ssl

    if cafile is not None:
        context = ssl.create_default_context(cafile=str(cafile))
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def http_get(
    port: int, path: str, host: str, *, tls_cafile: Path | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    """One request to 127.0.0.1:``port`` with a Host header (and, over TLS, SNI = ``host``, verified
    against ``tls_cafile``); (status, lower-cased headers, body)."""
    import http.client
    import socket
    import ssl

    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock: socket.socket = raw
    if tls_cafile is not None:
        sock = ssl.create_default_context(cafile=str(tls_cafile)).wrap_socket(raw, server_hostname=host)
    try:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        sock.close()

"""The lab CA: one self-signed EC P-256 root that signs the lab's TLS listener certificates.

It is NOT the ACME CA (Pebble generates its own root and intermediate at every start); it signs the
certificates of the endpoints a client talks to directly: Pebble's ACME listener (``localhost``,
``127.0.0.1``) and the twins' WinRM HTTPS listeners (``127.0.0.1``, ``localhost``, ``hostNN`` names).
Clients trust it through the CA file written to ``<labdir>/ca/lab-ca.pem``.

Files under ``<labdir>/ca`` (keys mode 0600)::

    lab-ca.pem / lab-ca.key          the CA (reused when the lab starts again in the same directory)
    pebble-listener.pem / .key       leaf for Pebble's ACME + management listeners
    winrm.pem / winrm.key            leaf for every twin's WinRM HTTPS listener
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_COMMON_NAME = "poshbridge lab CA"
CA_VALIDITY = datetime.timedelta(days=3650)
LEAF_VALIDITY = datetime.timedelta(days=825)


@dataclass(frozen=True)
class LeafFiles:
    cert: Path
    key: Path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only (0600 from the first byte)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class LabCA:
    """Create (or load) the lab CA in ``folder`` and issue server certificates from it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.cert_file = folder / "lab-ca.pem"
        self.key_file = folder / "lab-ca.key"
        if self.cert_file.exists() and self.key_file.exists():
            self.cert = x509.load_pem_x509_certificate(self.cert_file.read_bytes())
            key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{self.key_file} is not an EC private key")
            self.key = key
            now = datetime.datetime.now(datetime.timezone.utc)
            if self.cert.not_valid_after_utc - now > datetime.timedelta(days=30):
                return
        self._create()

    def _create(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "poshbridge lab"),
                x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME),
            ]
        )
        now = datetime.datetime.now(datetime.timezone.utc)
        ski = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(self.key, hashes.SHA256())
        )
        write_private(self.key_file, _key_pem(self.key))
        self.cert_file.parent.mkdir(parents=True, exist_ok=True)
        self.cert_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue_server_cert(self, stem: str, dns_names: list[str], ips: list[str]) -> LeafFiles:
        """Issue a TLS server certificate for ``dns_names`` + ``ips``; write ``<stem>.pem``/``.key``.

        The ``.pem`` holds the leaf followed by the CA certificate (a full chain for TLS servers).
        """
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        common_name = dns_names[0] if dns_names else ips[0]
        san: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
        san += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + LEAF_VALIDITY)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        files = LeafFiles(cert=self.folder / f"{stem}.pem", key=self.folder / f"{stem}.key")
        write_private(files.key, _key_pem(key))
        files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + self.cert_pem)
        return files

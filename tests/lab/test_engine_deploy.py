"""Set-IISCertificate as Posh-ACME.Deploy 2.1.0 does it (issue 8 items 3 and 8), in-process.

rmbolger/Posh-ACME.Deploy Posh-ACME.Deploy/Public/Set-IISCertificate.ps1: the begin block needs
IISAdministration >= 1.1.0.0 (terminating error otherwise); the process block starts from the existing
binding's sslFlags and changes only the switches passed; Private/Remove-OldCert.ps1 deletes the
replaced certificate from LocalMachine\\My without looking at other bindings.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12
from cryptography.x509.oid import NameOID
from test_engine_kit import Twin, prepare_gallery

SITE = "host01.poshbridge.test"


def _pfx(name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return pkcs12.serialize_key_and_certificates(None, key, cert, None, NoEncryption())


@pytest.fixture
def twin(tmp_path: Path) -> Twin:
    return Twin(tmp_path)


def _install(twin: Twin, name: str) -> str:
    return twin.host.cert_store().import_pfx(_pfx(name), None)


def _binding(twin: Twin, info: str, site: str = SITE) -> dict:
    state = twin.host.iis().load()
    return next(b for b in state["sites"][site]["bindings"] if b["binding_information"] == info)


def _set_binding(twin: Twin, info: str, **values: object) -> None:
    state = twin.host.iis().load()
    for binding in state["sites"][SITE]["bindings"]:
        if binding["binding_information"] == info:
            binding.update(values)
    twin.host.iis().save(state)


def test_the_existing_bindings_ssl_flags_are_kept_and_only_passed_switches_change(twin: Twin) -> None:
    old, new = _install(twin, "old"), _install(twin, "new")
    # an admin set SNI + DisableHTTP2 + DisableTLS13 (1 + 4 + 32) on the binding by hand
    _set_binding(twin, "*:8443:", certificate_hash=old, ssl_flags=37)
    result = twin.run(("Set-IISCertificate", {"CertThumbprint": new, "SiteName": SITE, "Port": 8443}))
    assert result.errors == [] and result.terminating is None
    assert (_binding(twin, "*:8443:")["certificate_hash"], _binding(twin, "*:8443:")["ssl_flags"]) == (
        new,
        37,
    )
    # -DisableOCSPStapling adds its bit; nothing else moves
    twin.run(("Set-IISCertificate", {"CertThumbprint": new, "SiteName": SITE, "Port": 8443,
                                     "DisableOCSPStapling": None}))  # fmt: skip
    assert _binding(twin, "*:8443:")["ssl_flags"] == 45
    # -RequireSNI:$false is an "Ensure Unset" done with -bxor in the source: it toggles the bit
    twin.run(
        ("Set-IISCertificate", {"CertThumbprint": new, "SiteName": SITE, "Port": 8443, "RequireSNI": False})
    )
    assert _binding(twin, "*:8443:")["ssl_flags"] == 44


def test_remove_old_cert_deletes_the_replaced_certificate_even_when_another_binding_uses_it(
    twin: Twin,
) -> None:
    old, new = _install(twin, "old"), _install(twin, "new")
    state = twin.host.iis().load()
    state["sites"]["other"] = {
        "id": 2,
        "physical_path": "C:\\inetpub\\other",
        "state": "Started",
        "bindings": [{"protocol": "https", "binding_information": "*:9443:", "certificate_hash": old,
                      "certificate_store": "My", "ssl_flags": 0}],
    }  # fmt: skip
    twin.host.iis().save(state)
    _set_binding(twin, "*:8443:", certificate_hash=old)
    result = twin.run(
        ("Set-IISCertificate", {"CertThumbprint": new, "SiteName": SITE, "Port": 8443, "RemoveOldCert": None})
    )
    assert result.errors == []
    assert twin.host.cert_store().path(old) is None  # gone from LocalMachine\My ...
    assert _binding(twin, "*:9443:", "other")["certificate_hash"] == old  # ... while site "other" uses it
    assert twin.host.cert_store().path(new) is not None


def test_without_iis_administration_1_1_the_function_throws_a_terminating_error(twin: Twin) -> None:
    new = _install(twin, "new")
    twin.host.faults.iis_administration_inbox = True  # Windows Server 2016: in-box 1.0.0.0 only
    listed = twin.run(("Get-Module", {"Name": "IISAdministration", "ListAvailable": None})).output
    assert [str(m.Version) for m in listed] == ["1.0.0.0"]
    result = twin.run(("Set-IISCertificate", {"CertThumbprint": new, "SiteName": SITE, "Port": 8443}))
    assert result.terminating is not None
    assert result.terminating.message.startswith(
        "The IISAdministration module version 1.1.0.0 or newer is required to use this function."
    )
    assert _binding(twin, "*:8443:")["certificate_hash"] is None
    # Install-Module IISAdministration puts 1.1.0.0 beside the in-box one; then the binding works
    prepare_gallery(twin)
    twin.run(("Install-Module", {"Name": "IISAdministration", "Force": None, "Scope": "AllUsers"}))
    result = twin.run(("Set-IISCertificate", {"CertThumbprint": new, "SiteName": SITE, "Port": 8443}))
    assert result.terminating is None and _binding(twin, "*:8443:")["certificate_hash"] == new

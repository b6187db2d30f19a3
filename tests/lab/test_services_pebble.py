"""The lab's ACME side: Pebble with EAB required and 90-day certificates, and the lab DNS.

Given the session lab, when an ACME client registers without EAB, then Pebble refuses with
externalAccountRequired (what Posh-ACME reports against an EAB CA); the lab DNS sends every lab
name to 127.0.0.1; Pebble runs with no VA sleep and no nonce rejection.
"""

from __future__ import annotations

import json

import josepy as jose
import pytest
from acme import client, errors, messages
from cryptography.hazmat.primitives.asymmetric import rsa
from labkit import LabHandle, acme_client

from poshbridge.lab.services.dns import dns_query_a


def test_directory_requires_eab_and_refuses_an_account_without_it(lab: LabHandle) -> None:
    key = jose.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    net = client.ClientNetwork(key, user_agent="poshbridge-tests", verify_ssl=str(lab.ca_file))
    directory = client.ClientV2.get_directory(lab.pebble_directory, net)
    assert directory.meta.external_account_required is True
    acme = client.ClientV2(directory, net)
    with pytest.raises((messages.Error, errors.Error)) as refused:
        acme.new_account(
            messages.NewRegistration.from_data(email="admin@poshbridge.test", terms_of_service_agreed=True)
        )
    assert getattr(refused.value, "typ", "") == "urn:ietf:params:acme:error:externalAccountRequired"


def test_eab_registration_with_the_labs_keys_works(lab: LabHandle) -> None:
    account = acme_client(lab)
    assert account.net.account is not None
    assert account.net.account.body.status == "valid"


def test_lab_dns_answers_every_name_with_loopback(lab: LabHandle) -> None:
    port = int(lab.data["dns"]["address"].rsplit(":", 1)[1])
    for name in ("host01.poshbridge.test", "www.host07.poshbridge.test", "anything.example"):
        assert dns_query_a(name, port) == ["127.0.0.1"]


def test_pebble_runs_with_the_documented_settings(lab: LabHandle) -> None:
    log = (lab.dir / "logs" / "pebble.log").read_text()
    assert "Disabling random VA sleeps" in log  # PEBBLE_VA_NOSLEEP=1
    assert "Configured to reject 0% of good nonces" in log  # PEBBLE_WFE_NONCEREJECT=0
    assert "Using certificate validity period of 7776000 seconds" in log
    config = json.loads((lab.dir / "pebble" / "pebble-config.json").read_text())["pebble"]
    assert config["listenAddress"].startswith("127.0.0.1:")
    assert config["managementListenAddress"].startswith("127.0.0.1:")
    assert config["httpPort"] == lab.data["pebble"]["http_port"]
    assert config["ocspResponderURL"] == lab.data["ocsp"]["url"]
    assert config["externalAccountBindingRequired"] is True
    assert (lab.dir / "pebble" / "pebble-config.json").stat().st_mode & 0o777 == 0o600

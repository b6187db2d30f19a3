"""The emulated Posh-ACME against the lab's real Pebble (EAB, http-01 through the twin's IIS front).

The cmdlets run in-process on a twin of the session lab (its files, its webroot served by the lab's
site servers, Pebble validating over the lab DNS); only the LabServices bridge is local.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from labkit import CHALLENGE_WEB_CONFIG, LabHandle
from psrpcore.types import PSSecureString
from test_engine_kit import Twin, prepare_gallery

from poshbridge.lab.engine.contract import RunspaceState
from poshbridge.lab.engine.values import ps_properties
from poshbridge.lab.host import TwinHost

HOME = "C:\\ProgramData\\poshbridge\\Posh-ACME"
CERT_PROPERTIES = [
    "Subject",
    "NotBefore",
    "NotAfter",
    "KeyLength",
    "Thumbprint",
    "ARIId",
    "Serial",
    "AllSANs",
    "CertFile",
    "KeyFile",
    "ChainFile",
    "FullChainFile",
    "PfxFile",
    "PfxFullChain",
    "CSR",
    "PfxPass",
]
EAB_MESSAGE = (
    "The current ACME server requires external account credentials to create a new ACME account. "
    "Please run New-PAAccount with the ExtAcctKID and ExtAcctHMACKey parameters."
)


class _Services:
    def __init__(self, lab: LabHandle) -> None:
        self.lab = lab

    @property
    def ca_bundle(self) -> Path:
        return Path(self.lab.ca_bundle)

    @property
    def pebble_directory(self) -> str:
        return str(self.lab.pebble_directory)

    def register_issued(self, cert_pem: bytes) -> None:
        self.lab.register_issued(cert_pem)

    def register_revoked(self, cert_pem: bytes, reason: int) -> None:
        self.lab.register_revoked(cert_pem, reason)

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, 0.1))


def _twin(lab: LabHandle, name: str) -> Twin:
    h = lab.host(name)
    twin = Twin.__new__(Twin)
    twin.services = _Services(lab)
    twin.host = TwinHost(
        name=name,
        root=Path(h["root"]),
        domains=list(h["domains"]),
        site_name=h["site"],
        winrm_http_port=h["winrm_http_port"],
        winrm_https_port=h["winrm_https_port"],
        site_http_port=h["site_http_port"],
        site_https_port=h["site_https_port"],
        services=twin.services,
    )
    twin.runspace = RunspaceState()
    return twin


def _ready(twin: Twin, lab: LabHandle) -> None:
    twin.run(("New-Item", {"ItemType": "Directory", "Path": HOME, "Force": None}))
    twin.run(("Set-Item", {"Path": "Env:POSHACME_HOME", "Value": HOME}))
    server = twin.run(("Set-PAServer", {"DirectoryUrl": lab.pebble_directory, "DisableTelemetry": None}))
    assert server.terminating is None, server.terminating


def _account(twin: Twin, lab: LabHandle) -> Any:
    created = twin.run(
        (
            "New-PAAccount",
            {
                "ExtAcctKID": lab.secret("eab-kid"),
                "ExtAcctHMACKey": lab.secret("eab-hmac"),
                "Contact": ["admin@poshbridge.test"],
                "AcceptTOS": None,
                "Force": None,
            },
        )
    )
    assert created.terminating is None, created.terminating
    return created.output[0]


def _new_cert(twin: Twin, **extra: Any) -> Any:
    return twin.run(
        (
            "New-PACertificate",
            {
                "Domain": list(twin.host.domains),
                "Plugin": "WebRoot",
                "PluginArgs": {"WRPath": "C:\\inetpub\\wwwroot"},
                **extra,
            },
        )
    )


def _web_config(twin: Twin) -> None:
    twin.run(
        ("New-Item", {"ItemType": "Directory", "Path": "C:\\inetpub\\wwwroot\\.well-known", "Force": None})
    )
    result = twin.run(
        (
            "Set-Content",
            {
                "LiteralPath": "C:\\inetpub\\wwwroot\\.well-known\\web.config",
                "Value": CHALLENGE_WEB_CONFIG,
                "Encoding": "UTF8",
                "Force": None,
            },
        )
    )
    assert result.errors == [] and result.terminating is None


def _served_thumbprint(port: int, sni: str) -> str:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=sni) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303


def test_new_account_without_eab_fails_with_posh_acmes_message(lab: LabHandle, lab_host: str) -> None:
    twin = _twin(lab, lab_host)
    _ready(twin, lab)
    result = twin.run(
        ("New-PAAccount", {"Contact": ["admin@poshbridge.test"], "AcceptTOS": None, "Force": None})
    )
    assert result.terminating is not None
    assert result.terminating.message == EAB_MESSAGE
    assert twin.run(("Get-PAAccount", {"List": None})).output == []


def test_eab_issuance_renewal_install_and_revocation(lab: LabHandle, lab_host: str) -> None:
    twin = _twin(lab, lab_host)
    _ready(twin, lab)
    account = _account(twin, lab)
    assert account.PSObject.type_names[0] == "PoshACME.PAAccount"
    assert ps_properties(account)["status"] == "valid"
    assert ps_properties(account)["contact"] == ["mailto:admin@poshbridge.test"]

    # Given a stock IIS site, http-01 fails as the manual describes ...
    main = twin.host.domains[0]
    failed = _new_cert(twin)
    assert failed.terminating is not None
    assert failed.terminating.message.startswith("Authorization invalid for ")
    assert any(
        failed.terminating.message.startswith(f"Authorization invalid for {d}: ") for d in twin.host.domains
    )
    assert failed.terminating.exception_data is None
    assert list(twin.c("C:\\inetpub\\wwwroot\\.well-known\\acme-challenge").iterdir()) == []  # tokens removed

    # ... until the MIME fix is in place.
    _web_config(twin)
    issued = _new_cert(twin, Verbose=None)
    assert issued.terminating is None, issued.terminating
    [cert] = issued.output
    assert cert.PSObject.type_names[0] == "PoshACME.PACertificate"
    props = ps_properties(cert)
    assert list(props) == CERT_PROPERTIES
    assert isinstance(props["PfxPass"], PSSecureString)
    assert str(props["PfxPass"].decrypt()) == "poshacme"
    assert props["Subject"] == f"CN={main}"
    assert props["AllSANs"] == list(twin.host.domains)
    assert props["KeyLength"] == "2048"
    folder = twin.c(props["CertFile"]).parent
    leaf = x509.load_pem_x509_certificate((folder / "cert.cer").read_bytes())
    assert props["Thumbprint"] == leaf.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303
    assert props["NotAfter"] == leaf.not_valid_after_utc
    for name in ("cert.key", "chain.cer", "fullchain.cer", "cert.pfx", "fullchain.pfx", "request.csr"):
        assert (folder / name).is_file(), name
    order = ps_properties(twin.run(("Get-PAOrder", {})).output[0])
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    renew_after = leaf.not_valid_after_utc - min(datetime.timedelta(days=30), lifetime / 3)
    assert order["RenewAfter"] == renew_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert order["status"] == "valid"
    assert "Finalizing the order." in issued.verbose

    # The same command again: the order is complete, nothing is output.
    again = _new_cert(twin)
    assert again.output == [] and again.terminating is None
    assert again.warnings == [
        "This certificate order has already been completed. Use -Force to overwrite the current certificate."
    ]

    # Submit-Renewal before RenewAfter: the 4.7+ warning and no output; -Force renews.
    not_due = twin.run(("Submit-Renewal", {}))
    assert not_due.output == [] and not_due.errors == [] and not_due.terminating is None
    assert not_due.warnings == [f"Order '{main}' is not recommended for renewal yet. Use -Force to override."]
    forced = twin.run(("Submit-Renewal", {"Name": main, "Force": None, "Verbose": None}))
    assert forced.terminating is None, forced.terminating
    assert f"Renewing certificate for order '{main}'" in forced.verbose
    [renewed] = forced.output
    assert ps_properties(renewed)["Thumbprint"] != props["Thumbprint"]
    assert (folder / "cert.cer.bak").is_file() and (folder / "fullchain.pfx.bak").is_file()

    # Install it in IIS through the pipeline (Thumbprint, PfxFile, PfxPass bind by property name).
    port = twin.host.site_https_port
    installed = twin.run(
        [
            ("Get-PACertificate", {}),
            ("Set-IISCertificate", {"SiteName": twin.host.site_name, "Port": port, "Verbose": None}),
        ]
    )
    assert installed.terminating is None and installed.errors == [] and installed.output == []
    thumb = ps_properties(renewed)["Thumbprint"]
    assert installed.verbose == [
        f"Importing cert with thumbprint {thumb} to LocalMachine\\My",
        f"Deleting IIS site binding for *:{port}:",
        f"Adding IIS site binding for *:{port}:",
    ]
    assert twin.host.cert_store().path(thumb) is not None
    assert _served_thumbprint(port, main) == thumb
    missing_site = twin.run([("Get-PACertificate", {}), ("Set-IISCertificate", {"SiteName": "nope"})])
    assert missing_site.terminating is None
    assert missing_site.errors[0].message == "Site nope not found."

    # Revocation needs -Force over WinRM; a second revocation is Pebble's ACME problem.
    prompt = twin.run(("Revoke-PACertificate", {"Name": main}))
    assert (
        prompt.terminating is not None and "does not support user interaction" in prompt.terminating.message
    )
    revoked = twin.run(("Revoke-PACertificate", {"Name": main, "Force": None, "Reason": "keyCompromise"}))
    assert revoked.terminating is None and revoked.output == [] and revoked.errors == []
    twice = twin.run(("Revoke-PACertificate", {"Name": main, "Force": None})).terminating
    assert twice is not None
    assert twice.exception_type == "AcmeException"
    assert twice.exception_data is not None
    assert twice.exception_data["type"] == "urn:ietf:params:acme:error:alreadyRevoked"
    assert twice.message == twice.exception_data["detail"]


def test_injected_acme_error_surfaces_like_posh_acme(lab: LabHandle, lab_host: str) -> None:
    twin = _twin(lab, lab_host)
    _ready(twin, lab)
    _account(twin, lab)
    _web_config(twin)
    twin.host.faults.acme_error_next_order = {
        "type": "urn:ietf:params:acme:error:rejectedIdentifier",
        "detail": "The server will not issue certificates for the identifier",
        "status": 400,
    }
    failed = _new_cert(twin).terminating
    assert failed is not None
    assert failed.message == "The server will not issue certificates for the identifier"
    assert failed.exception_type == "AcmeException"
    assert failed.exception_data == {
        "type": "urn:ietf:params:acme:error:rejectedIdentifier",
        "status": 400,
        "detail": "The server will not issue certificates for the identifier",
    }
    assert twin.host.faults.acme_error_next_order is None
    assert _new_cert(twin).terminating is None  # the fault fires once


@pytest.mark.parametrize("missing", ["Posh-ACME"])
def test_posh_acme_cmdlets_need_the_module(lab: LabHandle, lab_host: str, missing: str) -> None:
    twin = _twin(lab, lab_host)
    import shutil

    shutil.rmtree(twin.c(f"C:\\Program Files\\WindowsPowerShell\\Modules\\{missing}"))
    assert twin.run(("Set-PAServer", {"DirectoryUrl": lab.pebble_directory})).terminating is not None
    prepare_gallery(twin)
    assert twin.run(("Install-Module", {"Name": missing, "Force": None})).errors == []
    _ready(twin, lab)


def test_set_pa_order_selection_and_messages_follow_posh_acme(lab: LabHandle, lab_host: str) -> None:
    """Issue 8 item 9, Posh-ACME Public/Set-PAOrder.ps1: -Name wins; -MainDomain alone must match one
    order; each miss is a Write-Error (non-terminating); with no account, the Begin block throws."""
    twin = _twin(lab, lab_host)
    _ready(twin, lab)
    no_account = twin.run(("Set-PAOrder", {"Name": "x"})).terminating
    assert no_account is not None
    assert no_account.message == "No ACME account configured. Run Set-PAAccount or New-PAAccount first."
    order = twin.run(("Get-PAOrder", {})).terminating
    assert order is not None and order.message == no_account.message
    _account(twin, lab)
    main = twin.host.domains[0]

    def errors(params: dict[str, Any]) -> list[str]:
        result = twin.run(("Set-PAOrder", params))
        assert result.terminating is None
        return [e.message for e in result.errors]

    assert errors({}) == ["No ACME order configured. Run New-PAOrder or specify a Name or MainDomain."]
    assert errors({"Name": "nope"}) == ["No order found matching Name 'nope'"]
    assert errors({"MainDomain": "nope.test"}) == ["No order found matching MainDomain 'nope.test'."]
    _web_config(twin)
    assert _new_cert(twin).terminating is None
    assert _new_cert(twin, Name="second").terminating is None
    assert errors({"MainDomain": main}) == [
        f"Multiple orders found for MainDomain '{main}'. Please specify Name as well."
    ]
    # -Name selects even when -MainDomain does not match it (Set-PAOrder uses Get-PAOrder -Name)
    assert errors({"Name": main, "MainDomain": "other.test"}) == []
    assert ps_properties(twin.run(("Get-PAOrder", {})).output[0])["Name"] == main
    assert errors({"Name": "second"}) == []
    assert ps_properties(twin.run(("Get-PAOrder", {})).output[0])["Name"] == "second"
    # the duplicate-account prompt in New-PAAccount's words (ShouldContinue query)
    dup = twin.run(
        (
            "New-PAAccount",
            {
                "ExtAcctKID": lab.secret("eab-kid"),
                "ExtAcctHMACKey": lab.secret("eab-hmac"),
                "Contact": ["admin@poshbridge.test"],
                "AcceptTOS": None,
            },
        )
    ).terminating
    assert dup is not None and dup.message.endswith("with the following message: Do you wish to duplicate?")

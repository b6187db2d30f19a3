"""Posh-ACME parameter sets and messages as rmbolger/Posh-ACME 4.32.0 declares them, in-process (no CA:
the config is laid out on disk as Posh-ACME writes it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_engine_kit import Twin

HOME = "C:\\ProgramData\\poshbridge\\Posh-ACME"
ORDER = "host01.poshbridge.test"


@pytest.fixture
def twin(tmp_path: Path) -> Twin:
    twin = Twin(tmp_path)
    root = twin.c(HOME)
    server = root / "127.0.0.1_14000"
    order = server / "acct1" / ORDER
    order.mkdir(parents=True)
    (root / "current-server.txt").write_text("https://127.0.0.1:14000/dir\r\n")
    (server / "dir.json").write_text(json.dumps({"location": "https://127.0.0.1:14000/dir", "meta": {}}))
    (server / "current-account.txt").write_text("acct1\r\n")
    (server / "acct1" / "acct.json").write_text(
        json.dumps({"status": "valid", "contact": [], "location": "https://127.0.0.1:14000/my-account/1",
                    "key": {}, "alg": "ES256", "KeyLength": "ec-256"})
    )  # fmt: skip
    (server / "acct1" / "current-order.txt").write_text(f"{ORDER}\r\n")
    (order / "order.json").write_text(
        json.dumps({"status": "valid", "MainDomain": ORDER, "SANs": [], "KeyLength": "2048",
                    "Plugin": ["WebRoot"], "PfxPassB64U": "cG9zaGFjbWU"})
    )  # fmt: skip
    twin.host.set_machine_env("POSHACME_HOME", HOME)
    return twin


def _order(twin: Twin) -> dict[str, object]:
    path = twin.c(f"{HOME}\\127.0.0.1_14000\\acct1\\{ORDER}\\order.json")
    return dict(json.loads(path.read_text("utf-8-sig")))


def test_set_pa_server_with_an_unknown_name_says_posh_acmes_words(twin: Twin) -> None:
    # Public/Set-PAServer.ps1: throw "No PAServer found with Name '$Name'." -> ThrowTerminatingError
    result = twin.run(("Set-PAServer", {"Name": "nope"}))
    assert result.terminating is not None
    assert result.terminating.message == "No PAServer found with Name 'nope'."
    assert result.terminating.fully_qualified_error_id == "No PAServer found with Name 'nope'.,Set-PAServer"


def test_set_pa_order_edit_set_has_dns_variant_modern_pfx_and_profile(twin: Twin) -> None:
    # Public/Set-PAOrder.ps1 param(): [ValidateSet('dns-01','dns-account-01')][string]$DnsVariant,
    # [switch]$UseModernPfxEncryption, [string]$Profile, all in the Edit set.
    done = twin.run(("Set-PAOrder", {"Name": ORDER, "DnsVariant": "dns-account-01",
                                     "UseModernPfxEncryption": None}))  # fmt: skip
    assert done.terminating is None and done.errors == []
    assert _order(twin)["DnsVariant"] == "dns-account-01" and _order(twin)["UseModernPfxEncryption"] is True
    wrong = twin.run(("Set-PAOrder", {"Name": ORDER, "DnsVariant": "http-01"}))
    assert wrong.terminating is not None
    assert wrong.terminating.fully_qualified_error_id == "ParameterArgumentValidationError,Set-PAOrder"
    # the lab's CA has no profiles: Get-PAProfile lists none, so the Else branch warns and ignores it
    profile = twin.run(("Set-PAOrder", {"Name": ORDER, "Profile": "shortlived"}))
    assert profile.terminating is None and profile.errors == []
    assert profile.warnings == [
        "Profile 'shortlived' is not currently supported on this ACME server. Ignoring profile selection."
    ]
    assert "Profile" not in _order(twin)
    # Edit and Revoke parameters cannot be mixed
    mixed = twin.run(("Set-PAOrder", {"Name": ORDER, "Profile": "x", "RevokeCert": None}))
    assert mixed.terminating is not None
    assert mixed.terminating.fully_qualified_error_id == "AmbiguousParameterSet,Set-PAOrder"


def test_set_pa_order_revoke_set_needs_revoke_cert(twin: Twin) -> None:
    # [Parameter(ParameterSetName='Revoke', Mandatory)][switch]$RevokeCert: -Force alone selects the
    # Revoke set, whose mandatory switch is missing (a non-interactive host cannot prompt for it)
    result = twin.run(("Set-PAOrder", {"Name": ORDER, "Force": None}))
    assert result.terminating is not None
    assert result.terminating.fully_qualified_error_id == "MissingMandatoryParameter,Set-PAOrder"
    assert "RevokeCert" in result.terminating.message

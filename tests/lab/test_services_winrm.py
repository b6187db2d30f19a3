"""The daemon's twins as a WinRM client sees them: raw pypsrp 0.9.1 (not poshbridge's client).

Given ``lab up``, when pypsrp connects to a twin's HTTPS listener verifying the lab CA file (the
inventory's ``verify``) or to its HTTP listener with NTLM message encryption, using the password from
the lab's secret file, then it opens a runspace pool and runs cmdlets; a wrong password is an
AuthenticationError.
"""

from __future__ import annotations

import pytest
from labkit import LabHandle
from pypsrp.exceptions import AuthenticationError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan


def _wsman(lab: LabHandle, host: str, *, https: bool, password: str | None = None) -> WSMan:
    h = lab.host(host)
    return WSMan(
        "127.0.0.1",
        port=h["winrm_https_port"] if https else h["winrm_http_port"],
        ssl=https,
        auth="negotiate",
        encryption="auto",
        username="certadmin",
        password=password if password is not None else lab.secret("winrm-password"),
        cert_validation=str(lab.ca_file) if https else False,
        connection_timeout=10,
        operation_timeout=10,
        read_timeout=20,
    )


@pytest.mark.parametrize("https", [True, False], ids=["https-lab-ca", "http-ntlm-sealed"])
def test_get_module_list_available_shows_posh_acme(lab: LabHandle, https: bool) -> None:
    with RunspacePool(_wsman(lab, "host01", https=https)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Module").add_parameter("ListAvailable", True)
        output = ps.invoke()
    assert not ps.had_errors, [str(e) for e in ps.streams.error]
    names = {str(getattr(module, "adapted_properties", {}).get("Name") or module) for module in output}
    assert {"Posh-ACME", "Posh-ACME.Deploy"} <= names, names


def test_wrong_password_is_an_authentication_error(lab: LabHandle) -> None:
    with pytest.raises(AuthenticationError):
        RunspacePool(_wsman(lab, "host02", https=True, password="not-the-password")).open()

"""Folder ACLs on the twin (issue 8 item 5): Get-Acl / Set-Acl / New-Object DirectorySecurity, in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_engine_kit import Twin

from poshbridge.lab.engine.values import ps_properties

HOME = "C:\\ProgramData\\poshbridge\\Posh-ACME"
SDDL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
NEW_SECURITY = ("New-Object", {"TypeName": "System.Security.AccessControl.DirectorySecurity",
                               "Property": {"SetSecurityDescriptorSddlForm": SDDL}})  # fmt: skip


@pytest.fixture
def twin(tmp_path: Path) -> Twin:
    t = Twin(tmp_path)
    t.run(("New-Item", {"ItemType": "Directory", "Path": HOME, "Force": None}))
    return t


def _acl(twin: Twin, path: str = HOME) -> dict:
    result = twin.run(("Get-Acl", {"LiteralPath": path}))
    assert result.errors == [], result.errors
    return ps_properties(result.output[0])


def test_a_folder_under_programdata_inherits_read_for_users(twin: Twin) -> None:
    acl = _acl(twin)
    assert acl["Sddl"].startswith("O:BAG:SYD:AI(")  # not protected: inherits
    assert "(A;OICIID;0x1200a9;;;BU)" in acl["Sddl"]  # BUILTIN\Users: read & execute, inherited
    assert "BUILTIN\\Users Allow  ReadAndExecute, Synchronize" in acl["AccessToString"]
    assert acl["AreAccessRulesProtected"] is False
    assert acl["Path"] == "Microsoft.PowerShell.Core\\FileSystem::" + HOME


def test_set_acl_with_a_directory_security_built_by_new_object(twin: Twin) -> None:
    result = twin.run([NEW_SECURITY, ("Set-Acl", {"LiteralPath": HOME})])
    assert result.errors == [] and result.terminating is None and result.output == []
    acl = _acl(twin)
    assert acl["Sddl"] == "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
    assert acl["AreAccessRulesProtected"] is True
    assert (
        acl["AccessToString"]
        == "NT AUTHORITY\\SYSTEM Allow  FullControl\nBUILTIN\\Administrators Allow  FullControl"
    )
    # what is created below inherits only SYSTEM and Administrators
    twin.run(("New-Item", {"ItemType": "Directory", "Path": HOME + "\\acct", "Force": None}))
    assert _acl(twin, HOME + "\\acct")["Sddl"] == "O:BAG:SYD:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)"
    twin.run(("Set-Content", {"LiteralPath": HOME + "\\acct\\acct.json", "Value": "{}"}))
    assert _acl(twin, HOME + "\\acct\\acct.json")["Sddl"] == "O:BAG:SYD:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)"


def test_set_acl_refuses_what_is_not_a_live_object_security(twin: Twin) -> None:
    # a deserialized object or a string cannot be an -AclObject (SetAclCommand: `as ObjectSecurity`)
    result = twin.run(("Set-Acl", {"LiteralPath": HOME, "AclObject": SDDL}))
    assert (
        result.errors[0].fully_qualified_error_id
        == "SetAcl_AclObject,Microsoft.PowerShell.Commands.SetAclCommand"
    )
    bad = twin.run([("New-Object", {"TypeName": "System.Security.AccessControl.DirectorySecurity",
                                    "Property": {"SetSecurityDescriptorSddlForm": "D:(nonsense"}}),
                    ("Set-Acl", {"LiteralPath": HOME})])  # fmt: skip
    assert "The SDDL form of a security descriptor object is invalid." in bad.errors[0].message
    assert _acl(twin)["AreAccessRulesProtected"] is False
    missing = twin.run([NEW_SECURITY, ("Set-Acl", {"LiteralPath": "C:\\nope"})])
    assert missing.errors[0].message == "Cannot find path 'C:\\nope' because it does not exist."

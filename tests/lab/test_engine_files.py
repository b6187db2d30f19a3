"""Files on the sandboxed C:\\ drive, the Env: drive and the module list (in-process, no network)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from psrpcore.types import PSByte
from test_engine_kit import MODULES, Twin, prepare_gallery

from poshbridge.lab.engine.contract import RunspaceState
from poshbridge.lab.engine.objects import ObjectArray
from poshbridge.lab.engine.values import ps_properties


@pytest.fixture
def twin(tmp_path: Path) -> Twin:
    return Twin(tmp_path)


# ----- the sandbox -----------------------------------------------------------------------------------
def test_dot_dot_cannot_leave_the_drive(twin: Twin, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("secret")
    result = twin.run(("Get-Content", {"LiteralPath": "C:\\..\\..\\..\\outside.txt"}))
    assert result.output == []
    assert result.errors[0].message == "Cannot find path 'C:\\outside.txt' because it does not exist."
    twin.run(("Set-Content", {"Path": "C:\\..\\..\\escape.txt", "Value": "x"}))
    assert not (tmp_path / "escape.txt").exists()
    assert twin.c("C:\\escape.txt").exists()


def test_other_drives_and_unc_paths_are_errors_and_never_touched(twin: Twin) -> None:
    other = twin.run(("Set-Content", {"Path": "D:\\x.txt", "Value": "x"}))
    assert other.errors[0].message == "Cannot find drive. A drive with the name 'D' does not exist."
    assert (
        other.errors[0].fully_qualified_error_id
        == "DriveNotFound,Microsoft.PowerShell.Commands.SetContentCommand"
    )
    unc = twin.run(("Get-ChildItem", {"Path": "\\\\server\\share"}))
    assert unc.errors[0].fully_qualified_error_id.startswith("PathOutsideLabSandbox,")
    assert twin.run(("Test-Path", {"Path": "D:\\x"})).output == [False]


def test_a_symlink_pointing_out_of_the_sandbox_is_refused(twin: Twin, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "loot.txt").write_text("loot")
    os.symlink(outside, twin.c("C:\\inetpub") / "link")
    result = twin.run(("Get-Content", {"LiteralPath": "C:\\inetpub\\link\\loot.txt"}))
    assert result.output == []
    assert result.errors[0].fully_qualified_error_id.startswith("PathOutsideLabSandbox,")


# ----- content and encodings -------------------------------------------------------------------------
def test_set_content_encodings_follow_windows_powershell_5_1(twin: Twin) -> None:
    cases = {
        "UTF8": b"\xef\xbb\xbfh\xc3\xa9\r\n",
        "Unicode": b"\xff\xfeh\x00\xe9\x00\r\x00\n\x00",
        "Default": b"h\xe9\r\n",
        "Ascii": b"h?\r\n",
    }
    for encoding, expected in cases.items():
        twin.run(("Set-Content", {"LiteralPath": f"C:\\{encoding}.txt", "Value": "hé", "Encoding": encoding}))
        assert twin.c(f"C:\\{encoding}.txt").read_bytes() == expected, encoding
    twin.run(("Set-Content", {"LiteralPath": "C:\\n.txt", "Value": ["a", "b"], "NoNewline": None}))
    assert twin.c("C:\\n.txt").read_bytes() == b"ab"


def test_get_content_lines_raw_and_bytes(twin: Twin) -> None:
    twin.c("C:\\f.txt").write_bytes(b"\xef\xbb\xbfone\r\ntwo\r\n")
    assert twin.run(("Get-Content", {"Path": "C:\\f.txt"})).output == ["one", "two"]
    assert twin.run(("Get-Content", {"Path": "C:\\f.txt", "Raw": None})).output == ["one\r\ntwo\r\n"]
    raw = twin.run(("Get-Content", {"Path": "C:\\f.txt", "Encoding": "Byte", "Raw": None})).output
    assert raw == [b"\xef\xbb\xbfone\r\ntwo\r\n"]


def test_get_content_bytes_without_raw_are_boxed_bytes_like_5_1(twin: Twin) -> None:
    # FileSystemContentReaderWriter.ReadByteEncoded: one boxed System.Byte per block unless -Raw
    twin.c("C:\\f.bin").write_bytes(b"\x00\xffA")
    whole = twin.run(("Get-Content", {"Path": "C:\\f.bin", "Encoding": "Byte", "ReadCount": 0})).output
    assert len(whole) == 1 and isinstance(whole[0], ObjectArray)
    assert [type(b) for b in whole[0]] == [PSByte, PSByte, PSByte] and list(whole[0]) == [0, 255, 65]
    each = twin.run(("Get-Content", {"Path": "C:\\f.bin", "Encoding": "Byte"})).output
    assert each == [0, 255, 65] and all(isinstance(b, PSByte) for b in each)
    raw = twin.run(("Get-Content", {"Path": "C:\\f.bin", "Encoding": "Byte", "Raw": None})).output
    # -Raw reads the whole stream and ignores -TotalCount (FileSystemContentStream.cs ReadByteEncoded)
    capped = twin.run(
        ("Get-Content", {"Path": "C:\\f.bin", "Encoding": "Byte", "Raw": None, "TotalCount": 1})
    )
    assert [bytes(x) for x in capped.output] == [b"\x00\xffA"]
    first = twin.run(("Get-Content", {"Path": "C:\\f.bin", "Encoding": "Byte", "TotalCount": 1})).output
    assert first == [0]
    assert raw == [b"\x00\xffA"] and isinstance(raw[0], bytes)
    twin.c("C:\\empty.bin").write_bytes(b"")
    for extra in ({"Raw": None}, {"ReadCount": 0}):
        params = {"Path": "C:\\empty.bin", "Encoding": "Byte", **extra}
        assert twin.run(("Get-Content", params)).output == []


def test_missing_parent_folder(twin: Twin) -> None:
    result = twin.run(("Set-Content", {"Path": "C:\\no\\such\\f.txt", "Value": "x"}))
    assert result.errors[0].message == "Could not find a part of the path 'C:\\no\\such\\f.txt'."


# ----- items ----------------------------------------------------------------------------------------------
def test_new_item_directory_and_file(twin: Twin) -> None:
    made = twin.run(
        ("New-Item", {"ItemType": "Directory", "Path": "C:\\ProgramData\\pb\\home", "Force": None})
    )
    assert made.terminating is None and twin.c("C:\\ProgramData\\pb\\home").is_dir()
    props = ps_properties(made.output[0])
    assert props["FullName"] == "C:\\ProgramData\\pb\\home"
    assert made.output[0].PSObject.type_names[0] == "System.IO.DirectoryInfo"
    again = twin.run(("New-Item", {"ItemType": "Directory", "Path": "C:\\ProgramData\\pb\\home"}))
    assert (
        again.errors[0].message == "An item with the specified name C:\\ProgramData\\pb\\home already exists."
    )
    file = twin.run(("New-Item", {"Path": "C:\\ProgramData\\pb\\f.txt", "Value": "v"}))
    assert file.output[0].PSObject.type_names[0] == "System.IO.FileInfo"
    assert twin.c("C:\\ProgramData\\pb\\f.txt").read_bytes() == b"v"


def test_get_child_item_filter_recurse_name_and_wildcards(twin: Twin) -> None:
    for rel in (
        "a\\x.bak",
        "a\\b\\y.bak",
        "a\\z.txt",
        "renew-20240101-031700.txt",
        "renew-20240102-031700.txt",
    ):
        path = twin.c("C:\\logs\\" + rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    names = twin.run(
        ("Get-ChildItem", {"Path": "C:\\logs", "Filter": "*.bak", "Recurse": None, "Name": None})
    )
    assert names.output == ["a\\x.bak", "a\\b\\y.bak"]
    day = twin.run(("Get-ChildItem", {"Path": "C:\\logs\\renew-20240101-*", "Name": None}))
    assert day.output == ["renew-20240101-031700.txt"]
    none = twin.run(("Get-ChildItem", {"Path": "C:\\logs\\renew-20990101-*", "Name": None}))
    assert none.output == [] and none.errors == []
    files = twin.run(("Get-ChildItem", {"Path": "C:\\logs", "File": None, "Name": None}))
    assert files.output == ["renew-20240101-031700.txt", "renew-20240102-031700.txt"]
    missing = twin.run(("Get-ChildItem", {"Path": "C:\\nope"}))
    assert missing.errors[0].fully_qualified_error_id == (
        "PathNotFound,Microsoft.PowerShell.Commands.GetChildItemCommand"
    )


def test_remove_item(twin: Twin) -> None:
    twin.c("C:\\d\\e").mkdir(parents=True)
    (twin.c("C:\\d\\e") / "f").write_text("x")
    prompt = twin.run(("Remove-Item", {"Path": "C:\\d"}))
    assert (
        prompt.terminating is not None and "Recurse parameter was not specified" in prompt.terminating.message
    )
    assert twin.run(("Remove-Item", {"Path": "C:\\d", "Recurse": None, "Force": None})).terminating is None
    assert not twin.c("C:\\d").exists()


# ----- Env: ----------------------------------------------------------------------------------------------
def test_env_drive_is_per_runspace(twin: Twin) -> None:
    twin.run(("Set-Item", {"Path": "Env:POSHACME_HOME", "Value": "C:\\ProgramData\\pb"}))
    item = twin.run(("Get-Item", {"Path": "Env:POSHACME_HOME"})).output[0]
    assert ps_properties(item)["Value"] == "C:\\ProgramData\\pb"
    assert twin.run(("Test-Path", {"Path": "env:poshacme_home"})).output == [True]
    other = Twin.__new__(Twin)
    other.__dict__.update(twin.__dict__)
    other.runspace = RunspaceState()
    missing = other.run(("Get-Item", {"Path": "Env:POSHACME_HOME"}))
    assert missing.errors[0].message == "Cannot find path 'POSHACME_HOME' because it does not exist."
    assert other.run(("Test-Path", {"Path": "Env:POSHACME_HOME"})).output == [False]
    local = twin.run(("Get-Item", {"Path": "Env:LOCALAPPDATA"})).output[0]
    assert ps_properties(local)["Value"] == "C:\\Users\\certadmin\\AppData\\Local"


# ----- modules ------------------------------------------------------------------------------------------
def test_modules_live_on_disk(twin: Twin) -> None:
    listed = twin.run(
        ("Get-Module", {"Name": ["Posh-ACME", "Posh-ACME.Deploy"], "ListAvailable": None})
    ).output
    assert [(ps_properties(m)["Name"], str(ps_properties(m)["Version"])) for m in listed] == [
        ("Posh-ACME", "4.32.0"),
        ("Posh-ACME.Deploy", "2.1.0"),
    ]
    assert listed[0].PSObject.type_names[0] == "System.Management.Automation.PSModuleInfo"
    shutil.rmtree(twin.host.drive / MODULES / "Posh-ACME")
    gone = twin.run(("Get-PAServer", {})).terminating
    assert gone is not None and gone.fully_qualified_error_id == "CommandNotFoundException"
    load = twin.run(("Import-Module", {"Name": "Posh-ACME"}))
    assert load.errors[0].message == (
        "The specified module 'Posh-ACME' was not loaded because no valid module file was found in any "
        "module "
        "directory."
    )
    prepare_gallery(twin)
    installed = twin.run(("Install-Module", {"Name": "Posh-ACME", "Force": None, "Scope": "AllUsers"}))
    assert installed.terminating is None and installed.errors == []
    assert twin.run(("Get-PAServer", {})).terminating is None


def test_posh_acme_home_is_read_at_first_use(twin: Twin) -> None:
    twin.run(("Set-Item", {"Path": "Env:POSHACME_HOME", "Value": "C:\\missing-home"}))
    first = twin.run(("Get-PAServer", {}))
    assert first.warnings == [
        "The POSHACME_HOME environment variable exists but the path it points to, C:\\missing-home, does "
        "not. "
        "Using default config location."
    ]
    assert twin.run(("Get-PAServer", {})).warnings == []  # read once per pool, like module import
    twin.c("C:\\missing-home").mkdir()
    assert twin.run(("Import-Module", {"Name": "Posh-ACME", "Force": None})).warnings == []


# ----- PowerShellGet on a stock 5.1 (issue 8 item 12) --------------------------------------------------
def test_install_module_on_a_stock_5_1_fails_without_tls12_and_the_nuget_provider(twin: Twin) -> None:
    shutil.rmtree(twin.c("C:\\Program Files\\WindowsPowerShell\\Modules\\Posh-ACME"))
    # no NuGet provider, no -Force: PowerShellGet asks, and a remote session cannot answer
    asked = twin.run(("Install-Module", {"Name": "Posh-ACME", "Scope": "AllUsers"})).terminating
    assert asked is not None and "NuGet provider version '2.8.5.201' or newer" in asked.message
    # -Force bootstraps the provider, which needs TLS 1.2: the 5.1 session offers Ssl3, Tls only
    forced = twin.run(("Install-Module", {"Name": "Posh-ACME", "Force": None, "Scope": "AllUsers"}))
    assert forced.warnings == [
        "Unable to download from URI 'https://go.microsoft.com/fwlink/?LinkID=627338&clcid=0x409' to ''.",
        "Unable to download the list of available providers. Check your internet connection.",
    ]
    assert forced.errors[0].fully_qualified_error_id == (
        "NoMatchFoundForProvider,Microsoft.PowerShell.PackageManagement.Cmdlets.InstallPackageProvider"
    )
    assert forced.terminating is not None
    assert forced.terminating.message == (
        "NuGet provider is required to interact with NuGet-based repositories. Please ensure that "
        "'2.8.5.201' or newer version of NuGet provider is installed."
    )
    provider = twin.run(
        ("Install-PackageProvider", {"Name": "NuGet", "MinimumVersion": "2.8.5.201", "Force": None})
    )
    assert provider.errors[0].fully_qualified_error_id.startswith("NoMatchFoundForProvider,")
    assert not twin.c("C:\\Program Files\\WindowsPowerShell\\Modules\\Posh-ACME").exists()


def test_with_the_provider_but_without_tls12_the_gallery_cannot_be_resolved(twin: Twin) -> None:
    shutil.rmtree(twin.c("C:\\Program Files\\WindowsPowerShell\\Modules\\Posh-ACME"))
    prepare_gallery(twin)  # TLS 1.2 in THIS session, provider installed machine-wide
    other_session = RunspaceState()  # a new runspace pool: Ssl3, Tls again
    twin.runspace, first = other_session, twin.runspace
    result = twin.run(("Install-Module", {"Name": "Posh-ACME", "Force": None, "Scope": "AllUsers"}))
    assert result.warnings == ["Unable to resolve package source 'https://www.powershellgallery.com/api/v2'."]
    assert result.errors[0].message == (
        "No match was found for the specified search criteria and module name 'Posh-ACME'. Try "
        "Get-PSRepository to see all available registered module repositories."
    )
    twin.runspace = first
    assert (
        twin.run(("Install-Module", {"Name": "Posh-ACME", "Force": None, "Scope": "AllUsers"})).errors == []
    )
    assert twin.c("C:\\Program Files\\WindowsPowerShell\\Modules\\Posh-ACME").is_dir()


def test_only_the_security_protocol_assignment_is_run_as_script(twin: Twin) -> None:
    ok = twin.run(
        ("[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12", {}), script=True
    )
    assert ok.terminating is None
    other = twin.run(("Remove-Item C:\\ -Recurse", {}), script=True).terminating
    assert other is not None and other.fully_qualified_error_id == "ScriptNotSupported"


# ----- a PowerShell 7 endpoint (issue 8 item 11) -------------------------------------------------------
def test_powershell_7_writes_utf8_without_bom_and_knows_no_byte_encoding(twin: Twin) -> None:
    from poshbridge.lab.engine.registry import EDITION

    twin.runspace.variables[EDITION] = "Core"  # a pool opened on the PowerShell.7 configuration
    twin.run(("Set-Content", {"LiteralPath": "C:\\s.ps1", "Value": "é", "Encoding": "UTF8"}))
    assert twin.c("C:\\s.ps1").read_bytes() == b"\xc3\xa9\r\n"  # no BOM: 5.1 would read it as ANSI
    twin.run(("Set-Content", {"LiteralPath": "C:\\b.ps1", "Value": "é", "Encoding": "utf8BOM"}))
    assert twin.c("C:\\b.ps1").read_bytes() == b"\xef\xbb\xbf\xc3\xa9\r\n"
    refused = twin.run(("Set-Content", {"LiteralPath": "C:\\x.bin", "Value": b"\x01", "Encoding": "Byte"}))
    assert refused.terminating is not None
    assert refused.terminating.message.startswith(
        "Cannot process argument transformation on parameter 'Encoding'. 'Byte' is not a supported "
        "encoding name."
    )
    data = b"\xef\xbb\xbf\xc3\xa9\r\n"
    twin.run(("Set-Content", {"LiteralPath": "C:\\y.ps1", "Value": data, "AsByteStream": None}))
    assert twin.c("C:\\y.ps1").read_bytes() == data
    read = twin.run(("Get-Content", {"LiteralPath": "C:\\y.ps1", "AsByteStream": None, "Raw": None}))
    assert read.output == [data]
    # Windows PowerShell 5.1 has no -AsByteStream
    twin.runspace.variables[EDITION] = "Desktop"
    old = twin.run(("Set-Content", {"LiteralPath": "C:\\y.ps1", "Value": data, "AsByteStream": None}))
    assert old.terminating is not None
    assert (
        "A parameter cannot be found that matches parameter name 'AsByteStream'." in old.terminating.message
    )
    twin.run(("Set-Content", {"LiteralPath": "C:\\z.ps1", "Value": data, "Encoding": "Byte"}))
    assert twin.c("C:\\z.ps1").read_bytes() == data

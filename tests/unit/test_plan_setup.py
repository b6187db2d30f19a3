"""Setup plan: given facts read from a host, which steps change, stay, fail or wait (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from poshbridge.inventory.model import AcmeConfig, HostConfig, IISConfig
from poshbridge.plan.setup import (
    R_BINDINGS,
    R_HOME,
    R_MODULES,
    R_SERVER,
    SETUP_STEP_ORDER,
    Desired,
    SetupFacts,
    account_step,
    certificate_step,
    event_source_step,
    facts_from_outputs,
    home_acl_step,
    home_step,
    modules_step,
    plan_binding,
    plan_setup,
    poshacme_steps,
    read_statements,
    script_step,
    server_step,
    task_documents_equal,
    task_step,
    web_config_step,
)
from poshbridge.poshacme.model import (
    IISBinding,
    ModuleInfo,
    PAAccount,
    PACertificate,
    PAOrder,
    PAServer,
    ScheduledTaskInfo,
)
from poshbridge.powershell.command import MASK, SWITCH, Secret
from poshbridge.powershell.quoting import ps_single_quote

HMAC = "Sentinel-HMAC-0000"
DIRECTORY = "https://127.0.0.1:14000/dir"
HOST = HostConfig(
    name="host01",
    address="web01.example.jp",
    domains=("example.jp", "www.example.jp"),
    webroot="C:\\inetpub\\wwwroot",
    iis=IISConfig(site="example.jp", port=443),
    acme=AcmeConfig(directory=DIRECTORY, contacts=("admin@example.jp",)),
)
TASK_XML = (
    '<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task"><RegistrationInfo>'
    "<Description>poshbridge</Description></RegistrationInfo><Actions><Exec><Command>x</Command></Exec>"
    "</Actions></Task>"
)
DESIRED = Desired(
    web_config="<configuration>\n  <x/>\n</configuration>\n",
    script="# poshbridge-renewal-script style=hardened version=1\n$OrderName = 'example.jp'\n",
    task_xml=TASK_XML,
    eab_kid="kid-1",
    eab_hmac=Secret(HMAC),
)
MODULES = (
    ModuleInfo("Posh-ACME", "4.32.0"),
    ModuleInfo("Posh-ACME.Deploy", "2.1.0"),
    ModuleInfo("IISAdministration", "1.1.0.0"),
)
THUMB = "AB" * 20
# what Get-Acl answers after setup set the ACL (Windows adds AI, the owner and the group)
HOME_SDDL_READ_BACK = "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"


def configured(**changes: object) -> SetupFacts:
    facts = SetupFacts(
        modules=MODULES,
        home_exists=True,
        home_sddl=HOME_SDDL_READ_BACK,
        server=PAServer(location=DIRECTORY, disable_telemetry=True),
        accounts=(PAAccount(id="acct1", status="valid", contact=("mailto:admin@example.jp",)),),
        current_account=PAAccount(id="acct1", status="valid", contact=("mailto:admin@example.jp",)),
        orders=(
            PAOrder(
                name="example.jp",
                main_domain="example.jp",
                status="valid",
                sans=("example.jp", "www.example.jp"),
                key_length="2048",
            ),
        ),
        certificate=PACertificate(thumbprint=THUMB, not_after=datetime(2025, 3, 1, tzinfo=timezone.utc)),
        web_config="<configuration>\r\n  <x/>\r\n</configuration>\r\n",
        script=DESIRED.script.replace("\n", "\r\n"),
        bindings=(IISBinding("https", "*:443:", THUMB),),
        task=ScheduledTaskInfo(task_name="poshbridge renew", task_path="\\", state="Ready"),
        task_xml='<?xml version="1.0" encoding="UTF-16"?>\n'
        + TASK_XML.replace(
            "<Description>", "<Date>2025-01-01T00:00:00</Date><Author>X\\admin</Author><Description>"
        ),
        poshacme_read=True,
        task_read=True,
        event_source=True,
    )
    return SetupFacts(**{**facts.__dict__, **changes})


def statuses(plan: object) -> dict[str, str]:
    return {s.name: s.status for s in plan.steps}  # type: ignore[attr-defined]


def test_configured_host_is_all_unchanged() -> None:
    plan = plan_setup(HOST, configured(), DESIRED)
    assert set(statuses(plan).values()) == {"unchanged"}
    assert plan.to_apply == []
    assert plan_binding(HOST, configured()).status == "unchanged"


def test_fresh_host_creates_home_files_and_task_and_waits_for_poshacme() -> None:
    fresh = SetupFacts(modules=MODULES, home_exists=False)
    plan = plan_setup(HOST, fresh, DESIRED)
    s = statuses(plan)
    assert (
        s["poshacme-home"]
        == s["challenge-web.config"]
        == s["renewal-script"]
        == s["scheduled-task"]
        == "changed"
    )
    assert s["acme-server"] == s["acme-account"] == s["certificate"] == "pending"
    rendered = "\n".join(c for step in plan.steps for c in step.commands)
    assert "New-Item -ItemType 'Directory' -Path 'C:\\ProgramData\\poshbridge\\Posh-ACME' -Force" in rendered
    assert "Set-Item -Path 'Env:POSHACME_HOME'" in rendered
    assert "-ExtAcctHMACKey '" + MASK + "'" in rendered and HMAC not in rendered
    assert "Register-ScheduledTask -TaskName 'poshbridge renew' -TaskPath '\\'" in rendered


def test_server_elsewhere_is_switched_and_account_waits() -> None:
    plan = plan_setup(
        HOST, configured(server=PAServer(location="https://acme-v02.api.letsencrypt.org/directory")), DESIRED
    )
    s = statuses(plan)
    assert s["acme-server"] == "changed" and s["acme-account"] == "pending"
    (server_step,) = [st for st in plan.steps if st.name == "acme-server"]
    assert any(
        "Set-PAServer -DirectoryUrl '" + DIRECTORY + "' -DisableTelemetry" in c for c in server_step.commands
    )


def test_no_account_with_these_contacts_creates_one_and_a_certificate() -> None:
    facts = configured(
        accounts=(PAAccount(id="old", status="valid", contact=("mailto:other@example.jp",)),),
        current_account=None,
        orders=(),
        certificate=None,
    )
    plan = plan_setup(HOST, facts, DESIRED)
    s = statuses(plan)
    assert s["acme-account"] == "changed" and s["certificate"] == "changed"
    account = next(st for st in plan.steps if st.name == "acme-account")
    (command,) = [c for c in account.commands if c.startswith("New-PAAccount")]
    assert command == (
        f"New-PAAccount -ExtAcctKID 'kid-1' -ExtAcctHMACKey '{MASK}' -Contact @('admin@example.jp') "
        "-KeyLength 'ec-256' -AcceptTOS -Force"
    )
    cert = next(st for st in plan.steps if st.name == "certificate")
    assert any(
        c.startswith(
            "New-PACertificate -Domain @('example.jp','www.example.jp') -Name 'example.jp' -Plugin 'WebRoot'"
            " -PluginArgs @{'WRPath'='C:\\inetpub\\wwwroot'} -CertKeyLength '2048'"
        )
        for c in cert.commands
    )


def test_existing_valid_account_is_reused_not_duplicated() -> None:
    facts = configured(current_account=None)
    plan = plan_setup(HOST, facts, DESIRED)
    account = next(st for st in plan.steps if st.name == "acme-account")
    assert account.status == "changed"
    assert any(c.startswith("Set-PAAccount -ID 'acct1'") for c in account.commands)
    assert not any("New-PAAccount" in c for c in account.commands)


def test_order_with_other_names_gets_a_new_certificate() -> None:
    facts = configured(
        orders=(PAOrder(name="example.jp", main_domain="example.jp", status="valid", sans=("example.jp",)),)
    )
    assert statuses(plan_setup(HOST, facts, DESIRED))["certificate"] == "changed"
    facts = configured(
        orders=(
            PAOrder(
                name="example.jp",
                main_domain="example.jp",
                status="pending",
                sans=("example.jp", "www.example.jp"),
            ),
        )
    )
    assert statuses(plan_setup(HOST, facts, DESIRED))["certificate"] == "changed"


def test_missing_modules_fail_clearly_or_install() -> None:
    facts = configured(modules=(ModuleInfo("Posh-ACME", "4.32.0"), MODULES[2]))
    plan = plan_setup(HOST, facts, DESIRED)
    modules = plan.steps[0]
    assert (
        modules.status == "failed"
        and "Posh-ACME.Deploy" in modules.reason
        and "--install-modules" in modules.reason
    )
    assert plan.blocked and all(s.status == "skipped" for s in plan.steps[1:])
    plan = plan_setup(HOST, facts, DESIRED, install_modules=True)
    assert plan.steps[0].commands == [
        "[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor"
        " [Net.SecurityProtocolType]::Tls12",
        "Install-PackageProvider -Name 'NuGet' -MinimumVersion '2.8.5.201' -Force -ErrorAction 'Stop'",
        "Install-Module -Name 'Posh-ACME.Deploy' -Force -Scope 'AllUsers' -ErrorAction 'Stop'",
    ]
    tls = plan.steps[0].statements[0].cmds[0]
    assert tls.is_script and tls.params == ()  # one fixed statement, no values (issue 8 item 12)


def test_iis_administration_older_than_1_1_is_reported_before_anything_is_issued() -> None:
    # Windows Server 2016 ships IISAdministration 1.0.0.0; Set-IISCertificate needs >= 1.1.0.0
    inbox = (*MODULES[:2], ModuleInfo("IISAdministration", "1.0.0.0"))
    plan = plan_setup(HOST, configured(modules=inbox), DESIRED)
    assert plan.steps[0].status == "failed" and plan.blocked
    assert "IISAdministration 1.0.0.0 is older than 1.1.0.0" in plan.steps[0].reason
    assert statuses(plan)["certificate"] == "skipped"
    plan = plan_setup(HOST, configured(modules=inbox), DESIRED, install_modules=True)
    assert plan.steps[0].commands[-1] == (
        "Install-Module -Name 'IISAdministration' -MinimumVersion '1.1.0.0' -Force -Scope 'AllUsers'"
        " -ErrorAction 'Stop'"
    )
    # 1.0.0.0 in the box and 1.1.0.0 from the gallery side by side: the newest counts
    both = (*inbox, ModuleInfo("IISAdministration", "1.1.0.0"))
    assert plan_setup(HOST, configured(modules=both), DESIRED).steps[0].status == "unchanged"


def test_web_config_content_compared_ignoring_line_ends() -> None:
    assert (
        statuses(plan_setup(HOST, configured(web_config=None), DESIRED))["challenge-web.config"] == "changed"
    )
    changed = plan_setup(HOST, configured(web_config="<configuration/>"), DESIRED)
    step = next(s for s in changed.steps if s.name == "challenge-web.config")
    assert step.commands[0] == (
        "New-Item -ItemType 'Directory' -Path 'C:\\inetpub\\wwwroot\\.well-known\\acme-challenge' -Force"
        " -ErrorAction 'Stop'"
    )
    assert step.commands[1].startswith(
        "Set-Content -LiteralPath 'C:\\inetpub\\wwwroot\\.well-known\\acme-challenge\\web.config'"
    )


def test_task_xml_equivalence_ignores_registration_date_author_and_whitespace() -> None:
    assert task_documents_equal(TASK_XML, configured().task_xml)
    assert not task_documents_equal(
        TASK_XML, TASK_XML.replace("<Command>x</Command>", "<Command>y</Command>")
    )
    assert not task_documents_equal(TASK_XML, None)


def _windows_export(generated: str) -> str:
    """How Windows hands a registered task back (issue 8 item 10): its own declaration, CRLF and
    indentation, RegistrationInfo Date added, elements in its own order, values in its own spelling
    (1 for true, PT72H for P3D), defaults it fills in (IdleSettings Duration/WaitTimeout)."""
    body = generated.split("?>", 1)[1]
    body = body.replace("<RegistrationInfo>", "<RegistrationInfo><Date>2026-11-29T23:03:13.2122980</Date>")
    body = body.replace(
        "<ExecutionTimeLimit>P3D</ExecutionTimeLimit>", "<ExecutionTimeLimit>PT72H</ExecutionTimeLimit>"
    )
    body = body.replace("<Enabled>true</Enabled>", "<Enabled>1</Enabled>")
    body = body.replace(
        "<IdleSettings>", "<IdleSettings><Duration>PT10M</Duration><WaitTimeout>PT1H</WaitTimeout>"
    )
    # the trigger's Enabled moved before StartBoundary, Priority first in Settings
    body = body.replace("      <Enabled>1</Enabled>\n", "").replace(
        "<StartBoundary>", "<Enabled>1</Enabled><StartBoundary>"
    )
    body = body.replace("    <Priority>7</Priority>\n", "").replace(
        "<Settings>", "<Settings><Priority>7</Priority>"
    )
    return '<?xml version="1.0" encoding="UTF-16"?>\r\n' + body.replace("\n", "\r\n")


def test_task_comparison_is_by_the_values_poshbridge_sets_not_by_text() -> None:
    from poshbridge.generate.task_xml import task_xml_for_register

    wanted = task_xml_for_register(HOST, "hardened")
    exported = _windows_export(wanted)
    assert exported != wanted and "<Enabled>1</Enabled><StartBoundary>" in exported
    assert task_documents_equal(wanted, exported)
    # what poshbridge sets still counts, in every spelling
    assert not task_documents_equal(wanted, exported.replace("2024-01-01T03:17:00", "2024-01-01T04:41:00"))
    assert not task_documents_equal(
        wanted, exported.replace("<Interval>PT1H</Interval>", "<Interval>PT2H</Interval>")
    )
    assert not task_documents_equal(wanted, exported.replace("-NonInteractive ", ""))
    assert not task_documents_equal(
        wanted,
        exported.replace(
            "<StartWhenAvailable>true</StartWhenAvailable>", "<StartWhenAvailable>0</StartWhenAvailable>"
        ),
    )
    # an element Windows leaves out counts as its schema default: false for StartWhenAvailable ...
    assert not task_documents_equal(
        wanted, exported.replace("<StartWhenAvailable>true</StartWhenAvailable>", "")
    )
    # ... and true for AllowStartOnDemand, which is what poshbridge sets
    assert task_documents_equal(wanted, exported.replace("<AllowStartOnDemand>true</AllowStartOnDemand>", ""))
    assert not task_documents_equal(wanted, exported.replace('Context="Author"', 'Context="Other"'))
    assert not task_documents_equal(wanted, "<Task")


def test_binding_with_another_thumbprint_is_changed_by_a_pipeline() -> None:
    step = plan_binding(HOST, configured(bindings=(IISBinding("https", "*:443:", "CD" * 20),)))
    assert step.status == "changed"
    assert (
        "Get-PACertificate -Name 'example.jp' | "
        "Set-IISCertificate -SiteName 'example.jp' -Port 443 -ErrorAction 'Stop'" in step.commands
    )


def test_remove_old_cert_is_passed_only_when_no_other_binding_uses_the_old_certificate() -> None:
    # Posh-ACME.Deploy Remove-OldCert deletes the replaced certificate from LocalMachine\\My whatever
    # else uses it (issue 8 item 8): poshbridge decides from every site's bindings.
    host = replace(HOST, iis=replace(HOST.iis, remove_old_cert=True))
    old = "CD" * 20
    ours = IISBinding("https", "*:443:", old)
    alone = configured(bindings=(ours,), all_bindings=(ours, IISBinding("http", "*:80:", None)))
    step = plan_binding(host, alone)
    assert step.status == "changed" and any(
        c.endswith("-RemoveOldCert -ErrorAction 'Stop'") for c in step.commands
    )
    shared = configured(bindings=(ours,), all_bindings=(ours, IISBinding("https", "*:8443:", old)))
    step = plan_binding(host, shared)
    assert step.status == "changed" and not any("-RemoveOldCert" in c for c in step.commands)
    assert "another binding uses it" in step.reason
    unknown = configured(bindings=(ours,), all_bindings=None)
    assert not any("-RemoveOldCert" in c for c in plan_binding(host, unknown).commands)
    # never asked for: never passed
    assert not any("-RemoveOldCert" in c for c in plan_binding(HOST, alone).commands)
    labels = [s.label for s in read_statements(HOST)]
    assert "read:all-bindings" in labels
    pipeline = next(s for s in read_statements(HOST) if s.label == "read:all-bindings")
    assert pipeline.render() == (
        "Get-IISSite -ErrorAction 'SilentlyContinue' | Get-IISSiteBinding -ErrorAction 'SilentlyContinue'"
    )


def test_facts_from_outputs_of_the_read_batch() -> None:
    labels = [s.label for s in read_statements(HOST)]
    assert labels[0] == R_MODULES and labels[-1] == "read:task-xml"
    outputs = {
        R_MODULES: [{"Name": "Posh-ACME", "Version": "4.32.0", "_types": []}],
        R_HOME: [True],
        R_BINDINGS: [
            {"protocol": "https", "bindingInformation": "*:443:", "certificateHash": bytes.fromhex(THUMB)}
        ],
        R_SERVER: [],
    }
    ran = dict.fromkeys(labels, True)
    facts = facts_from_outputs(outputs, ran)
    assert facts.home_exists is True and facts.server is None and facts.poshacme_read
    assert facts.bindings[0].certificate_hash == THUMB
    assert facts.modules is not None and facts.modules[0].name == "Posh-ACME"
    assert facts.web_config is None


def test_poshacme_home_acl_is_read_back_and_drift_repaired() -> None:
    """Issue 8 item 5: POSHACME_HOME under ProgramData inherits read access for BUILTIN\\Users."""
    home = HOST.acme.poshacme_home
    assert statuses(plan_setup(HOST, configured(), DESIRED))["poshacme-home-acl"] == "unchanged"
    inherited = "O:BAG:SYD:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIID;0x1200a9;;;BU)"
    for sddl, why in (
        (inherited, "inherits from its parent folder"),
        ("O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)", "grants BU"),
        ("O:BAG:SYD:PAI(A;OICI;FA;;;SY)", "missing BA"),
        ("O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;CI;FA;;;BA)", "grants BA"),
        (None, "ACL not read"),
        ("O:BAG:SY", "no DACL"),
    ):
        step = next(
            s
            for s in plan_setup(HOST, configured(home_sddl=sddl), DESIRED).steps
            if s.name == "poshacme-home-acl"
        )
        assert step.status == "changed" and why in step.reason, (sddl, step.reason)
        assert step.commands == [
            "New-Object -TypeName 'System.Security.AccessControl.DirectorySecurity' -Property "
            "@{'SetSecurityDescriptorSddlForm'='D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)'} | "
            f"Set-Acl -LiteralPath '{home}' -ErrorAction 'Stop'"
        ]
    # SIDs and rights may come back in their long forms; a SACL section does not matter
    long_form = "O:BAG:SYD:PAI(A;CIOI;0x1f01ff;;;S-1-5-18)(A;OICI;FA;;;S-1-5-32-544)S:AI"
    assert (
        statuses(plan_setup(HOST, configured(home_sddl=long_form), DESIRED))["poshacme-home-acl"]
        == "unchanged"
    )
    # a new home gets the ACL in the same batch, after New-Item
    fresh = plan_setup(HOST, SetupFacts(modules=MODULES, home_exists=False), DESIRED)
    assert statuses(fresh)["poshacme-home-acl"] == "changed"
    labels = [s.label for s in read_statements(HOST)]
    assert labels.index("read:home-acl") == labels.index("read:home") + 1
    facts = facts_from_outputs(
        {
            "read:home-acl": [
                {
                    "Sddl": HOME_SDDL_READ_BACK,
                    "_types": ["Deserialized.System.Security.AccessControl.DirectorySecurity"],
                }
            ]
        },
        {"read:home-acl": True},
    )
    assert facts.home_sddl == HOME_SDDL_READ_BACK


def test_the_renewal_script_is_uploaded_as_bytes_with_a_bom_whatever_the_endpoint() -> None:
    """Issue 8 item 11: a PowerShell 7 endpoint writes -Encoding UTF8 without a BOM, and the task's
    powershell.exe 5.1 reads a BOM-less script in the ANSI code page."""
    for edition, switch in (
        ("Desktop", ("Encoding", "Byte")),
        ("Core", ("AsByteStream", SWITCH)),
        (None, ("Encoding", "Byte")),
    ):
        facts = replace(configured(script=None), ps_edition=edition)
        step = next(s for s in plan_setup(HOST, facts, DESIRED).steps if s.name == "renewal-script")
        (write,) = [st.cmds[0] for st in step.statements if st.label == "script:write"]
        data = write.param("Value")
        assert isinstance(data, bytes) and data.startswith(b"\xef\xbb\xbf")
        assert data[3:].decode("utf-8") == DESIRED.script.replace("\n", "\r\n")
        assert write.param(switch[0]) == switch[1], edition
        assert write.render().endswith(
            "-Value [byte[]]((0xEF,0xBB,0xBF) + [Text.Encoding]::UTF8.GetBytes("
            + ps_single_quote(data[3:].decode("utf-8"))
            + ")) "
            + ("-AsByteStream" if edition == "Core" else "-Encoding 'Byte'")
            + " -ErrorAction 'Stop'"
        )


def test_event_source_is_registered_with_new_eventlog_when_missing() -> None:
    missing = plan_setup(HOST, configured(event_source=False), DESIRED)
    step = next(s for s in missing.steps if s.name == "event-source")
    assert step.status == "changed"
    assert step.commands == ["New-EventLog -LogName 'Application' -Source @('poshbridge')"]
    assert statuses(plan_setup(HOST, configured(event_source=None), DESIRED))["event-source"] == "pending"
    assert statuses(plan_setup(HOST, configured(), DESIRED))["event-source"] == "unchanged"


def test_event_source_fact_from_get_winevent_list_provider() -> None:
    labels = [s.label for s in read_statements(HOST)]
    assert "read:event-source" in labels and labels.index("read:event-source") < labels.index("read:server")
    found = facts_from_outputs({"read:event-source": [{"Name": "poshbridge"}]}, {"read:event-source": True})
    none = facts_from_outputs({"read:event-source": []}, {"read:event-source": True})
    assert found.event_source is True and none.event_source is False
    assert facts_from_outputs({}, {}).event_source is None


def test_each_step_is_decided_by_its_own_function_over_the_facts() -> None:
    facts = configured()
    steps = [
        modules_step(facts, install_modules=False),
        home_step(HOST, facts, modules_ready=True),
        home_acl_step(HOST, facts),
        web_config_step(HOST, facts, DESIRED),
        script_step(HOST, facts, DESIRED),
        task_step(HOST, facts, DESIRED),
        event_source_step(facts),
        server_step(HOST, facts),
        account_step(HOST, facts, DESIRED),
        certificate_step(HOST, facts, DESIRED),
    ]
    assert [s.name for s in steps] == list(SETUP_STEP_ORDER[: len(steps)])
    assert plan_setup(HOST, facts, DESIRED).steps == steps


def test_a_valid_order_is_not_kept_under_an_account_created_in_the_same_round() -> None:
    facts = configured(accounts=(), current_account=None)  # the valid order and its certificate remain
    assert account_step(HOST, facts, DESIRED).status == "changed"
    cert = certificate_step(HOST, facts, DESIRED)
    assert cert.status == "changed"
    assert any(c.startswith("New-PACertificate") for c in cert.commands)
    assert certificate_step(HOST, configured(), DESIRED).status == "unchanged"


def test_the_home_step_reimports_posh_acme_only_once_the_modules_are_ready() -> None:
    facts = configured(home_exists=False)
    ready = home_step(HOST, facts, modules_ready=True).commands
    not_ready = home_step(HOST, facts, modules_ready=False).commands
    assert any(c.startswith("Import-Module") for c in ready)
    assert not any("Import-Module" in c for c in not_ready)
    assert [s.name for s in poshacme_steps(HOST, facts, DESIRED, modules_ready=True)] == [
        "acme-server",
        "acme-account",
        "certificate",
    ]
    assert {s.status for s in poshacme_steps(HOST, facts, DESIRED, modules_ready=True)} == {"pending"}

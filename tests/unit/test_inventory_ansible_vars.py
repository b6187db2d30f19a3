"""Ansible host variables → Inventory (poshbridge.inventory.ansible): each connection variable, the
``poshbridge_*`` settings, the same checks as the native format with problems at ``host: variable``,
and secrets that never appear in a problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from poshbridge import api
from poshbridge.inventory.ansible import SETTING_VARS, inventory_from_ansible_vars
from poshbridge.inventory.load import inventory_from_text
from poshbridge.inventory.model import Inventory, SecretRef
from poshbridge.inventory.secrets import resolve
from poshbridge.powershell.command import Secret

PASSWORD = "Vault-Decrypted-Pa55!"
HMAC = "hmac-from-the-vault-0123456789"


def host(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "poshbridge_domains": ["example.jp"],
        "poshbridge_webroot": "C:\\inetpub\\wwwroot",
        "poshbridge_acme_contacts": ["admin@example.jp"],
    }
    base.update(extra)
    return base


def build(variables: dict[str, Any], name: str = "host01") -> Inventory:
    return inventory_from_ansible_vars({name: variables}, base_dir="/srv/fleet")


def texts(inventory: Inventory) -> list[str]:
    return [str(p) for p in inventory.problems]


def only_host(inventory: Inventory, name: str = "host01") -> Any:
    assert not inventory.errors, texts(inventory)
    return inventory.hosts[name]


# ----- connection ---------------------------------------------------------------------------------------


def test_defaults_follow_the_psrp_plugin() -> None:
    winrm = only_host(build(host())).winrm
    assert (winrm.transport, winrm.effective_port, winrm.auth, winrm.verify) == (
        "https",
        5986,
        "negotiate",
        True,
    )
    assert (winrm.configuration_name, winrm.operation_timeout, winrm.read_timeout) == (
        "Microsoft.PowerShell",
        20,
        30,
    )
    assert only_host(build(host())).address == "host01"  # remote_addr defaults to inventory_hostname


@pytest.mark.parametrize(
    ("variables", "attribute", "expected"),
    [
        ({"ansible_host": "web01.example.jp"}, "address", "web01.example.jp"),
        ({"ansible_host": "a.example.jp", "ansible_psrp_host": "192.0.2.9"}, "address", "192.0.2.9"),
        ({"ansible_port": 15986}, "winrm.port", 15986),
        ({"ansible_port": "15986"}, "winrm.port", 15986),  # INI [group:vars] values are text
        ({"ansible_port": 1, "ansible_psrp_port": 2}, "winrm.port", 2),
        ({"ansible_port": 5985}, "winrm.transport", "http"),  # no protocol: https unless port 5985
        ({"ansible_port": 5985, "ansible_psrp_protocol": "https"}, "winrm.transport", "https"),
        ({"ansible_psrp_protocol": "http"}, "winrm.effective_port", 5985),
        ({"ansible_user": "CONTOSO\\certadmin"}, "winrm.username", "CONTOSO\\certadmin"),
        ({"ansible_user": "a", "ansible_psrp_user": "b"}, "winrm.username", "b"),
        ({"ansible_psrp_auth": "ntlm", "ansible_user": "u"}, "winrm.auth", "ntlm"),
        ({"ansible_psrp_auth": "kerberos"}, "winrm.auth", "kerberos"),
        ({"ansible_psrp_cert_validation": "ignore"}, "winrm.verify", False),
        ({"ansible_psrp_cert_validation": "validate"}, "winrm.verify", True),
        ({"ansible_psrp_ca_cert": "ca.pem"}, "winrm.verify", "ca.pem"),
        ({"ansible_psrp_cert_trust_path": "a.pem", "ansible_psrp_ca_cert": "b.pem"}, "winrm.verify", "b.pem"),
        ({"ansible_psrp_cert_validation": "ignore", "ansible_psrp_ca_cert": "b.pem"}, "winrm.verify", False),
        ({"ansible_psrp_configuration_name": "PoshBridge"}, "winrm.configuration_name", "PoshBridge"),
        (
            {"ansible_psrp_operation_timeout": 25, "ansible_psrp_read_timeout": 40},
            "winrm.operation_timeout",
            25,
        ),
        ({"ansible_psrp_read_timeout": "45"}, "winrm.read_timeout", 45),
        ({"ansible_psrp_connection_timeout": 7}, "winrm.connection_timeout", 7),
        (
            {
                "ansible_psrp_auth": "certificate",
                "ansible_psrp_certificate_pem": "c.pem",
                "ansible_psrp_certificate_key_pem": "k.pem",
            },
            "winrm.certificate_key_pem",
            "k.pem",
        ),
    ],
)
def test_each_connection_variable(variables: dict[str, Any], attribute: str, expected: Any) -> None:
    value: Any = only_host(build(host(**variables)))
    for part in attribute.split("."):
        value = getattr(value, part)
    assert value == expected


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"ansible_password": "one"}, "one"),
        ({"ansible_password": "one", "ansible_winrm_pass": "two"}, "two"),
        (
            {"ansible_password": "one", "ansible_winrm_pass": "two", "ansible_winrm_password": "three"},
            "three",
        ),
        ({"ansible_password": Secret("held")}, "held"),
    ],
)
def test_password_variables_in_the_plugins_precedence(variables: dict[str, Any], expected: str) -> None:
    inventory = build(host(ansible_user="u", **variables))
    ref = only_host(inventory).winrm.password
    assert ref.source == "literal"
    assert resolve(ref, Path("/")).reveal() == expected
    assert not inventory.warnings  # a value from Ansible (a vault) is not "a literal in the file"


def test_secret_references_of_the_native_format_keep_working() -> None:
    config = only_host(
        build(host(ansible_password={"env": "WINRM_PW"}, poshbridge_acme_eab_hmac={"file": "hmac.txt"}))
    )
    assert config.winrm.password == SecretRef("env", "WINRM_PW")
    assert config.acme.eab_hmac == SecretRef("file", "hmac.txt")


def test_unsupported_psrp_options_warn_and_defaults_do_not() -> None:
    inventory = build(host(ansible_psrp_proxy="http://proxy:3128", ansible_psrp_path="wsman"))
    assert texts(inventory) == [
        "warning: host01: ansible_psrp_proxy: not supported by poshbridge and ignored "
        "(poshbridge connects with pypsrp's defaults for it)"
    ]


def test_other_variables_are_ignored() -> None:
    inventory = build(host(ansible_connection="psrp", inventory_hostname="host01", ntp_server="x", groups={}))
    assert texts(inventory) == []


# ----- poshbridge settings ------------------------------------------------------------------------------


def test_every_setting_variable_reaches_its_field() -> None:
    values: dict[tuple[str, str], Any] = {
        ("acme", "directory"): "https://ca.example/dir",
        ("acme", "plugin"): "WebRoot",
        ("renewal", "start"): "04:41",
        ("renewal", "task_name"): "renew certs",
        ("renewal", "wait_after_renewal"): "900",
        ("renewal", "log_retention_days"): 30,
        ("iis", "site"): "example.jp",
        ("iis", "port"): "8443",
        ("iis", "require_sni"): "yes",
        ("iis", "remove_old_cert"): "False",
        ("acme", "skip_certificate_check"): "no",
    }
    long_names = {target: name for name, target in SETTING_VARS.items() if name.count("_") > 1}
    variables = host(**{long_names[target]: value for target, value in values.items()})
    config = only_host(build(variables))
    assert config.acme.directory == "https://ca.example/dir"
    assert (config.renewal.start, config.renewal.task_name) == ("04:41", "renew certs")
    assert (config.renewal.wait_after_renewal, config.renewal.log_retention_days) == (900, 30)
    assert (config.iis.site, config.iis.port, config.iis.require_sni, config.iis.remove_old_cert) == (
        "example.jp",
        8443,
        True,
        False,
    )
    assert config.acme.skip_certificate_check is False


def test_every_native_setting_has_a_variable() -> None:
    from poshbridge.inventory.fields import SECTION_KEYS

    targets = set(SETTING_VARS.values())
    for section in ("acme", "renewal", "iis"):
        for key in SECTION_KEYS[section]:
            assert (section, key) in targets
    assert {("", "domains"), ("", "webroot")} <= targets


def test_short_names() -> None:
    config = only_host(
        build(
            {
                "poshbridge_domains": "example.jp",
                "poshbridge_webroot": "C:\\w",
                "poshbridge_contact": "admin@example.jp",
                "poshbridge_site": "example.jp",
                "poshbridge_directory": "https://ca.example/dir",
                "poshbridge_eab_kid": "kid",
                "poshbridge_eab_hmac": HMAC,
            }
        )
    )
    assert (config.domains, config.acme.contacts, config.iis.site) == (
        ("example.jp",),
        ("admin@example.jp",),
        "example.jp",
    )
    assert config.acme.eab_hmac is not None and resolve(config.acme.eab_hmac, Path("/")).reveal() == HMAC


def test_the_same_host_as_the_native_format() -> None:
    native = inventory_from_text(
        """
hosts:
  host01:
    address: 192.0.2.1
    domains: [example.jp, www.example.jp]
    webroot: 'C:\\inetpub\\wwwroot'
    winrm: {transport: http, port: 5985, auth: ntlm, username: admin, password: {env: PW}, verify: false}
    acme: {directory: 'https://ca.example/dir', contacts: [a@example.jp], eab_kid: {env: KID}}
    renewal: {start: '04:41'}
    iis: {site: example.jp, port: 8443}
"""
    ).hosts["host01"]
    mapped = only_host(
        build(
            {
                "ansible_host": "192.0.2.1",
                "ansible_port": 5985,
                "ansible_psrp_auth": "ntlm",
                "ansible_user": "admin",
                "ansible_password": {"env": "PW"},
                "ansible_psrp_cert_validation": "ignore",
                "poshbridge_domains": ["example.jp", "www.example.jp"],
                "poshbridge_webroot": "C:\\inetpub\\wwwroot",
                "poshbridge_acme_directory": "https://ca.example/dir",
                "poshbridge_acme_contacts": ["a@example.jp"],
                "poshbridge_acme_eab_kid": {"env": "KID"},
                "poshbridge_renewal_start": "04:41",
                "poshbridge_iis_site": "example.jp",
                "poshbridge_iis_port": 8443,
            }
        )
    )
    assert mapped == native


# ----- problems -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"poshbridge_domains": ["example.jp", "bad domain"]},
            "error: host01: poshbridge_domains[1]: FQDN contains",
        ),
        (
            {"poshbridge_acme_contacts": ["nobody"]},
            "error: host01: poshbridge_acme_contacts[0]: is not a valid e-mail",
        ),
        ({"poshbridge_site": "a\nb"}, "error: host01: poshbridge_site: contains a control character"),
        ({"ansible_port": 70000}, "error: host01: ansible_port: must be in the range 1..65535"),
        ({"ansible_psrp_port": "x"}, "error: host01: ansible_psrp_port: must be a port number"),
        ({"ansible_psrp_auth": "digest"}, "error: host01: ansible_psrp_auth: must be one of"),
        (
            {"ansible_psrp_protocol": "ftp"},
            "error: host01: ansible_psrp_protocol: must be one of http, https",
        ),
        (
            {"ansible_psrp_cert_validation": "no"},
            "error: host01: ansible_psrp_cert_validation: must be validate",
        ),
        (
            {"ansible_psrp_read_timeout": 10},
            "error: host01: ansible_psrp_read_timeout: read_timeout must be greater",
        ),
        ({"ansible_psrp_auth": "ntlm"}, "error: host01: ansible_user: missing: auth ntlm needs a username"),
        ({"poshbridge_iis_port": "eighty"}, "error: host01: poshbridge_iis_port: must be a port number"),
        ({"poshbridge_renewal_start": 197}, "error: host01: poshbridge_renewal_start: must be a time of day"),
        ({"poshbridge_acme_sitee": 1}, "error: host01: poshbridge_acme_sitee: unknown poshbridge variable"),
        ({"poshbridge_iis_sitee": 1}, "did you mean 'poshbridge_iis_site'?"),
        (
            {"poshbridge_winrm_port": 1},
            "error: host01: poshbridge_winrm_port: unknown poshbridge variable: the "
            "connection comes from Ansible's variables; use ansible_port",
        ),
        ({"poshbridge_site": "a", "poshbridge_iis_site": "b"}, "sets the same setting as poshbridge_site"),
        ({"ansible_host": "bad host!"}, "error: host01: ansible_host: is not a valid host name"),
    ],
)
def test_problems_name_the_ansible_variable(variables: dict[str, Any], expected: str) -> None:
    inventory = build(host(**variables))
    assert any(text.startswith(expected) or expected in text for text in texts(inventory)), texts(inventory)
    assert "host01" not in inventory.hosts


def test_missing_settings_name_the_variable_to_set() -> None:
    inventory = build({})
    assert texts(inventory)[:3] == [
        "error: host01: poshbridge_domains: missing: the FQDNs of the certificate (first = main domain)",
        "error: host01: poshbridge_webroot: missing: the IIS site's root folder (WebRoot WRPath)",
        "error: host01: poshbridge_acme_contacts: missing: the CA requires 1 to 6 contact e-mail addresses "
        "for emergency contact",
    ]


def test_a_path_inside_a_message_is_renamed_too() -> None:
    inventory = build(host(poshbridge_acme_contacts=["a@example.jp", "A@example.jp"]))
    assert (
        "error: host01: poshbridge_acme_contacts[1]: duplicate contact "
        "(also at host01: poshbridge_acme_contacts[0])" in (" ".join(texts(inventory)))
    )


def test_host_names_with_dots() -> None:
    inventory = inventory_from_ansible_vars({"web01.example.jp": host(poshbridge_iis_port=0)}, base_dir=".")
    assert texts(inventory) == ["error: web01.example.jp: poshbridge_iis_port: must be in the range 1..65535"]


def test_no_secret_value_in_any_problem_or_repr() -> None:
    variables = host(
        ansible_password=PASSWORD,
        poshbridge_acme_eab_hmac=HMAC,
        poshbridge_acme_eab_kid={"secret": PASSWORD},
        poshbridge_acme_pfx_password=[HMAC],
        ansible_psrp_auth="basic",
        ansible_psrp_protocol="http",
    )
    inventory = build(variables)
    everything = " ".join(texts(inventory)) + repr(inventory)
    assert inventory.errors
    assert PASSWORD not in everything and HMAC not in everything
    with pytest.raises(api.InventoryError) as caught:
        api.inventory_from_ansible_vars({"host01": variables}, base_dir=".")
    assert PASSWORD not in str(caught.value) and HMAC not in str(caught.value)
    good = build(host(ansible_password=PASSWORD, ansible_user="u"))
    assert PASSWORD not in repr(good)


def test_not_a_mapping_and_too_deep() -> None:
    deep: Any = "x"
    for _ in range(40):
        deep = [deep]
    inventory = inventory_from_ansible_vars({"a": "oops", "b": host(poshbridge_domains=deep)}, base_dir=".")  # type: ignore[dict-item]
    assert texts(inventory) == [
        "error: a: the host's variables must be a mapping",
        "error: b: a variable is nested more than 32 levels deep",
    ]


# ----- groups and the library face ----------------------------------------------------------------------


def test_groups_from_group_names_or_the_groups_argument() -> None:
    hostvars = {
        "h1": host(group_names=["web", "tokyo"]),
        "h2": host(group_names=["web"]),
    }
    assert inventory_from_ansible_vars(hostvars, base_dir=".").groups == {
        "web": ("h1", "h2"),
        "tokyo": ("h1",),
    }
    given = inventory_from_ansible_vars(hostvars, base_dir=".", groups={"all": ["h1", "h2"], "db": ["h2"]})
    assert given.groups == {"db": ("h2",)}
    assert [h.name for h in api.select_hosts(given, ["db"])] == ["h2"]


def test_api_function_and_base_dir(tmp_path: Path) -> None:
    inventory = api.inventory_from_ansible_vars({"host01": host()}, base_dir=tmp_path)
    assert inventory.source == "<ansible>"
    assert api.inventory_base_dir(inventory) == tmp_path
    assert api.run_options(inventory).base_dir == tmp_path
    assert api.audit_options(inventory).base_dir == tmp_path
    with pytest.raises(api.InventoryError) as caught:
        api.inventory_from_ansible_vars({"host01": {}}, base_dir=tmp_path, source="play")
    assert caught.value.errors[0].path == "host01: poshbridge_domains"


def test_winrm_connection_plugin_options_are_not_silently_taken() -> None:
    inventory = build(
        host(ansible_winrm_server_cert_validation="ignore", ansible_winrm_pass="pw", ansible_user="u")
    )
    assert texts(inventory) == [
        "warning: host01: ansible_winrm_server_cert_validation: an option of the winrm connection plugin, "
        "not read by poshbridge (it reads the psrp plugin's): set the ansible_psrp_* equivalent (protocol, "
        "auth, cert_validation, ca_cert)"
    ]
    assert only_host(inventory).winrm.verify is True


class _Vaulted(str):
    """Like a vault value Ansible could not decrypt: text that raises when read."""

    def __str__(self) -> str:
        raise RuntimeError("Decryption failed (no vault secrets were found that could decrypt)")


def test_an_unreadable_value_is_a_located_error() -> None:
    inventory = build(
        host(ansible_password=_Vaulted("x"), poshbridge_acme_eab_hmac=_Vaulted("y"), ansible_user="u")
    )
    assert texts(inventory) == [
        "error: host01: ansible_password: cannot be read as text (an encrypted vault value? pass the values "
        "Ansible decrypted)",
        "error: host01: poshbridge_acme_eab_hmac: cannot be read as text (an encrypted vault value? pass the "
        "values Ansible decrypted)",
    ]
    assert inventory.hosts == {}

"""Ansible host variables → a poshbridge :class:`Inventory` (pure: no files, no environment).

``hostvars`` maps each host name to that host's merged variables, as Ansible's
``hostvars[inventory_hostname]`` gives them. The connection comes from the variables Ansible's ``psrp``
connection plugin reads (ansible/ansible ``lib/ansible/plugins/connection/psrp.py``, its DOCUMENTATION
and ``_build_kwargs``); poshbridge's own settings from ``poshbridge_*`` variables (:data:`SETTING_VARS`).
Where several variables set one option, the later one in the plugin's list wins, as in Ansible.

The mapped values go through :func:`build_inventory`: the same checks as the native YAML format. Each
problem's key path is then named by the Ansible variable it came from (``host01: poshbridge_domains[0]``,
or ``group web: poshbridge_acme_directory`` when the reader of an inventory file knows the group).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from poshbridge.errors import ConfigurationError
from poshbridge.inventory.checks import _suggest
from poshbridge.inventory.fields import SECTION_KEYS
from poshbridge.inventory.model import Inventory, Problem
from poshbridge.inventory.validate import build_inventory
from poshbridge.powershell.command import Secret

# ----- the mapping --------------------------------------------------------------------------------------

# winrm key -> the variables that set it, lowest precedence first (the psrp plugin's ``vars`` lists).
CONNECTION_VARS: Final[dict[str, tuple[str, ...]]] = {
    "port": ("ansible_port", "ansible_psrp_port"),
    "transport": ("ansible_psrp_protocol",),
    "auth": ("ansible_psrp_auth",),
    "username": ("ansible_user", "ansible_psrp_user"),
    "password": ("ansible_password", "ansible_winrm_pass", "ansible_winrm_password"),
    "configuration_name": ("ansible_psrp_configuration_name",),
    "operation_timeout": ("ansible_psrp_operation_timeout",),
    "connection_timeout": ("ansible_psrp_connection_timeout",),
    "read_timeout": ("ansible_psrp_read_timeout",),
    "certificate_pem": ("ansible_psrp_certificate_pem",),
    "certificate_key_pem": ("ansible_psrp_certificate_key_pem",),
}
ADDRESS_VARS: Final = ("ansible_host", "ansible_psrp_host")
CERT_VALIDATION_VAR: Final = "ansible_psrp_cert_validation"  # validate | ignore
CA_CERT_VARS: Final = ("ansible_psrp_cert_trust_path", "ansible_psrp_ca_cert")
# psrp plugin options poshbridge has no field for: a warning when set (poshbridge does not honour them).
UNSUPPORTED_PSRP_VARS: Final = (
    "ansible_psrp_path",
    "ansible_psrp_message_encryption",
    "ansible_psrp_proxy",
    "ansible_psrp_ignore_proxy",
    "ansible_psrp_max_envelope_size",
    "ansible_psrp_reconnection_retries",
    "ansible_psrp_reconnection_backoff",
    "ansible_psrp_connection_backoff",
    "ansible_psrp_credssp_auth_mechanism",
    "ansible_psrp_credssp_disable_tlsv1_2",
    "ansible_psrp_credssp_minimum_version",
    "ansible_psrp_negotiate_delegate",
    "ansible_psrp_negotiate_hostname_override",
    "ansible_psrp_negotiate_send_cbt",
    "ansible_psrp_negotiate_service",
)
_PSRP_DEFAULTS: Final = {"ansible_psrp_path": "wsman", "ansible_psrp_message_encryption": "auto"}

_WINRM_PREFIX: Final = "ansible_winrm_"
_WINRM_READ: Final = frozenset(CONNECTION_VARS["password"])  # the psrp plugin reads these two too
PREFIX: Final = "poshbridge_"
_SETTING_SECTIONS: Final = ("acme", "renewal", "iis")


def _setting_vars() -> dict[str, tuple[str, str]]:
    names: dict[str, tuple[str, str]] = {
        f"{PREFIX}domains": ("", "domains"),
        f"{PREFIX}webroot": ("", "webroot"),
    }
    for section in _SETTING_SECTIONS:
        for key in SECTION_KEYS[section]:
            names[f"{PREFIX}{section}_{key}"] = (section, key)
    # short names for the settings every fleet writes (each is the same field as its long name)
    names.update(
        {
            f"{PREFIX}directory": ("acme", "directory"),
            f"{PREFIX}eab_kid": ("acme", "eab_kid"),
            f"{PREFIX}eab_hmac": ("acme", "eab_hmac"),
            f"{PREFIX}contact": ("acme", "contacts"),
            f"{PREFIX}contacts": ("acme", "contacts"),
            f"{PREFIX}site": ("iis", "site"),
        }
    )
    return names


SETTING_VARS: Final[dict[str, tuple[str, str]]] = _setting_vars()
"""``poshbridge_<name>`` → (native section or "" for a host key, native key)."""

_INT_FIELDS: Final = {
    ("winrm", "port"),
    ("winrm", "operation_timeout"),
    ("winrm", "connection_timeout"),
    ("winrm", "read_timeout"),
    ("renewal", "wait_after_renewal"),
    ("renewal", "log_retention_days"),
    ("iis", "port"),
}
_BOOL_FIELDS: Final = {("acme", "skip_certificate_check"), ("iis", "require_sni"), ("iis", "remove_old_cert")}
# Ansible's boolean() (module_utils/parsing/convert_bool.py): the text forms of true and false.
_TRUE: Final = frozenset({"y", "yes", "on", "1", "true", "t"})
_FALSE: Final = frozenset({"n", "no", "off", "0", "false", "f"})
_INT_TEXT = re.compile(r"^[+-]?[0-9]{1,9}$")
_MAX_DEPTH: Final = 32
_LITERAL_WARNING: Final = "literal secret in the inventory file"

# native field -> the variable named in a problem when none was set (a "missing" problem)
_DEFAULT_NAMES: Final = {
    ("", "address"): "ansible_host",
    ("", "domains"): f"{PREFIX}domains",
    ("", "webroot"): f"{PREFIX}webroot",
    ("winrm", ""): "ansible_psrp_auth",
    ("acme", ""): f"{PREFIX}acme",
    ("renewal", ""): f"{PREFIX}renewal",
    ("iis", ""): f"{PREFIX}iis",
    **{("winrm", key): names[0] for key, names in CONNECTION_VARS.items()},
    **{
        (section, key): f"{PREFIX}{section}_{key}"
        for section in _SETTING_SECTIONS
        for key in SECTION_KEYS[section]
    },
}

Where = Callable[[str, str], str]
"""``where(host, variable)``: the label of the place the variable was written (``host01``, ``group web``)."""


def _host_label(host: str, variable: str) -> str:
    return host


# ----- conversion ---------------------------------------------------------------------------------------


class _TooDeep(ConfigurationError):
    pass


class _Unreadable(ConfigurationError):
    """A value that cannot be turned into text (an undecryptable vault object raises on str())."""


def _plain(value: Any, depth: int = 0) -> Any:
    """Ansible's str/list/dict subclasses (AnsibleUnicode, ...) as plain Python; Secret revealed."""
    if depth > _MAX_DEPTH:
        raise _TooDeep
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        try:
            return str(value)  # AnsibleUnicode, or a vault value that decrypts on str()
        except Exception:  # whatever a foreign str subclass raises, never with its text
            raise _Unreadable from None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Mapping):
        return {(str(k) if isinstance(k, str) else k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    return value


def _coerce(field_key: tuple[str, str], value: Any) -> Any:
    """Ansible's option types for text values (an INI ``[group:vars]`` value is always text)."""
    if isinstance(value, str):
        if field_key in _INT_FIELDS and _INT_TEXT.match(value.strip()):
            return int(value.strip())
        if field_key in _BOOL_FIELDS and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
    return value


@dataclass
class _Host:
    """One host's native mapping and, per native field, the variable that set it."""

    data: dict[str, Any] = field(default_factory=dict)
    names: dict[tuple[str, str], str] = field(default_factory=dict)

    def put(self, section: str, key: str, value: Any, variable: str) -> None:
        target = self.data if not section else self.data.setdefault(section, {})
        target[key] = _coerce((section, key), value)
        self.names[(section, key)] = variable


def _last_set(variables: Mapping[str, Any], names: Sequence[str]) -> str | None:
    found = None
    for name in names:
        if name in variables:
            found = name
    return found


class _Findings:
    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.failed_hosts: set[str] = set()

    def error(self, host: str, path: str, message: str) -> None:
        self.failed_hosts.add(host)
        self.items.append(Problem(path, message, "error"))

    def warning(self, path: str, message: str) -> None:
        self.items.append(Problem(path, message, "warning"))


def _read(host: str, variables: Mapping[str, Any], name: str, where: Where, out: _Findings) -> Any:
    """The plain value of ``name``, or :data:`_UNREADABLE` (reported at ``host: name``)."""
    try:
        return _plain(variables[name])
    except _Unreadable:
        out.error(
            host,
            f"{where(host, name)}: {name}",
            "cannot be read as text (an encrypted vault value? pass the values Ansible decrypted)",
        )
        return _UNREADABLE


_UNREADABLE: Final = object()


def _connection(host: str, variables: Mapping[str, Any], result: _Host, where: Where, out: _Findings) -> None:
    address_var = _last_set(variables, ADDRESS_VARS)
    if address_var is not None:
        value = _read(host, variables, address_var, where, out)
        if value is not _UNREADABLE:
            result.put("", "address", value, address_var)
    for key, names in CONNECTION_VARS.items():
        name = _last_set(variables, names)
        if name is not None:
            value = _read(host, variables, name, where, out)
            if value is not _UNREADABLE:
                result.put("winrm", key, value, name)
    port = result.data.get("winrm", {}).get("port")
    if "transport" not in result.data.get("winrm", {}) and port == 5985:
        # psrp plugin: with no protocol, the protocol is https unless the port is 5985
        result.put("winrm", "transport", "http", result.names[("winrm", "port")])
    validation = variables.get(CERT_VALIDATION_VAR)
    ca_var = _last_set(variables, CA_CERT_VARS)
    if validation is not None and validation not in ("validate", "ignore"):
        out.error(
            host,
            f"{where(host, CERT_VALIDATION_VAR)}: {CERT_VALIDATION_VAR}",
            "must be validate or ignore (the psrp connection plugin's choices)",
        )
    elif validation == "ignore":
        result.put("winrm", "verify", False, CERT_VALIDATION_VAR)
    elif ca_var is not None:
        value = _read(host, variables, ca_var, where, out)
        if value is not _UNREADABLE:
            result.put("winrm", "verify", value, ca_var)
    for name in UNSUPPORTED_PSRP_VARS:
        if name in variables and _PSRP_DEFAULTS.get(name, object()) != variables[name]:
            out.warning(
                f"{where(host, name)}: {name}",
                "not supported by poshbridge and ignored (poshbridge connects with pypsrp's defaults for it)",
            )
    for name in variables:
        if isinstance(name, str) and name.startswith(_WINRM_PREFIX) and name not in _WINRM_READ:
            out.warning(
                f"{where(host, name)}: {name}",
                "an option of the winrm connection plugin, not read by poshbridge (it reads the psrp "
                "plugin's): set the ansible_psrp_* equivalent (protocol, auth, cert_validation, ca_cert)",
            )


def _settings(host: str, variables: Mapping[str, Any], result: _Host, where: Where, out: _Findings) -> None:
    for name in list(variables):  # keys only: a lazy mapping (Ansible's hostvars) templates a value on access
        if not isinstance(name, str) or not name.startswith(PREFIX):
            continue
        target = SETTING_VARS.get(name)
        label = f"{where(host, name)}: {name}"
        if target is None:
            hint = _connection_hint(name)
            out.error(
                host,
                label,
                f"unknown poshbridge variable{hint or _suggest(name, list(SETTING_VARS))}".replace("  ", " "),
            )
            continue
        earlier = result.names.get(target)
        if earlier is not None:
            out.error(host, label, f"sets the same setting as {earlier}; set only one of them")
            continue
        value = _read(host, variables, name, where, out)
        if value is not _UNREADABLE:
            result.put(target[0], target[1], value, name)


def _connection_hint(name: str) -> str:
    rest = name[len(PREFIX) :]
    if rest.startswith("winrm_") or rest == "address":
        key = rest[len("winrm_") :] if rest.startswith("winrm_") else "address"
        names = ADDRESS_VARS if key == "address" else CONNECTION_VARS.get(key)
        lead = ": the connection comes from Ansible's variables"
        if key == "verify":
            return f"{lead}; use {CERT_VALIDATION_VAR} or {CA_CERT_VARS[-1]}"
        if names:
            return f"{lead}; use {names[0]}"
        return f"{lead} (ansible_host, ansible_port, ansible_psrp_*)"
    return ""


# ----- problem paths ------------------------------------------------------------------------------------


_TAIL = re.compile(
    r"(?:\.(?:(?P<section>winrm|acme|renewal|iis)(?:\.(?P<key>[a-z_]+))?|(?P<top>address|domains|webroot)))?"
    r"(?P<rest>(?:\[[0-9]{1,9}\]|\.(?:env|file))*)"
)
_TOKEN = re.compile(r"hosts\.[^\s(),;]+")


class _Renamer:
    """Native key paths (``hosts.h.acme.contacts[1]``) → the variable (``h: poshbridge_contacts[1]``)."""

    def __init__(self, hosts: Mapping[str, _Host], where: Where) -> None:
        self.hosts = hosts
        self.where = where

    def _split(self, path: str) -> tuple[str, re.Match[str]] | None:
        """The host (names may hold dots: the longest that fits) and the rest of the path."""
        body = path[len("hosts.") :]
        cuts = [i for i, ch in enumerate(body) if ch in ".["] + [len(body)]
        for cut in reversed(cuts):
            if body[:cut] in self.hosts:
                match = _TAIL.fullmatch(body[cut:])
                if match is not None:
                    return body[:cut], match
        return None

    def _label(self, host: str, match: re.Match[str]) -> str:
        if match["section"] is None and match["top"] is None:
            return host
        section, key = (match["section"], match["key"] or "") if match["top"] is None else ("", match["top"])
        variable = self.hosts[host].names.get((section, key))
        if variable is None:
            default = _DEFAULT_NAMES.get((section, key), f"{PREFIX}{section}_{key}".rstrip("_"))
            return f"{host}: {default}{match['rest']}"
        return f"{self.where(host, variable)}: {variable}{match['rest']}"

    def path(self, path: str) -> str:
        if path.startswith("groups."):
            return f"group {path[len('groups.') :]}"
        if path == "hosts":
            return ""
        if not path.startswith("hosts."):
            return path
        found = self._split(path)
        return self._label(*found) if found else path

    def message(self, text: str) -> str:
        if "hosts." not in text:
            return text
        return _TOKEN.sub(lambda m: self.path(m[0]), text)


# ----- the builder --------------------------------------------------------------------------------------


def build_from_hostvars(
    hostvars: Mapping[str, Mapping[str, Any]],
    *,
    base_dir: str | Path,
    source: str,
    groups: Mapping[str, Sequence[str]] | None = None,
    where: Where = _host_label,
    literal_secrets: str | None = None,
) -> Inventory:
    """The inventory of ``hostvars``; ``where`` labels the place each variable was written;
    ``literal_secrets``: the warning for a secret written as a literal (None: no warning, for values
    that come from Ansible, where a vault is the way to hold them)."""
    out = _Findings()
    hosts: dict[str, _Host] = {}
    member_of: dict[str, list[str]] = {}
    for host, variables in hostvars.items():
        host = str(host)
        result = _Host()
        if not isinstance(variables, Mapping):
            out.error(host, host, "the host's variables must be a mapping")
            continue
        try:
            _connection(host, variables, result, where, out)
            _settings(host, variables, result, where, out)
        except _TooDeep:
            out.error(host, host, f"a variable is nested more than {_MAX_DEPTH} levels deep")
            continue
        hosts[host] = result  # a host whose variables cannot be read is reported once, not checked
        names = variables.get("group_names")
        if groups is None and isinstance(names, (list, tuple)):
            for group in names:
                if isinstance(group, str) and group != "all":
                    member_of.setdefault(str(group), []).append(host)
    chosen_groups = (
        {
            str(g): [str(h) for h in members if str(h) in hosts]
            for g, members in groups.items()
            if str(g) != "all"
        }
        if groups is not None
        else member_of
    )
    data = {
        "hosts": {host: result.data for host, result in hosts.items()},
        "groups": {group: {"hosts": members} for group, members in chosen_groups.items()},
    }
    native = build_inventory(data, source=source)
    renamer = _Renamer(hosts, where)
    problems: list[Problem] = list(out.items)
    listed = set(problems)
    for problem in native.problems:
        if problem.path == "hosts" and hostvars:
            continue  # every host was unreadable, each reported already
        renamed = Problem(renamer.path(problem.path), renamer.message(problem.message), problem.severity)
        if problem.severity == "warning" and problem.message.startswith(_LITERAL_WARNING):
            if literal_secrets is None:
                continue
            renamed = replace(renamed, message=literal_secrets)
        if renamed not in listed:
            listed.add(renamed)
            problems.append(renamed)
    kept = {name: config for name, config in native.hosts.items() if name not in out.failed_hosts}
    return Inventory(
        hosts=kept, groups=native.groups, source=source, problems=tuple(problems), base_dir=Path(base_dir)
    )


def inventory_from_ansible_vars(
    hostvars: Mapping[str, Mapping[str, Any]],
    *,
    base_dir: str | Path,
    source: str = "<ansible>",
    groups: Mapping[str, Sequence[str]] | None = None,
) -> Inventory:
    """The inventory of Ansible host variables (host name → merged variables). Never raises on content:
    problems (each at ``host: variable``) are in ``Inventory.problems``. Groups come from ``groups``
    (group → host names) or else from each host's ``group_names``. Relative secret files and CA paths
    are resolved against ``base_dir``."""
    return build_from_hostvars(hostvars, base_dir=base_dir, source=source, groups=groups)

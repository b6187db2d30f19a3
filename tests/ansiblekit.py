"""Write a native poshbridge inventory (its parsed data) as the same fleet in Ansible's three inventory
forms: YAML (``all:``), INI and the JSON of ``ansible-inventory --list`` (merged hostvars) — so tests can
check that each reads back to the same hosts. Relative secret files become absolute (``folder``)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

_WINRM = {
    "transport": "ansible_psrp_protocol",
    "port": "ansible_port",
    "auth": "ansible_psrp_auth",
    "username": "ansible_user",
    "password": "ansible_password",
    "configuration_name": "ansible_psrp_configuration_name",
    "operation_timeout": "ansible_psrp_operation_timeout",
    "connection_timeout": "ansible_psrp_connection_timeout",
    "read_timeout": "ansible_psrp_read_timeout",
}


def _absolute(value: Any, folder: Path | None) -> Any:
    if folder is not None and isinstance(value, dict) and set(value) == {"file"}:
        return {"file": str((folder / value["file"]).resolve())}
    return value


def ansible_vars(native: dict[str, Any], folder: Path | None = None) -> dict[str, Any]:
    """One native host or defaults mapping (address/domains/webroot/sections) as Ansible variables."""
    out: dict[str, Any] = {}
    if "address" in native:
        out["ansible_host"] = native["address"]
    for key in ("domains", "webroot"):
        if key in native:
            out[f"poshbridge_{key}"] = native[key]
    for key, value in (native.get("winrm") or {}).items():
        if key == "verify":
            # ignore beats a CA path in the psrp plugin: a layer that validates says so explicitly
            out["ansible_psrp_cert_validation"] = "ignore" if value is False else "validate"
            if isinstance(value, str):
                out["ansible_psrp_ca_cert"] = str((folder / value).resolve()) if folder else value
        else:
            out[_WINRM[key]] = _absolute(value, folder)
    for section in ("acme", "renewal", "iis"):
        for key, value in (native.get(section) or {}).items():
            out[f"poshbridge_{section}_{key}"] = _absolute(value, folder)
    return out


def _host_line(name: str, variables: dict[str, Any]) -> str:
    return " ".join([name, *(shlex.quote(f"{k}={v!r}") for k, v in variables.items())])


def forms(native: dict[str, Any], folder: Path | None = None) -> dict[str, str]:
    """{"yaml": ..., "ini": ..., "json": ...}: ``defaults`` → ``all`` vars, each native group → a group
    (its vars as group vars), each host's own settings → host vars."""
    all_vars = ansible_vars(native.get("defaults") or {}, folder)
    hosts = {name: ansible_vars(body, folder) for name, body in native["hosts"].items()}
    groups = {
        name: (list(body.get("hosts") or []), ansible_vars(body.get("vars") or {}, folder))
        for name, body in (native.get("groups") or {}).items()
    }
    grouped = {h for members, _ in groups.values() for h in members}
    yaml_doc: dict[str, Any] = {
        "all": {
            "vars": all_vars,
            "hosts": {h: v for h, v in hosts.items() if h not in grouped},
            "children": {
                g: {"hosts": {h: hosts[h] for h in members}, "vars": gvars}
                for g, (members, gvars) in groups.items()
            },
        }
    }
    lines = [_host_line(h, hosts[h]) for h in hosts if h not in grouped]
    lines.append("[all:vars]")
    lines += [f"{k}={v!r}" for k, v in all_vars.items()]
    for g, (members, gvars) in groups.items():
        lines.append(f"[{g}]")
        lines += [_host_line(h, hosts[h]) for h in members]
        lines.append(f"[{g}:vars]")
        lines += [f"{k}={v!r}" for k, v in gvars.items()]
    hostvars: dict[str, Any] = {}
    for h, own in hosts.items():
        merged = dict(all_vars)
        for members, gvars in groups.values():
            if h in members:
                merged.update(gvars)
        merged.update(own)
        hostvars[h] = merged
    listing: dict[str, Any] = {"_meta": {"hostvars": hostvars}, "all": {"children": ["ungrouped", *groups]}}
    for g, (members, _) in groups.items():
        listing[g] = {"hosts": members}
    if any(h not in grouped for h in hosts):
        listing["ungrouped"] = {"hosts": [h for h in hosts if h not in grouped]}
    import yaml

    return {
        "yaml": yaml.safe_dump(yaml_doc, sort_keys=False),
        "ini": "\n".join(lines) + "\n",
        "json": json.dumps(listing, indent=4),
    }

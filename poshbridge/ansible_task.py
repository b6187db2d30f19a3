"""One task of the ``poshbridge.iis`` Ansible collection: one host, one command, run on the controller
through :mod:`poshbridge.api`; the result is the dict the action plugin hands back to Ansible.

The collection's action plugins (``ansible_collections/poshbridge/iis/plugins/action/``) template and
decrypt the host's variables and call :func:`run_task`; everything else is here, without Ansible, so
it is typed and tested like the rest of poshbridge. One host per task: Ansible's forks, AWX/AAP job
slicing and execution nodes spread the fleet.

- Host settings: the host's Ansible variables (:func:`wanted_var` picks them) through
  :func:`poshbridge.api.inventory_from_ansible_vars`, validated like a native inventory.
- Check mode: ``setup`` is poshbridge's dry run; ``status`` and ``audit`` only read and run as usual;
  ``renew`` has no dry run, so in check mode it sends nothing and is skipped.
- ``changed``: a step ``changed`` (``setup``, ``renew``); ``status``/``audit`` never change anything.
- ``failed``: the host's run failed (``audit``: its verdict at or past ``fail_on``), with poshbridge's
  message and fix.
- The result holds the host's ``--json`` object (the keys ``poshbridge COMMAND --json`` gives for it)
  plus ``command``, ``dry_run``, ``changed``, ``failed``, ``msg`` and ``inventory_warnings`` (the
  validation's warnings about the host's variables; Ansible shows only the insecure-setting ones).
  Every secret of the host (WinRM password, EAB key id and HMAC key, PFX password) is masked in it,
  in messages and in warnings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from poshbridge.inventory.model import HostConfig, SecretRef
from poshbridge.runner.session import SessionFactory
from poshbridge.scrubber import Scrubber

COMMANDS = ("setup", "renew", "status", "audit")
FAIL_ON = ("WARN", "UNKNOWN", "CRIT", "never")  # audit: the least severe verdict that fails the task

# The Ansible variables a host's settings come from (templated and decrypted by the action plugin).
ANSIBLE_VARS = ("ansible_host", "ansible_port", "ansible_user", "ansible_password", "ansible_connection")
ANSIBLE_VAR_PREFIXES = ("ansible_psrp_", "ansible_winrm_", "poshbridge_")

_COMMON: dict[str, dict[str, Any]] = {
    "insecure": {"type": "bool", "default": False},
    "winrm_password": {"type": "str", "no_log": True},
    "host_timeout": {"type": "float"},
}
_RUN: dict[str, dict[str, Any]] = {
    "retries": {"type": "int"},
    "history": {"type": "bool", "default": True},
}
_DAYS: dict[str, dict[str, Any]] = {
    "warn_days": {"type": "int", "default": 21},
    "crit_days": {"type": "int", "default": 7},
}
ARGUMENT_SPECS: dict[str, dict[str, dict[str, Any]]] = {
    "setup": {
        **_COMMON,
        **_RUN,
        "install_modules": {"type": "bool", "default": False},
        "eab_kid": {"type": "str", "no_log": True},
        "eab_hmac": {"type": "str", "no_log": True},
        "pfx_password": {"type": "str", "no_log": True},
    },
    "renew": {**_COMMON, **_RUN, "force": {"type": "bool", "default": False}},
    "status": {**_COMMON, **_RUN, **_DAYS},
    "audit": {
        **_COMMON,
        **_DAYS,
        "max_logs": {"type": "int", "default": 10},
        "fail_on": {"type": "str", "default": "WARN", "choices": list(FAIL_ON)},
    },
}
"""Each module's options (Ansible's argument-spec form); the modules' DOCUMENTATION says the same."""


# What a task's run imports on first use (the workers, the audit, the TLS probe and OCSP, the message
# renderer). :func:`preload` imports them in Ansible's main process, before it forks a worker per task.
RUN_MODULES = (
    "poshbridge.api",
    "poshbridge.runner.fleet",
    "poshbridge.runner.audit",
    "poshbridge.runner.certfiles",
    "poshbridge.audit.collect",
    "poshbridge.health.ocsp_verify",
    "poshbridge.remote.tls",
    "poshbridge.remote.ocsp",
    "poshbridge.remote.revocation",
    "poshbridge.remote.session",
    "poshbridge.cli.ops_render",
    "poshbridge.plan.revocation",
    "poshbridge.powershell.fixed",
    "poshbridge.generate.renew_script",
    "poshbridge.generate.task_xml",
    "poshbridge.inventory.secrets",
    "poshbridge.history",
    "cryptography.x509.ocsp",
    "cryptography.hazmat.backends.openssl",
    "pypsrp.client",
    "pypsrp.powershell",
)


def preload() -> None:
    """Import what a run needs, once, in the process that forks Ansible's workers. Ansible loads an
    action plugin's class in its main process (the strategy checks the plugin before it queues the
    task), and forks one worker per host and task: with the modules imported there, every worker starts
    with them instead of importing poshbridge, pypsrp and cryptography again (~0.5 s of CPU each)."""
    import importlib

    for name in RUN_MODULES:
        importlib.import_module(name)


# poshbridge's messages name its inventory keys and options; the task's message names what an Ansible
# user sets instead (the variables of poshbridge.inventory.ansible.CONNECTION_VARS, the module option).
ANSIBLE_TERMS = (
    ("winrm.username/password", "ansible_user/ansible_password"),
    ("winrm.transport/port", "ansible_psrp_protocol/ansible_port"),
    ("winrm.username", "ansible_user"),
    ("winrm.password", "ansible_password"),
    ("winrm.auth", "ansible_psrp_auth"),
    ("winrm.transport", "ansible_psrp_protocol"),
    ("winrm.port", "ansible_port"),
    ("winrm.verify", "ansible_psrp_ca_cert (or ansible_psrp_cert_validation)"),
    ("winrm.configuration_name", "ansible_psrp_configuration_name"),
    ("pass --insecure", "set the option insecure: true"),
    ("(--insecure)", "(insecure: true)"),
)


def in_ansible_terms(text: str) -> str:
    """``text`` with poshbridge's key and option names as an Ansible user writes them."""
    for native, ansible in ANSIBLE_TERMS:
        text = text.replace(native, ansible)
    return text


def wanted_var(name: str) -> bool:
    """Whether the Ansible variable ``name`` is one a host's poshbridge settings come from."""
    return name in ANSIBLE_VARS or name.startswith(ANSIBLE_VAR_PREFIXES)


def run_task(
    command: str,
    host: str,
    host_vars: Mapping[str, Any],
    params: Mapping[str, Any],
    *,
    check_mode: bool = False,
    base_dir: Path | None = None,
    session_factory: SessionFactory | None = None,
) -> dict[str, Any]:
    """Run ``command`` on the one host ``host`` whose (templated, decrypted) Ansible variables are
    ``host_vars``; ``params`` are the task's validated options (:data:`ARGUMENT_SPECS`).
    ``base_dir``: where relative secret files and CA bundles are found (the inventory's folder).
    Never raises for a failing host: the failure is the result (``failed``, ``msg``)."""

    if command not in ARGUMENT_SPECS:
        raise ValueError(f"unknown command {command!r}")
    base = base_dir if base_dir is not None else Path.cwd()
    mask = Scrubber(_literal_secrets(host_vars, params))
    try:
        return _run_task(command, host, host_vars, params, check_mode, base, mask, session_factory)
    except Exception as exc:  # a bug, not a host's failure: said without a traceback or a secret
        return _failed(command, host, mask, f"poshbridge internal error: {type(exc).__name__}: {exc}")


def _run_task(
    command: str,
    host: str,
    host_vars: Mapping[str, Any],
    params: Mapping[str, Any],
    check_mode: bool,
    base: Path,
    mask: Scrubber,
    session_factory: SessionFactory | None,
) -> dict[str, Any]:
    from poshbridge import api

    try:
        inventory = api.inventory_from_ansible_vars({host: host_vars}, base_dir=base, source="<ansible>")
        (config,) = api.select_hosts(inventory, [host])
    except (api.InventoryError, api.TargetError) as exc:
        return _failed(command, host, mask, _inventory_message(exc))
    config = with_overrides(config, params)
    said: list[str] = []  # a secret file readable by others is said here: it is read first here
    for secret in resolved_secrets(config, base, warn=said.append):
        mask.add(secret)
    # the inventory's warnings go into the result, not on the screen (the CLI prints them only in
    # `check`); an allowed insecure setting is said for each host, as the CLI says it
    noted = [f"{p.path}: {p.message}" for p in inventory.warnings]
    try:
        warnings = said + api.transport_warnings(config, insecure=bool(params.get("insecure")))
    except api.InsecureConfigError as exc:
        return _failed(command, host, mask, in_ansible_terms(str(exc)))
    if command == "audit":
        result = _audit(config, params, base, session_factory)
    elif command == "renew" and check_mode:
        result = {
            "command": command,
            "host": host,
            "dry_run": True,
            "changed": False,
            "skipped": True,
            "msg": "check mode: renew has no dry run, nothing was sent to the host",
        }
    else:
        result = _run(command, config, params, base, check_mode, session_factory)
    result["inventory_warnings"] = noted
    if warnings:
        result["warnings"] = [in_ansible_terms(w) for w in warnings]
    return dict(mask.value(result))


def with_overrides(config: HostConfig, params: Mapping[str, Any]) -> HostConfig:
    """The host with the secrets given as task options (``winrm_password``, ``eab_kid``, ``eab_hmac``,
    ``pfx_password``) in place of its variables' ones."""

    def literal(name: str) -> SecretRef | None:
        value = params.get(name)
        return SecretRef("literal", "", str(value)) if value else None

    password = literal("winrm_password")
    if password is not None:
        config = replace(config, winrm=replace(config.winrm, password=password))
    acme = replace(
        config.acme,
        eab_kid=literal("eab_kid") or config.acme.eab_kid,
        eab_hmac=literal("eab_hmac") or config.acme.eab_hmac,
        pfx_password=literal("pfx_password") or config.acme.pfx_password,
    )
    return replace(config, acme=acme)


def resolved_secrets(config: HostConfig, base_dir: Path, *, warn: Callable[[str], None]) -> list[str]:
    """The values of the host's secret references that can be read (to mask them in the result).
    ``warn`` hears what reading them warns of (a secret file readable by others: said once per file
    and process, so this first read is the one that says it)."""
    from poshbridge.inventory.secrets import SecretError, resolve

    refs = (config.winrm.password, config.acme.eab_kid, config.acme.eab_hmac, config.acme.pfx_password)
    values: list[str] = []
    for ref in refs:
        if ref is None:
            continue
        try:
            values.append(resolve(ref, base_dir, warn=warn).reveal())
        except SecretError:
            continue  # unreadable: the run reports it (by its reference, never a value)
    return values


def _literal_secrets(host_vars: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """Secret values given directly, before any validation: the task's secret options and every
    variable whose name says it is a secret (``*password*``, ``*_pass``, ``*hmac*``, ``*eab_kid*``)."""
    values = [
        str(params[name])
        for name in ("winrm_password", "eab_kid", "eab_hmac", "pfx_password")
        if params.get(name)
    ]
    for name, value in host_vars.items():
        lowered = name.lower()
        if isinstance(value, str) and (
            "password" in lowered or lowered.endswith("_pass") or "hmac" in lowered or "eab_kid" in lowered
        ):
            values.append(value)
    return values


def _inventory_message(exc: Exception) -> str:
    problems = getattr(exc, "problems", None)
    if problems:
        return "the host's variables have errors: " + "; ".join(
            f"{p.path}: {p.message}" for p in problems if p.severity == "error"
        )
    return str(exc)


def _failed(command: str, host: str, mask: Scrubber, message: str) -> dict[str, Any]:
    return dict(
        mask.value({"command": command, "host": host, "changed": False, "failed": True, "msg": message})
    )


def _plain(doc: Any) -> Any:
    """JSON data only (what ``--json`` prints): no datetimes or other objects for Ansible to carry."""
    return json.loads(json.dumps(doc, ensure_ascii=False, default=str))


def _run(
    command: str,
    config: HostConfig,
    params: Mapping[str, Any],
    base_dir: Path,
    check_mode: bool,
    session_factory: SessionFactory | None,
) -> dict[str, Any]:
    from poshbridge import api
    from poshbridge.cli.ops_render import error_text

    changes: dict[str, Any] = {"base_dir": base_dir, "insecure": bool(params.get("insecure")), "parallel": 1}
    changes["history"] = bool(params.get("history", True))
    for name in ("retries", "host_timeout"):
        if params.get(name) is not None:
            changes[name] = params[name]
    if command == "setup":
        changes["dry_run"] = check_mode
        changes["install_modules"] = bool(params.get("install_modules"))
    elif command == "renew":
        changes["force"] = bool(params.get("force"))
    elif command == "status":
        changes["warn_days"] = int(params.get("warn_days", 21))
        changes["crit_days"] = int(params.get("crit_days", 7))
    options = api.run_options(None, **changes)
    run_command = {"setup": api.setup, "renew": api.renew, "status": api.status}[command]
    fleet = run_command([config], options=options, session_factory=session_factory)
    doc = _plain(fleet.to_json())  # scrubbed with the run's scrubber
    (entry,) = doc["hosts"]
    (run,) = fleet.hosts
    failed = not run.ok or fleet.interrupted
    changed = command != "status" and any(step.get("status") == "changed" for step in entry["steps"])
    scrub = fleet.scrub or Scrubber()
    if failed:
        msg = "\n".join(scrub(error_text(run.host, error)) for error in run.errors) or scrub(run.summary)
    else:
        msg = scrub(run.summary)
    msg = in_ansible_terms(msg)  # the errors keep poshbridge's own words, as --json gives them
    return {
        **entry,
        "command": command,
        "dry_run": doc["dry_run"],
        "started": doc["started"],
        "finished": doc["finished"],
        "changed": changed,
        "failed": failed,
        "msg": msg,
    }


def _audit(
    config: HostConfig, params: Mapping[str, Any], base_dir: Path, session_factory: SessionFactory | None
) -> dict[str, Any]:
    from poshbridge import api
    from poshbridge.health.model import LEVELS

    options = api.audit_options(
        None,
        base_dir=base_dir,
        insecure=bool(params.get("insecure")),
        parallel=1,
        max_logs=int(params.get("max_logs", 10)),
        warn_days=int(params.get("warn_days", 21)),
        crit_days=int(params.get("crit_days", 7)),
    )
    audited = api.audit([config], options=options, session_factory=session_factory)
    (verdict,) = audited.verdicts
    entry = _plain(verdict.to_json())
    fail_on = str(params.get("fail_on", "WARN"))
    failed = fail_on != "never" and LEVELS.index(verdict.level) >= LEVELS.index(fail_on)
    lines = [f"{verdict.level}: {verdict.summary}"]
    if failed:
        lines += [
            f"  {reason.level}: {reason.message}" + (f" (fix: {reason.fix})" if reason.fix else "")
            for reason in verdict.reasons
        ]
    return {
        **entry,
        "command": "audit",
        "dry_run": False,
        "changed": False,
        "failed": failed,
        "msg": "\n".join(lines),
    }

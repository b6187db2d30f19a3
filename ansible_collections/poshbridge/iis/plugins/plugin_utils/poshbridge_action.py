"""The one action plugin of the poshbridge.iis modules: each module's plugins/action/<name>.py names
its command. It runs on the controller (never on the Windows host): it takes the task's host
(``inventory_hostname``), templates and decrypts that host's variables, and hands them to
``poshbridge.ansible_task.run_task``, which runs the command on that one host through poshbridge.api.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

try:
    from poshbridge import ansible_task as _ansible_task
except ImportError:
    _ansible_task = None
if _ansible_task is not None:
    # here, at load time: Ansible loads the plugin in its main process, whose forks inherit the
    # imports. A module that fails here fails again in the task, which then says why.
    with contextlib.suppress(ImportError):
        _ansible_task.preload()

_MISSING = (
    "poshbridge is not installed in the Python that runs Ansible on the controller "
    "(pip install poshbridge, or use the execution environment in examples/ansible/)"
)


def plain(value: Any) -> Any:
    """Plain Python data: Ansible's tagged strings, vaulted values (decrypted) and containers."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str) or type(value).__name__ in ("EncryptedString", "AnsibleVaultEncryptedUnicode"):
        return str(value)[:]  # a vaulted value's str() is its plaintext; [:] drops str subclasses
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class PoshbridgeAction(ActionBase):
    """Set ``COMMAND`` (setup, renew, status, audit) in a subclass named ActionModule."""

    COMMAND = ""
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        ansible_task = _ansible_task
        if ansible_task is None:
            result.update(failed=True, msg=_MISSING)
            return result
        spec = ansible_task.ARGUMENT_SPECS[self.COMMAND]
        try:
            _validation, params = self.validate_argument_spec(argument_spec=spec)
        except AnsibleActionFail as exc:
            result.update(failed=True, msg=str(exc))  # the validator never echoes a no_log value
            return result
        host = str(plain(task_vars.get("inventory_hostname", "")))
        host_vars = self.host_vars(task_vars, ansible_task.wanted_var)
        base = task_vars.get("inventory_dir") or task_vars.get("playbook_dir") or "."
        outcome = ansible_task.run_task(
            self.COMMAND,
            host,
            host_vars,
            plain(params),
            check_mode=bool(self._task.check_mode),
            base_dir=Path(str(plain(base))),
        )
        result.update(outcome)
        return result

    def host_vars(self, task_vars: Mapping[str, Any], wanted: Any) -> dict[str, Any]:
        """The host's variables poshbridge reads, templated (``{{ ... }}``, vaulted values decrypted)."""
        picked = {name: value for name, value in task_vars.items() if wanted(name)}
        return {name: plain(self._templar.template(value)) for name, value in picked.items()}

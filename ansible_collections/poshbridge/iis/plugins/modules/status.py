"""poshbridge.iis.status: documentation only; the work is the action plugin's (plugins/action/status.py)."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: status
short_description: A host's certificate health - read only
description:
  - Runs C(poshbridge status) for the task's host on the controller - reads Posh-ACME's order and
    certificate, the IIS binding and the renewal task, probes what the site serves, checks revocation
    (OCSP), and judges it with poshbridge's health model (OK, WARN, UNKNOWN, CRIT).
  - Never changes anything (never C(changed)); runs the same in check mode.
  - The task fails when the verdict is not OK or the host cannot be read, each finding with its fix.
version_added: 0.1.0
author:
  - poshbridge contributors
extends_documentation_fragment:
  - poshbridge.iis.options
  - poshbridge.iis.options.run
  - poshbridge.iis.options.days
attributes:
  check_mode:
    description: Read only - runs the same in check mode.
    support: full
  diff_mode:
    description: No diff.
    support: none
seealso:
  - module: poshbridge.iis.audit
"""

EXAMPLES = r"""
- name: Certificate health of the fleet
  hosts: iis
  gather_facts: false
  tasks:
    - poshbridge.iis.status:
        warn_days: 30
      register: health
      ignore_errors: true

    - ansible.builtin.debug:
        msg: "{{ health.objects.status.health }} until {{ health.objects.status.not_after }}"
"""

RETURN = r"""
host:
  description: The host's name (its inventory_hostname).
  returned: always
  type: str
ok:
  description: Whether the host's run succeeded.
  returned: when the host was run
  type: bool
outcome:
  description: C(ok), C(failed) or C(interrupted).
  returned: when the host was run
  type: str
summary:
  description: One line - the result, or the first error.
  returned: when the host was run
  type: str
steps:
  description: The steps with C(name), C(status), C(detail) and C(commands), as C(--json) gives them.
  returned: when the host was run
  type: list
  elements: dict
objects:
  description:
    - What was read from the host, as C(--json) gives it; C(objects.status) is the summary (C(health),
      C(thumbprint), C(not_after), C(days_left), C(served_matches), C(task_state), ...) and
      C(objects.health) the verdict with its reasons.
  returned: when the host was run
  type: dict
errors:
  description: The host's errors, each with C(step), C(kind), C(message), C(hint) and C(acme_problem).
  returned: when the host was run
  type: list
  elements: dict
inventory_warnings:
  description: The validation's warnings about the host's variables (C(poshbridge check) shows them too).
  returned: when the variables were valid
  type: list
  elements: str
command:
  description: The command (status).
  returned: always
  type: str
dry_run:
  description: Always false (only setup has a dry run).
  returned: when the host was run
  type: bool
started:
  description: When the run started (RFC 3339, UTC).
  returned: when the host was run
  type: str
finished:
  description: When the run finished (RFC 3339, UTC).
  returned: when the host was run
  type: str
"""


def main() -> None:
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    module.fail_json(
        msg="poshbridge.iis.status runs on the controller: an action plugin, not a module for the host"
    )


if __name__ == "__main__":
    main()

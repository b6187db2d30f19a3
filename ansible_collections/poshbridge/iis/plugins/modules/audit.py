"""poshbridge.iis.audit: documentation only; the work is the action plugin's (plugins/action/audit.py)."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: audit
short_description: Audit a host's renewal transcripts, Posh-ACME state, task, binding and served certificate
description:
  - Runs C(poshbridge audit) for the task's host on the controller - reads the renewal transcripts
    and result files, Posh-ACME's state, the scheduled task, the IIS binding and what the site serves,
    and judges it with poshbridge's health model (OK, WARN, UNKNOWN, CRIT).
  - Never changes anything (never C(changed)); runs the same in check mode.
  - The result is the host's object of C(poshbridge audit --json) (C(verdict), C(reasons) each with
    its fix, C(thumbprints), C(runs), ...). The task fails when the verdict is C(fail_on) or worse.
version_added: 0.1.0
author:
  - poshbridge contributors
options:
  max_logs:
    description: How many of the newest renewal transcripts to read.
    type: int
    default: 10
  fail_on:
    description:
      - The least severe verdict that fails the task (severity OK < WARN < UNKNOWN < CRIT). C(WARN)
        fails on any finding, as C(poshbridge audit) exits non-zero; C(never) only reports.
    type: str
    choices: [WARN, UNKNOWN, CRIT, never]
    default: WARN
extends_documentation_fragment:
  - poshbridge.iis.options
  - poshbridge.iis.options.days
attributes:
  check_mode:
    description: Read only - runs the same in check mode.
    support: full
  diff_mode:
    description: No diff.
    support: none
seealso:
  - module: poshbridge.iis.status
"""

EXAMPLES = r"""
- name: Audit the renewals of the fleet
  hosts: iis
  gather_facts: false
  tasks:
    - poshbridge.iis.audit:
        fail_on: CRIT
      register: audit

    - name: Hosts that need a look
      ansible.builtin.debug:
        msg: "{{ audit.verdict }}: {{ audit.reasons | map(attribute='message') | list }}"
      when: audit.verdict != 'OK'
"""

RETURN = r"""
host:
  description: The host's name (its inventory_hostname).
  returned: always
  type: str
verdict:
  description: C(OK), C(WARN), C(UNKNOWN) (the host could not be read) or C(CRIT).
  returned: when the host was audited
  type: str
reasons:
  description: Each finding with C(level), C(code), C(message) and C(fix).
  returned: when the host was audited
  type: list
  elements: dict
order:
  description: The Posh-ACME order's name.
  returned: when the host was audited
  type: str
expires:
  description: When the current certificate expires (RFC 3339).
  returned: when the host was audited
  type: str
days_left:
  description: Days until it expires.
  returned: when the host was audited
  type: float
renewal_window_opens:
  description: Posh-ACME's RenewAfter (RFC 3339).
  returned: when the host was audited
  type: str
thumbprints:
  description: C(posh_acme), C(iis_binding) and C(served) - the certificate each one has.
  returned: when the host was audited
  type: dict
ready:
  description: C(True), C(False) or C(Unknown).
  returned: when the host was audited
  type: str
last_run:
  description: When the renewal last ran.
  returned: when the host was audited
  type: str
last_outcome:
  description: The last renewal's outcome (renewed, not-due, skipped, failed).
  returned: when the host was audited
  type: str
last_reason:
  description: Why the last renewal ended as it did.
  returned: when the host was audited
  type: str
last_run_state:
  description: C(ran), C(never) or C(unknown).
  returned: when the host was audited
  type: str
task:
  description: The scheduled task's C(state) and C(last_task_result).
  returned: when the host was audited
  type: dict
revocation:
  description: The OCSP answers for the C(served) and the C(posh_acme) certificate.
  returned: when the host was audited
  type: dict
runs:
  description: The renewal runs read from the transcripts, newest first.
  returned: when the host was audited
  type: list
  elements: dict
inventory_warnings:
  description: The validation's warnings about the host's variables (C(poshbridge check) shows them too).
  returned: when the variables were valid
  type: list
  elements: str
command:
  description: C(audit).
  returned: always
  type: str
"""


def main() -> None:
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    module.fail_json(
        msg="poshbridge.iis.audit runs on the controller: an action plugin, not a module for the host"
    )


if __name__ == "__main__":
    main()

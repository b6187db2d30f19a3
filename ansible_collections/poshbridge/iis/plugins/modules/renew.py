"""poshbridge.iis.renew: documentation only; the work is the action plugin's (plugins/action/renew.py)."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: renew
short_description: Renew a host's Posh-ACME certificate now (Submit-Renewal)
description:
  - Runs C(poshbridge renew) for the task's host on the controller - Submit-Renewal for the host's
    order (what the scheduled task does); when a certificate was renewed - the OCSP wait, the IIS
    binding and the TLS check. A revoked current certificate is renewed at once.
  - C(changed) when a certificate was renewed; C(ok) when it is not due yet (C(force) renews anyway).
    The task fails when the host's run failed, with poshbridge's message and fix.
  - Renew has no dry run - in check mode the task is skipped and nothing is sent to the host.
version_added: 0.1.0
author:
  - poshbridge contributors
options:
  force:
    description: Renew even when the certificate is not due (Submit-Renewal -Force).
    type: bool
    default: false
extends_documentation_fragment:
  - poshbridge.iis.options
  - poshbridge.iis.options.run
attributes:
  check_mode:
    description: Renew has no dry run - in check mode the task is skipped and sends nothing.
    support: none
  diff_mode:
    description: No diff.
    support: none
seealso:
  - module: poshbridge.iis.setup
  - module: poshbridge.iis.status
"""

EXAMPLES = r"""
- name: Renew what is due
  hosts: iis
  gather_facts: false
  tasks:
    - poshbridge.iis.renew:
      register: renewal

    - ansible.builtin.debug:
        msg: "{{ renewal.objects.renewal.outcome }}"  # renewed | not-due
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
  description: What was read from the host, as C(--json) gives it.
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
  description: The command (renew).
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
        msg="poshbridge.iis.renew runs on the controller: an action plugin, not a module for the host"
    )


if __name__ == "__main__":
    main()

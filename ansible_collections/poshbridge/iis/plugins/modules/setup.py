"""poshbridge.iis.setup: documentation only; the work is the action plugin's (plugins/action/setup.py)."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: setup
short_description: Bring a Windows/IIS host to a Posh-ACME certificate with automatic renewal
description:
  - Runs C(poshbridge setup) for the task's host on the controller, over PowerShell Remoting
    (Set-PAServer, an EAB account with New-PAAccount, the IIS MIME fix for http-01, New-PACertificate
    with the WebRoot plugin, a wait until the CA's OCSP responder knows the certificate,
    Set-IISCertificate, a TLS check of what the site serves, and the renewal script as a SYSTEM
    scheduled task).
  - Idempotent - a host already in that state is C(ok) and unchanged.
  - In check mode it is poshbridge's dry run - it reads the host, plans, changes nothing and returns
    the plan (each step's status and the exact cmdlets).
  - C(changed) is true when a step changed (in check mode - would change); the task fails when the
    host's run failed, with poshbridge's message and fix (ACME problems explained with the CA's table).
version_added: 0.1.0
author:
  - poshbridge contributors
options:
  install_modules:
    description: Install Posh-ACME and Posh-ACME.Deploy with Install-Module when they are missing.
    type: bool
    default: false
  eab_kid:
    description:
      - The EAB key id, in place of the host's C(poshbridge_*) setting.
      - A secret (no_log) - never logged, never returned.
    type: str
  eab_hmac:
    description:
      - The EAB HMAC key, in place of the host's C(poshbridge_*) setting (for example a vault lookup).
      - A secret (no_log) - never logged, never returned.
    type: str
  pfx_password:
    description:
      - The PFX password for New-PACertificate, in place of the host's C(poshbridge_*) setting.
      - A secret (no_log) - never logged, never returned.
    type: str
extends_documentation_fragment:
  - poshbridge.iis.options
  - poshbridge.iis.options.run
attributes:
  check_mode:
    description: Check mode is poshbridge's dry run (C(setup --dry-run)).
    support: full
  diff_mode:
    description: No diff; the steps and their cmdlets are in C(steps).
    support: none
seealso:
  - module: poshbridge.iis.status
  - module: poshbridge.iis.audit
"""

EXAMPLES = r"""
- name: Certificates for the IIS fleet
  hosts: iis
  gather_facts: false
  tasks:
    - name: Set up Posh-ACME, the certificate, the binding and the renewal task
      poshbridge.iis.setup:
        eab_hmac: "{{ vault_eab_hmac }}"
      register: result

    - name: What changed
      ansible.builtin.debug:
        msg: "{{ result.steps | selectattr('status', 'eq', 'changed') | map(attribute='name') | list }}"

- name: The plan only (check mode is the dry run)
  hosts: iis
  gather_facts: false
  tasks:
    - poshbridge.iis.setup:
      check_mode: true
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
  description: One line - what changed (or would change), or the first error.
  returned: when the host was run
  type: str
steps:
  description: Each step of setup in order, as C(poshbridge setup --json) gives it.
  returned: when the host was run
  type: list
  elements: dict
  contains:
    name:
      description:
        - The step - modules, poshacme-home, poshacme-home-acl, challenge-web.config, renewal-script,
          scheduled-task, event-source, acme-server, acme-account, certificate, ocsp, iis-binding,
          tls-verify.
      type: str
    status:
      description: C(changed), C(unchanged), C(failed), C(skipped) or C(pending) (dry run).
      type: str
    detail:
      description: Why, or what was found.
      type: str
    commands:
      description: The cmdlets of the step, secrets shown as C(********).
      type: list
      elements: str
objects:
  description: What was read from the host (certificate, order, binding, task, ...), as in C(--json).
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
  description: C(setup).
  returned: always
  type: str
dry_run:
  description: Whether this was the dry run (check mode).
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
        msg="poshbridge.iis.setup runs on the controller: an action plugin, not a module for the host"
    )


if __name__ == "__main__":
    main()

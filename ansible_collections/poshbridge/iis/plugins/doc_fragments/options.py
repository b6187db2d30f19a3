"""Options the poshbridge.iis modules share (``extends_documentation_fragment: poshbridge.iis.options.X``);
the argument specs are poshbridge.ansible_task.ARGUMENT_SPECS."""

from __future__ import annotations


class ModuleDocFragment:
    # the connection and the host's settings: every module
    DOCUMENTATION = r"""
options:
  insecure:
    description:
      - Allow an insecure setting the host's variables ask for (Basic authentication over HTTP,
        HTTPS without certificate verification, Set-PAServer -SkipCertificateCheck), as poshbridge's
        C(--insecure). Without it such a host fails with the reason and nothing is sent.
    type: bool
    default: false
  winrm_password:
    description:
      - The WinRM password, in place of the host's C(ansible_password) (for example a vault lookup).
      - A secret (no_log) - never logged, never returned.
    type: str
  host_timeout:
    description:
      - Seconds the whole run on the host may take (poshbridge's C(--host-timeout)); its default
        when unset.
    type: float
notes:
  - "Runs on the controller (an action plugin), never on the Windows host: poshbridge connects to the
    host over PowerShell Remoting (pypsrp) itself. One host per task, so Ansible's forks, AWX/AAP job
    slicing and execution nodes spread the fleet. Use C(gather_facts: false)."
  - "The host's settings come from its Ansible variables: the connection from C(ansible_host),
    C(ansible_port), C(ansible_user), C(ansible_password) and C(ansible_psrp_*); poshbridge's own
    settings (domains, web root, IIS site, ACME directory, EAB, renewal) from C(poshbridge_*) host and
    group variables. They are validated like a poshbridge inventory; an error names the variable,
    never its value. Relative secret files and CA bundles are found in the inventory's folder."
  - Every secret (WinRM password, EAB key id and HMAC key, PFX password) is masked as C(********) in
    the result, its messages and warnings.
requirements:
  - poshbridge (pip install poshbridge) in the controller's Python, which brings pypsrp
"""

    # a run of setup, renew or status: its retries and the history file
    RUN = r"""
options:
  retries:
    description:
      - How often a transient connection failure is retried (poshbridge's C(--retries)); its default
        when unset.
    type: int
  history:
    description:
      - Append the host's line to poshbridge's history file on the controller
        (C($POSHBRIDGE_STATE_DIR/history.jsonl), default C(~/.local/state/poshbridge)). Many forks
        append to one file at once safely (one write per line).
    type: bool
    default: true
"""

    # the health model's expiry thresholds: status and audit
    DAYS = r"""
options:
  warn_days:
    description: A certificate that expires within this many days is C(WARN).
    type: int
    default: 21
  crit_days:
    description: A certificate that expires within this many days is C(CRIT).
    type: int
    default: 7
"""

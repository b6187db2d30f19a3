"""The one "next:" line after a successful ``setup``: where the certificate is, how to check it, where
the renewal task logs (pure: data in, text out)."""

from __future__ import annotations

from collections.abc import Sequence

from poshbridge.inventory.model import HostConfig

# Set-IISCertificate (Posh-ACME.Deploy) imports the PFX into the machine's personal store.
CERT_STORE = r"Cert:\LocalMachine\My"


def setup_next_line(hosts: Sequence[HostConfig], targets: Sequence[str]) -> str:
    """``next: ...`` for the hosts that were set up, naming the targets as the operator typed them."""
    target_text = " ".join(targets)
    log_dirs = sorted({h.renewal.log_dir for h in hosts})
    logs = log_dirs[0] if len(log_dirs) == 1 else "each host's renewal.log_dir"
    return (
        f"next: the certificate is in {CERT_STORE} (bound in IIS);"
        f" check with `poshbridge status {target_text}` or `poshbridge audit {target_text}`;"
        f" the renewal task writes its transcripts and results to {logs}"
    )

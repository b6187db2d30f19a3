"""The one read batch of a host's state (pure): what ``status`` and ``audit`` both need, in ONE
invocation.

``Set-Item Env:POSHACME_HOME``; ``Get-ScheduledTask`` + ``Get-ScheduledTaskInfo`` for the renewal
task; ``Get-IISSiteBinding`` of the site (the binding is picked by :mod:`.binding`); the ``*.bak``
files under the Posh-ACME home (``-Recurse -Name``: a renewal that failed mid-way leaves only those);
then ``Get-PAOrder -List`` and ``Get-PACertificate -Name <order>`` LAST: on a host without Posh-ACME
state they throw ("No ACME server configured." / "No ACME account configured.": the Begin blocks of
Posh-ACME Public/Get-PAOrder.ps1 and Get-PACertificate.ps1), which is recorded on their own statement;
for an order that does not exist Get-PACertificate answers nothing (its Process block returns when
``Get-PAOrder -Name`` finds none). ``audit`` puts its log reads (``extra``) before the Posh-ACME ones.

A second, small invocation reads Posh-ACME's current certificate and chain (PEM) for the OCSP checks
(:func:`cert_files_batch`); it is skipped when there is no current certificate.
"""

from __future__ import annotations

from collections.abc import Sequence

from poshbridge.inventory.model import HostConfig
from poshbridge.poshacme import calls
from poshbridge.poshacme.model import PACertificate
from poshbridge.powershell.command import SWITCH, Batch, Cmd, Statement

R_ENV = "env"
R_TASK = "task"
R_TASK_INFO = "task-info"
R_BINDINGS = "bindings"
R_BAK = "bak"
R_ORDERS = "orders"
R_CERT = "certificate"
R_PEM_CERT = "pem:cert"
R_PEM_CHAIN = "pem:chain"
POSH_ACME_LABELS = (R_ENV, R_ORDERS, R_CERT)


def _stmt(cmd: Cmd, label: str) -> Statement:
    return Statement((cmd,), label)


def read_statements(host: HostConfig, extra: Sequence[Statement] = ()) -> list[Statement]:
    """The host-state reads, with ``extra`` statements before the Posh-ACME ones."""
    task = {"name": host.renewal.task_name, "path": host.renewal.task_path}
    bak = Cmd.of(
        "Get-ChildItem",
        Path=host.acme.poshacme_home,
        Filter="*.bak",
        Recurse=SWITCH,
        Name=SWITCH,
        ErrorAction="SilentlyContinue",
    )
    return [
        _stmt(calls.set_poshacme_home(host.acme.poshacme_home), R_ENV),
        _stmt(calls.get_scheduled_task(**task), R_TASK),
        _stmt(calls.get_scheduled_task_info(**task), R_TASK_INFO),
        _stmt(calls.get_iis_site_bindings(host.iis.site), R_BINDINGS),
        _stmt(bak, R_BAK),
        *extra,
        _stmt(calls.get_pa_orders(), R_ORDERS),
        _stmt(calls.get_pa_certificate(host.order_name), R_CERT),
    ]


def read_batch(host: HostConfig, extra: Sequence[Statement] = ()) -> Batch:
    return Batch(read_statements(host, extra))


def cert_files_batch(certificate: PACertificate | None) -> Batch:
    """Posh-ACME's current certificate and chain (PEM, issuer first in the chain) for the OCSP checks.
    Empty when there is no current certificate (then the invocation is not sent)."""
    batch = Batch()
    if certificate is None:
        return batch
    for label, path in ((R_PEM_CERT, certificate.cert_file), (R_PEM_CHAIN, certificate.chain_file)):
        if path:
            batch.add(calls.get_content_raw(path), label=label)
    return batch

"""The one facts builder: the answers of :mod:`.batch` → :class:`HostState` → health facts (pure).

``status`` and ``audit`` both call :func:`read_state` on the statements of the one read batch and
:func:`host_facts` to get the :class:`~poshbridge.health.model.HostFacts` the health model judges;
``audit`` adds what only it reads (its renewal runs and unusable log files).

"Not known" stays ``None``: a statement that did not run, or that failed with an error other than
Posh-ACME's "no state yet" ones, gives no fact (and a collection error), never "no certificate".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from poshbridge.audit.transcript import RenewalRun
from poshbridge.health.model import CertificateInfo, HostFacts, Revocation, TaskInfo
from poshbridge.hoststate.batch import (
    POSH_ACME_LABELS,
    R_BAK,
    R_BINDINGS,
    R_CERT,
    R_ORDERS,
    R_TASK,
    R_TASK_INFO,
)
from poshbridge.hoststate.binding import find_binding
from poshbridge.hoststate.served import ServedCertificate
from poshbridge.inventory.model import HostConfig
from poshbridge.poshacme.model import IISBinding, PACertificate, PAOrder, dicts

# Posh-ACME's reads throw these on a host without Posh-ACME state (Get-PAOrder.ps1 /
# Get-PACertificate.ps1 Begin blocks; "No order found" from Get-PAOrder -Name): a fact ("nothing yet"),
# which the verdict rules report from the empty answers, not a collection error.
EXPECTED_READ_ERRORS = (
    "No ACME server configured",
    "No ACME account configured",
    "No ACME order configured",
    "No order found",
)


class ErrorLike(Protocol):
    @property
    def message(self) -> str: ...


class StatementAnswer(Protocol):
    """What the session returns per statement (``poshbridge.remote.session.StatementResult``)."""

    @property
    def label(self) -> str: ...
    @property
    def output(self) -> Sequence[Any]: ...
    @property
    def errors(self) -> Sequence[ErrorLike]: ...
    @property
    def ran(self) -> bool: ...


def is_expected_read_error(message: str) -> bool:
    return message.startswith(EXPECTED_READ_ERRORS)


@dataclass(frozen=True)
class HostState:
    """What one read of a host found. ``None`` = not known (not read, or the read failed)."""

    order: PAOrder | None = None
    certificate: PACertificate | None = None  # Posh-ACME's current one for the order
    poshacme_read: bool = False  # Get-PACertificate answered (nothing, on a host without state)
    task: TaskInfo | None = None  # TaskInfo(exists=False): not registered
    bindings: tuple[IISBinding, ...] | None = None  # the site's bindings
    binding: IISBinding | None = None  # the one Set-IISCertificate manages (see .binding)
    bak_files: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()  # collection errors ("<label>: <message>")

    @property
    def binding_found(self) -> bool | None:
        return None if self.bindings is None else self.binding is not None

    def objects(self) -> dict[str, Any]:
        """The JSON of what was read: ``{"order", "certificate", "binding", "task"}`` (null: none)."""
        return {
            "order": self.order.to_json() if self.order is not None else None,
            "certificate": self.certificate.to_json() if self.certificate is not None else None,
            "binding": self.binding.to_json() if self.binding is not None else None,
            "task": self.task.to_json() if self.task is not None and self.task.exists else None,
        }


def _answered(statement: StatementAnswer) -> bool:
    return statement.ran and all(is_expected_read_error(e.message) for e in statement.errors)


def collection_errors(
    statements: Iterable[StatementAnswer], labels: Iterable[str] | None = None
) -> list[str]:
    """Every error of the (host-state) statements except Posh-ACME's "no state yet" ones."""
    wanted = set(labels) if labels is not None else None
    out: list[str] = []
    for statement in statements:
        if wanted is not None and statement.label not in wanted:
            continue
        out.extend(
            f"{statement.label}: {e.message}"
            for e in statement.errors
            if not is_expected_read_error(e.message)
        )
    return out


STATE_LABELS = (*POSH_ACME_LABELS, R_TASK, R_TASK_INFO, R_BINDINGS, R_BAK)


def read_state(host: HostConfig, statements: Iterable[StatementAnswer]) -> HostState:
    """The host state from the statements of :func:`poshbridge.hoststate.batch.read_statements` (the
    last answer of a label wins: a statement sent again after a stopped batch)."""
    answers: dict[str, StatementAnswer] = {}
    for statement in statements:
        if statement.label in STATE_LABELS and (statement.ran or statement.label not in answers):
            answers[statement.label] = statement

    def got(label: str) -> Sequence[Any] | None:
        answer = answers.get(label)
        return list(answer.output) if answer is not None and _answered(answer) else None

    orders = [PAOrder.from_obj(o) for o in dicts(got(R_ORDERS) or [])]
    order = next((o for o in orders if (o.name or "").lower() == host.order_name.lower()), None)
    cert_out = got(R_CERT)
    certs = [PACertificate.from_obj(o) for o in dicts(cert_out or [])]
    certificate = next((c for c in certs if c.thumbprint), None)
    task_out, info_out = got(R_TASK), got(R_TASK_INFO)
    task: TaskInfo | None = None
    if task_out is not None:
        task_obj = next(iter(dicts(task_out)), None)
        info_obj = next(iter(dicts(info_out or [])), None)
        task = TaskInfo.from_objects(host.renewal.task_name, task_obj, info_obj)
    binding_out = got(R_BINDINGS)
    bindings = tuple(IISBinding.from_obj(o) for o in dicts(binding_out)) if binding_out is not None else None
    iis = host.iis
    binding = (
        find_binding(bindings, port=iis.port, ip_address=iis.ip_address, host_header=iis.host_header)
        if bindings is not None
        else None
    )
    bak = bak_for_order(got(R_BAK) or [], order, host.order_name)
    return HostState(
        order=order,
        certificate=certificate,
        poshacme_read=cert_out is not None,
        task=task,
        bindings=bindings,
        binding=binding,
        bak_files=tuple(bak),
        errors=tuple(collection_errors(answers.values())),
    )


def bak_for_order(names: Sequence[Any], order: PAOrder | None, order_name: str) -> list[str]:
    """``*.bak`` names (relative to the Posh-ACME home) inside the order's folder."""
    folder = (order.folder or "") if order is not None else ""
    wanted = folder.replace("/", "\\").rstrip("\\").lower()
    out: list[str] = []
    for raw in names:
        name = str(raw).replace("/", "\\")
        parts = name.lower().split("\\")
        if len(parts) >= 2 and (parts[-2] == order_name.lower() or (wanted and wanted.endswith(
            "\\" + "\\".join(parts[:-1])
        ))):  # fmt: skip
            out.append(name.split("\\")[-1])
    return sorted(set(out))


def certificate_info(state: HostState) -> CertificateInfo:
    cert, order = state.certificate, state.order
    return CertificateInfo(
        order_name=order.name if order is not None else None,
        main_domain=order.main_domain if order is not None else None,
        thumbprint=(cert.thumbprint or "").upper() or None if cert is not None else None,
        not_before=cert.not_before if cert is not None else None,
        not_after=(cert.not_after if cert is not None else None) or (order.cert_expires if order else None),
        renew_after=order.renew_after if order is not None else None,
        order_status=order.status if order is not None else None,
        bak_files=state.bak_files,
    )


def pem_text(output: Sequence[Any]) -> str:
    return "".join(str(v) for v in output if v is not None)


def unreadable(thumbprint: str) -> Revocation:
    """Posh-ACME names a current certificate whose file could not be read: not checked, and said so."""
    return Revocation("not-checked", "the certificate file could not be read from the host", thumbprint)


def host_facts(
    host: HostConfig,
    state: HostState | None,
    *,
    served: ServedCertificate | None,
    unreachable: str | None = None,
    revocations: tuple[Revocation | None, Revocation | None] = (None, None),
    runs: Sequence[RenewalRun] = (),
    log_problems: Sequence[str] = (),
    errors: Sequence[str] = (),
) -> HostFacts:
    """Health facts of a host. ``state`` None (or ``unreachable``): its state was not read — known only
    what the control node saw itself (the served certificate)."""
    known = state if state is not None and unreachable is None else None
    served_rev, current_rev = revocations
    cert = known.certificate if known is not None else None
    if current_rev is None and known is not None and cert is not None and cert.thumbprint:
        current_rev = unreadable(cert.thumbprint)
    return HostFacts(
        host=host.name,
        order=host.order_name,
        certificate=certificate_info(known) if known is not None and known.poshacme_read else None,
        task=known.task if known is not None else None,
        binding_thumbprint=(known.binding.certificate_hash or None)
        if known is not None and known.binding is not None
        else None,
        binding_found=known.binding_found if known is not None else None,
        served=served,
        runs=list(runs),
        collection_errors=[*(known.errors if known is not None else ()), *errors],
        endpoint=served.endpoint
        if served is not None and served.endpoint
        else f"{host.address}:{host.iis.port}",
        unreachable=unreachable,
        # without the host's chain the served certificate's issuer is not known: not checked then
        served_revocation=served_rev
        if served is not None and served.thumbprint and known is not None
        else None,
        current_revocation=current_rev if known is not None else None,
        log_problems=list(log_problems),
    )


def pems(outputs: Mapping[str, Sequence[Any]]) -> tuple[str, str]:
    """(certificate PEM, chain PEM) from the answers of :func:`~.batch.cert_files_batch`."""
    from poshbridge.hoststate.batch import R_PEM_CERT, R_PEM_CHAIN

    return pem_text(outputs.get(R_PEM_CERT, [])), pem_text(outputs.get(R_PEM_CHAIN, []))

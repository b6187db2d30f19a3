"""Health facts from the typed Posh-ACME / IIS / Task Scheduler objects ``status`` reads (pure).

``audit`` builds the same :class:`~poshbridge.health.model.HostFacts` from its own read batch
(:mod:`poshbridge.audit.collect`); both are then judged by :func:`poshbridge.health.model.evaluate`.
"""

from __future__ import annotations

from collections.abc import Sequence

from poshbridge.health.model import (
    SCHED_S_TASK_HAS_NOT_RUN,
    CertificateInfo,
    HostFacts,
    Revocation,
    ServedCertificate,
    TaskInfo,
)
from poshbridge.poshacme.model import IISBinding, PACertificate, PAOrder, ScheduledTaskInfo


def certificate_info(
    cert: PACertificate | None, order: PAOrder | None, bak_files: Sequence[str] = ()
) -> CertificateInfo:
    thumb = (cert.thumbprint or "").upper() or None if cert is not None else None
    return CertificateInfo(
        order_name=order.name if order is not None else None,
        main_domain=order.main_domain if order is not None else None,
        thumbprint=thumb,
        not_before=cert.not_before if cert is not None else None,
        not_after=(cert.not_after if cert is not None else None) or (order.cert_expires if order else None),
        renew_after=order.renew_after if order is not None else None,
        order_status=order.status if order is not None else None,
        bak_files=tuple(bak_files),
    )


def task_info(name: str, task: ScheduledTaskInfo | None) -> TaskInfo:
    if task is None:
        return TaskInfo(exists=False, name=name)
    ran = task.last_run_time
    never = task.last_task_result == SCHED_S_TASK_HAS_NOT_RUN or (ran is not None and ran.year < 2000)
    return TaskInfo(
        exists=True,
        name=task.task_name or name,
        state=task.state,
        last_run_time=ran if ran is not None and ran.year >= 2000 else None,
        last_task_result=task.last_task_result,
        next_run_time=task.next_run_time,
        never_ran=True if never else (False if ran is not None else None),
    )


def status_facts(
    *,
    host: str,
    order_name: str,
    endpoint: str,
    unreachable: str | None,
    poshacme_read: bool,
    certificate: PACertificate | None,
    order: PAOrder | None,
    bak_files: Sequence[str],
    task_read: bool,
    task_name: str,
    task: ScheduledTaskInfo | None,
    bindings_read: bool,
    binding: IISBinding | None,
    served: ServedCertificate | None,
    served_revocation: Revocation | None,
    current_revocation: Revocation | None,
    errors: Sequence[str] = (),
) -> HostFacts:
    """What ``status`` knows about a host, as health facts. Nothing read (``unreachable``) stays
    ``None`` (not known), never "no certificate"."""
    connected = unreachable is None
    return HostFacts(
        host=host,
        order=order_name,
        certificate=certificate_info(certificate, order, bak_files) if connected and poshacme_read else None,
        task=task_info(task_name, task) if connected and task_read else None,
        binding_thumbprint=(binding.certificate_hash or None) if binding is not None else None,
        binding_found=(binding is not None) if connected and bindings_read else None,
        served=served,
        collection_errors=list(errors),
        endpoint=endpoint,
        unreachable=unreachable,
        served_revocation=served_revocation,
        current_revocation=current_revocation,
    )

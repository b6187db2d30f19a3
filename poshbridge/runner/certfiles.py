"""The health model's reads for ``status``, ``setup`` and ``renew``: the certificate files and the
``*.bak`` list from the host, revocation checked from here (:mod:`poshbridge.remote.revocation`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from poshbridge.health.model import Revocation
from poshbridge.inventory.model import HostConfig
from poshbridge.plan.revocation import R_BAK, status_files_batch
from poshbridge.poshacme.model import PACertificate, PAOrder
from poshbridge.runner.session import Session

Now = Callable[[], datetime]


@dataclass
class CertFiles:
    cert_pem: str = ""
    chain_pem: str = ""
    bak: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _text(output: list[Any]) -> str:
    return "".join(str(v) for v in output if v is not None)


def read_cert_files(session: Session, host: HostConfig, cert: PACertificate | None,
                    order: PAOrder | None) -> CertFiles:  # fmt: skip
    from poshbridge.audit.collect import bak_for_order

    result = session.run(status_files_batch(host, cert))
    files = CertFiles()
    for statement in result.statements:
        if not statement.ran:
            continue
        if statement.label == "file:cert":
            files.cert_pem = _text(list(statement.output))
        elif statement.label == "file:chain":
            files.chain_pem = _text(list(statement.output))
        elif statement.label == R_BAK:
            folder = {"Folder": order.folder} if order is not None and order.folder else None
            files.bak = bak_for_order(list(statement.output), folder, host.order_name)
        files.errors.extend(f"{statement.label}: {e.message}" for e in statement.errors)
    return files


def check(
    served_der: bytes | None, files: CertFiles, now: Now
) -> tuple[Revocation | None, Revocation | None]:
    from poshbridge.remote.revocation import check_revocations

    return check_revocations(served_der, files.cert_pem, files.chain_pem, now=now)


def current_revocation(
    session: Session, host: HostConfig, cert: PACertificate | None, now: Now
) -> Revocation | None:
    """OCSP status of Posh-ACME's current certificate (None: there is none)."""
    if cert is None or not cert.thumbprint:
        return None
    files = read_cert_files(session, host, cert, None)
    if not files.cert_pem:
        return unreadable(cert.thumbprint)
    return check(None, files, now)[1]


def unreadable(thumbprint: str) -> Revocation:
    """Posh-ACME names a current certificate whose file could not be read: not checked, and said so."""
    return Revocation("not-checked", "the certificate file could not be read from the host", thumbprint)

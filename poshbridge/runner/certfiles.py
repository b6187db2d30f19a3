"""The health model's IO for ``status``, ``setup`` and ``renew``: read Posh-ACME's current certificate
and chain files from the host (the batch of :mod:`poshbridge.hoststate.batch`, as ``audit``), check
revocation from here. ``status`` then judges the host with the one host-state model and the one health
model (:func:`poshbridge.hoststate.state.host_facts`, :func:`poshbridge.health.model.evaluate`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from poshbridge.health.model import Revocation
from poshbridge.hoststate.batch import cert_files_batch
from poshbridge.hoststate.state import pems, unreadable
from poshbridge.inventory.model import HostConfig
from poshbridge.poshacme.model import PACertificate
from poshbridge.runner.session import Session

Now = Callable[[], datetime]

__all__ = ["CertFiles", "check", "current_revocation", "read_cert_files", "unreadable"]


@dataclass
class CertFiles:
    cert_pem: str = ""
    chain_pem: str = ""
    errors: list[str] = field(default_factory=list)


def read_cert_files(session: Session, cert: PACertificate | None) -> CertFiles:
    """The certificate and chain PEM (nothing is sent when there is no current certificate)."""
    batch = cert_files_batch(cert)
    files = CertFiles()
    if not batch.statements:
        return files
    result = session.run(batch)
    outputs = {s.label: list(s.output) for s in result.statements if s.ran}
    files.cert_pem, files.chain_pem = pems(outputs)
    for statement in result.statements:
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
    """OCSP status of Posh-ACME's current certificate (None: there is none). ``host`` is kept for the
    callers (setup, renew); the files are named by the certificate itself."""
    del host
    if cert is None or not cert.thumbprint:
        return None
    files = read_cert_files(session, cert)
    if not files.cert_pem:
        return unreadable(cert.thumbprint)
    return check(None, files, now)[1]

"""What a remote call yields, without pypsrp: the result types of a batch, the connection errors and
their classification, the insecure-transport check.

Importing this module loads no pypsrp, requests or spnego (``classify_connection_error`` imports them
only when it is called, i.e. when a session has already failed), so the runner, the audit and the
CLI's start-up can name these types without paying for the session layer
(:mod:`poshbridge.remote.session`, which re-exports every name defined here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from poshbridge.errors import ConfigurationError, HostError
from poshbridge.inventory.model import HostConfig
from poshbridge.remote.convert import RemoteError as RemoteError  # re-exported: imported from here
from poshbridge.remote.retry import exception_chain

ConnectionKind = Literal[
    "unreachable", "auth", "tls", "timeout", "dropped", "protocol", "config", "interrupted"
]


class RemoteConnectionError(HostError):
    """Connecting, authenticating or talking to the host failed. ``kind`` says how; no secrets."""

    def __init__(self, kind: ConnectionKind, host: str, message: str) -> None:
        super().__init__(f"{host}: {kind}: {message}")
        self.kind: ConnectionKind = kind
        self.host = host
        self.message = message
        self.transient = False  # a second attempt could succeed (set when it was not allowed)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "host": self.host, "message": self.message}


class RemoteInterrupted(RemoteConnectionError):
    """SIGINT/SIGTERM: the run was stopped (a running pipeline got the PSRP stop signal)."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__("interrupted", host, message)


class InsecureConfigError(ConfigurationError, ValueError):
    """The inventory asks for an insecure transport and ``--insecure`` was not given."""


@dataclass
class StatementResult:
    label: str
    output: list[Any] = field(default_factory=list)
    errors: list[RemoteError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    verbose: list[str] = field(default_factory=list)
    information: list[str] = field(default_factory=list)
    ran: bool = False

    @property
    def ok(self) -> bool:
        return self.ran and not self.errors


@dataclass
class BatchResult:
    statements: list[StatementResult] = field(default_factory=list)
    errors: list[RemoteError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    verbose: list[str] = field(default_factory=list)
    information: list[str] = field(default_factory=list)
    had_errors: bool = False
    failed_statement: int | None = None

    def by_label(self, label: str) -> StatementResult | None:
        for statement in self.statements:
            if statement.label == label:
                return statement
        return None

    def output(self, label: str) -> list[Any]:
        found = self.by_label(label)
        return list(found.output) if found is not None else []


# ----- security checks of the inventory ---------------------------------------------------------------


def transport_warnings(host: HostConfig, *, insecure: bool) -> list[str]:
    """Warnings to print for an insecure but allowed configuration; raises without ``--insecure``."""
    problems: list[str] = []
    winrm = host.winrm
    if winrm.auth == "basic" and winrm.transport == "http":
        problems.append("Basic authentication over HTTP sends the password unencrypted")
    if winrm.verify is False:
        problems.append("WinRM over HTTPS without certificate verification (verify: false)")
    if host.acme.skip_certificate_check:
        problems.append("Set-PAServer -SkipCertificateCheck (the host does not verify the ACME server)")
    if problems and not insecure:
        raise InsecureConfigError(
            f"{host.name}: " + "; ".join(problems) + " — refused; pass --insecure to allow it"
        )
    return [f"WARNING: {host.name}: {p} (--insecure)" for p in problems]


# ----- connection failure classification ------------------------------------------------------------


def classify_connection_error(
    exc: BaseException, host: str, scrub: Callable[[str], str]
) -> RemoteConnectionError:
    """Map a pypsrp/requests exception to a :class:`RemoteConnectionError` kind."""
    import requests
    from pypsrp.exceptions import AuthenticationError, WinRMError, WinRMTransportError, WSManFaultError

    name = type(exc).__name__
    text = scrub(str(exc))[:300]
    chain = " ".join(f"{type(e).__name__} {e}" for e in exception_chain(exc))
    kind: ConnectionKind
    if isinstance(exc, AuthenticationError):
        kind, message = "auth", "authentication refused (check winrm.username/password and winrm.auth)"
    elif (
        isinstance(exc, requests.exceptions.SSLError) or "SSLError" in chain or "CERTIFICATE_VERIFY" in chain
    ):
        kind, message = "tls", f"TLS handshake failed ({name}); check winrm.verify / the CA bundle"
    elif isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout, TimeoutError)):
        kind, message = "timeout", f"no answer in time ({name})"
    elif isinstance(exc, requests.exceptions.ConnectionError):
        lowered = chain.lower()
        if any(
            s in lowered
            for s in ("refused", "newconnectionerror", "name or service", "no route", "unreachable")
        ):
            kind, message = "unreachable", "connection refused or host unreachable"
        elif any(s in lowered for s in ("aborted", "reset", "remotedisconnected", "broken pipe", "eof")):
            kind, message = "dropped", "the connection was closed by the host during the session"
        else:
            kind, message = "unreachable", f"connection failed ({name})"
    elif isinstance(exc, WinRMTransportError):
        code = getattr(exc, "code", None)
        kind = "auth" if code == 401 else "protocol"
        message = f"HTTP {code} from the WinRM endpoint"
    elif isinstance(exc, WSManFaultError):
        kind, message = "protocol", f"WSMan fault {getattr(exc, 'code', '')}: {text}"
    elif isinstance(exc, WinRMError):
        kind, message = "protocol", f"{name}: {text}"
    elif isinstance(exc, (ConnectionError, OSError)):
        kind, message = "dropped", f"{name}: {text}"
    else:
        lowered = chain.lower()
        if "spnego" in lowered or "ntlm" in lowered or "mic" in lowered:
            kind, message = "auth", f"authentication failed ({name})"
        else:
            kind, message = "protocol", f"{name}: {text}"
    return RemoteConnectionError(kind, host, scrub(message))

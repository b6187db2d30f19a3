"""What the runner needs of a host connection (:class:`Session`) and how it gets one
(:data:`SessionFactory`; the default builds pypsrp's :class:`~poshbridge.remote.session.HostSession`).

Any object with these members will do: ``tests/fakesession.py`` answers scripted outputs per statement
label and records what was sent, so the plan→apply→re-plan loop is tested without a lab.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from poshbridge.inventory.model import HostConfig
from poshbridge.powershell.command import Batch, Secret
from poshbridge.remote.outcome import BatchResult, RemoteConnectionError

if TYPE_CHECKING:
    from poshbridge.runner.context import Context


class Session(Protocol):
    """One host connection for one run. ``run`` sends a batch as ONE invocation and returns each
    statement's output and records (raising :class:`RemoteConnectionError` when the connection fails;
    ``transient`` on it says a re-read could succeed); ``idempotent`` batches only read and may be
    re-sent. ``reopen`` makes a new connection after a transient failure."""

    @property
    def ps_edition(self) -> str: ...

    def run(self, batch: Batch, *, idempotent: bool = False) -> BatchResult: ...

    def reopen(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Session: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


SessionFactory = Callable[[HostConfig, "Context", "Secret | None"], Session]
"""``factory(host, ctx, password)``: a session to ``host`` (not yet open: the runner enters it). The
password is the resolved ``winrm.password`` (None when the inventory has none)."""


def pypsrp_session(host: HostConfig, ctx: Context, password: Secret | None) -> Session:
    """The default factory: pypsrp's HostSession, bounded by the host's control, masking with the run's
    scrubber."""
    from poshbridge.remote.session import HostSession

    return HostSession(
        host,
        insecure=ctx.insecure,
        base_dir=ctx.base_dir,
        password=password,
        warn=lambda _t: None,
        control=ctx.control(host.name),
        scrubber=ctx.scrub,
    )


def open_session(host: HostConfig, ctx: Context) -> Session:
    """Resolve the WinRM password (a ``config`` error names the reference, never a value) and build
    the host's session with the run's factory."""
    from poshbridge.inventory.secrets import SecretError
    from poshbridge.runner.desired import resolve

    try:
        password = resolve(host.winrm.password, ctx)
    except SecretError as exc:
        raise RemoteConnectionError("config", host.name, f"winrm.password: {exc}") from None
    factory = ctx.session_factory or pypsrp_session
    return factory(host, ctx, password)

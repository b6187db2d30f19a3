"""The options of a run (:class:`RunOptions`, what a caller chooses) and its shared state
(:class:`Context`: the stop flag, one :class:`HostControl` per host, the one scrubber, the session
factory)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poshbridge.defaults import DEFAULT_CRIT_DAYS, DEFAULT_WARN_DAYS
from poshbridge.inventory.shard import Shard
from poshbridge.powershell.command import Secret
from poshbridge.remote.control import DEFAULT_HOST_TIMEOUT as DEFAULT_HOST_TIMEOUT
from poshbridge.remote.control import HostControl
from poshbridge.remote.retry import DEFAULT_RETRIES as DEFAULT_RETRIES
from poshbridge.remote.retry import RetryPolicy
from poshbridge.scrubber import Scrubber

if TYPE_CHECKING:
    from poshbridge.runner.results import HostRun
    from poshbridge.runner.session import SessionFactory


@dataclass(frozen=True)
class RunOptions:
    """What the caller chooses for a run; the defaults are the CLI's.

    ``base_dir``: where relative secret files and CA bundles of the inventory are found (the inventory's
    folder; :func:`poshbridge.api.load_inventory` callers pass ``inventory_base_dir(inventory)``)."""

    insecure: bool = False
    base_dir: Path = Path()
    dry_run: bool = False  # setup: plan only, change nothing
    install_modules: bool = False  # setup: Install-Module missing modules
    force: bool = False  # renew: Submit-Renewal -Force
    reason: str | None = None  # revoke: RFC 5280 reason
    warn_days: int = DEFAULT_WARN_DAYS  # status: the health model's expiry thresholds
    crit_days: int = DEFAULT_CRIT_DAYS
    retries: int = DEFAULT_RETRIES
    host_timeout: float = DEFAULT_HOST_TIMEOUT
    parallel: int = 10
    history: bool = True  # append one line per host to the history file
    shard: Shard | None = None  # the --shard these hosts are (named in the results and the history)


@dataclass
class Context:
    """One run's shared state. Tests inject ``now``/``sleep``/``clock`` (the OCSP wait) and ``probe``
    (the TLS check of what a site serves); ``session_factory`` opens the host connections."""

    command: str
    insecure: bool = False
    base_dir: Path = Path()
    dry_run: bool = False
    install_modules: bool = False
    force: bool = False
    reason: str | None = None
    warn_days: int = DEFAULT_WARN_DAYS
    crit_days: int = DEFAULT_CRIT_DAYS
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    sleep: Callable[[float], None] | None = None
    clock: Callable[[], float] | None = None
    scrub: Scrubber = field(default_factory=Scrubber)  # every secret revealed in this run
    retries: int = DEFAULT_RETRIES
    host_timeout: float = DEFAULT_HOST_TIMEOUT
    stop: threading.Event = field(default_factory=threading.Event)  # set by the first SIGINT/SIGTERM
    controls: dict[str, HostControl] = field(default_factory=dict)  # per host
    results: dict[str, HostRun] = field(default_factory=dict)  # finished hosts (for a second SIGINT)
    session_factory: SessionFactory | None = None  # None: pypsrp's HostSession
    probe: Callable[[Any], Any] | None = None  # None: poshbridge.remote.tls.probe
    shard: Shard | None = None  # named in the results and the history

    @classmethod
    def from_options(cls, command: str, options: RunOptions, **extra: Any) -> Context:
        return cls(
            command=command,
            insecure=options.insecure,
            base_dir=options.base_dir,
            dry_run=options.dry_run,
            install_modules=options.install_modules,
            force=options.force,
            reason=options.reason,
            warn_days=options.warn_days,
            crit_days=options.crit_days,
            retries=options.retries,
            host_timeout=options.host_timeout,
            shard=options.shard,
            **extra,
        )

    def control(self, host: str) -> HostControl:
        """The host's control (deadline, stop, retries); made on first use."""
        found = self.controls.get(host)
        if found is None:
            found = HostControl(
                host_timeout=self.host_timeout, stop=self.stop, policy=RetryPolicy(retries=self.retries)
            )
            self.controls[host] = found
        return found

    def remember(self, secret: Secret | None) -> None:
        """A secret revealed in this run: masked in everything the run writes."""
        self.scrub.add(secret)

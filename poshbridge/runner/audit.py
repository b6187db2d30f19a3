"""``audit`` of live hosts: collect each host's state and renewal transcripts
(:mod:`poshbridge.audit.collect`) and judge it with the one health model."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from poshbridge.audit.capped import DEFAULT_MAX_FILE_SIZE
from poshbridge.health.model import HostVerdict, evaluate, worst_level
from poshbridge.inventory.model import HostConfig
from poshbridge.inventory.shard import Shard
from poshbridge.runner.context import Context
from poshbridge.runner.session import Session, SessionFactory, open_session
from poshbridge.timefmt import format_timestamp

DEFAULT_MAX_LOGS = 10


@dataclass(frozen=True)
class AuditOptions:
    """What ``audit`` reads and how it judges. ``now`` defaults to the current time (UTC)."""

    insecure: bool = False
    base_dir: Path = Path()
    parallel: int = 10
    max_logs: int = DEFAULT_MAX_LOGS
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    warn_days: int = 21
    crit_days: int = 7
    now: datetime | None = None
    shard: Shard | None = None  # --shard K/N: named in the JSON


@dataclass
class AuditRun:
    """The verdict of every host (host order) and what ``audit --json`` prints for live hosts."""

    verdicts: list[HostVerdict]
    generated: datetime
    warn_days: int = 21
    crit_days: int = 7
    hosts: list[HostConfig] = field(default_factory=list, repr=False)
    shard: Shard | None = None  # --shard K/N: "shard" in the JSON (absent without it)

    @property
    def level(self) -> str:
        return worst_level([v.level for v in self.verdicts])

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "mode": "remote",
            "generated": format_timestamp(self.generated),
            "warn_days": self.warn_days,
            "crit_days": self.crit_days,
            "hosts": [v.to_json() for v in self.verdicts],
        }
        if self.shard is not None:
            doc["shard"] = self.shard.to_json()
        return doc


def run_audit(
    hosts: list[HostConfig], options: AuditOptions, session_factory: SessionFactory | None = None
) -> AuditRun:
    from poshbridge.audit.collect import collect_fleet

    now = options.now or datetime.now(timezone.utc)
    ctx = Context(command="audit", insecure=options.insecure, base_dir=options.base_dir,
                  session_factory=session_factory)  # fmt: skip

    def connect(host: HostConfig) -> Session:
        return open_session(host, ctx)

    facts = collect_fleet(
        hosts,
        now=now,
        parallel=options.parallel,
        max_logs=options.max_logs,
        insecure=options.insecure,
        base_dir=options.base_dir,
        max_file_size=options.max_file_size,
        connect=connect,
    )
    verdicts = [evaluate(f, now=now, warn_days=options.warn_days, crit_days=options.crit_days) for f in facts]
    return AuditRun(verdicts, now, options.warn_days, options.crit_days, list(hosts), shard=options.shard)

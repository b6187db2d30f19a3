"""Run one function per host, ``parallel`` at a time; a failing host never stops the others.

A :class:`FleetView` is told when a host starts, each progress text, and its end; the CLI's views (a
rich Progress on a terminal, plain lines otherwise) are in :mod:`poshbridge.cli.progress`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from poshbridge.inventory.model import HostConfig

R = TypeVar("R")

Report = Callable[[str], None]


class FleetView(Protocol):
    def start(self, host: str) -> None: ...

    def update(self, host: str, text: str) -> None: ...

    def finish(self, host: str, ok: bool, text: str) -> None: ...

    def close(self) -> None: ...


class NullView:
    def start(self, host: str) -> None: ...

    def update(self, host: str, text: str) -> None: ...

    def finish(self, host: str, ok: bool, text: str) -> None: ...

    def close(self) -> None: ...


def run_fleet(
    hosts: Sequence[HostConfig],
    work: Callable[[HostConfig, Report], R],
    *,
    on_crash: Callable[[HostConfig, BaseException], R],
    outcome: Callable[[R], tuple[bool, str]],
    parallel: int = 10,
    view: FleetView | None = None,
) -> list[R]:
    """``work(host, report)`` for every host, at most ``parallel`` at once; results in host order.

    ``on_crash`` turns an unexpected exception into a result (the host failed, the fleet goes on);
    ``outcome`` gives (ok, summary) for the view.
    """
    shown = view or NullView()

    def one(host: HostConfig) -> R:
        shown.start(host.name)
        try:
            result = work(host, lambda text: shown.update(host.name, text))
        except Exception as exc:  # a failing host is data, never the end of the run
            result = on_crash(host, exc)
        ok, summary = outcome(result)
        shown.finish(host.name, ok, summary)
        return result

    if not hosts:
        return []
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(hosts)))) as pool:
            return list(pool.map(one, hosts))
    finally:
        shown.close()

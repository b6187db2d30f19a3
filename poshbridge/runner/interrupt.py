"""Ctrl-C and SIGTERM during ``setup`` / ``renew`` / ``status`` / ``revoke``.

First signal: the shared stop flag is set. No host starts after it, no host sends another batch, and a
batch that is running is stopped on the host with the PSRP stop signal (``remote.session``); each host
ends with outcome ``interrupted``, the history is written, the table printed, and the exit code is 130
(128 + SIGINT, also for SIGTERM).
Second signal: exit at once (code 130) after writing the history of what is known: hosts that finished
with their own outcome, every other host as ``interrupted``.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

EXIT_INTERRUPTED = 130


class InterruptHandler:
    """Installs SIGINT/SIGTERM handlers for the duration of a ``with`` block (main thread only)."""

    def __init__(
        self,
        stop: threading.Event,
        *,
        notify: Callable[[str], None],
        on_second: Callable[[], None],
        exit_now: Callable[[int], Any] = os._exit,
    ) -> None:
        self.stop = stop
        self.notify = notify
        self.on_second = on_second
        self.exit_now = exit_now
        self.count = 0
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> InterruptHandler:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self.handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def handle(self, signum: int, frame: FrameType | None = None) -> None:
        self.count += 1
        name = signal.Signals(signum).name
        if self.count == 1:
            self.signal_name = name
            self.stop.set()
            self.notify(
                f"{name}: stopping - no new host or statement; running statements are stopped on the"
                " hosts. Press Ctrl-C again to exit at once."
            )
            return
        self.notify(f"{name} again: exiting now")
        try:
            self.on_second()
        finally:
            self.exit_now(EXIT_INTERRUPTED)

    @property
    def interrupted(self) -> bool:
        return self.count > 0

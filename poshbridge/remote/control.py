"""What bounds one host's run: a stop request (Ctrl-C / SIGTERM), a deadline, the retry policy, and
what the host is being waited for (for the progress line).

One :class:`HostControl` per host and command run. The session consults it before every request
(deadline) and every statement batch (stop); the OCSP wait and the TLS probe take their time from
:meth:`HostControl.remaining`. :class:`Ticker` refreshes the progress line of every host that waits
for an answer: ``reading facts: waiting for the host to answer Receive (12 s)``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from poshbridge.defaults import DEFAULT_HOST_TIMEOUT as DEFAULT_HOST_TIMEOUT
from poshbridge.errors import HostError
from poshbridge.remote.retry import RetryPolicy


class Interrupted(HostError):
    """The run was asked to stop (SIGINT/SIGTERM); ``where`` says what was running."""

    def __init__(self, where: str) -> None:
        super().__init__(f"interrupted while {where}")
        self.where = where


class HostTimeout(HostError):
    """The host's deadline (``--host-timeout``) passed; ``where`` says what was being waited for."""

    def __init__(self, seconds: float, where: str) -> None:
        super().__init__(f"host deadline of {seconds:.0f} s passed while {where}")
        self.seconds = seconds
        self.where = where


@dataclass
class HostControl:
    """Per host: stop flag (shared by the fleet), deadline, retry policy, progress reporting."""

    host_timeout: float = DEFAULT_HOST_TIMEOUT
    stop: threading.Event = field(default_factory=threading.Event)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], float] = time.monotonic
    report: Callable[[str], None] = lambda _text: None
    started: float = -1.0
    phase: str = "connecting"
    waiting_for: str | None = None
    waiting_since: float = 0.0
    retried: int = 0  # transient failures cured by a retry (for the summary and tests)
    _shown: bool = False  # a waiting text was reported during the current wait

    def __post_init__(self) -> None:
        if self.started < 0:
            self.started = self.clock()

    # ----- deadline ----------------------------------------------------------------------------
    @property
    def deadline(self) -> float:
        return self.started + self.host_timeout

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def check(self, where: str | None = None) -> None:
        """Raise :class:`Interrupted` or :class:`HostTimeout` when the run must not go on."""
        what = where or self.phase
        if self.stop.is_set():
            raise Interrupted(what)
        if self.remaining() <= 0:
            raise HostTimeout(self.host_timeout, what)

    def bounded(self, seconds: float) -> float:
        """``seconds``, cut to what is left of the deadline (at least 1 s so a request can fail)."""
        return max(1.0, min(seconds, self.remaining()))

    # ----- progress ----------------------------------------------------------------------------
    def set_phase(self, text: str) -> None:
        self.phase = text
        self.report(text)

    @contextlib.contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        self.waiting_for, self.waiting_since = what, self.clock()
        self._shown = False
        try:
            yield
        finally:
            self.waiting_for = None
            if self._shown:  # the answer came: the progress line shows the phase again
                self.report(self.phase)

    def waiting_text(self, min_seconds: float = 2.0) -> str | None:
        what = self.waiting_for
        if what is None:
            return None
        waited = self.clock() - self.waiting_since
        if waited < min_seconds:
            return None
        self._shown = True
        return f"{self.phase}: waiting for the host to answer {what} ({waited:.0f} s)"

    def pause(self, seconds: float, why: str) -> None:
        """Sleep before a retry, ended early by a stop request; never past the deadline."""
        seconds = max(0.0, min(seconds, self.remaining()))
        self.report(f"{self.phase}: {why}; retrying in {seconds:.1f} s")
        if self.stop.wait(seconds):
            raise Interrupted(self.phase)


class Ticker:
    """Every ``interval`` seconds, re-report the waiting text of each registered host."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._controls: dict[int, HostControl] = {}
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="poshbridge-ticker", daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def add(self, control: HostControl) -> None:
        with self._lock:
            self._controls[id(control)] = control

    def remove(self, control: HostControl) -> None:
        with self._lock:
            self._controls.pop(id(control), None)

    def tick(self) -> None:
        with self._lock:
            controls = list(self._controls.values())
        for control in controls:
            text = control.waiting_text()
            if text is not None:
                control.report(text)

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _loop(self) -> None:
        while not self._done.wait(self.interval):
            self.tick()

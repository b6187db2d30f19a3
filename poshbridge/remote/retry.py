"""Which failures are transient, and how long to wait before trying again.

A transient failure is one a second attempt can cure without changing anything on either side: a
WSMan ``InternalError`` fault (HTTP 500), a connection reset or closed by the host, a read or connect
timeout. Authentication, TLS, refused connections, protocol and configuration errors are not: they
would fail the same way again.

What may be retried is decided by the callers (``remote.session``): connecting (the pool open),
re-polling a Receive (it reads what the pipeline produced; it never re-sends a command), and resending
a batch that only reads. A batch that changes the host is never resent: the caller re-reads the facts
and re-plans (the setup plan is idempotent).

Backoff: ``min(cap, base * 2**(attempt-1))`` seconds, scaled by a random factor in [0.5, 1] (jitter,
so a fleet does not retry in lock step).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from poshbridge.defaults import DEFAULT_RETRIES as DEFAULT_RETRIES

# WSMan fault codes (WSManFault/@Code) worth a second attempt: E_FAIL, the w:InternalError fault.
TRANSIENT_WSMAN_CODES = frozenset({2147500037})  # 0x80004005


@dataclass
class RetryPolicy:
    """``retries`` extra attempts after the first, with capped exponential backoff and jitter."""

    retries: int = DEFAULT_RETRIES
    base: float = 0.5
    cap: float = 8.0
    rng: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        raw = min(self.cap, self.base * (2 ** max(0, attempt - 1)))
        return float(raw * (0.5 + 0.5 * self.rng()))


def is_transient(exc: BaseException) -> bool:
    """True for failures a second attempt can cure (see the module docstring)."""
    import requests
    from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

    if isinstance(exc, AuthenticationError):
        return False
    if isinstance(exc, WSManFaultError):
        return getattr(exc, "code", None) in TRANSIENT_WSMAN_CODES
    if isinstance(exc, WinRMTransportError):
        return getattr(exc, "code", None) in (500, 502, 503, 504)
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout, TimeoutError)):
        return True
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        text = " ".join(f"{type(e).__name__} {e}" for e in exception_chain(exc)).lower()
        permanent = ("refused", "name or service", "no route", "unreachable", "certificate")
        return not any(s in text for s in permanent)
    return isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError))


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc``, its causes and contexts, and exceptions carried in its args (pypsrp and urllib3 wrap
    them): at most 10."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException) and arg not in seen:
                seen.append(arg)
        current = current.__cause__ or current.__context__
    return seen

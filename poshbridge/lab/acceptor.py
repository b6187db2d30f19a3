"""One thread that accepts connections for every listening socket of the lab.

socketserver's ``serve_forever`` gives each server a thread that wakes up every ``poll_interval`` to look
at its shutdown flag. With four servers per twin (WinRM over HTTP and HTTPS, the IIS site over HTTP and
HTTPS), 200 twins were 800 threads and ~10,000 idle wake-ups a second: a fifth of a core spent on
nothing, taken from the requests. :data:`ACCEPTOR` waits on all the listening sockets at once (epoll)
and, when one is readable, lets its server accept and hand the connection to its handler thread
(``ThreadingMixIn``), exactly what ``serve_forever`` does per request (``_handle_request_noblock``).
"""

from __future__ import annotations

import logging
import selectors
import socketserver
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

IDLE_WAIT = 1.0  # seconds the thread sleeps in select() when nothing happens


class Acceptor:
    """Accepts for any number of socketserver servers from one daemon thread (started at first use)."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._servers: dict[int, socketserver.TCPServer] = {}
        self._thread: threading.Thread | None = None

    def add(self, server: socketserver.TCPServer) -> None:
        """Start accepting for ``server`` (bound and listening)."""
        with self._lock:
            fd = server.fileno()
            self._servers[fd] = server
            self._selector.register(fd, selectors.EVENT_READ, server)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="lab-acceptor", daemon=True)
                self._thread.start()

    def remove(self, server: socketserver.TCPServer) -> None:
        """Stop accepting for ``server``: once this returns, no new connection of it is handled (the
        caller then closes the socket; connections already accepted go on in their own threads)."""
        with self._lock:
            for fd, known in list(self._servers.items()):
                if known is server:
                    del self._servers[fd]
                    self._selector.unregister(fd)

    def __contains__(self, server: object) -> bool:
        with self._lock:
            return any(known is server for known in self._servers.values())

    def _loop(self) -> None:
        while True:
            try:
                events = self._selector.select(timeout=IDLE_WAIT)
            except (OSError, ValueError):  # a socket closed while select() looked at it: look again
                continue
            for key, _mask in events:
                with self._lock:
                    if self._servers.get(int(key.fd)) is not key.data:
                        continue  # removed (and maybe its descriptor reused) meanwhile
                    # what serve_forever does for each readable poll: accept, verify, process_request
                    handle: Callable[[], None] = getattr(key.data, "_handle_request_noblock")  # noqa: B009
                    try:
                        handle()
                    except Exception:
                        log.exception("accepting a connection failed")


ACCEPTOR = Acceptor()

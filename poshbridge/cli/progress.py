"""The progress of a fleet run on stderr: one line per host. A rich Progress (spinner + status) on a
terminal, plain ``host: status`` lines otherwise (CI logs, pipes)."""

from __future__ import annotations

import threading

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column

from poshbridge.runner.executor import FleetView, NullView
from poshbridge.textsafe import safe_text


class PlainView:
    """One line per change of state (only when the text changes)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._last: dict[str, str] = {}
        self._lock = threading.Lock()

    def start(self, host: str) -> None:
        self.update(host, "connecting")

    def update(self, host: str, text: str) -> None:
        # countdown ticks would flood a log: print only the first word group once per state
        key = text.split(" (", 1)[0]
        with self._lock:
            if self._last.get(host) == key:
                return
            self._last[host] = key
            self.console.print(f"{host}: {text}", markup=False, highlight=False)

    def finish(self, host: str, ok: bool, text: str) -> None:
        with self._lock:
            self.console.print(f"{host}: {'done' if ok else 'FAILED'}: {text}", markup=False, highlight=False)

    def close(self) -> None:
        return None


class RichView:
    """A live per-host list with spinners (stderr/stdout terminal)."""

    def __init__(self, console: Console) -> None:
        # the host column never shrinks or wraps (a host name must stay readable at any width); the
        # status text wraps instead
        self._host_column = Column(no_wrap=True, min_width=1)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[host]}[/]", table_column=self._host_column),
            TextColumn("{task.description}", table_column=Column(ratio=1)),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()
        self.progress.start()

    def start(self, host: str) -> None:
        with self._lock:
            self._host_column.min_width = max(self._host_column.min_width or 0, len(host))
            self.tasks[host] = self.progress.add_task("connecting", host=host, total=None)

    def update(self, host: str, text: str) -> None:
        with self._lock:
            task = self.tasks.get(host)
        if task is not None:
            self.progress.update(task, description=_escape(text))

    def finish(self, host: str, ok: bool, text: str) -> None:
        with self._lock:
            task = self.tasks.get(host)
        if task is not None:
            mark = "[green]ok[/]" if ok else "[red]FAILED[/]"
            self.progress.update(task, description=f"{mark} {_escape(text)}", total=1, completed=1)

    def close(self) -> None:
        self.progress.stop()


def _escape(text: str) -> str:
    return safe_text(text).replace("[", "\\[")


def make_view(console: Console, *, quiet: bool = False) -> FleetView:
    if quiet:
        return NullView()
    return RichView(console) if console.is_terminal else PlainView(console)

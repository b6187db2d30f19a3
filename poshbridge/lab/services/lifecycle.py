"""The life of a certificate in the lab: a twin's clock that can be moved forward, and "run the
registered task now".

**Why the twin's clock moves (and the CA's validity stays 90 days).** Pebble 2.4 (the Debian package)
can issue short certificates (``certificateValidityPeriod`` in its JSON config), but a short lifetime
would make every audit CRIT at once (the verdict thresholds are days: WARN 21, CRIT 7), and it would
not show what an operator waits for: Posh-ACME's RenewAfter (2/3 of the lifetime) coming due. So the
lab keeps the JPRS-like 90 days and moves each twin's clock instead: ``TwinHost.clock`` is what the
emulated Posh-ACME compares RenewAfter with (Submit-Renewal), what the Task Scheduler emulation
reports as LastRunTime/NextRunTime, and what the renewal runner writes as the transcript's Start time
and the result file's times. The control node (the product) keeps the real time: it reads the
certificate's real NotAfter, as it would on a real fleet.

**Run the task now.** ``run_task_now`` is what Task Scheduler does when the trigger fires (or
``Start-ScheduledTask``): the task's action through the lab's renewal runner, as SYSTEM, writing the
transcript and the result file; it waits for the run to end and returns LastTaskResult and the files
the run wrote.
"""

from __future__ import annotations

import datetime
import re
import threading
import time
from typing import Any

from poshbridge.lab.host import TwinHost

_OFFSET = re.compile(r"\+(\d{1,5})([dhms])")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
MAX_OFFSET_SECONDS = 10 * 365 * 86400


class TwinClock:
    """``time.time()`` plus an offset that only grows (Windows time does not run backwards under a
    scheduled task); ``reset`` returns to the real time (a fresh twin)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return time.time() + self._offset

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0 or self._offset + seconds > MAX_OFFSET_SECONDS:
            raise ValueError(f"a clock moves forward, at most {MAX_OFFSET_SECONDS // 86400} days in all")
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0


def parse_offset(text: str) -> int:
    """``+61d`` / ``+12h`` / ``+30m`` / ``+90s`` -> seconds."""
    match = _OFFSET.fullmatch(text.strip())
    if match is None:
        raise ValueError("a clock offset is +N followed by d, h, m or s (e.g. +61d)")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def clock_json(host: TwinHost) -> dict[str, Any]:
    now = datetime.datetime.fromtimestamp(host.clock(), datetime.timezone.utc).replace(microsecond=0)
    offset = host.clock.offset if isinstance(host.clock, TwinClock) else 0.0
    return {
        "host": host.name,
        "now": now.isoformat().replace("+00:00", "Z"),
        "offset_seconds": round(offset),
        "offset_days": round(offset / 86400, 2),
    }


def move_clock(host: TwinHost, seconds: int) -> dict[str, Any]:
    if not isinstance(host.clock, TwinClock):
        raise ValueError(f"{host.name}'s clock cannot be moved")
    host.clock.advance(seconds)
    return clock_json(host)


def _files(host: TwinHost) -> dict[str, float]:
    drive = host.drive
    found: dict[str, float] = {}
    for path in drive.rglob("*"):
        if path.is_file():
            found[host.windows_path(path)] = path.stat().st_mtime
    return found


def run_task_now(host: TwinHost, name: str | None = None, timeout: float = 300.0) -> dict[str, Any]:
    """Run the registered task named ``name`` (the only registered one when None) to its end."""
    from poshbridge.lab.cmdlets.renewal_runner import SYSTEM_USER, start_task, wait_for_task
    from poshbridge.lab.cmdlets.tasks import load_tasks

    tasks = load_tasks(host)
    if name is not None:
        tasks = [t for t in tasks if t["name"].lower() == name.lower()]
    if not tasks:
        what = f"no task named {name!r}" if name else "no scheduled task registered"
        raise LookupError(f"{host.name}: {what} (run `poshbridge setup {host.name}` first)")
    if len(tasks) > 1:
        names = ", ".join(t["path"] + t["name"] for t in tasks)
        raise LookupError(f"{host.name}: several tasks ({names}): name one")
    task = tasks[0]
    if task.get("state") == "Disabled":  # Start-ScheduledTask: 0x80041326 "The task is disabled."
        raise LookupError(f"{host.name}: {task['path']}{task['name']} is disabled (0x80041326)")
    if task.get("running"):
        raise LookupError(f"{host.name}: {task['path']}{task['name']} is already running")
    before = _files(host)
    start_task(host, task)
    if not wait_for_task(host, task["path"], task["name"], timeout):
        raise TimeoutError(f"{host.name}: {task['name']} still running after {timeout:g} s")
    after = _files(host)
    written = sorted(p for p, mtime in after.items() if before.get(p) != mtime)
    done = next((t for t in load_tasks(host) if (t["path"], t["name"]) == (task["path"], task["name"])), task)
    return {
        "host": host.name,
        "task": task["path"] + task["name"],
        "user": SYSTEM_USER,
        "last_run_time": done.get("last_run_time"),
        "last_task_result": done.get("last_result"),
        "files": written,
    }

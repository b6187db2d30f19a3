"""Local run history: one JSON line per host and command, under a state directory.

``{"poshbridge", "command", "host", "started", "finished", "ok", "dry_run", "steps": [{"name",
"status"}], "errors": [{"step", "kind", "message", "acme_type"}], "thumbprint"}`` — never secrets (the
caller passes already-scrubbed host results; :func:`append` scrubs once more with the values it is
given).

Many processes may append to one file at once (Ansible forks, one task per host): each line is one
``write(2)`` on an ``O_APPEND`` descriptor, so lines never interleave.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from poshbridge.scrubber import Scrubber

HISTORY_FILE = "history.jsonl"
_LOCK = threading.Lock()


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$POSHBRIDGE_STATE_DIR`` or ``~/.local/state/poshbridge`` (called by the CLI only)."""
    env = os.environ if environ is None else environ
    configured = env.get("POSHBRIDGE_STATE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".local" / "state" / "poshbridge"


def history_path(directory: Path) -> Path:
    return directory / HISTORY_FILE


def append(
    directory: Path,
    records: Iterable[Mapping[str, Any]],
    *,
    secrets: Iterable[str] = (),
    scrubber: Scrubber | None = None,
) -> Path:
    """Append records (one line each); creates the directory (mode 0700) when needed. Every string is
    scrubbed with ``scrubber`` (the run's) and ``secrets``."""
    scrub = scrubber if scrubber is not None else Scrubber()
    for secret in secrets:
        scrub.add(secret)
    try:
        directory.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        pass  # an existing directory keeps the mode its owner chose
    else:
        with contextlib.suppress(OSError):
            os.chmod(directory, 0o700)  # created here: 0700 whatever the umask
    path = history_path(directory)
    lines = [json.dumps(scrub.value(dict(r)), ensure_ascii=False, sort_keys=True) for r in records]
    with _LOCK:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            for line in lines:
                _write_line(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)
    return path


def _write_line(fd: int, data: bytes) -> None:
    """One ``write(2)`` of a whole line on an ``O_APPEND`` descriptor: the kernel places it at the end of
    the file at that moment, so lines of other processes appending at once (Ansible's forks, several
    workers of one state directory) never interleave inside a line. A buffered file object could
    split a line over several writes. A short write (disk full) leaves the rest unwritten: an error."""
    written = os.write(fd, data)
    if written != len(data):
        raise OSError(errno.ENOSPC, f"history line cut short ({written} of {len(data)} bytes written)")


def read(directory: Path) -> Iterator[dict[str, Any]]:
    path = history_path(directory)
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    yield record

"""The history file is appended to by many processes at once (Ansible forks: one task, one process, one
host): every line is one write(2) on an O_APPEND descriptor, so no line is ever cut by another's."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from poshbridge import history

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_each_line_is_one_write_on_an_append_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[tuple[bytes, bool]] = []
    real_write = os.write

    def recording_write(fd: int, data: bytes) -> int:
        appending = bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND)
        writes.append((bytes(data), appending))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", recording_write)
    # lines longer than any io buffer (8 KiB) and short ones: each must still be one write
    records = [{"host": f"h{i}", "summary": "x" * size} for i, size in enumerate((10, 70_000, 5, 9_000))]
    path = history.append(tmp_path, records)
    monkeypatch.undo()
    lines = path.read_bytes().splitlines(keepends=True)
    assert [data for data, _ in writes] == lines and len(lines) == 4
    assert all(appending for _, appending in writes)
    assert [json.loads(line)["host"] for line in lines] == ["h0", "h1", "h2", "h3"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the history is the operator's own


def test_a_short_write_is_an_error_not_a_silent_half_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, data[:10]))
    with pytest.raises(OSError, match="cut short"):
        history.append(tmp_path, [{"host": "h", "summary": "y" * 100}])


_WRITER = """
import sys, time
from pathlib import Path
from poshbridge import history
directory, worker, count, go = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
while not go.exists():
    time.sleep(0.001)
for n in range(count):
    size = (worker * 7919 + n * 104729) % 30_000  # 0..30 KB: many lines longer than an io buffer
    history.append(directory, [{"host": f"w{worker}", "n": n, "summary": str(worker % 10) * size}])
"""


def test_concurrent_processes_never_interleave_inside_a_line(tmp_path: Path) -> None:
    workers, count = 6, 40
    go = tmp_path / "go"
    state = tmp_path / "state"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(state), str(w), str(count), str(go)], cwd=REPO_ROOT
        )
        for w in range(workers)
    ]
    time.sleep(0.5)  # all started and waiting: they append at the same moment
    go.touch()
    assert [p.wait(timeout=120) for p in procs] == [0] * workers
    seen: dict[str, list[int]] = {}
    for line in (state / history.HISTORY_FILE).read_text("utf-8").splitlines():
        record = json.loads(line)  # a line cut by another process's write would not parse
        worker = int(record["host"][1:])
        assert set(record["summary"]) <= {str(worker % 10)}
        seen.setdefault(record["host"], []).append(record["n"])
    assert seen == {f"w{w}": list(range(count)) for w in range(workers)}

"""Faults against the lab: transient WSMan failures retried, changes never re-sent, deadlines, Ctrl-C.

Given lab twins with injected faults (a 500 fault, a dropped Receive, latency, slow statements, an ACME
error text with terminal control characters), when poshbridge's session or the ``poshbridge`` command
runs, then a read or a connect is retried and succeeds, a changing batch is never re-sent (setup re-reads
the facts and plans again), a host's deadline ends a slow host with a timeout that says what it waited
for, the progress line says what is being waited for and for how long, and SIGINT stops the running
statements on the host (PSRP stop signal), writes the history as ``interrupted`` and exits 130.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labkit import LabHandle

from poshbridge.inventory.load import load_inventory
from poshbridge.inventory.model import HostConfig
from poshbridge.powershell.command import Batch, Cmd
from poshbridge.remote.control import HostControl
from poshbridge.remote.retry import RetryPolicy
from poshbridge.remote.session import HostSession, RemoteConnectionError

REPO = Path(__file__).resolve().parents[2]
NO_FAULTS: dict[str, Any] = {
    "latency_ms": 0, "drop_next_receive": False, "fault_500_next": 0, "hang_next": False,
    "statement_delay_ms": 0, "fault_500_action": "", "fault_500_skip": 0, "acme_error_next_order": None,
}  # fmt: skip


@pytest.fixture
def twin(lab: LabHandle, request: pytest.FixtureRequest) -> Iterator[str]:
    name = lab.claim(request.node.nodeid)
    try:
        yield name
    finally:
        lab.faults(name, **NO_FAULTS)
        lab.release(name)


def host_config(lab: LabHandle, name: str) -> HostConfig:
    return load_inventory(lab.inventory).hosts[name]


def session(lab: LabHandle, name: str, retries: int = 2) -> HostSession:
    control = HostControl(policy=RetryPolicy(retries=retries, base=0.05, cap=0.2))
    return HostSession(host_config(lab, name), base_dir=lab.inventory.parent, control=control)


def read_batch() -> Batch:
    return (
        Batch()
        .add(Cmd.of("Write-Output", InputObject="first"), label="a")
        .add(Cmd.of("Write-Output", InputObject="second"), label="b")
    )


def env(state: Path) -> dict[str, str]:
    return dict(os.environ, POSHBRIDGE_STATE_DIR=str(state), NO_COLOR="1")


def poshbridge(
    lab: LabHandle, state: Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "poshbridge", "-i", str(lab.inventory), *args],
        cwd=REPO, capture_output=True, text=True, env=env(state), timeout=timeout, check=False,
    )  # fmt: skip


def history(state: Path) -> list[dict[str, Any]]:
    path = state / "history.jsonl"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


# ----- the session: reads and connects are retried, changes are not re-sent ---------------------------
def test_a_dropped_receive_is_polled_again_and_nothing_is_lost(lab: LabHandle, twin: str) -> None:
    with session(lab, twin) as s:
        before = lab.counters(twin)["connections"]
        lab.faults(twin, drop_next_receive=True)
        result = s.run(read_batch(), idempotent=True)
        assert s.control.retried >= 1
    assert result.output("a") == ["first"] and result.output("b") == ["second"]
    assert lab.faults(twin)["drop_next_receive"] is False  # the fault did happen
    assert lab.counters(twin)["connections"] > before  # on a new connection


def test_without_retries_a_dropped_receive_fails_the_batch_classified(lab: LabHandle, twin: str) -> None:
    with session(lab, twin, retries=0) as s:
        lab.faults(twin, drop_next_receive=True)
        with pytest.raises(RemoteConnectionError) as caught:
            s.run(read_batch(), idempotent=True)
    assert caught.value.kind == "dropped" and caught.value.transient


def test_a_500_fault_on_a_read_batch_is_retried_on_a_new_pool(lab: LabHandle, twin: str) -> None:
    with session(lab, twin) as s:
        lab.reset_counters(twin)
        lab.faults(twin, fault_500_action="Command")
        result = s.run(read_batch(), idempotent=True)
    assert result.output("b") == ["second"]
    counted = lab.counters(twin)["by_action"]
    assert counted["Command"] == 2  # the faulted one and the re-sent one
    assert counted["Create"] == 1  # the new pool


def test_a_changing_batch_is_never_re_sent(lab: LabHandle, twin: str) -> None:
    with session(lab, twin) as s:
        lab.reset_counters(twin)
        lab.faults(twin, fault_500_action="Command")
        with pytest.raises(RemoteConnectionError) as caught:
            s.run(read_batch())  # not idempotent: a batch that may change the host
    assert caught.value.transient and caught.value.kind == "protocol"
    assert lab.counters(twin)["by_action"]["Command"] == 1


def test_connecting_is_retried_after_a_500_on_create(lab: LabHandle, twin: str) -> None:
    lab.reset_counters(twin)
    lab.faults(twin, fault_500_action="Create")
    with session(lab, twin) as s:
        assert s.run(read_batch(), idempotent=True).output("a") == ["first"]
    assert lab.counters(twin)["by_action"]["Create"] == 2


def test_connecting_gives_up_after_the_retries(lab: LabHandle, twin: str) -> None:
    lab.reset_counters(twin)
    lab.faults(twin, fault_500_next=10)
    with pytest.raises(RemoteConnectionError) as caught, session(lab, twin, retries=2):
        pass
    assert caught.value.kind == "protocol" and "WSMan fault" in caught.value.message
    assert lab.counters(twin)["by_action"]["Create"] == 3  # the first attempt and two retries


# ----- the command: re-plan after a failed change, deadline, progress ----------------------------------
def test_setup_re_reads_and_re_plans_after_a_500_on_a_change(
    lab: LabHandle, twin: str, tmp_path: Path
) -> None:
    lab.faults(twin, fault_500_action="Command", fault_500_skip=1)  # the first apply batch
    done = poshbridge(lab, tmp_path, "setup", twin, "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "re-reading the facts to plan again" in done.stderr
    host = json.loads(done.stdout)["hosts"][0]
    assert host["ok"] and host["outcome"] == "ok"
    assert lab.faults(twin)["fault_500_action"] == ""  # the fault happened
    again = poshbridge(lab, tmp_path, "setup", twin)
    assert again.returncode == 0 and "all unchanged" in again.stderr, again.stderr


def test_a_slow_host_ends_at_its_deadline_and_the_progress_says_what_it_waits_for(
    lab: LabHandle, twin: str, tmp_path: Path
) -> None:
    lab.faults(twin, latency_ms=3000)
    started = time.monotonic()
    done = poshbridge(lab, tmp_path, "status", twin, "--host-timeout", "5", "--json")
    took = time.monotonic() - started
    assert done.returncode == 1
    errors = json.loads(done.stdout)["hosts"][0]["errors"]
    assert errors[0]["kind"] == "timeout", errors
    assert "host deadline of 5 s passed" in errors[0]["message"]
    assert took < 20, took
    assert f"{twin}: connecting: waiting for the host to answer" in done.stderr, done.stderr


# ----- Ctrl-C -----------------------------------------------------------------------------------------
class Running:
    """``poshbridge setup`` in a subprocess, its stderr collected line by line."""

    def __init__(self, lab: LabHandle, state: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "poshbridge", "-i", str(lab.inventory), *args],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(state),
        )  # fmt: skip
        self.lines: list[str] = []  # stderr
        self.out: list[str] = []  # stdout
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stderr, self.lines), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stdout, self.out), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    def wait_for(self, text: str, timeout: float = 120) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(text in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.process.kill()
        raise AssertionError(f"never saw {text!r}:\n{''.join(self.lines)}")

    def finish(self, timeout: float) -> tuple[int, str]:
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code, "".join(self.out)


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def test_sigint_stops_the_running_statements_writes_history_and_exits_130(
    lab: LabHandle, twin: str, tmp_path: Path
) -> None:
    lab.faults(twin, statement_delay_ms=400)  # a slow host: every statement takes 0.4 s
    run = Running(lab, tmp_path, "setup", twin)
    run.wait_for(f"{twin}: applying:")
    time.sleep(1.5)  # the apply batch is running on the host
    signals_before = lab.counters(twin)["by_action"].get("Signal", 0)
    sent = time.monotonic()
    run.process.send_signal(signal.SIGINT)
    code, out = run.finish(timeout=60)
    took = time.monotonic() - sent
    stopped = _snapshot(lab.twin(twin).root)
    assert code == 130, "".join(run.lines) + out
    assert took < 10, took  # the rest of the batch (dozens of 0.4 s statements) did not run
    assert lab.counters(twin)["by_action"].get("Signal", 0) > signals_before  # the PSRP stop signal
    records = [r for r in history(tmp_path) if r["host"] == twin]
    assert records[-1]["outcome"] == "interrupted" and records[-1]["ok"] is False
    assert "1 host(s), 0 ok, 1 failed" in out and "interrupted" in out
    assert any("SIGINT: stopping" in line for line in run.lines)
    time.sleep(2)  # nothing goes on applying on the host after the exit
    assert _snapshot(lab.twin(twin).root) == stopped
    assert not list(lab.twin(twin).root.rglob("fullchain.cer"))  # the certificate never came


def test_a_second_sigint_exits_at_once_and_still_writes_history(
    lab: LabHandle, twin: str, tmp_path: Path
) -> None:
    lab.faults(twin, statement_delay_ms=400)
    run = Running(lab, tmp_path, "setup", twin)
    run.wait_for(f"{twin}: reading facts")
    lab.faults(twin, latency_ms=2000)  # stopping now takes seconds (every WSMan request does)
    run.process.send_signal(signal.SIGINT)
    run.wait_for("SIGINT: stopping")
    sent = time.monotonic()
    run.process.send_signal(signal.SIGINT)
    code, _out = run.finish(timeout=30)
    assert code == 130
    assert time.monotonic() - sent < 3
    records = [r for r in history(tmp_path) if r["host"] == twin]
    assert records and records[-1]["outcome"] == "interrupted"


def test_no_new_host_starts_after_sigint(lab: LabHandle, tmp_path: Path) -> None:
    first = lab.claim("faults: sigint fleet 1")
    second = lab.claim("faults: sigint fleet 2")
    try:
        lab.faults(first, statement_delay_ms=400)
        run = Running(lab, tmp_path, "status", first, second, "--parallel", "1")
        run.wait_for(f"{first}: reading facts")
        run.process.send_signal(signal.SIGTERM)
        code, out = run.finish(timeout=60)
        assert code == 130, out
        by_host = {r["host"]: r for r in history(tmp_path)}
        assert by_host[first]["outcome"] == "interrupted"
        assert by_host[second]["outcome"] == "interrupted"
        assert "not started" in by_host[second]["summary"]
        assert lab.counters(second)["by_action"].get("Create", 0) == 0
    finally:
        for name in (first, second):
            lab.faults(name, **NO_FAULTS)
            lab.release(name)


# ----- an ACME error text with terminal control characters ---------------------------------------------
def test_an_acme_error_with_esc_and_bel_is_classified_with_the_text_made_safe(
    lab: LabHandle, twin: str, tmp_path: Path
) -> None:
    detail = "No such name \x1b]0;owned\x07 here \x1b[31mred\x1b[0m"
    lab.faults(
        twin,
        acme_error_next_order={
            "type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": detail, "status": 400,
        },
    )  # fmt: skip
    done = poshbridge(lab, tmp_path, "setup", twin, "--json")
    assert done.returncode == 1
    assert "MESSAGE_TYPE" not in done.stdout + done.stderr
    assert "\x1b" not in done.stdout + done.stderr and "\x07" not in done.stdout + done.stderr
    errors = json.loads(done.stdout)["hosts"][0]["errors"]
    acme = [e for e in errors if e["kind"] == "acme"]
    assert acme, errors
    assert acme[0]["acme_problem"]["type"].endswith("rejectedIdentifier")
    assert "\\x1b]0;owned\\x07" in acme[0]["message"]

"""Retry policy, transient classification, host deadline, Ctrl-C handler, control-character handling.

Pure pieces of the fault handling; the journeys (lab faults, SIGINT against a running setup) are in
tests/remote/test_faults_lab.py.
"""

from __future__ import annotations

import signal
import threading
import xml.etree.ElementTree as ET

import pytest
import requests
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError
from pypsrp.serializer import Serializer

from poshbridge.remote import clixml_guard
from poshbridge.remote.control import HostControl, HostTimeout, Interrupted, Ticker
from poshbridge.remote.remote_text import visible
from poshbridge.remote.retry import RetryPolicy, is_transient
from poshbridge.runner.interrupt import EXIT_INTERRUPTED, InterruptHandler


# ----- backoff ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999])
def test_backoff_is_exponential_capped_and_jittered(draw: float) -> None:
    policy = RetryPolicy(retries=6, base=0.5, cap=4.0, rng=lambda: draw)
    delays = [policy.delay(n) for n in range(1, 7)]
    nominal = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    for delay, full in zip(delays, nominal, strict=True):
        assert full * 0.5 <= delay <= full
    assert delays[0] < delays[1] < delays[2] <= delays[3] == delays[5]


def test_jitter_spreads_the_retries_of_a_fleet() -> None:
    import random

    rng = random.Random(7)
    policy = RetryPolicy(rng=rng.random)
    assert len({round(policy.delay(1), 6) for _ in range(20)}) > 10


# ----- what is transient ----------------------------------------------------------------------------------
def _fault(code: int) -> WSManFaultError:
    return WSManFaultError(code, "machine", "reason", "provider", "path", "fault")


@pytest.mark.parametrize(
    "exc",
    [
        _fault(2147500037),  # w:InternalError, the lab's injected 500
        requests.exceptions.ConnectionError(ConnectionResetError(104, "Connection reset by peer")),
        requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected('closed'))"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        WinRMTransportError("http", 503, "busy"),
        ConnectionResetError(104, "reset"),
    ],
)
def test_transient_failures(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        AuthenticationError("refused"),
        _fault(2150858843),  # the shell is gone: not cured by re-sending
        WinRMTransportError("http", 401, "unauthorized"),
        requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"),
        requests.exceptions.ConnectionError("Failed to establish a new connection: [Errno 111] refused"),
        ValueError("a bug"),
    ],
)
def test_permanent_failures(exc: BaseException) -> None:
    assert not is_transient(exc)


# ----- deadline, stop, progress ---------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_deadline_bounds_requests_and_says_what_was_waited_for() -> None:
    clock = Clock()
    control = HostControl(host_timeout=60, clock=clock)
    control.set_phase("reading facts")
    assert control.bounded(30) == 30
    clock.now += 45
    assert control.bounded(30) == pytest.approx(15)
    clock.now += 20
    assert control.bounded(30) == 1.0  # at least a second, so the request can fail on its own
    with pytest.raises(HostTimeout) as caught:
        control.check()
    assert "60 s" in str(caught.value) and "reading facts" in str(caught.value)


def test_the_progress_line_says_for_what_and_for_how_long() -> None:
    clock = Clock()
    lines: list[str] = []
    control = HostControl(clock=clock, report=lines.append)
    control.set_phase("reading facts")
    ticker = Ticker()
    ticker.add(control)
    with control.waiting("Receive"):
        clock.now += 1
        ticker.tick()  # under two seconds: no noise
        assert lines == ["reading facts"]
        clock.now += 24
        ticker.tick()
        assert lines[-1] == "reading facts: waiting for the host to answer Receive (25 s)"
    assert lines[-1] == "reading facts"  # the answer came: the phase again
    ticker.tick()  # nothing more
    assert len(lines) == 3


def test_a_stop_request_interrupts_a_retry_pause_at_once() -> None:
    stop = threading.Event()
    control = HostControl(stop=stop)
    threading.Timer(0.1, stop.set).start()
    with pytest.raises(Interrupted):
        control.pause(30, "Receive: ConnectionError")
    with pytest.raises(Interrupted):
        control.check("applying: certificate")


# ----- SIGINT / SIGTERM ------------------------------------------------------------------------------
def test_first_signal_sets_stop_second_writes_what_is_known_and_exits_130() -> None:
    stop = threading.Event()
    said: list[str] = []
    written: list[str] = []
    exits: list[int] = []
    handler = InterruptHandler(
        stop, notify=said.append, on_second=lambda: written.append("history"), exit_now=exits.append
    )
    handler.handle(signal.SIGINT)
    assert stop.is_set() and handler.interrupted and not written and not exits
    assert "SIGINT" in said[0] and "again" in said[0]
    handler.handle(signal.SIGTERM)
    assert written == ["history"] and exits == [EXIT_INTERRUPTED]


def test_the_handler_is_installed_for_sigint_and_sigterm_and_restored() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with InterruptHandler(threading.Event(), notify=lambda _t: None, on_second=lambda: None) as handler:
        assert signal.getsignal(signal.SIGINT) == handler.handle
        assert signal.getsignal(signal.SIGTERM) == handler.handle
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


# ----- control characters in remote text ------------------------------------------------------------
def test_control_characters_are_made_visible_and_nothing_else_changes() -> None:
    assert visible("red \x1b[31mX\x1b[0m bell\x07 osc\x1b]0;t\x07 c1\x9b") == (
        "red \\x1b[31mX\\x1b[0m bell\\x07 osc\\x1b]0;t\\x07 c1\\x9b"
    )
    assert visible("line\nnext\ttab ß 日本") == "line\nnext\ttab ß 日本"


def _error_record_with_raw_tostring(text: str) -> str:
    """An ErrorRecord as psrpcore 0.3.1 alone serializes it: the ToString text not encoded."""
    from psrpcore.types import serialize

    from poshbridge.lab.engine.contract import LabErrorRecord
    from poshbridge.lab.psrp import to_error_record

    record = to_error_record(LabErrorRecord(text, "Acme.Err", "InvalidOperation"))
    return ET.tostring(serialize(record, None), encoding="unicode")  # psrpcore.types.serialize: raw


def test_pypsrp_alone_cannot_read_a_raw_control_character() -> None:
    raw = _error_record_with_raw_tostring("urn:x detail \x1b[31mred\x07")
    with pytest.raises(ET.ParseError):
        ET.fromstring(raw)  # noqa: S314 - our own test data
    assert isinstance(Serializer().deserialize(raw), str)  # what became "'str' ... 'MESSAGE_TYPE'"


def test_the_guard_reads_it_with_the_characters_pypsrp_would_have_decoded() -> None:
    serializer = Serializer()
    clixml_guard.install(serializer)
    value = serializer.deserialize(_error_record_with_raw_tostring("detail \x1b[31mred\x07"))
    assert not isinstance(value, str)
    assert str(value) == "detail \x1b[31mred\x07"
    assert visible(str(value)) == "detail \\x1b[31mred\\x07"


def test_the_guard_classifies_what_is_not_xml_at_all() -> None:
    serializer = Serializer()
    clixml_guard.install(serializer)
    with pytest.raises(clixml_guard.UnreadableMessage):
        serializer.deserialize("<Obj><S>\x1b unclosed")


def test_the_lab_encodes_tostring_as_powershell_does() -> None:
    from psrpcore.types import serialize

    from poshbridge.lab.clixml_compat import encode_to_strings
    from poshbridge.lab.engine.contract import LabErrorRecord
    from poshbridge.lab.psrp import to_error_record

    record = to_error_record(
        LabErrorRecord("bad \x1b[31m red \x07 bell _x0041_", "Acme.Err", "InvalidOperation")
    )
    text = ET.tostring(encode_to_strings(serialize(record, None)), encoding="unicode")
    ET.fromstring(text)  # noqa: S314 - well-formed now
    back = Serializer().deserialize(text)
    assert str(back) == "bad \x1b[31m red \x07 bell _x0041_"

"""A WSMan transport that answers with what real Windows hosts sent (pypsrp's recorded exchanges).

pypsrp's repository keeps, per test, the WSMan requests it sent to a real Windows host and the
responses that host sent back (``tests/tests_pypsrp/responses/*.yml``; copies and their origin in
``tests/data/pypsrp_responses/``). pypsrp's own tests put a fake transport in ``WSMan.transport`` that
compares each request with the recorded one and answers with the recorded response
(``tests/tests_pypsrp/conftest.py``, ``TransportFake.send``). :class:`ReplayTransport` does the same
for poshbridge's :class:`~poshbridge.remote.session.HostSession`, with three differences, all forced
by poshbridge sending other commands than the recorded ones:

- a request is checked for its WSMan action only (Create, Receive, Command, Signal, Delete, ...), in
  recorded order: a session that sends an extra or a missing request fails with the exchange number;
- a recorded exchange that poshbridge never makes (pypsrp's key exchange: poshbridge sends no
  SecureString) is left out by the scenario, explicitly, with a reason in the test;
- poshbridge's statement markers (``Write-Output -InputObject '<nonce>:<index>'``, see
  ``HostSession.run``) are answered where the scenario places them, as the PIPELINE_OUTPUT message
  Windows sends for a string (``\\ufeff<S>text</S>``, the form of ``<S>before</S>`` in
  test_psrp_error_failed.yml, exchange 4), with the 40-byte PSRP header of the recorded message it
  precedes. Every recorded message is passed on byte for byte.

The only rewrite of a recorded response is ``RelatesTo`` (set to the request's MessageID, which
pypsrp checks); pypsrp's fake reaches the same by zeroing every UUID on both sides.
"""

from __future__ import annotations

import base64
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pypsrp.exceptions import WinRMTransportError

DATA = Path(__file__).resolve().parent / "data" / "pypsrp_responses"

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
}
PIPELINE_OUTPUT = 0x00041004  # MS-PSRP 2.2.1: message type of a pipeline output object
MARKER_OBJECT_IDS = 0x7B000000  # PSRP fragment object ids for the inserted markers (no recorded id is near)


@dataclass(frozen=True)
class Scenario:
    """A recording and how poshbridge's session is expected to walk it.

    ``markers[c][i]`` is, for the c-th Command (invocation) of the recording, the index of the recorded
    pipeline Stream (counted over that command's Receive responses) before which statement ``i``'s
    marker is answered; several markers may share one position. ``skip`` lists recorded exchanges
    (0-based) poshbridge never makes.
    """

    recording: str
    markers: tuple[tuple[int, ...], ...] = ()
    skip: tuple[int, ...] = ()


def _action(envelope: ET.Element) -> str:
    action = envelope.find("s:Header/wsa:Action", NS)
    assert action is not None and action.text, "a WSMan envelope without wsa:Action"
    return action.text.rsplit("/", 1)[-1]


def _fragments(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """MS-PSRP 2.2.4 fragments: (object id, fragment id, start/end flags, blob)."""
    out = []
    offset = 0
    while offset < len(data):
        object_id, fragment_id = struct.unpack(">QQ", data[offset : offset + 16])
        flags = data[offset + 16]
        (length,) = struct.unpack(">I", data[offset + 17 : offset + 21])
        out.append((object_id, fragment_id, flags, data[offset + 21 : offset + 21 + length]))
        offset += 21 + length
    return out


def _fragment(object_id: int, blob: bytes) -> bytes:
    return struct.pack(">QQBI", object_id, 0, 0x3, len(blob)) + blob


def statement_markers(command_request: ET.Element) -> list[str]:
    """The marker values (``<nonce>:<index>``) of the statements in a Command request's CREATE_PIPELINE."""
    arguments = command_request.find("s:Body/rsp:CommandLine/rsp:Arguments", NS)
    assert arguments is not None and arguments.text, "a Command request without a CREATE_PIPELINE fragment"
    ((_obj, _frag, flags, blob),) = _fragments(base64.b64decode(arguments.text))
    assert flags == 0x3, "the test batch must fit one PSRP fragment"
    pipeline = ET.fromstring(blob[40:].decode("utf-8-sig"))  # noqa: S314 - test data
    markers = []
    # With more than one statement, ExtraCmds holds them all (one Cmds list each); else Cmds alone
    shell = pipeline.find(".//Obj[@N='PowerShell']/MS")
    assert shell is not None, "a CREATE_PIPELINE without its PowerShell object"
    commands = shell.findall("Obj[@N='ExtraCmds']/LST/Obj/MS/Obj[@N='Cmds']/LST/Obj") or shell.findall(
        "Obj[@N='Cmds']/LST/Obj"
    )
    for command in commands:
        name = command.find("MS/S[@N='Cmd']")
        if name is None or name.text != "Write-Output":
            continue
        for argument in command.iterfind("MS/Obj[@N='Args']/LST/Obj/MS"):
            value = argument.find("*[@N='V']")
            if value is not None and value.text and ":" in value.text:
                markers.append(value.text)
    return markers


class ReplayTransport:
    """Stands in for pypsrp's ``_TransportHTTP`` (``send``/``close``/``endpoint``) on a WSMan object."""

    endpoint = "https://replay.invalid:5986/wsman"

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        recorded = yaml.safe_load((DATA / f"{scenario.recording}.yml").read_text(encoding="utf-8"))
        self.exchanges: list[tuple[int, dict[str, Any]]] = [
            (index, message)
            for index, message in enumerate(recorded["messages"])
            if index not in scenario.skip
        ]
        self.position = 0
        self.closed = False
        self.commands = -1
        self._streams_seen = 0
        self._pending: list[tuple[int, str]] = []  # (stream position, marker text) of the running command
        self._in_command = False
        self._marker_count = 0

    # -- the transport interface pypsrp's WSMan uses
    def send(self, message: bytes, **_kwargs: Any) -> bytes:
        request = ET.fromstring(message)  # noqa: S314 - test data
        action = _action(request)
        assert self.position < len(self.exchanges), (
            f"{self.scenario.recording}: HostSession sent {action} after the last recorded exchange"
        )
        index, recorded = self.exchanges[self.position]
        recorded_action = _action(ET.fromstring(recorded["request"]))  # noqa: S314 - test data
        assert action == recorded_action, (
            f"{self.scenario.recording}, exchange {index}: HostSession sent {action}, "
            f"pypsrp sent {recorded_action} to the Windows host"
        )
        self.position += 1
        if action == "Command":
            self._start_command(request)
        response = ET.fromstring(recorded["response"])  # noqa: S314 - test data
        relates_to = response.find("s:Header/wsa:RelatesTo", NS)
        message_id = request.find("s:Header/wsa:MessageID", NS)
        assert relates_to is not None and message_id is not None
        relates_to.text = message_id.text
        if action == "Receive" and self._in_command:
            self._answer_markers(response)
        text = ET.tostring(response, encoding="utf-8")
        if _action(response) == "fault":  # WinRM answers a fault with HTTP 500 (pypsrp parses it from there)
            raise WinRMTransportError("http", 500, text.decode("utf-8"))
        return text

    def close(self) -> None:
        self.closed = True

    # -- checks for the test
    def assert_finished(self) -> None:
        left = [index for index, _ in self.exchanges[self.position :]]
        assert not left, f"{self.scenario.recording}: recorded exchanges never requested: {left}"
        assert not self._pending, f"{self.scenario.recording}: markers never answered: {self._pending}"

    # -- markers
    def _start_command(self, request: ET.Element) -> None:
        assert not self._pending, f"markers of the previous command never answered: {self._pending}"
        self.commands += 1
        assert self.commands < len(self.scenario.markers), (
            f"{self.scenario.recording}: HostSession started invocation {self.commands + 1}, "
            f"the scenario places markers for {len(self.scenario.markers)}"
        )
        positions = self.scenario.markers[self.commands]
        markers = statement_markers(request)
        assert len(markers) == len(positions), (
            f"the batch has {len(markers)} statements, the scenario places {len(positions)} markers"
        )
        nonces = {marker.rsplit(":", 1)[0] for marker in markers}
        assert len(nonces) == 1 and [m.rsplit(":", 1)[1] for m in markers] == [
            str(i) for i in range(len(markers))
        ], markers
        self._pending = sorted(zip(positions, markers, strict=True), key=lambda pair: pair[0])
        self._streams_seen = 0
        self._in_command = True

    def _answer_markers(self, response: ET.Element) -> None:
        body = response.find("s:Body/rsp:ReceiveResponse", NS)
        if body is None:
            return
        children = list(body)
        body[:] = []
        for child in children:
            if child.tag == f"{{{NS['rsp']}}}Stream" and child.text:
                while self._pending and self._pending[0][0] == self._streams_seen:
                    body.append(self._marker_stream(child, self._pending.pop(0)[1]))
                self._streams_seen += 1
            body.append(child)

    def _marker_stream(self, before: ET.Element, text: str) -> ET.Element:
        assert before.text is not None
        ((_obj, _frag, flags, blob),) = _fragments(base64.b64decode(before.text))
        assert flags & 0x1, "a marker can only go before the start of a recorded message"
        destination, _type = struct.unpack("<II", blob[:8])
        header = struct.pack("<II", destination, PIPELINE_OUTPUT) + blob[8:40]
        data = f"\ufeff<S>{text}</S>".encode()
        self._marker_count += 1
        stream = ET.Element(before.tag, before.attrib)
        stream.text = base64.b64encode(
            _fragment(MARKER_OBJECT_IDS + self._marker_count, header + data)
        ).decode()
        return stream

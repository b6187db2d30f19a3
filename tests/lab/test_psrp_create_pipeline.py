"""The lab reads a CREATE_PIPELINE exactly as psrpcore's generic reader does, only cheaper.

Given CREATE_PIPELINE messages written by pypsrp itself (its ``PowerShell.begin_invoke``, the real
client's code path), with statements, pipelines, positional arguments, switches and values of every
kind poshbridge sends (strings with escapes, numbers, booleans, None, lists, hashtables, bytes), when
``read_create_pipeline`` reads them, then every field of every command equals what
``PowerShell.FromPSObjectForRemoting(deserialize(...))`` (psrpcore's own path) gives; a message of
another shape is left to psrpcore (None), never guessed.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psrpcore import (
    ClientPowerShell,
    ClientRunspacePool,
    CreatePipelineEvent,
    PSRPEvent,
    PSRPPayload,
    ServerPipeline,
    StreamType,
)
from psrpcore._payload import unpack_fragment, unpack_message
from psrpcore._pipeline import PowerShell as CorePowerShell
from psrpcore.types import deserialize
from pypsrp.complex_objects import ApartmentState
from pypsrp.powershell import Fragmenter, PowerShell
from pypsrp.serializer import Serializer

from poshbridge.lab.psrp_create_pipeline import read_create_pipeline
from poshbridge.lab.psrp_pool import LabRunspacePool

Statement = list[tuple[str, list[tuple[str | None, Any]]]]


class _Shell:
    """What pypsrp's PowerShell hands a CREATE_PIPELINE to: records the fragments."""

    def __init__(self) -> None:
        self.fragments: list[bytes] = []

    def command(self, _executable: str, arguments: list[str], command_id: str) -> ElementTree.Element:
        self.fragments.extend(base64.b64decode(a) for a in arguments)
        return ElementTree.Element("none")

    def send(self, _stream: str, fragment: bytes, command_id: str) -> None:
        self.fragments.append(fragment)


class _Pool:
    def __init__(self) -> None:
        self.protocol_version = "2.3"
        self.apartment_state = ApartmentState.UNKNOWN
        self.host = None
        self.id = str(uuid.uuid4()).upper()
        self.pipelines: dict[str, Any] = {}
        self.shell = _Shell()
        self._serializer = Serializer()
        self._fragmenter = Fragmenter(1024 * 1024, self._serializer)


def pypsrp_message(statements: list[Statement]) -> bytes:
    """The CLIXML of the CREATE_PIPELINE pypsrp sends for ``statements``."""
    pool = _Pool()
    ps = PowerShell(pool)  # type: ignore[arg-type]
    for index, statement in enumerate(statements):
        if index:
            ps.add_statement()
        for name, params in statement:
            ps.add_cmdlet(name)
            for param, value in params:
                if param is None:
                    ps.add_argument(value)
                else:
                    ps.add_parameter(param, value)
    ps.begin_invoke()
    payload = bytearray(b"".join(pool.shell.fragments))
    data = b""
    while payload:
        fragment = unpack_fragment(payload)
        data += bytes(fragment.data)
        payload = payload[21 + len(fragment.data) :]
    return bytes(unpack_message(bytearray(data)).data)


def fields(pipeline: CorePowerShell) -> list[Any]:
    host = pipeline.host
    out: list[Any] = [
        pipeline.add_to_history,
        (type(pipeline.apartment_state), int(pipeline.apartment_state)),
        pipeline.history,
        {k: v for k, v in vars(host).items() if k != "PSObject"} if host is not None else None,
        pipeline.is_nested,
        pipeline.no_input,
        (type(pipeline.remote_stream_options), int(pipeline.remote_stream_options)),
        pipeline.redirect_shell_error_to_out,
    ]
    for c in pipeline.commands:
        merges = ("my", "to", "error", "warning", "verbose", "debug", "information")
        out.append(
            (
                c.command_text,
                type(c.command_text),
                c.is_script,
                c.use_local_scope,
                c.end_of_statement,
                c.merge_unclaimed,
                [(n, type(n), repr(v), type(v)) for n, v in c.parameters],
                [(type(getattr(c, f"_merge_{m}")), int(getattr(c, f"_merge_{m}"))) for m in merges],
            )
        )
    return out


def generic(data: bytes) -> CorePowerShell:
    root = ElementTree.fromstring(data)  # noqa: S314 - written by pypsrp in this test
    return CorePowerShell.FromPSObjectForRemoting(deserialize(root, None))


AUDIT_LIKE: list[Statement] = [
    [("Write-Output", [("InputObject", "pb5526ff8cda43859a:0")])],
    [("Set-Item", [("Path", "Env:POSHACME_HOME"), ("Value", "C:\\ProgramData\\poshbridge\\Posh-ACME")])],
    [
        ("Get-PACertificate", [("Name", "host01.poshbridge.test")]),
        ("Set-IISCertificate", [("Verbose", True)]),
    ],
    [("Get-Content", [("LiteralPath", "C:\\poshbridge\\logs\\renew.log"), ("Raw", True), ("Tail", 40)])],
    [
        (
            "Get-ChildItem",
            [(None, "C:\\poshbridge\\logs"), ("Filter", "*.json"), ("ErrorAction", "SilentlyContinue")],
        )
    ],
]


def test_an_audit_like_batch_reads_as_psrpcore_reads_it() -> None:
    data = pypsrp_message(AUDIT_LIKE)
    fast = read_create_pipeline(data, None)
    assert fast is not None
    assert fields(fast) == fields(generic(data))
    assert [c.command_text for c in fast.commands] == [
        "Write-Output", "Set-Item", "Get-PACertificate", "Set-IISCertificate", "Get-Content", "Get-ChildItem",
    ]  # fmt: skip
    assert [c.end_of_statement for c in fast.commands] == [True, True, False, True, True, True]


def test_a_single_statement_without_extra_cmds_reads_the_same() -> None:
    data = pypsrp_message([[("Get-Item", [("Path", "C:\\x")]), ("Select-Object", [("Property", ["Name"])])]])
    fast = read_create_pipeline(data, None)
    assert fast is not None
    assert fields(fast) == fields(generic(data))


_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=20)
_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**31), 2**31 - 1),
    _text,
    st.binary(max_size=8),
)
_value = st.one_of(_scalar, st.lists(_scalar, max_size=3), st.dictionaries(_text, _scalar, max_size=3))
_param = st.tuples(st.one_of(st.none(), st.from_regex(r"\A[A-Za-z][A-Za-z0-9]{0,12}\Z")), _value)
_command = st.tuples(st.from_regex(r"\A[A-Z][a-z]{1,8}-[A-Z][A-Za-z]{1,12}\Z"), st.lists(_param, max_size=4))
_statements = st.lists(st.lists(_command, min_size=1, max_size=3), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(_statements)
def test_any_pipeline_pypsrp_writes_reads_as_psrpcore_reads_it(statements: list[Statement]) -> None:
    data = pypsrp_message(statements)
    fast = read_create_pipeline(data, None)
    assert fast is not None
    assert fields(fast) == fields(generic(data))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda x: x.replace(b'N="Cmd"', b'N="Command"'),  # a member psrpcore requires is missing
        lambda x: x.replace(
            b'<Obj RefId="12" N="Args">', b'<Ref RefId="7" N="Args" /><Obj RefId="12" N="X">'
        ),
        lambda x: x.replace(b"<MS>", b"<Props>", 1).replace(b"</MS></Obj>", b"</Props></Obj>")[: len(x)],
        lambda x: x[:-20],  # not XML
    ],
)
def test_another_shape_is_left_to_psrpcore(mangle: Any) -> None:
    data = pypsrp_message(AUDIT_LIKE)
    assert read_create_pipeline(mangle(data), None) is None


def _exchange(source: Any, target: Any) -> list[PSRPEvent[Any, Any]]:
    events: list[PSRPEvent[Any, Any]] = []
    while (payload := source.data_to_send()) is not None:
        target.receive_data(payload)
        while (event := target.next_event()) is not None:
            events.append(event)
    return events


def _opened_pair() -> tuple[ClientRunspacePool, LabRunspacePool]:
    client = ClientRunspacePool()
    server = LabRunspacePool()
    client.open()
    _exchange(client, server)
    _exchange(server, client)
    return client, server


def _pypsrp_fragments(statements: list[Statement]) -> tuple[bytes, uuid.UUID]:
    pool = _Pool()
    ps = PowerShell(pool)  # type: ignore[arg-type]
    for name, params in statements[0]:
        ps.add_cmdlet(name)
        for param, value in params:
            ps.add_parameter(param or "", value)
    ps.begin_invoke()
    return b"".join(pool.shell.fragments), uuid.UUID(ps.id)


def test_the_lab_pool_reads_pypsrp_pipelines_with_the_reader_and_others_with_psrpcore() -> None:
    client, server = _opened_pair()
    # what pypsrp (the real client) sends: the reader
    data, pipeline_id = _pypsrp_fragments([[("Get-Item", [("Path", "C:\\x")])]])
    ServerPipeline(server, pipeline_id)
    server.receive_data(PSRPPayload(data, StreamType.default, pipeline_id))
    event = server.next_event()
    assert isinstance(event, CreatePipelineEvent) and type(event) is not CreatePipelineEvent
    assert [(c.command_text, c.parameters) for c in event.pipeline.commands] == [
        ("Get-Item", [("Path", "C:\\x")])
    ]
    assert server.pipeline_table[pipeline_id].metadata is event.pipeline
    # psrpcore's own client writes another shape: psrpcore's generic reader, same result
    ps = ClientPowerShell(client)
    ps.add_command("Get-Item").add_parameter("Path", "C:\\x")
    ps.start()
    ServerPipeline(server, ps.pipeline_id)
    [generic_event] = [e for e in _exchange(client, server) if isinstance(e, CreatePipelineEvent)]
    assert type(generic_event) is CreatePipelineEvent
    assert [(c.command_text, c.parameters) for c in generic_event.pipeline.commands] == [
        ("Get-Item", [("Path", "C:\\x")])
    ]

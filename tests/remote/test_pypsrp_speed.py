"""poshbridge/remote/pypsrp_speed.py and pipeline_text.py: the same bytes and values as pypsrp, cheaper.

Each speed-up is compared with pypsrp's own code on the same input (the messages poshbridge sends, the
recorded answers of real Windows hosts), and each has a test that fails without it (the expensive
pypsrp step is made to fail).
"""

from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import requests
import yaml
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st
from pypsrp import complex_objects as pypsrp_complex_objects
from pypsrp import serializer as pypsrp_serializer
from pypsrp.complex_objects import (
    ApartmentState,
    GenericComplexObject,
    HostInfo,
    Pipeline,
    RemoteStreamOptions,
)
from pypsrp.messages import CreatePipeline
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.serializer import Serializer, TaggedValue
from pypsrp.wsman import WSMan
from pypsrp_replay import DATA

from poshbridge.remote import pypsrp_hooks, pypsrp_speed
from poshbridge.remote.convert import DROPPED, to_plain
from poshbridge.remote.pipeline_text import create_pipeline_text

RPID = str(uuid.UUID(int=0x1234))
PID = str(uuid.UUID(int=0xBEEF))

# Every kind of value poshbridge's Cmd parameters hold once revealed (session._reveal): strings with what
# CLIXML escapes, numbers, booleans, bytes, lists, hashtables, a SecureString, a switch (no value).
ODD = "a&b<c>d \"q\" 'q' _x0041_ _X000a_ tab\there\r\nnew é 日本 \U0001f512 \x07 \x1b[31m \u0085 \uffff"
VALUES: list[Any] = [
    "plain",
    "",
    ODD,
    "C:\\ProgramData\\poshbridge\\Posh-ACME",
    0,
    443,
    -1,
    2**40,
    True,
    False,
    1.5,
    b"\x00\x01binary\xff",
    ["a", 1, True, ["nested", {"k": "v"}]],
    [],
    {"LogName": "Application", "ProviderName": "poshbridge"},
    {},
    {"n": {"deep": [1, 2]}, "empty": ""},
    TaggedValue("SS", "s3cret-pfx-password"),
    TaggedValue("SS", ""),
    uuid.UUID(int=7),
]


def _pool(protocol: str = "2.3") -> RunspacePool:
    pool = RunspacePool(WSMan("replay.invalid", username="u", password="p", auth="basic", ssl=True))
    pool.protocol_version = protocol  # 2.3: PowerShell 5.1; 2.2: 3.0/4.0; 2.1: 2.0 (fewer merge settings)
    # a fixed session key: SecureStrings serialize the same way twice (AES-CBC, as after exchange_keys)
    pool._serializer.cipher = Cipher(algorithms.AES(b"k" * 32), modes.CBC(b"\0" * 16))
    return pool


def _message(pool: RunspacePool, statements: list[list[tuple[str, list[tuple[str, Any]]]]]) -> CreatePipeline:
    """The CREATE_PIPELINE ``PowerShell.begin_invoke`` builds for these statements (commands, params)."""
    ps = PowerShell(pool)
    for statement in statements:
        for name, params in statement:
            if name.startswith("script:"):
                ps.add_script(name.removeprefix("script:"))
                continue
            ps.add_cmdlet(name)
            for key, value in params:
                if value is _SWITCH:
                    ps.add_parameter(key)
                else:
                    ps.add_parameter(key, value)
        ps.add_statement()
    pipeline = Pipeline(is_nested=False, cmds=ps.commands, history=None, redirect_err_to_out=False)
    return CreatePipeline(
        True,
        ApartmentState(value=pool.apartment_state),
        RemoteStreamOptions(value=RemoteStreamOptions.ADD_INVOCATION_INFO),
        False,
        HostInfo(host=pool.host),
        pipeline,
        False,
    )


_SWITCH = object()


def _both(
    statements: list[list[tuple[str, list[tuple[str, Any]]]]], protocol: str = "2.3"
) -> tuple[list[bytes], list[bytes]]:
    """(pypsrp's fragments, the fragments with poshbridge's speed-ups) for the same message."""
    plain = _pool(protocol)
    expected = plain._fragmenter.fragment(_message(plain, statements), RPID, PID)
    fast = _pool(protocol)
    message = _message(fast, statements)
    pypsrp_speed.copy_statements_shallowly(message)
    pypsrp_speed.write_create_pipeline_as_text(fast._fragmenter)
    return expected, fast._fragmenter.fragment(message, RPID, PID)


def _batch(values: list[Any]) -> list[list[tuple[str, list[tuple[str, Any]]]]]:
    statements: list[list[tuple[str, list[tuple[str, Any]]]]] = []
    for index, value in enumerate(values):
        statements.append([("Write-Output", [("InputObject", f"pbnonce:{index}")])])
        statements.append([("Set-Thing", [("Value", value), ("Force", _SWITCH)])])
    return statements


@pytest.mark.parametrize("protocol", ["2.3", "2.2", "2.1"])
def test_a_batch_of_every_value_kind_is_written_as_the_bytes_pypsrp_writes(protocol: str) -> None:
    expected, got = _both(_batch(VALUES), protocol)
    assert got == expected


def test_one_statement_pipelines_scripts_and_a_message_of_several_fragments_are_the_same_bytes() -> None:
    one = [[("Get-PAOrder", [("List", _SWITCH)])]]
    assert _both(one)[1] == _both(one)[0]
    piped = [
        [("Get-IISSite", [("ErrorAction", "SilentlyContinue")]), ("Get-IISSiteBinding", [])],
        [("script:Get-Date", [])],
    ]
    expected, got = _both(piped)
    assert got == expected
    big = _batch(["x" * 50_000, ODD * 1000])  # more than one PSRP fragment (max envelope size)
    expected, got = _both(big)
    assert len(expected) > 1
    assert got == expected


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.text(), st.integers(-(2**31), 2**31 - 1), st.booleans(), st.binary()), max_size=6)
)
def test_any_text_numbers_and_bytes_are_written_as_pypsrp_writes_them(values: list[Any]) -> None:
    expected, got = _both(_batch([*values, list(values), {str(i): v for i, v in enumerate(values)}]))
    assert got == expected


def test_the_create_pipeline_is_neither_deep_copied_nor_built_as_an_element_tree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = _pool()
    message = _message(fast, _batch(VALUES))

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the expensive pypsrp step ran")

    monkeypatch.setattr(pypsrp_complex_objects, "deepcopy", refuse)
    monkeypatch.setattr(Serializer, "serialize", refuse)
    pypsrp_speed.copy_statements_shallowly(message)
    pypsrp_speed.write_create_pipeline_as_text(fast._fragmenter)
    (fragment,) = fast._fragmenter.fragment(message, RPID, PID)
    assert b"pbnonce:3" in fragment


def test_a_message_the_text_writer_does_not_know_goes_to_pypsrps_serializer() -> None:
    dynamic = GenericComplexObject()
    dynamic.types = ["System.Management.Automation.PSCustomObject", "System.Object"]
    dynamic.extended_properties["Name"] = "x"
    plain, fast = _pool(), _pool()
    expected = plain._fragmenter.fragment(_message(plain, _batch([dynamic])), RPID, PID)
    pypsrp_speed.write_create_pipeline_as_text(fast._fragmenter)
    assert fast._fragmenter.fragment(_message(fast, _batch([dynamic])), RPID, PID) == expected
    with pytest.raises(Exception, match="ObjDynamic"):
        create_pipeline_text(_message(fast, _batch([dynamic])), fast._serializer)


def test_statement_copies_leave_the_commands_as_they_were_and_a_securestring_serializes_twice() -> None:
    pool = _pool()
    message = _message(pool, _batch([TaggedValue("SS", "pw"), ["a"]]))
    pypsrp_speed.copy_statements_shallowly(message)
    first = pool._fragmenter.fragment(message, RPID, PID)
    second = pool._fragmenter.fragment(message, RPID, PID)  # pypsrp serializes Cmds and ExtraCmds: twice
    assert [f[21:] for f in first] == [f[21:] for f in second]  # same message (the object id counts up)
    for command in message.pipeline.commands:
        for arg in command.args:
            assert arg._extended_properties[1][1].tag == "*", "a copy's metadata leaked into the original"


# ----- deserialization ---------------------------------------------------------------------------------
def _recorded_messages() -> list[bytes]:
    """Every PSRP message blob the recorded Windows hosts sent in a Receive answer."""
    blobs = []
    for path in sorted(DATA.glob("*.yml")):
        for exchange in yaml.safe_load(path.read_text(encoding="utf-8"))["messages"]:
            response = ET.fromstring(exchange["response"])  # noqa: S314 - test data
            for stream in response.iter("{http://schemas.microsoft.com/wbem/wsman/1/windows/shell}Stream"):
                if stream.text:
                    blobs.append(base64.b64decode(stream.text))
    return blobs


def _shape(value: Any, depth: int = 0) -> Any:
    """A comparable picture of a deserialized value (ComplexObjects by their attributes)."""
    if depth > 20:
        return "..."
    if isinstance(value, (list, tuple)):
        return [_shape(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): _shape(v, depth + 1) for k, v in value.items()}
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {
            k: _shape(v, depth + 1)
            for k, v in vars(value).items()
            if k not in ("_xml", "_serializer")
            and not k.startswith("_extended")
            and not k.startswith("_adapted")
        }
    return value


def test_recorded_windows_answers_deserialize_to_the_same_values_with_primitives_read_directly() -> None:
    blobs = _recorded_messages()
    assert len(blobs) > 20
    plain, fast = _pool(), _pool()
    for pool in (plain, fast):  # as the session does: a SecureString is never decrypted
        pypsrp_hooks.guard_secure_strings(pool, DROPPED)
    pypsrp_speed.deserialize_nested_directly(fast._serializer)
    compared = 0
    for blob in blobs:
        expected = plain._fragmenter.defragment(blob)
        got = fast._fragmenter.defragment(blob)
        assert [m.message_type for m in got] == [m.message_type for m in expected]
        for mine, theirs in zip(got, expected, strict=True):
            assert _shape(mine.data) == _shape(theirs.data)
            if hasattr(theirs.data, "data"):
                assert to_plain(mine.data.data) == to_plain(theirs.data.data)
            compared += 1
    assert compared > 20


def test_nested_primitives_and_generic_objects_are_not_written_back_to_xml(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clixml = (
        '<Obj RefId="0"><TN RefId="0"><T>Deserialized.PoshACME.PACertificate</T>'
        "<T>Deserialized.System.Object</T></TN><MS>"
        '<S N="Subject">CN=example.jp</S><I32 N="Port">443</I32><B N="Ok">true</B><Nil N="None" />'
        '<S N="Thumbprint">ABCDEF</S><DT N="NotAfter">2027-01-01T00:00:00Z</DT>'
        '<Obj N="Nested" RefId="1"><TN RefId="1">'
        "<T>Deserialized.Microsoft.Management.Infrastructure.CimInstance#Root/Microsoft/Windows/TaskScheduler/MSFT_TaskTrigger</T><T>Deserialized.System.Object</T></TN>"
        '<Props><S N="StartBoundary">2026-01-01T03:17:00</S><Obj N="Again" RefId="2"><TNRef RefId="1" />'
        '<Props><B N="Enabled">true</B></Props></Obj></Props></Obj>'
        '<Obj N="Names" RefId="3"><TN RefId="2"><T>System.Object[]</T><T>System.Array</T><T>System.Object</T>'
        "</TN><LST><S>example.jp</S><S>www.example.jp</S></LST></Obj>"
        '<Obj N="Shared" RefId="4"><TNRef RefId="1" /><Props><Ref N="Same" RefId="2" /></Props></Obj>'
        "</MS></Obj>"
    )
    calls: list[str] = []
    tostring = pypsrp_serializer.ET.tostring

    def counting(element: ET.Element, *args: Any, **kwargs: Any) -> bytes:
        calls.append(element.tag)
        return tostring(element, *args, **kwargs)

    monkeypatch.setattr(pypsrp_serializer.ET, "tostring", counting)
    serializer = Serializer()
    expected = to_plain(serializer.deserialize(clixml))
    assert len(calls) == 15  # pypsrp: every nested element (an object: its whole subtree)
    calls.clear()
    pypsrp_speed.deserialize_nested_directly(serializer)
    assert to_plain(serializer.deserialize(clixml)) == expected
    assert calls == ["Obj"]  # the list: pypsrp's own path (its type resolves to a list)
    assert expected["Port"] == 443 and expected["Ok"] is True and expected["None"] is None
    assert expected["Nested"]["Again"]["Enabled"] is True
    assert expected["Shared"]["Same"] == expected["Nested"]["Again"]
    assert expected["Names"] == ["example.jp", "www.example.jp"]


# ----- the HTTP transport -----------------------------------------------------------------------------
def test_the_session_keeps_pypsrps_proxy_choice_and_stops_reading_the_environment_per_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    plain = WSMan("winrm.invalid", username="u", password="p", auth="basic", ssl=True).transport
    fast = WSMan("winrm.invalid", username="u", password="p", auth="basic", ssl=True).transport
    pypsrp_speed.read_proxy_settings_once(fast)
    expected: requests.Session = plain._build_session()
    got: requests.Session = fast._build_session()
    assert got.proxies == expected.proxies == {"https": "http://proxy.invalid:3128"}
    assert expected.trust_env is True
    assert got.trust_env is False
    request = requests.Request("POST", "https://winrm.invalid:5986/wsman").prepare()
    assert requests.utils.resolve_proxies(
        request, got.proxies, got.trust_env
    ) == requests.utils.resolve_proxies(request, expected.proxies, expected.trust_env)


def test_the_type_name_cache_stays_bounded_whatever_names_a_host_sends() -> None:
    long_name = "Evil." + "x" * 10_000
    assert pypsrp_speed._resolves_to(long_name) == pypsrp_speed._UNKNOWN
    assert long_name not in pypsrp_speed._RESOLVED
    assert pypsrp_speed._resolves_to("System.Object") == pypsrp_speed._DYNAMIC
    assert pypsrp_speed._resolves_to("System.Object[]") == pypsrp_speed._OTHER
    assert pypsrp_speed._resolves_to("System.Management.Automation.ErrorRecord") == pypsrp_speed._OTHER
    assert len(pypsrp_speed._RESOLVED) <= pypsrp_speed._RESOLVED_MAX

"""The private pypsrp hooks of poshbridge/remote/pypsrp_hooks.py still exist in the installed pypsrp.

A pypsrp release that renames or reshapes one of them must fail here, naming it, before it fails
quietly on a host (a SecureString decrypted, records attributed to no statement, output lost).
Behaviour against real Windows answers: tests/remote/test_session_replay.py.
"""

from __future__ import annotations

import base64
import inspect
import re
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path

import yaml
from pypsrp.messages import MessageType
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan
from pypsrp_replay import DATA

from poshbridge.remote import pypsrp_hooks
from poshbridge.remote.session import _STREAM_OF, _TrackedPowerShell

ROOT = Path(__file__).resolve().parents[2]


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text))


def _pool() -> RunspacePool:
    return RunspacePool(WSMan("replay.invalid", username="u", password="p", auth="basic", ssl=True))


def test_the_installed_pypsrp_is_in_the_range_the_hooks_are_verified_for_and_pyproject_pins_it() -> None:
    low, high = pypsrp_hooks.SUPPORTED_PYPSRP
    installed = _numbers(version("pypsrp"))
    assert _numbers(low) <= installed < _numbers(high), (
        f"pypsrp {version('pypsrp')} is outside {low},{high}: re-check every hook in pypsrp_hooks.py"
    )
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"pypsrp{low},{high}"' in pyproject, "pyproject.toml must pin the range of SUPPORTED_PYPSRP"


def test_receive_is_runspacepool_receive_with_id_and_timeout() -> None:
    receive = getattr(RunspacePool, "_receive", None)
    assert receive is not None, "pypsrp.powershell.RunspacePool._receive is gone (hook: receive)"
    parameters = list(inspect.signature(receive).parameters)
    assert parameters == ["self", "id", "timeout"], f"RunspacePool._receive{parameters} changed"


def test_poll_invoke_is_what_end_invoke_calls_with_the_signature_the_override_has() -> None:
    poll = getattr(PowerShell, pypsrp_hooks.POLL_INVOKE, None)
    assert poll is not None, "PowerShell.poll_invoke is gone: the session's override would never run"
    assert list(inspect.signature(poll).parameters) == list(
        inspect.signature(_TrackedPowerShell.poll_invoke).parameters
    ), "PowerShell.poll_invoke's signature changed"
    assert "self.poll_invoke(" in inspect.getsource(PowerShell.end_invoke), (
        "PowerShell.end_invoke no longer calls poll_invoke: the override would never run"
    )


def test_the_powershell_attributes_the_override_fills_exist() -> None:
    pool = _pool()
    ps = PowerShell(pool)
    for name in ("output", "streams", "had_errors", "runspace_pool", "id", "state"):
        assert hasattr(ps, name), f"PowerShell.{name} is gone"
    for stream in _STREAM_OF.values():
        assert isinstance(getattr(ps.streams, stream, None), list), f"PowerShell.streams.{stream} is gone"
    for name in ("PIPELINE_OUTPUT", "PIPELINE_STATE", "ERROR_RECORD", "WARNING_RECORD", "VERBOSE_RECORD"):
        assert hasattr(MessageType, name), f"pypsrp.messages.MessageType.{name} is gone"


def test_the_secure_string_guard_replaces_what_the_pool_deserializes() -> None:
    pool = _pool()
    serializer = getattr(pool, "_serializer", None)
    assert serializer is not None, "RunspacePool._serializer is gone (hook: guard_secure_strings)"
    assert hasattr(serializer, "_deserialize_secure_string"), "Serializer._deserialize_secure_string is gone"
    marker = object()
    pypsrp_hooks.guard_secure_strings(pool, marker)
    assert serializer.deserialize(ET.fromstring("<SS>rTm4n3bxaFOIgdjhDDV5OA==</SS>")) is marker, (  # noqa: S314 - test data
        "the pool's deserializer no longer goes through _deserialize_secure_string for <SS>"
    )
    assert pool._fragmenter.serializer is serializer, "the pool's fragmenter deserializes with another object"


def test_output_value_reads_a_recorded_windows_pipeline_output_message() -> None:
    # test_psrp_error_failed.yml, exchange 4, stream 2: the <S>before</S> a Windows host sent
    recorded = yaml.safe_load((DATA / "test_psrp_error_failed.yml").read_text(encoding="utf-8"))
    response = ET.fromstring(recorded["messages"][4]["response"])  # noqa: S314 - test data
    streams = response.iter("{http://schemas.microsoft.com/wbem/wsman/1/windows/shell}Stream")
    data = base64.b64decode([s.text for s in streams][1] or "")
    (message,) = _pool()._fragmenter.defragment(data)
    assert message.message_type == MessageType.PIPELINE_OUTPUT
    assert pypsrp_hooks.output_value(message) == "before", "Message.data.data of PIPELINE_OUTPUT changed"


def test_use_transport_replaces_the_object_wsman_sends_through() -> None:
    wsman = WSMan("replay.invalid", username="u", password="p", auth="basic", ssl=True)
    original = getattr(wsman, "transport", None)
    assert original is not None and callable(getattr(original, "send", None)), "WSMan.transport changed"

    class Refuse:
        endpoint = "https://replay.invalid:5986/wsman"

        def send(self, message: bytes, **_kwargs: object) -> bytes:
            raise LookupError(message[:20])

        def close(self) -> None: ...

    pypsrp_hooks.use_transport(wsman, Refuse())
    try:
        wsman.get_server_config()
    except LookupError:
        pass
    else:  # pragma: no cover - the assertion is the failure
        raise AssertionError("WSMan no longer sends through .transport")


def test_the_transport_has_the_read_timeout_and_encryption_the_deadline_and_retries_use() -> None:
    wsman = WSMan("replay.invalid", username="u", password="p", auth="basic", ssl=True, read_timeout=33)
    transport = wsman.transport
    assert hasattr(transport, "read_timeout"), "_TransportHTTP.read_timeout changed"
    assert hasattr(transport, "encryption"), "_TransportHTTP.encryption changed"
    assert pypsrp_hooks.read_timeout(transport) == 33
    pypsrp_hooks.set_read_timeout(transport, 5.0)
    assert transport.read_timeout == 5.0
    pypsrp_hooks.forget_encryption(transport)
    assert transport.encryption is None


def test_the_serializer_is_the_pools_and_its_deserialize_can_be_wrapped() -> None:
    serializer = pypsrp_hooks.serializer(_pool())
    assert callable(getattr(serializer, "deserialize", None)), "Serializer.deserialize changed"


def test_the_names_the_speed_ups_reach_exist_with_the_shapes_they_rely_on() -> None:
    # poshbridge/remote/pypsrp_speed.py and pipeline_text.py (behaviour: tests/remote/test_pypsrp_speed.py)
    from pypsrp.complex_objects import Pipeline
    from pypsrp.powershell import Fragment, Fragmenter
    from pypsrp.serializer import Serializer
    from pypsrp.wsman import _TransportHTTP

    assert "self._invoke(create_pipeline)" in inspect.getsource(PowerShell.begin_invoke), (
        "PowerShell.begin_invoke no longer hands its CREATE_PIPELINE to _invoke"
    )
    assert list(inspect.signature(getattr(PowerShell, pypsrp_hooks.INVOKE)).parameters) == ["self", "msg"], (
        "PowerShell._invoke changed"
    )
    assert "_get_statements()" in inspect.getsource(Pipeline), "Pipeline no longer builds statements there"
    assert list(inspect.signature(Fragmenter.fragment).parameters) == [
        "self", "data", "rpid", "pid", "remaining_size"
    ], "Fragmenter.fragment changed"  # fmt: skip
    assert "_fragmenter.fragment(msg" in inspect.getsource(PowerShell._invoke), "_invoke packs elsewhere"
    fragmenter = pypsrp_hooks.fragmenter(_pool())
    for name in ("max_size", "outgoing_counter", "serializer", "_byte_iterator"):
        assert hasattr(fragmenter, name), f"Fragmenter.{name} is gone"
    assert list(inspect.signature(Fragment).parameters) == [
        "object_id",
        "fragment_id",
        "data",
        "start",
        "end",
    ]
    for name in (
        "_serialize_string",
        "_serialize_secure_string",
        "_get_tag_from_value",
        "_deserialize_string",
    ):
        assert callable(getattr(Serializer, name, None)), f"Serializer.{name} is gone"
    assert "self.deserialize(" in inspect.getsource(Serializer._deserialize_obj), (
        "nested deserialization moved"
    )
    assert callable(getattr(_TransportHTTP, "_build_session", None)), "_TransportHTTP._build_session is gone"
    assert "self._build_session()" in inspect.getsource(_TransportHTTP.send)

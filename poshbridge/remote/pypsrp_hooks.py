"""Every private or undocumented part of pypsrp that poshbridge relies on, named in this one module.

pypsrp's public API hands back a PowerShell's output list and streams only after the invocation
ends, so the session reaches a little further in (``poshbridge/remote/session.py``):

- ``RunspacePool._serializer._deserialize_secure_string``: replaced on each pool so that a
  SecureString coming back is a marker that conversion drops, never decrypted clear text
  (:func:`guard_secure_strings`);
- ``RunspacePool._receive(id, timeout=...)``: one WSMan Receive for a pipeline, answering the list of
  ``(MessageType, payload)`` in wire order (:func:`receive`); the session overrides
  ``PowerShell.poll_invoke(timeout=None)`` (:data:`POLL_INVOKE`, called by ``end_invoke`` while the
  state is Running) to see that order and attribute each record to the statement running;
- the payload of a PIPELINE_OUTPUT message is a ``Message`` whose ``.data.data`` is the object
  (:func:`output_value`); pypsrp appends error records to ``PowerShell.streams.error`` itself, and the
  one carried by a Failed PIPELINE_STATE too;
- ``WSMan.transport``: the object whose ``send(bytes) -> bytes`` carries every WSMan envelope
  (:func:`use_transport`: tests replay real Windows answers through it);
- WSMan fault code 2150858793 (OperationTimeout) means "poll again", as pypsrp's own poll_invoke does;
- ``RunspacePool._serializer`` (:func:`serializer`), wrapped to repair raw control characters;
- ``_TransportHTTP.read_timeout`` and ``.encryption`` (:func:`set_read_timeout`,
  :func:`forget_encryption`): the per-host deadline bounds each request, and a retried request opens a
  new connection.
- for the CPU per invocation (:mod:`poshbridge.remote.pypsrp_speed`, :mod:`~poshbridge.remote.pipeline_text`):
  ``PowerShell._invoke(msg)`` (:data:`INVOKE`: ``begin_invoke`` hands it the CREATE_PIPELINE message),
  ``Pipeline._get_statements`` (the statement copies), ``RunspacePool._fragmenter``
  (:func:`fragmenter`) with ``fragment``, ``_byte_iterator``, ``max_size``, ``outgoing_counter`` and
  ``Fragment``; ``Serializer._serialize_string``, ``_serialize_secure_string``,
  ``_get_tag_from_value``, ``_deserialize_string`` and ``.obj``; ``_TransportHTTP._build_session``.

tests/remote/test_pypsrp_hooks.py checks each name and signature against the installed pypsrp and
fails with the name that changed; tests/remote/test_session_replay.py checks their behaviour against
recorded Windows answers. The range below is the one those tests were run with (also in pyproject).
"""

from __future__ import annotations

from typing import Any

SUPPORTED_PYPSRP = (">=0.9.1", "<0.10")
"""The pypsrp versions the hooks are verified for (pyproject.toml pins the same range)."""

POLL_INVOKE = "poll_invoke"
"""The PowerShell method the session overrides: ``poll_invoke(self, timeout=None) -> None``."""

INVOKE = "_invoke"
"""The PowerShell method the session overrides to adjust the CREATE_PIPELINE: ``_invoke(self, msg)``."""

OPERATION_TIMEOUT_FAULT = 2150858793
"""WSManFault code of a Receive that timed out with nothing to say (ERROR_WSMAN_OPERATION_TIMEDOUT)."""


def guard_secure_strings(pool: Any, replacement: object) -> None:
    """Make ``pool`` deserialize every ``<SS>`` element as ``replacement`` (never as clear text)."""
    serializer: Any = pool._serializer
    serializer._deserialize_secure_string = lambda _element: replacement


def receive(pool: Any, pipeline_id: Any, timeout: int | None) -> list[tuple[int, Any]]:
    """One WSMan Receive for the pipeline ``pipeline_id``: its PSRP messages as (type, payload)."""
    responses: list[tuple[int, Any]] = pool._receive(pipeline_id, timeout=timeout)
    return responses


def output_value(payload: Any) -> Any:
    """The deserialized object of a PIPELINE_OUTPUT message payload."""
    return payload.data.data


def use_transport(wsman: Any, transport: Any) -> None:
    """Send ``wsman``'s envelopes through ``transport`` (``send(bytes, **kw) -> bytes``, ``close()``)."""
    wsman.transport = transport


def serializer(pool: Any) -> Any:
    """The pool's ``Serializer`` (``RunspacePool._serializer``): the session wraps its ``deserialize``
    (poshbridge.remote.clixml_guard) to repair raw control characters a host sent."""
    return pool._serializer


def fragmenter(pool: Any) -> Any:
    """The pool's ``Fragmenter`` (``RunspacePool._fragmenter``): its ``fragment(data, rpid, pid=None,
    remaining_size=None)`` packs every message the pool and its pipelines send
    (:mod:`poshbridge.remote.pypsrp_speed` writes the CREATE_PIPELINE there)."""
    return pool._fragmenter


def read_timeout(transport: Any) -> float:
    """The HTTP read timeout of pypsrp's transport (``_TransportHTTP.read_timeout``); 30 s for a
    transport without one (a test's replay stub)."""
    return float(getattr(transport, "read_timeout", 30.0))


def set_read_timeout(transport: Any, seconds: float) -> None:
    """Bound the next request's wait (pypsrp reads ``read_timeout`` on every send)."""
    if hasattr(transport, "read_timeout"):
        transport.read_timeout = seconds


def forget_encryption(transport: Any) -> None:
    """Drop the message-encryption context (``_TransportHTTP.encryption``): the next request opens a new
    connection and authenticates again (NTLM/Kerberos contexts belong to one connection)."""
    if hasattr(transport, "encryption"):
        transport.encryption = None

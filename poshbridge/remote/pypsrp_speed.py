"""Two costs of pypsrp 0.9 per invocation that dominate the control node's CPU per host, removed.

Both keep the bytes on the wire and the deserialized values exactly as pypsrp makes them
(tests/remote/test_pypsrp_speed.py compares them with pypsrp's own code); the private names they
reach are listed in :mod:`poshbridge.remote.pypsrp_hooks`.

- **Statement copies.** pypsrp's ``Pipeline._get_statements`` ``deepcopy``-s every Command (its
  parameters and values too) each time the CREATE_PIPELINE message is serialized, and it is
  serialized through it twice (``Cmds`` and ``ExtraCmds``): about 40% of the client's CPU for a
  batch of ten statements. The copies only have to keep one serialization from changing what the
  next sees: the serializer writes the tag it infers for a parameter value (``*`` → ``S``, ``SS``,
  ``LST``, ...) into that parameter's own ``ObjectMeta``, so a second pass over the same parameter
  would treat a ``TaggedValue`` (a SecureString) as its tag's type. :func:`copy_statements_shallowly`
  gives each pass a shallow copy of every Command with fresh ``CommandParameter`` objects (fresh
  metadata); the values are never modified by serialization (lists and dictionaries get a copy of
  their entry metadata per entry, ``Serializer._serialize_lst`` / ``_serialize_dct``).
- **Nested primitives.** ``Serializer.deserialize`` writes every element it is handed back to XML
  text (``ET.tostring``) before it looks at the tag, to keep the text of objects it cannot type; for
  the primitive elements (``<S>``, ``<I32>``, ``<B>``, ``<Nil/>``, ``<Ref>``, ...) that text is never
  used, and they are most of a message's elements. :func:`deserialize_primitives_directly` answers
  those with the same conversions pypsrp's table uses (``Serializer.deserialize``, the
  ``unpack_function`` map, in pypsrp 0.9.1), through the serializer's own ``_deserialize_string`` and
  ``_deserialize_secure_string`` (so the SecureString guard still applies), and hands everything
  else to pypsrp.
"""

from __future__ import annotations

import base64
import copy
import functools
import struct
import uuid
from collections.abc import Callable
from typing import Any

from pypsrp.complex_objects import CommandParameter


def _statements(pipeline: Any) -> list[list[Any]]:
    """``Pipeline._get_statements`` with shallow copies (see the module docstring)."""
    statements: list[list[Any]] = []
    current: list[Any] = []
    pipeline.commands[-1].end_of_statement = True  # as pypsrp: the last command ends a statement
    for command in pipeline.commands:
        clone = copy.copy(command)
        clone.args = [CommandParameter(name=arg.name, value=arg.value) for arg in command.args]
        current.append(clone)
        if command.end_of_statement:
            statements.append(current)
            current = []
    return statements


def copy_statements_shallowly(create_pipeline: Any) -> None:
    """Make the CREATE_PIPELINE message ``create_pipeline`` serialize its statements from shallow
    copies (``.pipeline._get_statements``, an instance override: pypsrp's class is not touched)."""
    pipeline = create_pipeline.pipeline
    pipeline._get_statements = functools.partial(_statements, pipeline)


# pypsrp 0.9.1 Serializer.deserialize, ``unpack_function``: the same conversion for each primitive tag.
_PRIMITIVES: dict[str, Callable[[Any, Any], Any]] = {
    "S": lambda s, e: s._deserialize_string(e.text),
    "ToString": lambda s, e: s._deserialize_string(e.text),
    "C": lambda _s, e: chr(int(e.text)),
    "B": lambda _s, e: e.text.lower() == "true",
    "DT": lambda _s, e: e.text,
    "TS": lambda _s, e: e.text,
    "By": lambda _s, e: int(e.text),
    "SB": lambda _s, e: int(e.text),
    "U16": lambda _s, e: int(e.text),
    "I16": lambda _s, e: int(e.text),
    "U32": lambda _s, e: int(e.text),
    "I32": lambda _s, e: int(e.text),
    "U64": lambda _s, e: int(e.text),
    "I64": lambda _s, e: int(e.text),
    "Sg": lambda _s, e: float(e.text),
    "Db": lambda _s, e: float(e.text),
    "D": lambda _s, e: e.text,
    "BA": lambda _s, e: base64.b64decode(e.text),
    "G": lambda _s, e: uuid.UUID(e.text),
    "URI": lambda s, e: s._deserialize_string(e.text),
    "Nil": lambda _s, _e: None,
    "Version": lambda _s, e: e.text,
    "XD": lambda s, e: s._deserialize_string(e.text),
    "SBK": lambda s, e: s._deserialize_string(e.text),
    "SS": lambda s, e: s._deserialize_secure_string(e),
    "Ref": lambda s, e: s.obj[e.attrib["RefId"]],
}
PRIMITIVE_TAGS = frozenset(_PRIMITIVES)


def deserialize_primitives_directly(serializer: Any) -> None:
    """Wrap ``serializer.deserialize`` (an instance attribute, which pypsrp's recursion calls too) so a
    nested primitive element is converted without writing it back to XML text first."""
    original = serializer.deserialize

    def deserialize(element: Any, metadata: Any = None, clear: bool = True) -> Any:
        if not clear and not isinstance(element, str):
            convert = _PRIMITIVES.get(element.tag)
            if convert is not None:
                if metadata is not None and metadata.tag == "*":
                    metadata.tag = element.tag  # as pypsrp does before it converts
                return convert(serializer, element)
        return original(element, metadata, clear)

    serializer.deserialize = deserialize


def read_proxy_settings_once(transport: Any) -> None:
    """pypsrp takes the proxy settings from the environment once, when it builds its requests Session
    (``_TransportHTTP._build_session``, on the first send: ``merge_environment_settings`` for the
    endpoint, or ``proxy`` / ``no_proxy``); requests then reads the whole environment again on every
    request (``Session.send`` → ``resolve_proxies`` while ``trust_env``), to add only what the
    session already has. The session built here keeps pypsrp's choice and stops re-reading."""
    build = getattr(transport, "_build_session", None)
    if build is None:  # another transport (a test's replay): nothing to do
        return

    def build_session() -> Any:
        session = build()
        session.trust_env = False
        return session

    transport._build_session = build_session


def write_create_pipeline_as_text(fragmenter: Any) -> None:
    """Make the pool's ``Fragmenter.fragment`` write a CREATE_PIPELINE message with
    :func:`poshbridge.remote.pipeline_text.create_pipeline_text` instead of pypsrp's ElementTree
    serializer; the header (``Message.pack``) and the fragments (``Fragmenter.fragment``) are built as
    pypsrp builds them. Every other message, and a pipeline the text writer does not know, goes to
    pypsrp's own ``fragment``."""
    from pypsrp.messages import CreatePipeline, Destination, MessageType
    from pypsrp.powershell import Fragment

    from poshbridge.remote.pipeline_text import Unsupported, create_pipeline_text

    original = fragmenter.fragment

    def fragment(
        data: Any, rpid: str, pid: str | None = None, remaining_size: int | None = None
    ) -> list[bytes]:
        if remaining_size is not None or not isinstance(data, CreatePipeline) or pid is None:
            return list(original(data, rpid, pid, remaining_size))
        try:
            text = create_pipeline_text(data, fragmenter.serializer)
        except Unsupported:
            return list(original(data, rpid, pid, remaining_size))
        message = (
            struct.pack("<I", Destination.SERVER)
            + struct.pack("<I", MessageType.CREATE_PIPELINE)
            + uuid.UUID(rpid).bytes_le
            + uuid.UUID(pid).bytes_le
            + text
        )
        fragments = []
        for index, (part, end) in enumerate(fragmenter._byte_iterator(message, fragmenter.max_size)):
            fragments.append(Fragment(fragmenter.outgoing_counter, index, part, index == 0, end).pack())
        fragmenter.outgoing_counter += 1
        return fragments

    fragmenter.fragment = fragment

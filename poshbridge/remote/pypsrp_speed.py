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
- **Nested elements.** ``Serializer.deserialize`` writes every element it is handed back to XML
  text (``ET.tostring``, the whole subtree, at every level) before it looks at the tag, to keep the
  text of objects it cannot type, and rebuilds its type table for every object; for the primitive
  elements (``<S>``, ``<I32>``, ``<B>``, ``<Nil/>``, ``<Ref>``, ...), most of a message's elements,
  and for the objects it reads as ``GenericComplexObject``, that text is never used.
  :func:`deserialize_nested_directly` converts primitives with the conversions pypsrp's table uses
  (``Serializer.deserialize``, the ``unpack_function`` map, in pypsrp 0.9.1), through the
  serializer's own ``_deserialize_string`` and ``_deserialize_secure_string`` (so the SecureString
  guard still applies), reads such objects with pypsrp's own ``_deserialize_dynamic_obj``, and hands
  everything else to pypsrp.
"""

from __future__ import annotations

import base64
import copy
import functools
import struct
import uuid
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape as xml_escape

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


# What pypsrp's deserializer makes of an object's type names, learnt by asking it (see _resolves_to).
_DYNAMIC = "dynamic"  # the type maps to a GenericComplexObject (System.Object, PSObject)
_UNKNOWN = "unknown"  # pypsrp has no class for it and looks at the next type name
_OTHER = "other"  # a class of its own, a list, a dictionary: pypsrp's own path
_RESOLVED: dict[str, str] = {}
# Type names come from the host: a bounded cache (entries and name length); the rest asks pypsrp each time.
_RESOLVED_MAX = 4096
_RESOLVED_NAME_MAX = 512


def _resolves_to(type_name: str) -> str:
    """How pypsrp's ``Serializer.deserialize`` resolves an object whose only type name is ``type_name``:
    a fresh serializer deserializes ``<Obj><TN><T>type_name</T></TN></Obj>``. It answers the element's
    text for a type it has no mapping for (and goes on to the next name of a real object), a
    ``GenericComplexObject`` for ``System.Object`` / ``PSObject``, anything else for its own classes,
    lists and dictionaries. pypsrp's table is consulted, never copied."""
    found = _RESOLVED.get(type_name)
    if found is not None:
        return found
    from pypsrp.complex_objects import GenericComplexObject
    from pypsrp.serializer import Serializer

    probe = f'<Obj RefId="0"><TN RefId="0"><T>{xml_escape(type_name)}</T></TN></Obj>'
    try:
        answer = Serializer().deserialize(probe)
    except Exception:  # a class of its own whose mandatory properties the probe lacks
        answer = None
    found = (
        _UNKNOWN if isinstance(answer, str) else _DYNAMIC if type(answer) is GenericComplexObject else _OTHER
    )
    if len(_RESOLVED) < _RESOLVED_MAX and len(type_name) <= _RESOLVED_NAME_MAX:
        _RESOLVED[type_name] = found
    return found


def deserialize_nested_directly(serializer: Any) -> None:
    """Wrap ``serializer.deserialize`` (an instance attribute, which pypsrp's recursion calls too) so a
    nested element is converted without writing it back to XML text first when pypsrp would not use
    that text: a primitive (pypsrp's conversion table above), and an ``<Obj>`` that pypsrp resolves to
    a ``GenericComplexObject`` (every type name but the last unknown to pypsrp, the last one
    ``System.Object`` or ``PSObject``: a PSCustomObject, a CIM instance, a Posh-ACME object), read by
    pypsrp's own ``_deserialize_dynamic_obj``. Such an object's ``_xml`` (its XML text, which only
    pypsrp's ``get_command_metadata`` reads) stays unset. Everything else goes to pypsrp."""
    from pypsrp.complex_objects import GenericComplexObject, ObjectMeta

    original = serializer.deserialize
    dynamic = ObjectMeta("ObjDynamic", object=GenericComplexObject)

    def deserialize(element: Any, metadata: Any = None, clear: bool = True) -> Any:
        if clear or isinstance(element, str):
            return original(element, metadata, clear)
        tag = element.tag
        convert = _PRIMITIVES.get(tag)
        if convert is not None:
            if metadata is not None and metadata.tag == "*":
                metadata.tag = tag  # as pypsrp does before it converts
            return convert(serializer, element)
        if tag == "Obj" and (metadata is None or (type(metadata) is ObjectMeta and metadata.object is None)):
            types = serializer._get_types_from_obj(element)  # registers the TN, as pypsrp does
            if (
                types
                and _resolves_to(types[-1]) == _DYNAMIC
                and all(_resolves_to(name) == _UNKNOWN for name in types[:-1])
            ):
                if metadata is not None and metadata.tag == "*":
                    metadata.tag = tag
                value = serializer._deserialize_dynamic_obj(element, dynamic)
                serializer.obj[element.attrib["RefId"]] = value
                return value
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

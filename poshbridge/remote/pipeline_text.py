"""The CREATE_PIPELINE message as CLIXML text, the bytes pypsrp 0.9's serializer writes, without ElementTree.

pypsrp serializes a message by building an ElementTree (``Serializer.serialize``) and writing it out
(``ET.tostring`` in ``Message.pack``); for the CREATE_PIPELINE of a batch (every statement's commands
twice, as ``ExtraCmds`` and as ``Cmds``, each Command with its nine merge settings) that is the largest
part of the control node's CPU per host. :func:`create_pipeline_text` walks the same message objects
by the same metadata (``ComplexObject._property_sets`` / ``_extended_properties`` /
``_adapted_properties``, ``ObjectMeta`` / ``ListMeta`` / ``DictionaryMeta``) in the same order, with
the same ``RefId`` and ``TN``/``TNRef`` numbering, and writes text directly. Strings and SecureStrings
go through the serializer's own ``_serialize_string`` / ``_serialize_secure_string``, and the type of
an untyped value is the serializer's ``_get_tag_from_value``. Anything this writer does not know
(an ``ObjDynamic`` object, a queue, a stack, a date, a prebuilt element) raises :class:`Unsupported`,
and the caller lets pypsrp serialize the message instead.

tests/remote/test_pypsrp_speed.py checks the bytes against pypsrp's own serialization for every kind
of value poshbridge sends. The element forms follow ElementTree's writer: attributes in the order they
were set (``RefId``, then ``N``), an element without text or children written ``<tag />``, text
escaped for ``&``, ``<`` and ``>``.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from copy import copy
from typing import Any

from pypsrp.complex_objects import ComplexObject, DictionaryMeta, Enum, ListMeta, ObjectMeta
from pypsrp.serializer import TaggedValue

from poshbridge.errors import PoshbridgeError


class Unsupported(PoshbridgeError):
    """The message holds something this writer does not write: pypsrp serializes it (never escapes
    :func:`poshbridge.remote.pypsrp_speed.write_create_pipeline_as_text`)."""


def _escape(text: str) -> str:
    # xml.etree.ElementTree._escape_cdata
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


_SCALAR_TAGS = frozenset(
    {"TS", "By", "SB", "U16", "I16", "U32", "I32", "U64", "I64", "Sg", "Db", "D", "G", "Version"}
)
_STRING_TAGS = frozenset({"S", "URI", "XD", "SBK"})


class _Writer:
    """pypsrp's ``Serializer`` state for one message (``_clear``): object and type-name numbering."""

    def __init__(self, serializer: Any) -> None:
        self.serializer = serializer
        self.out: list[str] = []
        self.obj_id = 0
        self.tn: dict[str, int] = {}
        self.tn_id = 0
        self.strings: dict[str, str] = {}  # _serialize_string of enum names, escaped (a pure function)

    def _ref_id(self) -> str:
        ref_id = str(self.obj_id)
        self.obj_id += 1
        return ref_id

    def _element(self, head: str, tag: str, start: int) -> None:
        """Close the element opened at ``out[start]`` (``head`` = tag and attributes)."""
        if len(self.out) == start + 1:
            self.out[start] = f"<{head} />"
        else:
            self.out[start] = f"<{head}>"
            self.out.append(f"</{tag}>")

    def _text_element(self, tag: str, name: str | None, text: str) -> None:
        head = tag if name is None else f'{tag} N="{_escape_attribute(name)}"'
        self.out.append(f"<{head}>{_escape(text)}</{tag}>" if text else f"<{head} />")

    def value(self, value: Any, metadata: ObjectMeta | None) -> None:
        """``Serializer.serialize(value, metadata, parent, clear=False)``."""
        if isinstance(value, ET.Element):
            raise Unsupported("a prebuilt element")
        metadata = metadata or ObjectMeta()
        tag = metadata.tag
        if tag == "*":
            if isinstance(value, TaggedValue):
                tag, value = value.tag, value.value
            else:
                tag = self.serializer._get_tag_from_value(value)
        name = metadata.name
        if value is None:
            if metadata.optional:
                return
            self._text_element("Nil", name, "")
            return
        if tag in _STRING_TAGS:
            self._text_element(tag, name, self.serializer._serialize_string(value))
        elif tag in _SCALAR_TAGS:
            self._text_element(tag, name, str(value))
        elif tag == "B":
            self._text_element(tag, name, str(value).lower())
        elif tag == "C":
            self._text_element(tag, name, str(ord(value)))
        elif tag == "BA":
            self._text_element(tag, name, base64.b64encode(value).decode("utf-8"))
        elif tag == "SS":
            self._text_element(tag, name, self.serializer._serialize_secure_string(value))
        elif tag == "Obj":
            self._object(value, name)
        elif tag in ("LST", "IE"):
            self._list(value, metadata, name, tag)
        elif tag == "DCT":
            self._dictionary(value, metadata, name)
        else:  # ObjDynamic, QUE, STK, DT, ToString, an element: pypsrp's own serializer
            raise Unsupported(tag)

    def _open(self, name: str | None) -> tuple[str, int]:
        head = f'Obj RefId="{self._ref_id()}"'
        if name is not None:
            head += f' N="{_escape_attribute(name)}"'
        self.out.append("")
        return head, len(self.out) - 1

    def _type_names(self, types: list[str]) -> None:
        """``Serializer._create_tn``."""
        main_type = types[0]
        ref_id = self.tn.get(main_type)
        if ref_id is not None:
            self.out.append(f'<TNRef RefId="{ref_id}" />')
            return
        ref_id = self.tn_id
        self.tn_id += 1
        self.tn[main_type] = ref_id
        names = "".join(f"<T>{_escape(t)}</T>" if t else "<T />" for t in types)
        self.out.append(f'<TN RefId="{ref_id}">{names}</TN>')

    def _object(self, value: Any, name: str | None) -> None:
        """``Serializer._serialize_obj``."""
        if not isinstance(value, ComplexObject):
            raise Unsupported(type(value).__name__)
        if isinstance(value, Enum) and _plain_enum(value):
            self._enum(value, name)
            return
        head, start = self._open(name)
        if len(value._types) > 0:
            self._type_names(value._types)
        to_string = value._to_string
        if to_string is not None:
            self._text_element("ToString", None, self.serializer._serialize_string(to_string))
        for attr, meta in value._property_sets:
            self.value(getattr(value, attr), meta)
        for group, properties in (("MS", value._extended_properties), ("Props", value._adapted_properties)):
            if len(properties) == 0:
                continue
            self.out.append("")
            group_start = len(self.out) - 1
            for attr, meta in properties:
                self.value(getattr(value, attr), meta)
            self._element(group, group, group_start)
        self._element(head, "Obj", start)

    def _enum(self, value: Any, name: str | None) -> None:
        """``_serialize_obj`` of a pypsrp ``Enum`` (nine per Command: the merge settings), in one piece:
        type names, ``<ToString>`` and the ``I32`` value, as the general path writes them."""
        head, start = self._open(name)
        self._type_names(value._types)
        to_string = value._to_string
        text = self.strings.get(to_string)
        if text is None:
            text = self.strings[to_string] = _escape(self.serializer._serialize_string(to_string))
        number = value.value
        self.out.append(
            (f"<ToString>{text}</ToString>" if text else "<ToString />")
            + (f"<I32>{number}</I32>" if number is not None else "<Nil />")
        )
        self.out[start] = f"<{head}>"
        self.out.append("</Obj>")

    def _list(self, values: Any, metadata: ObjectMeta, name: str | None, tag: str) -> None:
        """``Serializer._serialize_lst`` (and ``_serialize_ie``)."""
        head, start = self._open(name)
        if not isinstance(metadata, ListMeta):
            metadata = ListMeta(name=metadata.name, optional=metadata.optional)
        self._type_names(metadata.list_types)
        self.out.append("")
        list_start = len(self.out) - 1
        for entry in iter(values):
            self.value(entry, copy(metadata.list_value_meta))
        self._element(tag, tag, list_start)
        self._element(head, "Obj", start)

    def _dictionary(self, values: Any, metadata: ObjectMeta, name: str | None) -> None:
        """``Serializer._serialize_dct``."""
        head, start = self._open(name)
        if not isinstance(metadata, DictionaryMeta):
            metadata = DictionaryMeta(name=metadata.name, optional=metadata.optional)
        self._type_names(metadata.dict_types)
        self.out.append("")
        dict_start = len(self.out) - 1
        entries = values if isinstance(values, tuple) else values.items()
        for key, entry in entries:
            self.out.append("")
            entry_start = len(self.out) - 1
            self.value(key, copy(metadata.dict_key_meta))
            self.value(entry, copy(metadata.dict_value_meta))
            self._element("En", "En", entry_start)
        self._element("DCT", "DCT", dict_start)
        self._element(head, "Obj", start)


def _plain_enum(value: Any) -> bool:
    """A pypsrp ``Enum`` as pypsrp defines it: type names, ToString, one I32 property set, nothing else."""
    sets = value._property_sets
    return (
        len(sets) == 1
        and sets[0][0] == "value"
        and type(sets[0][1]) is ObjectMeta
        and sets[0][1].tag == "I32"
        and sets[0][1].name is None
        and not value._extended_properties
        and not value._adapted_properties
        and len(value._types) > 0
        and isinstance(value.value, (int, type(None)))
        and not isinstance(value.value, bool)
    )


def _escape_attribute(text: str) -> str:
    # xml.etree.ElementTree._escape_attrib (property names: fixed by pypsrp, never inventory values)
    text = _escape(text)
    for raw, escaped in (('"', "&quot;"), ("\r", "&#13;"), ("\n", "&#10;"), ("\t", "&#09;")):
        text = text.replace(raw, escaped)
    return text


def create_pipeline_text(message: ComplexObject, serializer: Any) -> bytes:
    """The UTF-8 CLIXML of ``message`` (a pypsrp ``CreatePipeline``) as ``Message.pack`` writes it
    after the 40-byte header; :class:`Unsupported` when it holds something this writer does not know."""
    if isinstance(message, TaggedValue):
        raise Unsupported("TaggedValue")
    writer = _Writer(serializer)
    writer.value(message, None)
    return "".join(writer.out).encode("utf-8", "xmlcharrefreplace")

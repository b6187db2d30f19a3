"""A CREATE_PIPELINE message read straight into psrpcore's ``PowerShell`` / ``Command`` objects.

psrpcore 0.3.1 reads a message by turning every CLIXML ``<Obj>`` into a generic ``PSObject`` with note
properties, then ``PowerShell.FromPSObjectForRemoting`` / ``Command.FromPSObjectForRemoting``
(``psrpcore/_pipeline.py``, ``psrpcore/_command.py``) pick the fields out of them. A batch of 13
statements is ~600 XML elements, ~90 % of them the per-command wrappers (``Cmds``, ``Args``, one
``<Obj>`` per argument) and the eight ``PipelineResultTypes`` enums of every command (MS-PSRP 2.2.3.11
Pipeline, 2.2.3.12 Command): this generic read was half of the lab's CPU per audited host.

:func:`read_create_pipeline` walks that fixed structure itself and builds the same objects
``FromPSObjectForRemoting`` builds. Every *value* (an argument's name and value, ``NoInput``,
``HostInfo``, ``History`` ...) still goes through psrpcore's own deserializer, one instance for the
whole message, so strings, SecureStrings, hashtables, arrays and ``<Ref>``s read exactly as before;
only the wrappers are skipped, and each enum's first reading is reused for identical enum elements. A
message of any other shape (a missing member, a ``<Ref>`` to a wrapper, an unknown element) returns
None and psrpcore reads it the generic way: the fast path never guesses.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from psrpcore._command import Command
from psrpcore._pipeline import PowerShell
from psrpcore.types import HostInfo, PipelineResultTypes
from psrpcore.types._enum import PSEnumBase, PSFlagBase
from psrpcore.types._serializer import _deserialize_string, _Serializer

# The members psrpcore's FromPSObjectForRemoting reads (an absent one is an AttributeError there)
_PIPELINE_MEMBERS = (
    "AddToHistory",
    "ApartmentState",
    "HostInfo",
    "IsNested",
    "NoInput",
    "RemoteStreamOptions",
)
_POWERSHELL_MEMBERS = ("History", "RedirectShellErrorOutputPipe")
_MERGE_OPTIONAL = ("Error", "Warning", "Verbose", "Debug", "Information")
_MERGE_UNCLAIMED = PipelineResultTypes.Output | PipelineResultTypes.Error

# (type names, ToString text, value tag, value text) -> the enum psrpcore read for that element; a
# client sends a handful (PipelineResultTypes None/Output/Error/...): the cap only bounds odd input
_ENUMS: dict[tuple[tuple[str, ...], str, str, str], Any] = {}
_ENUMS_CAP = 256


class _NotThisShape(Exception):
    """The message is not the structure this reader knows: psrpcore reads it instead."""


def read_create_pipeline(data: bytes, cipher: Any, **serializer_kwargs: Any) -> PowerShell | None:
    """The CREATE_PIPELINE message ``data`` (CLIXML) as psrpcore's ``PowerShell``, or None when its
    shape is not the one pypsrp and PowerShell send (then the generic reader must be used)."""
    try:
        root = ElementTree.fromstring(data)  # noqa: S314 - psrpcore parses the same bytes the same way
    except ElementTree.ParseError:
        return None
    reader = _Reader(_Serializer(cipher, **serializer_kwargs))
    try:
        return reader.pipeline(root)
    except (_NotThisShape, KeyError, ValueError, TypeError, AttributeError):
        return None


class _Reader:
    def __init__(self, serializer: _Serializer) -> None:
        self.values = serializer

    def pipeline(self, root: ElementTree.Element) -> PowerShell:
        if root.tag != "Obj" or len(root) != 1 or root[0].tag != "MS":
            raise _NotThisShape
        # Every TN of the message first: a value may name one by TNRef that a skipped wrapper defined.
        tn_map = self.values._tn_ref_map
        for tn in root.iter("TN"):
            tn_map[tn.attrib["RefId"]] = [t.text or "" for t in tn.findall("T")]
        members: dict[str, Any] = {}
        powershell: ElementTree.Element | None = None
        for child in root[0]:
            name = _name(child)
            if name == "PowerShell":
                powershell = child
            else:
                members[name] = self.values.deserialize(child)
        if powershell is None or any(m not in members for m in _PIPELINE_MEMBERS):
            raise _NotThisShape
        ps_members, statements = self._powershell(powershell)
        pipeline = PowerShell(
            add_to_history=members["AddToHistory"],
            apartment_state=members["ApartmentState"],
            history=ps_members["History"],
            host=HostInfo.FromPSObjectForRemoting(members["HostInfo"]),
            is_nested=members["IsNested"],
            no_input=members["NoInput"],
            remote_stream_options=members["RemoteStreamOptions"],
            redirect_shell_error_to_out=ps_members["RedirectShellErrorOutputPipe"],
        )
        for statement in statements:
            if not statement:
                raise _NotThisShape  # psrpcore would fail on commands[-1]: let it say so
            pipeline.commands.extend(statement)
            pipeline.commands[-1].end_of_statement = True
        return pipeline

    def _powershell(self, element: ElementTree.Element) -> tuple[dict[str, Any], list[list[Command]]]:
        """``PowerShell``: its members, and the statements (``ExtraCmds`` when present, else ``Cmds``)."""
        body = _only_ms(element)
        members: dict[str, Any] = {}
        cmds: ElementTree.Element | None = None
        extra: ElementTree.Element | None = None
        for child in body:
            name = _name(child)
            if name == "Cmds":
                cmds = child
            elif name == "ExtraCmds":
                extra = child
            else:
                members[name] = self.values.deserialize(child)
        if any(m not in members for m in _POWERSHELL_MEMBERS):
            raise _NotThisShape
        if extra is not None and extra.tag != "Nil":
            # psrpcore ignores Cmds then (it repeats the first statement)
            statements = [self._commands(_member(_only_ms(s), "Cmds")) for s in _list_items(extra)]
        elif cmds is not None:
            statements = [self._commands(cmds)]
        else:
            raise _NotThisShape
        return members, statements

    def _commands(self, element: ElementTree.Element) -> list[Command]:
        return [self._command(item) for item in _list_items(element)]

    def _command(self, element: ElementTree.Element) -> Command:
        """``Command.FromPSObjectForRemoting`` for one command ``<Obj>``."""
        fields: dict[str, Any] = {}
        for child in _only_ms(element):
            name = _name(child)
            if name == "Args":
                fields[name] = [self._argument(item) for item in _list_items(child)]
            elif name.startswith("Merge"):
                fields[name] = self._enum(child)
            else:
                fields[name] = self.values.deserialize(child)
        for required in ("Cmd", "IsScript", "UseLocalScope", "Args", "MergePreviousResults"):
            if required not in fields:
                raise _NotThisShape
        command = Command(
            name=fields["Cmd"], is_script=fields["IsScript"], use_local_scope=fields["UseLocalScope"]
        )
        command.parameters.extend(fields["Args"])
        command.merge_unclaimed = bool(fields["MergePreviousResults"] == _MERGE_UNCLAIMED)
        command._merge_my = fields["MergeMyResult"]
        command._merge_to = fields["MergeToResult"]
        for stream in _MERGE_OPTIONAL:
            value = fields.get(f"Merge{stream}")
            if value is not None:
                setattr(command, f"_merge_{stream.lower()}", value)
        return command

    def _argument(self, element: ElementTree.Element) -> tuple[Any, Any]:
        values: dict[str, Any] = {}
        for child in _only_ms(element):
            values[_name(child)] = self.values.deserialize(child)
        if set(values) != {"N", "V"}:
            raise _NotThisShape
        return values["N"], values["V"]

    def _enum(self, element: ElementTree.Element) -> Any:
        """An enum ``<Obj>`` (``<TN>``/``<TNRef>``, ``<ToString>``, the value): psrpcore's reading of
        the first such element, reused for every identical one."""
        if element.tag != "Obj" or len(element) != 3:
            return self.values.deserialize(element)
        type_element, to_string, value = element
        if type_element.tag == "TN":
            names = tuple(t.text or "" for t in type_element.findall("T"))
        elif type_element.tag == "TNRef":
            names = tuple(self.values._tn_ref_map[type_element.attrib["RefId"]])
        else:
            raise _NotThisShape
        if to_string.tag != "ToString":
            raise _NotThisShape
        key = (names, to_string.text or "", value.tag, value.text or "")
        known = _ENUMS.get(key)
        if known is None:
            known = self.values.deserialize(element)
            if isinstance(known, (PSEnumBase, PSFlagBase)) and len(_ENUMS) < _ENUMS_CAP:
                _ENUMS[key] = known
            return known
        ref_id = element.attrib.get("RefId")
        if ref_id is not None:
            self.values._obj_ref_map[ref_id] = known
        return known


def _name(element: ElementTree.Element) -> str:
    name = element.attrib.get("N")
    if name is None:
        raise _NotThisShape
    # psrpcore's decoder only rewrites _xHHHH_ escapes; without one it returns the text unchanged
    return str(_deserialize_string(name)) if "_x" in name else name


def _only_ms(element: ElementTree.Element) -> ElementTree.Element:
    """The ``<MS>`` of a plain ``<Obj>`` (no type names, no adapted properties, nothing else)."""
    if element.tag != "Obj" or len(element) != 1 or element[0].tag != "MS":
        raise _NotThisShape
    return element[0]


def _member(body: ElementTree.Element, name: str) -> ElementTree.Element:
    found = [child for child in body if _name(child) == name]
    if len(found) != 1:
        raise _NotThisShape
    return found[0]


def _list_items(element: ElementTree.Element) -> list[ElementTree.Element]:
    """The items of a list ``<Obj>`` (``<TN>``/``<TNRef>`` then ``<LST>``)."""
    if element.tag != "Obj" or len(element) != 2 or element[0].tag not in ("TN", "TNRef"):
        raise _NotThisShape
    items = element[1]
    if items.tag != "LST":
        raise _NotThisShape
    return list(items)

"""CLIXML as PowerShell writes it, where psrpcore 0.3.1 differs: the ``<ToS>`` text is encoded.

PowerShell encodes every string of an object it serializes, the ToString included
(PowerShell ``src/System.Management.Automation/engine/serialization.cs``: ``InternalSerializer
.WriteToString`` → ``WriteEncodedElementString``, which writes control characters as ``_xHHHH_``).
psrpcore 0.3.1 (``psrpcore/types/_serializer.py``, ``_Serializer.serialize``) writes ``ToString`` raw,
so an error message with ESC or BEL (an ACME problem detail can carry any text) became a PSRP message
that is not XML 1.0, which pypsrp cannot read at all. :func:`install` post-processes every element
psrpcore serializes for the wire: each ``ToString`` text is encoded exactly once, with psrpcore's own
string encoder (the one it uses for ``<S>``).
"""

from __future__ import annotations

import functools
from typing import Any
from xml.etree import ElementTree

_installed = False


def encode_to_strings(element: ElementTree.Element) -> ElementTree.Element:
    """Encode the text of every ``ToString`` element under ``element`` (psrpcore leaves it raw)."""
    from psrpcore.types._serializer import _serialize_string

    for node in element.iter("ToString"):
        if node.text:
            node.text = _serialize_string(node.text)
    return element


def install() -> None:
    """Wrap the serializer psrpcore's message layer calls (``psrpcore._base.serialize``); once."""
    global _installed
    if _installed:
        return
    import psrpcore._base as base

    original = getattr(base, "serialize")  # noqa: B009 - a name psrpcore does not export

    @functools.wraps(original)
    def serialize(value: Any, cipher: Any, **kwargs: Any) -> ElementTree.Element:
        return encode_to_strings(original(value, cipher, **kwargs))

    setattr(base, "serialize", serialize)  # noqa: B010
    _installed = True

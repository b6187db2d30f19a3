"""Read PSRP messages whose CLIXML carries raw control characters instead of ``_xHHHH_`` escapes.

PowerShell's serializer encodes every string it writes, ``<ToS>`` included (PowerShell
``src/System.Management.Automation/engine/serialization.cs``, ``InternalSerializer.WriteToString`` →
``WriteEncodedElementString``), so ESC or BEL in an error message travel as ``_x001B_`` / ``_x0007_``.
A peer that writes them raw (psrpcore 0.3.1 does, for ``ToString``) produces text that is not XML
1.0; pypsrp 0.9.1 then hands the unparsed string on as if it were a message object and fails with
``'str' object has no attribute 'MESSAGE_TYPE'``.

:func:`install` wraps a pypsrp serializer: a message that is not well-formed only because of such
characters is repaired by encoding them the way PowerShell would have; anything else that is not XML
raises :class:`UnreadableMessage` (a classified protocol error, never a crash).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from poshbridge.errors import HostError

# Characters XML 1.0 does not allow (C0 except TAB/LF/CR, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class UnreadableMessage(HostError):
    """A PSRP message from the host is not well-formed CLIXML."""


def encode_invalid(text: str) -> str:
    """``text`` with every character XML 1.0 forbids written as the CLIXML escape ``_xHHHH_``."""
    return _NOT_XML.sub(lambda m: f"_x{ord(m.group(0)):04X}_", text)


def install(serializer: Any) -> None:
    """Make ``serializer`` (a pypsrp Serializer) repair raw control characters before parsing."""
    original = serializer.deserialize

    def deserialize(element: Any, metadata: Any = None, clear: bool = True) -> Any:
        if isinstance(element, str) and _NOT_XML.search(element):
            element = encode_invalid(element)
            try:
                ET.fromstring(element)  # noqa: S314 - pypsrp parses the same text next
            except ET.ParseError as exc:
                raise UnreadableMessage(
                    f"the host sent a PSRP message that is not well-formed XML ({exc})"
                ) from None
        return original(element, metadata, clear)

    serializer.deserialize = deserialize


def is_unparsed_message_error(exc: BaseException) -> bool:
    """pypsrp's failure on a message it could not parse (the raw text took the message's place)."""
    return isinstance(exc, AttributeError) and "MESSAGE_TYPE" in str(exc)

"""Text from a host made safe to keep, log and show: control characters become visible escapes.

An error record's message is the host's (or the ACME server's) text: it may carry ESC sequences, BEL,
or other C0/C1 controls that would drive a terminal. Every such character except TAB and LF is
written as ``\\xHH`` (``\\x1b[31m`` stays readable, nothing is lost, nothing is executed). Linear time.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` with every C0/C1 control character but TAB and LF written as ``\\xHH``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)

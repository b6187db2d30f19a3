"""The one way poshbridge turns a value into PowerShell script text.

Remote calls never need this: they are cmdlet names plus parameters (see ``command``). Only the
generated renewal script is text, and every inventory value in it passes through
:func:`ps_single_quote`.

PowerShell treats the typographic single quotes U+2018, U+2019, U+201A and U+201B exactly like the
ASCII apostrophe inside a single-quoted string (the tokenizer's ``IsSingleQuote``), so each of them
is doubled as well; otherwise a value containing ``’`` would close the literal early.
"""

from __future__ import annotations

SINGLE_QUOTE_CHARS = frozenset("'\u2018\u2019\u201a\u201b")


def ps_single_quote(value: str) -> str:
    """Return ``value`` as a PowerShell single-quoted string literal.

    Inside single quotes PowerShell expands nothing (no ``$``, no backtick escapes); the only
    special characters are the quote characters themselves, written twice.
    """
    escaped = "".join(ch * 2 if ch in SINGLE_QUOTE_CHARS else ch for ch in value)
    return "'" + escaped + "'"


def ps_single_unquote(literal: str) -> str:
    """Inverse of :func:`ps_single_quote` (used by tests and by anything that reads scripts back)."""
    if len(literal) < 2 or literal[0] not in SINGLE_QUOTE_CHARS or literal[-1] not in SINGLE_QUOTE_CHARS:
        raise ValueError("not a single-quoted PowerShell literal")
    body = literal[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch in SINGLE_QUOTE_CHARS:
            if i + 1 < len(body) and body[i + 1] == ch:
                out.append(ch)
                i += 2
                continue
            raise ValueError(f"unescaped quote character at offset {i + 1}")
        out.append(ch)
        i += 1
    return "".join(out)

"""Output of the commands that never talk to a host (``check``, ``renew-script``, ``task-xml``), without
rich when it is not a terminal.

rich costs more to import than these commands take to run. When a stream is not a terminal (a pipe, a
file, cron, CI), what rich prints is plain text anyway (no colour, no wrapping: see
:func:`poshbridge.output.make_console`), so :class:`PlainConsole` writes that same text itself: console
markup removed, escaped brackets restored, a heavy-head box table for ASCII cells. Whatever it is not
sure to render byte for byte like rich (a control or tab character, a markup tag other than a plain
style, a table of non-ASCII cells or wider than the console, a non-UTF stream) is handed to rich, so
the output is the same either way (``tests/unit/test_plain_output.py`` compares the two).
On a terminal, :func:`make_text_console` returns rich's console itself (colours, the terminal's width).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from poshbridge.textsafe import has_unsafe

if TYPE_CHECKING:
    from rich.console import Console

# The width of a console that is not a terminal (poshbridge.output.make_console).
PLAIN_WIDTH = 200

# A console markup tag (rich's grammar): a run of backslashes, "[", a lowercase letter, "#", "/" or
# "@", then anything but "[" up to the first "]". Found by a scan, not a regex: a long run of
# backslashes would make the regex search quadratic (it restarts at every backslash).
_TAG_FIRST = frozenset("abcdefghijklmnopqrstuvwxyz#/@")


class TextConsole(Protocol):
    """What the plain-text commands need of a console (rich's Console has it too)."""

    def print(
        self,
        *objects: Any,
        sep: str = " ",
        end: str = "\n",
        markup: bool | None = None,
        soft_wrap: bool | None = None,
    ) -> None: ...


def _tags(text: str) -> Iterator[tuple[int, int, int]]:
    """Every markup tag, left to right, as (start of its backslashes, index of "[", index after "]").
    Linear: each "[" is looked at once, the next "]" is searched from where the last search ended,
    and a backslash run is counted only for the "[" it precedes."""
    resume = 0  # the end of the previous tag: a backslash run starts there at the earliest
    close = -2  # the first "]" at or after the current candidate's name (-1: none left)
    bracket = text.find("[")
    while bracket != -1:
        following = text.find("[", bracket + 1)
        if bracket + 1 < len(text) and text[bracket + 1] in _TAG_FIRST:
            if close != -1 and close < bracket + 2:
                close = text.find("]", bracket + 2)
            if close != -1 and (following == -1 or following > close):
                start = bracket
                while start > resume and text[start - 1] == "\\":
                    start -= 1
                yield start, bracket, close + 1
                resume = close + 1
                bracket = text.find("[", resume)
                continue
        bracket = following


def escape_markup(text: str) -> str:
    """``text`` with every tag-like ``[...]`` escaped so console markup shows it literally (the same
    result as ``rich.markup.escape``: a tag's preceding backslashes doubled, then one more)."""
    parts: list[str] = []
    position = 0
    for start, bracket, end in _tags(text):
        backslashes = text[start:bracket]
        parts.append(text[position:start])
        parts.append(f"{backslashes}{backslashes}\\{text[bracket:end]}")
        position = end
    parts.append(text[position:])
    escaped = "".join(parts)
    if escaped.endswith("\\") and not escaped.endswith("\\\\"):
        return escaped + "\\"
    return escaped


def _is_style_name(tag: str) -> bool:
    """A plain style such as ``red`` or ``bold red``: lowercase ASCII words separated by one space."""
    return all(word.isascii() and word.isalpha() and word.islower() for word in tag.split(" "))


def strip_markup(markup: str) -> str | None:
    """The text console markup renders to (no colours), or None when the markup holds a tag this
    function does not mirror exactly (a closing tag with a name, a link, a handler, a tag that
    closes nothing): rich then renders it (or raises its own error)."""
    if "[" not in markup:
        return markup
    parts: list[str] = []
    open_tags = 0
    position = 0
    for start, bracket, end in _tags(markup):
        if start > position:
            parts.append(markup[position:start].replace("\\[", "["))
        backslashes, escaped = divmod(bracket - start, 2)
        position = end
        parts.append("\\" * backslashes)
        if escaped:
            parts.append(markup[bracket:end])
            continue
        tag = markup[bracket + 1 : end - 1]
        if tag == "/":
            if not open_tags:
                return None
            open_tags -= 1
        elif _is_style_name(tag):
            open_tags += 1
        else:
            return None
    if position < len(markup):
        parts.append(markup[position:].replace("\\[", "["))
    return "".join(parts)


def _plain_ok(text: str) -> bool:
    """Text that rich would write unchanged on a stream that is not a terminal (no tab, no control
    character: rich expands tabs and the safe console makes controls visible line by line)."""
    return not has_unsafe(text)


class PlainConsole:
    """A console for a stream that is not a terminal: what rich would print there, written directly.
    Anything it does not mirror exactly is printed by rich (imported then)."""

    def __init__(self, stream: TextIO, *, stderr: bool = False) -> None:
        self.file = stream
        self.stderr = stderr
        self._rich: Console | None = None

    def rich(self) -> Console:
        """rich's console for the same stream (made once, when first needed)."""
        if self._rich is None:
            from poshbridge.output import make_console

            self._rich = make_console(self.stderr, file=self.file)
        return self._rich

    def print(
        self,
        *objects: Any,
        sep: str = " ",
        end: str = "\n",
        markup: bool | None = None,
        soft_wrap: bool | None = None,
    ) -> None:
        if soft_wrap is not False and all(isinstance(o, str) for o in objects):
            joined = sep.join(objects)
            text = joined if markup is False else strip_markup(joined)
            if text is not None and _plain_ok(text) and _plain_ok(end):
                self.write(text + end)
                return
        self.rich().print(*objects, sep=sep, end=end, markup=markup, soft_wrap=soft_wrap)

    def write(self, text: str) -> None:
        if self._rich is not None:  # keep the order of what rich buffered (it flushes each print)
            self._rich.file.flush()
        self.file.write(text)
        self.file.flush()


def make_text_console(stderr: bool = False) -> TextConsole:
    """Plain output when the stream is not a terminal; rich's console (colours) when it is."""
    stream = sys.stderr if stderr else sys.stdout
    if not stream.isatty():
        return PlainConsole(stream, stderr=stderr)
    from poshbridge.output import make_console

    return make_console(stderr)


def plain_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], encoding: str
) -> str | None:
    """The table rich prints (title, heavy-head box, one line per row, cells padded by one space) on a
    console that is not a terminal, given the text rich shows (markup already rendered): for cells of
    printable ASCII that fit :data:`PLAIN_WIDTH`; None otherwise (rich renders it)."""
    cells = [list(columns), *(list(row) for row in rows)]
    if not encoding.lower().startswith("utf"):
        return None  # rich draws an ASCII box then
    for texts in [[title], *cells]:
        if any(not (text.isascii() and text.isprintable()) for text in texts):
            return None
    widths = [max(len(texts[i]) for texts in cells) for i in range(len(columns))]
    if sum(widths) + 3 * len(widths) + 1 > PLAIN_WIDTH:
        return None

    def rule(left: str, fill: str, cross: str, right: str) -> str:
        return left + cross.join(fill * (width + 2) for width in widths) + right

    def line(row: Sequence[str], bar: str) -> str:
        return bar + bar.join(f" {cell.ljust(width)} " for cell, width in zip(row, widths, strict=True)) + bar

    out = [title] if title else []
    out.append(rule("┏", "━", "┳", "┓"))
    out.append(line(columns, "┃"))
    out.append(rule("┡", "━", "╇", "┩"))
    out.extend(line(row, "│") for row in rows)
    out.append(rule("└", "─", "┴", "┘"))
    return "\n".join(out) + "\n"


def _shown(markups: Sequence[str]) -> list[str] | None:
    """The text each markup renders to, or None when one of them is left to rich."""
    shown: list[str] = []
    for markup in markups:
        text = strip_markup(markup)
        if text is None:
            return None
        shown.append(text)
    return shown


def print_table(
    console: TextConsole, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]
) -> None:
    """A table of plain-text cells (every column folds when too wide): written directly on a
    :class:`PlainConsole` when :func:`plain_table` can, else by rich."""
    if isinstance(console, PlainConsole):
        encoding = getattr(console.file, "encoding", None) or "utf-8"
        # what rich shows: the title and the headers are markup, the cells escaped values
        head = _shown([title, *columns])
        body = [_shown([escape_markup(cell) for cell in row]) for row in rows]
        text = None
        if head is not None and all(row is not None for row in body):
            text = plain_table(head[0], head[1:], [row for row in body if row is not None], encoding)
        if text is not None:
            console.write(text)
            return
        target: Any = console.rich()
    else:
        target = console
    from rich.table import Table

    table = Table(title=title or None)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(escape_markup(cell) for cell in row))
    target.print(table)

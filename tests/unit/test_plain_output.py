"""The plain console writes, byte for byte, what rich writes on a stream that is not a terminal.

``poshbridge.cli.plain`` replaces rich for the commands that never talk to a host (their start-up must
not pay for importing rich); these properties compare the two on the same input.
"""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.markup import escape as rich_escape
from rich.table import Table

from poshbridge.cli.plain import PlainConsole, escape_markup, plain_table, print_table, strip_markup
from poshbridge.output import make_console

# text built from the pieces markup is made of: tags, brackets, backslashes, words, line feeds, and
# now and then a character rich treats specially (tab, CR, a control, a wide or non-ASCII letter)
PIECES = st.sampled_from(
    ["[red]", "[/]", "[bold red]", "[/red]", "[link=x]", "[@click]", "[#fff]", "[", "]", "\\", "\\\\", "\\[",
     "[/ ]", "[a b]", "[1]", "[x=1]", "error:", " ", "word", "host01", "\n", "\t", "\r\n", "\x1b[2J", "例え",
     "é", ":smile:", "www.example.jp"]
)  # fmt: skip
MARKUP = st.lists(PIECES, max_size=12).map("".join)
ASCII_CELL = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
ANY_CELL = st.one_of(ASCII_CELL, MARKUP)
# headers and titles are the program's own words (markup, but no brackets)
HEADER = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="[]\\"), max_size=12
)


class _Stream(io.StringIO):
    def __init__(self, encoding: str = "utf-8") -> None:
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding

    def isatty(self) -> bool:
        return False


def _rich_print(*objects: str, **kwargs: object) -> str:
    stream = _Stream()
    make_console(file=stream).print(*objects, **kwargs)  # type: ignore[arg-type]
    return stream.getvalue()


def _plain_print(*objects: str, **kwargs: object) -> str:
    stream = _Stream()
    PlainConsole(stream).print(*objects, **kwargs)  # type: ignore[arg-type]
    return stream.getvalue()


@settings(max_examples=400, deadline=None)
@given(MARKUP)
def test_escape_is_richs_escape(text: str) -> None:
    assert escape_markup(text) == rich_escape(text)


@settings(max_examples=600, deadline=None)
@given(MARKUP, st.sampled_from([None, True, False]), st.sampled_from(["\n", "", " "]))
def test_print_writes_what_rich_writes(text: str, markup: bool | None, end: str) -> None:
    try:
        expected = _rich_print(text, markup=markup, end=end)
    except Exception as exc:  # rich refuses bad markup: the plain console hands it to rich, same error
        try:
            _plain_print(text, markup=markup, end=end)
        except Exception as plain_exc:
            assert type(plain_exc) is type(exc)
            return
        raise AssertionError(f"rich raised {exc!r}, the plain console did not") from None
    assert _plain_print(text, markup=markup, end=end) == expected


@settings(deadline=None)
@given(st.lists(MARKUP, min_size=0, max_size=3))
def test_several_objects_and_an_escaped_value(parts: list[str]) -> None:
    parts = [rich_escape(p) for p in parts]
    assert _plain_print(*parts, soft_wrap=True) == _rich_print(*parts, soft_wrap=True)
    assert _plain_print(*parts, sep=", ") == _rich_print(*parts, sep=", ")


def test_the_plain_path_is_taken_for_plain_markup() -> None:
    """The common lines never need rich (else the start-up gains nothing)."""
    stream = _Stream()
    console = PlainConsole(stream)
    console.print(f"[red]error:[/] {escape_markup('hosts.h[1].x: [bad] value')}", soft_wrap=True)
    console.print("[yellow]2 inventory warning(s)[/]; run 'poshbridge check' to see them.", soft_wrap=True)
    assert console._rich is None
    assert stream.getvalue() == (
        "error: hosts.h[1].x: [bad] value\n2 inventory warning(s); run 'poshbridge check' to see them.\n"
    )
    assert strip_markup("[/red]x") is None  # a named closing tag: rich decides


def _rich_table(title: str, columns: list[str], rows: list[list[str]], encoding: str = "utf-8") -> str:
    stream = _Stream(encoding)
    table = Table(title=title or None)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(rich_escape(cell) for cell in row))
    make_console(file=stream).print(table)
    return stream.getvalue()


@st.composite
def _tables(draw: st.DrawFn, cell: st.SearchStrategy[str]) -> tuple[str, list[str], list[list[str]]]:
    width = draw(st.integers(min_value=1, max_value=7))
    columns = draw(st.lists(HEADER, min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(cell, min_size=width, max_size=width), max_size=5))
    title = draw(st.one_of(st.just("Hosts"), st.just(""), HEADER))
    return title, columns, rows


@settings(max_examples=300, deadline=None)
@given(_tables(ASCII_CELL))
def test_an_ascii_table_is_richs_table(table: tuple[str, list[str], list[list[str]]]) -> None:
    title, columns, rows = table
    stream = _Stream()
    console = PlainConsole(stream)
    print_table(console, title, columns, rows)
    assert stream.getvalue() == _rich_table(title, columns, rows)
    plain = all("[" not in c and "\\" not in c for c in [title, *columns, *(c for r in rows for c in r)])
    if plain and sum(max(len(c) for c in col) + 3 for col in zip(columns, *rows, strict=True)) < 200:
        assert console._rich is None  # written without rich


@settings(max_examples=200, deadline=None)
@given(_tables(ANY_CELL), st.sampled_from(["utf-8", "ascii"]))
def test_print_table_writes_what_rich_writes(
    table: tuple[str, list[str], list[list[str]]], encoding: str
) -> None:
    title, columns, rows = table
    stream = _Stream(encoding)
    print_table(PlainConsole(stream), title, columns, rows)
    assert stream.getvalue() == _rich_table(title, columns, rows, encoding)


def test_a_table_wider_than_the_console_is_left_to_rich() -> None:
    columns = ["host", "reason"]
    rows = [["host01", "x" * 250]]
    assert plain_table("Hosts", columns, rows, "utf-8") is None
    assert plain_table("Hosts", columns, [["host01", "x" * 100]], "utf-8") is not None
    assert plain_table("Hosts", columns, [["host01", "x" * 100]], "ascii") is None
    stream = _Stream()
    print_table(PlainConsole(stream), "Hosts", columns, rows)
    assert stream.getvalue() == _rich_table("Hosts", columns, rows)

"""The one quoting function: every string is a literal PowerShell will read back unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poshbridge.powershell.quoting import SINGLE_QUOTE_CHARS, ps_single_quote, ps_single_unquote

HOSTILE = [
    "'",
    '"',
    "`",
    "$(Stop-Computer)",
    ";",
    "\n",
    "\r\n",
    "\u2018",
    "\u2019",
    "\u201a",
    "\u201b",
    "\u201c",
    "\u201d",
    "\u201e",
    "\0",
    "@'",
    "'@",
    "#",
    "<#",
    "${env:x}",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_value_round_trips(value: str) -> None:
    literal = ps_single_quote(value)
    assert literal[0] == literal[-1] == "'"
    assert ps_single_unquote(literal) == value


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("", "''"),
        ("O'Brien", "'O''Brien'"),
        ("a\u2019b", "'a\u2019\u2019b'"),  # PowerShell ends a '…' string at a typographic quote too
        ("$env:TEMP `n", "'$env:TEMP `n'"),  # nothing expands inside single quotes
        ('"', "'\"'"),
    ],
)
def test_known_literals(value: str, literal: str) -> None:
    assert ps_single_quote(value) == literal


def test_every_quote_character_in_a_literal_is_doubled() -> None:
    for ch in SINGLE_QUOTE_CHARS:
        body = ps_single_quote("x" + ch + "y")[1:-1]
        assert body == "x" + ch * 2 + "y"


@given(st.text())
def test_round_trip_property(value: str) -> None:
    literal = ps_single_quote(value)
    assert ps_single_unquote(literal) == value
    # no lone quote character inside: a PowerShell tokenizer would end the string there
    body = literal[1:-1]
    i = 0
    while i < len(body):
        if body[i] in SINGLE_QUOTE_CHARS:
            assert body[i + 1] == body[i]
            i += 2
        else:
            i += 1


@pytest.mark.parametrize("bad", ["", "'", "abc", "'a'b'", "'a"])
def test_unquote_rejects_non_literals(bad: str) -> None:
    with pytest.raises(ValueError, match=r"literal|quote"):
        ps_single_unquote(bad)


# ----- dry-run rendering uses the same quoting ------------------------------------------------------


@given(st.text())
def test_dry_run_renders_every_string_with_the_script_quoting(value: str) -> None:
    from poshbridge.powershell.command import render_value

    assert render_value(value) == ps_single_quote(value)
    assert ps_single_unquote(render_value(value)) == value


def test_dry_run_doubles_typographic_quotes_and_masks_secrets() -> None:
    from poshbridge.powershell.command import MASK, SWITCH, Cmd, Secret

    cmd = Cmd.of(
        "New-PACertificate",
        Domain=["example.jp", "it\u2019s.example.jp"],
        PluginArgs={"WRPath": "C:\\it\u2018s", "o'k": 1},
        ExtAcctHMACKey=Secret("hunter2"),
        Force=SWITCH,
        Empty=[],
    )
    assert cmd.render() == (
        "New-PACertificate -Domain @('example.jp','it\u2019\u2019s.example.jp')"
        " -PluginArgs @{'WRPath'='C:\\it\u2018\u2018s'; 'o''k'=1}"
        f" -ExtAcctHMACKey '{MASK}' -Force -Empty @()"
    )
    assert "hunter2" not in cmd.render()


def test_bytes_render_as_an_expression_that_makes_the_same_bytes() -> None:
    from poshbridge.powershell.command import render_value

    script = "# ünïcode ‘quoted’\r\n$x = 'a'\r\n"
    with_bom = render_value(b"\xef\xbb\xbf" + script.encode("utf-8"))
    assert with_bom == (
        "[byte[]]((0xEF,0xBB,0xBF) + [Text.Encoding]::UTF8.GetBytes(" + ps_single_quote(script) + "))"
    )
    plain = render_value(script.encode("utf-8"))
    assert plain == f"[Text.Encoding]::UTF8.GetBytes({ps_single_quote(script)})"
    assert render_value(b"\xff\x00") == "[byte[]]@(255,0)"

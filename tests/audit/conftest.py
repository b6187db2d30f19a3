"""Audit test helpers: fixture transcripts are kept as readable UTF-8/LF text under fixtures/ and
encoded here the way each PowerShell version writes them (BOM or not, UTF-16, CP932, CRLF)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

ENCODERS: dict[str, Callable[[str], bytes]] = {
    # Windows PowerShell 5.1: UTF-8 with BOM, CRLF
    "ps51": lambda text: b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"),
    # PowerShell 7.x: UTF-8 without BOM, CRLF
    "ps7": lambda text: text.replace("\n", "\r\n").encode("utf-8"),
    "utf16le": lambda text: b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le"),
    "utf16be": lambda text: b"\xfe\xff" + text.replace("\n", "\r\n").encode("utf-16-be"),
    # a file written by a Japanese-ANSI tool (5.1 Out-File -Encoding Default / cmd redirection)
    "cp932": lambda text: text.replace("\n", "\r\n").encode("cp932"),
    "lf": lambda text: text.encode("utf-8"),
}


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def fixture_bytes(name: str, style: str) -> bytes:
    return ENCODERS[style](fixture_text(name))


@pytest.fixture
def transcript_bytes() -> Callable[[str, str], bytes]:
    """``transcript_bytes("ps51_renewed.txt", "utf16le")`` -> the file as that writer leaves it."""
    return fixture_bytes


@pytest.fixture
def transcript_text() -> Callable[[str], str]:
    return fixture_text

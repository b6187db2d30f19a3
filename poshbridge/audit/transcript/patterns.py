"""The line patterns: structure, streams, error renderings and the Posh-ACME strings."""

from __future__ import annotations

import re

SEPARATOR = "*" * 22


_TIME_LINE = re.compile(r"([^:：]{1,80})[:：]\s*(\d{14})\s*$")
_KEY_VALUE = re.compile(r"([^:：]{1,80})[:：] ?(.*)$")
_END_WORD = re.compile(r"end|終了|fin\b|fine\b", re.IGNORECASE)
_START_WORD = re.compile(r"start|beginn|開始|début|inicio|avvio", re.IGNORECASE)

_PROMPT = re.compile(r"PS(?:>| [^>]{0,300}> ?)(.*)$")
_CONTINUATION = re.compile(r">> ?(.*)$")
_PIPELINE_LOG = re.compile(
    r"(TerminatingError|NonTerminatingError|CommandInvocation|ParameterBinding)\(([^)]*)\): ?(.*)$"
)
_STREAM = re.compile(r"(WARNING|VERBOSE|DEBUG|WARNUNG|AUSFÜHRLICH|DEBUGGEN|警告|詳細|デバッグ)[:：] ?(.*)$")
_STREAM_KIND = {
    "WARNING": "warning",
    "WARNUNG": "warning",
    "警告": "warning",
    "VERBOSE": "verbose",
    "AUSFÜHRLICH": "verbose",
    "詳細": "verbose",
    "DEBUG": "debug",
    "DEBUGGEN": "debug",
    "デバッグ": "debug",
}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# Windows PowerShell 5.1 NormalView error record.
_AT_LINE = re.compile(r"(?:At|In|発生場所:?|場所) .{0,400}:\d+ ?\S{1,20}:\d+\s*$")
_RECORD_PLUS = re.compile(r"\s*\+ ")
_RECORD_PROPERTY = re.compile(r"\s*\+ (CategoryInfo|FullyQualifiedErrorId|PSComputerName)\s*: ?(.*)$")
_CMD_MESSAGE = re.compile(r"([A-Za-z][\w]*-[\w]+|[A-Za-z][\w.]*) : (.*)$", re.S)
# PowerShell 7 ConciseView.
_CONCISE_LINE = re.compile(r"Line \|\s*$")
_CONCISE_BODY = re.compile(r"\s*(\d+ )?\|(?: ?(.*))?$")
_TILDES = re.compile(r"\s*~+\s*$")

# Posh-ACME / Posh-ACME.Deploy strings (English in every UI culture).
_NOT_DUE = re.compile(r"Order (?:for (\S+)|'([^']+)') is not recommended for renewal yet")
_SKIPPED = re.compile(r"Skipping renewal for order '([^']+)' due to (null|Manual DNS) plugin")
_RENEWING = re.compile(r"Renewing certificate for order (?:'([^']+)'|(\S+))")
_IIS_DEPLOY = re.compile(
    r"(Importing cert with thumbprint|Adding IIS site binding for|IIS site binding already exists for"
    r"|Deleting IIS site binding for|Deleting old cert with thumbprint)"
)
_IMPORTING = re.compile(r"Importing cert with thumbprint ([0-9A-Fa-f]{40})")
_ACME_TYPE = re.compile(r'"type"\s*:\s*"([^"]*)"')
_ACME_STATUS = re.compile(r'"status"\s*:\s*(\d{3})')

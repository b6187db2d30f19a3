"""The JSON timestamp rule, for tests: every date-time string is RFC 3339 UTC with ``Z``, except a
transcript session's ``start``/``end`` (the header's host-local wall clock, which has no zone)."""

from __future__ import annotations

import re
from typing import Any

DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")
LOCAL_KEYS = ("start", "end")


def non_utc_timestamps(doc: Any, path: str = "$") -> list[str]:
    """Paths (and values) of date-time strings in ``doc`` that are not RFC 3339 UTC with ``Z``."""
    bad: list[str] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            bad += non_utc_timestamps(value, f"{path}.{key}")
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            bad += non_utc_timestamps(value, f"{path}[{index}]")
    elif isinstance(doc, str) and DATE_TIME.match(doc) and not RFC3339_UTC.fullmatch(doc):
        host_local = path.rsplit(".", 1)[-1] in LOCAL_KEYS and ".session" in path
        if not host_local:
            bad.append(f"{path}={doc}")
    return bad

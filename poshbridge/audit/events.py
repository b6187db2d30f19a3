"""poshbridge's Windows event-log signal (pure): the source, the event IDs, the remote calls as data,
and the renewal runs read back from events when the transcripts are gone.

The hardened renewal script writes ONE Application event per run (source ``poshbridge``, registered
by ``setup`` with ``New-EventLog``), its message the run's result JSON (``poshbridge.renewal-result/1``,
the same document as ``renew-<stamp>.json``):

| Event ID | outcome | entry type |
|---|---|---|
| 1000 | renewed | Information |
| 1001 | not-due | Information |
| 1002 | rebound | Information |
| 1003 | failed | Error |

The IDs are also written in ps_scripts/renew-hardened.ps1.tmpl (the script's event-log block).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from poshbridge.audit.transcript import RenewalResult, RenewalRun, pair_runs, parse_result_file
from poshbridge.poshacme.model import get_field
from poshbridge.powershell.command import Cmd

EVENT_LOG = "Application"
EVENT_SOURCE = "poshbridge"
EVENT_IDS = {"renewed": 1000, "not-due": 1001, "rebound": 1002, "failed": 1003}
OUTCOME_BY_ID = {number: outcome for outcome, number in EVENT_IDS.items()}


def get_event_source() -> Cmd:
    """The source's provider metadata, or nothing (and no error shown) when it is not registered."""
    return Cmd.of("Get-WinEvent", ListProvider=[EVENT_SOURCE], ErrorAction="SilentlyContinue")


def new_event_source() -> Cmd:
    return Cmd.of("New-EventLog", LogName=EVENT_LOG, Source=[EVENT_SOURCE])


def get_run_events(max_events: int) -> Cmd:
    """The newest ``max_events`` poshbridge events; nothing (silently) when there are none."""
    return Cmd.of(
        "Get-WinEvent",
        FilterHashtable={"LogName": EVENT_LOG, "ProviderName": EVENT_SOURCE},
        MaxEvents=max_events,
        ErrorAction="SilentlyContinue",
    )


def source_registered(outputs: Sequence[Any]) -> bool:
    return any(
        str(get_field(o, "Name") or "").lower() == EVENT_SOURCE for o in outputs if isinstance(o, Mapping)
    )


def results_from_events(events: Sequence[Any]) -> list[RenewalResult]:
    """The result documents carried by poshbridge events (oldest first); other events and messages
    that are not a result document are skipped."""
    results: list[RenewalResult] = []
    for event in events:
        if not isinstance(event, Mapping):
            continue
        if str(get_field(event, "ProviderName") or "").lower() != EVENT_SOURCE:
            continue
        message = get_field(event, "Message")
        if not isinstance(message, str) or not message.strip():
            continue
        record = get_field(event, "RecordId")
        parsed = parse_result_file(message.encode("utf-8"), f"event {EVENT_LOG}/{record}")
        if parsed is not None:
            results.append(parsed)
    return list(reversed(results))  # Get-WinEvent answers newest first


def runs_from_events(events: Sequence[Any]) -> list[RenewalRun]:
    """Renewal runs (oldest first) from the events alone: what ``audit`` uses when no transcript or
    result file is left on the host."""
    return pair_runs([], results_from_events(events))

"""The event-log emulation (New-EventLog, Write-EventLog, Get-WinEvent) in the real cmdlets' words,
in-process; and the renewal runner's one event per run with the result JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_engine_kit import Twin

from poshbridge.lab.engine.values import ps_properties, type_names


@pytest.fixture
def twin(tmp_path: Path) -> Twin:
    return Twin(tmp_path)


def _register(twin: Twin) -> None:
    result = twin.run(("New-EventLog", {"LogName": "Application", "Source": ["poshbridge"]}))
    assert result.errors == [] and result.terminating is None, result


def test_new_eventlog_registers_once_then_says_already_registered(twin: Twin) -> None:
    _register(twin)
    again = twin.run(("New-EventLog", {"LogName": "Application", "Source": ["poshbridge"]}))
    assert [e.message for e in again.errors] == [
        'The "poshbridge" source is already registered on the "localhost" computer.'
    ]


def test_list_provider_finds_a_registered_source_only(twin: Twin) -> None:
    missing = twin.run(("Get-WinEvent", {"ListProvider": ["poshbridge"]}))
    assert missing.output == []
    assert [e.fully_qualified_error_id.split(",")[0] for e in missing.errors] == ["NoMatchingProvidersFound"]
    silent = twin.run(("Get-WinEvent", {"ListProvider": ["poshbridge"], "ErrorAction": "SilentlyContinue"}))
    assert silent.errors == [] and silent.output == []
    _register(twin)
    found = twin.run(("Get-WinEvent", {"ListProvider": ["poshbridge"]}))
    assert [ps_properties(o)["Name"] for o in found.output] == ["poshbridge"]
    assert ps_properties(found.output[0])["LogLinks"] == ["Application"]


def test_write_eventlog_needs_a_registered_source(twin: Twin) -> None:
    result = twin.run(
        (
            "Write-EventLog",
            {"LogName": "Application", "Source": "poshbridge", "EventId": 1000, "Message": "x"},
        )
    )
    assert [e.message for e in result.errors] == [
        'The source name "poshbridge" does not exist on computer "localhost".'
    ]


def test_events_come_back_newest_first_as_event_log_records(twin: Twin) -> None:
    _register(twin)
    for event_id, entry_type in ((1001, "Information"), (1003, "Error"), (1000, "Information")):
        written = twin.run(
            (
                "Write-EventLog",
                {"LogName": "Application", "Source": "poshbridge", "EventId": event_id,
                 "EntryType": entry_type, "Message": json.dumps({"id": event_id})},
            )
        )  # fmt: skip
        assert written.errors == [], written
    query = {"FilterHashtable": {"LogName": "Application", "ProviderName": "poshbridge"}, "MaxEvents": 2}
    result = twin.run(("Get-WinEvent", query))
    props = [ps_properties(o) for o in result.output]
    assert [p["Id"] for p in props] == [1000, 1003]
    assert [p["LevelDisplayName"] for p in props] == ["Information", "Error"]
    assert [p["Level"] for p in props] == [4, 2]
    assert json.loads(props[0]["Message"]) == {"id": 1000}
    assert props[0]["ProviderName"] == "poshbridge" and props[0]["LogName"] == "Application"
    assert type_names(result.output[0])[0] == "System.Diagnostics.Eventing.Reader.EventLogRecord"
    oldest = twin.run(("Get-WinEvent", {**query, "Oldest": True}))
    assert [ps_properties(o)["Id"] for o in oldest.output] == [1001, 1003]


def test_no_matching_events_is_a_non_terminating_error(twin: Twin) -> None:
    _register(twin)
    result = twin.run(
        ("Get-WinEvent", {"FilterHashtable": {"LogName": "Application", "ProviderName": "poshbridge"}})
    )
    assert result.terminating is None and result.output == []
    assert [e.message for e in result.errors] == [
        "No events were found that match the specified selection criteria."
    ]

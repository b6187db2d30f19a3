"""The Windows event-log signal on the control node (pure): the calls as data, and runs from events."""

from __future__ import annotations

import json

from poshbridge.audit.events import (
    EVENT_IDS,
    get_event_source,
    get_run_events,
    new_event_source,
    results_from_events,
    runs_from_events,
    source_registered,
)
from poshbridge.generate.renew_script import render_renew_script
from poshbridge.inventory.model import HostConfig, IISConfig


def _event(record: int, outcome: str, provider: str = "poshbridge") -> dict[str, object]:
    doc = {
        "schema": "poshbridge.renewal-result/1",
        "host": "host01",
        "order": "example.jp",
        "outcome": outcome,
        "started": f"2025-01-0{record}T03:17:00Z",
        "finished": f"2025-01-0{record}T03:17:09Z",
        "thumbprint": None,
        "not_after": None,
        "renew_after": None,
        "error": {"message": "no", "type": "rejectedIdentifier", "status": 400, "detail": "no"}
        if outcome == "failed"
        else None,
        "transcript": f"renew-2025010{record}-031700.txt",
    }
    return {
        "Id": EVENT_IDS[outcome],
        "ProviderName": provider,
        "RecordId": record,
        "Message": json.dumps(doc),
    }


def test_the_calls_are_cmdlets_with_parameters() -> None:
    assert (
        get_event_source().render()
        == "Get-WinEvent -ListProvider @('poshbridge') -ErrorAction 'SilentlyContinue'"
    )
    assert new_event_source().render() == "New-EventLog -LogName 'Application' -Source @('poshbridge')"
    rendered = get_run_events(10).render()
    assert rendered.startswith("Get-WinEvent -FilterHashtable @{")
    assert "'ProviderName'='poshbridge'" in rendered and "-MaxEvents 10" in rendered


def test_source_registered() -> None:
    assert source_registered([{"Name": "poshbridge"}])
    assert not source_registered([]) and not source_registered([{"Name": "other"}])


def test_runs_from_events_oldest_first_and_foreign_or_broken_events_skipped() -> None:
    events = [
        _event(3, "failed"),
        {"ProviderName": "poshbridge", "RecordId": 9, "Message": "not json"},
        _event(2, "renewed", provider="Other"),
        _event(1, "not-due"),
    ]
    runs = runs_from_events(events)
    assert [r.outcome for r in runs] == ["not-due", "failed"]
    assert runs[-1].acme_problem is not None and runs[-1].acme_problem.type == "rejectedIdentifier"
    assert runs[-1].source == "event Application/3"
    assert len(results_from_events(events)) == 2


def test_the_script_writes_the_documented_ids() -> None:
    host = HostConfig(
        name="host01", address="a", domains=("example.jp",), webroot="C:\\w", iis=IISConfig(site="s")
    )
    script = render_renew_script(host, "hardened")
    table = next(line for line in script.splitlines() if "[$result.outcome]" in line)
    for outcome, number in EVENT_IDS.items():
        assert f"'{outcome}' = {number}" in table
    assert "Write-EventLog -LogName 'Application' -Source 'poshbridge'" in script

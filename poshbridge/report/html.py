"""The fleet report: one self-contained HTML file from audit verdicts (pure: data in, text out).

Everything is inline (CSS, a little JavaScript, SVG): the file loads nothing from anywhere, so it works
offline, as a mail attachment and printed. Every value that came from a host or the inventory is
HTML-escaped; nothing is put into the page as markup or script.

The page: a header (inventory, generated-at, counts), a fleet table (sortable by any column; filter by
verdict and group), an SVG timeline of each host's NotAfter with its renewal window and the WARN/CRIT
lines, and per host the last runs (outcome, duration, the explained error in the chosen language) and
the served vs current (Posh-ACME) thumbprint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from html import escape

from poshbridge.audit.explain import explain_run
from poshbridge.audit.transcript import RenewalRun
from poshbridge.audit.verdict import CRIT, OK, WARN, HostVerdict
from poshbridge.timefmt import format_minute, format_timestamp

MAX_RUNS = 5
_LEVEL_RANK = {OK: 0, WARN: 1, CRIT: 2}

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Certificate fleet report",
        "inventory": "Inventory",
        "generated": "Generated",
        "verdict": "Verdict",
        "group": "Group",
        "all": "all",
        "host": "Host",
        "groups": "Groups",
        "expires": "NotAfter (UTC)",
        "days": "Days left",
        "last_run": "Last run (UTC)",
        "outcome": "Outcome",
        "served": "Served thumbprint",
        "thumbprints": "Thumbprint: served / current",
        "current": "Current (Posh-ACME) thumbprint",
        "reason": "Reason",
        "timeline": "NotAfter per host",
        "window": "renewal window",
        "now": "now",
        "hosts": "Hosts",
        "runs": "Last runs",
        "started": "Started (UTC)",
        "duration": "Duration",
        "error": "Explained error",
        "no_runs": "no renewal run recorded",
        "same": "same",
        "different": "DIFFERENT",
        "never": "never",
        "condition": "condition",
        "fix": "fix",
        "ca_message": "CA message",
    },
    "ja": {
        "title": "証明書フリート レポート",
        "inventory": "インベントリ",
        "generated": "作成日時",
        "verdict": "判定",
        "group": "グループ",
        "all": "すべて",
        "host": "ホスト",
        "groups": "グループ",
        "expires": "有効期限 (UTC)",
        "days": "残り日数",
        "last_run": "最終実行 (UTC)",
        "outcome": "結果",
        "served": "配信中の拇印",
        "thumbprints": "拇印: 配信中 / 現在",
        "current": "現在の (Posh-ACME) 拇印",
        "reason": "理由",
        "timeline": "ホストごとの有効期限",
        "window": "更新期間",
        "now": "現在",
        "hosts": "ホスト",
        "runs": "最近の実行",
        "started": "開始 (UTC)",
        "duration": "所要時間",
        "error": "エラーの説明",
        "no_runs": "更新の実行記録なし",
        "same": "同じ",
        "different": "異なる",
        "never": "なし",
        "condition": "発生条件",
        "fix": "対処",
        "ca_message": "CA のメッセージ",
    },
}

_CSS = """
:root { --ok: #1a7f37; --warn: #9a6700; --crit: #cf222e; --muted: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Hiragino Sans", sans-serif;
       color: #1f2328; margin: 24px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: var(--muted); margin-bottom: 12px; }
.counts span { display: inline-block; margin-right: 12px; font-weight: 600; }
.filters { margin: 12px 0; } .filters label { margin-right: 16px; }
table { border-collapse: collapse; width: 100%; }
.scroll { overflow-x: auto; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { cursor: pointer; user-select: none; white-space: nowrap; background: #f6f8fa; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
td.host, td.thumb, td.date { white-space: nowrap; }
td.thumb, .thumb { font-family: ui-monospace, "SFMono-Regular", Consolas, monospace; font-size: 12px; }
.v-OK { color: var(--ok); font-weight: 600; } .v-WARN { color: var(--warn); font-weight: 600; }
.v-CRIT { color: var(--crit); font-weight: 700; }
.diff { color: var(--crit); font-weight: 600; }
svg { max-width: 100%; height: auto; font: 11px system-ui, sans-serif; }
svg .axis { stroke: var(--line); } svg .window { fill: #ddf4ff; } svg .notafter { fill: #0969da; }
svg .warnline { stroke: var(--warn); stroke-dasharray: 4 3; }
svg .critline { stroke: var(--crit); stroke-dasharray: 4 3; }
svg .nowline { stroke: #1f2328; }
details { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; margin: 6px 0; }
summary { cursor: pointer; font-weight: 600; }
.explain { white-space: pre-wrap; margin: 0; font-size: 12px; }
@media print {
  .filters { display: none; }
  details { break-inside: avoid; }
  details > *:not(summary) { display: block; }
  tr[hidden] { display: table-row; }
  body { margin: 0; }
}
"""

_JS = """
(function () {
  var table = document.getElementById('fleet');
  var body = table.tBodies[0];
  var headers = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(headers, function (th, index) {
    th.addEventListener('click', function () {
      var ascending = th.getAttribute('aria-sort') !== 'ascending';
      Array.prototype.forEach.call(headers, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      var numeric = th.getAttribute('data-type') === 'number';
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[index].getAttribute('data-sort'), y = b.cells[index].getAttribute('data-sort');
        var c = numeric ? (parseFloat(x) - parseFloat(y)) : x.localeCompare(y);
        return ascending ? c : -c;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  var verdict = document.getElementById('filter-verdict');
  var group = document.getElementById('filter-group');
  function apply() {
    Array.prototype.forEach.call(body.rows, function (row) {
      var groups = (row.getAttribute('data-groups') || '').split(' ');
      var show = (verdict.value === '' || row.getAttribute('data-verdict') === verdict.value) &&
                 (group.value === '' || groups.indexOf(group.value) >= 0);
      row.hidden = !show;
      var mark = document.getElementById('tl-' + row.getAttribute('data-index'));
      if (mark) { mark.style.display = show ? '' : 'none'; }
    });
  }
  verdict.addEventListener('change', apply);
  group.addEventListener('change', apply);
})();
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _utc(value: datetime | None) -> str:
    return format_minute(value, none="")


def _duration(started: datetime | None, finished: datetime | None) -> str:
    if started is None or finished is None:
        return "-"
    seconds = int((finished - started).total_seconds())
    if seconds < 0:
        return "-"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def render_fleet_report(
    verdicts: Sequence[HostVerdict],
    *,
    generated: datetime,
    inventory_name: str,
    groups: Mapping[str, Sequence[str]],
    warn_days: int,
    crit_days: int,
    lang: str = "en",
) -> str:
    """The whole page. ``groups`` maps a host name to its inventory groups."""
    t = LABELS["ja" if lang == "ja" else "en"]
    all_groups = sorted({g for names in groups.values() for g in names})
    counts = {level: sum(1 for v in verdicts if v.level == level) for level in (OK, WARN, CRIT)}
    parts: list[str] = [
        "<!DOCTYPE html>",
        f'<html lang="{"ja" if lang == "ja" else "en"}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(t['title'])} — {_e(inventory_name)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(t['title'])}</h1>",
        f'<div class="meta">{_e(t["inventory"])}: <strong id="inventory">{_e(inventory_name)}</strong>'
        f' · {_e(t["generated"])}: <time id="generated" datetime="{_e(format_timestamp(generated))}">'
        f"{_e(_utc(generated))} UTC</time></div>",
        '<div class="counts">'
        + "".join(f'<span class="v-{level}">{counts[level]} {level}</span>' for level in (OK, WARN, CRIT))
        + "</div>",
        '<div class="filters">',
        f'<label>{_e(t["verdict"])} <select id="filter-verdict"><option value="">{_e(t["all"])}</option>'
        + "".join(f'<option value="{level}">{level}</option>' for level in (OK, WARN, CRIT))
        + "</select></label>",
        f'<label>{_e(t["group"])} <select id="filter-group"><option value="">{_e(t["all"])}</option>'
        + "".join(f'<option value="{_e(g)}">{_e(g)}</option>' for g in all_groups)
        + "</select></label>",
        "</div>",
    ]
    parts.append(_table(verdicts, groups, t))
    parts.append(f"<h2>{_e(t['timeline'])}</h2>")
    parts.append(_timeline(verdicts, generated, warn_days, crit_days, t))
    parts.append(f"<h2>{_e(t['hosts'])}</h2>")
    for verdict in verdicts:
        parts.append(_host_details(verdict, t, lang))
    parts.append(f"<script>{_JS}</script>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _thumb_cells(verdict: HostVerdict, t: Mapping[str, str]) -> tuple[str, str]:
    served = verdict.served_thumbprint or ""
    current = verdict.posh_acme_thumbprint or ""
    served_html = _e(served or "-")
    if served and current and served != current:
        served_html = f'<span class="diff" title="{_e(t["different"])}">{served_html}</span>'
    return served_html, _e(current or "-")


def _table(verdicts: Sequence[HostVerdict], groups: Mapping[str, Sequence[str]], t: Mapping[str, str]) -> str:
    head = [
        ("host", "text"),
        ("groups", "text"),
        ("verdict", "number"),
        ("expires", "text"),
        ("days", "number"),
        ("last_run", "text"),
        ("outcome", "text"),
        ("thumbprints", "text"),
        ("reason", "text"),
    ]
    rows = [
        '<div class="scroll"><table id="fleet"><thead><tr>'
        + "".join(f'<th data-type="{kind}" scope="col">{_e(t[key])}</th>' for key, kind in head)
        + "</tr></thead><tbody>"
    ]
    for index, verdict in enumerate(verdicts):
        host_groups = list(groups.get(verdict.host, ()))
        served_html, current_html = _thumb_cells(verdict, t)
        days = verdict.days_left
        expires = _utc(verdict.expires)
        days_text = "-" if days is None else f"{days:.1f}"
        group_text = _e(" ".join(host_groups))
        cells = [
            f'<td class="host" data-sort="{_e(verdict.host)}">{_e(verdict.host)}</td>',
            f'<td data-sort="{_e(" ".join(host_groups))}">{_e(", ".join(host_groups))}</td>',
            f'<td data-sort="{_LEVEL_RANK[verdict.level]}" class="v-{verdict.level}">{verdict.level}</td>',
            f'<td class="date" data-sort="{_e(expires or "9999")}">{_e(expires or "-")}</td>',
            f'<td data-sort="{days if days is not None else 1e9}">{days_text}</td>',
            f'<td class="date" data-sort="{_e(_utc(verdict.last_run))}">'
            f"{_e(_utc(verdict.last_run) or t['never'])}</td>",
            f'<td data-sort="{_e(verdict.last_outcome or "")}">{_e(verdict.last_outcome or "-")}</td>',
            f'<td class="thumb" data-sort="{_e(verdict.served_thumbprint or "")}">'
            f'<span title="{_e(t["served"])}">{served_html}</span><br>'
            f'<span title="{_e(t["current"])}">{current_html}</span></td>',
            f'<td data-sort="{_e(verdict.summary)}">{_e(verdict.summary)}</td>',
        ]
        rows.append(
            f'<tr data-index="{index}" data-verdict="{verdict.level}" data-groups="{group_text}">'
            + "".join(cells)
            + "</tr>"
        )
    rows.append("</tbody></table></div>")
    return "\n".join(rows)


def _timeline(
    verdicts: Sequence[HostVerdict], now: datetime, warn_days: int, crit_days: int, t: Mapping[str, str]
) -> str:
    """One row per host: the renewal window (shaded, RenewAfter → NotAfter) and NotAfter (a diamond);
    vertical lines: now, now + crit days (CRIT), now + warn days (WARN)."""
    label_w, width, row_h, top = 220, 900, 22, 28
    dated = [v.expires for v in verdicts if v.expires is not None]
    start = min([now - timedelta(days=7), *[d - timedelta(days=3) for d in dated]])
    end = max([now + timedelta(days=max(warn_days, 30) + 7), *[d + timedelta(days=7) for d in dated]])
    span = (end - start).total_seconds() or 1.0

    def x(when: datetime) -> float:
        return label_w + (width - label_w - 10) * (when - start).total_seconds() / span

    height = top + row_h * max(len(verdicts), 1) + 24
    out = [
        f'<svg id="timeline" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f"<title>{_e(t['timeline'])}</title>",
    ]
    for label, when, css in (
        (t["now"], now, "nowline"),
        (f"CRIT {crit_days} d", now + timedelta(days=crit_days), "critline"),
        (f"WARN {warn_days} d", now + timedelta(days=warn_days), "warnline"),
    ):
        px = x(when)
        out.append(f'<line class="{css}" x1="{px:.1f}" y1="{top - 6}" x2="{px:.1f}" y2="{height - 20}"/>')
        out.append(f'<text x="{px + 3:.1f}" y="{top - 10}">{_e(label)}</text>')
    for index, verdict in enumerate(verdicts):
        y = top + row_h * index
        out.append(f'<g id="tl-{index}" class="tl-row" data-host="{_e(verdict.host)}">')
        out.append(f'<text x="4" y="{y + 14}" class="v-{verdict.level}">{_e(verdict.host)}</text>')
        out.append(f'<line class="axis" x1="{label_w}" y1="{y + 10}" x2="{width - 10}" y2="{y + 10}"/>')
        if verdict.expires is not None:
            opens = verdict.renewal_window_opens
            if opens is not None and opens < verdict.expires:
                out.append(
                    f'<rect class="window" x="{x(opens):.1f}" y="{y + 3}" '
                    f'width="{max(x(verdict.expires) - x(opens), 1):.1f}" height="14">'
                    f"<title>{_e(t['window'])}: {_e(_utc(opens))} → {_e(_utc(verdict.expires))}"
                    "</title></rect>"
                )
            px = x(verdict.expires)
            out.append(
                f'<path class="notafter" d="M{px:.1f} {y + 3} l6 7 l-6 7 l-6 -7 z">'
                f"<title>{_e(verdict.host)}: NotAfter {_e(_utc(verdict.expires))} UTC</title></path>"
            )
        out.append("</g>")
    axis_y = height - 8
    for month in _month_ticks(start, end):
        px = x(month)
        out.append(f'<text x="{px:.1f}" y="{axis_y}" text-anchor="middle">{month:%Y-%m}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _month_ticks(start: datetime, end: datetime) -> list[datetime]:
    ticks = []
    month = datetime(start.year, start.month, 1, tzinfo=start.tzinfo or timezone.utc)
    while month <= end:
        if month >= start:
            ticks.append(month)
        month = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=month.tzinfo)
    return ticks


def _run_times(run: RenewalRun) -> tuple[str, str]:
    """(start, duration): UTC from the result file or the file name; else the transcript's host-local
    times (marked "local")."""
    if run.started_utc is not None:
        finished = run.finished_utc
        if finished is None and run.session is not None and run.session.start and run.session.end:
            finished = run.started_utc + (run.session.end - run.session.start)
        return _utc(run.started_utc), _duration(run.started_utc, finished)
    session = run.session
    if session is not None and session.start is not None:
        return f"{session.start:%Y-%m-%d %H:%M} (local)", _duration(session.start, session.end)
    return "-", "-"


def _host_details(verdict: HostVerdict, t: Mapping[str, str], lang: str) -> str:
    served_html, current_html = _thumb_cells(verdict, t)
    same = (
        t["same"]
        if verdict.served_thumbprint and verdict.served_thumbprint == verdict.posh_acme_thumbprint
        else ""
    )
    out = [
        f'<details class="host-details" data-host="{_e(verdict.host)}" open>',
        f'<summary><span class="v-{verdict.level}">{verdict.level}</span> {_e(verdict.host)}</summary>',
        f'<div>{_e(t["served"])}: <span class="thumb">{served_html}</span> · {_e(t["current"])}: '
        f'<span class="thumb">{current_html}</span> {_e(same)}</div>',
    ]
    runs = list(verdict.runs)[-MAX_RUNS:]
    if not runs:
        out.append(f"<p>{_e(t['no_runs'])}</p>")
    else:
        out.append(
            "<table><thead><tr>"
            + "".join(f"<th>{_e(t[k])}</th>" for k in ("started", "outcome", "duration", "error"))
            + "</tr></thead><tbody>"
        )
        for run in reversed(runs):
            explained = explain_run(verdict.host, run, lang)
            text = ""
            if explained is not None:
                lines = [f"{explained.problem}: {explained.message}"]
                if explained.ca_message:
                    lines.append(f"{t['ca_message']}: {explained.ca_message}")
                if explained.condition:
                    lines.append(f"{t['condition']}: {explained.condition}")
                lines.append(f"{t['fix']}: {explained.fix}")
                text = "\n".join(lines)
            started, duration = _run_times(run)
            out.append(
                f'<tr><td class="date">{_e(started)}</td><td>{_e(run.outcome)}</td>'
                f"<td>{_e(duration)}</td>"
                f'<td><pre class="explain">{_e(text)}</pre></td></tr>'
            )
        out.append("</tbody></table>")
    out.append("</details>")
    return "\n".join(out)

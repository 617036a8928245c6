"""The HTML of `newsbeam report` (pipeline/report.py): plotly figures and tables from the gathered rows, in one page.

plotly.js is inlined once in the page's head; each figure is a div and a call to Plotly.newPlot. The rows are
also embedded as JSON (`<script type="application/json" id="report-data">`), so a test or a script can read
the report's numbers back. The last script marks the page: `data-report-status` on <html> is "ok" once every
figure has been drawn without a script error, else "error" with the messages in #report-errors.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import math

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

TIMELINE_MAX = 3000  # stories drawn on the timeline at most (the biggest); the rest are counted in a note
LABELLED = 10  # the biggest stories get their title written on the timeline
HEADLINES = 3  # other headlines shown per top story
BAR_DAYS = 120  # articles over at most this many days are charted per day, else per week (up to 7x as long), else per month
CONFIG = {"displaylogo": False, "responsive": True}
COLORS = {"articles": "#3a6ea5", "unique": "#8fb3d9", "copies": "#e0a030", "stories": "#4b9e6b", "rejects": "#c4473a",
          "seconds": "#555555"}
LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=40, b=50), font=dict(family="sans-serif", size=12),
              height=380)

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { background: #1f3b57; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header p { margin: 0; opacity: .85; font-size: 13px; }
main { padding: 8px 28px 40px; max-width: 1400px; }
section { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 12px 18px; margin: 16px 0; }
h2 { font-size: 17px; margin: 4px 0 8px; }
.note { color: #666; font-size: 12px; margin: 4px 0; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 10px 16px; min-width: 110px; }
.card b { display: block; font-size: 22px; }
.card span { color: #666; font-size: 12px; }
.row { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; align-items: start; }
table { border-collapse: collapse; font-size: 12.5px; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
th { background: #f3f5f7; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.t { white-space: nowrap; }
ul.heads { margin: 2px 0 0 0; padding-left: 16px; color: #555; }
#report-errors { color: #b00; }
summary { cursor: pointer; color: #3a6ea5; font-size: 13px; margin: 6px 0; }
"""

# First in the head, before plotly.js: collects every script error of the page.
ERRORS_SCRIPT = """
window.__reportErrors = [];
window.addEventListener('error', function (e) { window.__reportErrors.push(String(e.message || e)); });
"""

# Last in the body: marks the page once it has loaded.
STATUS_SCRIPT = """
(function () {
  var errors = window.__reportErrors || ['the error collector did not run'];
  function mark() {
    var plots = document.querySelectorAll('.plotly-graph-div');
    var drawn = 0;
    for (var i = 0; i < plots.length; i++) { if (plots[i]._fullLayout) { drawn++; } }
    var ok = errors.length === 0 && typeof Plotly !== 'undefined' && drawn === plots.length;
    document.documentElement.setAttribute('data-report-status', ok ? 'ok' : 'error');
    document.documentElement.setAttribute('data-report-plots', drawn + '/' + plots.length);
    if (errors.length) { document.getElementById('report-errors').textContent = errors.join('\\n'); }
  }
  if (document.readyState === 'complete') { mark(); } else { window.addEventListener('load', mark); }
})();
"""


def _esc(value) -> str:
    return html.escape("" if value is None else str(value))


def _when(value) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM' (UTC), or '' for none."""
    if not value:
        return ""
    try:
        return dt.datetime.fromisoformat(value).astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(value)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _short(text, n: int) -> str:
    text = " ".join(str(text or "(untitled)").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _figure_html(fig: go.Figure, div_id: str) -> str:
    fig.update_layout(**{k: v for k, v in LAYOUT.items() if k not in fig.layout.to_plotly_json() or k == "template"})
    return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id, config=CONFIG)


def _table(columns: list[tuple[str, str, str]], rows: list[dict], cls: str = "") -> str:
    """columns: (key, heading, kind) with kind 'n' (number), 't' (time) or '' (text)."""
    head = "".join(f'<th class="{k}">{_esc(h)}</th>' for _, h, k in columns)
    body = []
    for row in rows:
        cells = []
        for key, _, kind in columns:
            v = row.get(key)
            text = _when(v) if kind == "t" else (f"{v:,.1f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else v)
            cells.append(f'<td class="{kind}">{_esc(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def timeline_figure(stories: list[dict]) -> go.Figure:
    """Each story as a line from its first to its last published article at the height of its size; a dot where it
    began, sized by its articles; the biggest LABELLED stories carry their title."""
    xs, ys = [], []
    for s in stories:
        xs += [s["first_published"], s["last_published"], None]
        ys += [s["article_count"], s["article_count"], None]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="rgba(58,110,165,.45)", width=3),
                             hoverinfo="skip", name="span (first to last article)"))
    hover = [f"{html.escape(_short(s['title'], 90))}<br>{s['article_count']} articles, {s['unique_article_count']} unique, "
             f"{s['site_count']} sites<br>{_when(s['first_published'])} to {_when(s['last_published'])}" for s in stories]
    fig.add_trace(go.Scatter(
        x=[s["first_published"] for s in stories], y=[s["article_count"] for s in stories], mode="markers",
        marker=dict(size=[4 + 3 * math.sqrt(s["article_count"]) for s in stories], color=COLORS["articles"],
                    opacity=.7, line=dict(width=0)),
        text=hover, hovertemplate="%{text}<extra></extra>", name="story (dot where it began)"))
    big = stories[:LABELLED]
    fig.add_trace(go.Scatter(
        x=[s["first_published"] for s in big], y=[s["article_count"] for s in big], mode="text",
        text=["  " + _short(s["title"], 48) for s in big], textposition="middle right",
        textfont=dict(size=11, color="#1f3b57"), hoverinfo="skip", showlegend=False))
    fig.update_layout(yaxis=dict(title="articles in the story", rangemode="tozero"), xaxis=dict(title="published (UTC)"),
                      height=560, legend=dict(orientation="h", y=1.08, x=0))
    window = focus_range(stories)
    if window:
        fig.update_xaxes(range=list(window))
    return fig


def focus_range(stories: list[dict], share: float = 0.1) -> tuple[str, str] | None:
    """When the biggest stories span less than `share` of all the stories' time, the time window to open on: the
    biggest stories' span, padded by a quarter of it each side (double-click shows everything)."""
    def t(v):
        return dt.datetime.fromisoformat(v)

    big = stories[:max(LABELLED * 3, 1)]
    if len(stories) < 2:
        return None
    lo, hi = min(t(s["first_published"]) for s in big), max(t(s["last_published"]) for s in big)
    all_lo, all_hi = min(t(s["first_published"]) for s in stories), max(t(s["last_published"]) for s in stories)
    if (all_hi - all_lo) <= dt.timedelta(0) or (hi - lo) >= share * (all_hi - all_lo):
        return None
    pad = max((hi - lo) / 4, dt.timedelta(hours=1))
    return (lo - pad).isoformat(), (hi + pad * 2.5).isoformat()


def _bar(x, y, color, xtitle, ytitle, horizontal=False, height=None) -> go.Figure:
    bar = go.Bar(y=x, x=y, orientation="h", marker_color=color) if horizontal else go.Bar(x=x, y=y, marker_color=color)
    fig = go.Figure(bar)
    fig.update_layout(xaxis_title=ytitle if horizontal else xtitle, yaxis_title=xtitle if horizontal else ytitle)
    if horizontal:
        fig.update_layout(yaxis=dict(autorange="reversed", automargin=True), height=height or max(300, 22 * len(x) + 80))
    return fig


def rejects_figure(rows: list[dict]) -> go.Figure:
    fig = go.Figure()
    for stage in sorted({r["stage"] for r in rows}):
        mine = [r for r in rows if r["stage"] == stage]
        fig.add_trace(go.Bar(x=[r["reason"] for r in mine], y=[r["rejects"] for r in mine], name=stage))
    fig.update_layout(barmode="stack", xaxis_title="reason", yaxis_title="rejects", legend_title_text="stage")
    return fig


def runs_figure(rows: list[dict]) -> go.Figure:
    labels = [f"{_when(r['started_at'])}<br>{r['run_id'][-6:]}" for r in rows]
    fig = go.Figure()
    for key in ("articles", "copies", "stories", "rejects"):
        fig.add_trace(go.Bar(x=labels, y=[r[key] for r in rows], name=key, marker_color=COLORS[key]))
    fig.add_trace(go.Scatter(x=labels, y=[r["seconds"] for r in rows], name="duration (s)", yaxis="y2", mode="lines+markers",
                             line=dict(color=COLORS["seconds"])))
    fig.update_layout(barmode="group", yaxis_title="rows", legend=dict(orientation="h", y=1.1, x=0),
                      yaxis2=dict(title="seconds", overlaying="y", side="right", rangemode="tozero"))
    return fig


def _section(title: str, body: str, note: str = "") -> str:
    return f"<section><h2>{_esc(title)}</h2>{f'<p class=note>{note}</p>' if note else ''}{body}</section>"


def _empty(what: str) -> str:
    return f"<p class=note>No {_esc(what)} in this output{'' if what else ''}.</p>"


def render(meta: dict, data: dict) -> str:
    """The whole page for the rows `data` (report.gather, values made plain) and `meta` (output, generated_at, since)."""
    t = data["totals"][0]
    cards = [("runs", t["runs"]), ("articles", t["articles"]), ("unique articles", t["unique_articles"]),
             ("stories", t["stories"]), ("stories of 2+ articles", t["stories_of_several"]), ("sites", t["sites"]),
             ("rejects", t["rejects"])]
    parts = ['<section><div class="cards" id="totals">'
             + "".join(f'<div class="card" data-key="{_esc(k)}"><b>{v:,}</b><span>{_esc(k)}</span></div>' for k, v in cards)
             + f'</div><p class=note>published {_esc(_when(t["first_published"]))} to {_esc(_when(t["last_published"]))}'
             "</p></section>"]

    stories = data["timeline"]
    undated = data["undated_stories"][0]["n"]
    note = (f"{len(stories):,} dated stories drawn (the {len(stories):,} biggest)" if len(stories) >= TIMELINE_MAX
            else f"{len(stories):,} dated stories")
    note += f"; {undated:,} stories without a publication date are not drawn." if undated else "."
    parts.append(_section("Stories over time", _figure_html(timeline_figure(stories), "fig-timeline") if stories
                          else _empty("dated stories"), note + " Hover a dot for the story; drag to zoom"
                          + (", double-click to see every story (the chart opens on the biggest stories)." if len(stories) > 1
                             and focus_range(stories) else ".")))

    top_rows = []
    for s in data["top_stories"]:
        heads = "".join(f"<li>{_esc(_short(h, 140))}</li>" for h in s["headlines"])
        top_rows.append({**s, "title_html": f"<b>{_esc(_short(s['title'], 160))}</b>" + (f"<ul class=heads>{heads}</ul>" if heads else "")})
    parts.append(_section(f"Top {meta['top']} stories", _top_table(top_rows) if top_rows else _empty("stories"),
                          "By articles, then sites. Unique: articles that are not an exact or near copy of another."))

    periods = data["per_period"]
    unit = periods[0]["unit"] if periods else "day"
    undated_a = data["undated_articles"][0]["n"]
    if periods:
        days_fig = _bar([d["period"] for d in periods], [d["articles"] for d in periods], COLORS["articles"], f"{unit} (UTC)",
                        f"articles per {unit}")
        # Bars as wide as their period (a date axis otherwise draws them a hair wide, or one bar over a millisecond).
        days_fig.update_traces(width=0.8 * 86_400_000 * {"day": 1, "week": 7, "month": 30}[unit])
        days_fig.update_xaxes(type="date")
        day_fig = _figure_html(days_fig, "fig-days")
    else:
        day_fig = _empty("dated articles")
    sites = data["per_site"]
    site_fig = _figure_html(_bar([s["site"] for s in sites], [s["articles"] for s in sites], COLORS["articles"], "site",
                                 "articles", horizontal=True), "fig-sites") if sites else _empty("articles")
    parts.append(_section(f"Articles per {unit} and per site", f'<div class=row><div>{day_fig}</div><div>{site_fig}</div></div>'
                          + "<details><summary>the sites as a table</summary>"
                          + _table([("site", "site", ""), ("articles", "articles", "n"), ("unique_articles", "unique", "n"),
                                    ("stories", "stories", "n")], sites) + "</details>",
                          f"{_count(undated_a, 'article')} without a publication date {'is' if undated_a == 1 else 'are'} not on the "
                          f"{unit}s chart" + (f" (by {unit}: the articles span more than {BAR_DAYS} days)" if unit != "day" else "")
                          + f". Sites: the largest {len(sites)} shown, {_count(data['site_count'][0]['n'], 'site')} named in all; "
                          "(no site) counts the articles whose page named none."))

    langs, formats = data["languages"], data["formats"]
    lang_fig = _figure_html(_bar([r["language"] for r in langs], [r["articles"] for r in langs], COLORS["stories"], "language",
                                 "articles"), "fig-languages") if langs else _empty("articles")
    parts.append(_section("Languages and input formats", f'<div class=row><div>{lang_fig}</div><div>'
                          + _table([("language", "language", ""), ("articles", "articles", "n")], langs)
                          + "<br>" + _table([("input_format", "input format", ""), ("articles", "articles", "n")], formats)
                          + "</div></div>", "Language as detected per article; (unknown) where no language was found."))

    rej = data["rejects"]
    parts.append(_section("Rejects by stage and reason", (
        f'<div class=row><div>{_figure_html(rejects_figure(rej), "fig-rejects")}</div><div>'
        + _table([("stage", "stage", ""), ("reason", "reason", ""), ("rejects", "rejects", "n")], rej) + "</div></div>")
        if rej else _empty("rejects"), "Every input that did not become an article, with the stage that refused it."))

    bp = data["boilerplate"]
    bp_fig = _bar([r["rule"] for r in bp], [r["lines"] for r in bp], COLORS["copies"], "rule", "lines removed", horizontal=True)
    parts.append(_section("Boilerplate removed by rule", (
        f'<div class=row><div>{_figure_html(bp_fig, "fig-boilerplate")}</div><div>'
        + _table([("rule", "rule", ""), ("lines", "lines", "n"), ("articles", "articles", "n"), ("characters", "characters", "n")], bp)
        + "</div></div>") if bp else _empty("removed boilerplate lines"),
        "Lines the cleaner removed from the articles, by the named rule that removed them."))

    runs = data["runs"]
    parts.append(_section("Run history", (_figure_html(runs_figure(runs), "fig-runs") if runs else _empty("runs"))
                          + _table([("run_id", "run", ""), ("started_at", "started (UTC)", "t"), ("files", "files", "n"),
                                    ("inputs", "inputs", "n"), ("articles", "articles", "n"), ("copies", "copies", "n"),
                                    ("stories", "stories", "n"), ("rejects", "rejects", "n"), ("seconds", "seconds", "n")], runs),
                          "Inputs = articles + rejects for every run; copies are exact and near copies."))

    since = f" · since {_esc(_when(meta['since']))} UTC" if meta.get("since") else ""
    data_json = json.dumps({"meta": meta, **data}, ensure_ascii=False, default=str).replace("<", "\\u003c")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>newsbeam report: {_esc(meta['output'])}</title>
<style>{CSS}</style>
<script>{ERRORS_SCRIPT}</script>
<script>{get_plotlyjs()}</script>
</head><body>
<header><h1>newsbeam report</h1><p>{_esc(meta['output'])} · generated {_esc(_when(meta['generated_at']))} UTC{since}</p></header>
<main>
<pre id="report-errors"></pre>
{''.join(parts)}
</main>
<script type="application/json" id="report-data">{data_json}</script>
<script>{STATUS_SCRIPT}</script>
</body></html>
"""


def _top_table(rows: list[dict]) -> str:
    head = ("<tr><th>#</th><th>story (canonical title, then other headlines)</th><th class=n>articles</th>"
            "<th class=n>unique</th><th class=n>sites</th><th class=t>first published</th><th class=t>last published</th></tr>")
    body = "".join(
        f"<tr data-story='{_esc(r['story_id'])}'><td class=n>{i}</td><td>{r['title_html']}</td><td class=n>{r['article_count']:,}</td>"
        f"<td class=n>{r['unique_article_count']:,}</td><td class=n>{r['site_count']:,}</td>"
        f"<td class=t>{_esc(_when(r['first_published']))}</td><td class=t>{_esc(_when(r['last_published']))}</td></tr>"
        for i, r in enumerate(rows, 1))
    return f'<table id="top-stories"><thead>{head}</thead><tbody>{body}</tbody></table>'

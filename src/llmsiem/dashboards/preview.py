"""A static HTML preview of a Grafana dashboard JSON: its grid, panel titles and queries.

Not Grafana: no data and no charts. It reads the generated JSON (not the description), places
each panel by its ``gridPos`` on Grafana's 24-column grid, and prints the panel type, the
question it answers, its unit and its PromQL, so a reviewer sees what an import will show.
"""

from __future__ import annotations

from html import escape
from typing import Any

COLUMN_PX = 50
ROW_PX = 30


def _panel(panel: dict[str, Any]) -> str:
    grid = panel["gridPos"]
    style = (
        f"left:{grid['x'] * COLUMN_PX}px;top:{grid['y'] * ROW_PX}px;"
        f"width:{grid['w'] * COLUMN_PX - 8}px;height:{grid['h'] * ROW_PX - 8}px"
    )
    queries = "".join(
        f'<li><code class="expr">{escape(target["expr"])}</code>'
        f' <span class="legend">{escape(target.get("legendFormat", ""))}</span></li>'
        for target in panel["targets"]
    )
    unit = panel["fieldConfig"]["defaults"].get("unit", "")
    return (
        f'<section class="panel" data-id="{panel["id"]}" style="{style}">'
        f"<h2>{escape(panel['title'])}</h2>"
        f'<p class="meta">{escape(panel["type"])} · unit {escape(unit)}</p>'
        f'<p class="question">{escape(panel.get("description", ""))}</p>'
        f"<ol>{queries}</ol></section>"
    )


def preview_html(dashboard: dict[str, Any]) -> str:
    """One self-contained HTML page (no scripts, no network)."""
    panels = dashboard["panels"]
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(dashboard['title'])} (preview)</title><style>"
        "body{font:13px system-ui,sans-serif;background:#111217;color:#ccccdc;margin:16px}"
        "h1{font-size:18px;margin:0 0 4px}"
        f".grid{{position:relative;width:{24 * COLUMN_PX}px;height:{bottom * ROW_PX}px}}"
        ".panel{position:absolute;box-sizing:border-box;background:#181b1f;"
        "border:1px solid #2c3235;border-radius:4px;padding:6px 8px;overflow:hidden}"
        ".panel h2{font-size:14px;margin:0;color:#fff}.meta{color:#8e8e8e;margin:2px 0}"
        ".question{margin:2px 0 4px}ol{margin:0;padding-left:18px}"
        ".expr{color:#6e9fff;word-break:break-all}.legend{color:#8e8e8e}"
        "</style></head><body>"
        f"<h1>{escape(dashboard['title'])}</h1>"
        f'<p class="meta">Grafana dashboard {escape(dashboard["uid"])}, '
        f"schemaVersion {dashboard['schemaVersion']}, {len(panels)} panels; static preview "
        "(layout, titles and queries, no data)</p>"
        f'<div class="grid">{"".join(map(_panel, panels))}</div></body></html>\n'
    )

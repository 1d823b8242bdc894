"""挂图作战: tasks as bars against their deadlines and milestones, coloured by status.

Plain SVG with <text>: the reader's browser or mail client draws the Chinese with its
own fonts, so the server needs no CJK font (unlike the bulletin's matplotlib PNGs).
Deterministic: the same tasks and `today` give the same bytes (the bulletin embeds it).
"""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

from hazardloop.config import labels

COLORS = {"not_started": "#9e9e9e", "in_progress": "#1e88e5", "reported": "#fb8c00", "verified": "#43a047",
          "returned": "#8e24aa", "overdue": "#e53935"}
LEGEND = [(k, labels.TASK_STATES[k]) for k in ("not_started", "in_progress", "reported", "verified", "returned")] + \
    [("overdue", "逾期")]
FONT = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC','WenQuanYi Zen Hei',sans-serif"
LABEL_W, CHART_W, ROW_H, TOP = 380, 640, 22, 58


def _x(day: date, lo: date, span: int) -> float:
    return LABEL_W + CHART_W * max(0, min(span, (day - lo).days)) / span


def status_of(task: dict[str, Any]) -> str:
    return "overdue" if task["overdue"] else task["state"]


def svg(tasks: list[dict[str, Any]], today: date, title: str) -> str:
    """The chart of `tasks` (plans.tasks.task_dict rows) as SVG text."""
    rows = sorted(tasks, key=lambda t: (t["deadline"], t["code"]))
    days = [date.fromisoformat(t["start"]) for t in rows] + [date.fromisoformat(t["deadline"]) for t in rows]
    lo = min(days + [today]).replace(month=1, day=1) if rows else today.replace(month=1, day=1)
    hi_day = max(days + [today]) if rows else today
    hi = date(hi_day.year, 12, 31)
    span = max(1, (hi - lo).days)
    height = TOP + ROW_H * max(1, len(rows)) + 40
    width = LABEL_W + CHART_W + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="12" role="img" '
           f'aria-label="{escape(title)}">',
           f'<title>{escape(title)}</title>',
           f'<text x="8" y="18" font-size="15" font-weight="bold">{escape(title)}</text>']
    lx = 8
    for code, name in LEGEND:
        out.append(f'<rect x="{lx}" y="28" width="12" height="12" fill="{COLORS[code]}"/>'
                   f'<text x="{lx + 16}" y="38">{escape(name)}</text>')
        lx += 20 + 13 * len(name)
    out.append(f'<text x="{lx + 4}" y="38">◆ 节点</text>')
    # the axis: one tick per quarter
    y_axis = TOP - 4
    for year in range(lo.year, hi.year + 1):
        for month in (1, 4, 7, 10):
            d = date(year, month, 1)
            x = _x(d, lo, span)
            out.append(f'<line x1="{x:.1f}" y1="{y_axis}" x2="{x:.1f}" y2="{height - 30}" stroke="#ddd"/>'
                       f'<text x="{x + 2:.1f}" y="{y_axis - 2}" font-size="10" fill="#555">{year}.{month}</text>')
    for i, t in enumerate(rows):
        y = TOP + i * ROW_H
        status = status_of(t)
        start, deadline = date.fromisoformat(t["start"]), date.fromisoformat(t["deadline"])
        x0, x1 = _x(start, lo, span), _x(deadline, lo, span)
        label = f'{t["code"]} {t["lead_name"]}：{t["content"]}'
        if len(label) > 30:
            label = label[:29] + "…"
        tip = (f'{t["code"]} {t["content"]}\n牵头：{t["lead_name"]}　时限：{t["deadline"]}　'
               f'{labels.TASK_STATES[t["state"]]}{"（逾期）" if t["overdue"] else ""}　进度 {t["percent"]}%')
        out.append(f'<g class="task" data-code="{escape(t["code"])}" data-status="{status}">'
                   f'<title>{escape(tip)}</title>'
                   f'<text x="8" y="{y + 15}">{escape(label)}</text>'
                   f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(2.0, x1 - x0):.1f}" height="{ROW_H - 8}" '
                   f'fill="{COLORS[status]}" fill-opacity="0.35" stroke="{COLORS[status]}"/>'
                   f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(0.0, (x1 - x0) * t["percent"] / 100):.1f}" '
                   f'height="{ROW_H - 8}" fill="{COLORS[status]}"/>')
        for m in t.get("milestones") or []:
            mx = _x(date.fromisoformat(m["date"]), lo, span)
            tip = escape(m["date"] + " " + m["text"])
            out.append(f'<text x="{mx - 5:.1f}" y="{y + 16}" font-size="11">◆<title>{tip}'
                       f'</title></text>')
        out.append("</g>")
    tx = _x(today, lo, span)
    out.append(f'<line x1="{tx:.1f}" y1="{TOP - 4}" x2="{tx:.1f}" y2="{height - 30}" stroke="#e53935" '
               f'stroke-dasharray="4 3"/><text x="{tx + 3:.1f}" y="{height - 18}" fill="#e53935" font-size="11">'
               f'{today.isoformat()}</text>')
    if not rows:
        out.append(f'<text x="{LABEL_W}" y="{TOP + 15}">（没有任务）</text>')
    out.append("</svg>")
    return "\n".join(out)

"""The monthly bulletin (月通报): HTML from the statistics as of the month's last day.

Everything in it is computed as of the end of the month from the audit trail
(statistics, trends, overdue hazards, inspections recorded by then, red/black
list), and nothing in it depends on when it is rendered: no clock, fixed chart
size and dpi, PNG written without the software tag, fixed SVG hash salt.  So
rendering a past month again later gives byte-identical HTML on the same
installation (same matplotlib, same fonts).

The 文号, storing the document with its hash and delivering it through the
outbox belong to the document infrastructure (the escalation branch): `render`
takes an optional `doc_number` to print in the header.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlmodel import Session, select

from hazardloop.config import calendar
from hazardloop.config.settings import get_settings
from hazardloop.models.escalation import Document, EscalationCycle, EscalationStep
from hazardloop.models.tables import Enterprise, Hazard
from hazardloop.escalation import units as unit_ladder
from hazardloop.reports import inspections, redblack, stats
from hazardloop.reports import campaigns as campaign_numbers
from hazardloop.plans import dispatch

TEMPLATES = Path(__file__).resolve().parent / "templates"
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "Droid Sans Fallback", "AR PL UMing CN")
CJK_FONT_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                  "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
                  "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")
TREND_MONTHS = 12
STOCK_FROM = date(2023, 12, 31)  # the stock's progress is drawn from where it stood at the end of 2023
DPI = 100
MAX_LISTED = 200  # overdue hazards named in the bulletin (the rest are counted)


def month_ends(last: date, count: int) -> list[date]:
    out, day = [], last
    for _ in range(count):
        out.append(day)
        day = day.replace(day=1) - timedelta(days=1)
    return out[::-1]


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed CJK font, registered with matplotlib (None: none found)."""
    from matplotlib import font_manager

    for path in CJK_FONT_FILES:
        if Path(path).exists():
            try:
                font_manager.fontManager.addfont(path)
            except Exception:  # noqa: BLE001 - an unreadable font file is just skipped
                continue
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in CJK_FONTS if n in names), None)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    # metadata Software=None: no matplotlib version stamp; fixed dpi: fixed pixel size.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure():  # noqa: ANN202
    import matplotlib

    from matplotlib.figure import Figure

    matplotlib.rcParams["svg.hashsalt"] = "hazardloop-bulletin"
    font = cjk_font()
    rc = {"font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"], "axes.unicode_minus": False}
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(8, 3.6), dpi=DPI)
    return fig, rc


def trend_chart(points: list[dict[str, Any]]) -> str:
    import matplotlib

    fig, rc = _figure()
    with matplotlib.rc_context(rc):
        ax = fig.add_subplot()
        labels = [f"{p['date'].year}-{p['date'].month:02d}" for p in points]
        ax.plot(labels, [p["open"] for p in points], marker="o", color="#1f4e9c", label="未销号隐患")
        ax.plot(labels, [p["overdue"] for p in points], marker="s", color="#c0392b", label="其中逾期")
        ax.set_title("未销号与逾期隐患月度趋势")
        ax.set_ylabel("条")
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left")
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        fig.tight_layout()
        return _png(fig)


def stock_chart(points: list[dict[str, Any]]) -> str:
    import matplotlib

    fig, rc = _figure()
    with matplotlib.rc_context(rc):
        ax = fig.add_subplot()
        labels = [f"{p['date'].year}-{p['date'].month:02d}" for p in points]
        ax.bar(labels, [p["stock_open"] for p in points], color="#d68910", label="存量隐患尚未销号")
        if "2024-12" in labels:
            ax.axvline(labels.index("2024-12"), color="#c0392b", linestyle="--", label="2024 年底清零目标")
        ax.set_title("存量隐患（2023 年及以前发现）清零进度")
        ax.set_ylabel("条")
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper right")
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        fig.tight_layout()
        return _png(fig)


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "—"


@dataclass
class RankedRegion:
    rank: int
    name: str
    row: stats.Row
    closure: str
    overdue_share: str


def rank_regions(rows: list[stats.Row], names: dict[str, str]) -> list[RankedRegion]:
    """Best first: closure rate (closed / confirmed) high, overdue share low, then the name."""
    def key(r: stats.Row) -> tuple:
        closure = r.closed / r.confirmed if r.confirmed else 0.0
        overdue = r.overdue / r.open if r.open else 0.0
        return (-round(closure, 6), round(overdue, 6), r.key)

    ranked = sorted((r for r in rows if r.found), key=key)
    return [RankedRegion(i, names.get(r.key, r.key), r, _pct(r.closed, r.confirmed), _pct(r.overdue, r.open))
            for i, r in enumerate(ranked, 1)]


def bulletin_steps(session: Session, first: date, as_of: date, overdue: dict[int, date | None]) -> list[dict[str, Any]]:
    """Hazards whose 通报 step (kind bulletin) was issued during the month, oldest deadline first.

    A step counts from its created_at (the sweep's issue time), so steps issued
    after the month never change a past bulletin.  Days overdue are as of the
    month's end, for hazards still overdue then (`overdue`: hazard id -> deadline in
    force); None means it was submitted or closed by then."""
    lo, hi = stats.cutoff(first - timedelta(days=1)), stats.cutoff(as_of)
    rows = session.exec(
        select(EscalationStep.hazard_id, Hazard.code, Hazard.title, Hazard.region_code, Enterprise.name,
               Document.number, Document.issue_date, EscalationCycle.deadline)
        .join(Hazard, Hazard.id == EscalationStep.hazard_id)
        .join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .join(EscalationCycle, (EscalationCycle.hazard_id == EscalationStep.hazard_id)
              & (EscalationCycle.cycle == EscalationStep.cycle))
        .outerjoin(Document, Document.step_id == EscalationStep.id)
        .where(EscalationStep.kind == "bulletin", EscalationStep.status.in_(("issued", "approved")),
               EscalationStep.created_at > lo, EscalationStep.created_at <= hi)).all()
    out = []
    for hid, code, title, region, ent, number, issued, cycle_deadline in rows:
        deadline = stats._local_day(cycle_deadline)
        still = hid in overdue
        out.append({"code": code, "title": title, "region": region, "enterprise": ent, "number": number or "—",
                    "issue_date": issued, "deadline": deadline,
                    "days": (as_of - (overdue[hid] or deadline)).days if still else None})
    out.sort(key=lambda r: (r["deadline"], r["code"]))
    return out


def context(session: Session, month: str, doc_number: str | None = None) -> dict[str, Any]:
    # Every per-hazard question below is asked as of the same moment: answer it once (a temporary table).
    with stats.snapshot(session, calendar.month_bounds(month)[1]):
        return _context(session, month, doc_number)


def _context(session: Session, month: str, doc_number: str | None = None) -> dict[str, Any]:
    first, as_of = calendar.month_bounds(month)
    by_region = stats.compute(session, as_of, "region")
    by_industry = stats.compute(session, as_of, "industry")
    region_names = stats.labels(session, "region")
    industry_names = stats.labels(session, "industry")
    n_stock = max(1, (as_of.year - STOCK_FROM.year) * 12 + as_of.month - STOCK_FROM.month + 1)
    trend_days, stock_days = month_ends(as_of, TREND_MONTHS), month_ends(as_of, min(n_stock, 36))
    points = {p["date"]: p for p in stats.series(session, sorted(set(trend_days) | set(stock_days)))}
    trend, stock = [points[d] for d in trend_days], [points[d] for d in stock_days]
    lists = redblack.compute(session, month)
    gaps = [g for g in inspections.missing(session, as_of) if first <= g.end <= as_of]

    overdue = stats.hazard_states(session, as_of, only_overdue=True)
    info = {}
    if overdue:
        ids = [h["hazard_id"] for h in overdue[:MAX_LISTED]]
        rows = session.exec(select(Hazard.id, Hazard.code, Hazard.region_code, Enterprise.name)
                            .join(Enterprise, Enterprise.id == Hazard.enterprise_id).where(Hazard.id.in_(ids))).all()
        info = {r[0]: r for r in rows}
    overdue_rows = [{"code": info[h["hazard_id"]][1], "region": region_names.get(info[h["hazard_id"]][2], ""),
                     "enterprise": info[h["hazard_id"]][3], "deadline": h["deadline"],
                     "days": (as_of - h["deadline"]).days} for h in overdue[:MAX_LISTED]]
    overdue_rows.sort(key=lambda r: (-r["days"], r["code"]))
    named = bulletin_steps(session, first, as_of, {h["hazard_id"]: h["deadline"] for h in overdue})
    for r in named:
        r["region"] = region_names.get(r["region"], r["region"] or "")
    # The unit ladder's letters, bulletins and interviews of the month (issued steps never change;
    # a 曝光 proposal is decided later and published by its own document).
    units = unit_ladder.steps_for_month(session, month, status="issued")
    t = by_region.total
    settings = get_settings()
    return {
        "settings": settings, "doc_number": doc_number, "month": month, "year": first.year, "mon": first.month,
        "as_of": as_of, "total": t, "stock": by_region.stock, "by_year": by_region.by_year,
        "closure": _pct(t.closed, t.confirmed), "on_time": _pct(t.closed_on_time, t.closed),
        "regions": rank_regions(by_region.rows, region_names),
        "industries": [(industry_names.get(r.key, r.key), r, _pct(r.closed, r.confirmed)) for r in by_industry.rows],
        "trend_png": trend_chart(trend), "stock_png": stock_chart(stock), "trend": trend,
        "overdue": overdue_rows, "overdue_more": max(0, len(overdue) - MAX_LISTED),
        "named": named[:MAX_LISTED], "named_more": max(0, len(named) - MAX_LISTED),
        "lagging_units": units,
        "campaigns": campaign_numbers.bulletin_section(session, as_of),  # 五项整治 (issue 19)
        "plan_work": dispatch.month_section(session, month),  # 三年行动任务月调度 (issue 18)
        "gaps": gaps, "red": lists.red, "black": lists.black, "notes": by_region.notes + lists.notes,
        "stock_last_year": stats.STOCK_LAST_YEAR,
    }


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "html.j2"]),
                      undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["cn_date"] = lambda d: f"{d.year}年{d.month}月{d.day}日"
    env.filters["days"] = lambda v: "—" if v is None else f"{v:.1f}"
    return env


def render(session: Session, month: str, doc_number: str | None = None) -> str:
    """The bulletin for `month` (YYYY-MM) as HTML text."""
    return _env().get_template("bulletin.html.j2").render(**context(session, month, doc_number))


def render_both(session: Session, month: str, doc_number: str | None = None) -> tuple[str, str]:
    """(HTML, plain text) from one computation of the figures: the text is what messages carry."""
    ctx = context(session, month, doc_number)
    env = _env()
    return env.get_template("bulletin.html.j2").render(**ctx), env.get_template("bulletin.txt.j2").render(**ctx)



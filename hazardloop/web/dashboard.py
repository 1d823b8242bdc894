"""首页/态势: the committee office's numbers, from the same functions as `hazardloop stats`
and the monthly bulletin (reports.stats.compute / series, escalation.units.list_steps).

Every number links to the 台账 filtered the same way.  The figures are computed from the
audit trail as of today (like the CLI) and kept per database and day; when the trail has
moved on, the next view starts one recomputation in the background and is served the last
board meanwhile (the page says when it was computed) -- see board().  Charts are SVG drawn here with <text>: the browser
draws the Chinese with its own fonts (no font on the server), no script, and they print."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from sqlalchemy import func
from sqlmodel import Session, select

from hazardloop.config import calendar, clock
from hazardloop.escalation import units
from hazardloop.models.db import session_scope
from hazardloop.models.tables import AppUser, AuditEvent
from hazardloop.reports import stats
from hazardloop.web import office

TREND_MONTHS = 12
BY = ("region", "industry", "department")
LINKED = ("region", "industry", "department")  # the 台账 filters by each (department: 监管部门)


@dataclass
class Board:
    as_of: date
    month: str
    total: stats.Row
    closed_this_month: int
    stock: stats.YearRow
    this_year: stats.YearRow
    groups: dict[str, list[dict[str, Any]]]
    trend: list[dict[str, Any]]
    lagging_month: str
    lagging: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    computed_at: datetime = field(default_factory=clock.utcnow)
    head: int = 0  # the audit trail's last event when computed
    charts: dict[str, Markup] | None = field(default=None, repr=False)  # drawn once per board (the page)

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"as_of": self.as_of.isoformat(), "month": self.month, "total": asdict(self.total),
                "closed_this_month": self.closed_this_month, "stock": asdict(self.stock),
                "this_year": asdict(self.this_year), "groups": self.groups,
                "trend": [{**p, "date": p["date"].isoformat()} for p in self.trend],
                "lagging_month": self.lagging_month, "lagging": self.lagging, "notes": self.notes,
                "computed_at": self.computed_at.isoformat(), "audit_seq": self.head}


def _previous_month(month: str) -> str:
    first, _ = calendar.month_bounds(month)
    return calendar.month_of(first - timedelta(days=1))


def build(session: Session, today: date) -> Board:
    month = calendar.month_of(today)
    first, _ = calendar.month_bounds(month)
    groups: dict[str, list[dict[str, Any]]] = {}
    with stats.snapshot(session, today):  # one pass over the audit trail for both groupings
        results = {by: stats.compute(session, today, by) for by in BY}
    for by, result in results.items():
        names = stats.labels(session, by)
        groups[by] = [{"key": r.key, "name": names.get(r.key, r.key or "—"), "open": r.open, "overdue": r.overdue,
                       "closed": r.closed, "confirmed": r.confirmed}
                      for r in sorted(result.rows, key=lambda r: (-r.open, r.key or ""))]
    now = results["region"]
    before = stats.compute(session, first - timedelta(days=1), "state")
    year = next((y for y in now.by_year if y.year == today.year), stats.YearRow(today.year))
    trend = stats.series(session, _month_ends(today, TREND_MONTHS))
    lag_month = _previous_month(month)  # the evaluation of a month runs after it ends
    lagging = [s for s in units.list_steps(session, lag_month) if s["status"] != "declined"]
    return Board(today, month, now.total, max(0, now.total.closed - before.total.closed), now.stock, year,
                 groups, trend, lag_month, lagging, list(now.notes))


def _month_ends(today: date, count: int) -> list[date]:
    out, day = [today], today.replace(day=1) - timedelta(days=1)
    while len(out) < count:
        out.append(day)
        day = day.replace(day=1) - timedelta(days=1)
    return out[::-1]


@dataclass
class _Entry:
    head: int
    board: Board
    refreshing: bool = False
    took: float = 0.0  # seconds the board took to compute
    done: float = 0.0  # time.monotonic() when it was ready

    def may_refresh(self) -> bool:
        # While writes keep coming the trail moves on at every view: recomputing back to back would
        # keep a core busy (seconds per board at 100,000 hazards, the GIL shared with the pages of
        # this worker).  The next recomputation waits REFRESH_PAUSE times as long as the last one
        # took: the board is at most that much older than the trail, the pages keep most of the CPU.
        return time.monotonic() - self.done >= REFRESH_PAUSE * self.took


REFRESH_PAUSE = 4


class _Cache:
    """One per app (create_app): the boards by day, and the lock around them."""

    def __init__(self) -> None:
        self.entries: dict[date, _Entry] = {}
        self.lock = threading.Lock()


def _compute(url: str | None, today: date, head: int) -> _Entry:
    t0 = time.monotonic()
    with session_scope(url, write=False) as s:
        got = build(s, today)
    got.head = head
    done = time.monotonic()
    return _Entry(head, got, took=done - t0, done=done)


def _refresh(cache: _Cache, url: str | None, today: date, head: int) -> None:
    try:
        fresh = _compute(url, today, head)
        with cache.lock:
            cache.entries[today] = fresh
    except Exception:  # noqa: BLE001 - a failed refresh leaves the last board; the next view tries again
        with cache.lock:
            if today in cache.entries:
                cache.entries[today].refreshing = False


def board(request: Request) -> Board:
    """The board for today.  Computing it reads the whole audit trail (seconds on 100,000
    hazards), so: the first view of the day computes it; after that a view that finds the
    trail moved on is served the last board at once (it says when it was computed) while
    one background thread computes the new one.  Nobody waits on a recomputation."""
    today = clock.today()
    url = request.app.state.db_url
    with office.db(request) as s:
        head = int(s.exec(select(func.max(AuditEvent.seq))).one() or 0)
    cache: _Cache = request.app.state.dashboard_cache
    with cache.lock:
        entry = cache.entries.get(today)
        if entry is not None and (entry.head == head or entry.refreshing or
                                  (entry.head < head and not entry.may_refresh())):
            return entry.board
        if entry is not None and entry.head < head:
            entry.refreshing = True
            threading.Thread(target=_refresh, args=(cache, url, today, head), daemon=True,
                             name="dashboard-refresh").start()
            return entry.board
    # the first view of the day (or a trail that went backwards: a restored database)
    fresh = _compute(url, today, head)
    with cache.lock:
        for old in [d for d in cache.entries if d != today]:
            del cache.entries[old]
        cache.entries[today] = fresh
        return fresh.board


# --- charts: SVG with text, presentation attributes only (the CSP forbids inline style) ---------


def _svg_bars(rows: list[dict[str, Any]], key: str, link: Any, title: str, limit: int = 12) -> Markup:
    rows = rows[:limit]
    top = max([r[key] for r in rows] + [1])
    bar_h, gap, left, width = 22, 8, 130, 300
    height = len(rows) * (bar_h + gap) + 10
    parts = [f'<svg class="chart bars" viewBox="0 0 {left + width + 50} {height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, r in enumerate(rows):
        y = 5 + i * (bar_h + gap)
        w = max(1, round(width * r[key] / top)) if r[key] else 0
        href = link(r) if link else None
        parts.append((f'<a href="{escape(href)}">' if href else "")
                     + f'<text x="{left - 6}" y="{y + 16}" text-anchor="end" '
                     f'font-size="14" fill="#1d2733">{escape(r["name"][:8])}</text>'
                     f'<rect x="{left}" y="{y}" width="{w}" height="{bar_h}" fill="#1f5fbf"/>'
                     f'<text x="{left + w + 6}" y="{y + 16}" font-size="14" fill="#1d2733">{r[key]}</text>'
                     + ("</a>" if href else ""))
    parts.append("</svg>")
    return Markup("".join(parts))


def _svg_trend(points: list[dict[str, Any]]) -> Markup:
    series = (("open", "#1f5fbf", "未销号"), ("overdue", "#b3261e", "逾期"), ("stock_open", "#8a6d00", "存量未销号"))
    top = max([p[k] for p in points for k, _, _ in series] + [1])
    left, right, h, w = 40, 14, 200, 440
    n = max(1, len(points) - 1)

    def xy(i: int, v: int) -> tuple[float, float]:
        return left + (w - left - right) * i / n, 20 + (h - 50) * (1 - v / top)

    parts = [f'<svg class="chart" viewBox="0 0 {w} {h + 20}" role="img" aria-label="按月趋势：未销号、逾期、存量未销号" '
             'xmlns="http://www.w3.org/2000/svg"><title>按月趋势</title>']
    for frac in (0, 0.5, 1):
        _, y = xy(0, round(top * frac))
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - right}" y2="{y:.1f}" stroke="#d0d7e0"/>'
                     f'<text x="{left - 6}" y="{y + 5:.1f}" text-anchor="end" font-size="12" fill="#5a6b7f">'
                     f'{round(top * frac)}</text>')
    for i, p in enumerate(points):
        x, _ = xy(i, 0)
        parts.append(f'<text x="{x:.1f}" y="{h - 12}" text-anchor="middle" font-size="11" fill="#5a6b7f">'
                     f'{p["date"].month}月</text>')
    for k, color, label in series:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, p[k]) for i, p in enumerate(points)))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2.5"/>')
    for j, (k, color, label) in enumerate(series):
        x = left + j * 120
        parts.append(f'<rect x="{x}" y="{h + 2}" width="14" height="10" fill="{color}"/>'
                     f'<text x="{x + 20}" y="{h + 12}" font-size="13" fill="#1d2733">{label}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def ledger_link(**params: Any) -> str:
    """The 台账 filtered as the number was counted."""
    clean = {k: v for k, v in params.items() if v}
    return "/hazards" + ("?" + urlencode(clean) if clean else "")


# --- routes ------------------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)


@router.get("/dashboard")
def dashboard_page(request: Request) -> Response:
    got = office.page_user(request)
    if isinstance(got, Response):
        return got
    user, csrf = got
    b = board(request)
    drawn = b.charts
    if drawn is None:  # every view of one board draws the same SVG: draw it once (a race draws it twice, harmlessly)
        drawn = {by: _svg_bars(b.groups[by], "open",
                               (lambda r, by=by: ledger_link(**{by: r["key"]})) if by in LINKED else None,
                               f"按{stats.DIMENSION_NAMES[by]}：未销号") for by in BY}
        drawn["trend"] = _svg_trend(b.trend)
        b.charts = drawn
    charts = {by: drawn[by] for by in BY}
    return office.render(request, "office/dashboard.html", {
        "user": user, "csrf": csrf, "b": b, "charts": charts, "trend": drawn["trend"],
        "link": ledger_link, "DIM": stats.DIMENSION_NAMES, "BY": BY, "LINKED": LINKED})


api = APIRouter(prefix="/api/v1", tags=["office"])


@api.get("/dashboard", summary="首页/态势（市安委办）：未销号、逾期、本月销号、动态清零、按镇街区/行业、按月趋势、落后单位")
def dashboard_api(request: Request, user: AppUser = Depends(office.api_office)) -> dict[str, Any]:  # noqa: B008
    return board(request).as_dict()


def install(app: FastAPI) -> None:
    app.state.dashboard_cache = _Cache()
    app.include_router(api)
    app.include_router(router)

"""Statistics of the ledger as of any date, rebuilt from the audit trail.

A hazard's state, deadline, rejections, submission and close-out as of a date
come from its audit events up to the end of that Shanghai day, never from
today's hazard row; only what never changes after the report (region, industry,
channel, enterprise, found_at) and the level fixed by the one confirm event are
read from the hazard row.  So the figures for a past date stay the same however
the ledger moves on.

All the work is one SQL statement (grouped aggregates and window functions over
audit_event), for SQLite and PostgreSQL alike; Python only shapes the few result
rows.

Definitions (also in docs/stats.md):
- found: reported by the date; confirmed: confirmed (挂牌) by the date;
- closed: closed (销号) by the date; open: found, listed, rectifying or reviewed;
- overdue: rectifying with its deadline (as it stood then) before the date;
- closed on time: closed, and the completion that was approved was submitted on
  or before the deadline in force;
- median days to close: from found_at to the close-out, in days (1 decimal);
- rejections: reject events by the date; escalations: rows of escalation_step
  issued by the date, when that table exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import Session

from hazardloop.config import clock

DIMENSIONS = ("region", "industry", "channel", "level", "state", "department")
DIMENSION_NAMES = {"region": "镇街区", "industry": "行业领域", "channel": "发现渠道", "level": "督办级别",
                   "state": "状态", "department": "监管部门"}
LIFECYCLE = ("report", "confirm", "dismiss", "start_rectification", "extend", "reject", "submit", "approve",
             "reopen", "close_imported", "review_imported")
# The state after each lifecycle action (the last action as of a date gives the state then).
STATE_CODES = {"found": 0, "listed": 1, "dismissed": 2, "rectifying": 3, "reviewed": 4, "closed": 5}
ACTION_STATE = {"report": 0, "confirm": 1, "dismiss": 2, "start_rectification": 3, "extend": 3, "reject": 3,
                "submit": 4, "approve": 5,
                # unmerge returns a merge's duplicate to found; a ledger import records a close-out its
                # sheet reports (closed as of the import: the trail's time, like every figure here)
                "reopen": 0, "close_imported": 5,
                # the office sends an imported close-out to review (导入销号送审)
                "review_imported": 4}
STOCK_LAST_YEAR = 2023  # 存量: found in 2023 or before
ESCALATION_TIME_COLUMNS = ("issued_at", "fired_at", "created_at", "ts")
METRICS = ("found", "confirmed", "closed", "open", "overdue", "closed_on_time", "dismissed", "rejections",
           "escalations", "closed_imported")


@dataclass
class Row:
    key: str
    found: int = 0
    confirmed: int = 0
    closed: int = 0
    open: int = 0
    overdue: int = 0
    closed_on_time: int = 0
    dismissed: int = 0
    rejections: int = 0
    escalations: int = 0
    closed_imported: int = 0  # of closed: closed by a ledger import (导入销号), not reviewed (审核销号)
    median_days_to_close: float | None = None


@dataclass
class YearRow:
    year: int
    found: int = 0
    closed: int = 0
    open: int = 0
    dismissed: int = 0


@dataclass
class Stats:
    as_of: date
    by: str
    rows: list[Row]
    total: Row
    stock: YearRow  # found <= 2023 (存量)
    by_year: list[YearRow]  # each year from 2024 (增量)
    escalations_counted: bool
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(), "by": self.by,
            "rows": [asdict(r) for r in self.rows], "total": asdict(self.total),
            "stock": asdict(self.stock), "by_year": [asdict(y) for y in self.by_year],
            "escalations_counted": self.escalations_counted, "notes": self.notes,
        }


def cutoff(as_of: date) -> datetime:
    """The end of the Shanghai day, in UTC."""
    return clock.end_of_day_utc(as_of)


def bind_time(conn: Connection, moment: datetime) -> Any:
    """A timestamp parameter as the database compares it: SQLite keeps UTC text."""
    if conn.dialect.name == "sqlite":
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def _sql_parts(dialect: str) -> dict[str, str]:
    if dialect == "postgresql":
        return {
            "deadline": "CAST(d.after ->> 'deadline' AS TIMESTAMPTZ)",
            "days": "EXTRACT(EPOCH FROM (closed_ts - found_at)) / 86400.0",
            "year": "CAST(CAST(EXTRACT(YEAR FROM (h.found_at AT TIME ZONE 'Asia/Shanghai')) AS INTEGER) AS TEXT)",
            "seq": "CAST(e.seq AS BIGINT)",
        }
    # SQLite: timestamps are UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'; the audit JSON holds ISO text with 'T'.
    return {
        "deadline": "replace(substr(json_extract(d.after, '$.deadline'), 1, 26), 'T', ' ')",
        "days": "julianday(closed_ts) - julianday(found_at)",
        "year": "strftime('%Y', h.found_at, '+8 hours')",
        "seq": "e.seq",
    }


def escalation_filter(conn: Connection, alias: str = "x") -> tuple[str | None, str]:
    """The WHERE condition for escalation steps in effect by :t, and a note.

    The escalation ladder lives on another branch; its table is used when it is
    there: hazard_id, the first time column found, and -- when there is a status
    column -- only steps in effect: 'issued' by their time, 'approved' (曝光) by
    their decision time; 'proposed' and 'declined' ones are not steps issued."""
    insp = inspect(conn)
    if not insp.has_table("escalation_step"):
        return None, "督办措施（escalation_step）表不存在：督办措施数计为 0。"
    cols = {c["name"] for c in insp.get_columns("escalation_step")}
    if "hazard_id" not in cols:
        return None, "escalation_step 表没有 hazard_id 列：督办措施数计为 0。"
    time_col = next((c for c in ESCALATION_TIME_COLUMNS if c in cols), None)
    if time_col is None:
        return "1 = 1", "escalation_step 表没有时间列：督办措施按全部记录计数（不能按历史日期复现）。"
    if "status" in cols:
        decided = f"COALESCE({alias}.decided_at, {alias}.{time_col})" if "decided_at" in cols else f"{alias}.{time_col}"
        return (f"(({alias}.status = 'issued' AND {alias}.{time_col} <= :t) OR "
                f"({alias}.status = 'approved' AND {decided} <= :t))"), ""
    return f"{alias}.{time_col} <= :t", ""


def escalation_source(conn: Connection) -> tuple[str | None, str]:
    """Escalation steps per hazard by :t as a SQL subquery (None: no such table), and a note."""
    where, note = escalation_filter(conn)
    if where is None:
        return None, note
    return f"SELECT x.hazard_id, COUNT(*) AS n FROM escalation_step x WHERE {where} GROUP BY x.hazard_id", note


def per_hazard_sql(dialect: str, escalation_sql: str | None) -> str:
    """The CTEs `per` and `hz`: one row per hazard as it stood at :t."""
    p = _sql_parts(dialect)
    case = " ".join(f"WHEN '{a}' THEN {c}" for a, c in ACTION_STATE.items())
    actions = ", ".join(f"'{a}'" for a in LIFECYCLE)
    esc_join = f"LEFT JOIN ({escalation_sql}) esc ON esc.hazard_id = per.hazard_id" if escalation_sql else ""
    esc_col = "COALESCE(esc.n, 0)" if escalation_sql else "0"
    # Few aggregates, one pass: the last event's state is packed into MAX(seq * 8 + state), so
    # no join back is needed to find it; "confirmed" follows from the state (confirm is the only
    # way out of found but dismiss), and a closed hazard's last lifecycle event is its close-out,
    # so MAX(ts) is the close-out time.  The deadline is read (from the JSON of the event that
    # set it) only where it matters: rectifying (overdue) and closed (on time).
    return f"""
per AS (
  SELECT e.hazard_id AS hazard_id,
         MAX({p['seq']} * 8 + CASE e.action {case} END) AS lastcode,
         MAX(e.ts) AS last_ts,
         MAX(CASE WHEN e.action IN ('start_rectification', 'extend', 'reject') THEN e.seq END) AS dl_seq,
         SUM(CASE WHEN e.action = 'reject' THEN 1 ELSE 0 END) AS rejections,
         MAX(CASE WHEN e.action = 'submit' THEN e.ts END) AS submit_ts,
         MAX(CASE WHEN e.action = 'close_imported' THEN e.seq END) AS imp_seq,
         MAX(CASE WHEN e.action = 'approve' THEN e.seq END) AS appr_seq
  FROM audit_event e
  WHERE e.hazard_id IS NOT NULL AND e.ts <= :t AND e.action IN ({actions})
  GROUP BY e.hazard_id
),
hz AS MATERIALIZED (
  SELECT per.hazard_id, per.lastcode % 8 AS st, per.rejections,
         CASE WHEN per.lastcode % 8 IN (1, 3, 4, 5) THEN 1 ELSE 0 END AS confirmed,
         per.submit_ts, CASE WHEN per.lastcode % 8 = 5 THEN per.last_ts END AS closed_ts,
         CASE WHEN per.lastcode % 8 = 5 AND per.imp_seq IS NOT NULL
                   AND (per.appr_seq IS NULL OR per.appr_seq < per.imp_seq) THEN 1 ELSE 0 END AS closed_imported,
         {p['deadline']} AS deadline,
         h.region_code, h.industry_code, h.channel, h.enterprise_id, h.found_at, h.supervising_department,
         CASE WHEN per.lastcode % 8 IN (1, 3, 4, 5) THEN h.level END AS level,
         {p['year']} AS found_year,
         {esc_col} AS escalations
  FROM per
  JOIN hazard h ON h.id = per.hazard_id
  LEFT JOIN audit_event d ON d.seq = per.dl_seq AND per.lastcode % 8 IN (3, 5)
  {esc_join}
)"""


SNAPSHOT_TABLE = "hz_snapshot"
_SNAPSHOT_KEY = "hazardloop_hz_snapshot"


def _hz_ctes(conn: Connection, t: Any, escalation_sql: str | None) -> str:
    """The `hz` CTE: from the snapshot taken for this very cutoff, if one is active, else computed."""
    if conn.info.get(_SNAPSHOT_KEY) == t:
        return f"hz AS (SELECT * FROM {SNAPSHOT_TABLE})"
    return per_hazard_sql(conn.dialect.name, escalation_sql).strip()


@contextmanager
def snapshot(session: Session, as_of: date) -> Iterator[None]:
    """Compute the per-hazard rows as of `as_of` once, into a temporary table, for several reports.

    The bulletin asks the same question (each hazard's state at the month's end) of
    compute (by region, by industry), hazard_states and enterprise_closure; each would
    read the whole audit trail again.  Inside this block they read the snapshot instead
    (same rows, same figures: it is the same CTE, escalations counted).  Temporary:
    private to this connection, dropped on exit."""
    conn = session.connection()
    t = bind_time(conn, cutoff(as_of))
    esc_sql, _ = escalation_source(conn)
    conn.execute(text(f"DROP TABLE IF EXISTS {SNAPSHOT_TABLE}"))
    conn.execute(text(f"CREATE TEMPORARY TABLE {SNAPSHOT_TABLE} AS WITH "
                      f"{per_hazard_sql(conn.dialect.name, esc_sql).strip()} SELECT * FROM hz"), {"t": t})
    conn.info[_SNAPSHOT_KEY] = t
    try:
        yield
    finally:
        conn.info.pop(_SNAPSHOT_KEY, None)
        conn.execute(text(f"DROP TABLE IF EXISTS {SNAPSHOT_TABLE}"))


def _key_expr(by: str) -> str:
    if by == "state":
        return "CASE st " + " ".join(f"WHEN {c} THEN '{s}'" for s, c in STATE_CODES.items()) + " END"
    return {"region": "region_code", "industry": "industry_code", "channel": "channel",
            "level": "COALESCE(level, '')", "department": "COALESCE(supervising_department, '')"}[by]


def stats_sql(dialect: str, by: str, escalation_sql: str | None, hz_ctes: str | None = None) -> str:
    """Counts per (group, found year) -- summed to groups, years and the total by the caller --
    and the medians per group and overall, in one statement."""
    p = _sql_parts(dialect)
    nulls = ", ".join(f"NULL AS {m}" for m in METRICS)
    return f"""
WITH {hz_ctes or per_hazard_sql(dialect, escalation_sql).strip()},
agg AS (
  SELECT {_key_expr(by)} AS k, found_year,
         COUNT(*) AS found,
         SUM(confirmed) AS confirmed,
         SUM(CASE WHEN st = 5 THEN 1 ELSE 0 END) AS closed,
         SUM(CASE WHEN st IN (0, 1, 3, 4) THEN 1 ELSE 0 END) AS open,
         SUM(CASE WHEN st = 3 AND deadline < :t THEN 1 ELSE 0 END) AS overdue,
         SUM(CASE WHEN st = 5 AND submit_ts <= deadline THEN 1 ELSE 0 END) AS closed_on_time,
         SUM(CASE WHEN st = 2 THEN 1 ELSE 0 END) AS dismissed,
         SUM(rejections) AS rejections,
         SUM(escalations) AS escalations,
         SUM(closed_imported) AS closed_imported
  FROM hz GROUP BY {_key_expr(by)}, found_year
),
closed AS (SELECT {_key_expr(by)} AS k, {p['days']} AS days FROM hz WHERE st = 5),
med_k AS (
  SELECT k, AVG(days) AS median FROM (
    SELECT k, days, ROW_NUMBER() OVER (PARTITION BY k ORDER BY days) AS rn, COUNT(*) OVER (PARTITION BY k) AS n
    FROM closed) x
  WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY k
),
med_t AS (
  SELECT AVG(days) AS median FROM (
    SELECT days, ROW_NUMBER() OVER (ORDER BY days) AS rn, COUNT(*) OVER () AS n FROM closed) x
  WHERE rn IN ((n + 1) / 2, (n + 2) / 2)
)
SELECT 'a' AS part, k, found_year, {", ".join(METRICS)}, NULL AS median FROM agg
UNION ALL SELECT 'm' AS part, k, NULL AS found_year, {nulls}, median FROM med_k
UNION ALL SELECT 't' AS part, '' AS k, NULL AS found_year, {nulls}, median FROM med_t
"""


def compute(session: Session, as_of: date | None = None, by: str = "region") -> Stats:
    """The statistics as of the end of `as_of` (Shanghai; default today), grouped by `by`."""
    if by not in DIMENSIONS:
        from hazardloop.errors import ValidationError

        raise ValidationError(f"分组方式必须是 {'、'.join(DIMENSIONS)} 之一，收到 {by!r}。")
    as_of = as_of or clock.today()
    conn = session.connection()
    esc_sql, note = escalation_source(conn)
    t = bind_time(conn, cutoff(as_of))
    result = conn.execute(text(stats_sql(conn.dialect.name, by, esc_sql, _hz_ctes(conn, t, esc_sql))),
                          {"t": t}).mappings().all()
    groups: dict[str, Row] = {}
    years: dict[int, YearRow] = {}
    total = Row(key="")
    stock = YearRow(STOCK_LAST_YEAR)
    for r in result:
        if r["part"] == "m":
            groups.setdefault(r["k"] or "", Row(key=r["k"] or "")).median_days_to_close = _median(r["median"])
            continue
        if r["part"] == "t":
            total.median_days_to_close = _median(r["median"])
            continue
        row = groups.setdefault(r["k"] or "", Row(key=r["k"] or ""))
        year = int(r["found_year"])
        ys = stock if year <= STOCK_LAST_YEAR else years.setdefault(year, YearRow(year))
        for m in METRICS:
            value = int(r[m] or 0)
            setattr(row, m, getattr(row, m) + value)
            setattr(total, m, getattr(total, m) + value)
            if hasattr(ys, m):
                setattr(ys, m, getattr(ys, m) + value)
    return Stats(as_of=as_of, by=by, rows=[groups[k] for k in sorted(groups)], total=total, stock=stock,
                 by_year=[years[y] for y in sorted(years)], escalations_counted=esc_sql is not None,
                 notes=[note] if note else [])


def _median(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def series(session: Session, dates: list[date]) -> list[dict[str, Any]]:
    """Open, overdue and open stock as of each date (the bulletin's trend charts), in one statement.

    Each lifecycle event holds the hazard's state from its own time until the next
    event's (LEAD); a date falls into exactly one such interval per hazard, the one
    of the last event by then -- the same rule as `compute`, so the figures agree
    (tested).  Close-outs and dismissals hold no open state and are left out, so a
    closed hazard counts only at the dates while it was open.

    No join of intervals with dates (that is rows x dates comparisons): each interval
    is turned into index ranges over the sorted dates by CASE chains -- the dates it
    covers are [i0, i1), the overdue ones from i2 on -- and grouped on those indexes,
    which leaves a few hundred rows; Python adds them up with difference arrays."""
    if not dates:
        return []
    conn = session.connection()
    dialect = conn.dialect.name
    p = _sql_parts(dialect)
    actions = ", ".join(f"'{a}'" for a in LIFECYCLE)
    days = sorted(set(dates))
    n = len(days)
    params: dict[str, Any] = {f"d{i}": bind_time(conn, cutoff(d)) for i, d in enumerate(days)}
    params["tmax"] = bind_time(conn, cutoff(days[-1]))
    # found in 2023 or before (Shanghai) <=> found_at before 2024-01-01 00:00 Shanghai
    params["stock_end"] = bind_time(conn, cutoff(date(STOCK_LAST_YEAR, 12, 31)))
    stamp = "CAST(:{} AS TIMESTAMPTZ)" if dialect == "postgresql" else ":{}"

    def first_index(expr: str, op: str, null_is: str | None = None) -> str:
        """The first date index k with `expr op d_k` (n when none)."""
        whens = " ".join(f"WHEN {expr} {op} {stamp.format(f'd{i}')} THEN {i}" for i in range(n))
        head = f"WHEN {expr} IS NULL THEN {null_is} " if null_is is not None else ""
        return f"CASE {head}{whens} ELSE {n} END"

    sql = text(f"""
WITH ev AS (
  SELECT e.hazard_id, e.seq, e.ts, e.action,
         LEAD(e.ts) OVER (PARTITION BY e.hazard_id ORDER BY e.seq) AS next_ts
  FROM audit_event e
  WHERE e.hazard_id IS NOT NULL AND e.ts <= :tmax AND e.action IN ({actions})
),
live AS (
  SELECT ev.ts, ev.next_ts,
         CASE WHEN ev.action IN ('start_rectification', 'extend', 'reject') THEN {p['deadline']} END AS deadline,
         CASE WHEN h.found_at <= :stock_end THEN 1 ELSE 0 END AS stock
  FROM ev
  JOIN hazard h ON h.id = ev.hazard_id
  LEFT JOIN audit_event d ON d.seq = ev.seq AND ev.action IN ('start_rectification', 'extend', 'reject')
  WHERE ev.action NOT IN ('approve', 'dismiss', 'close_imported')
),
idx AS (
  SELECT {first_index('live.ts', '<=')} AS i0,
         {first_index('live.next_ts', '<=', str(n))} AS i1,
         {first_index('live.deadline', '<', str(n))} AS i2,
         live.stock AS stock
  FROM live
)
SELECT i0, i1, i2, stock, COUNT(*) AS cnt FROM idx WHERE i0 < i1 GROUP BY i0, i1, i2, stock""")
    open_d, overdue_d, stock_d = [0] * (n + 1), [0] * (n + 1), [0] * (n + 1)
    for i0, i1, i2, stock, cnt in conn.execute(sql, params).all():
        i0, i1, i2, cnt = int(i0), int(i1), int(i2), int(cnt)
        open_d[i0] += cnt
        open_d[i1] -= cnt
        if int(stock):
            stock_d[i0] += cnt
            stock_d[i1] -= cnt
        lo = max(i0, i2)
        if lo < i1:
            overdue_d[lo] += cnt
            overdue_d[i1] -= cnt
    got: dict[date, dict[str, int]] = {}
    o = od = st = 0
    for i, d in enumerate(days):
        o, od, st = o + open_d[i], od + overdue_d[i], st + stock_d[i]
        got[d] = {"open": o, "overdue": od, "stock_open": st}
    return [{"date": d, **got[d]} for d in dates]


def hazard_states(session: Session, as_of: date, *, only_overdue: bool = False) -> list[dict[str, Any]]:
    """Per hazard as of the date (state, deadline, on-time close, rejections); `only_overdue`
    keeps the overdue ones (filtered in SQL: the bulletin names them)."""
    conn = session.connection()
    params: dict[str, Any] = {"t": bind_time(conn, cutoff(as_of))}
    sql = text(f"""WITH {_hz_ctes(conn, params["t"], None)}
SELECT * FROM (
  SELECT hazard_id, enterprise_id, st, rejections, deadline,
         CASE WHEN st = 5 AND submit_ts <= deadline THEN 1 ELSE 0 END AS on_time,
         CASE WHEN st = 3 AND deadline < :t THEN 1 ELSE 0 END AS overdue
  FROM hz) x {"WHERE overdue = 1" if only_overdue else ""}
ORDER BY hazard_id""")
    names = {c: s for s, c in STATE_CODES.items()}
    return [{"hazard_id": r["hazard_id"], "enterprise_id": r["enterprise_id"], "state": names[int(r["st"])],
             "rejections": int(r["rejections"]), "on_time": bool(r["on_time"]), "overdue": bool(r["overdue"]),
             "deadline": _local_day(r["deadline"])}
            for r in conn.execute(sql, params).mappings().all()]


def enterprise_closure(session: Session, as_of: date) -> dict[int, tuple[int, int]]:
    """Per enterprise as of the date: (hazards not dismissed, of which closed on time) -- in SQL."""
    conn = session.connection()
    t = bind_time(conn, cutoff(as_of))
    sql = text(f"""WITH {_hz_ctes(conn, t, None)}
SELECT enterprise_id, SUM(CASE WHEN st <> 2 THEN 1 ELSE 0 END) AS n,
       SUM(CASE WHEN st = 5 AND submit_ts <= deadline THEN 1 ELSE 0 END) AS on_time
FROM hz GROUP BY enterprise_id""")
    return {int(r[0]): (int(r[1] or 0), int(r[2] or 0))
            for r in conn.execute(sql, {"t": t}).all()}


def _local_day(value: Any) -> date | None:
    """A deadline as the Shanghai date (SQLite hands back UTC text, PostgreSQL an aware datetime)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return clock.local_date(value)


def labels(session: Session, by: str) -> dict[str, str]:
    """Chinese names for the group keys."""
    from sqlmodel import select

    from hazardloop.models.tables import Industry, Region
    from hazardloop.states.roles import CHANNELS, LEVELS, STATE_NAMES

    if by == "region":
        return {r.code: r.name for r in session.exec(select(Region)).all()}
    if by == "industry":
        return {i.code: i.name for i in session.exec(select(Industry)).all()}
    if by == "channel":
        return dict(CHANNELS)
    if by == "level":
        return {**LEVELS, "": "未确认"}
    if by == "department":
        from hazardloop.models.tables import Department

        return {d.code: d.name for d in session.exec(select(Department)).all()}
    return dict(STATE_NAMES)

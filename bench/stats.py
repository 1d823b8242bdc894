"""Benchmark: the as-of statistics on a large ledger, beside hand-written SQL in the same run.

    python bench/stats.py --hazards 1000000 --db sqlite:////tmp/bench.sqlite
    python bench/stats.py --hazards 100000 --db postgresql+psycopg://postgres@127.0.0.1:5432/hl_bench_stats_x

Builds the ledger by bulk insert (not through the ledger functions: a million
walks through the guards would take hours), with a realistic audit trail per
hazard (report, confirm or dismiss, plan, extensions, submissions, rejections,
close-out), into an EMPTY database given by --db (it is initialised here).
Then it times `hazardloop.reports.stats.compute` (grouped by --by) against a
hand-written SQL baseline that computes the same figures another way (temporary
tables; the last event found by a join, PostgreSQL's percentile_cont for the
median), checks both give the same figures, prints both and the ratio (stats
time / baseline time) last on a line of its own.  Each side runs --repeat
times; the best time counts.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

# bench/ holds transitions.py (the transitions benchmark), which would shadow the `transitions`
# package the ledger imports: drop the script's own directory from the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from hazardloop.config import clock  # noqa: E402
from hazardloop.models.db import get_engine, is_sqlite  # noqa: E402
from hazardloop.models.migrate import init_database  # noqa: E402
from hazardloop.models.reference import read  # noqa: E402
from hazardloop.reports import stats  # noqa: E402

UTC = timezone.utc
END = datetime(2026, 11, 28, 12, tzinfo=UTC)  # nothing happens after this in the generated ledger
LEVELS = ["city", "taian", "province"]
CHANNELS = ["self_inspection", "inspection", "public_report", "assigned"]
HAZARD_COLS = ("id", "code", "enterprise_id", "region_code", "industry_code", "title", "description", "channel",
               "state", "found_at", "reported_by", "level", "supervising_department", "deadline", "cycle",
               "rejections", "version")
EVENT_COLS = ("seq", "ts", "actor", "action", "hazard_id", "before", "after", "reason", "prev_hash", "hash")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def eod(day: date) -> datetime:
    return clock.end_of_day_utc(day)


def walk(rng: random.Random, hid: int, found: datetime) -> tuple[list[tuple[datetime, str, dict]], dict]:
    """One hazard's audit events (ts, action, after) and its final columns."""
    ev: list[tuple[datetime, str, dict]] = [(found, "report", {"state": "found", "code": f"YH-{hid}"})]
    row = {"state": "found", "level": None, "deadline": None, "cycle": 0, "rejections": 0}
    t = found + timedelta(days=rng.randint(1, 5), minutes=rng.randint(0, 600))
    r = rng.random()
    if r < 0.04:
        return ev, row
    if r < 0.08:
        ev.append((t, "dismiss", {"state": "dismissed"}))
        row["state"] = "dismissed"
        return ev, row
    level = rng.choice(LEVELS)
    ev.append((t, "confirm", {"state": "listed", "level": level}))
    row.update(state="listed", level=level)
    if rng.random() < 0.05:
        return ev, row
    t += timedelta(days=rng.randint(1, 10), minutes=rng.randint(0, 600))
    deadline = eod(clock.local_date(t) + timedelta(days=rng.randint(15, 90)))
    cycle = 1
    ev.append((t, "start_rectification", {"state": "rectifying", "deadline": iso(deadline), "cycle": cycle}))
    row.update(state="rectifying", deadline=deadline, cycle=cycle)
    if rng.random() < 0.10:
        t2 = t + (deadline - t) * rng.random()
        deadline = deadline + timedelta(days=30)
        cycle += 1
        ev.append((t2, "extend", {"state": "rectifying", "deadline": iso(deadline), "cycle": cycle}))
        t = t2
        row.update(deadline=deadline, cycle=cycle)
    for attempt in range(3):
        if rng.random() < 0.12:
            return ev, row  # never (re)submitted: stays rectifying, overdue in time
        t = t + timedelta(days=rng.randint(5, 110), minutes=rng.randint(0, 600))
        ev.append((t, "submit", {"state": "reviewed"}))
        row["state"] = "reviewed"
        t = t + timedelta(days=rng.randint(1, 10), minutes=rng.randint(0, 600))
        if rng.random() < 0.06:
            return ev, row  # waiting for review
        if attempt < 2 and rng.random() < 0.15:
            deadline = eod(clock.local_date(t) + timedelta(days=30))
            cycle += 1
            row["rejections"] += 1
            ev.append((t, "reject", {"state": "rectifying", "deadline": iso(deadline), "cycle": cycle}))
            row.update(state="rectifying", deadline=deadline, cycle=cycle)
            continue
        ev.append((t, "approve", {"state": "closed"}))
        row["state"] = "closed"
        return ev, row
    return ev, row


def build(engine, n: int, seed: int, chunk: int = 50_000) -> int:  # noqa: ANN001
    rng = random.Random(seed)
    regions = [r["code"] for r in read("regions.yaml")]
    industries = [(i["code"], i["department"]) for i in read("industries.yaml")]
    n_ent = max(100, n // 50)
    sqlite = is_sqlite(engine)
    ents = []
    for e in range(1, n_ent + 1):
        ind, dept = rng.choice(industries)
        ents.append({"id": e, "name": f"企业{e:06d}", "credit_code": f"91370983B{e:09d}",
                     "region_code": rng.choice(regions), "industry_code": ind, "dept": dept})
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO enterprise (id, name, credit_code, region_code, industry_code, principal, "
                          "controller, contacts) VALUES (:id, :name, :credit_code, :region_code, :industry_code, "
                          "'负责人', '控制人', '{}')"), ents)
    span = (date(2026, 11, 20) - date(2022, 1, 1)).days
    seq = 0
    for start in range(1, n + 1, chunk):
        hazards, events = [], []
        for hid in range(start, min(n, start + chunk - 1) + 1):
            ent = ents[rng.randrange(n_ent)]
            day = date(2022, 1, 1) + timedelta(days=rng.randrange(span))
            found = datetime(day.year, day.month, day.day, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 600))
            evs, row = walk(rng, hid, found)
            evs = [e for e in evs if e[0] <= END]
            for ts, action, after in evs:
                seq += 1
                # chained (prev = the last hash): the database refuses an event that does not continue the chain
                events.append((seq, ts, "bench", action, hid, None, json.dumps(after), None, f"{seq - 1:064x}",
                               f"{seq:064x}"))
            last = evs[-1][2]["state"]
            hazards.append((hid, f"YH-{day.year}-{hid:07d}", ent["id"], ent["region_code"], ent["industry_code"],
                            "隐患", "", rng.choice(CHANNELS), last, found, "bench", row["level"], ent["dept"],
                            row["deadline"], row["cycle"], row["rejections"], 1))
        _insert(engine, sqlite, hazards, events)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": seq, "h": f"{seq:064x}"})
        conn.execute(text("ANALYZE"))
    return seq


def _insert(engine, sqlite: bool, hazards: list[tuple], events: list[tuple]) -> None:  # noqa: ANN001
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if sqlite:
            fmt = "%Y-%m-%d %H:%M:%S.%f"
            hazards = [h[:9] + (h[9].strftime(fmt),) + h[10:13] + (h[13].strftime(fmt) if h[13] else None,) + h[14:]
                       for h in hazards]
            events = [e[:1] + (e[1].strftime(fmt),) + e[2:] for e in events]
            cur.execute("BEGIN")
            cur.executemany(f"INSERT INTO hazard ({','.join(HAZARD_COLS)}) VALUES ({','.join('?' * len(HAZARD_COLS))})",
                            hazards)
            cur.executemany(f"INSERT INTO audit_event ({','.join(EVENT_COLS)}) VALUES "
                            f"({','.join('?' * len(EVENT_COLS))})", events)
            cur.execute("COMMIT")
        else:
            with cur.copy(f"COPY hazard ({','.join(HAZARD_COLS)}) FROM STDIN") as cp:
                for h in hazards:
                    cp.write_row(h)
            with cur.copy(f"COPY audit_event ({','.join(EVENT_COLS)}) FROM STDIN") as cp:
                for e in events:
                    cp.write_row(e)
            raw.commit()
    finally:
        raw.close()


# --- the hand-written baseline ------------------------------------------------------


def baseline(engine, as_of: date, by: str) -> dict:  # noqa: ANN001
    """The same figures by hand: per-hazard temp table, then plain GROUP BYs."""
    col = {"region": "region_code", "industry": "industry_code", "channel": "channel", "level": "COALESCE(level, '')",
           "state": "state"}[by]
    t = cutoff = stats.cutoff(as_of)
    pg = not is_sqlite(engine)
    if not pg:
        t = cutoff.strftime("%Y-%m-%d %H:%M:%S.%f")
    deadline = ("CAST(d.after ->> 'deadline' AS TIMESTAMPTZ)" if pg else
                "replace(substr(json_extract(d.after, '$.deadline'), 1, 26), 'T', ' ')")
    year = ("CAST(EXTRACT(YEAR FROM (h.found_at AT TIME ZONE 'Asia/Shanghai')) AS INTEGER)" if pg else
            "CAST(strftime('%Y', h.found_at, '+8 hours') AS INTEGER)")
    days = "EXTRACT(EPOCH FROM (closed_ts - found_at)) / 86400.0" if pg else "julianday(closed_ts) - julianday(found_at)"
    states = ("CASE l.action WHEN 'report' THEN 'found' WHEN 'confirm' THEN 'listed' WHEN 'dismiss' THEN 'dismissed' "
              "WHEN 'submit' THEN 'reviewed' WHEN 'approve' THEN 'closed' ELSE 'rectifying' END")
    out: dict = {}
    with engine.connect() as conn:
        conn.execute(text("DROP TABLE IF EXISTS b_per"))
        conn.execute(text("DROP TABLE IF EXISTS b_hz"))
        conn.execute(text("""CREATE TEMP TABLE b_per AS
            SELECT hazard_id, MAX(seq) AS last_seq,
                   MAX(CASE WHEN action IN ('start_rectification', 'extend', 'reject') THEN seq END) AS dl_seq,
                   SUM(CASE WHEN action = 'reject' THEN 1 ELSE 0 END) AS rejections,
                   MAX(CASE WHEN action = 'confirm' THEN 1 ELSE 0 END) AS confirmed,
                   MAX(CASE WHEN action = 'submit' THEN ts END) AS submit_ts,
                   MAX(CASE WHEN action = 'approve' THEN ts END) AS closed_ts
            FROM audit_event
            WHERE hazard_id IS NOT NULL AND ts <= :t
              AND action IN ('report', 'confirm', 'dismiss', 'start_rectification', 'extend', 'reject', 'submit',
                             'approve')
            GROUP BY hazard_id"""), {"t": t})
        conn.execute(text(f"""CREATE TEMP TABLE b_hz AS
            SELECT p.*, {states} AS state, {deadline} AS deadline, h.region_code, h.industry_code, h.channel,
                   CASE WHEN p.confirmed = 1 THEN h.level END AS level, h.found_at, {year} AS found_year
            FROM b_per p JOIN audit_event l ON l.seq = p.last_seq JOIN hazard h ON h.id = p.hazard_id
            LEFT JOIN audit_event d ON d.seq = p.dl_seq"""))
        figures = """COUNT(*), SUM(confirmed), SUM(CASE WHEN state = 'closed' THEN 1 ELSE 0 END),
            SUM(CASE WHEN state IN ('found', 'listed', 'rectifying', 'reviewed') THEN 1 ELSE 0 END),
            SUM(CASE WHEN state = 'rectifying' AND deadline < :t THEN 1 ELSE 0 END),
            SUM(CASE WHEN state = 'closed' AND submit_ts <= deadline THEN 1 ELSE 0 END),
            SUM(CASE WHEN state = 'dismissed' THEN 1 ELSE 0 END), SUM(rejections)"""
        for key, expr, group in (("rows", col, f"GROUP BY {col}"), ("total", "''", "")):
            for r in conn.execute(text(f"SELECT {expr} AS k, {figures} FROM b_hz {group}"), {"t": t}).all():
                out.setdefault(key, {})[r[0] or ""] = [int(v or 0) for v in r[1:]]
        for r in conn.execute(text("""SELECT found_year, COUNT(*),
                SUM(CASE WHEN state = 'closed' THEN 1 ELSE 0 END),
                SUM(CASE WHEN state IN ('found', 'listed', 'rectifying', 'reviewed') THEN 1 ELSE 0 END),
                SUM(CASE WHEN state = 'dismissed' THEN 1 ELSE 0 END) FROM b_hz GROUP BY found_year""")).all():
            key = "stock" if int(r[0]) <= stats.STOCK_LAST_YEAR else int(r[0])
            prev = out.setdefault("years", {}).get(key, [0, 0, 0, 0])
            out["years"][key] = [a + int(b) for a, b in zip(prev, r[1:])]
        for key, expr in (("median", col), ("total_median", "''")):
            if pg:
                group = f"GROUP BY {expr}" if expr != "''" else ""
                sql = (f"SELECT {expr}, percentile_cont(0.5) WITHIN GROUP (ORDER BY {days}) FROM b_hz "
                       f"WHERE state = 'closed' {group}")
            else:
                sql = f"""SELECT k, AVG(d) FROM (SELECT {expr} AS k, {days} AS d,
                          ROW_NUMBER() OVER (PARTITION BY {expr} ORDER BY {days}) AS rn,
                          COUNT(*) OVER (PARTITION BY {expr}) AS n FROM b_hz WHERE state = 'closed')
                          WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY k"""
            for r in conn.execute(text(sql)).all():
                out.setdefault(key, {})[r[0] or ""] = round(float(r[1]), 1)
        conn.execute(text("DROP TABLE b_per"))
        conn.execute(text("DROP TABLE b_hz"))
        conn.commit()
    return out


def from_stats(result: stats.Stats) -> dict:
    def figs(r: stats.Row) -> list[int]:
        return [r.found, r.confirmed, r.closed, r.open, r.overdue, r.closed_on_time, r.dismissed, r.rejections]

    years = {y.year: [y.found, y.closed, y.open, y.dismissed] for y in result.by_year}
    st = result.stock
    if st.found:
        years["stock"] = [st.found, st.closed, st.open, st.dismissed]
    out = {"rows": {r.key: figs(r) for r in result.rows}, "total": {"": figs(result.total)},
           "median": {r.key: r.median_days_to_close for r in result.rows if r.median_days_to_close is not None},
           "total_median": {"": result.total.median_days_to_close}, "years": years}
    return out


def best(fn, repeat: int) -> tuple[float, object]:  # noqa: ANN001
    times, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return min(times), value


def main() -> None:
    from hazardloop.bootstrap import bootstrap

    bootstrap()  # wire the application as every entry point does
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hazards", type=int, default=1_000_000)
    ap.add_argument("--db", default="sqlite:////tmp/hazardloop-bench-stats.sqlite")
    ap.add_argument("--as-of", default="2026-10-31")
    ap.add_argument("--by", default="region", choices=stats.DIMENSIONS)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--reuse", action="store_true", help="the database already holds a generated ledger")
    ap.add_argument("--bulletin", action="store_true", help="also time the monthly bulletin of the --as-of month")
    args = ap.parse_args()
    as_of = date.fromisoformat(args.as_of)
    if is_sqlite(args.db):
        path = Path(args.db.split("///", 1)[1])
        if path.exists() and not args.reuse:
            path.unlink()
    engine = get_engine(args.db)
    if not args.reuse:
        init_database(engine)
        with engine.connect() as conn:
            if conn.execute(text("SELECT COUNT(*) FROM hazard")).scalar():
                sys.exit("--db must be an empty database (or pass --reuse)")
        t0 = time.perf_counter()
        n_events = build(engine, args.hazards, args.seed)
        print(f"built {args.hazards} hazards, {n_events} audit events in {time.perf_counter() - t0:.1f} s "
              f"({engine.dialect.name})")

    def run_stats() -> stats.Stats:
        with Session(engine) as s:
            return stats.compute(s, as_of, args.by)

    t_stats, result = best(run_stats, args.repeat)
    t_base, base = best(lambda: baseline(engine, as_of, args.by), args.repeat)
    mine = from_stats(result)  # type: ignore[arg-type]
    same = mine == base
    tot = result.total  # type: ignore[union-attr]
    print(f"as of {as_of}, by {args.by}: found {tot.found}, confirmed {tot.confirmed}, closed {tot.closed}, "
          f"open {tot.open}, overdue {tot.overdue}, closed on time {tot.closed_on_time}, "
          f"rejections {tot.rejections}, median days to close {tot.median_days_to_close}, "
          f"stock open {result.stock.open}")  # type: ignore[union-attr]
    print(f"stats.compute: {t_stats:.3f} s   hand-written SQL: {t_base:.3f} s   (best of {args.repeat})")
    print(f"figures equal: {same}")
    if args.bulletin:
        from hazardloop.reports import bulletin

        month = f"{as_of.year}-{as_of.month:02d}"
        t0 = time.perf_counter()
        with Session(engine) as s:
            html = bulletin.render(s, month)
        print(f"bulletin {month}: {time.perf_counter() - t0:.1f} s ({len(html.encode())} bytes; not part of the ratio)")
    if not same:
        for key in sorted(set(mine) | set(base)):
            if mine.get(key) != base.get(key):
                print(f"  {key}: stats={mine.get(key)}  baseline={base.get(key)}")
    print(f"ratio: {t_stats / t_base:.2f}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()

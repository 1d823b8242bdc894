"""Audited transitions per second through the engine, beside a raw-SQL baseline.

    PYTHONPATH=. python bench/transitions.py                      # 10,000 hazards, temp SQLite file
    PYTHONPATH=. python bench/transitions.py --hazards 2000
    PYTHONPATH=. python bench/transitions.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test

With a PostgreSQL URL the bench creates its own throw-away database on that
server (hl_bench_<random>, named after nothing else), runs there and drops it at
the end; the database in the URL is only used to connect.  `--in-place` runs in
the URL's database instead (it must hold no hazards yet).

What is timed: each hazard goes confirm -> start_rectification (plan) -> submit
-> approve, every transition its own committed unit of work, as a real user
action is: open a write session, load the acting user, call the ledger function
(guards through the shared machine, optimistic version check, the hash-chained
audit event under the head-row lock, the domain event), commit.  Untimed setup:
the organisation (tests/data/org.yaml), N hazards reported through the ledger,
and one evidence row per hazard (the file upload is I/O, not a transition).

The baseline does the same writes with plain DB-API SQL, in a copy of the
engine's own tables taken right after the setup: the same columns, indexes,
constraints and rows (SQLite: a backup of the database file; PostgreSQL: the
written tables copied into a schema of their own, LIKE … INCLUDING ALL, with
their foreign keys).  Per transition it runs an UPDATE of the hazard row with a
version check (plus the INSERT of the plan row for start_rectification) and an
INSERT of a hash-chained audit row (same canonical JSON and SHA-256), each
committed.  It keeps what a single hand-written writer would keep in memory
(each hazard's version, the previous hash), so it reads nothing, and it does not
move the audit head row (the engine's SQLite trigger is dropped from the copy):
the head, the reads, the guards and the ORM are the engine's own cost.

Two more baselines run beside it, for information: the same SQL through
SQLAlchemy's Connection (the application's engine setup, no ORM) on another
copy, which shows how much of the gap is SQLAlchemy itself; and the minimal
tables this bench used before 2026-11-29 (baseline_*: fewer columns, no
state/deadline index), whose ratio is printed too so runs stay comparable.
Engine and baselines take turns in chunks of 250 transitions, so load from
other processes hits them alike.

Output: the rates, then `ratio: N.NN` (engine time / DB-API baseline time) last.
See docs/bench.md for measured numbers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This file is named like the `transitions` package the engine imports: run as a
# script, its own directory must not shadow that package on sys.path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

ORG_FILE = ROOT / "tests" / "data" / "org.yaml"
PHASES = ("confirm", "start_rectification", "submit", "approve")
# Hazards are spread over the org file's enterprises; each has a reporter, its own
# enterprise staff (plan, submit) and two regulators (confirm, approve).
ENTERPRISES = [
    # credit code, channel reporter, enterprise user, confirmer, approver, basis
    ("91370983MA3C0001AY", "inspector1", "hd_safety", "sup_yingji", "sup_yingji2", "CHEM121"),
    ("91370983MA3C0002B3", "inspector1", "xy_safety", "sup_yingji2", "sup_yingji", "MEM10"),
    ("91370983MA3C0003C7", "inspector1", "th_safety", "sup_zhujian", "office2", "CONSTR2"),
]


def _say(msg: str) -> None:
    print(msg, flush=True)


# --- the engine ---------------------------------------------------------------


def setup_engine_db(url: str, n: int) -> list[tuple[int, tuple]]:
    from hazardloop.models.db import get_engine, session_scope
    from hazardloop.models.migrate import init_database
    from hazardloop.models.orgs import load_orgs
    from hazardloop.models.tables import Evidence
    from hazardloop.states import ledger

    engine = get_engine(url)
    init_database(engine)
    with session_scope(url) as s:
        if s.execute(text("SELECT count(*) FROM hazard")).scalar_one():
            raise SystemExit("这个数据库里已有隐患：请给一个新的数据库（或不加 --in-place）。")
        load_orgs(s, ORG_FILE)
    # The org file's third enterprise has no enterprise user; give it one for the bench.
    with session_scope(url) as s:
        from hazardloop.models.tables import AppUser

        ent3 = ledger.get_enterprise(s, ENTERPRISES[2][0])
        s.add(AppUser(username="th_safety", name="冯晓军", role="enterprise", enterprise_id=ent3.id))
    hazards: list[tuple[int, tuple]] = []
    t0 = time.perf_counter()
    batch = 500
    for start in range(0, n, batch):
        with session_scope(url) as s:
            users = {}
            for i in range(start, min(n, start + batch)):
                k = i % len(ENTERPRISES)
                code, reporter, ent_user, confirmer, approver, basis = ENTERPRISES[k]
                user = users.get(reporter) or users.setdefault(reporter, ledger.get_user(s, reporter))
                h = ledger.report(s, user, enterprise=code, title=f"基准测试隐患 {i}", channel="inspection")
                hazards.append((h.id, (ent_user, confirmer, approver, basis)))
    report_s = time.perf_counter() - t0
    # One evidence row per hazard for the plan's cycle (1), so submit's guard passes.
    with session_scope(url) as s:
        s.execute(insert(Evidence), [dict(hazard_id=hid, cycle=1, filename="photo.jpg", stored_path="bench",
                                          sha256="0" * 64, size=1, uploaded_by=who[0]) for hid, who in hazards])
        assert s.execute(text("SELECT count(*) FROM hazard")).scalar_one() == n
    _say(f"setup: {n} hazards reported through the ledger in {report_s:.1f} s "
         f"({n / report_s:.0f}/s, one transaction per {batch})")
    return hazards


def engine_phase(url: str, phase: str, hazards: list[tuple[int, tuple]]) -> float:
    """One transition per hazard, each its own committed unit of work; returns seconds."""
    from hazardloop.config import clock
    from hazardloop.models.db import session_scope
    from hazardloop.states import ledger

    deadline = clock.today() + timedelta(days=30)
    t0 = time.perf_counter()
    for hid, (ent_user, confirmer, approver, basis) in hazards:
        with session_scope(url) as s:
            if phase == "confirm":
                ledger.confirm(s, ledger.get_user(s, confirmer), hid, basis_code=basis,
                               basis_clause="第十三条", level="city")
            elif phase == "start_rectification":
                ledger.plan(s, ledger.get_user(s, ent_user), hid, responsible_person="孙立新",
                            measures="加装泄漏报警并联锁", funds="80000", deadline=deadline,
                            emergency_plan="专项应急预案")
            elif phase == "submit":
                ledger.submit(s, ledger.get_user(s, ent_user), hid)
            else:
                ledger.approve(s, ledger.get_user(s, approver), hid, reason="现场核查已整改到位")
    return time.perf_counter() - t0


def check_engine(url: str, n: int) -> str:
    from hazardloop.models import audit
    from hazardloop.models.db import session_scope

    with session_scope(url, write=False) as s:
        closed = s.execute(text("SELECT count(*) FROM hazard WHERE state = 'closed'")).scalar_one()
        result = audit.verify(s)
    if closed != n or not result.ok:
        raise SystemExit(f"engine run is wrong: {closed}/{n} closed; {result.message()}")
    return f"{closed} hazards closed; {result.message()}"


# --- the raw-SQL baseline ---------------------------------------------------------


BASELINE_DDL = {
    "sqlite": [
        """CREATE TABLE baseline_hazard (id INTEGER PRIMARY KEY, state VARCHAR(16) NOT NULL,
            basis_code VARCHAR(32), basis_clause VARCHAR(200), level VARCHAR(16), confirmed_by VARCHAR(64),
            confirmed_at TEXT, deadline TEXT, cycle INTEGER NOT NULL, submitted_by VARCHAR(64), submitted_at TEXT,
            closed_by VARCHAR(64), closed_at TEXT, version INTEGER NOT NULL)""",
        """CREATE TABLE baseline_plan (id INTEGER PRIMARY KEY, hazard_id INTEGER NOT NULL REFERENCES
            baseline_hazard(id), responsible_person VARCHAR(64) NOT NULL, measures TEXT NOT NULL,
            funds VARCHAR(64) NOT NULL, deadline TEXT NOT NULL, emergency_plan TEXT NOT NULL,
            submitted_by VARCHAR(64) NOT NULL, created_at TEXT NOT NULL)""",
        """CREATE TABLE baseline_audit (seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, actor VARCHAR(64) NOT NULL,
            action VARCHAR(48) NOT NULL, hazard_id INTEGER, before TEXT, after TEXT, reason TEXT,
            prev_hash VARCHAR(64) NOT NULL, hash VARCHAR(64) NOT NULL UNIQUE)""",
        "CREATE INDEX ix_baseline_plan_hazard ON baseline_plan (hazard_id)",
        "CREATE INDEX ix_baseline_audit_hazard ON baseline_audit (hazard_id)",
        "CREATE INDEX ix_baseline_audit_actor ON baseline_audit (actor)",
        "CREATE INDEX ix_baseline_audit_action ON baseline_audit (action)",
    ],
    "postgresql": [
        """CREATE TABLE baseline_hazard (id INTEGER PRIMARY KEY, state VARCHAR(16) NOT NULL,
            basis_code VARCHAR(32), basis_clause VARCHAR(200), level VARCHAR(16), confirmed_by VARCHAR(64),
            confirmed_at TIMESTAMPTZ, deadline TIMESTAMPTZ, cycle INTEGER NOT NULL, submitted_by VARCHAR(64),
            submitted_at TIMESTAMPTZ, closed_by VARCHAR(64), closed_at TIMESTAMPTZ, version INTEGER NOT NULL)""",
        """CREATE TABLE baseline_plan (id SERIAL PRIMARY KEY, hazard_id INTEGER NOT NULL REFERENCES
            baseline_hazard(id), responsible_person VARCHAR(64) NOT NULL, measures TEXT NOT NULL,
            funds VARCHAR(64) NOT NULL, deadline TIMESTAMPTZ NOT NULL, emergency_plan TEXT NOT NULL,
            submitted_by VARCHAR(64) NOT NULL, created_at TIMESTAMPTZ NOT NULL)""",
        """CREATE TABLE baseline_audit (seq INTEGER PRIMARY KEY, ts TIMESTAMPTZ NOT NULL,
            actor VARCHAR(64) NOT NULL, action VARCHAR(48) NOT NULL, hazard_id INTEGER, before JSON, after JSON,
            reason TEXT, prev_hash VARCHAR(64) NOT NULL, hash VARCHAR(64) NOT NULL UNIQUE)""",
        "CREATE INDEX ix_baseline_plan_hazard ON baseline_plan (hazard_id)",
        "CREATE INDEX ix_baseline_audit_hazard ON baseline_audit (hazard_id)",
        "CREATE INDEX ix_baseline_audit_actor ON baseline_audit (actor)",
        "CREATE INDEX ix_baseline_audit_action ON baseline_audit (action)",
    ],
}


# The engine's tables a transition writes, as the baseline copies them.
WRITTEN = ("hazard", "rectification_plan", "audit_event")


def copy_written_tables(url: str, kind: str, name: str) -> tuple[str, str]:
    """A copy of the engine's tables, indexes, constraints and rows for a baseline to write to.
    Returns (URL, table prefix): SQLite, a backup of the whole file (prefix ""); PostgreSQL, the
    written tables in a schema `name` of the same database (prefix "name.")."""
    if kind == "sqlite":
        src_path = Path(make_url(url).database)
        path = src_path.with_name(f"{src_path.stem}-{name}.sqlite")
        src, dst = sqlite3.connect(src_path), sqlite3.connect(path)
        src.backup(dst)
        # The baseline does "an UPDATE and an INSERT": the head row the engine's trigger moves
        # is the engine's own cost.
        dst.execute("DROP TRIGGER IF EXISTS audit_event_moves_head")
        dst.commit()
        src.close()
        dst.close()
        return f"sqlite:///{path}", ""
    from hazardloop.models.db import get_engine
    from hazardloop.models.tables import SQLModel

    tables = SQLModel.metadata.tables
    with get_engine(url).begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')  # left by a run that failed
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        for t in WRITTEN:
            conn.exec_driver_sql(f'CREATE TABLE "{name}".{t} (LIKE public.{t} INCLUDING ALL)')
            conn.exec_driver_sql(f'INSERT INTO "{name}".{t} SELECT * FROM public.{t}')
        for t in WRITTEN:  # LIKE copies no foreign keys; the engine's UPDATE checks them
            for fk in tables[t].foreign_key_constraints:
                ref = fk.referred_table.name
                target = f'"{name}".{ref}' if ref in WRITTEN else f"public.{ref}"
                conn.exec_driver_sql(
                    f'ALTER TABLE "{name}".{t} ADD FOREIGN KEY ({", ".join(c.name for c in fk.columns)}) '
                    f'REFERENCES {target} ({", ".join(e.column.name for e in fk.elements)})')
    return url, f'"{name}".'


def drop_copy(url: str, kind: str, name: str) -> None:
    if kind == "sqlite":
        return  # the file goes with the temp directory
    from hazardloop.models.db import get_engine

    with get_engine(url).begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


class _SqlaCursor:
    """The same SQL text through SQLAlchemy's Connection (exec_driver_sql: no ORM, no compiling)."""

    def __init__(self, conn) -> None:  # noqa: ANN001
        self.conn, self.rowcount = conn, -1

    def execute(self, sql: str, params=()) -> None:  # noqa: ANN001
        result = self.conn.exec_driver_sql(sql, tuple(params))
        self.rowcount = result.rowcount
        self._result = result

    def fetchall(self):  # noqa: ANN201
        return self._result.fetchall()

    def executemany(self, sql: str, rows) -> None:  # noqa: ANN001
        self.conn.exec_driver_sql(sql, list(rows))


class Baseline:
    """Hand-written writer: UPDATE (version-checked) + INSERT (hash-chained), commit.

    via="dbapi" (the baseline the ratio is taken against): the driver itself.
    via="sqlalchemy" (shown for information): the same SQL text through the same
    SQLAlchemy engine setup the application uses (pragmas, BEGIN IMMEDIATE, pool).
    minimal=True (for information): its own minimal tables (baseline_*), created here,
    instead of a copy of the engine's tables."""

    def __init__(self, url: str, hazard_ids: list[int], via: str = "dbapi", prefix: str = "",
                 minimal: bool = False) -> None:
        self.kind = "sqlite" if url.startswith("sqlite") else "postgresql"
        self.via, self.prefix = via, prefix
        names = ("baseline_hazard", "baseline_plan", "baseline_audit") if minimal else WRITTEN
        self.hazard, self.plan, self.audit = (prefix + t for t in names)
        if via == "sqlalchemy":
            from hazardloop.models.db import write_engine

            self.conn = write_engine(url).connect()
            self.p = "?" if self.kind == "sqlite" else "%s"
        elif self.kind == "sqlite":
            path = make_url(url).database
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
                self.conn.execute(f"PRAGMA {pragma}")
            self.p = "?"
        else:
            import psycopg

            u = make_url(url)
            self.conn = psycopg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password,
                                        dbname=u.database)
            self.p = "%s"
        if minimal:
            self._ddl(hazard_ids)
            self.seq, self.prev_hash = 0, "0" * 64
            self.version = dict.fromkeys(hazard_ids, 1)
        else:  # what a writer would have kept in memory from the rows so far (read once, untimed)
            cur = self._cursor()
            cur.execute(f"SELECT id, version FROM {self.hazard}")
            self.version = dict(cur.fetchall())
            cur.execute(f"SELECT seq, hash FROM {self.audit} ORDER BY seq DESC LIMIT 1")
            self.seq, self.prev_hash = cur.fetchall()[0]
            self._commit(cur)

    def _cursor(self):  # noqa: ANN202
        return _SqlaCursor(self.conn) if self.via == "sqlalchemy" else self.conn.cursor()

    def _commit(self, cur) -> None:  # noqa: ANN001
        if self.kind == "sqlite" and self.via == "dbapi":
            if self.conn.in_transaction:
                cur.execute("COMMIT")
        else:
            self.conn.commit()

    def _ddl(self, hazard_ids: list[int]) -> None:
        cur = self._cursor()
        self._begin(cur)
        for stmt in BASELINE_DDL[self.kind]:
            cur.execute(stmt.replace("baseline_", self.prefix + "baseline_"))
        cur.executemany(f"INSERT INTO {self.hazard} (id, state, cycle, version) VALUES ({self.p}, 'found', 0, 1)",
                        [(i,) for i in hazard_ids])
        self._commit(cur)

    def _begin(self, cur) -> None:  # noqa: ANN001
        # The same write lock the engine takes (through SQLAlchemy, the engine's own
        # begin hook issues it).
        if self.kind == "sqlite" and self.via == "dbapi":
            cur.execute("BEGIN IMMEDIATE")

    def _ts(self, value):  # noqa: ANN001, ANN202
        # SQLite: the text SQLAlchemy stores for the engine's UTC datetimes, so the rows are alike.
        if self.kind == "sqlite" and isinstance(value, datetime):
            return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")
        return value

    def transition(self, hid: int, actor: str, action: str, sets: dict, before: dict, after: dict,
                   reason: str | None = None, plan: dict | None = None) -> None:
        from hazardloop.config.clock import utcnow
        from hazardloop.models.audit import canonical, jsonable

        p = self.p
        cur = self._cursor()
        self._begin(cur)
        if plan is not None:
            cols = ", ".join(plan)
            cur.execute(f"INSERT INTO {self.plan} (hazard_id, {cols}) VALUES ({p}, {', '.join([p] * len(plan))})",
                        (hid, *(self._ts(v) for v in plan.values())))
        version = self.version[hid]
        assign = ", ".join(f"{k} = {p}" for k in sets)
        cur.execute(f"UPDATE {self.hazard} SET {assign}, version = {p} WHERE id = {p} AND version = {p}",
                    (*(self._ts(v) for v in sets.values()), version + 1, hid, version))
        if cur.rowcount != 1:
            raise RuntimeError(f"baseline conflict on hazard {hid}")
        seq, ts = self.seq + 1, utcnow()
        before, after = jsonable(before), jsonable(after)
        digest = hashlib.sha256(canonical(seq, ts, actor, action, hid, before, after, reason,
                                          self.prev_hash)).hexdigest()
        cur.execute(f'INSERT INTO {self.audit} (seq, ts, actor, action, hazard_id, "before", "after", reason, '
                    f"prev_hash, hash) VALUES ({', '.join([p] * 10)})",
                    (seq, self._ts(ts), actor, action, hid, json.dumps(before, ensure_ascii=False),
                     json.dumps(after, ensure_ascii=False), reason, self.prev_hash, digest))
        self._commit(cur)
        self.version[hid] = version + 1
        self.seq, self.prev_hash = seq, digest

    def phase(self, phase: str, hazards: list[tuple[int, tuple]]) -> float:
        """The same transitions as the engine's phase, on the baseline tables; returns seconds."""
        from hazardloop.config import clock

        day = clock.today() + timedelta(days=30)
        due = clock.end_of_day_utc(day)
        t0 = time.perf_counter()
        for hid, (ent_user, confirmer, approver, basis) in hazards:
            now = clock.utcnow()
            if phase == "confirm":
                sets = {"state": "listed", "basis_code": basis, "basis_clause": "第十三条", "level": "city",
                        "confirmed_by": confirmer, "confirmed_at": now}
                before = {k: None for k in sets} | {"state": "found"}
                self.transition(hid, confirmer, phase, sets, before, sets)
            elif phase == "start_rectification":
                plan = {"responsible_person": "孙立新", "measures": "加装泄漏报警并联锁", "funds": "80000",
                        "deadline": due, "emergency_plan": "专项应急预案", "submitted_by": ent_user,
                        "created_at": now}
                sets = {"state": "rectifying", "deadline": due, "cycle": 1}
                after = sets | {"plan": {"responsible_person": "孙立新", "measures": "加装泄漏报警并联锁",
                                         "funds": "80000", "deadline": day, "emergency_plan": "专项应急预案"}}
                self.transition(hid, ent_user, phase, sets, {"state": "listed", "deadline": None, "cycle": 0},
                                after, plan=plan)
            elif phase == "submit":
                sets = {"state": "reviewed", "submitted_by": ent_user, "submitted_at": now}
                self.transition(hid, ent_user, phase, sets,
                                {"state": "rectifying", "submitted_by": None, "submitted_at": None},
                                sets | {"evidence_count": 1})
            else:
                sets = {"state": "closed", "closed_by": approver, "closed_at": now}
                self.transition(hid, approver, phase, sets,
                                {"state": "reviewed", "closed_by": None, "closed_at": None}, sets,
                                reason="现场核查已整改到位")
        return time.perf_counter() - t0

    def close(self) -> None:
        self.conn.close()


# --- driver -----------------------------------------------------------------------


def _rate_line(label: str, times: dict[str, float], n: int) -> str:
    total = sum(times.values())
    per = "  ".join(f"{k} {n / v:,.0f}/s" for k, v in times.items())
    return f"{label}: {n * len(times)} transitions in {total:.2f} s = {n * len(times) / total:,.0f} transitions/s  ({per})"


def bench(url: str, minimal_url: str, n: int, profile: str | None, chunk: int = 250) -> float:
    from hazardloop.models.db import forget_engine

    kind = "sqlite" if url.startswith("sqlite") else "postgresql"
    hazards = setup_engine_db(url, n)
    ids = [hid for hid, _ in hazards]
    copies = {"base": copy_written_tables(url, kind, "hl_copy_dbapi"),
              "sqla": copy_written_tables(url, kind, "hl_copy_sqla")}
    runs = {
        "engine": None,
        "base": Baseline(copies["base"][0], ids, prefix=copies["base"][1]),
        "sqla": Baseline(copies["sqla"][0], ids, via="sqlalchemy", prefix=copies["sqla"][1]),
        "minimal": Baseline(minimal_url, ids, minimal=True),
    }
    times = {name: dict.fromkeys(PHASES, 0.0) for name in runs}
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
    try:
        # Engine and baselines take turns, a chunk at a time, so that whatever else
        # the machine is doing slows them alike.
        for phase in PHASES:
            for start in range(0, n, chunk):
                part = hazards[start:start + chunk]
                if prof:
                    prof.enable()
                times["engine"][phase] += engine_phase(url, phase, part)
                if prof:
                    prof.disable()
                for name, base in runs.items():
                    if base is not None:
                        times[name][phase] += base.phase(phase, part)
    finally:
        for base in runs.values():
            if base is not None:
                base.close()
    if prof:
        prof.dump_stats(profile)
        _say(f"engine profile written to {profile} (python -m pstats {profile})")
    _say("engine check: " + check_engine(url, n))
    for name in ("hl_copy_dbapi", "hl_copy_sqla"):
        drop_copy(url, kind, name)
    forget_engine(url)
    total = {name: sum(t.values()) for name, t in times.items()}
    _say(_rate_line("minimal baseline tables, DB-API (for information)", times["minimal"], n))
    _say(f"engine / minimal-table baseline (for information): {total['engine'] / total['minimal']:.2f}")
    _say(_rate_line("same SQL through SQLAlchemy's Connection (for information)", times["sqla"], n))
    _say(f"engine / SQLAlchemy-Connection baseline (for information): {total['engine'] / total['sqla']:.2f}")
    _say(_rate_line("engine  ", times["engine"], n))
    _say(_rate_line("baseline", times["base"], n))
    ratio = total["engine"] / total["base"]
    _say(f"ratio: {ratio:.2f}")
    return ratio


def main(argv: list[str] | None = None) -> int:
    # Not bootstrap(): this bench measures the ledger's own writes (one UPDATE and one audit INSERT
    # per transition) against a baseline doing the same; the lifecycle notices' outbox rows are
    # bench/dispatch.py's subject, and with them the two sides would not write the same rows.
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hazards", type=int, default=10_000, help="how many hazards (4 transitions each)")
    ap.add_argument("--db", default=None, help="database URL (default: a temp SQLite file)")
    ap.add_argument("--in-place", action="store_true",
                    help="PostgreSQL: use the URL's database itself instead of a throw-away one")
    ap.add_argument("--profile", default=None, help="write a cProfile of the engine phase to this file")
    args = ap.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="hl-bench-")
    os.environ["HAZARDLOOP_HOME"] = tmp.name  # evidence dir etc. never touch ./var
    os.environ.pop("HAZARDLOOP_DATABASE_URL", None)
    url = args.db or f"sqlite:///{Path(tmp.name) / 'engine.sqlite'}"
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        path = Path(make_url(url).database)
        minimal_url = f"sqlite:///{path.with_name(path.stem + '-minimal.sqlite')}"
        _say(f"database: SQLite {path} (baselines: copies beside it, minimal tables in {make_url(minimal_url).database})")
        try:
            bench(url, minimal_url, args.hazards, args.profile)
        finally:
            tmp.cleanup()
        return 0
    if args.in_place:
        _say(f"database: {make_url(url).render_as_string(hide_password=True)} (in place)")
        bench(url, url, args.hazards, args.profile)
        return 0
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"hl_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    scratch = make_url(url).set(database=name).render_as_string(hide_password=False)
    _say(f"database: throw-away {name} on {make_url(url).host}:{make_url(url).port or 5432}")
    try:
        bench(scratch, scratch, args.hazards, args.profile)
    finally:
        from hazardloop.models.db import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

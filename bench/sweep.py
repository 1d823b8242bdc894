"""Benchmark: one full escalation sweep over a large ledger, beside a raw-SQL baseline.

    python bench/sweep.py --hazards 100000                       # SQLite file under /tmp
    python bench/sweep.py --hazards 100000 --db postgresql+psycopg://postgres@127.0.0.1:5432/hl_bench_x
    python bench/sweep.py --hazards 10000                        # quick run (about a minute)

The database (which must be empty or new) gets N hazards: about 10% overdue and
still rectifying (deadlines 0–40 working days ago, so every ladder step comes
due for some), 5% rectifying with a future deadline, 5% under review (paused),
the rest closed; spread over the 16 regions and N/20 enterprises.

Then, each in its own child process (so each reports its own peak memory):
1. baseline: a hand-written raw-SQL version - one SELECT of the due hazards,
   the due steps worked out in Python with the same calendar, the same
   documents rendered by the same templates (the rows must be the same), then
   executemany INSERTs of the cycles, steps, documents, notices and audit events
   in one transaction; then ROLLBACK, so the sweep starts from the same data;
2. sweep: hazardloop.escalation.hazards.sweep, exactly as the flow runs it.
The row counts of both must agree.  Printed: both times, peak memory (RSS), and
last, on its own line, `ratio: N.NN` = sweep time / baseline time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime, time as dtime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

# bench/transitions.py would shadow the `transitions` package when a script here runs
# with bench/ first on sys.path: drop the script's own directory.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

AS_OF = date(2026, 6, 30)  # a Tuesday; 2026 is covered by the holiday data


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- data ------------------------------------------------------------------------------


def generate(url: str, n: int, seed: int) -> dict:
    from sqlalchemy import func, insert, select

    from hazardloop.config import calendar, clock
    from hazardloop.models.db import get_engine
    from hazardloop.models.migrate import init_database
    from hazardloop.models.tables import AppUser, Department, Enterprise, Hazard, Industry, Region

    started = time.perf_counter()
    engine = get_engine(url)
    init_database(engine)
    rng = random.Random(seed)
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(Hazard)).scalar_one():
            raise SystemExit("数据库中已有隐患：请给一个空的数据库。")
        regions = [r for (r,) in conn.execute(select(Region.code))]
        industries = [(i.code, i.department_code) for i in conn.execute(select(Industry.code, Industry.department_code))]
        departments = [d for (d,) in conn.execute(select(Department.code))]
        n_ent = max(10, n // 20)
        ents = []
        for i in range(n_ent):
            ind = industries[i % len(industries)]
            ents.append(dict(id=i + 1, name=f"肥城市测试企业{i + 1:06d}有限公司", credit_code=f"91370983BENCH{i:05d}"[:18],
                             region_code=regions[i % len(regions)], industry_code=ind[0], address=f"测试路 {i} 号",
                             principal=f"负责人{i}", principal_phone="13800000000", controller=f"控制人{i}",
                             controller_phone="13900000000", safety_manager=f"安全员{i}", safety_manager_phone=None,
                             contacts={}))
        for k in range(0, len(ents), 20000):
            conn.execute(insert(Enterprise), ents[k:k + 20000])
        users = [dict(username=f"town_{r}", name=f"{r}专员", role="township", region_code=r, active=True)
                 for r in regions]
        users += [dict(username=f"sup_{d}", name=f"{d}监管员", role="supervisor", department_code=d, active=True)
                  for d in departments]
        users += [dict(username=f"office{i}", name=f"安委办{i}", role="committee", department_code="anweiban",
                       active=True) for i in (1, 2)]
        users = [{"region_code": None, "department_code": None} | u for u in users]
        conn.execute(insert(AppUser), users)
    dept_of = dict(industries)
    found = datetime(2026, 1, 5, 1, 0, tzinfo=timezone.utc)
    states = Counter()
    rows = []
    with engine.begin() as conn:
        for i in range(1, n + 1):
            ent = ents[rng.randrange(len(ents))]
            r = rng.random()
            if r < 0.10:
                state, deadline = "rectifying", calendar.add_workdays(AS_OF, -rng.randrange(0, 41))
            elif r < 0.15:
                state, deadline = "rectifying", AS_OF + timedelta(days=rng.randrange(1, 60))
            elif r < 0.20:
                state, deadline = "reviewed", AS_OF - timedelta(days=rng.randrange(1, 60))
            else:
                state, deadline = "closed", AS_OF - timedelta(days=rng.randrange(1, 150))
            states[state] += 1
            rows.append(dict(
                id=i, code=f"YH-2026-{i:07d}", enterprise_id=ent["id"], region_code=ent["region_code"],
                industry_code=ent["industry_code"], title=f"重大事故隐患 {i}", description="", location="生产车间",
                channel="inspection", state=state, found_at=found, reported_by="inspector1", basis_code="CHEM121",
                basis_clause="第十三条", level="city", supervising_department=dept_of[ent["industry_code"]],
                deadline=clock.end_of_day_utc(deadline), cycle=1, rejections=0, version=3))
            if len(rows) == 20000:
                conn.execute(insert(Hazard), rows)
                rows.clear()
        if rows:
            conn.execute(insert(Hazard), rows)
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('hazard','id'), (SELECT max(id) FROM hazard))")
            conn.exec_driver_sql("ANALYZE")
    return {"seconds": time.perf_counter() - started, "states": dict(states), "enterprises": len(ents),
            "peak_mb": peak_mb()}


# --- the raw-SQL baseline ------------------------------------------------------------------


def baseline(url: str) -> dict:
    """Select the due steps and insert the same rows, by hand, in one transaction; then roll back."""
    from sqlalchemy import insert, select, update

    from hazardloop.config import calendar, clock
    from hazardloop.config.escalation import load_policy
    from hazardloop.config.settings import get_settings
    from hazardloop.models import audit
    from hazardloop.models.db import get_engine
    from hazardloop.models.escalation import Document, DocumentCounter, EscalationCycle, EscalationPolicy, EscalationStep
    from hazardloop.models.tables import (
        AppUser, AuditEvent, AuditHead, Department, Enterprise, Hazard, Notification, Region, Standard,
    )
    from hazardloop.escalation import documents
    from hazardloop.notifications import outbox
    from hazardloop.escalation.hazards import document_context
    from hazardloop.notifications.recipients import Recipient

    clock.set_fixed(datetime.combine(AS_OF, dtime(8, 0), tzinfo=clock.SHANGHAI))
    policy = load_policy()
    engine = get_engine(url)
    started = time.perf_counter()
    now = clock.utcnow()
    prefix = get_settings().doc_prefix
    counts = Counter()
    conn = engine.connect()
    trans = conn.begin()
    try:
        refs = SimpleNamespace(
            regions=dict(conn.execute(select(Region.code, Region.name)).all()),
            departments=dict(conn.execute(select(Department.code, Department.name)).all()),
            standards={s.code: s for s in conn.execute(select(Standard)).all()},
        )
        ents = {e.id: e for e in conn.execute(select(Enterprise)).all()}
        users = conn.execute(select(AppUser).where(AppUser.active == True)).all()  # noqa: E712
        town = {}
        dept = {}
        committee = []
        for u in users:
            rec = Recipient(u.role if u.role != "supervisor" else "department", u.name, u.phone, u.email, u.username)
            if u.role == "township":
                town.setdefault(u.region_code, []).append(Recipient("township", u.name, u.phone, u.email, u.username))
            elif u.role == "supervisor":
                dept.setdefault(u.department_code, []).append(rec)
            elif u.role == "committee":
                committee.append(Recipient("committee", u.name, u.phone, u.email, u.username))

        def people(h, e, roles):  # noqa: ANN001, ANN202
            out = []
            for role in roles:
                if role == "principal":
                    out.append(Recipient(role, e.principal, e.principal_phone, None))
                elif role == "controller":
                    out.append(Recipient(role, e.controller, e.controller_phone, None))
                elif role == "safety_manager" and e.safety_manager:
                    out.append(Recipient(role, e.safety_manager, e.safety_manager_phone, None))
                elif role == "township":
                    out.extend(town.get(h.region_code, []))
                elif role == "department":
                    out.extend(dept.get(h.supervising_department, []))
                elif role == "committee":
                    out.extend(committee)
            return out

        conn.execute(insert(EscalationPolicy), {"version": policy.version, "body": policy.to_dict(),
                                                "source": policy.source, "first_used_at": now})
        latest = calendar.latest_with_offset_due(AS_OF, policy.steps[0].offset)
        h = Hazard.__table__
        hazards = conn.execute(select(h).where(h.c.state == "rectifying", h.c.deadline <= clock.end_of_day_utc(latest))
                               .order_by(h.c.id)).all()  # the due hazards only (about 10%): held in memory
        serial = Counter()
        head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
        seq, prev = head.seq, head.hash
        for k in range(0, len(hazards), 5000):
            chunk = hazards[k:k + 5000]
            cycles, steps, plan = [], [], []
            for hz in chunk:
                day = clock.local_date(hz.deadline)
                dates = [calendar.add_workdays(day, s.offset) for s in policy.steps]
                due = [i for i, d in enumerate(dates) if d <= AS_OF]
                nxt = len(due)
                cycles.append(dict(hazard_id=hz.id, cycle=hz.cycle, deadline=hz.deadline, policy_version=policy.version,
                                   next_index=nxt, next_due=dates[nxt] if nxt < len(dates) else None,
                                   status="active" if nxt < len(dates) else "done", started_at=now))
                for i in due:
                    st = policy.steps[i]
                    steps.append(dict(hazard_id=hz.id, cycle=hz.cycle, step=st.code, kind=st.kind, due_date=dates[i],
                                      status="proposed" if st.approval else "issued", policy_version=policy.version,
                                      created_at=now))
                    plan.append((hz, day, st))
            conn.execute(insert(EscalationCycle), cycles)
            ids = conn.execute(insert(EscalationStep).returning(EscalationStep.id, sort_by_parameter_order=True),
                               steps).scalars().all()
            docs, notes, events = [], [], []
            for step_id, (hz, day, st) in zip(ids, plan):
                e = ents[hz.enterprise_id]
                number, text, doc = None, None, None
                if st.has_document and not st.approval:
                    serial[st.doc_type] += 1
                    number = documents.format_number(prefix, st.doc_type, AS_OF.year, serial[st.doc_type])
                    ctx = document_context(refs, hz, e, st, day, AS_OF, number)
                    html, text = documents.render(st.template, ctx)
                    doc = documents.document_row(number=number, doc_type=st.doc_type, year=AS_OF.year,
                                                 serial=serial[st.doc_type], title=ctx["title"], step_id=step_id,
                                                 hazard_id=hz.id, cycle=hz.cycle, step=st.code, issue_date=AS_OF,
                                                 html=html, text=text, issued_at=now)
                    docs.append(doc)
                elif not st.approval:
                    text = documents.render_text(st.template, document_context(refs, hz, e, st, day, AS_OF))
                else:
                    text = f"【{st.name}待审批】{hz.code}"
                roles = ("committee",) if st.approval else st.recipients + st.copy
                key_step = f"{st.code}:proposed" if st.approval else st.code
                for p in people(hz, e, roles):
                    notes.append(dict(key=outbox.notification_key("escalation", hz.id, hz.cycle, key_step, p, "default"),
                                      event="escalation", hazard_id=hz.id, cycle=hz.cycle, step=key_step,
                                      recipient_role=p.role, recipient_name=p.name, channel="default",
                                      subject=f"{st.name}：{number or hz.code}", body=text, document_id=None,
                                      status="pending", attempts=0, next_attempt_at=now, created_at=now))
                seq += 1
                ev = dict(seq=seq, ts=now, actor="system", action="escalation_issued", hazard_id=hz.id, before=None,
                          after=audit.jsonable({"step": st.code, "cycle": hz.cycle, "step_id": step_id,
                                                "number": number, "due_date": AS_OF}),
                          reason=None, prev_hash=prev)
                ev["hash"] = prev = audit.event_hash(SimpleNamespace(**ev))
                events.append(ev)
            if docs:
                conn.execute(insert(Document), docs)
            if notes:
                conn.execute(insert(Notification), notes)
            conn.execute(insert(AuditEvent), events)
            counts["steps"] += len(steps)
            counts["documents"] += len(docs)
            counts["notifications"] += len(notes)
            counts["cycles"] += len(cycles)
        for doc_type, last in serial.items():
            conn.execute(insert(DocumentCounter), {"doc_type": doc_type, "year": AS_OF.year, "last": last})
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
        seconds = time.perf_counter() - started
    finally:
        trans.rollback()
        conn.close()
    return {"seconds": seconds, "counts": dict(counts), "peak_mb": peak_mb()}


def sweep(url: str, batch: int) -> dict:
    from hazardloop.config import clock
    from hazardloop.escalation import hazards as esc

    clock.set_fixed(datetime.combine(AS_OF, dtime(8, 0), tzinfo=clock.SHANGHAI))
    started = time.perf_counter()
    res = esc.sweep(esc.factory_for(url), AS_OF, batch_size=batch, stage_timeouts=False)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "counts": {"steps": sum(res.issued.values()), "documents": sum(res.documents.values()),
                                           "notifications": res.notifications, "cycles": res.cycles_started},
            "peak_mb": peak_mb()}


# --- driver -------------------------------------------------------------------------------------


def child(phase: str, url: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--phase", phase, "--db", url, "--hazards", str(args.hazards),
           "--seed", str(args.seed), "--batch", str(args.batch)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"phase {phase} failed (exit {out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from hazardloop.bootstrap import bootstrap

    bootstrap()  # wire the application as every entry point does
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hazards", type=int, default=1_000_000)
    ap.add_argument("--db", default=None, help="database URL (empty database); default: a new SQLite file in /tmp")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--batch", type=int, default=1000, help="cycles per sweep transaction")
    ap.add_argument("--phase", choices=["generate", "baseline", "sweep"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("HAZARDLOOP_HOME", tempfile.mkdtemp(prefix="hl-bench-home-"))
    if args.phase:
        fn = {"generate": lambda: generate(args.db, args.hazards, args.seed), "baseline": lambda: baseline(args.db),
              "sweep": lambda: sweep(args.db, args.batch)}[args.phase]
        print(json.dumps(fn(), ensure_ascii=False))
        return
    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='hl-bench-')}/bench.sqlite"
    backend = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"bench/sweep.py: {args.hazards:,} hazards on {backend} ({url.split('@')[-1]}), as of {AS_OF}, "
          f"batch {args.batch}, {os.cpu_count()} CPUs", flush=True)
    gen = child("generate", url, args)
    print(f"generated in {gen['seconds']:.1f} s: {gen['states']}, {gen['enterprises']:,} enterprises", flush=True)
    base = child("baseline", url, args)
    print(f"baseline (raw SQL, same rows, rolled back): {base['seconds']:.2f} s, peak RSS {base['peak_mb']:.0f} MB, "
          f"rows {base['counts']}", flush=True)
    swp = child("sweep", url, args)
    print(f"sweep (hazardloop.escalation.hazards.sweep): {swp['seconds']:.2f} s, peak RSS {swp['peak_mb']:.0f} MB, "
          f"rows {swp['counts']}", flush=True)
    same = all(base["counts"][k] == swp["counts"][k] for k in ("steps", "documents", "notifications", "cycles"))
    print("row counts agree" if same else "ROW COUNTS DIFFER", flush=True)
    print(f"throughput: {swp['counts']['steps'] / swp['seconds']:.0f} steps/s; "
          f"{args.hazards / swp['seconds']:.0f} hazards in the ledger per second of sweep")
    print(f"ratio: {swp['seconds'] / base['seconds']:.2f}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()

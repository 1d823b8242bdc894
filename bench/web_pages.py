"""How fast are the console's pages with many hazards?  (SQLite or --db URL.)

    PYTHONPATH=. python bench/web_pages.py --hazards 20000

Creates a throw-away database with N hazards spread over states, enterprises and
regions (bulk rows, not the ledger: this measures reading), then times the list
(台账) with and without filters, the queue and one hazard page, for the committee
office (sees everything) and an enterprise user, through the ASGI app in-process.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import timedelta
import sys
from pathlib import Path

# bench/transitions.py would shadow the `transitions` package when a script here runs
# with bench/ first on sys.path: drop the script's own directory.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from fastapi.testclient import TestClient
from sqlalchemy import insert

from hazardloop.config import clock
from hazardloop.models.db import get_engine, session_scope
from hazardloop.models.migrate import init_database
from hazardloop.models.tables import AppUser, Enterprise, Hazard
from hazardloop.web import auth
from hazardloop.web.app import create_app
from hazardloop.web.auth import SessionData


def main() -> None:
    from hazardloop.bootstrap import bootstrap

    bootstrap()  # wire the application as every entry point does
    ap = argparse.ArgumentParser()
    ap.add_argument("--hazards", type=int, default=20000)
    ap.add_argument("--enterprises", type=int, default=500)
    ap.add_argument("--db", default=None)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite'}"
    engine = get_engine(url)
    init_database(engine)
    rnd = random.Random(7)
    now = clock.utcnow()
    with session_scope(url) as s:
        from sqlmodel import select

        from hazardloop.models.tables import Industry, Region

        regions = [r.code for r in s.exec(select(Region)).all()]
        industries = s.exec(select(Industry)).all()
        ents = []
        for i in range(args.enterprises):
            ind = industries[i % len(industries)]
            ents.append({"name": f"企业{i:05d}", "credit_code": f"BENCH{i:013d}", "region_code": rnd.choice(regions),
                         "industry_code": ind.code, "principal": "甲", "controller": "乙", "contacts": {}})
        s.execute(insert(Enterprise), ents)
        ent_rows = s.exec(select(Enterprise)).all()
        dept = {i.code: i.department_code for i in industries}
        states = ["found", "listed", "rectifying", "reviewed", "closed", "dismissed"]
        rows = []
        for n in range(args.hazards):
            e = rnd.choice(ent_rows)
            st = rnd.choices(states, [5, 5, 30, 10, 45, 5])[0]
            found = now - timedelta(days=rnd.randint(1, 900))
            rows.append({"code": f"YH-B-{n:07d}", "enterprise_id": e.id, "region_code": e.region_code,
                         "industry_code": e.industry_code, "title": f"隐患{n}", "description": "", "channel": "inspection",
                         "state": st, "found_at": found, "reported_by": "bench", "level": "city",
                         "supervising_department": dept[e.industry_code],
                         "deadline": found + timedelta(days=rnd.randint(10, 200)) if st in ("rectifying", "reviewed", "closed") else None,
                         "submitted_at": found + timedelta(days=5) if st == "reviewed" else None,
                         "cycle": 1, "rejections": 0, "version": 1})
        for i in range(0, len(rows), 5000):
            s.execute(insert(Hazard), rows[i:i + 5000])
        office = AppUser(username="bench_office", name="办", role="committee", department_code="anweiban")
        ent_user = AppUser(username="bench_ent", name="企", role="enterprise", enterprise_id=ent_rows[0].id)
        s.add(office)
        s.add(ent_user)
        s.flush()
        for u in (office, ent_user):
            auth.set_password(s, u, "bench-password-1")
        ids = (office.id, ent_user.id)
        some = rows[0]["code"]
    app = create_app(url, "bench-secret-" + "x" * 20)
    print(f"{args.hazards} hazards, {args.enterprises} enterprises, {engine.url.get_backend_name()}")
    for uid, who in zip(ids, ("committee", "enterprise"), strict=True):
        client = TestClient(app)
        client.cookies.set(auth.SESSION_COOKIE, app.state.codec.dumps(SessionData(uid, 1, "t")))
        for label, path in (("list", "/hazards"), ("list page 50", "/hazards?page=50"),
                            ("list filtered", "/hazards?state=rectifying&overdue=1&sort=deadline&order=asc"),
                            ("list keyword", "/hazards?q=隐患123"), ("queue", "/queue"),
                            ("hazard page", f"/hazards/{some}")):
            times = []
            status = None
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                status = client.get(path).status_code
                times.append((time.perf_counter() - t0) * 1000)
            print(f"  {who:10s} {label:14s} status {status}  median {statistics.median(times):7.1f} ms  "
                  f"max {max(times):7.1f} ms")


if __name__ == "__main__":
    main()

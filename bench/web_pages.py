"""How fast are the console's pages with many hazards?  (SQLite or --db URL.)

    PYTHONPATH=. python bench/web_pages.py --hazards 20000
    PYTHONPATH=. python bench/web_pages.py --hazards 100000 --users 20 --seconds 60 \\
        --db postgresql+psycopg://postgres@127.0.0.1:5432/hl_bench_web

Builds a throw-away ledger of N hazards with a realistic audit trail (bench/stats.py's
generator: the dashboard's figures are computed from the audit trail, so a ledger without
one would make the dashboard look free), a few thousand 公文, and the users.  Then:

1. One user at a time, in-process (ASGI): the 台账 with and without filters, the queue, a
   hazard page (committee office and an enterprise user), and the office's pages -- p50,
   p95, p99 each.
2. --users signed-in committee-office users at once, over real HTTP on 127.0.0.1 against
   the console in its own process (uvicorn, one worker), for --seconds each run, browsing
   a mix: dashboard 20 %, 台账 filtered and paged 30 %, hazard pages 30 %, 公文 search 10 %,
   a 公文 10 %.  The same mix is run again asking /api/v1 for the same query's rows as plain
   JSON (the baseline).  p50/p95/p99 per page kind; last line `ratio:` = p95 of the pages
   / p95 of the JSON for the same queries (1.00: the HTML costs nothing over the data).
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import random
import sys
import threading
import time
from pathlib import Path

# bench/transitions.py would shadow the `transitions` package when a script here runs
# with bench/ first on sys.path: drop the script's own directory.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402

from hazardloop.models.db import get_engine, is_sqlite, session_scope  # noqa: E402
from hazardloop.models.migrate import init_database  # noqa: E402
from hazardloop.models.tables import AppUser  # noqa: E402
from hazardloop.web import auth  # noqa: E402
from hazardloop.web.app import create_app  # noqa: E402
from hazardloop.web.auth import SessionData  # noqa: E402

SECRET = "bench-secret-" + "x" * 20
PASSWORD = "bench-password-1"


def _ledger_builder():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("bench_stats", HERE / "stats.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod.build


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def line(label: str, times: list[float], extra: str = "") -> str:
    return (f"  {label:28s} n {len(times):5d}  p50 {pct(times, 50):7.1f}  p95 {pct(times, 95):7.1f}  "
            f"p99 {pct(times, 99):7.1f} ms{extra}")


def build(url: str, n: int, users: int, docs: int) -> dict:
    engine = get_engine(url)
    init_database(engine)
    t0 = time.perf_counter()
    events = _ledger_builder()(engine, n, 7)
    print(f"built {n} hazards, {events} audit events in {time.perf_counter() - t0:.1f} s ({engine.dialect.name})")
    html = "<html><body><h1>肥城市安全生产委员会办公室</h1>" + "<p>正文。</p>" * 40 + "</body></html>"
    from hazardloop.escalation import documents as docs_mod

    digest, text_digest = docs_mod.sha256(html), docs_mod.sha256("正文")
    with engine.begin() as conn:
        rows = [{"number": f"肥安办函〔2026〕{i}号", "doc_type": "函", "year": 2026, "serial": i,
                 "title": f"关于企业{i:06d}重大事故隐患逾期未整改的提示函", "hazard_id": 1 + (i * 37) % n, "cycle": 1,
                 "step": "notice_letter", "issue_date": "2026-11-01", "html": html, "text": "正文",
                 "sha256": digest, "text_sha256": text_digest, "issued_at": "2026-11-01 01:00:00"}
                for i in range(1, docs + 1)]
        conn.execute(text("INSERT INTO document (number, doc_type, year, serial, title, hazard_id, cycle, step, "
                          "issue_date, html, text, sha256, text_sha256, issued_at) VALUES (:number, :doc_type, :year, "
                          ":serial, :title, :hazard_id, :cycle, :step, :issue_date, :html, :text, :sha256, "
                          ":text_sha256, :issued_at)"), rows)
    office, tokens = [], []
    with session_scope(url) as s:
        ent = AppUser(username="bench_ent", name="企", role="enterprise", enterprise_id=1)
        s.add(ent)
        for i in range(users):
            u = AppUser(username=f"bench_office{i}", name=f"办{i}", role="committee", department_code="anweiban")
            s.add(u)
            office.append(u)
        s.flush()
        pw = auth.hash_password(PASSWORD)
        from hazardloop.models.web import WebCredential

        for u in [ent, *office]:
            s.add(WebCredential(user_id=u.id, password_hash=pw))
        s.flush()
        for u in office:
            tokens.append(auth.create_token(s, u, "bench"))
        code = s.execute(text("SELECT code FROM hazard WHERE id = 1")).scalar_one()
        ids = (office[0].id, ent.id)
        office_ids = [u.id for u in office]
    return {"ids": ids, "office_ids": office_ids, "tokens": tokens, "code": code}


def sequential(url: str, info: dict, repeat: int) -> None:
    app = create_app(url, SECRET)
    some = info["code"]
    print("one user at a time (in-process):")
    for uid, who in zip(info["ids"], ("committee", "enterprise"), strict=True):
        client = TestClient(app)
        client.cookies.set(auth.SESSION_COOKIE, app.state.codec.dumps(SessionData(uid, 1, "t")))
        paths = [("list", "/hazards"), ("list page 50", "/hazards?page=50"),
                 ("list filtered", "/hazards?state=rectifying&overdue=1&sort=deadline&order=asc"),
                 ("list keyword", "/hazards?q=隐患123"), ("queue", "/queue"), ("hazard page", f"/hazards/{some}")]
        if who == "committee":
            paths += [("dashboard", "/dashboard"), ("documents", "/documents"),
                      ("documents by number", "/documents?number=〔2026〕12"), ("a document", "/documents/hazard/1"),
                      ("outbox", "/outbox")]
        for label, path in paths:
            times, status = [], None
            for _ in range(repeat):
                t0 = time.perf_counter()
                status = client.get(path).status_code
                times.append((time.perf_counter() - t0) * 1000)
            print(line(f"{who} {label}", times, f"  status {status}  (first {times[0]:.0f} ms)"))


def _serve(url: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(url, SECRET), host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def _mix(rnd: random.Random, n: int, docs: int, regions: list[str], json: bool) -> tuple[str, str]:
    r = rnd.random()
    if r < 0.2:
        return "dashboard", "/api/v1/dashboard" if json else "/dashboard"
    if r < 0.5:
        region = rnd.choice(regions)
        state = rnd.choice(["rectifying", "closed", "reviewed", ""])
        page = rnd.randint(1, 5)
        q = f"region={region}&page={page}" + (f"&state={state}" if state else "")
        return "台账 filtered, paged", ("/api/v1/hazards?" if json else "/hazards?") + q
    if r < 0.8:
        hid = rnd.randint(1, n)
        return "hazard page", (f"/api/v1/hazards/{hid}" if json else f"/hazards/{hid}")
    if r < 0.9:
        q = f"number=〔2026〕{rnd.randint(1, 99)}"
        return "公文 search", ("/api/v1/documents?" if json else "/documents?") + q
    d = rnd.randint(1, docs)
    return "a 公文", (f"/api/v1/documents/hazard/{d}" if json else f"/documents/hazard/{d}")


def concurrent(url: str, info: dict, users: int, seconds: float, n: int, docs: int, json: bool, port: int,
               codec) -> dict[str, list[float]]:  # noqa: ANN001
    from hazardloop.models.tables import Region
    from sqlmodel import select

    with session_scope(url, write=False) as s:
        regions = [r.code for r in s.exec(select(Region)).all()]
    results: dict[str, list[float]] = {}
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(users)

    def user(i: int) -> None:
        rnd = random.Random(i)
        headers = {"Authorization": f"Bearer {info['tokens'][i]}"} if json else {}
        cookies = {} if json else {auth.SESSION_COOKIE: codec.dumps(SessionData(info["office_ids"][i], 1, "t"))}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, cookies=cookies, timeout=60) as c:
            start.wait()
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                kind, path = _mix(rnd, n, docs, regions, json)
                t0 = time.perf_counter()
                r = c.get(path)
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {path}")
                    results.setdefault(kind, []).append(ms)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print(f"  !! {len(errors)} requests failed, e.g. {errors[:3]}")
    return results


def main() -> None:
    from hazardloop.bootstrap import bootstrap

    bootstrap()  # wire the application as every entry point does
    ap = argparse.ArgumentParser()
    ap.add_argument("--hazards", type=int, default=20000)
    ap.add_argument("--documents", type=int, default=3000)
    ap.add_argument("--db", default=None, help="an EMPTY database (default: a new SQLite file)")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--port", type=int, default=18917)
    args = ap.parse_args()
    import tempfile

    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite'}"
    if is_sqlite(url):
        p = Path(url.split("///", 1)[1])
        if p.exists():
            p.unlink()
    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores, shared)")
    info = build(url, args.hazards, args.users, args.documents)
    sequential(url, info, args.repeat)
    proc = multiprocessing.get_context("fork").Process(target=_serve, args=(url, args.port), daemon=True)
    proc.start()
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{args.port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        codec = create_app(url, SECRET).state.codec
        warm = httpx.Client(base_url=f"http://127.0.0.1:{args.port}",
                            cookies={auth.SESSION_COOKIE: codec.dumps(SessionData(info["office_ids"][0], 1, "t"))},
                            timeout=300)
        t0 = time.perf_counter()
        warm.get("/dashboard")
        print(f"dashboard, first view of the day in a new process (computed from the audit trail): "
              f"{(time.perf_counter() - t0) * 1000:.0f} ms")
        for json in (False, True):  # warm-up (not counted): connections, caches, the first dashboard
            concurrent(url, info, args.users, min(5.0, args.seconds / 5), args.hazards, args.documents, json,
                       args.port, codec)
        out = {}
        for json in (True, False):
            name = "JSON (/api/v1, same queries)" if json else "pages (HTML)"
            print(f"{args.users} users at once for {args.seconds:.0f} s over HTTP, {name}; "
                  f"load {os.getloadavg()[0]:.1f}:")
            res = concurrent(url, info, args.users, args.seconds, args.hazards, args.documents, json, args.port, codec)
            for kind, times in sorted(res.items()):
                print(line(kind, times))
            every = [t for ts in res.values() for t in ts]
            print(line("all", every, f"  ({len(every) / args.seconds:.0f} requests/s)"))
            out[json] = every
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        print(f"p95 pages {pct(out[False], 95):.1f} ms, p95 JSON {pct(out[True], 95):.1f} ms "
              f"(target: pages p95 <= 150 ms)")
        print(f"ratio: {pct(out[False], 95) / pct(out[True], 95):.2f}")
    finally:
        proc.terminate()
        proc.join(5)


if __name__ == "__main__":
    main()

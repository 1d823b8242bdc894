"""How fast are the console's pages with many hazards?  PostgreSQL by default.

    PYTHONPATH=. .venv/bin/python bench/web_pages.py                     # 100,000 hazards, 20 users, 1 worker
    PYTHONPATH=. .venv/bin/python bench/web_pages.py --workers 1,2 --seconds 60
    PYTHONPATH=. .venv/bin/python bench/web_pages.py --db sqlite:////tmp/hl_bench.sqlite --hazards 20000

The ledger lives in a dedicated database (default `hazardloop_bench` on 127.0.0.1:5432, created
if absent): N hazards with a realistic audit trail (bench/stats.py's generator: the dashboard's
figures are computed from the audit trail, so a ledger without one would make the dashboard look
free), --documents 公文 with their escalation steps and their outbox rows (three recipients each).
A table `bench_seed` records what was seeded; a later run with the same --hazards/--documents
reuses it (seconds instead of minutes), any other size or --reseed drops and rebuilds it.  The
application's migrations are applied either way, so a reused ledger gets new indexes.  The
runs only read: the ledger is the same before and after.

1. One user at a time, in-process (ASGI, --repeat each; 0 skips it): the 台账 with and without
   filters, the queue, a hazard page (committee office and an enterprise user), the office's pages.
2. For each --workers count: the console in its own processes, as deployed
   (`uvicorn hazardloop.web.app:create_app --factory --workers W`), and --users signed-in
   committee-office users at once over real HTTP on 127.0.0.1 for --seconds, each browsing a mix
   with --think ms between clicks (0: as fast as answers come): dashboard 20 %, 台账 filtered by
   镇街区 (and state) and paged 30 %, hazard pages 30 %, 公文 search 10 %, a 公文 10 %.  The same mix
   is then run asking /api/v1 for the same queries' rows as plain JSON (the baseline).
   Printed: p50/p95/p99 per page kind for both, the ratio of the p95s per kind, requests/s,
   /proc/loadavg before and after each run (the machine is shared: read the numbers with it),
   and the CPU each request cost the console's processes and PostgreSQL's backends (from /proc:
   unlike the times users see, it hardly moves with what else the machine runs).
   Last line: `ratio:` = p95 of all pages / p95 of all JSON, for the last --workers count.

--server-src DIR serves another checkout's code against the same ledger (e.g. `git worktree add
/tmp/hl_before <commit>`), for a before/after comparison in the same conditions.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import signal
import subprocess
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
from sqlalchemy import create_engine, inspect, make_url, text  # noqa: E402

from hazardloop.models.db import forget_engine, get_engine, is_sqlite, session_scope  # noqa: E402
from hazardloop.models.migrate import init_database  # noqa: E402
from hazardloop.web.auth import SessionCodec, SessionData  # noqa: E402

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/hazardloop_bench"
SECRET = "bench-secret-" + "x" * 20
PASSWORD = "bench-password-1"
SEED = 7
SEED_VERSION = 2  # bump when what build() writes changes: an older ledger is rebuilt
RECIPIENTS = (("principal", "主要负责人"), ("controller", "实际控制人"), ("township", "镇街区"))


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def line(label: str, times: list[float], extra: str = "") -> str:
    return (f"  {label:24s} n {len(times):5d}  p50 {pct(times, 50):7.1f}  p95 {pct(times, 95):7.1f}  "
            f"p99 {pct(times, 99):7.1f} ms{extra}")


# --- the ledger: built once, reused ----------------------------------------------------------


def _ledger_builder():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("bench_stats", HERE / "stats.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod.build


def _admin_url(url: str) -> tuple[str, str]:
    u = make_url(url)
    return u.set(database="postgres").render_as_string(hide_password=False), u.database


def _seeded(url: str) -> dict | None:
    """What bench_seed says was built in this database, or None (absent, empty, half-built)."""
    if is_sqlite(url):
        if not Path(make_url(url).database).exists():
            return None
    else:
        admin, name = _admin_url(url)
        eng = create_engine(admin, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            found = c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        eng.dispose()
        if not found:
            return None
    engine = create_engine(url)
    try:
        if not inspect(engine).has_table("bench_seed"):
            return None
        with engine.connect() as c:
            row = c.execute(text("SELECT hazards, documents, seed, version FROM bench_seed")).mappings().first()
        return dict(row) if row else None
    finally:
        engine.dispose()


def _fresh_database(url: str) -> None:
    forget_engine(url)
    if is_sqlite(url):
        path = Path(make_url(url).database)
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            p.unlink(missing_ok=True)
        return
    admin, name = _admin_url(url)
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng.dispose()


def ensure_ledger(url: str, n: int, docs: int, reseed: bool) -> None:
    want = {"hazards": n, "documents": docs, "seed": SEED, "version": SEED_VERSION}
    have = None if reseed else _seeded(url)
    if have == want:
        init_database(get_engine(url))  # new migrations (indexes) apply to a reused ledger too
        print(f"ledger: reusing {n} hazards, {docs} 公文 in {make_url(url).database} (--reseed rebuilds it)")
        return
    print(f"ledger: building {n} hazards, {docs} 公文 in {make_url(url).database}"
          + (f" (found {have})" if have else ""))
    _fresh_database(url)
    engine = get_engine(url)
    init_database(engine)
    t0 = time.perf_counter()
    events = _ledger_builder()(engine, n, SEED)
    _documents(engine, n, docs)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_seed (hazards INTEGER, documents INTEGER, seed INTEGER, "
                          "version INTEGER)"))
        conn.execute(text("INSERT INTO bench_seed VALUES (:hazards, :documents, :seed, :version)"), want)
        conn.execute(text("ANALYZE"))
    print(f"ledger: built {n} hazards, {events} audit events, {docs} 公文 with {docs * len(RECIPIENTS)} "
          f"outbox rows in {time.perf_counter() - t0:.0f} s ({engine.dialect.name})")


def _documents(engine, n: int, docs: int) -> None:  # noqa: ANN001
    """docs 提示函, each on its own hazard with its ladder step, sent to three recipients."""
    from hazardloop.escalation import documents as docs_mod

    html = "<html><body><h1>肥城市安全生产委员会办公室</h1>" + "<p>正文。</p>" * 40 + "</body></html>"
    digest, text_digest = docs_mod.sha256(html), docs_mod.sha256("正文")
    hazards = random.Random(SEED).sample(range(1, n + 1), docs)  # one 公文 per hazard: steps are unique per cycle
    steps = [{"id": i, "hazard_id": h, "due_date": f"2026-{1 + i % 10:02d}-{1 + i % 28:02d}"}
             for i, h in enumerate(hazards, 1)]
    rows = [{"number": f"肥安办函〔2026〕{i}号", "serial": i, "title": f"关于企业{i:06d}重大事故隐患逾期未整改的提示函",
             "hazard_id": h, "step_id": i, "issue_date": f"2026-{1 + i % 10:02d}-{1 + i % 28:02d}", "html": html,
             "sha256": digest, "text_sha256": text_digest} for i, h in enumerate(hazards, 1)]
    notes = [{"key": f"escalation:{h}:1:letter_1:{role}:default", "hazard_id": h, "role": role, "name": name,
              "document_id": i, "status": "sent" if (i + k) % 9 else "dead"}
             for i, h in enumerate(hazards, 1) for k, (role, name) in enumerate(RECIPIENTS)]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO escalation_step (id, hazard_id, cycle, step, kind, due_date, status, created_at) "
                          "VALUES (:id, :hazard_id, 1, 'letter_1', 'letter', :due_date, 'issued', "
                          "'2026-11-01 01:00:00')"), steps)
        conn.execute(text("INSERT INTO document (number, doc_type, year, serial, title, step_id, hazard_id, cycle, step, "
                          "issue_date, html, text, sha256, text_sha256, issued_at) VALUES (:number, '函', 2026, :serial, "
                          ":title, :step_id, :hazard_id, 1, 'letter_1', :issue_date, :html, '正文', :sha256, "
                          ":text_sha256, '2026-11-01 01:00:00')"), rows)
        conn.execute(text("INSERT INTO notification (key, event, hazard_id, cycle, step, recipient_role, recipient_name, "
                          "channel, subject, body, document_id, status, attempts, next_attempt_at, created_at, "
                          "recipient_key) VALUES (:key, 'escalation', :hazard_id, 1, 'letter_1', :role, :name, "
                          "'default', '提示函', '正文', :document_id, :status, 1, '2026-11-01 01:00:00', "
                          "'2026-11-01 01:00:00', :name)"), notes)
        if conn.dialect.name == "postgresql":  # the explicit ids above: move the sequence past them
            conn.execute(text("SELECT setval(pg_get_serial_sequence('escalation_step', 'id'), "
                              "(SELECT max(id) FROM escalation_step))"))


def ensure_users(url: str, users: int) -> dict:
    """bench_office0..users-1 (committee office) and bench_ent, each with a password; fresh API tokens."""
    from sqlmodel import delete, select

    from hazardloop.models.tables import AppUser
    from hazardloop.models.web import ApiToken, WebCredential
    from hazardloop.web import auth

    with session_scope(url) as s:
        pw = None
        wanted = [("bench_ent", "企", "enterprise", {"enterprise_id": 1})] + [
            (f"bench_office{i}", f"办{i}", "committee", {"department_code": "anweiban"}) for i in range(users)]
        by_name = {u.username: u for u in s.exec(select(AppUser).where(AppUser.username.startswith("bench_", autoescape=True))).all()}
        for username, name, role, extra in wanted:
            if username not in by_name:
                user = by_name[username] = AppUser(username=username, name=name, role=role, **extra)
                s.add(user)
                s.flush()
                pw = pw or auth.hash_password(PASSWORD)
                s.add(WebCredential(user_id=user.id, password_hash=pw))
        s.flush()
        office = [by_name[f"bench_office{i}"] for i in range(users)]
        s.exec(delete(ApiToken).where(ApiToken.user_id.in_([u.id for u in office])))
        tokens = [auth.create_token(s, u, "bench") for u in office]
        code = s.execute(text("SELECT code FROM hazard WHERE id = 1")).scalar_one()
        own = s.execute(text("SELECT min(code) FROM hazard WHERE enterprise_id = 1")).scalar_one()
        return {"ids": (office[0].id, by_name["bench_ent"].id), "office_ids": [u.id for u in office],
                "tokens": tokens, "codes": (code, own)}


# --- 1. one user at a time ---------------------------------------------------------------------


def sequential(url: str, info: dict, repeat: int) -> None:
    from fastapi.testclient import TestClient

    from hazardloop.web import auth
    from hazardloop.web.app import create_app

    app = create_app(url, SECRET)
    print(f"one user at a time (in-process, {repeat} each); load {loadavg()}:")
    for uid, who, some in zip(info["ids"], ("committee", "enterprise"), info["codes"], strict=True):
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


# --- 2. many users at once, over HTTP --------------------------------------------------------


def _cpu_ms(pids: list[int]) -> float:
    """CPU time (user + system) the processes have used so far, in ms (Linux /proc)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone
        total += (int(fields[11]) + int(fields[12])) * 1000 / tick
    return total


def _group(pgid: int) -> list[int]:
    """The server's processes: uvicorn and its workers share its process group."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def _backends(url: str) -> list[int]:
    """PostgreSQL's server processes connected to the bench database (its share of the work)."""
    if is_sqlite(url):
        return []
    with get_engine(url).connect() as c:
        return [r[0] for r in c.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                             "AND pid <> pg_backend_pid()"))]


class CpuMeter:
    """CPU used by the console's processes and by PostgreSQL for it between start() and stop():
    unlike the times users see, it hardly depends on what else the shared machine runs."""

    def __init__(self, url: str, pgid: int) -> None:
        self.url, self.pgid = url, pgid

    def start(self) -> None:
        self.app0 = {p: _cpu_ms([p]) for p in _group(self.pgid)}
        self.db0 = {p: _cpu_ms([p]) for p in _backends(self.url)}

    def stop(self) -> tuple[float, float]:
        app = sum(_cpu_ms([p]) - self.app0.get(p, 0.0) for p in _group(self.pgid))
        db = sum(_cpu_ms([p]) - self.db0.get(p, 0.0) for p in _backends(self.url))
        return app, db


def start_server(url: str, port: int, workers: int, src: Path, profile: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "HAZARDLOOP_DATABASE_URL": url, "HAZARDLOOP_SECRET_KEY": SECRET,
           "PYTHONPATH": str(src)}
    env.setdefault("HAZARDLOOP_HOME", str(Path("/tmp") / f"hl_bench_home_{os.getpid()}"))
    cmd = [sys.executable, "-m", "uvicorn", "hazardloop.web.app:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--lifespan", "off",
           "--no-access-log"]
    if profile is not None:  # sampled by py-spy (pip install py-spy), every worker; written when stopped
        cmd = [str(Path(sys.executable).with_name("py-spy")), "record", "--subprocesses", "--nonblocking", "-r", "200",
               "-f", "raw", "-o", str(profile), "--", *cmd]
    # its own process group, so that stopping it stops its workers too (and nothing else)
    proc = subprocess.Popen(cmd, env=env, cwd=str(src), start_new_session=True)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"the console did not start (exit {proc.returncode})")
        time.sleep(0.1)
    raise SystemExit("the console did not answer /healthz in 60 s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)  # py-spy writes its samples on Ctrl-C; uvicorn stops on it too
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _mix(rnd: random.Random, n: int, docs: int, regions: list[str], json_: bool) -> tuple[str, str]:
    r = rnd.random()
    if r < 0.2:
        return "dashboard", "/api/v1/dashboard" if json_ else "/dashboard"
    if r < 0.5:
        region = rnd.choice(regions)
        state = rnd.choice(["rectifying", "closed", "reviewed", ""])
        page = rnd.randint(1, 5)
        q = f"region={region}&page={page}" + (f"&state={state}" if state else "")
        return "台账 filtered, paged", ("/api/v1/hazards?" if json_ else "/hazards?") + q
    if r < 0.8:
        hid = rnd.randint(1, n)
        return "hazard page", (f"/api/v1/hazards/{hid}" if json_ else f"/hazards/{hid}")
    if r < 0.9:
        q = f"number=〔2026〕{rnd.randint(1, 99)}"
        return "公文 search", ("/api/v1/documents?" if json_ else "/documents?") + q
    d = rnd.randint(1, docs)
    return "a 公文", (f"/api/v1/documents/hazard/{d}" if json_ else f"/documents/hazard/{d}")


def concurrent(info: dict, users: int, seconds: float, n: int, docs: int, regions: list[str], json_: bool, port: int,
               think: float, codec: SessionCodec, seed: int = 0) -> dict[str, list[float]]:
    from hazardloop.web import auth

    results: dict[str, list[float]] = {}
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(users)

    def user(i: int) -> None:
        rnd = random.Random(seed * 1000 + i)
        headers = {"Authorization": f"Bearer {info['tokens'][i]}"} if json_ else {}
        cookies = {} if json_ else {auth.SESSION_COOKIE: codec.dumps(SessionData(info["office_ids"][i], 1, "t"))}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, cookies=cookies, timeout=120) as c:
            start.wait()
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                kind, path = _mix(rnd, n, docs, regions, json_)
                t0 = time.perf_counter()
                r = c.get(path)
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {path}")
                    results.setdefault(kind, []).append(ms)
                if think:
                    time.sleep(rnd.uniform(0, 2 * think) / 1000)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print(f"  !! {len(errors)} requests failed, e.g. {errors[:3]}")
    return results


def warm(port: int, codec: SessionCodec, info: dict, workers: int) -> float:
    """Each worker computes its dashboard board on its first view: ask until every answer is quick."""
    from hazardloop.web import auth

    cookies = {auth.SESSION_COOKIE: codec.dumps(SessionData(info["office_ids"][0], 1, "t"))}
    t0 = time.perf_counter()
    slowest = 0.0
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", cookies=cookies, timeout=600) as c:
        for _ in range(10):
            times: list[float] = []

            def one() -> None:
                s = time.perf_counter()
                c.get("/dashboard")
                times.append(time.perf_counter() - s)

            threads = [threading.Thread(target=one) for _ in range(4 * workers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            slowest = max(slowest, *times)
            if max(times) < 1.0:
                break
    return (time.perf_counter() - t0) * 1000


def top_functions(raw: Path, limit: int = 30) -> None:
    """py-spy's collapsed stacks -> the functions with the largest share of the busy samples
    (inclusive: a function counts once per sample however deep it recurs)."""
    total, idle, board, incl = 0, 0, 0, {}
    for row in raw.read_text().splitlines():
        stack, _, count = row.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        total += n
        if any(f.startswith(("select (selectors", "_worker (concurrent", "wait (threading", "run_forever")) for f in
               frames[-2:]):
            idle += n
            continue
        if any(f.startswith("_compute (") and "dashboard" in f for f in frames):
            board += n  # the dashboard's first view (warm-up): not the page
            continue
        for f in set(frames):
            name = f.split(" (", 1)[0] + " " + f.rsplit("/", 1)[-1].rstrip(")") if "/" in f else f
            incl[name] = incl.get(name, 0) + n
    busy = total - idle - board
    print(f"profile {raw}: {total} samples, {board} computing dashboard boards, {busy} busy serving; "
          "inclusive share of those:")
    for name, n in sorted(incl.items(), key=lambda kv: -kv[1])[:limit]:
        print(f"  {100 * n / max(1, busy):5.1f} %  {name}")


def run_workers(url: str, info: dict, args: argparse.Namespace, workers: int, regions: list[str]) -> dict:
    codec = SessionCodec(SECRET)
    src = Path(args.server_src).resolve() if args.server_src else HERE.parent
    profile = Path(args.profile) / f"workers{workers}.txt" if args.profile else None
    if profile is not None:
        profile.parent.mkdir(parents=True, exist_ok=True)
    proc = start_server(url, args.port, workers, src, profile)
    try:
        ms = warm(args.port, codec, info, workers)
        print(f"\n== {workers} uvicorn worker(s), code from {src}; dashboards computed on first view "
              f"(the audit trail, each worker): {ms / 1000:.1f} s")
        for json_ in (False, True):  # warm-up, not counted: connections, caches
            concurrent(info, args.users, min(5.0, args.seconds / 5), args.hazards, args.documents, regions, json_,
                       args.port, args.think, codec, seed=99)
        out: dict[bool, dict[str, list[float]]] = {}
        cpu: dict[bool, tuple[float, float]] = {}
        meter = CpuMeter(url, proc.pid)
        for json_ in (True, False):
            name = "JSON (/api/v1, same queries)" if json_ else "pages (HTML)"
            before = loadavg()
            meter.start()
            t0 = time.perf_counter()
            res = concurrent(info, args.users, args.seconds, args.hazards, args.documents, regions, json_, args.port,
                             args.think, codec)
            took = time.perf_counter() - t0
            app_ms, db_ms = meter.stop()
            every = [t for ts in res.values() for t in ts]
            print(f"{args.users} users, think {args.think:.0f} ms, {args.seconds:.0f} s, {name}; "
                  f"loadavg before {before}, after {loadavg()}:")
            for kind, times in sorted(res.items()):
                print(line(kind, times))
            print(line("all", every, f"  ({len(every) / took:.0f} requests/s)"))
            cpu[json_] = (app_ms / max(1, len(every)), db_ms / max(1, len(every)))
            print(f"  CPU per request: console {cpu[json_][0]:.1f} ms, PostgreSQL {cpu[json_][1]:.1f} ms")
            out[json_] = res
        print("p95 pages / p95 JSON by kind:")
        for kind in sorted(out[False]):
            pages, js = pct(out[False][kind], 95), pct(out[True].get(kind, []), 95)
            print(f"  {kind:24s} {pages:7.1f} / {js:7.1f} ms = {pages / js:.2f}")
        pages_all = [t for ts in out[False].values() for t in ts]
        json_all = [t for ts in out[True].values() for t in ts]
        p95p, p95j = pct(pages_all, 95), pct(json_all, 95)
        worst = max(pct(ts, 95) for ts in out[False].values())
        print(f"p95 pages {p95p:.1f} ms (worst kind {worst:.1f} ms), p95 JSON {p95j:.1f} ms "
              f"(target: p95 <= 150 ms per page kind)")
        return {"workers": workers, "p95_pages": p95p, "p95_json": p95j, "worst_kind": worst,
                "ratio": p95p / p95j, "cpu_ms_pages": cpu[False], "cpu_ms_json": cpu[True], "p95_by_kind": {k: pct(v, 95) for k, v in out[False].items()},
                "p95_json_by_kind": {k: pct(v, 95) for k, v in out[True].items()}}
    finally:
        stop_server(proc)
        if profile is not None and profile.exists():
            top_functions(profile)


def main() -> None:
    from hazardloop.bootstrap import bootstrap

    bootstrap()  # wire the application as every entry point does
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default=DEFAULT_DB, help=f"the bench's own database (default {DEFAULT_DB}); "
                    "created if absent, rebuilt if it holds another size")
    ap.add_argument("--hazards", type=int, default=100_000)
    ap.add_argument("--documents", type=int, default=20_000)
    ap.add_argument("--reseed", action="store_true", help="rebuild the ledger even if it is the right size")
    ap.add_argument("--repeat", type=int, default=15, help="one-user-at-a-time repetitions per page (0: skip)")
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--workers", default="1", help="uvicorn worker counts to run in turn, e.g. 1,2")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--think", type=float, default=0, help="mean ms a user waits between clicks (0: none)")
    ap.add_argument("--port", type=int, default=18917)
    ap.add_argument("--server-src", default=None, help="serve the code of another checkout (before/after)")
    ap.add_argument("--profile", default=None, help="directory: sample the console with py-spy and print where "
                    "its time goes (needs `pip install py-spy`)")
    ap.add_argument("--json", default=None, help="also write the summary to this file")
    args = ap.parse_args()
    if args.documents >= args.hazards:
        raise SystemExit("--documents must be fewer than --hazards (one 公文 per hazard)")
    url = args.db
    print(f"loadavg at start: {loadavg()} ({os.cpu_count()} cores, shared with whatever else runs here)")
    ensure_ledger(url, args.hazards, args.documents, args.reseed)
    info = ensure_users(url, args.users)
    if args.repeat:
        sequential(url, info, args.repeat)
    from sqlmodel import select

    from hazardloop.models.tables import Region

    with session_scope(url, write=False) as s:
        regions = [r.code for r in s.exec(select(Region)).all()]
    summary = [run_workers(url, info, args, int(w), regions) for w in args.workers.split(",")]
    print(f"\nloadavg at end: {loadavg()}")
    for r in summary:
        print(f"{r['workers']} worker(s): p95 pages {r['p95_pages']:.1f} ms, worst kind {r['worst_kind']:.1f} ms, "
              f"JSON {r['p95_json']:.1f} ms, ratio {r['ratio']:.2f}; CPU per page: console "
              f"{r['cpu_ms_pages'][0]:.1f} ms + PostgreSQL {r['cpu_ms_pages'][1]:.1f} ms (JSON "
              f"{r['cpu_ms_json'][0]:.1f} + {r['cpu_ms_json'][1]:.1f})")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))
    print(f"ratio: {summary[-1]['ratio']:.2f}")


if __name__ == "__main__":
    main()

"""Benchmark: the outbox dispatcher against a plain HTTP client, same bodies, same run.

    PYTHONPATH=. python bench/dispatch.py --messages 10000 [--concurrency 1,8,32] [--db URL]

Queues N notifications for N recipients on a json:// channel pointing at a local
HTTP endpoint (a separate process on 127.0.0.1), then for each concurrency level
times one full dispatcher pass (claim, Apprise send, record — everything) and a
baseline that POSTs the same JSON bodies with `requests` from a thread pool of
the same size (a new connection per request, as Apprise's json:// does), run
once before and once after the dispatcher and averaged.  The last line is the
ratio at concurrency 8: dispatcher time over (mean) baseline time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# bench/transitions.py would shadow the `transitions` package when a script here runs
# with bench/ first on sys.path: drop the script's own directory.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

SERVER = r"""
import http.server, sys, threading
count = 0
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with lock:
            count += 1
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self):
        body = str(count).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class S(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def main() -> None:
    from hazardloop.bootstrap import bootstrap

    bootstrap()  # wire the application as every entry point does
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file in a temp dir)")
    args = ap.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    work = Path(tempfile.mkdtemp(prefix="hl-bench-"))
    os.environ["HAZARDLOOP_HOME"] = str(work)
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline())  # type: ignore[union-attr]
    endpoint = f"http://127.0.0.1:{port}/hook"
    routes = work / "routes.yaml"
    routes.write_text(
        "policy: {max_attempts: 3, batch_size: 200, lease_seconds: 600}\n"
        f"channels:\n  webhook: {{url: 'json://127.0.0.1:{port}/hook'}}\n"
        "roles:\n  '*': {channels: [webhook]}\n", encoding="utf-8")
    os.environ["HAZARDLOOP_ROUTES"] = str(routes)

    import requests
    from sqlalchemy import delete, update
    from sqlmodel import Session, select

    from hazardloop.config.clock import utcnow
    from hazardloop.models.db import get_engine, write_engine
    from hazardloop.models.migrate import init_database
    from hazardloop.models.notify import NotificationAttempt
    from hazardloop.models.tables import Notification
    from hazardloop.notifications.dispatcher import dispatch
    from hazardloop.notifications.outbox import enqueue
    from hazardloop.notifications.recipients import Recipient

    url = args.db or f"sqlite:///{work / 'bench.sqlite'}"
    engine = get_engine(url)
    init_database(engine)
    n = args.messages
    t0 = time.perf_counter()
    with Session(write_engine(url)) as s:
        # It empties the outbox: refuse a database that holds real notifications.
        real = s.exec(select(Notification.id).where(Notification.event != "bench").limit(1)).first()
        if real is not None:
            sys.exit(f"{url} 中已有真实通知；基准测试会清空发件箱，请用一个临时数据库（--db）。")
        s.execute(delete(NotificationAttempt.__table__))
        s.execute(delete(Notification.__table__))
        people = [Recipient("committee", f"接收人{i}", username=f"bench{i}") for i in range(n)]
        enqueue(s, event="bench", hazard_id=None, cycle=1, step="bench", recipients=people,
                subject="【督办提醒】隐患整改到期提醒",
                body="肥城市恒达化工有限公司：贵单位重大事故隐患“液氨储罐区未设置泄漏报警装置”整改时限将至，请按时完成。" * 3)
        s.commit()
    print(f"queued {n} notifications in {time.perf_counter() - t0:.2f} s ({engine.url.get_backend_name()})")
    with Session(engine) as s:
        bodies = [json.dumps({"version": "1.0", "title": r.subject, "message": r.body, "attachments": [],
                              "type": "info"}, ensure_ascii=False).encode("utf-8")
                  for r in s.exec(select(Notification).order_by(Notification.id)).all()]

    def reset() -> None:
        with Session(write_engine(url)) as s:
            s.execute(delete(NotificationAttempt.__table__))
            s.execute(update(Notification.__table__).values(status="pending", attempts=0, next_attempt_at=utcnow(),
                                                            claimed_by=None, claimed_until=None, sent_at=None,
                                                            last_error=None))
            s.commit()

    def cpu() -> float:
        t = os.times()
        return t.user + t.system

    def served() -> int:
        return int(requests.get(endpoint, timeout=10).text)

    def baseline(c: int) -> float:
        def post(body: bytes) -> None:
            r = requests.post(endpoint, data=body, headers={"Content-Type": "application/json"}, timeout=30)
            r.raise_for_status()
        start = time.perf_counter()
        with ThreadPoolExecutor(c) as pool:
            list(pool.map(post, bodies))
        return time.perf_counter() - start

    results: dict[int, tuple[float, float]] = {}
    for c in levels:
        reset()
        # Baseline before and after the dispatcher, averaged: a shared machine's load drifts.
        before, cpu0 = served(), cpu()
        t_base1 = baseline(c)
        assert served() - before == n
        before = served()
        cpu1 = cpu()
        report = dispatch(url, concurrency=c)
        t_disp, cpu_disp = report.seconds, cpu() - cpu1
        got = served() - before
        assert report.sent == n and got == n, (report.as_dict(), got)
        before, cpu2 = served(), cpu()
        t_base2 = baseline(c)
        assert served() - before == n
        cpu_base = (cpu1 - cpu0 + cpu() - cpu2) / 2
        t_base = (t_base1 + t_base2) / 2
        results[c] = (t_disp, t_base)
        print(f"concurrency {c:>2}: dispatcher {t_disp:7.2f} s = {n / t_disp:6.0f} msg/s "
              f"({cpu_disp / n * 1000:.2f} ms CPU/msg)   baseline {t_base1:.2f}/{t_base2:.2f} s, mean "
              f"{n / t_base:6.0f} msg/s ({cpu_base / n * 1000:.2f} ms CPU/msg)   ratio {t_disp / t_base:.2f}",
              flush=True)
    server.terminate()
    server.wait()
    if 8 in results:
        t_disp, t_base = results[8]
        print(f"ratio: {t_disp / t_base:.2f}")


if __name__ == "__main__":
    main()

"""Does a burst of bogus sign-ins hold up other writers?  (SQLite, the embedded default.)

    PYTHONPATH=. python bench/login_lock.py [--threads 4] [--writes 8]

Baseline: the old path, the password checked inside a write unit of work
(`auth.authenticate(session, ...)` in `session_scope(write=True)`: SQLite's write lock is
held while argon2 runs).  New: `auth.attempt(...)`: argon2 with no transaction open, an
unknown user writes nothing.  While `--threads` threads sign in as unknown users in a
loop, the main thread times `--writes` small write transactions; the median write time
of each mode is printed, and last `ratio: baseline / new`.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from sqlalchemy import text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from hazardloop.models.db import get_engine, session_scope  # noqa: E402
from hazardloop.models.migrate import init_database  # noqa: E402
from hazardloop.web import auth  # noqa: E402


failed = [0]


def run(url: str, mode: str, threads: int, writes: int) -> float:
    stop = threading.Event()

    def bogus() -> None:
        while not stop.is_set():
            try:
                if mode == "baseline":
                    with session_scope(url, write=True) as s:
                        auth.authenticate(s, "nobody", "wrong-password")
                else:
                    auth.attempt(url, "wrong-password", username="nobody")
            except (OperationalError, sqlite3.OperationalError):  # locked past the 30 s busy timeout
                pass

    workers = [threading.Thread(target=bogus, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    time.sleep(0.5)
    times: list[float] = []
    for i in range(writes):
        t0 = time.perf_counter()
        try:
            with session_scope(url, write=True) as s:
                s.execute(text("INSERT INTO bench_write (n) VALUES (:n)"), {"n": i})
        except (OperationalError, sqlite3.OperationalError):
            failed[0] += 1  # gave up after the 30 s busy timeout: counted with its time
        times.append(time.perf_counter() - t0)
        time.sleep(0.02)
    stop.set()
    for w in workers:
        w.join()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--writes", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        init_database(get_engine(url))
        with session_scope(url, write=True) as s:
            s.execute(text("CREATE TABLE bench_write (n INTEGER)"))
        base = run(url, "baseline", args.threads, args.writes)
        base_failed, failed[0] = failed[0], 0
        new = run(url, "new", args.threads, args.writes)
    print(f"threads of bogus sign-ins: {args.threads}; writes timed: {args.writes} per mode")
    print(f"median write, password checked inside the write transaction (baseline): {base * 1000:.1f} ms"
          f" ({base_failed} gave up: database is locked)")
    print(f"median write, password checked outside it (auth.attempt): {new * 1000:.1f} ms ({failed[0]} gave up)")
    print(f"ratio: {base / new:.2f}")


if __name__ == "__main__":
    main()

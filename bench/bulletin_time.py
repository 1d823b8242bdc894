"""Time one rendering of the monthly bulletin on an existing ledger (e.g. one built by bench/stats.py).

    PYTHONPATH=. python bench/bulletin_time.py sqlite:////tmp/hazardloop-bench-stats.sqlite 2026-10

Prints the seconds, the HTML size and the start of its SHA-256 (to compare two versions of the code:
the bytes must not change).  Read-only: nothing is issued or stored.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

# bench/transitions.py would shadow the `transitions` package: drop the script's directory from the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from sqlmodel import Session  # noqa: E402

from hazardloop.models.db import get_engine  # noqa: E402
from hazardloop.reports import bulletin  # noqa: E402


def main() -> None:
    from hazardloop.bootstrap import bootstrap

    bootstrap()  # wire the application as every entry point does
    url, month = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "2026-10"
    with Session(get_engine(url)) as s:
        t0 = time.perf_counter()
        html = bulletin.render(s, month).encode("utf-8")
        print(f"render {month}: {time.perf_counter() - t0:.2f} s, {len(html)} bytes, "
              f"sha256 {hashlib.sha256(html).hexdigest()[:16]}")


if __name__ == "__main__":
    main()

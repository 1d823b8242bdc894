"""`inspection missing` on the demo: the computation now against the one it replaced, same data, same run.

    PYTHONPATH=. python bench/inspections_missing.py --home DIR     # DIR/hazardloop.sqlite holds `hazardloop demo`
    PYTHONPATH=. python bench/inspections_missing.py --db URL --runs 7

Timed (process CPU and wall, median of --runs, in turns):
  new       reports.inspections.missing(session, as_of) — every enterprise, every ended period
  baseline  the previous algorithm (before issue 15), kept below verbatim in spirit: ORM Enterprise rows,
            and for each enterprise and period a scan of that enterprise's inspection dates
  region    missing(..., scope=Scope(region=<the region with most enterprises>)) — what a clerk asks
Both must find the same gaps (checked).  Also timed: the CLI call `inspection missing --region …` end to
end in a fresh process.  Output: the medians, then `ratio: N.NN` (new / baseline) last.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: its transitions.py would shadow the library


def baseline_missing(session, as_of: date, cfg):  # noqa: ANN001, ANN201
    """The pre-issue-15 computation (reports/inspections.py at 02ea2be), for comparison only."""
    from sqlmodel import select

    from hazardloop.models.tables import Enterprise, Industry, Region
    from hazardloop.reports import inspections as ins

    done = ins._done(session, as_of)  # noqa: SLF001
    by_ent: dict[int, list[date]] = {}
    for eid, day in done:
        by_ent.setdefault(eid, []).append(day)
    regions = {r.code: r.name for r in session.exec(select(Region)).all()}
    rows = session.exec(select(Enterprise, Industry).join(Industry, Industry.code == Enterprise.industry_code)
                        .order_by(Enterprise.id)).all()
    gaps = []
    for ent, ind in rows:
        for p in ins.periods_between(cfg.start, as_of, bool(ind.high_risk)):
            if p.end <= as_of and not any(p.start <= d <= p.end for d in by_ent.get(ent.id, ())):
                gaps.append(ins.Gap(ent.id, ent.name, regions.get(ent.region_code, ent.region_code), ind.name,
                                    ent.principal, p.label, ins.period_name(p.label), p.start, p.end))
    return gaps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", help="HAZARDLOOP_HOME with a demo database")
    ap.add_argument("--db", help="database URL (default: the home's SQLite file)")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if args.home:
        os.environ["HAZARDLOOP_HOME"] = args.home
    from sqlalchemy import func, select

    from hazardloop.config import clock
    from hazardloop.models.db import session_scope
    from hazardloop.models.tables import Enterprise, Region
    from hazardloop.reports import inspections as ins

    cfg = ins.load_config()
    as_of = clock.today()
    with session_scope(args.db, write=False) as s:
        region, region_name = s.execute(select(Enterprise.region_code, Region.name)
                                        .join(Region, Region.code == Enterprise.region_code)
                                        .group_by(Enterprise.region_code, Region.name)
                                        .order_by(func.count().desc())).first()
        new = ins.missing(s, as_of, config=cfg)
        old = baseline_missing(s, as_of, cfg)
        assert [g.as_dict() for g in new] == [g.as_dict() for g in old], "the two computations disagree"
        cases = {"new": lambda: ins.missing(s, as_of, config=cfg),
                 "baseline": lambda: baseline_missing(s, as_of, cfg),
                 "region": lambda: ins.missing(s, as_of, config=cfg, scope=ins.Scope(region=region))}
        cpu: dict[str, list[float]] = {k: [] for k in cases}
        wall: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.runs):
            for name, fn in cases.items():
                c, w = time.process_time(), time.perf_counter()
                fn()
                cpu[name].append(time.process_time() - c)
                wall[name].append(time.perf_counter() - w)
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="80")
    cli = []
    for _ in range(args.runs):
        w = time.perf_counter()
        subprocess.run([sys.executable, "-m", "hazardloop", *(["--db", args.db] if args.db else []), "inspection",
                        "missing", "--region", region_name], env=env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        cli.append(time.perf_counter() - w)
    try:
        load = os.getloadavg()
        print(f"机器负载（1/5/15 分钟）：{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}；CPU {os.cpu_count()} 核")
    except OSError:
        pass
    print(f"缺失周期：{len(new)} 个（{as_of.isoformat()}；两种算法结果一致）；{region_name} 的企业：筛选后计算")
    for name in cases:
        print(f"{name:8s} CPU 中位 {statistics.median(cpu[name]):.3f} 秒，墙钟中位 {statistics.median(wall[name]):.3f} 秒")
    print(f"命令行 inspection missing --region {region_name}（80 列表格，新进程）：墙钟中位 {statistics.median(cli):.3f} 秒")
    print(f"ratio: {statistics.median(cpu['new']) / statistics.median(cpu['baseline']):.2f}")


if __name__ == "__main__":
    main()

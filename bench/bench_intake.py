"""Intake speed: validate + import an N-row detail sheet, re-import it, export, re-import the export,
and the import against a baseline: the same rows bulk-inserted into the same tables.

    PYTHONPATH=. python -m bench.bench_intake [--rows 5000] [--rectified 0.2] [--merged 3]
                                              [--db URL --baseline-db URL] [--read-only-bench]

The last line is `ratio: N.NN` (import wall time / baseline wall time).

--merged K: 上报单位 merged down over groups of K rows, as townships send it (0: no merges).
--read-only-bench: only time reading the sheet's merged ranges three ways on the same file, interleaved
(the import's public reader intake/xlsxmerge.py; the private openpyxl path it replaced; openpyxl's
normal, non-streaming load with ws.merged_cells), then stop.

Builds a fresh SQLite database under /tmp unless --db is given (PostgreSQL: an
empty database that `hazardloop init` has prepared).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import sys
from pathlib import Path

# bench/transitions.py would shadow the `transitions` package when a script here runs
# with bench/ first on sys.path: drop the script's own directory.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import openpyxl

from hazardloop.config import clock
from hazardloop.intake import excel
from hazardloop.models.db import get_engine, session_scope
from hazardloop.models.migrate import init_database
from hazardloop.models.orgs import load_orgs
from hazardloop.states import ledger

ROOT = Path(__file__).resolve().parent.parent
HEADERS = ["序号", "上报单位", "行业领域", "企业类型", "企业名称", "隐患分类", "重大隐患描述（举报问题描述）", "检查方式",
           "检查人", "检查时间", "判定依据", "违反判定依据具体条款", "是否整改", "实际整改完成时间",
           "整改责任部门/责任人", "整改措施", "举报情况备注"]
TOWNS = ["石横镇", "王庄镇", "新城街道", "老城街道", "湖屯镇", "高新区"]
INDUSTRIES = ["化工和危险化学品", "机械", "粉尘涉爆", "冶金", "建材", "涉氨制冷"]
PROBLEMS = ["储罐区未设置泄漏报警装置", "除尘系统未设置锁气卸灰装置", "冲压设备光电保护失效", "涉氨区域未设置泄漏报警",
            "有限空间作业未审批", "配电室无应急照明", "防爆区域使用非防爆电气"]


def build(path: Path, rows: int, seed: int = 7, rectified: float = 0.0, merged: int = 0) -> None:
    rnd = random.Random(seed)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("明细表")
    ws.append(["重大事故隐患排查及整改情况明细表"])
    ws.append(HEADERS)
    town = TOWNS[0]
    for i in range(1, rows + 1):
        ent = rnd.randrange(rows // 4 + 1)
        found = (rnd.randint(1, 10), rnd.randint(1, 28))
        done = rnd.random() < rectified
        first = not merged or (i - 1) % merged == 0
        if first:
            town = rnd.choice(TOWNS)
            if merged > 1:  # 上报单位 (column B) merged down over the group; row i is sheet row i + 2
                ws.merged_cells.add(f"B{i + 2}:B{min(i + merged - 1, rows) + 2}")
        ws.append([i, town if first else None, rnd.choice(INDUSTRIES), "生产企业", f"肥城市测试企业{ent:05d}有限公司",
                   "重大事故隐患", f"{rnd.choice(PROBLEMS)}（第{i}处）", rnd.choice(["督导检查", "企业自查", "执法检查"]),
                   "检查员", f"2026-{found[0]:02d}-{found[1]:02d}", "工贸企业重大事故隐患判定标准",
                   "第四条", "是" if done else "否", f"2026-{found[0]:02d}-{found[1]:02d}" if done else None,
                   "安全部", "立即整改", None])
    wb.save(path)


COPIED = ("enterprise", "hazard", "import_batch", "import_row", "audit_event", "notification")


def _snapshot_keys(url: str) -> dict[str, int]:
    """The highest key of each copied table before the import (what the import adds lies above)."""
    from sqlalchemy import text

    with get_engine(url).connect() as conn:
        out = {}
        for t in COPIED:
            key = "seq" if t == "audit_event" else "id"
            out[t] = conn.execute(text(f"SELECT COALESCE(MAX({key}), 0) FROM {t}")).scalar_one()
        return out


def _drop_chain_check(base_url: str) -> None:
    """The raw writer copies the engine's audit rows as they are: they continue the engine's chain,
    not the baseline database's (its own org-load events hash differently), so the chain check
    trigger would refuse them. Checking the chain is the engine's work, counted against it."""
    from sqlalchemy import text

    engine = get_engine(base_url)
    with engine.begin() as conn:
        on = " ON audit_event" if engine.dialect.name == "postgresql" else ""
        conn.execute(text(f"DROP TRIGGER IF EXISTS audit_event_continues_chain{on}"))


def baseline(url: str, base_url: str, before: dict[str, int], sheet: Path) -> tuple[float, float]:
    """The same rows into the same tables as a plain bulk insert: read the sheet's cells (the same
    openpyxl read), then one executemany per table of exactly the rows the import wrote (enterprises,
    hazards with their final state, the batch, import rows, audit events, outbox rows), one transaction."""
    from sqlalchemy import MetaData, select

    meta = MetaData()
    meta.reflect(get_engine(url), only=list(COPIED))
    rows: dict[str, list[dict]] = {}
    with get_engine(url).connect() as conn:
        for t in COPIED:
            table = meta.tables[t]
            key = table.c.seq if t == "audit_event" else table.c.id
            rows[t] = [dict(r._mapping) for r in conn.execute(select(table).where(key > before[t]).order_by(key))]
    t0, c0 = time.perf_counter(), time.process_time()
    wb = openpyxl.load_workbook(sheet, read_only=True, data_only=True)
    cells = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    with get_engine(base_url).begin() as conn:
        for t in COPIED:
            if rows[t]:
                conn.execute(meta.tables[t].insert(), rows[t])
    took, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"baseline (read {cells} sheet rows + bulk insert of "
          f"{', '.join(f'{len(rows[t])} {t}' for t in COPIED)}): {took:.2f}s (process CPU {cpu:.2f}s)")
    return took, cpu


def _private_merged(path: Path, ws, header_row: int) -> list[tuple[int, int, int, int]]:  # noqa: ANN001
    """The code xlsxmerge replaced (kept here only as the speed reference): openpyxl's private
    _archive / _worksheet_path, the last MiB of the sheet's XML, a regex."""
    import re

    from openpyxl.utils import column_index_from_string

    wb = ws.parent
    part, archive = getattr(ws, "_worksheet_path", None), getattr(wb, "_archive", None)
    if not part or archive is None:
        return []
    with archive.open(part) as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - (1 << 20)))
        tail = fh.read()
    out = []
    for c1, r1, c2, r2 in re.findall(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"', tail):
        r1, r2 = int(r1), int(r2)
        if r2 > r1 and r1 > header_row:
            out.append((column_index_from_string(c1.decode()), r1, column_index_from_string(c2.decode()), r2))
    return out


def _cpu(fn) -> float:  # noqa: ANN001
    c = time.process_time()
    fn()
    return time.process_time() - c


def read_only_bench(sheet: Path, repeat: int = 3) -> None:
    """The sheet read three ways, interleaved, best of `repeat`: read_sheet as shipped (public
    xlsxmerge), read_sheet with the private path patched in, and openpyxl's normal load (public
    ws.merged_cells) + every row's values — the least a read through the normal load costs."""
    from statistics import median

    def shipped():  # noqa: ANN202
        return excel.read_sheet(sheet)

    def private():  # noqa: ANN202
        keep = excel._merged_cells  # noqa: SLF001
        excel._merged_cells = _private_merged  # noqa: SLF001
        try:
            return excel.read_sheet(sheet)
        finally:
            excel._merged_cells = keep  # noqa: SLF001

    def normal():  # noqa: ANN202
        wb = openpyxl.load_workbook(sheet, data_only=False)
        ws = wb["明细表"]
        ranges = [r.bounds for r in ws.merged_cells.ranges]
        rows = sum(1 for _ in ws.iter_rows(values_only=True))
        wb.close()
        return ranges, rows

    variants = {"read_sheet, public xlsxmerge (shipped)": shipped, "read_sheet, private openpyxl path (before)": private,
                "openpyxl normal load + merged_cells + rows (public)": normal}
    times: dict[str, list[float]] = {k: [] for k in variants}
    cpus: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeat):
        for name, fn in variants.items():
            t, c = time.perf_counter(), time.process_time()
            fn()
            times[name].append(time.perf_counter() - t)
            cpus[name].append(time.process_time() - c)
    # The merged ranges alone (the only step that differs between the first two), many times:
    # the private path on an already opened read-only workbook, the public one from the file.
    wb = openpyxl.load_workbook(sheet, read_only=True)
    ws = wb["明细表"]
    alone = {"xlsxmerge (public)": lambda: excel._merged_cells(sheet, ws, 2),  # noqa: SLF001
             "private path": lambda: _private_merged(sheet, ws, 2)}
    best = {k: min(_cpu(fn) for _ in range(repeat * 5)) for k, fn in alone.items()}
    assert sorted(alone["xlsxmerge (public)"]()) == sorted(alone["private path"]())
    wb.close()
    print("merged ranges alone, process CPU best of " + str(repeat * 5) + ": "
          + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in best.items()))
    a, b = excel.read_sheet(sheet), private()
    same = [(r.row, r.values) for r in a.rows] == [(r.row, r.values) for r in b.rows]
    print(f"merged ranges in the sheet: {len(normal()[0])}; shipped and private read the same rows: {same}")
    for name in variants:
        print(f"  {name}: wall best {min(times[name]):.2f}s median {median(times[name]):.2f}s, "
              f"process CPU best {min(cpus[name]):.2f}s")
    base = min(cpus["read_sheet, private openpyxl path (before)"])
    print(f"CPU ratio shipped/private: {min(cpus['read_sheet, public xlsxmerge (shipped)']) / base:.2f}; "
          f"normal-load/private: {min(cpus['openpyxl normal load + merged_cells + rows (public)']) / base:.2f}; "
          f"load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    from hazardloop.bootstrap import bootstrap

    bootstrap()  # wire the application as every entry point does
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--db")
    ap.add_argument("--baseline-db", help="an empty, initialised database for the baseline (default: SQLite under /tmp)")
    ap.add_argument("--rectified", type=float, default=0.2, help="share of rows marked 已整改 (closed as 导入销号)")
    ap.add_argument("--merged", type=int, default=0, help="上报单位 merged down over groups of this many rows")
    ap.add_argument("--read-only-bench", action="store_true", help="time only the ways of reading merged ranges")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    if args.read_only_bench:
        sheet = tmp / "sheet.xlsx"
        build(sheet, args.rows, rectified=args.rectified, merged=args.merged)
        print(f"sheet: {args.rows} rows, merged {args.merged} ({sheet.stat().st_size // 1024} KiB)")
        read_only_bench(sheet)
        return
    url = args.db or f"sqlite:///{tmp / 'bench.sqlite'}"
    base_url = args.baseline_db or f"sqlite:///{tmp / 'baseline.sqlite'}"
    for u in (url, base_url):
        init_database(get_engine(u))
        with session_scope(u) as s:
            load_orgs(s, ROOT / "tests" / "data" / "org.yaml")
    _drop_chain_check(base_url)
    sheet = tmp / "sheet.xlsx"
    t = time.perf_counter()
    build(sheet, args.rows, rectified=args.rectified, merged=args.merged)
    print(f"build {args.rows} rows: {time.perf_counter() - t:.1f}s ({sheet.stat().st_size // 1024} KiB)")
    before = _snapshot_keys(url)
    with clock.frozen(clock.today()):
        t, cpu = time.perf_counter(), time.process_time()
        with session_scope(url) as s:
            r = excel.import_sheet(s, ledger.get_user(s, "office1"), sheet, dry_run=True)
        print(f"dry run: {time.perf_counter() - t:.2f}s  would create {r.created}, closed {r.closed_imported}, "
              f"existing {r.existing}, enterprises {r.enterprises_created}, merge proposals {len(r.possible_duplicates)}")
        t, cpu = time.perf_counter(), time.process_time()
        with session_scope(url) as s:
            r = excel.import_sheet(s, ledger.get_user(s, "office1"), sheet)
        took, took_cpu = time.perf_counter() - t, time.process_time() - cpu
        print(f"import: {took:.2f}s (process CPU {took_cpu:.2f}s)  created {r.created}, closed {r.closed_imported}, "
              f"existing {r.existing}, enterprises created {r.enterprises_created}, "
              f"merge proposals {len(r.possible_duplicates)}")
        base, base_cpu = baseline(url, base_url, before, sheet)
        t = time.perf_counter()
        with session_scope(url) as s:
            r2 = excel.import_sheet(s, ledger.get_user(s, "office1"), sheet)
        print(f"re-import: {time.perf_counter() - t:.2f}s  created {r2.created}, existing {r2.existing}")
        t = time.perf_counter()
        with session_scope(url) as s:
            e = excel.export_sheet(s, ledger.get_user(s, "office1"), tmp / "export.xlsx")
        print(f"export: {time.perf_counter() - t:.2f}s  {e.rows} rows")
        t = time.perf_counter()
        with session_scope(url) as s:
            r3 = excel.import_sheet(s, ledger.get_user(s, "office1"), tmp / "export.xlsx")
        print(f"re-import export: {time.perf_counter() - t:.2f}s  created {r3.created}, existing {r3.existing}")
    print(f"goal: {args.rows} rows in at most 10 s -> {'met' if took <= 10 else 'NOT met'} ({took:.2f}s)")
    print(f"load average {os.getloadavg()[0]:.1f}; process-CPU ratio (less sensitive to the load): {took_cpu / base_cpu:.2f}")
    print(f"ratio: {took / base:.2f}")


if __name__ == "__main__":
    main()

"""Intake speed: validate + import an N-row detail sheet, re-import it, export, re-import the export.

    PYTHONPATH=. python bench/bench_intake.py [--rows 5000] [--db URL]

Builds a fresh SQLite database under /tmp unless --db is given (PostgreSQL: an
empty database that `hazardloop init` has prepared).
"""

from __future__ import annotations

import argparse
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


def build(path: Path, rows: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("明细表")
    ws.append(["重大事故隐患排查及整改情况明细表"])
    ws.append(HEADERS)
    for i in range(1, rows + 1):
        ent = rnd.randrange(rows // 4 + 1)
        ws.append([i, rnd.choice(TOWNS), rnd.choice(INDUSTRIES), "生产企业", f"肥城市测试企业{ent:05d}有限公司",
                   "重大事故隐患", f"{rnd.choice(PROBLEMS)}（第{i}处）", rnd.choice(["督导检查", "企业自查", "执法检查"]),
                   "检查员", f"2026-{rnd.randint(1, 10):02d}-{rnd.randint(1, 28):02d}", "工贸企业重大事故隐患判定标准",
                   "第四条", "否", None, "安全部", "立即整改", None])
    wb.save(path)


def main() -> None:
    from hazardloop.bootstrap import bootstrap

    bootstrap()  # wire the application as every entry point does
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--db")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    url = args.db or f"sqlite:///{tmp / 'bench.sqlite'}"
    init_database(get_engine(url))
    with session_scope(url) as s:
        load_orgs(s, ROOT / "tests" / "data" / "org.yaml")
    sheet = tmp / "sheet.xlsx"
    t = time.perf_counter()
    build(sheet, args.rows)
    print(f"build {args.rows} rows: {time.perf_counter() - t:.1f}s ({sheet.stat().st_size // 1024} KiB)")
    with clock.frozen(clock.today()):
        for label in ("import", "re-import"):
            t = time.perf_counter()
            with session_scope(url) as s:
                r = excel.import_sheet(s, ledger.get_user(s, "office1"), sheet)
            print(f"{label}: {time.perf_counter() - t:.1f}s  created {r.created}, existing {r.existing}, "
                  f"enterprises created {r.enterprises_created}, possible duplicates {len(r.possible_duplicates)}")
        t = time.perf_counter()
        with session_scope(url) as s:
            e = excel.export_sheet(s, ledger.get_user(s, "office1"), tmp / "export.xlsx")
        print(f"export: {time.perf_counter() - t:.1f}s  {e.rows} rows")
        t = time.perf_counter()
        with session_scope(url) as s:
            r = excel.import_sheet(s, ledger.get_user(s, "office1"), tmp / "export.xlsx")
        print(f"re-import export: {time.perf_counter() - t:.1f}s  created {r.created}, existing {r.existing}")


if __name__ == "__main__":
    main()

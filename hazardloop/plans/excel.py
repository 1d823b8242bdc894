"""The task-division sheet (任务分工表) in Excel: validated row by row like the 明细表 import.

The header row is found by its Chinese column names (order free, extra columns ignored);
every data row is checked with the same rules as a plan file (plans.check_task) and
every problem is reported as "第 N 行：原因"; nothing is written unless every row passes.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.styles import Font
from sqlmodel import Session

from hazardloop.errors import ValidationError
from hazardloop.models.tables import AppUser
from hazardloop.plans import plans as plans_mod
from hazardloop.states import plan_guards

# column header -> task field
COLUMNS = {"任务编号": "code", "行动": "action", "政策条目": "paragraph", "任务内容": "content", "工作措施": "measure",
           "目标": "target", "开始日期": "start", "完成时限": "deadline", "节点": "milestones", "牵头单位": "lead",
           "配合单位": "co", "备注": "note"}
REQUIRED = ("任务编号", "任务内容", "完成时限", "牵头单位")


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value).strip()


def _milestones(text: str) -> list[dict[str, str]]:
    """节点: "2025-03-31 完成摸底；2025-05-31 完成整改" → [{date, text}]."""
    out = []
    for part in [p.strip() for p in text.replace(";", "；").split("；") if p.strip()]:
        day, _, what = part.partition(" ")
        out.append({"date": day.strip(), "text": what.strip()})
    return out


def read_rows(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        wb = openpyxl.load_workbook(path, data_only=True, read_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        raise ValidationError(f"无法读取任务分工表 {path}：{exc}") from None
    ws = wb.worksheets[0]
    header: dict[int, str] | None = None
    rows: list[tuple[int, dict[str, Any]]] = []
    for n, cells in enumerate(ws.iter_rows(values_only=True), 1):
        texts = [_cell(c) for c in cells]
        if header is None:
            if all(name in texts for name in REQUIRED):
                header = {i: COLUMNS[t] for i, t in enumerate(texts) if t in COLUMNS}
            continue
        if not any(texts):
            continue
        raw: dict[str, Any] = {}
        for i, field in header.items():
            value = texts[i] if i < len(texts) else ""
            if field == "co":
                raw[field] = [c.strip() for c in value.replace("，", "、").replace(",", "、").split("、") if c.strip()]
            elif field == "milestones":
                raw[field] = _milestones(value)
            elif value:
                raw[field] = value
        rows.append((n, raw))
    wb.close()
    if header is None:
        raise ValidationError(f"任务分工表 {Path(path).name} 没有表头行（须含：{'、'.join(REQUIRED)}）。")
    return rows


def import_tasks(session: Session, actor: AppUser, plan_code: str, path: str | Path) -> dict[str, Any]:
    plan = plans_mod.get_plan(session, plan_code)
    units = plans_mod.UnitIndex(session)
    plan_guards.add_unit_task(actor, plan, units.name(plan.unit_kind, plan.unit_code))
    problems, clean, seen = [], [], set()
    for n, raw in read_rows(path):
        row, bad = plans_mod.check_task(raw, units, {})
        if row.get("code") in seen:
            bad.append(f"任务编号 {row['code']} 与前面的行重复")
        seen.add(row.get("code"))
        if bad:
            problems.append(f"第 {n} 行：" + "；".join(bad))
        clean.append(row)
    if problems:
        raise ValidationError(f"任务分工表有 {len(problems)} 行不合格，未导入任何任务：\n" + "\n".join(problems))
    if not clean:
        raise ValidationError("任务分工表没有数据行。")
    added, updated = plans_mod.upsert_tasks(session, actor.username, plan, clean, "excel")
    return {"plan": plan.code, "rows": len(clean), "added": added, "updated": updated}


def write_template(path: str | Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "任务分工表"
    ws.append(list(COLUMNS))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.append(["YJ2025-01", "a03", "4", "危险化学品企业重大事故隐患专项排查", "逐企业排查、建档", "全覆盖", "2025-01-01",
               "2025-06-30", "2025-03-31 完成摸底；2025-05-31 完成整改", "市应急管理局", "市市场监督管理局、石横镇", ""])
    wb.save(path)

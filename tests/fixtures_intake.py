"""Builders for the intake tests: public reports along their lifecycle, and real .xlsx sheets."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlmodel import Session

from hazardloop.config import intake_rules
from hazardloop.intake import reports
from hazardloop.states import ledger
from tests.helpers import ENT_HD

SECRET_NAME = "欧阳秘密举报人"
SECRET_PHONE = "13999990123"

HEADERS = ["序号", "上报单位", "行业领域", "企业类型", "企业名称", "隐患分类", "重大隐患描述（举报问题描述）", "检查方式",
           "检查人", "检查时间", "判定依据", "违反判定依据具体条款", "是否整改", "实际整改完成时间",
           "整改责任部门/责任人", "整改措施", "举报情况备注"]


@pytest.fixture(autouse=True)
def _fresh_rules():
    intake_rules.report_rules.cache_clear()
    intake_rules.reward_rules.cache_clear()
    yield
    intake_rules.report_rules.cache_clear()
    intake_rules.reward_rules.cache_clear()


def submitted(s: Session, *, name: str | None = SECRET_NAME, contact: str | None = SECRET_PHONE,
              content: str = "恒达化工液氨储罐区泄漏报警装置长期损坏未修复", enterprise: str = ENT_HD,
              location: str | None = "储罐区") -> int:
    r = reports.submit(s, ledger.get_user(s, "citizen1"), content=content, enterprise=enterprise, location=location,
                       reporter_name=name, reporter_contact=contact)
    s.commit()
    return r.id


def accepted(s: Session, **kw: Any) -> int:
    rid = submitted(s, **kw)
    reports.accept(s, ledger.get_user(s, "office1"), rid)
    s.commit()
    return rid


def verified(s: Session, verdict: str = "true", hazard: int | str | None = None, **kw: Any) -> int:
    rid = accepted(s, **kw)
    sup = ledger.get_user(s, "sup_yingji")
    reports.start_verification(s, sup, rid)
    reports.verify(s, sup, rid, verdict=verdict, note="现场核查情况与举报一致", hazard=hazard)
    s.commit()
    return rid


def fed_back(s: Session, **kw: Any) -> int:
    rid = verified(s, **kw)
    reports.give_feedback(s, ledger.get_user(s, "office1"), rid, text="经核查，举报属实，已责令整改。")
    s.commit()
    return rid


def row(**kw: Any) -> list[Any]:
    """One sheet row in HEADERS order (序号 first); keyword names are the header texts' keys below."""
    values = {
        "seq": 1, "unit": "石横镇", "industry": "化工和危险化学品", "type": "生产企业", "name": "肥城市恒达化工有限公司",
        "category": "重大事故隐患", "desc": "液氨储罐区未设置泄漏报警装置", "method": "督导检查", "inspector": "褚卫东",
        "date": "2026-10-08", "basis": "化工和危险化学品生产经营单位重大生产安全事故隐患判定标准（试行）",
        "clause": "第十三条", "rectified": "否", "done": None, "resp": "安全部/孙立新", "measures": "加装泄漏报警",
        "note": None,
    }
    values.update(kw)
    return [values[k] for k in ("seq", "unit", "industry", "type", "name", "category", "desc", "method", "inspector",
                                "date", "basis", "clause", "rectified", "done", "resp", "measures", "note")]


def write_sheet(path: Path, rows: list[list[Any]], *, headers: list[str] = HEADERS, title: bool = True,
                order: list[int] | None = None, blank_after: tuple[int, ...] = (), footer: bool = False) -> Path:
    """A real .xlsx like the ones regulators exchange: merged title rows, then the header, then rows."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "明细表"
    idx = order or list(range(len(headers)))
    if title:
        ws.append(["重大事故隐患排查及整改情况明细表"])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
        ws.append(["填报单位（盖章）：肥城市安委办", None, None, None, None, None, "填报日期：2026年10月"])
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=5)
    ws.append([headers[i] for i in idx])
    for n, r in enumerate(rows):
        ws.append([r[i] if i < len(r) else None for i in idx])
        if n in blank_after:
            ws.append([])
    if footer:
        ws.append([])
        ws.append(["填表人：张三", None, None, "审核人：李四"])
    wb.save(path)
    return path


def read_back(path: Path) -> tuple[list[str], list[list[Any]], Any]:
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    return [str(h) for h in rows[0]], rows[1:], ws


def day(y: int, m: int, d: int) -> date:
    return date(y, m, d)

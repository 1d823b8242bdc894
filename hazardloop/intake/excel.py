"""The monthly detail sheet 重大事故隐患排查及整改情况明细表: import and export (.xlsx).

Import reads the header wherever it is (merged title rows above it, any column
order, full-width characters, aliases), validates every row first and reports
problems as (row, column, problem) in Chinese; it writes nothing unless every
row passes, or with skip_invalid only the valid ones.  Each imported row is
fingerprinted (enterprise, description, inspection date, channel): importing the
same sheet twice creates nothing twice.  Rows that carry a 隐患编号 already in
the ledger (an export read back) are matched, not created — so re-importing an
export is a no-op.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from sqlalchemy import bindparam, inspect as sa_inspect, select as sa_select, table as sa_table, column as sa_column
from sqlalchemy.orm import class_mapper
from sqlmodel import Session, select

from hazardloop.config import clock
from hazardloop.config.intake_rules import aliases
from hazardloop.config.labels import CLOSE_KINDS
from hazardloop.models import audit
from hazardloop.models.db import connection
from hazardloop.errors import HazardLoopError, ValidationError
from hazardloop.models.intake import HazardSource, ImportBatch, ImportRow, PublicReport
from hazardloop.models.orgs import credit_code_problem
from hazardloop.models.tables import (
    AppUser, Enterprise, Hazard, Industry, RectificationPlan, Region, Standard,
)
from hazardloop.states import guards, intake_guards, ledger
from hazardloop.states.events import DomainEvent, emit
from hazardloop.states.machine import fire
from hazardloop.states.roles import CHANNELS, LEVELS, STATE_NAMES
from hazardloop.intake import matching, merge as merging, xlsxmerge
from hazardloop.states import confidential  # the reporter rule (issue 13)

SHEET_TITLE = "重大事故隐患排查及整改情况明细表"

# key, the sheet's header, accepted aliases.  Order = export order.
COLUMNS: list[tuple[str, str, tuple[str, ...]]] = [
    ("reporting_unit", "上报单位", ("填报单位", "报送单位", "上报部门", "填报部门", "报送部门")),
    ("industry", "行业领域", ("行业", "所属行业", "行业类别", "所属行业领域", "所属领域", "行业领域类别", "行业（领域）")),
    ("enterprise_type", "企业类型", ()),
    ("enterprise_name", "企业名称", ("单位名称", "企业（单位）名称", "企业(单位)名称", "生产经营单位名称", "被检查单位", "被检查企业")),
    ("category", "隐患分类", ("隐患类别",)),
    ("description", "重大隐患描述（举报问题描述）", ("重大隐患描述", "隐患描述", "举报问题描述", "重大事故隐患描述",
                                                   "隐患内容", "隐患情况", "存在问题", "问题描述", "重大事故隐患内容", "隐患具体情况")),
    ("method", "检查方式", ("发现方式", "发现渠道", "排查方式", "检查形式", "隐患来源")),
    ("inspector", "检查人", ("检查人员", "排查人", "检查人员姓名")),
    ("inspected_on", "检查时间", ("检查日期", "发现时间", "发现日期", "排查时间", "排查日期", "检查（排查）时间")),
    ("basis", "判定依据", ()),
    ("clause", "违反判定依据具体条款", ("具体条款", "判定依据具体条款")),
    ("rectified", "是否整改", ("是否完成整改", "整改情况", "是否已整改", "整改状态")),
    ("completed_on", "实际整改完成时间", ("整改完成时间", "实际完成时间", "整改完成日期", "完成整改时间")),
    ("responsible", "整改责任部门/责任人", ("整改责任部门", "整改责任人", "责任部门/责任人")),
    ("measures", "整改措施", ()),
    ("report_note", "举报情况备注", ("备注",)),
]
# Optional on import; always written on export.
OPTIONAL: list[tuple[str, str, tuple[str, ...]]] = [
    ("credit_code", "统一社会信用代码", ("信用代码", "社会信用代码")),
    ("region", "所属镇街区", ("属地", "镇街区", "所属镇街", "镇街", "所属镇（街道）", "所属镇(街道)", "所在镇街", "属地镇街")),
]
# Read on import only (to infer a new enterprise's town when a department reported it).
IMPORT_ONLY: list[tuple[str, str, tuple[str, ...]]] = [
    ("address", "企业地址", ("地址", "单位地址", "企业（单位）地址", "企业(单位)地址", "详细地址", "所在地址", "企业所在地")),
]
EXTRA: list[tuple[str, str, tuple[str, ...]]] = [
    ("code", "隐患编号", ()),
    ("channels", "发现渠道（全部来源）", ()),
    ("state", "状态", ()),
    ("deadline", "整改期限", ()),
    ("days_overdue", "逾期天数", ()),
    ("level", "督办级别", ()),
    ("escalations", "已采取督办措施", ()),
]
REQUIRED = ("enterprise_name", "description", "inspected_on")
LABEL = {k: h for k, h, _ in COLUMNS + OPTIONAL + EXTRA + IMPORT_ONLY}
FOOTER_PREFIXES = ("填表", "填报人", "审核人", "制表", "说明", "注:", "注：", "合计", "负责人:", "负责人：")
WIDTHS = {"description": 50, "measures": 36, "enterprise_name": 30, "basis": 30, "clause": 22, "responsible": 20,
          "report_note": 24, "credit_code": 22, "escalations": 36, "channels": 22, "code": 16}


def norm(text: Any) -> str:
    """Header/code form: NFKC (full-width → half-width), no whitespace or '*' markers."""
    return re.sub(r"[\s*＊]+", "", unicodedata.normalize("NFKC", str(text or "")))


_HEADER_INDEX: dict[str, str] = {}
for _key, _head, _aliases in COLUMNS + OPTIONAL + EXTRA + IMPORT_ONLY:
    for _name in (_head, *_aliases):
        _HEADER_INDEX[norm(_name)] = _key
_HEADER_INDEX[norm("序号")] = "_seq"


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace("\u3000", " ").strip()


_DATE_PATTERNS = [
    re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]\d{1,2}[:：]\d{2}(?:[:：]\d{2})?)?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
]


def parse_date(value: Any) -> date | None:
    """A real date, an Excel serial number or text (2024-3-5, 2024/03/05, 2024.3.5, 2024年3月5日, 20240305)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 20000 < value < 80000:  # an Excel serial day typed into a text column
            return from_excel(value).date()
        value = str(int(value))
    s = unicodedata.normalize("NFKC", str(value)).strip().replace(" ", " ")
    for pattern in (*_DATE_PATTERNS, _DATE_RANGE):
        m = pattern.match(s)
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                return None
    return None


# A span of days (2026.10.8-10.9, 2026年10月8日至10日): the inspection began on the first.
_DATE_RANGE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\s*(?:至|到|—|–|~|-)\s*[\d年月日./-]+$")


YES = {"是", "已整改", "已完成", "完成", "y", "yes", "√", "已销号"}
NO = {"否", "未整改", "整改中", "未完成", "n", "no", "×", "正在整改"}


# How clerks write it beyond 是/否: 已整改完毕, 已完成整改, 已闭环销号 / 正在整改中, 未完成整改, 整改中.
# "Not yet" words are looked for first: 未完成 contains 完成.
NOT_YET = ("未", "正在", "整改中", "待整改", "尚未", "没有")
DONE_WORDS = ("已整改", "已完成", "完成整改", "整改完毕", "整改完成", "已闭环", "已销号")


def parse_yes_no(value: Any) -> bool | None | str:
    s = norm(value).lower()
    if not s:
        return None
    if s in YES:
        return True
    if s in NO:
        return False
    if any(w in s for w in NOT_YET):
        return False
    if any(w in s for w in DONE_WORDS):
        return True
    return "?"


def channel_of(method: str) -> str | None:
    s = norm(method)
    if not s:
        return "inspection"  # the sheet is the regulators' own: unlabelled rows come from inspections
    for code, name in CHANNELS.items():
        if s in (code, norm(name)):
            return code
    if "自查" in s:
        return "self_inspection"
    if "举报" in s:
        return "public_report"
    if "交办" in s:
        return "assigned"
    if any(w in s for w in ("检查", "执法", "督导", "督查", "暗访", "抽查", "巡查", "核查")):
        return "inspection"
    return None


# --- reading the sheet -----------------------------------------------------------------------


@dataclass
class Problem:
    row: int
    column: str
    problem: str

    def line(self) -> str:
        return f"第 {self.row} 行｜{self.column or '—'}｜{self.problem}"


@dataclass
class SheetRow:
    row: int
    values: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    # filled by validation
    enterprise_id: int | None = None
    new_enterprise: dict[str, Any] | None = None
    channel: str | None = None
    inspected_on: date | None = None
    completed_on: date | None = None
    rectified: bool | None = None
    existing_hazard: int | None = None
    fingerprint: str = ""
    basis_code: str | None = None
    matches: list[tuple[str, str]] = field(default_factory=list)  # (column key, what the cell was matched to)
    follow_up: list[str] = field(default_factory=list)  # holding values the office resolves later


@dataclass
class Sheet:
    name: str
    header_row: int
    columns: dict[str, int]  # key -> 1-based column index
    headers: dict[str, str]  # key -> header text as written
    rows: list[SheetRow]
    ignored_columns: list[str]
    notes: list[Problem] = field(default_factory=list)  # read as text, not an error (formulas)


def _match_row(cells: tuple) -> tuple[dict[str, int], dict[str, str], list[str]]:
    found: dict[str, int] = {}
    heads: dict[str, str] = {}
    unknown = []
    for c, value in enumerate(cells, 1):
        key = _HEADER_INDEX.get(norm(value))
        if key and key not in found:
            found[key], heads[key] = c, text(value)
        elif text(value):
            unknown.append(text(value))
    return found, heads, unknown


def _find_header(ws) -> tuple[int, dict[str, int], dict[str, str], list[str]] | None:  # noqa: ANN001
    """The header row (most recognised column names among the first 20 rows).  A two-level
    header (e.g. 整改情况 over 是否整改 / 实际整改完成时间) is read from both rows; the
    returned row number is the last header row."""
    top = list(ws.iter_rows(min_row=1, max_row=20, values_only=True))
    best = None
    for r, cells in enumerate(top, 1):
        found, heads, unknown = _match_row(cells)
        score = len([k for k in found if k != "_seq"])
        if score >= 3 and (best is None or score > best[0]):
            best = (score, r, found, heads, unknown)
    if best is None:
        return None
    _, r, found, heads, unknown = best
    if r < len(top):
        sub, sub_heads, _ = _match_row(top[r])  # the row below
        sub = {k: c for k, c in sub.items() if k != "_seq"}
        filled = [v for v in top[r] if text(v)]
        col_key = {c: k for k, c in found.items()}
        # every filled cell of the row below is a header, sitting under a blank or group cell
        if sub and len(filled) == len(sub) and all(col_key.get(c) in (None, k) or col_key.get(c) in sub
                                                   for k, c in sub.items()):
            for k, c in sub.items():
                for old in [kk for kk, cc in found.items() if cc == c or kk == k]:
                    del found[old]
                found[k], heads[k] = c, sub_heads[k]
            r += 1
    return r, found, heads, unknown


FORMULA_START = ("=", "+", "-", "@")


def _formulas_as_text(row: SheetRow, columns: dict[str, int], headers: dict[str, str]) -> list[Problem]:
    """A formula cell's value is its formula text (never evaluated); noted in the row report."""
    notes = []
    for key, value in list(row.values.items()):
        formula = getattr(value, "text", None) if not isinstance(value, str) else value  # ArrayFormula
        if isinstance(formula, str) and formula.startswith("="):
            row.values[key] = formula
            column = f"{get_column_letter(columns[key])} 列（{headers.get(key, LABEL.get(key, key))}）"
            notes.append(Problem(row.row, column, f"单元格是公式，已按文本读取（未计算）：{formula[:60]}"))
    return notes


def _inert(cell: Any) -> None:
    """Export: a text that starts like a formula (= + - @) stays text in Excel, never a live formula."""
    if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
        cell.data_type = "s"
        cell.quotePrefix = True


def read_sheet(path: str | Path) -> Sheet:
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"文件不存在：{path}")
    try:
        # data_only=False: a formula cell reads as its formula text, never as a value someone's
        # formula computed (issue 13); the row report says so.  Streams; merged cells read as blanks.
        wb = openpyxl.load_workbook(path, data_only=False, read_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        raise ValidationError(f"{path.name} 不是可读取的 .xlsx 文件：{exc.__class__.__name__}") from exc
    try:
        sheets = sorted(wb.worksheets, key=lambda ws: 0 if "明细" in ws.title else 1)
        for ws in sheets:
            ws.reset_dimensions()  # some writers record a wrong sheet size; read every row
            found = _find_header(ws)
            if found is None:
                continue
            header_row, columns, headers, unknown = found
            missing = [LABEL[k] for k in REQUIRED if k not in columns]
            if missing:
                raise ValidationError(f"工作表“{ws.title}”第 {header_row} 行的表头缺少列：{'、'.join(missing)}。")
            rows, notes = [], []
            merged = _merged_cells(path, ws, header_row)
            fill = _MergeFill(merged)
            for r, cells in enumerate(ws.iter_rows(min_row=header_row + 1, values_only=True), header_row + 1):
                if merged:
                    cells = fill(r, list(cells))
                values = {k: (cells[c - 1] if c - 1 < len(cells) else None) for k, c in columns.items() if k != "_seq"}
                non_empty = [text(v) for v in cells if text(v)]
                if not any(text(v) for v in values.values()):
                    continue  # blank line (or only a 序号)
                if non_empty and non_empty[0].startswith(FOOTER_PREFIXES):
                    continue  # 填表人 / 审核人 / 说明 lines under the table
                if any(norm(values.get(k)).startswith(TOTALS) for k in ("enterprise_name", "description",
                                                                         "reporting_unit", "industry")):
                    continue  # a totals or subtotals row (合计 / 小计 for a town) inside the table
                if all(_HEADER_INDEX.get(norm(v)) for v in non_empty):
                    continue  # a repeated header (printed sheets repeat it on every page)
                rows.append(SheetRow(r, values))
                notes.extend(_formulas_as_text(rows[-1], columns, headers))
            return Sheet(ws.title, header_row, columns, headers, rows, unknown, notes)
    finally:
        wb.close()
    raise ValidationError(f"{path.name} 中没有找到{SHEET_TITLE}的表头（至少需要企业名称、重大隐患描述、检查时间等列）。")


TOTALS = ("合计", "总计", "小计", "共计")


def _merged_cells(path: Path, ws, header_row: int) -> list[tuple[int, int, int, int]]:  # noqa: ANN001
    """The merged ranges below the header (min_col, min_row, max_col, max_row).  Units merge the
    上报单位, 企业名称 or 行业领域 cell down over all the rows of one town or one enterprise; the
    streaming reader sees only the top cell, so the ranges are read from the package (xlsxmerge)."""
    return [(c1, r1, c2, r2) for c1, r1, c2, r2 in xlsxmerge.merged_ranges(path, ws.title)
            if r2 > r1 and r1 > header_row]  # a vertical merge inside the table


class _MergeFill:
    """Fills each merged range's top-left value into the range's other cells, row by row (rows come
    in order).  Only the ranges covering the current row are looked at: a unit's sheet merges
    上报单位 over every few rows, and checking every range on every row was quadratic."""

    def __init__(self, merged: list[tuple[int, int, int, int]]) -> None:
        self.pending = sorted(merged, key=lambda m: m[1])
        self.next = 0
        self.active: list[tuple[int, int, int, int]] = []
        self.anchors: dict[tuple[int, int], Any] = {}

    def __call__(self, r: int, cells: list[Any]) -> list[Any]:
        while self.next < len(self.pending) and self.pending[self.next][1] <= r:
            self.active.append(self.pending[self.next])
            self.next += 1
        if any(m[3] < r for m in self.active):
            self.active = [m for m in self.active if m[3] >= r]
        for c1, r1, c2, r2 in self.active:
            if r == r1:
                self.anchors[(r1, c1)] = cells[c1 - 1] if c1 - 1 < len(cells) else None
            else:
                value = self.anchors.get((r1, c1))
                for c in range(c1, c2 + 1):
                    while len(cells) < c:
                        cells.append(None)
                    if cells[c - 1] is None:
                        cells[c - 1] = value
        return cells


# --- validation ----------------------------------------------------------------------------------


class ImportRejected(HazardLoopError):
    """Some rows are invalid; nothing was imported.  .problems lists them."""

    def __init__(self, message: str, problems: list[Problem]):
        super().__init__(message)
        self.problems = problems


def _col(sheet: Sheet, key: str) -> str:
    c = sheet.columns.get(key)
    return f"{get_column_letter(c)} 列（{sheet.headers.get(key, LABEL[key])}）" if c else LABEL[key]


def fingerprint(enterprise_key: str, description: str, inspected_on: date | None, channel: str | None) -> str:
    doc = "|".join([norm(enterprise_key).upper(), merging.normalise(description),
                    inspected_on.isoformat() if inspected_on else "", channel or ""])
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


def validate(session: Session, sheet: Sheet) -> list[Problem]:
    """Check every row; fill in what import needs.  Returns every problem found.

    Names are matched as people write them (intake/matching.py, config/reference/aliases.yaml):
    each row keeps what its cells were matched to (row.matches) and what is held for the office
    to resolve (row.follow_up); a cell nothing matches is a problem with a suggestion."""
    cat = matching.Catalogue(session)
    standards = [(s.code, norm(s.title), norm(s.number)) for s in session.exec(select(Standard)).all()]
    basis_cache: dict[str, str | None] = {}
    enterprises = list(session.exec(select(Enterprise)).all())
    by_code = {e.credit_code: e for e in enterprises}
    by_name = {norm(e.name): e for e in enterprises}
    by_core = matching.short_name_index(cat, enterprises)
    seen: dict[str, int] = {}
    planned_new: dict[str, dict[str, Any]] = {}
    industry_cache: dict[tuple[str, str], matching.Match] = {}
    codes = sorted({norm(r.values.get("code")).upper() for r in sheet.rows} - {""})
    known_codes: dict[str, int] = {}
    for i in range(0, len(codes), 500):  # one query per 500 codes, not one per row
        known_codes.update({c: hid for hid, c in session.exec(select(Hazard.id, Hazard.code)
                                                                .where(Hazard.code.in_(codes[i:i + 500]))).all()})  # type: ignore[union-attr]
    problems: list[Problem] = []
    for row in sheet.rows:
        v = row.values
        add = lambda key, msg: row.problems.append(Problem(row.row, _col(sheet, key), msg))  # noqa: E731
        name = text(v.get("enterprise_name"))
        desc = text(v.get("description"))
        if not name:
            add("enterprise_name", "企业名称为空")
        if not desc:
            add("description", "重大隐患描述为空")
        code = norm(v.get("credit_code")).upper()
        if code and (p := credit_code_problem(code)):
            add("credit_code", f"{p}（{text(v.get('credit_code'))}）")
            code = ""
        raw_date = v.get("inspected_on")
        row.inspected_on = parse_date(raw_date)
        if row.inspected_on is None:
            add("inspected_on", "检查时间为空" if not text(raw_date) else f"检查时间“{text(raw_date)}”不是可识别的日期")
        elif row.inspected_on > clock.today():
            add("inspected_on", f"检查时间 {row.inspected_on.isoformat()} 晚于今天")
        yn = parse_yes_no(v.get("rectified"))
        if yn == "?":
            add("rectified", f"是否整改应填“是”或“否”，收到“{text(v.get('rectified'))}”")
        else:
            row.rectified = yn  # type: ignore[assignment]
        raw_done = v.get("completed_on")
        row.completed_on = parse_date(raw_done)
        if text(raw_done) and row.completed_on is None:
            add("completed_on", f"实际整改完成时间“{text(raw_done)}”不是可识别的日期")
        if row.rectified is True and row.completed_on is None and not text(raw_done):
            add("completed_on", "已整改的隐患须填写实际整改完成时间")
        if row.completed_on and row.completed_on > clock.today():
            add("completed_on", f"实际整改完成时间 {row.completed_on.isoformat()} 晚于今天")
        if row.completed_on and row.inspected_on and row.completed_on < row.inspected_on:
            add("completed_on", f"整改完成时间 {row.completed_on.isoformat()} 早于检查时间 {row.inspected_on.isoformat()}")
        row.channel = channel_of(text(v.get("method")))
        if row.channel is None:
            add("method", f"无法识别的检查方式“{text(v.get('method'))}”（可写：企业自查、督导检查、群众举报、上级交办）")
        basis = norm(v.get("basis"))
        if basis:
            if basis not in basis_cache:
                hits = [c for c, t, n in standards if t in basis or basis in t or n in basis or basis == norm(c)]
                basis_cache[basis] = hits[0] if len(hits) == 1 else None
            row.basis_code = basis_cache[basis]
        # the hazard code (an export read back) matches an existing hazard
        hcode = norm(v.get("code")).upper()
        if hcode in known_codes:
            row.existing_hazard = known_codes[hcode]
        # an unknown code (another system's export) is no error: the row is matched by its fingerprint
        # the enterprise: by credit code, then by name, then by its core name (石横特钢 for
        # 山东石横特钢集团有限公司, only when one enterprise has it); otherwise it will be created
        ent = by_code.get(code) if code else None
        if ent is None and name:
            ent = by_name.get(norm(name))
            if ent is None and not code:
                ent = by_core.get(cat.core_name(name))
                if ent is not None:
                    row.matches.append(("enterprise_name", f"“{name}” → {ent.name}（{matching.HOW['short_name']}）"))
        if ent is not None:
            row.enterprise_id = ent.id
        elif name:
            key = code or cat.core_name(name) or norm(name)
            if key in planned_new:
                row.new_enterprise = planned_new[key]
            else:
                raw_ind = text(v.get("industry"))
                ikey = (norm(raw_ind), name)
                ind = industry_cache.get(ikey) or industry_cache.setdefault(ikey, cat.industry(raw_ind, name))
                reg, source = cat.unit_region(v.get("region"), v.get("reporting_unit"), name, text(v.get("address")))
                if not ind.ok:
                    hint = ind.suggestion()
                    add("industry", (f"新企业“{name}”的行业领域为空" if not raw_ind else
                                     f"新企业“{name}”的行业领域“{raw_ind}”无法识别") + (f"：{hint}" if hint else ""))
                if not reg.ok:
                    hint = reg.suggestion()
                    add("region", f"新企业“{name}”的所属镇街区“{text(v.get('region'))}”无法识别" + (f"：{hint}" if hint else ""))
                if ind.ok and reg.ok:
                    planned_new[key] = row.new_enterprise = {
                        "name": name, "credit_code": code or None, "industry_code": ind.code, "region_code": reg.code,
                        "address": text(v.get("address")) or None, "industry_match": ind, "region_match": reg,
                        "region_source": source, "raw_industry": raw_ind}
            spec = row.new_enterprise
            if spec is not None:
                ind, reg = spec["industry_match"], spec["region_match"]
                if note := ind.note(spec["raw_industry"]):
                    row.matches.append(("industry", note))
                if ind.follow_up:
                    row.follow_up.append(f"行业领域“{spec['raw_industry']}”为统称，记入{ind.name}，待细分"
                                         f"（可选：{'、'.join(ind.suggestions)}）")
                src_label = {"region": "所属镇街区", "reporting_unit": "上报单位", "enterprise_name": "企业名称",
                             "address": "企业地址"}.get(spec["region_source"], "")
                if reg.how == "holding":
                    unit = text(v.get("reporting_unit"))
                    row.follow_up.append(f"上报单位“{unit}”不是镇街区，企业名称和地址中也看不出镇街区："
                                         f"记入{reg.name}，待市安委办确认")
                elif reg.how != "exact" or spec["region_source"] not in ("region", "reporting_unit"):
                    raw = {"region": text(v.get("region")), "reporting_unit": text(v.get("reporting_unit")),
                           "enterprise_name": name, "address": text(v.get("address"))}.get(spec["region_source"], "")
                    row.matches.append(("region", f"所属镇街区按{src_label}“{raw}” → {reg.name}（{matching.HOW.get(reg.how, reg.how)}）"))
        if row.inspected_on and name and desc and row.channel:
            # a known enterprise keys by its own name, so 石横特钢 and its full name are one fingerprint
            ekey = code or (ent.name if ent is not None else name)
            row.fingerprint = fingerprint(ekey, desc, row.inspected_on, row.channel)
            if row.fingerprint in seen and not row.existing_hazard:
                row.existing_hazard = -seen[row.fingerprint]  # same as an earlier row of this sheet
            seen.setdefault(row.fingerprint, row.row)
        problems.extend(row.problems)
    return problems


# --- import -------------------------------------------------------------------------------------------


@dataclass
class Proposal:
    """A merge the office can do: `hazard merge KEPT DUPLICATE` (the duplicate is still found)."""

    row: int
    new: str  # the new hazard's code (or 第 N 行（新建） in a dry run)
    other: str  # the similar hazard's code (or 第 N 行（新建）)
    score: float
    kept: str
    duplicate: str

    def line(self) -> str:
        return (f"第 {self.row} 行 {self.new} ≈ {self.other}（相似度 {self.score:.2f}）："
                f"hazardloop hazard merge {self.kept} {self.duplicate}")


@dataclass
class ImportResult:
    filename: str
    rows: int
    created: int = 0
    existing: int = 0
    invalid: int = 0
    enterprises_created: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)  # formulas read as text
    batch_id: int | None = None
    created_codes: list[str] = field(default_factory=list)
    new_enterprises: list[str] = field(default_factory=list)  # names the sheet will create (or created)
    possible_duplicates: list[Proposal] = field(default_factory=list)
    closed_imported: int = 0  # rows closed as 导入销号 (rectified in the sheet)
    matches: list[tuple[int, str, str]] = field(default_factory=list)  # row, column key, what it was matched to
    follow_up: list[tuple[int, str]] = field(default_factory=list)  # row, holding value to resolve
    dry_run: bool = False

    def report(self) -> str:
        will = "将" if self.dry_run else ""
        lines = [f"{self.filename}：共 {self.rows} 行数据；{will}新建隐患 {self.created} 条"
                 f"（其中按表格记为导入销号 {self.closed_imported} 条），已存在（跳过）{self.existing} 条，"
                 f"无效 {self.invalid} 条；{will}新建企业 {self.enterprises_created} 家。"]
        if self.new_enterprises:
            lines.append("台账中没有、将按表格新建的企业：" + "、".join(self.new_enterprises))
        if self.matches:
            lines.append("名称匹配（表中写法 → 目录条目）：")
            lines += ["  " + note + "：" + _rows_text(rows) for note, rows in _grouped(self.matches)]
        if self.follow_up:
            lines.append("待办（已导入，待市安委办确认；hazardloop ledger pending 列出，ledger resolve 处理）：")
            lines += ["  " + note + "：" + _rows_text(rows) for note, rows in _grouped([(r, "", n) for r, n in self.follow_up])]
        if self.possible_duplicates:
            lines.append("可能与已有隐患重复（可以合并：重复的一条尚未确认）：")
            lines += ["  " + p.line() for p in self.possible_duplicates]
        if self.problems:
            lines.append("问题清单（行｜列｜问题）：")
            lines += ["  " + p.line() for p in self.problems]
        if self.notes:
            lines.append("提示（行｜列｜说明）：")
            lines += ["  " + p.line() for p in self.notes]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"imported": not self.dry_run and self.batch_id is not None, "dry_run": self.dry_run,
                "batch": self.batch_id, "rows": self.rows, "created": self.created, "existing": self.existing,
                "invalid": self.invalid, "enterprises_created": self.enterprises_created,
                "closed_imported": self.closed_imported, "codes": self.created_codes,
                "new_enterprises": self.new_enterprises,
                "matches": [{"row": r, "column": LABEL.get(k, k), "match": n} for r, k, n in self.matches],
                "follow_up": [{"row": r, "note": n} for r, n in self.follow_up],
                "possible_duplicates": [p.__dict__ for p in self.possible_duplicates],
                "problems": [p.__dict__ for p in self.problems], "notes": [p.__dict__ for p in self.notes]}


def _grouped(items: list[tuple[int, str, str]]) -> list[tuple[str, list[int]]]:
    out: dict[str, list[int]] = {}
    for row, _key, note in items:
        out.setdefault(note, []).append(row)
    return list(out.items())


def _rows_text(rows: list[int], limit: int = 12) -> str:
    shown = "、".join(str(r) for r in rows[:limit])
    return f"第 {shown} 行" + (f" 等 {len(rows)} 行" if len(rows) > limit else "")


def _placeholder_code(name: str) -> str:
    # Enterprise.credit_code is required and unique; a sheet without the column still needs one.
    # "TMP" + 15 hex fails the GB 32100 check, so it can never collide with a real code; exports leave it blank.
    return "TMP" + hashlib.sha256(norm(name).encode()).hexdigest()[:15].upper()


def import_sheet(session: Session, actor: AppUser, path: str | Path, *, skip_invalid: bool = False,
                 dry_run: bool = False) -> ImportResult:
    """Validate, plan, then (unless dry_run) write.  The dry run and the real run share the plan,
    so the dry run reports exactly what the real run does: rows to create, rows already in the
    ledger, enterprises to create, close-outs, names matched, holding values, merge proposals."""
    intake_guards.import_ledger(actor)
    path = Path(path)
    sheet = read_sheet(path)
    problems = validate(session, sheet)
    bad_rows = {p.row for p in problems}
    result = ImportResult(path.name, len(sheet.rows), invalid=len(bad_rows), problems=problems, dry_run=dry_run,
                          notes=sheet.notes)
    if problems and not skip_invalid:
        raise ImportRejected(result.report() + "\n未导入任何数据（全部行校验通过才导入；或使用 --skip-invalid 只导入有效行）。",
                             problems)
    good = [r for r in sheet.rows if r.row not in bad_rows]
    fps = [r.fingerprint for r in good if r.fingerprint]
    known: set[str] = set()
    for i in range(0, len(fps), 500):
        known.update(session.exec(select(ImportRow.fingerprint).where(
            ImportRow.fingerprint.in_(fps[i:i + 500]))).all())  # type: ignore[union-attr]
    to_create: list[SheetRow] = []
    specs: dict[int, dict[str, Any]] = {}
    for row in good:
        result.matches += [(row.row, k, n) for k, n in row.matches]
        if row.existing_hazard or row.fingerprint in known:
            result.existing += 1
            continue
        known.add(row.fingerprint)
        to_create.append(row)
        result.follow_up += [(row.row, n) for n in row.follow_up]
        if row.enterprise_id is None and id(row.new_enterprise) not in specs:
            specs[id(row.new_enterprise)] = row.new_enterprise  # type: ignore[assignment]
    result.created = len(to_create)
    result.closed_imported = sum(1 for r in to_create if _closes(r))
    result.enterprises_created = len(specs)
    result.new_enterprises = [spec["name"] for spec in specs.values()]
    if dry_run:
        result.possible_duplicates = _proposals(session, [(r, None) for r in to_create])
        return result
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    batch = ImportBatch(filename=path.name, sha256=digest, imported_by=actor.username, rows_total=len(sheet.rows))
    session.add(batch)
    session.flush()
    hazards = _write(session, actor, batch.id, to_create, list(specs.values()))
    result.created_codes = [h["code"] for h in hazards]
    result.possible_duplicates = _proposals(session, list(zip(to_create, hazards)))
    batch.rows_created, batch.rows_existing, batch.rows_invalid = result.created, result.existing, result.invalid
    batch.enterprises_created = result.enterprises_created
    session.flush()
    audit.append(session, actor=actor.username, action="ledger_import", after={
        "batch": batch.id, "file": path.name, "sha256": digest, "created": result.created,
        "existing": result.existing, "invalid": result.invalid, "enterprises_created": result.enterprises_created,
        "closed_imported": result.closed_imported, "follow_up": len(result.follow_up)})
    result.batch_id = batch.id
    return result


def _closes(row: SheetRow) -> bool:
    return row.rectified is True and row.completed_on is not None


_HAZARD_T = Hazard.__table__
_IMPORT_ROW_T = ImportRow.__table__


def _ensure_holding(session: Session, specs: list[dict[str, Any]]) -> None:
    """Create the holding catalogue rows (待确认镇街区, 工贸（待细分）…) the first time a sheet needs them."""
    cfg = aliases()
    hold = cfg["holding_region"]
    if any(s["region_code"] == hold["code"] for s in specs) and session.get(Region, hold["code"]) is None:
        session.add(Region(code=hold["code"], name=hold["name"], kind=hold.get("kind", "holding")))
    for spec in cfg["umbrellas"].values():
        h = spec["holding"]
        if any(s["industry_code"] == h["code"] for s in specs) and session.get(Industry, h["code"]) is None:
            session.add(Industry(code=h["code"], name=h["name"], department_code=h["department"], high_risk=False))
    session.flush()


def _write(session: Session, actor: AppUser, batch_id: int, rows: list[SheetRow],
           specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Create the planned enterprises and hazards in batches: every row through the same guard
    (guards.report as an import, then the machine's close_imported for a rectified row), the same
    audit events on the same hash chain (appended under one lock of its head) and the same domain
    events ("reported", "closed_imported") as ledger.report and ledger._transition write one by one."""
    _ensure_holding(session, specs)
    events: list[dict[str, Any]] = []
    ents: dict[int, Enterprise] = {}
    if specs:
        objs = [Enterprise(name=s["name"], credit_code=s["credit_code"] or _placeholder_code(s["name"]),
                           region_code=s["region_code"], industry_code=s["industry_code"], address=s["address"],
                           principal="待补充", controller="待补充",
                           contacts={"created_by_import": batch_id, "placeholder_credit_code": s["credit_code"] is None})
                for s in specs]
        session.add_all(objs)
        session.flush()  # one multi-row INSERT … RETURNING
        for s, e in zip(specs, objs):
            ents[id(s)] = e
            events.append({"actor": actor.username, "action": "enterprise_upsert",
                           "after": {"credit_code": e.credit_code, "name": e.name, "import_batch": batch_id}})
    known_ents = {e.id: e for e in session.exec(select(Enterprise).where(Enterprise.id.in_(  # type: ignore[union-attr]
        sorted({r.enterprise_id for r in rows if r.enterprise_id is not None})))).all()} if rows else {}
    departments = {i.code: i.department_code for i in session.exec(select(Industry)).all()}
    values: list[dict[str, Any]] = []
    for row in rows:
        ent = ents[id(row.new_enterprise)] if row.enterprise_id is None else known_ents[row.enterprise_id]
        row.enterprise_id = ent.id
        if row.channel not in CHANNELS:
            raise ValidationError(f"第 {row.row} 行的发现渠道无法识别。")
        guards.report(actor, ent, row.channel, imported=True)  # the importer's rule, row by row
        desc = text(row.values.get("description"))
        found_at = datetime.combine(row.inspected_on, time(12, 0), tzinfo=clock.SHANGHAI)  # type: ignore[arg-type]
        values.append({
            "enterprise_id": ent.id, "region_code": ent.region_code, "industry_code": ent.industry_code,
            "supervising_department": departments.get(ent.industry_code), "title": desc.splitlines()[0][:60].strip(),
            "description": desc, "location": None, "channel": row.channel, "state": "found", "found_at": found_at,
            "reported_by": actor.username, "basis_code": row.basis_code,
            "basis_clause": text(row.values.get("clause")) or None, "cycle": 0, "rejections": 0, "version": 1})
    conn = connection(session)
    for chunk in range(0, len(values), 1000):
        part = values[chunk:chunk + 1000]
        ids = conn.execute(_HAZARD_T.insert().returning(_HAZARD_T.c.id, sort_by_parameter_order=True), part).scalars().all()
        for v, hid in zip(part, ids):
            v["id"] = hid
            v["code"] = f"YH-{clock.local_date(v['found_at']).year}-{hid:06d}"
    if values:
        conn.execute(_HAZARD_T.update().where(_HAZARD_T.c.id == bindparam("_id")).values(code=bindparam("_code")),
                     [{"_id": v["id"], "_code": v["code"]} for v in values])
    import_rows = []
    closing = []
    hazards = []
    for row, v in zip(rows, values):
        provenance = {"import_batch": batch_id, "sheet_row": row.row, "rectified_in_sheet": row.rectified}
        data = {k: (parse_date(val).isoformat() if k in ("inspected_on", "completed_on") and parse_date(val)
                    else text(val)) for k, val in row.values.items() if k not in ("code",) and text(val)}
        import_rows.append({"batch_id": batch_id, "fingerprint": row.fingerprint, "hazard_id": v["id"],
                            "sheet_row": row.row, "data": data})
        events.append({"actor": actor.username, "action": "report", "hazard_id": v["id"], "after": {
            "state": "found", "code": v["code"], "enterprise_id": v["enterprise_id"], "title": v["title"],
            "channel": v["channel"], "found_at": v["found_at"], "location": None,
            **({"basis_code": v["basis_code"], "basis_clause": v["basis_clause"]}
               if v["basis_code"] or v["basis_clause"] else {}),
            **provenance}})
        hazard = _hazard_object(v)
        hazards.append((row, hazard, provenance))
        if _closes(row):
            done = row.completed_on
            closed_at = datetime.combine(done, time(12, 0), tzinfo=clock.SHANGHAI)  # type: ignore[arg-type]
            before = {"state": "found", "closed_by": None, "closed_at": None}
            fire(hazard, "close_imported", actor, {"import_row": _RowRef(v["id"]), "completed_on": done})
            hazard.__dict__.update(closed_by=actor.username, closed_at=closed_at, version=2)
            extra = {"import_batch": batch_id, "sheet_row": row.row, "completed_on": done.isoformat()}  # type: ignore[union-attr]
            events.append({"actor": actor.username, "action": "close_imported", "hazard_id": v["id"], "before": before,
                           "after": {"state": "closed", "closed_by": actor.username, "closed_at": closed_at, **extra},
                           "reason": f"台账导入：表中“是否整改”为是，实际整改完成时间 {done.isoformat()}"})  # type: ignore[union-attr]
            closing.append({"_id": v["id"], "_by": actor.username, "_at": closed_at, "_extra": extra})
    if import_rows:
        conn.execute(_IMPORT_ROW_T.insert(), import_rows)
    if closing:
        conn.execute(_HAZARD_T.update().where(_HAZARD_T.c.id == bindparam("_id"), _HAZARD_T.c.version == 1)
                     .values(state="closed", closed_by=bindparam("_by"), closed_at=bindparam("_at"), version=2),
                     [{k: c[k] for k in ("_id", "_by", "_at")} for c in closing])
    audit.append_many(session, events)
    # the domain events, in row order, as the one-by-one calls announce them
    for row, hazard, provenance in hazards:
        emit(session, DomainEvent("reported", hazard, actor, dict(provenance)))
        if hazard.state == "closed":
            done = row.completed_on
            emit(session, DomainEvent("closed_imported", hazard, actor, {
                "reason": f"台账导入：表中“是否整改”为是，实际整改完成时间 {done.isoformat()}",  # type: ignore[union-attr]
                "import_batch": batch_id, "sheet_row": row.row, "completed_on": done.isoformat()}))  # type: ignore[union-attr]
    return [{"id": h.id, "code": h.code, "state": h.state, "enterprise_id": h.enterprise_id} for _, h, _ in hazards]


def _hazard_object(values: dict[str, Any]) -> Hazard:
    """The hazard as the domain events and the machine see it, holding the row just written.
    Built as the ORM builds a loaded row (a bare instance, values in its dict): the model's
    constructor validates every field again and cost a third of the import."""
    obj = class_mapper(Hazard).class_manager.new_instance()
    obj.__dict__.update(values)
    return obj


@dataclass(frozen=True)
class _RowRef:
    """What guards.close_imported reads of the import row: which hazard it created."""

    hazard_id: int


def _ent_key(row: SheetRow) -> Any:
    # a new enterprise has no id in a dry run: its spec stands for it (no hazards of its own yet)
    return row.enterprise_id if row.enterprise_id is not None else ("new", id(row.new_enterprise))


def _proposals(session: Session, created: list[tuple[SheetRow, dict[str, Any] | None]]) -> list[Proposal]:
    """For each new hazard, the most similar other hazard at its enterprise with which a merge can
    actually be done (hazard merge needs the duplicate still found and the kept one not dismissed):
    the new one as the duplicate if it is found, else the other one if that is found; a pair where
    neither is found (the new row closed as 导入销号 and the other confirmed) is not proposed.
    The dry run (created hazards unknown: None) proposes the same merges by row number."""
    if not created:
        return []
    ent_ids = sorted({r.enterprise_id for r, _ in created if r.enterprise_id is not None})
    pool: dict[Any, list[tuple[Any, str, str, str, str]]] = {}  # enterprise -> (key, label, title, description, state)
    mine = {h["id"] for _, h in created if h}
    for i in range(0, len(ent_ids), 500):
        for o in session.execute(sa_select(Hazard.id, Hazard.code, Hazard.title, Hazard.description, Hazard.state,
                                           Hazard.enterprise_id)
                                 .where(Hazard.enterprise_id.in_(ent_ids[i:i + 500]),  # type: ignore[attr-defined]
                                        Hazard.state != "dismissed")).all():
            if o.id not in mine:
                pool.setdefault(o.enterprise_id, []).append((o.id, o.code, o.title, o.description or "", o.state))
    new_items = []
    for row, h in created:
        desc = text(row.values.get("description"))
        label = h["code"] if h else f"第 {row.row} 行（新建）"
        state = h["state"] if h else ("closed" if _closes(row) else "found")
        item = (("row", row.row), label, desc.splitlines()[0][:60].strip(), desc, state)
        new_items.append((row, item))
        pool.setdefault(_ent_key(row), []).append(item)
    out: list[Proposal] = []
    pairs: set[frozenset] = set()
    sim = _Similarity()
    for row, item in new_items:
        best = None
        for other in pool.get(_ent_key(row), []):
            if other[0] == item[0] or frozenset((other[0], item[0])) in pairs:
                continue
            if item[4] == "found":
                kept, dup = other[1], item[1]
            elif other[4] == "found":
                kept, dup = item[1], other[1]
            else:
                continue  # neither can be the duplicate: no merge can be done
            floor = max(merging.THRESHOLD, best[0] if best else 0.0)
            sc = max(sim(item[3], f"{other[2]} {other[3]}", floor), sim(item[3], other[2], floor))  # merging.score
            if sc >= floor and (best is None or sc > best[0]):
                best = (sc, other, kept, dup)
        if best:
            pairs.add(frozenset((best[1][0], item[0])))
            out.append(Proposal(row.row, item[1], best[1][1], round(best[0], 2), best[2], best[3]))
    return out


class _Similarity:
    """merging.similarity for many pairs: each text normalised, cut into bigrams and counted by
    character once, and the sequence ratio skipped when its upper bounds (difflib's real_quick_ratio
    and quick_ratio, computed here from the cached counts) cannot reach the score needed.
    Returns the same value as merging.similarity whenever that value is at least `floor`."""

    def __init__(self) -> None:
        self._norm: dict[str, tuple[str, set[str], Counter]] = {}

    def _prep(self, text_: str) -> tuple[str, set[str], Counter]:
        got = self._norm.get(text_)
        if got is None:
            n = merging.normalise(text_)
            got = self._norm[text_] = (n, {n[i:i + 2] for i in range(len(n) - 1)} or {n}, Counter(n))
        return got

    def __call__(self, a: str, b: str, floor: float) -> float:
        na, ga, ca = self._prep(a)
        nb, gb, cb = self._prep(b)
        if not na or not nb:
            return 0.0
        if na == nb:
            return 1.0
        common = len(ga & gb)
        bigram = (2 * common / (len(ga) + len(gb)) + common / min(len(ga), len(gb))) / 2
        total = len(na) + len(nb)
        for upper in (2 * min(len(na), len(nb)) / total,  # real_quick_ratio
                      2 * sum((ca & cb).values()) / total):  # quick_ratio
            if upper <= bigram or upper < floor:
                return bigram  # exact when upper <= bigram; below the floor either way otherwise
        return max(difflib.SequenceMatcher(None, na, nb).ratio(), bigram)


# --- export ----------------------------------------------------------------------------------------------


ESCALATION_TABLE = "escalation_step"


def escalation_reader(session: Session):  # noqa: ANN201
    """A function hazard_ids -> {id: "step date；..."} if the escalation table exists, else None."""
    insp = sa_inspect(session.connection())  # the session's own connection: no second (locking) transaction
    if not insp.has_table(ESCALATION_TABLE):
        return None
    cols = {c["name"] for c in insp.get_columns(ESCALATION_TABLE)}
    if not {"hazard_id", "step"} <= cols:
        return None
    when = "due_date" if "due_date" in cols else ("created_at" if "created_at" in cols else None)
    wanted = ["hazard_id", "step"] + ([when] if when else []) + (["status"] if "status" in cols else [])
    t = sa_table(ESCALATION_TABLE, *[sa_column(c) for c in wanted] + ([sa_column("id")] if "id" in cols else []))

    def read(ids: list[int]) -> dict[int, str]:
        from hazardloop.config.labels import label

        out: dict[int, list[str]] = {}
        for chunk in range(0, len(ids), 500):
            stmt = sa_select(*[t.c[c] for c in wanted]).where(t.c.hazard_id.in_(ids[chunk:chunk + 500]))
            if "status" in wanted:
                stmt = stmt.where(t.c.status.not_in(["proposed", "declined"]))
            stmt = stmt.order_by(t.c.hazard_id, *( [t.c.id] if "id" in cols else []))
            for r in session.execute(stmt).all():
                m = r._mapping
                stamp = m.get(when) if when else None
                if isinstance(stamp, datetime):
                    stamp = clock.local_date(stamp)
                # a person reads the column: the step's Chinese name (提示函 2026-10-19), not its code
                out.setdefault(m["hazard_id"], []).append(label("escalation_step", m["step"])
                                                          + (f" {stamp}" if stamp else ""))
        return {k: "；".join(v) for k, v in out.items()}

    return read


@dataclass
class ExportResult:
    path: Path
    rows: int
    escalations_available: bool

    def message(self) -> str:
        note = "" if self.escalations_available else "（督办记录表不存在，“已采取督办措施”列为空）"
        return f"已导出 {self.rows} 条隐患到 {self.path}{note}"


def export_rows(session: Session, flt: ledger.HazardFilter, viewer: AppUser | None = None,
                include_merged: bool = False) -> tuple[list[dict[str, Any]], bool]:
    stmt = ledger.hazard_query(flt, viewer)
    if not include_merged:
        stmt = stmt.where(Hazard.id.not_in(merging.merged_away_ids()))  # type: ignore[union-attr]
    hazards = session.exec(stmt).all()
    ids = [h.id for h in hazards]
    ents = {e.id: e for e in session.exec(select(Enterprise).where(Enterprise.id.in_({h.enterprise_id for h in hazards}))).all()}  # type: ignore[union-attr]
    industries = {i.code: i.name for i in session.exec(select(Industry)).all()}
    regions = {r.code: r.name for r in session.exec(select(Region)).all()}
    standards = {s.code: s for s in session.exec(select(Standard)).all()}
    users = {u.username: u.name for u in session.exec(select(AppUser)).all()}
    imported: dict[int, dict] = {}
    plans: dict[int, RectificationPlan] = {}
    sources: dict[int, list[str]] = {}
    reports: dict[int, list[str]] = {}
    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        for r in session.exec(select(ImportRow).where(ImportRow.hazard_id.in_(part)).order_by(ImportRow.id)).all():  # type: ignore[union-attr]
            imported.setdefault(r.hazard_id, r.data)
        for p in session.exec(select(RectificationPlan).where(RectificationPlan.hazard_id.in_(part))  # type: ignore[union-attr]
                              .order_by(RectificationPlan.id)).all():
            plans[p.hazard_id] = p  # the latest plan wins
        for s in session.exec(select(HazardSource).where(HazardSource.hazard_id.in_(part)).order_by(HazardSource.id)).all():  # type: ignore[union-attr]
            sources.setdefault(s.hazard_id, []).append(s.channel)
        for rep in session.exec(select(PublicReport.hazard_id, PublicReport.code)
                                .where(PublicReport.hazard_id.in_(part)).order_by(PublicReport.id)).all():  # type: ignore[union-attr]
            reports.setdefault(rep[0], []).append(rep[1])
    read_esc = escalation_reader(session)
    escalations = read_esc(ids) if read_esc else {}
    rows = []
    for h in hazards:
        ent, src = ents[h.enterprise_id], imported.get(h.id, {})
        plan = plans.get(h.id)
        std = standards.get(h.basis_code) if h.basis_code else None
        closed = h.state == "closed"
        chans = []
        for ch in [h.channel, *sources.get(h.id, [])]:
            if ch not in chans:
                chans.append(ch)
        note = src.get("report_note") or ("；".join(f"群众举报 {c}" for c in reports.get(h.id, [])) or None)
        rows.append({
            "reporting_unit": src.get("reporting_unit") or regions.get(h.region_code, h.region_code),
            "industry": industries.get(ent.industry_code, ent.industry_code),
            "enterprise_type": src.get("enterprise_type"),
            "enterprise_name": ent.name,
            "category": src.get("category") or "重大事故隐患",
            "description": h.description or h.title,
            "method": src.get("method") or CHANNELS.get(h.channel, h.channel),
            "inspector": src.get("inspector") or (users.get(h.reported_by, h.reported_by)
                                                  if confidential.can_see_reporter(viewer, h) else confidential.MASKED_REPORTER),
            "inspected_on": clock.local_date(h.found_at),
            "basis": (f"{std.title}（{std.number}）" if std else src.get("basis")),
            "clause": h.basis_clause or src.get("clause"),
            "rectified": "是" if closed else (src.get("rectified") or "否"),
            "completed_on": (clock.local_date(h.closed_at) if closed and h.closed_at
                             else parse_date(src.get("completed_on"))),
            "responsible": plan.responsible_person if plan else src.get("responsible"),
            "measures": plan.measures if plan else src.get("measures"),
            "report_note": note,
            "credit_code": None if ent.credit_code.startswith("TMP") else ent.credit_code,
            "region": regions.get(h.region_code, h.region_code),
            "code": h.code,
            "channels": "、".join(CHANNELS.get(c, c) for c in chans),
            # a close-out the sheet reported (close_imported, never reviewed) is 导入销号, not 审核销号
            "state": (f"{STATE_NAMES['closed']}（{CLOSE_KINDS['imported' if guards.imported_close(h) else 'reviewed']}）"
                      if closed else STATE_NAMES.get(h.state, h.state)),
            "deadline": clock.local_date(h.deadline) if h.deadline else None,
            "days_overdue": ledger.days_overdue(h) or 0,
            "level": LEVELS.get(h.level or "", h.level),
            "escalations": escalations.get(h.id) if read_esc else None,
        })
    return rows, read_esc is not None


DATE_KEYS = {"inspected_on", "completed_on", "deadline"}


def export_sheet(session: Session, actor: AppUser, out: str | Path, flt: ledger.HazardFilter | None = None,
                 include_merged: bool = False) -> ExportResult:
    intake_guards.export_ledger(actor)
    flt = flt or ledger.HazardFilter()
    rows, esc = export_rows(session, flt, actor, include_merged)
    keys = [k for k, _, _ in COLUMNS] + [k for k, _, _ in OPTIONAL] + [k for k, _, _ in EXTRA]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "明细表"
    head_font, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    ws.append(["序号"] + [LABEL[k] for k in keys])
    for cell in ws[1]:
        cell.font, cell.fill = head_font, fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for i, row in enumerate(rows, 1):
        ws.append([i] + [row[k] for k in keys])
        for j, k in enumerate(keys, 2):
            if k in DATE_KEYS and row[k] is not None:
                ws.cell(row=i + 1, column=j).number_format = "yyyy-mm-dd"
            else:
                _inert(ws.cell(row=i + 1, column=j))
    ws.freeze_panes = "B2"
    ws.column_dimensions["A"].width = 6
    for j, k in enumerate(keys, 2):
        ws.column_dimensions[get_column_letter(j)].width = WIDTHS.get(k, 14 if k not in DATE_KEYS else 12)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(keys) + 1)}{len(rows) + 1}"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    wb.save(tmp)
    tmp.replace(out)
    audit.append(session, actor=actor.username, action="ledger_export",
                 after={"file": out.name, "rows": len(rows), "filter": {k: v for k, v in flt.__dict__.items() if v}})
    return ExportResult(out, len(rows), esc)


__all__ = ["read_sheet", "validate", "import_sheet", "export_sheet", "ImportRejected", "ImportResult", "parse_date"]

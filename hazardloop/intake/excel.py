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

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from sqlalchemy import inspect as sa_inspect, select as sa_select, table as sa_table, column as sa_column
from sqlmodel import Session, select

from hazardloop.config import clock
from hazardloop.models import audit
from hazardloop.errors import HazardLoopError, ValidationError
from hazardloop.models.intake import HazardSource, ImportBatch, ImportRow, PublicReport
from hazardloop.models.orgs import credit_code_problem
from hazardloop.models.tables import (
    AppUser, Enterprise, Hazard, Industry, RectificationPlan, Region, Standard,
)
from hazardloop.states import intake_guards, ledger
from hazardloop.states.roles import CHANNELS, LEVELS, STATE_NAMES
from hazardloop.intake import merge as merging
from hazardloop.states import confidential  # the reporter rule (issue 13)

SHEET_TITLE = "重大事故隐患排查及整改情况明细表"

# key, the sheet's header, accepted aliases.  Order = export order.
COLUMNS: list[tuple[str, str, tuple[str, ...]]] = [
    ("reporting_unit", "上报单位", ("填报单位",)),
    ("industry", "行业领域", ("行业", "所属行业")),
    ("enterprise_type", "企业类型", ()),
    ("enterprise_name", "企业名称", ("单位名称", "企业（单位）名称", "企业(单位)名称")),
    ("category", "隐患分类", ("隐患类别",)),
    ("description", "重大隐患描述（举报问题描述）", ("重大隐患描述", "隐患描述", "举报问题描述", "重大事故隐患描述")),
    ("method", "检查方式", ("发现方式", "发现渠道")),
    ("inspector", "检查人", ("检查人员",)),
    ("inspected_on", "检查时间", ("检查日期", "发现时间")),
    ("basis", "判定依据", ()),
    ("clause", "违反判定依据具体条款", ("具体条款", "判定依据具体条款")),
    ("rectified", "是否整改", ("是否完成整改", "整改情况")),
    ("completed_on", "实际整改完成时间", ("整改完成时间", "实际完成时间")),
    ("responsible", "整改责任部门/责任人", ("整改责任部门", "整改责任人", "责任部门/责任人")),
    ("measures", "整改措施", ()),
    ("report_note", "举报情况备注", ("备注",)),
]
# Optional on import; always written on export.
OPTIONAL: list[tuple[str, str, tuple[str, ...]]] = [
    ("credit_code", "统一社会信用代码", ("信用代码", "社会信用代码")),
    ("region", "所属镇街区", ("属地", "镇街区", "所属镇街")),
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
LABEL = {k: h for k, h, _ in COLUMNS + OPTIONAL + EXTRA}
FOOTER_PREFIXES = ("填表", "填报人", "审核人", "制表", "说明", "注:", "注：", "合计", "负责人:", "负责人：")
WIDTHS = {"description": 50, "measures": 36, "enterprise_name": 30, "basis": 30, "clause": 22, "responsible": 20,
          "report_note": 24, "credit_code": 22, "escalations": 36, "channels": 22, "code": 16}


def norm(text: Any) -> str:
    """Header/code form: NFKC (full-width → half-width), no whitespace or '*' markers."""
    return re.sub(r"[\s*＊]+", "", unicodedata.normalize("NFKC", str(text or "")))


_HEADER_INDEX: dict[str, str] = {}
for _key, _head, _aliases in COLUMNS + OPTIONAL + EXTRA:
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
    for pattern in _DATE_PATTERNS:
        m = pattern.match(s)
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                return None
    return None


YES = {"是", "已整改", "已完成", "完成", "y", "yes", "√", "已销号"}
NO = {"否", "未整改", "整改中", "未完成", "n", "no", "×", "正在整改"}


def parse_yes_no(value: Any) -> bool | None | str:
    s = norm(value).lower()
    if not s:
        return None
    if s in YES:
        return True
    if s in NO:
        return False
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
            for r, cells in enumerate(ws.iter_rows(min_row=header_row + 1, values_only=True), header_row + 1):
                values = {k: (cells[c - 1] if c - 1 < len(cells) else None) for k, c in columns.items() if k != "_seq"}
                non_empty = [text(v) for v in cells if text(v)]
                if not any(text(v) for v in values.values()):
                    continue  # blank line (or only a 序号)
                if non_empty and non_empty[0].startswith(FOOTER_PREFIXES):
                    continue  # 填表人 / 审核人 / 说明 lines under the table
                if all(_HEADER_INDEX.get(norm(v)) for v in non_empty):
                    continue  # a repeated header (printed sheets repeat it on every page)
                rows.append(SheetRow(r, values))
                notes.extend(_formulas_as_text(rows[-1], columns, headers))
            return Sheet(ws.title, header_row, columns, headers, rows, unknown, notes)
    finally:
        wb.close()
    raise ValidationError(f"{path.name} 中没有找到{SHEET_TITLE}的表头（至少需要企业名称、重大隐患描述、检查时间等列）。")


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


def _region_for(regions: dict[str, str], *names: str) -> str | None:
    for name in names:
        n = norm(name)
        if not n:
            continue
        if n in regions:
            return regions[n]
        for rname, code in regions.items():
            if n == code or (len(n) >= 2 and (rname.startswith(n) or n.startswith(rname))):
                return code
    return None


def validate(session: Session, sheet: Sheet) -> list[Problem]:
    """Check every row; fill in what import needs.  Returns every problem found."""
    regions = {norm(r.name): r.code for r in session.exec(select(Region)).all()}
    industries = {}
    for i in session.exec(select(Industry)).all():
        industries[norm(i.name)] = i.code
        industries[norm(i.code)] = i.code
    standards = [(s.code, norm(s.title), norm(s.number)) for s in session.exec(select(Standard)).all()]
    basis_cache: dict[str, str | None] = {}
    by_code = {e.credit_code: e for e in session.exec(select(Enterprise)).all()}
    by_name = {norm(e.name): e for e in by_code.values()}
    seen: dict[str, int] = {}
    planned_new: dict[str, dict[str, Any]] = {}
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
        # the enterprise: by credit code, then by name; otherwise it will be created
        ent = by_code.get(code) if code else None
        if ent is None and name:
            ent = by_name.get(norm(name))
        if ent is not None:
            row.enterprise_id = ent.id
        elif name:
            key = code or norm(name)
            if key in planned_new:
                row.new_enterprise = planned_new[key]
            else:
                industry = industries.get(norm(v.get("industry")))
                region = _region_for(regions, text(v.get("region")), text(v.get("reporting_unit")))
                if industry is None:
                    add("industry", f"新企业“{name}”的行业领域“{text(v.get('industry'))}”无法识别")
                if region is None:
                    add("region", f"新企业“{name}”无法确定所属镇街区（请填写所属镇街区列，或上报单位写镇街区名称）")
                if industry and region:
                    planned_new[key] = row.new_enterprise = {
                        "name": name, "credit_code": code or None, "industry_code": industry, "region_code": region}
        if row.inspected_on and name and desc and row.channel:
            row.fingerprint = fingerprint(code or name, desc, row.inspected_on, row.channel)
            if row.fingerprint in seen and not row.existing_hazard:
                row.existing_hazard = -seen[row.fingerprint]  # same as an earlier row of this sheet
            seen.setdefault(row.fingerprint, row.row)
        problems.extend(row.problems)
    return problems


# --- import -------------------------------------------------------------------------------------------


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
    possible_duplicates: list[tuple[int, str, str, float]] = field(default_factory=list)  # row, new, existing, score

    def report(self) -> str:
        lines = [f"{self.filename}：共 {self.rows} 行数据；新建隐患 {self.created} 条，已存在（跳过）{self.existing} 条，"
                 f"无效 {self.invalid} 条；新建企业 {self.enterprises_created} 家。"]
        if self.new_enterprises:
            lines.append("台账中没有、将按表格新建的企业：" + "、".join(self.new_enterprises))
        if self.possible_duplicates:
            lines.append("可能与已有隐患重复（可用 hazardloop hazard merge 合并）：")
            lines += [f"  第 {r} 行 {new} ≈ {old}（相似度 {score:.2f}）" for r, new, old, score in self.possible_duplicates]
        if self.problems:
            lines.append("问题清单（行｜列｜问题）：")
            lines += ["  " + p.line() for p in self.problems]
        if self.notes:
            lines.append("提示（行｜列｜说明）：")
            lines += ["  " + p.line() for p in self.notes]
        return "\n".join(lines)


def _placeholder_code(name: str) -> str:
    # Enterprise.credit_code is required and unique; a sheet without the column still needs one.
    # "TMP" + 15 hex fails the GB 32100 check, so it can never collide with a real code; exports leave it blank.
    return "TMP" + hashlib.sha256(norm(name).encode()).hexdigest()[:15].upper()


def import_sheet(session: Session, actor: AppUser, path: str | Path, *, skip_invalid: bool = False,
                 dry_run: bool = False) -> ImportResult:
    intake_guards.import_ledger(actor)
    path = Path(path)
    sheet = read_sheet(path)
    problems = validate(session, sheet)
    bad_rows = {p.row for p in problems}
    result = ImportResult(path.name, len(sheet.rows), invalid=len(bad_rows), problems=problems, notes=sheet.notes)
    for r in sheet.rows:
        if r.new_enterprise and r.row not in bad_rows and r.new_enterprise["name"] not in result.new_enterprises:
            result.new_enterprises.append(r.new_enterprise["name"])
    if problems and not skip_invalid:
        raise ImportRejected(result.report() + "\n未导入任何数据（全部行校验通过才导入；或使用 --skip-invalid 只导入有效行）。",
                             problems)
    if dry_run:
        return result
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    batch = ImportBatch(filename=path.name, sha256=digest, imported_by=actor.username, rows_total=len(sheet.rows))
    session.add(batch)
    session.flush()
    known = {fp for fp in session.exec(select(ImportRow.fingerprint).where(
        ImportRow.fingerprint.in_([r.fingerprint for r in sheet.rows if r.fingerprint]))).all()}  # type: ignore[union-attr]
    created_ents: dict[int, Enterprise] = {}
    created: list[tuple[int, Hazard]] = []
    for row in sheet.rows:
        if row.row in bad_rows:
            continue
        if row.existing_hazard or row.fingerprint in known:
            result.existing += 1
            continue
        if row.enterprise_id is None:
            spec = row.new_enterprise
            ent = created_ents.get(id(spec))
            if ent is None:
                ent = Enterprise(name=spec["name"], credit_code=spec["credit_code"] or _placeholder_code(spec["name"]),
                                 region_code=spec["region_code"], industry_code=spec["industry_code"],
                                 principal="待补充", controller="待补充",
                                 contacts={"created_by_import": batch.id,
                                           "placeholder_credit_code": spec["credit_code"] is None})
                session.add(ent)
                session.flush()
                created_ents[id(spec)] = ent
                result.enterprises_created += 1
                audit.append(session, actor=actor.username, action="enterprise_upsert",
                             after={"credit_code": ent.credit_code, "name": ent.name, "import_batch": batch.id})
            row.enterprise_id = ent.id
        hazard = _create_hazard(session, actor, row, batch.id)
        created.append((row.row, hazard))
        known.add(row.fingerprint)
        result.created += 1
        result.created_codes.append(hazard.code)
    result.possible_duplicates = _possible_duplicates(session, created)
    batch.rows_created, batch.rows_existing, batch.rows_invalid = result.created, result.existing, result.invalid
    batch.enterprises_created = result.enterprises_created
    session.flush()
    audit.append(session, actor=actor.username, action="ledger_import", after={
        "batch": batch.id, "file": path.name, "sha256": digest, "created": result.created,
        "existing": result.existing, "invalid": result.invalid, "enterprises_created": result.enterprises_created})
    result.batch_id = batch.id
    return result


def _possible_duplicates(session: Session, created: list[tuple[int, Hazard]]) -> list[tuple[int, str, str, float]]:
    """For each new hazard, the most similar other hazard at its enterprise — one query for all."""
    if not created:
        return []
    ent_ids = sorted({h.enterprise_id for _, h in created})
    pool: dict[int, list[Any]] = {}
    for i in range(0, len(ent_ids), 500):
        for other in session.execute(sa_select(Hazard.id, Hazard.code, Hazard.title, Hazard.description,
                                               Hazard.enterprise_id)
                                     .where(Hazard.enterprise_id.in_(ent_ids[i:i + 500]),  # type: ignore[attr-defined]
                                            Hazard.state != "dismissed")).all():
            pool.setdefault(other.enterprise_id, []).append(other)
    out = []
    for sheet_row, h in created:
        best = max(((merging.score(h.description, None, o.title, o.description, None)[0], o.code)
                    for o in pool.get(h.enterprise_id, []) if o.id != h.id), default=None)
        if best and best[0] >= merging.THRESHOLD:
            out.append((sheet_row, h.code, best[1], best[0]))
    return out


def _create_hazard(session: Session, actor: AppUser, row: SheetRow, batch_id: int) -> Hazard:
    """One sheet row -> one hazard, reported through the ledger (its guard, its audit event, its
    "reported" domain event); a row the sheet says was rectified is then closed through the machine
    (close_imported), so the state, the audit trail and machine.replay agree."""
    v = row.values
    desc = text(v.get("description"))
    found_at = datetime.combine(row.inspected_on, time(12, 0), tzinfo=clock.SHANGHAI)
    provenance = {"import_batch": batch_id, "sheet_row": row.row, "rectified_in_sheet": row.rectified}
    hazard = ledger.report(session, actor, enterprise=row.enterprise_id, title=desc.splitlines()[0][:60],
                           channel=row.channel, description=desc, found_at=found_at, basis_code=row.basis_code,
                           basis_clause=text(v.get("clause")) or None, imported=provenance)
    data = {k: (parse_date(val).isoformat() if k in ("inspected_on", "completed_on") and parse_date(val)
                else text(val)) for k, val in v.items() if k not in ("code",) and text(val)}
    import_row = ImportRow(batch_id=batch_id, fingerprint=row.fingerprint, hazard_id=hazard.id, sheet_row=row.row,
                           data=data)
    session.add(import_row)  # flushed with the next audit append
    if row.rectified is True and row.completed_on is not None:
        done = row.completed_on
        ledger._transition(  # noqa: SLF001 - the ledger's one guard+fire+audit unit, as merge.unmerge uses it
            session, hazard, "close_imported", actor, {"import_row": import_row, "completed_on": done},
            {"closed_by": actor.username, "closed_at": datetime.combine(done, time(12, 0), tzinfo=clock.SHANGHAI)},
            reason=f"台账导入：表中“是否整改”为是，实际整改完成时间 {done.isoformat()}", event="closed_imported",
            audit_extra={"import_batch": batch_id, "sheet_row": row.row, "completed_on": done.isoformat()})
    return hazard


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
                out.setdefault(m["hazard_id"], []).append(f"{m['step']}" + (f" {stamp}" if stamp else ""))
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
            "state": STATE_NAMES.get(h.state, h.state),
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

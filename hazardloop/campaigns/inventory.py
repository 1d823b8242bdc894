"""Inventories (台账) of the special campaigns: objects per enterprise and per 镇街区, with the
fields each campaign's config names; 底数 (expected counts); Excel import validated row by row.

An object is identified inside its campaign by its key fields (config `key`, e.g. 单位名称 +
有限空间编号): registering or importing it again updates it in place (UNIQUE(campaign,
fingerprint)), and its 赋码 never changes.  Every create and change is audited.

The import reads the header wherever it is (title rows above, any column order, the field's
label or code, full-width characters), checks every row first and reports problems as
(row, column, problem) in Chinese; nothing is written unless every row passes, or with
skip_invalid only the valid rows.  The parsing helpers are the 明细表 import's (intake.excel).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import func
from sqlmodel import Session, select

from hazardloop.config import campaigns as config
from hazardloop.config import clock
from hazardloop.errors import ConflictError, HazardLoopError, NotFound, ValidationError
from hazardloop.intake.excel import ImportRejected, Problem, norm, parse_date, text
from hazardloop.models import audit
from hazardloop.models.campaigns import CampaignBaseline, CampaignObject
from hazardloop.models.tables import AppUser, Enterprise, Industry, Region
from hazardloop.states import campaign_guards as guards

_SPLIT = re.compile(r"[、,，;；\n]+")  # not "/": some choices contain it (盲板抽堵/管线打开)
CREDIT_FIELDS = ("credit_code", "employer_credit_code", "tenant_credit_code")
NAME_FIELDS = ("unit_name", "employer_name", "tenant")


def load() -> config.CampaignConfig:
    """The campaigns in force; a bad file becomes a ValidationError (Chinese, with its line)."""
    try:
        return config.load()
    except config.CampaignConfigError as exc:
        raise ValidationError(str(exc)) from None


def campaign(code: str) -> config.Campaign:
    try:
        return load().get(code)
    except config.CampaignConfigError as exc:
        raise ValidationError(str(exc)) from None


# --- values ----------------------------------------------------------------------------------


@dataclass
class Lookups:
    """Names people type for regions and industries, to codes."""

    regions: dict[str, str]
    industries: dict[str, str]
    departments: dict[str, str]  # industry -> supervising department
    region_names: dict[str, str]
    industry_names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, session: Session) -> Lookups:
        regions, names = {}, {}
        for r in session.exec(select(Region)).all():
            regions[norm(r.name)] = regions[norm(r.code)] = r.code
            names[r.code] = r.name
            short = re.sub(r"(镇|街道|街道办事处|办事处)$", "", r.name)
            if len(short) >= 2:
                regions.setdefault(norm(short), r.code)
        industries, depts, inames = {}, {}, {}
        for i in session.exec(select(Industry)).all():
            industries[norm(i.name)] = industries[norm(i.code)] = i.code
            depts[i.code], inames[i.code] = i.department_code, i.name
        return cls(regions, industries, depts, names, inames)


def parse_value(f: config.FieldDef, raw: Any, look: Lookups) -> tuple[Any, str | None]:
    """(stored value, problem) for one field; None and '' are "empty"."""
    if f.type == "date":
        if raw is None or text(raw) == "":
            return None, None
        day = parse_date(raw)
        return (day.isoformat(), None) if day else (None, f"日期格式不正确：{text(raw)!r}（应为 YYYY-MM-DD）")
    if isinstance(raw, (list, tuple)):  # a multi-select from a form or the API
        raw = "、".join(text(v) for v in raw)
    value = text(raw)
    if value == "":
        return None, None
    if f.type == "int":
        try:
            number = float(value)
        except ValueError:
            return None, f"应为整数，收到 {value!r}"
        if not number.is_integer() or number < 0:
            return None, f"应为不小于 0 的整数，收到 {value!r}"
        return int(number), None
    if f.type == "text":
        if len(value) > 200:
            return None, "内容过长（不超过 200 字）"
        return value, None
    # choice: region and industry accept names as well as codes
    parts = [p.strip() for p in _SPLIT.split(value) if p.strip()] if f.multiple else [value]
    out = []
    for part in parts:
        code = part
        if f.code == "region":
            code = look.regions.get(norm(part), part)
        elif f.code == "industry":
            code = look.industries.get(norm(part), part)
        if code not in f.choices:
            match = next((c for c in f.choices if norm(c) == norm(part)), None)
            if match is None:
                named = look.region_names if f.code == "region" else look.industry_names if f.code == "industry" else {}
                shown = "、".join(named.get(c, c) for c in f.choices[:30])
                return None, f"{part!r} 不是可选项；可选：{shown}"
            code = match
        out.append(code)
    return (out if f.multiple else out[0]), None


def check_values(c: config.Campaign, raw: dict[str, Any], look: Lookups) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Every field of one object: (values, [(field code, problem)])."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for f in c.fields:
        value, problem = parse_value(f, raw.get(f.code), look)
        if problem:
            problems.append((f.code, problem))
        elif value in (None, [], "") and f.required:
            problems.append((f.code, "必填项为空"))
        elif value not in (None, [], ""):
            values[f.code] = value
    return values, problems


def fingerprint(c: config.Campaign, values: dict[str, Any]) -> str:
    doc = "|".join([c.code, *(norm(values.get(k, "")).upper() for k in c.key)])
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


def _enterprise(session: Session, values: dict[str, Any]) -> Enterprise | None:
    for key in CREDIT_FIELDS:
        if values.get(key):
            ent = session.exec(select(Enterprise).where(Enterprise.credit_code == str(values[key]).upper())).first()
            if ent is not None:
                return ent
    for key in NAME_FIELDS:
        if values.get(key):
            ent = session.exec(select(Enterprise).where(Enterprise.name == values[key])).first()
            if ent is not None:
                return ent
    return None


# --- objects -----------------------------------------------------------------------------------


def _draft(session: Session, c: config.Campaign, values: dict[str, Any], look: Lookups) -> CampaignObject:
    ent = _enterprise(session, values)
    industry = values.get("industry") if values.get("industry") in look.departments else None
    if industry is None and ent is not None:
        industry = ent.industry_code
    return CampaignObject(
        campaign=c.code, kind=c.object_kind, title=str(values.get(c.title_field, ""))[:200],
        region_code=values["region"], industry_code=industry,
        department_code=look.departments.get(industry) if industry else None,
        enterprise_id=ent.id if ent else None, fields=values, fingerprint=fingerprint(c, values))


def _save(session: Session, actor: AppUser, c: config.Campaign, draft: CampaignObject) -> tuple[CampaignObject, str]:
    """Create the object or update the one with the same key; returns (object, created|updated|unchanged)."""
    guards.add_object(actor, draft)
    existing = session.exec(select(CampaignObject).where(CampaignObject.campaign == c.code,
                                                         CampaignObject.fingerprint == draft.fingerprint)).first()
    if existing is None:
        draft.created_by = actor.username
        session.add(draft)
        session.flush()
        year = clock.local_date(draft.created_at).year
        draft.code = f"{c.code_prefix}-{year}-{draft.id:06d}"
        session.flush()
        audit.append(session, actor=actor.username, action="campaign_object_add", after={
            "object": draft.code, "campaign": c.code, "region": draft.region_code, "title": draft.title,
            "enterprise_id": draft.enterprise_id, "fields": draft.fields})
        return draft, "created"
    guards.add_object(actor, existing)  # the one already there must be the actor's to change, too
    changes = {k: v for k, v in draft.fields.items() if existing.fields.get(k) != v}
    dropped = [k for k in existing.fields if k not in draft.fields]
    moved = {k: getattr(draft, k) for k in ("region_code", "industry_code", "department_code", "enterprise_id", "title")
             if getattr(existing, k) != getattr(draft, k)}
    if not changes and not dropped and not moved:
        return existing, "unchanged"
    before = {"fields": {k: existing.fields.get(k) for k in [*changes, *dropped]},
              **{k: getattr(existing, k) for k in moved}}
    existing.fields = dict(draft.fields)
    for k, v in moved.items():
        setattr(existing, k, v)
    existing.updated_at = clock.utcnow()
    audit.append(session, actor=actor.username, action="campaign_object_edit", before=before,
                 after={"object": existing.code, "fields": changes, "removed": dropped, **moved})
    session.add(existing)
    session.flush()
    return existing, "updated"


def register(session: Session, actor: AppUser, campaign_code: str, raw: dict[str, Any]) -> tuple[CampaignObject, str]:
    """Register one object from typed values (CLI, web form); refuses with every bad field named."""
    c = campaign(campaign_code)
    look = Lookups.of(session)
    unknown = sorted(set(raw) - set(c.field_codes))
    if unknown:
        raise ValidationError(f"{c.name}的台账没有字段 {'、'.join(unknown)}；可用：{'、'.join(c.field_codes)}。")
    values, problems = check_values(c, raw, look)
    if problems:
        raise ValidationError("台账对象信息有误：" + "；".join(f"{c.field(k).label}：{p}" for k, p in problems) + "。")
    return _save(session, actor, c, _draft(session, c, values, look))


def edit(session: Session, actor: AppUser, ref: int | str, raw: dict[str, Any],
         expected_version: int | None = None) -> tuple[CampaignObject, str]:
    """Change one object's fields (the web form): every field re-validated; its 赋码 stays.  A change
    of its key fields that would make it the same as another object is refused."""
    obj = get_object(session, ref)
    if expected_version is not None and obj.version != expected_version:
        raise ConflictError(f"台账对象 {obj.code} 已被他人修改，请刷新后重试。")
    c = campaign(obj.campaign)
    look = Lookups.of(session)
    values, problems = check_values(c, {**obj.fields, **raw}, look)
    if problems:
        raise ValidationError("台账对象信息有误：" + "；".join(f"{c.field(k).label}：{p}" for k, p in problems) + "。")
    draft = _draft(session, c, values, look)
    guards.add_object(actor, obj)
    if draft.fingerprint != obj.fingerprint:
        other = session.exec(select(CampaignObject).where(CampaignObject.campaign == c.code,
                                                          CampaignObject.fingerprint == draft.fingerprint)).first()
        if other is not None:
            raise ValidationError(f"修改后与 {other.code} 是同一对象（{'、'.join(c.field(k).label for k in c.key)}相同）。")
        before = {"fingerprint": obj.fingerprint}
        obj.fingerprint = draft.fingerprint
        session.add(obj)
        audit.append(session, actor=actor.username, action="campaign_object_edit", before=before,
                     after={"object": obj.code, "fingerprint": draft.fingerprint})
    draft.fingerprint = obj.fingerprint
    return _save(session, actor, c, draft)


def get_object(session: Session, ref: int | str) -> CampaignObject:
    """By id or by its code (赋码)."""
    obj = None
    ref_s = str(ref).strip()
    if ref_s.isdigit():
        obj = session.get(CampaignObject, int(ref_s))
    if obj is None:
        obj = session.exec(select(CampaignObject).where(CampaignObject.code == ref_s.upper())).first()
    if obj is None:
        raise NotFound(f"没有编号（赋码）为 {ref} 的专项整治台账对象。")
    return obj


def view_object(session: Session, viewer: AppUser, ref: int | str) -> CampaignObject:
    """An object the viewer may see; any other is simply not there."""
    obj = get_object(session, ref)
    if not guards.can_view(viewer, obj):
        raise NotFound(f"没有编号（赋码）为 {ref} 的专项整治台账对象。")
    return obj


def list_objects(session: Session, viewer: AppUser | None = None, *, campaign_code: str | None = None,
                 region: str | None = None, enterprise_id: int | None = None, limit: int = 1000) -> list[CampaignObject]:
    stmt = select(CampaignObject)
    if campaign_code:
        stmt = stmt.where(CampaignObject.campaign == campaign_code)
    if region:
        stmt = stmt.where(CampaignObject.region_code == region)
    if enterprise_id:
        stmt = stmt.where(CampaignObject.enterprise_id == enterprise_id)
    rows = session.exec(stmt.order_by(CampaignObject.id).limit(limit * 4 if viewer else limit)).all()
    if viewer is not None:
        rows = [o for o in rows if guards.can_view(viewer, o)][:limit]
    return list(rows)


def display_fields(c: config.Campaign, obj: CampaignObject, look: Lookups | None = None) -> list[tuple[str, str]]:
    """(label, value as a person reads it) for every field, in config order."""
    out = []
    for f in c.fields:
        v = obj.fields.get(f.code)
        if f.code == "region" and look:
            v = look.region_names.get(v, v)
        elif f.code == "industry" and look:
            v = look.industry_names.get(v, v)
        if isinstance(v, list):
            v = "、".join(str(x) for x in v)
        out.append((f.label, "" if v is None else str(v)))
    return out


# --- 底数 -------------------------------------------------------------------------------------


def set_baseline(session: Session, actor: AppUser, campaign_code: str, region: str, expected: int) -> CampaignBaseline:
    c = campaign(campaign_code)
    look = Lookups.of(session)
    code = look.regions.get(norm(region))
    if code is None:
        raise ValidationError(f"没有镇街区 {region}（见 hazardloop ref regions）。")
    if not isinstance(expected, int) or expected < 0:
        raise ValidationError(f"底数应为不小于 0 的整数，收到 {expected!r}。")
    guards.set_baseline(actor, code)
    row = session.exec(select(CampaignBaseline).where(CampaignBaseline.campaign == c.code,
                                                      CampaignBaseline.region_code == code)).first()
    before = {"expected": row.expected} if row else None
    if row is None:
        row = CampaignBaseline(campaign=c.code, region_code=code, expected=expected, set_by=actor.username)
    else:
        row.expected, row.set_by, row.set_at = expected, actor.username, clock.utcnow()
    session.add(row)
    session.flush()
    audit.append(session, actor=actor.username, action="campaign_baseline", before=before,
                 after={"campaign": c.code, "region": code, "expected": expected})
    return row


# --- Excel ----------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    campaign: str
    sheet: str
    rows: int
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"campaign": self.campaign, "sheet": self.sheet, "rows": self.rows, "created": self.created,
                "updated": self.updated, "unchanged": self.unchanged,
                "skipped": [p.__dict__ for p in self.skipped]}


def _header_index(c: config.Campaign) -> dict[str, str]:
    index = {}
    for f in c.fields:
        index[norm(f.label)] = index[norm(f.code)] = f.code
    return index


def _read(path: Path, c: config.Campaign) -> tuple[str, int, dict[str, int], list[tuple[int, tuple]]]:
    if not path.is_file():
        raise ValidationError(f"文件不存在：{path}")
    try:
        wb = openpyxl.load_workbook(path, data_only=True, read_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        raise ValidationError(f"{path.name} 不是可读取的 .xlsx 文件：{exc.__class__.__name__}") from exc
    index = _header_index(c)
    try:
        for ws in wb.worksheets:
            ws.reset_dimensions()
            top = list(ws.iter_rows(min_row=1, max_row=20, values_only=True))
            best = None
            for r, cells in enumerate(top, 1):
                cols = {}
                for i, v in enumerate(cells, 1):
                    key = index.get(norm(v))
                    if key and key not in cols:
                        cols[key] = i
                if len(cols) >= 3 and (best is None or len(cols) > len(best[1])):
                    best = (r, cols)
            if best is None:
                continue
            header_row, cols = best
            missing = [f.label for f in c.fields if f.required and f.code not in cols]
            if missing:
                raise ValidationError(f"工作表“{ws.title}”第 {header_row} 行的表头缺少必填列：{'、'.join(missing)}。")
            rows = [(r, cells) for r, cells in enumerate(ws.iter_rows(min_row=header_row + 1, values_only=True),
                                                          header_row + 1) if any(text(v) for v in cells)]
            return ws.title, header_row, cols, rows
    finally:
        wb.close()
    raise ValidationError(f"{path.name} 中没有找到{c.name}台账的表头（第一行应为字段名称，如 "
                          f"{'、'.join(f.label for f in c.fields[:4])}）。")


def import_sheet(session: Session, actor: AppUser, campaign_code: str, path: str | Path, *,
                 skip_invalid: bool = False) -> ImportResult:
    """Validate every row, then register each (created / updated in place / unchanged)."""
    c = campaign(campaign_code)
    guards.import_inventory(actor)
    path = Path(path)
    name, _, cols, rows = _read(path, c)
    look = Lookups.of(session)
    problems: list[Problem] = []
    drafts: list[tuple[int, CampaignObject]] = []
    seen: dict[str, int] = {}
    for r, cells in rows:
        raw = {k: (cells[i - 1] if i - 1 < len(cells) else None) for k, i in cols.items()}
        values, bad = check_values(c, raw, look)
        row_problems = [Problem(r, f"{get_column_letter(cols[k])} 列（{c.field(k).label}）" if k in cols
                                else c.field(k).label, p) for k, p in bad]
        if not row_problems:
            draft = _draft(session, c, values, look)
            if draft.fingerprint in seen:
                row_problems.append(Problem(r, "", f"与第 {seen[draft.fingerprint]} 行是同一对象（"
                                                   f"{'、'.join(c.field(k).label for k in c.key)}相同）"))
            else:
                try:
                    guards.add_object(actor, draft)
                except HazardLoopError as exc:
                    row_problems.append(Problem(r, "", str(exc)))
                seen[draft.fingerprint] = r
            if not row_problems:
                drafts.append((r, draft))
        problems += row_problems
    if problems and not skip_invalid:
        raise ImportRejected(f"{path.name}：{len(problems)} 处问题，未导入任何数据。", problems)
    result = ImportResult(c.code, name, len(rows), skipped=problems)
    for _, draft in drafts:
        obj, outcome = _save(session, actor, c, draft)
        getattr(result, outcome).append(obj.code)
    audit.append(session, actor=actor.username, action="campaign_import", after={
        "campaign": c.code, "file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "rows": len(rows), "created": len(result.created), "updated": len(result.updated),
        "unchanged": len(result.unchanged), "skipped": len(problems)})
    return result


def write_template(campaign_code: str, out: str | Path, rows: list[dict[str, Any]] = ()) -> Path:
    """An empty sheet for a campaign's inventory (title row, header of field labels, required ones
    marked *), optionally with rows of values keyed by field code."""
    c = campaign(campaign_code)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = c.object_name[:31]
    ws.append([f"{c.name} · {c.object_name}台账"])
    ws.append([f.label + ("*" if f.required else "") for f in c.fields])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for row in rows:
        cells = [row.get(f.code) for f in c.fields]
        ws.append(["、".join(v) if isinstance(v, list) else v for v in cells])
    for i, f in enumerate(c.fields, 1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, len(f.label) * 2 + 2))
    out = Path(out)
    wb.save(out)
    return out


def counts_by_region(session: Session, campaign_code: str) -> dict[str, int]:
    rows = session.exec(select(CampaignObject.region_code, func.count()).where(CampaignObject.campaign == campaign_code)
                        .group_by(CampaignObject.region_code)).all()
    return dict(rows)

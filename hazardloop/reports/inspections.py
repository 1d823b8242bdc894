"""Principal-led inspections (主要负责人带队检查): record, list, find missed periods, remind.

Each enterprise's principal leads an inspection every quarter, or every month in
a high-risk industry (Industry.high_risk).  A period is missed as of a date when
it ended by the end of that day without an inspection dated inside it and
recorded by then; reminders go to principals whose current period ends within
`remind_days` without one.  Reminders are queued in the outbox (unique key per
enterprise and period, so a daily check queues each reminder once).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from hazardloop.config import clock
from hazardloop.models import audit
from hazardloop.errors import ValidationError
from hazardloop.models.inspections import PrincipalInspection
from hazardloop.models.tables import AppUser, Enterprise, Hazard, Industry, Region
from hazardloop.notifications import outbox
from hazardloop.notifications.recipients import Recipient
from hazardloop.reports.stats import cutoff
from hazardloop.states import guards
from hazardloop.states.ledger import get_enterprise, store_private_file

CONFIG_FILE = Path(__file__).resolve().parent.parent / "config" / "inspections.yaml"


@dataclass(frozen=True)
class InspectionConfig:
    start: date
    remind_days: int


def load_config(path: Path | None = None) -> InspectionConfig:
    path = path or CONFIG_FILE
    return _load(str(path))


@lru_cache(maxsize=8)
def _load(path: str) -> InspectionConfig:
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    start, remind = raw.get("start"), raw.get("remind_days", 10)
    if not isinstance(start, date):
        raise ValidationError(f"{path}：start 必须是日期（YYYY-MM-DD）。")
    if not isinstance(remind, int) or remind < 0:
        raise ValidationError(f"{path}：remind_days 必须是不小于 0 的整数。")
    return InspectionConfig(start, remind)


# --- periods --------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    label: str  # 2024-03 (monthly) or 2024-Q1 (quarterly)
    start: date
    end: date  # inclusive


def period_of(day: date, monthly: bool) -> Period:
    if monthly:
        start = day.replace(day=1)
        label = f"{day.year}-{day.month:02d}"
        months = 1
    else:
        q = (day.month - 1) // 3
        start = date(day.year, 3 * q + 1, 1)
        label = f"{day.year}-Q{q + 1}"
        months = 3
    month = start.month - 1 + months
    end = date(start.year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return Period(label, start, end)


def periods_between(first: date, last: date, monthly: bool) -> list[Period]:
    """Every period from the one holding `first` to the one holding `last`."""
    out, p = [], period_of(first, monthly)
    while p.start <= last:
        out.append(p)
        p = period_of(p.end + timedelta(days=1), monthly)
    return out


def period_name(label: str) -> str:
    year, part = label.split("-")
    return f"{year}年第{part[1]}季度" if part.startswith("Q") else f"{year}年{int(part)}月"


# --- record and list ------------------------------------------------------------


# The record of an inspection as people keep it: a scan or photo, a PDF, a Word/WPS/OFD document.
RECORD_SUFFIXES = (".pdf", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".doc", ".docx", ".wps", ".ofd")
MAX_RECORD_BYTES = 20 << 20  # as hazard evidence


def record(session: Session, actor: AppUser, *, enterprise: int | str, inspected_on: date | None,
           led_by: str | None = None, findings: str = "", hazards_found: int | None = None,
           hazard_ids: list[int] | None = None, record_file: str | Path | None = None,
           record_name: str | None = None) -> PrincipalInspection:
    """Record one principal-led inspection (audited), with its record (a file) when given: stored
    privately by its SHA-256 like hazard evidence (ledger.store_private_file)."""
    ent = get_enterprise(session, enterprise)
    industry = session.get(Industry, ent.industry_code)
    guards.record_inspection(actor, ent, industry.department_code if industry else None)
    if not isinstance(inspected_on, date):
        raise ValidationError("登记带队检查缺少检查日期（YYYY-MM-DD）。")
    if inspected_on > clock.today():
        raise ValidationError(f"检查日期 {inspected_on.isoformat()} 晚于今天（{clock.today().isoformat()}）。")
    leader = (led_by or ent.principal or "").strip()
    if leader not in {ent.principal, ent.controller}:
        raise ValidationError(f"带队检查须由主要负责人（{ent.principal}）或实际控制人（{ent.controller}）带队，"
                              f"收到 {leader or '空'}。")
    ids = sorted(set(hazard_ids or []))
    if ids:
        found = session.exec(select(Hazard.id).where(Hazard.id.in_(ids), Hazard.enterprise_id == ent.id)).all()
        stray = sorted(set(ids) - set(found))
        if stray:
            raise ValidationError(f"隐患 {'、'.join(map(str, stray))} 不是{ent.name}的隐患。")
    count = len(ids) if hazards_found is None else int(hazards_found)
    if count < len(ids):
        raise ValidationError(f"发现隐患数（{count}）少于关联的隐患条数（{len(ids)}）。")
    row = PrincipalInspection(enterprise_id=ent.id, inspected_on=inspected_on, led_by=leader,
                              findings=(findings or "").strip(), hazards_found=count, hazard_ids=ids,
                              recorded_by=actor.username)
    if record_file is not None:
        src = Path(record_file)
        name = Path((record_name or src.name).replace("\\", "/")).name.strip()[:200]
        if Path(name).suffix.lower() not in RECORD_SUFFIXES:
            raise ValidationError(f"检查记录 {name or '（无名）'} 的格式不支持（可用："
                                  f"{'、'.join(s.lstrip('.') for s in RECORD_SUFFIXES)}）。")
        if src.is_file() and src.stat().st_size > MAX_RECORD_BYTES:
            raise ValidationError(f"检查记录 {name} 超过 {MAX_RECORD_BYTES >> 20} MB。")
        if src.is_file() and src.stat().st_size == 0:
            raise ValidationError(f"检查记录 {name} 是空文件。")
        stored, sha, size = store_private_file(src, "检查记录")
        row.record_name, row.record_path, row.record_sha256, row.record_size = name, str(stored), sha, size
    session.add(row)
    session.flush()
    audit.append(session, actor=actor.username, action="inspection_recorded", hazard_id=None, after={
        "inspection_id": row.id, "enterprise_id": ent.id, "inspected_on": inspected_on, "led_by": leader,
        "hazards_found": count, "hazard_ids": ids,
        **({"record": row.record_name, "sha256": row.record_sha256} if row.record_name else {})})
    return row


def record_of(session: Session, viewer: AppUser, inspection_id: int) -> PrincipalInspection:
    """An inspection whose record file the viewer may read (guards.read_inspection); any other,
    or one without a file, is simply not there."""
    from hazardloop.errors import NotFound
    from hazardloop.states.errors import PermissionDenied

    row = session.get(PrincipalInspection, inspection_id)
    ent = session.get(Enterprise, row.enterprise_id) if row is not None else None
    if row is None or ent is None or not row.record_path:
        raise NotFound(f"没有编号为 {inspection_id} 的检查记录文件。")
    industry = session.get(Industry, ent.industry_code)
    try:
        guards.read_inspection(viewer, ent, industry.department_code if industry else None)
    except PermissionDenied:
        raise NotFound(f"没有编号为 {inspection_id} 的检查记录文件。") from None
    return row


def list_inspections(session: Session, *, enterprise: int | str | None = None,
                     as_of: date | None = None) -> list[dict[str, Any]]:
    stmt = select(PrincipalInspection, Enterprise.name).join(
        Enterprise, Enterprise.id == PrincipalInspection.enterprise_id)
    if enterprise is not None:
        stmt = stmt.where(PrincipalInspection.enterprise_id == get_enterprise(session, enterprise).id)
    if as_of is not None:
        stmt = stmt.where(PrincipalInspection.recorded_at <= cutoff(as_of))
    out, monthly = [], _monthly_map(session)
    for row, name in session.exec(stmt.order_by(PrincipalInspection.inspected_on, PrincipalInspection.id)).all():
        ent_monthly = monthly.get(row.enterprise_id, False)
        out.append({"id": row.id, "enterprise_id": row.enterprise_id, "enterprise": name,
                    "inspected_on": row.inspected_on, "period": period_of(row.inspected_on, ent_monthly).label,
                    "led_by": row.led_by, "findings": row.findings, "hazards_found": row.hazards_found,
                    "hazard_ids": row.hazard_ids, "recorded_by": row.recorded_by,
                    "record_name": row.record_name, "record_sha256": row.record_sha256, "record_size": row.record_size})
    return out


# --- missed periods and reminders -------------------------------------------------


@dataclass
class Gap:
    enterprise_id: int
    enterprise: str
    region: str
    industry: str
    principal: str
    period: str
    period_name: str
    start: date
    end: date
    days_left: int = 0  # reminders: days until the period ends

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _monthly_map(session: Session) -> dict[int, bool]:
    rows = session.exec(select(Enterprise.id, Industry.high_risk).join(
        Industry, Industry.code == Enterprise.industry_code)).all()
    return {eid: bool(high) for eid, high in rows}


def _done(session: Session, as_of: date) -> set[tuple[int, date]]:
    """(enterprise, inspection date) pairs recorded by the end of `as_of`."""
    conn = session.connection()
    t = PrincipalInspection.__table__
    rows = conn.execute(sa_select(t.c.enterprise_id, t.c.inspected_on).where(
        t.c.recorded_at <= cutoff(as_of))).all()
    return {(eid, day if isinstance(day, date) else date.fromisoformat(str(day))) for eid, day in rows}


@dataclass(frozen=True)
class Scope:
    """Which enterprises and periods a missed-inspection query covers (issue 15: a clerk asks for one
    镇街区, one 行业 or one month, not 6,000 rows).  Codes, as the CLI resolved them from names."""

    region: str | None = None
    industry: str | None = None
    month: str | None = None  # "2026-03": the periods holding that month (2026-03 and 2026-Q1)


def _enterprises(session: Session, scope: Scope | None = None) -> list[tuple[int, str, str, bool, str, str]]:
    """(id, name, principal, monthly, region name, industry name) — plain columns, no ORM objects."""
    regions = dict(session.execute(sa_select(Region.code, Region.name)).all())
    stmt = (sa_select(Enterprise.id, Enterprise.name, Enterprise.principal, Enterprise.region_code, Industry.high_risk,
                      Industry.name).join(Industry, Industry.code == Enterprise.industry_code).order_by(Enterprise.id))
    if scope and scope.region:
        stmt = stmt.where(Enterprise.region_code == scope.region)
    if scope and scope.industry:
        stmt = stmt.where(Enterprise.industry_code == scope.industry)
    return [(eid, name, principal or "", bool(high), regions.get(rc, rc), iname)
            for eid, name, principal, rc, high, iname in session.execute(stmt).all()]


def _done_periods(done: set[tuple[int, date]], monthly: dict[int, bool]) -> set[tuple[int, str]]:
    """(enterprise, period label) pairs that had an inspection: one lookup per period, not a scan."""
    return {(eid, period_of(day, monthly.get(eid, False)).label) for eid, day in done}


def _in_month(p: Period, month: str | None) -> bool:
    if not month:
        return True
    year, mon = (int(x) for x in month.split("-"))
    first = date(year, mon, 1)
    return p.start <= first <= p.end


def missing(session: Session, as_of: date | None = None, *, since: date | None = None,
            config: InspectionConfig | None = None, scope: Scope | None = None) -> list[Gap]:
    """Periods ended by the end of `as_of` without an inspection recorded by then (from the config
    start, or `since` if later), for the enterprises and month in `scope` (all when None)."""
    cfg = config or load_config()
    as_of = as_of or clock.today()
    first = max(cfg.start, since) if since else cfg.start
    ents = _enterprises(session, scope)
    done = _done_periods(_done(session, as_of), {e[0]: e[3] for e in ents})
    month = scope.month if scope else None
    # The periods are the same for every enterprise of a cadence: build them twice, not 300 times.
    periods = {m: [p for p in periods_between(first, as_of, m) if p.end <= as_of and _in_month(p, month)]
               for m in (False, True)}
    names = {p.label: period_name(p.label) for ps in periods.values() for p in ps}
    gaps = []
    for eid, name, principal, monthly, region, industry in ents:
        for p in periods[monthly]:
            if (eid, p.label) not in done:
                gaps.append(Gap(eid, name, region, industry, principal, p.label, names[p.label], p.start, p.end))
    return gaps


def reminders(session: Session, as_of: date | None = None, *, remind_days: int | None = None,
              config: InspectionConfig | None = None, scope: Scope | None = None) -> list[Gap]:
    """Principals whose current period ends within `remind_days` with no inspection yet."""
    cfg = config or load_config()
    as_of = as_of or clock.today()
    days = cfg.remind_days if remind_days is None else remind_days
    ents = _enterprises(session, scope)
    done = _done_periods(_done(session, as_of), {e[0]: e[3] for e in ents})
    out = []
    for eid, name, principal, monthly, region, industry in ents:
        p = period_of(as_of, monthly)
        left = (p.end - as_of).days
        if p.end >= cfg.start and left <= days and (eid, p.label) not in done:
            out.append(Gap(eid, name, region, industry, principal, p.label, period_name(p.label), p.start, p.end, left))
    return out


def principal_of(ent: Enterprise) -> list[Recipient]:
    """The enterprise's principal (recipients.resolve works from a hazard; this from the enterprise)."""
    if not ent.principal:
        return []
    return [Recipient("principal", ent.principal, ent.principal_phone, (ent.contacts or {}).get("principal_email"))]


@dataclass
class CheckResult:
    as_of: date
    reminders: list[Gap]
    missed: list[Gap]
    queued: int

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "reminders": [g.as_dict() for g in self.reminders],
                "missed": [g.as_dict() for g in self.missed], "queued": self.queued}


def daily_check(session: Session, as_of: date | None = None, *, remind_days: int | None = None,
                queue: bool = True, config: InspectionConfig | None = None) -> CheckResult:
    """The daily inspection check: reminders (queued in the outbox) and missed periods (flagged).

    The outbox key carries the enterprise id in `cycle` (these notices have no
    hazard) and the period in `step`, so each reminder is queued once however
    often the check runs."""
    as_of = as_of or clock.today()
    due = reminders(session, as_of, remind_days=remind_days, config=config)
    # The check runs in the morning: today is not over, so only periods ended by yesterday are missed.
    missed = missing(session, as_of - timedelta(days=1), config=config)
    queued = 0
    if queue:
        for gap in due:
            ent = session.get(Enterprise, gap.enterprise_id)
            queued += outbox.enqueue(
                session, event="inspection_reminder", hazard_id=None, cycle=gap.enterprise_id, step=gap.period,
                recipients=principal_of(ent),
                subject=f"提醒：{gap.period_name}主要负责人带队检查尚未开展",
                body=(f"{gap.principal}：{gap.enterprise}{gap.period_name}的主要负责人带队安全检查尚未登记，"
                      f"本周期于 {gap.end.isoformat()} 结束（还有 {gap.days_left} 天）。请按期带队检查并登记。"),
            )
    return CheckResult(as_of, due, missed, queued)

"""The special campaigns' numbers (五项整治): per campaign, per 镇街区, per industry — objects
surveyed against the expected count (底数), checks done, problems found, closed, overdue and
raised to major hazards — as of the end of a day.

Counted from the rows' own times (registered, checked, found, closed, raised at), so a past
day's figures do not grow with later work.  Two limits, said where the numbers are shown:
底数 is the count set now (not as it stood then), and "overdue" reads the problem's current
deadline (a later rejection's new deadline replaces the old one).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session, select

from hazardloop.campaigns import inventory
from hazardloop.config import clock
from hazardloop.models.campaigns import CampaignBaseline, CampaignCheck, CampaignObject, CampaignProblem
from hazardloop.models.tables import Industry, Region

GROUPS = ("campaign", "region", "industry")
GROUP_NAMES = {"campaign": "专项整治", "region": "镇街区", "industry": "行业领域"}
NO_INDUSTRY = "—"


@dataclass
class Row:
    key: str
    name: str
    surveyed: int = 0
    baseline: int | None = None
    checks: int = 0
    found: int = 0
    closed: int = 0
    overdue: int = 0
    raised: int = 0

    @property
    def coverage(self) -> str:
        return f"{100.0 * self.surveyed / self.baseline:.1f}%" if self.baseline else "—"

    @property
    def open(self) -> int:
        return self.found - self.closed - self.raised


@dataclass
class Table:
    by: str
    as_of: date
    rows: list[Row] = field(default_factory=list)
    total: Row = field(default_factory=lambda: Row("total", "合计"))

    def as_dict(self) -> dict[str, Any]:
        return {"by": self.by, "as_of": self.as_of.isoformat(),
                "rows": [{**asdict(r), "coverage": r.coverage} for r in self.rows],
                "total": {**asdict(self.total), "coverage": self.total.coverage}}


def _names(session: Session, by: str) -> dict[str, str]:
    if by == "campaign":
        return {c.code: c.name for c in inventory.load().campaigns}
    if by == "region":
        return {r.code: r.name for r in session.exec(select(Region)).all()}
    return {i.code: i.name for i in session.exec(select(Industry)).all()}


def compute(session: Session, as_of: date, by: str = "campaign", campaign_code: str | None = None) -> Table:
    if by not in GROUPS:
        raise ValueError(by)
    cutoff = clock.end_of_day_utc(as_of)
    names = _names(session, by)
    rows: dict[str, Row] = {}
    if by == "campaign":  # every configured campaign has a row, even before its first object
        for code, name in names.items():
            if campaign_code in (None, code):
                rows[code] = Row(code, name)

    def row(key: str | None) -> Row:
        key = key or NO_INDUSTRY
        if key not in rows:
            rows[key] = Row(key, names.get(key, "未注明行业" if key == NO_INDUSTRY else key))
        return rows[key]

    def key_of(campaign: str, region: str, industry: str | None) -> str | None:
        return {"campaign": campaign, "region": region, "industry": industry}[by]

    objects = session.exec(select(CampaignObject.id, CampaignObject.campaign, CampaignObject.region_code,
                                  CampaignObject.industry_code).where(CampaignObject.created_at <= cutoff)).all()
    where = {o[0]: o for o in objects}
    for _, camp, region, industry in objects:
        if campaign_code in (None, camp):
            row(key_of(camp, region, industry)).surveyed += 1
    for camp, region, expected in session.exec(select(CampaignBaseline.campaign, CampaignBaseline.region_code,
                                                      CampaignBaseline.expected)).all():
        if by == "industry" or campaign_code not in (None, camp):
            continue
        r = row(key_of(camp, region, None))
        r.baseline = (r.baseline or 0) + expected
    for object_id, camp in session.exec(select(CampaignCheck.object_id, CampaignCheck.campaign)
                                        .where(CampaignCheck.checked_at <= cutoff)).all():
        o = where.get(object_id)
        if o is not None and campaign_code in (None, camp):
            row(key_of(camp, o[2], o[3])).checks += 1
    for p in session.exec(select(CampaignProblem).where(CampaignProblem.found_at <= cutoff)).all():
        if campaign_code not in (None, p.campaign):
            continue
        r = row(key_of(p.campaign, p.region_code, p.industry_code))
        r.found += 1
        closed = p.closed_at is not None and p.closed_at <= cutoff
        raised = p.raised_at is not None and p.raised_at <= cutoff
        rectified = p.rectified_at is not None and p.rectified_at <= cutoff
        r.closed += closed
        r.raised += raised
        r.overdue += bool(not closed and not raised and not rectified and p.deadline is not None
                          and p.deadline < cutoff)
    table = Table(by, as_of)
    table.rows = sorted(rows.values(), key=lambda r: (list(names).index(r.key) if r.key in names else 999, r.key))
    t = table.total
    for r in table.rows:
        for name in ("surveyed", "checks", "found", "closed", "overdue", "raised"):
            setattr(t, name, getattr(t, name) + getattr(r, name))
        if r.baseline is not None:
            t.baseline = (t.baseline or 0) + r.baseline
    return table


def bulletin_section(session: Session, as_of: date) -> dict[str, Any]:
    """The monthly bulletin's 五项整治 block: one row per campaign as of the month's end."""
    table = compute(session, as_of, "campaign")
    return {"rows": table.rows, "total": table.total}

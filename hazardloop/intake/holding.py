"""Holding values a ledger import leaves for the office: enterprises put into the 待确认镇街区
region (a department reported them and neither name nor address names a town) or into an
umbrella's 待细分 industry (the sheet said 工贸 and the name did not tell which one); and the
imported close-outs (导入销号) the office may send to review.

`pending` lists them; `resolve` settles one enterprise (its hazards follow: region, industry and,
where it came from the holding industry, the supervising department), audited per row;
`send_to_review` fires the machine's review_imported (closed → reviewed) for an imported close-out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, select

from hazardloop.config.intake_rules import aliases
from hazardloop.errors import NotFound, ValidationError
from hazardloop.intake.matching import Catalogue
from hazardloop.models import audit
from hazardloop.models.tables import AppUser, Enterprise, Hazard, Industry
from hazardloop.states import intake_guards, ledger


def holding_codes() -> tuple[str, dict[str, dict[str, Any]]]:
    """(the holding region's code, {holding industry code: its umbrella spec})."""
    cfg = aliases()
    return cfg["holding_region"]["code"], {spec["holding"]["code"]: {"term": term, **spec}
                                           for term, spec in cfg["umbrellas"].items()}


@dataclass
class Pending:
    enterprise_id: int
    enterprise: str
    address: str | None
    region_pending: bool
    industry_pending: str | None  # the umbrella term (工贸) when the industry is held
    choices: list[str] = field(default_factory=list)  # the umbrella's members
    hazards: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def pending(session: Session) -> list[Pending]:
    region, industries = holding_codes()
    cat_names = {i.code: i.name for i in session.exec(select(Industry)).all()}
    ents = session.exec(select(Enterprise).where(or_(Enterprise.region_code == region,
                                                     Enterprise.industry_code.in_(list(industries))))  # type: ignore[union-attr]
                        .order_by(Enterprise.id)).all()
    codes: dict[int, list[str]] = {}
    if ents:
        for hid, code in session.exec(select(Hazard.enterprise_id, Hazard.code)
                                      .where(Hazard.enterprise_id.in_([e.id for e in ents]))  # type: ignore[union-attr]
                                      .order_by(Hazard.id)).all():
            codes.setdefault(hid, []).append(code)
    out = []
    for e in ents:
        spec = industries.get(e.industry_code)
        out.append(Pending(e.id, e.name, e.address, e.region_code == region, spec["term"] if spec else None,
                           [cat_names.get(m, m) for m in spec["members"]] if spec else [], codes.get(e.id, [])))
    return out


def pending_imported_closes(session: Session, viewer: AppUser) -> list[Hazard]:
    """Imported close-outs not yet reviewed (导入销号), that the viewer may see."""
    from hazardloop.states import guards

    stmt = select(Hazard).where(Hazard.state == "closed", Hazard.confirmed_at.is_(None),  # type: ignore[union-attr]
                                Hazard.submitted_at.is_(None), guards.visible_clause(viewer))  # type: ignore[union-attr]
    return list(session.exec(stmt.order_by(Hazard.id)).all())


def resolve(session: Session, actor: AppUser, enterprise: int | str, *, region: str | None = None,
            industry: str | None = None) -> dict[str, Any]:
    """Settle an enterprise's holding region and/or industry (names as people write them)."""
    intake_guards.resolve_holding(actor)
    if not region and not industry:
        raise ValidationError("请给出 --region（镇街区）或 --industry（行业领域）。")
    ent = ledger.get_enterprise(session, enterprise)
    hold_region, hold_industries = holding_codes()
    cat = Catalogue(session)
    changes: dict[str, Any] = {}
    if region:
        m = cat.region(region)
        if not m.ok:
            raise ValidationError(f"无法识别的镇街区“{region}”；{m.suggestion()}")
        if ent.region_code != hold_region and ent.region_code != m.code:
            raise ValidationError(f"{ent.name} 的镇街区不是待确认，不在此处修改。")
        changes["region_code"] = m.code
    if industry:
        m = cat.industry(industry)
        if not m.ok or m.code in hold_industries:
            raise ValidationError(f"无法识别的行业领域“{industry}”；{m.suggestion()}" if not m.ok
                                  else f"“{industry}”仍是统称，请写具体行业（{'、'.join(m.suggestions)}）。")
        if ent.industry_code not in hold_industries and ent.industry_code != m.code:
            raise ValidationError(f"{ent.name} 的行业领域不是待细分，不在此处修改。")
        changes["industry_code"] = m.code
    before = {k: getattr(ent, k) for k in changes}
    if before == changes:
        return {"enterprise": ent.name, "changed": {}, "hazards": []}
    for k, v in changes.items():
        setattr(ent, k, v)
    old_dept = None
    new_dept = None
    if "industry_code" in changes:
        old = session.get(Industry, before["industry_code"])
        old_dept = old.department_code if old else None
        new_dept = session.get(Industry, changes["industry_code"]).department_code  # type: ignore[union-attr]
    session.flush()
    audit.append(session, actor=actor.username, action="holding_resolved", before=before,
                 after={"enterprise_id": ent.id, "name": ent.name, **changes})
    touched = []
    for h in session.exec(select(Hazard).where(Hazard.enterprise_id == ent.id).order_by(Hazard.id)).all():
        hb, ha = {}, {}
        if "region_code" in changes and h.region_code == before["region_code"]:
            hb["region_code"], ha["region_code"] = h.region_code, changes["region_code"]
        if "industry_code" in changes and h.industry_code == before["industry_code"]:
            hb["industry_code"], ha["industry_code"] = h.industry_code, changes["industry_code"]
            if h.supervising_department == old_dept and new_dept != old_dept:
                hb["supervising_department"], ha["supervising_department"] = old_dept, new_dept
        if not ha:
            continue
        # head row before hazard row, as every ledger write does
        audit.append(session, actor=actor.username, action="holding_resolved", hazard_id=h.id, before=hb, after=ha)
        for k, v in ha.items():
            setattr(h, k, v)
        ledger._flush(session, h)  # noqa: SLF001 - the version-checked write (optimistic locking)
        touched.append(h.code)
    return {"enterprise": ent.name, "changed": changes, "hazards": touched}


def send_to_review(session: Session, actor: AppUser, ref: int | str, reason: str | None = None) -> Hazard:
    """An imported close-out (导入销号) goes to a regulator's review: closed → reviewed."""
    hazard = ledger.get_hazard(session, ref)
    from hazardloop.config import clock

    return ledger._transition(  # noqa: SLF001 - the ledger's one guard+fire+audit unit, as close_imported uses it
        session, hazard, "review_imported", actor, {"reason": reason},
        {"submitted_by": actor.username, "submitted_at": clock.utcnow(), "closed_by": None, "closed_at": None},
        reason=reason or "导入销号送审", event="submitted")


def count_pending(session: Session) -> int:
    region, industries = holding_codes()
    return session.exec(select(func.count()).select_from(Enterprise).where(
        or_(Enterprise.region_code == region, Enterprise.industry_code.in_(list(industries))))).one()  # type: ignore[union-attr]


__all__ = ["pending", "resolve", "send_to_review", "pending_imported_closes", "Pending", "NotFound"]

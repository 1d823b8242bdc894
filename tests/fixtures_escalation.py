"""Builders for the escalation tests: hazards with a deadline at a chosen date."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import pytest
from sqlmodel import Session, select

from hazardloop.config import clock
from hazardloop.models.escalation import Document, EscalationStep
from hazardloop.models.tables import Notification
from hazardloop.escalation import hazards as esc
from hazardloop.states import ledger
from tests.helpers import ENT_HD

ENT_XY = "91370983MA3C0002B3"  # 鑫源机械 (machinery, xincheng)


def at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=clock.SHANGHAI)


def rectifying_with_deadline(s: Session, planned_on: date, deadline: date, *, enterprise: str = ENT_HD,
                             title: str = "液氨储罐区未设置泄漏报警装置") -> int:
    """Report, confirm and plan on `planned_on` (clock frozen there) with the given deadline."""
    supervisor = "sup_yingji" if enterprise == ENT_HD else "office1"
    safety = "hd_safety" if enterprise == ENT_HD else "xy_safety"
    with clock.frozen(at(planned_on)):
        h = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise=enterprise, title=title,
                          channel="inspection", location="储罐区")
        # the basis must apply to the enterprise's industry (chemical / machinery)
        basis = "CHEM121" if enterprise == ENT_HD else "MEM10"
        ledger.confirm(s, ledger.get_user(s, supervisor), h.id, basis_code=basis, basis_clause="第十三条",
                       level="city")
        ledger.plan(s, ledger.get_user(s, safety), h.id, responsible_person="孙立新", measures="加装泄漏报警并联锁",
                    funds="80000", deadline=deadline, emergency_plan="液氨泄漏专项应急预案")
        s.commit()
    return h.id


def sweep_on(db, day: date, **kw) -> esc.SweepResult:  # noqa: ANN001
    with clock.frozen(at(day, 8)):
        return esc.sweep(lambda: db.session(), day, **kw)


def steps_of(s: Session, hazard_id: int) -> list[tuple[int, str, str]]:
    rows = s.exec(select(EscalationStep).where(EscalationStep.hazard_id == hazard_id)
                  .order_by(EscalationStep.id)).all()
    return [(r.cycle, r.step, r.status) for r in rows]


def documents_of(s: Session, hazard_id: int | None = None) -> list[Document]:
    stmt = select(Document).order_by(Document.id)
    if hazard_id is not None:
        stmt = stmt.where(Document.hazard_id == hazard_id)
    return list(s.exec(stmt).all())


def notices(s: Session, hazard_id: int) -> list[Notification]:
    return list(s.exec(select(Notification).where(Notification.hazard_id == hazard_id,
                                                  Notification.event == "escalation")
                       .order_by(Notification.id)).all())


@pytest.fixture
def policy_file(tmp_path, monkeypatch) -> Path:
    """A writable copy of the default policy, in force through $HAZARDLOOP_ESCALATION_POLICY."""
    from hazardloop.config.escalation import DEFAULT_FILE

    path = tmp_path / "escalation.yaml"
    path.write_text(DEFAULT_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("HAZARDLOOP_ESCALATION_POLICY", str(path))
    return path


@pytest.fixture
def pg_org(pg):  # noqa: ANN001
    """PostgreSQL only, with tests/data/org.yaml loaded (real concurrency)."""
    from hazardloop.models.orgs import load_orgs
    from tests.conftest import ORG_FILE

    with pg.session() as s:
        load_orgs(s, ORG_FILE)
        s.commit()
    return pg


def check_gapless(s: Session) -> dict[tuple[str, int], int]:
    """Every (doc_type, year) has serials 1..n, and its counter says n."""
    from hazardloop.models.escalation import DocumentCounter

    serials: dict[tuple[str, int], list[int]] = {}
    for doc in s.exec(select(Document)).all():
        serials.setdefault((doc.doc_type, doc.year), []).append(doc.serial)
    counters = {(c.doc_type, c.year): c.last for c in s.exec(select(DocumentCounter)).all()}
    for key, found in serials.items():
        assert sorted(found) == list(range(1, len(found) + 1)), (key, sorted(found))
        assert counters[key] == len(found), (key, counters[key], len(found))
    for key, last in counters.items():
        assert last == len(serials.get(key, [])), (key, last)
    return {k: len(v) for k, v in serials.items()}

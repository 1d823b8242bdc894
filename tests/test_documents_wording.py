"""A 公文 speaks to its addressee: letters to the enterprise say 你单位, the others name the enterprise."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from hazardloop.models.escalation import Document
from tests.fixtures_escalation import rectifying_with_deadline, sweep_on


def test_addressee_wording(org):
    with org.session() as s:
        rectifying_with_deadline(s, date(2024, 8, 1), date(2024, 8, 30))
    sweep_on(org, date(2024, 11, 29))
    with org.session(write=False) as s:
        docs = {d.step: d.text for d in s.exec(select(Document)).all()}
    assert "经查，你单位（肥城市恒达化工有限公司" in docs["notice_letter"]
    assert "经查，你单位" in docs["warning_letter"] and "经查，你单位" in docs["interview"]
    for step in ("supervision_letter", "bulletin"):  # to the township, the department, all member units
        assert "你单位" not in docs[step] and "经查，肥城市恒达化工有限公司（" in docs[step]

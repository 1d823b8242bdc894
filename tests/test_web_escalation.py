"""The escalation ladder on the console: proposals in the committee's queue, steps and 文号 on the page."""

from __future__ import annotations

from datetime import date

from hazardloop.web import escalation as escalation_web
from hazardloop.web import services
from tests.fixtures_escalation import rectifying_with_deadline, sweep_on


def test_exposure_proposal_in_committee_queue_and_steps_on_hazard_page(org):
    escalation_web.install()  # the console's escalation blocks, as create_app installs them
    with org.session() as s:
        hid = rectifying_with_deadline(s, date(2024, 8, 1), date(2024, 8, 30))
    sweep_on(org, date(2024, 11, 29))  # far past every step: the ladder runs to the 曝光 proposal
    with org.session(write=False) as s:
        office, sup = org.user(s, "office1"), org.user(s, "sup_yingji")
        committee = {sec.key: sec for sec in services.queue(s, office)}
        assert [item["hazard"].id for item in committee["exposure"].items] == [hid]
        assert "exposure" not in {sec.key for sec in services.queue(s, sup)}  # only the committee decides
        hazard = services.visible_hazard(s, sup, hid)
        blocks = services.detail(s, sup, hazard)["extra"]
        rows = dict(blocks[0]["rows"])
        assert any("提示函" in label or "notice_letter" in label for label in rows)
        assert any("肥安办函〔2024〕" in value for value in rows.values())
        assert any("待市安委办批准" in value for value in rows.values())

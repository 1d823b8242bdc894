"""Issue 14 on the console: the missing-calendar banner, and the 约谈会 recorded and checked through
server-rendered forms (the same engine and guard as `hazardloop interview` and the API)."""

from __future__ import annotations

import re
from datetime import date

from sqlmodel import select

from hazardloop.config import calendar, clock
from hazardloop.models.escalation import EscalationCycle, EscalationStep
from hazardloop.models.interviews import InterviewRecord
from hazardloop.models.tables import AuditEvent
from tests.fixtures_escalation import at, rectifying_with_deadline, sweep_on
from tests.fixtures_web import csrf_of, web  # noqa: F401

PLANNED = date(2024, 9, 2)
DEADLINE = date(2024, 9, 20)


# --- the calendar banner -------------------------------------------------------------------------------


def test_calendar_banner_for_office_and_supervisors_only_from_november(web):
    assert calendar.missing_next_year(date(2026, 11, 15)) == 2027  # no 2027 调休 anywhere yet
    with clock.frozen(date(2026, 11, 15)):
        office = web.login("office1").get("/queue")
        assert office.status_code == 200
        banner = re.search(r'<div class="calendar-banner" role="alert" id="calendar-banner">([^<]*)</div>', office.text)
        assert banner and "尚未录入 2027 年节假日安排" in banner.group(1)
        assert 'id="calendar-banner"' in web.login("sup_yingji").get("/hazards").text  # every page
        for name in ("hd_safety", "citizen1", "town_shiheng"):
            assert "calendar-banner" not in web.login(name).get("/queue").text, name
    with clock.frozen(date(2025, 6, 1)):
        for name in ("office1", "sup_yingji", "hd_safety"):
            assert "calendar-banner" not in web.login(name).get("/queue").text, name


# --- the 约谈会 record ------------------------------------------------------------------------------------


def _interview_step(org) -> tuple[int, int, date]:  # noqa: ANN001
    with org.session() as s:
        hid = rectifying_with_deadline(s, PLANNED, DEADLINE)
    called = calendar.add_workdays(DEADLINE, 20)
    sweep_on(org, called)  # the ladder issues the 约谈会 notice
    with org.session() as s:
        step = s.exec(select(EscalationStep).where(EscalationStep.hazard_id == hid,
                                                   EscalationStep.step == "interview")).one()
        assert step.status == "issued"
    return hid, step.id, called


def _form(client, step_id: int, **fields) -> dict:  # noqa: ANN001, ANN003
    page = client.get(f"/interviews/record/{step_id}")
    assert page.status_code == 200, page.text[:300]
    return {"csrf_token": csrf_of(page.text), "place": "市应急管理局3楼会议室",
            "regulator_attendees": "杨志远（市安委办）\n蒋国平（市应急管理局）", "summary": "", "minutes": ""} | fields


def _counts(org) -> tuple[int, int]:  # noqa: ANN001
    with org.session() as s:
        return (len(s.exec(select(InterviewRecord)).all()),
                len(s.exec(select(AuditEvent).where(AuditEvent.action == "interview_recorded")).all()))


def test_an_interview_not_held_recorded_through_the_form_moves_the_ladder_on(web, org):
    hid, step_id, called = _interview_step(org)
    meeting = calendar.add_workdays(called, 2)
    with clock.frozen(at(meeting, 16)):
        sup = web.login("sup_yingji")
        page = sup.get(f"/hazards/{hid}")
        assert f'href="/interviews/record/{step_id}"' in page.text and "记录约谈会" in page.text
        # the enterprise sees the hazard but may not record: no link, and the form is refused
        ent = web.login("hd_safety")
        assert "/interviews/record/" not in ent.get(f"/hazards/{hid}").text
        assert ent.get(f"/interviews/record/{step_id}").status_code == 403
        # out of scope: another department's supervisor and another enterprise do not see the hazard
        for name in ("sup_zhujian", "xy_safety"):
            assert web.login(name).get(f"/interviews/record/{step_id}").status_code == 404, name
        other = web.login("sup_zhujian")
        token = csrf_of(other.get("/queue").text)
        refused = other.post(f"/interviews/record/{step_id}", data={"csrf_token": token, "held_at": f"{meeting}T09:30",
                                                                    "place": "x", "outcome": "not_held",
                                                                    "regulator_attendees": "韩东升"})
        assert refused.status_code == 404
        ok = sup.post(f"/interviews/record/{step_id}", data=_form(sup, step_id, held_at=f"{meeting}T09:30",
                                                                   outcome="not_held"))
        assert ok.status_code == 303 and ok.headers["location"] == f"/hazards/{hid}?done=interview_recorded#interviews"
        shown = sup.get(ok.headers["location"]).text
        assert "约谈会已记录" in shown and "未召开（企业未到会）" in shown and "督办阶梯已进入下一步" in shown
        assert f"{meeting} 09:30（第 1 周期）" in shown and "<dt>记录人</dt><dd>蒋国平</dd>" in shown
        assert f'href="/interviews/record/{step_id}"' not in shown  # once per step
    with org.session() as s:
        row = s.exec(select(InterviewRecord)).one()
        assert row.outcome == "not_held" and row.recorded_by == "sup_yingji" and row.moved_on
        assert row.regulator_attendees == ["杨志远（市安委办）", "蒋国平（市应急管理局）"]
        assert clock.to_local(row.held_at).strftime("%Y-%m-%d %H:%M") == f"{meeting} 09:30"
        cycle = s.exec(select(EscalationCycle).where(EscalationCycle.hazard_id == hid)).one()
        assert cycle.next_due == meeting  # the next step (曝光) is due at once
    res = sweep_on(org, calendar.add_workdays(meeting, 1))
    assert res.issued == {"exposure": 1}


def test_a_bad_commitment_line_is_refused_in_chinese_and_writes_nothing(web, org):
    hid, step_id, called = _interview_step(org)
    meeting = calendar.add_workdays(called, 1)
    with clock.frozen(at(meeting, 16)):
        office = web.login("office1")
        data = _form(office, step_id, held_at=f"{meeting}T09:30", outcome="held", enterprise_attendees="赵建国（主要负责人）",
                     commitments="完成报警器安装@2024-13-40", minutes="会议纪要全文")
        bad = office.post(f"/interviews/record/{step_id}", data=data)
        assert 400 <= bad.status_code < 500
        assert "承诺事项的完成日期应为 YYYY-MM-DD" in bad.text and 'role="alert"' in bad.text
        assert "会议纪要全文" in bad.text and "赵建国（主要负责人）" in bad.text  # what was typed is kept
        assert _counts(org) == (0, 0)
        no_at = office.post(f"/interviews/record/{step_id}", data=data | {"commitments": "完成报警器安装"})
        assert 400 <= no_at.status_code < 500 and "内容@YYYY-MM-DD" in no_at.text
        no_minutes = office.post(f"/interviews/record/{step_id}", data=data | {
            "commitments": f"完成报警器安装@{calendar.add_workdays(meeting, 5)}", "minutes": ""})
        assert 400 <= no_minutes.status_code < 500 and "会议纪要" in no_minutes.text
        bad_time = office.post(f"/interviews/record/{step_id}", data=data | {"held_at": "昨天上午"})
        assert 400 <= bad_time.status_code < 500 and "约谈时间" in bad_time.text
        too_long = office.post(f"/interviews/record/{step_id}", data=data | {"place": "会" * 201})
        assert too_long.status_code == 422 and "“地点”过长" in too_long.text
        forged = office.post(f"/interviews/record/{step_id}", data=data | {"csrf_token": "x"})
        assert forged.status_code == 403
        assert _counts(org) == (0, 0)


def test_a_commitment_is_checked_through_the_form(web, org):
    hid, step_id, called = _interview_step(org)
    meeting = calendar.add_workdays(called, 1)
    due1, due2 = calendar.add_workdays(meeting, 5), calendar.add_workdays(meeting, 10)
    with clock.frozen(at(meeting, 16)):
        sup = web.login("sup_yingji")
        ok = sup.post(f"/interviews/record/{step_id}", data=_form(
            sup, step_id, held_at=f"{meeting}T09:30", outcome="held", enterprise_attendees="赵建国（主要负责人）\n\n孙立新（安全员）",
            commitments=f"完成泄漏报警器安装并联锁@{due1}\n组织全员培训@{due2}", minutes="约谈会议纪要……"))
        assert ok.status_code == 303, ok.text[:500]
    with org.session() as s:
        row = s.exec(select(InterviewRecord)).one()
        assert row.enterprise_attendees == ["赵建国（主要负责人）", "孙立新（安全员）"]
        assert [c["what"] for c in row.commitments] == ["完成泄漏报警器安装并联锁", "组织全员培训"]
    with clock.frozen(at(due1, 15)):
        office = web.login("office1")
        page = office.get(f"/hazards/{hid}").text
        assert f'id="form-check-{row.id}-1"' in page and f'id="form-check-{row.id}-2"' in page
        # the enterprise reads the record but gets no 核验 form, and its post is refused
        ent = web.login("hd_safety")
        ent_page = ent.get(f"/hazards/{hid}").text
        assert "完成泄漏报警器安装并联锁" in ent_page and "form-check-" not in ent_page
        assert ent.post(f"/interviews/{row.id}/commitments/1", data={"csrf_token": csrf_of(ent_page),
                                                                      "result": "met"}).status_code == 403
        assert web.login("xy_safety").post(f"/interviews/{row.id}/commitments/1", data={
            "csrf_token": csrf_of(ent_page), "result": "met"}).status_code in (403, 404)  # another session's token
        token = csrf_of(page)
        no_result = office.post(f"/interviews/{row.id}/commitments/1", data={"csrf_token": token})
        assert no_result.status_code == 422 and "请选择核验结果" in no_result.text
        done = office.post(f"/interviews/{row.id}/commitments/1", data={"csrf_token": token, "result": "met",
                                                                         "note": "现场核查，报警器已联锁"})
        assert done.status_code == 303
        shown = office.get(done.headers["location"]).text
        assert "承诺事项的核验结果已记录" in shown and "已兑现" in shown and "杨志远核验：现场核查，报警器已联锁" in shown
        assert f'id="form-check-{row.id}-1"' not in shown and f'id="form-check-{row.id}-2"' in shown
        assert office.post(f"/interviews/{row.id}/commitments/9", data={"csrf_token": token, "result": "met"}
                           ).status_code == 404
    with org.session() as s:
        row = s.get(InterviewRecord, row.id)
        first, second = row.commitments
        assert first["status"] == "met" and first["checked_by"] == "office1" and first["note"] == "现场核查，报警器已联锁"
        assert second["status"] == "open" and not row.moved_on

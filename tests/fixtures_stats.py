"""A small hand-counted ledger for the statistics, inspections, red/black and bulletin tests.

Everything goes through the ledger functions under a frozen clock (09:00 Shanghai
on each date), so the audit trail is what a real year would leave.

Timeline (HD = 恒达化工 chemical/石横镇, XY = 鑫源机械 machinery/新城街道,
TH = 泰和建筑 construction/高新区):
  H1 HD 2023-06-01 report, confirm city, plan -> 2023-07-01; 06-20 submit; 06-25 approve  (on time, 24.0 d)
  H2 HD 2024-03-01 report, confirm taian, plan -> 2024-03-31; 04-10 submit (late);
        04-12 reject -> 2024-05-10; 05-01 submit; 05-03 approve  (on time by the new deadline, 63.0 d)
  H3 XY 2024-03-05 self-report; 03-06 dismissed
  H4 TH 2024-06-01 report; 06-02 confirm city (stays listed)
  H5 XY 2024-06-01 self-report, confirm province, plan -> 2024-06-30; 06-20 extension asked,
        06-21 approved -> 2024-07-31                                    [phase 1 ends here]
        08-10 submit (late); 08-12 approve  (late, 72.0 d)
  H6 HD 2024-09-02 report, confirm city, plan -> 2024-09-30; 09-10 submit; 09-12 reject -> 2024-10-15;
        09-20 submit; 09-22 reject -> 2024-10-31 (2 rejections, stays rectifying)
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session

from hazardloop.config import clock
from hazardloop.models.orgs import load_orgs
from hazardloop.reports import inspections as insp
from hazardloop.states import ledger

HD, XY, TH = "91370983MA3C0001AY", "91370983MA3C0002B3", "91370983MA3C0003C7"


def _at(day: date):
    return clock.frozen(day)


def _evidence(tmp_path, name: str):
    p = tmp_path / name
    p.write_bytes(b"evidence " + name.encode())
    return p


def _plan(s: Session, user: str, hid: int, deadline: date) -> None:
    ledger.plan(s, ledger.get_user(s, user), hid, responsible_person="责任人", measures="整改措施", funds="10000",
                deadline=deadline, emergency_plan="应急预案")


def phase1(db, tmp_path) -> dict[str, int]:
    """Up to the end of June 2024."""
    ids: dict[str, int] = {}
    with db.session() as s:
        u = lambda name: ledger.get_user(s, name)  # noqa: E731
        with _at(date(2023, 6, 1)):
            ids["H1"] = ledger.report(s, u("inspector1"), enterprise=HD, title="H1 液氨储罐区未设报警", channel="inspection").id
            ledger.confirm(s, u("sup_yingji"), ids["H1"], basis_code="CHEM121", basis_clause="第十三条", level="city")
            _plan(s, "hd_safety", ids["H1"], date(2023, 7, 1))
            s.commit()
        with _at(date(2023, 6, 20)):
            ledger.submit(s, u("hd_safety"), ids["H1"], evidence=[_evidence(tmp_path, "h1.jpg")])
            s.commit()
        with _at(date(2023, 6, 25)):
            ledger.approve(s, u("sup_yingji"), ids["H1"])
            s.commit()
        with _at(date(2024, 3, 1)):
            ids["H2"] = ledger.report(s, u("inspector1"), enterprise=HD, title="H2 反应釜未设联锁", channel="inspection").id
            ledger.confirm(s, u("sup_yingji"), ids["H2"], basis_code="CHEM121", basis_clause="第五条", level="taian")
            _plan(s, "hd_safety", ids["H2"], date(2024, 3, 31))
            s.commit()
        with _at(date(2024, 3, 5)):
            ids["H3"] = ledger.report(s, u("xy_safety"), enterprise=XY, title="H3 疑似粉尘隐患", channel="self_inspection").id
            s.commit()
        with _at(date(2024, 3, 6)):
            ledger.dismiss(s, u("sup_yingji"), ids["H3"], reason="经核查不构成重大事故隐患")
            s.commit()
        with _at(date(2024, 4, 10)):
            ledger.submit(s, u("hd_safety"), ids["H2"], evidence=[_evidence(tmp_path, "h2a.jpg")])
            s.commit()
        with _at(date(2024, 4, 12)):
            ledger.reject(s, u("sup_yingji"), ids["H2"], reason="联锁未调试", deadline=date(2024, 5, 10))
            s.commit()
        with _at(date(2024, 5, 1)):
            ledger.submit(s, u("hd_safety"), ids["H2"], evidence=[_evidence(tmp_path, "h2b.jpg")])
            s.commit()
        with _at(date(2024, 5, 3)):
            ledger.approve(s, u("sup_yingji2"), ids["H2"])
            s.commit()
        with _at(date(2024, 6, 1)):
            ids["H4"] = ledger.report(s, u("inspector1"), enterprise=TH, title="H4 深基坑未按方案支护", channel="inspection").id
            ids["H5"] = ledger.report(s, u("xy_safety"), enterprise=XY, title="H5 冲压设备防护缺失", channel="self_inspection").id
            ledger.confirm(s, u("sup_yingji"), ids["H5"], basis_code="MEM10", basis_clause="第一条", level="province")
            _plan(s, "xy_safety", ids["H5"], date(2024, 6, 30))
            s.commit()
        with _at(date(2024, 6, 2)):
            ledger.confirm(s, u("sup_zhujian"), ids["H4"], basis_code="CONSTR2", basis_clause="第二条", level="city")
            s.commit()
        with _at(date(2024, 6, 20)):
            ext = ledger.request_extension(s, u("xy_safety"), ids["H5"], deadline=date(2024, 7, 31), reason="设备到货延迟")
            s.commit()
        with _at(date(2024, 6, 21)):
            ledger.decide_extension(s, u("sup_yingji"), ext.id, approve=True, reason="同意")
            s.commit()
    return ids


def phase2(db, tmp_path, ids: dict[str, int]) -> dict[str, int]:
    """July to October 2024: the ledger moves on after June."""
    with db.session() as s:
        u = lambda name: ledger.get_user(s, name)  # noqa: E731
        with _at(date(2024, 8, 10)):
            ledger.submit(s, u("xy_safety"), ids["H5"], evidence=[_evidence(tmp_path, "h5.jpg")])
            s.commit()
        with _at(date(2024, 8, 12)):
            ledger.approve(s, u("sup_yingji"), ids["H5"])
            s.commit()
        with _at(date(2024, 9, 2)):
            ids["H6"] = ledger.report(s, u("inspector1"), enterprise=HD, title="H6 装卸区静电接地失效", channel="inspection").id
            ledger.confirm(s, u("sup_yingji"), ids["H6"], basis_code="CHEM121", basis_clause="第九条", level="city")
            _plan(s, "hd_safety", ids["H6"], date(2024, 9, 30))
            s.commit()
        for sub, rej, new in ((date(2024, 9, 10), date(2024, 9, 12), date(2024, 10, 15)),
                              (date(2024, 9, 20), date(2024, 9, 22), date(2024, 10, 31))):
            with _at(sub):
                ledger.submit(s, u("hd_safety"), ids["H6"], evidence=[_evidence(tmp_path, f"h6{sub.day}.jpg")])
                s.commit()
            with _at(rej):
                ledger.reject(s, u("sup_yingji"), ids["H6"], reason="整改不到位", deadline=new)
                s.commit()
    return ids


def build(db, tmp_path) -> dict[str, int]:
    return phase2(db, tmp_path, phase1(db, tmp_path))


AT = "91370983MA3C0004DB"
EXTRA_ORG = f"""
enterprises:
  - name: 肥城市安泰食品有限公司
    credit_code: {AT}
    region: laocheng
    industry: light_industry
    principal: 孔令华
    controller: 孔令华
    safety_manager: 曹雪
users:
  - {{username: at_safety, name: 曹雪, role: enterprise, enterprise: {AT}}}
"""


def _record(db, day: date, actor: str, ent: str) -> None:
    with db.session() as s, clock.frozen(day):
        insp.record(s, ledger.get_user(s, actor), enterprise=ent, inspected_on=day)
        s.commit()


@pytest.fixture
def ledger_sept(org, tmp_path):
    """The hand-counted ledger, plus 安泰食品 (one hazard closed on time, every quarter inspected)."""
    path = tmp_path / "extra.yaml"
    path.write_text(EXTRA_ORG, encoding="utf-8")
    with org.session() as s:
        load_orgs(s, path)
        s.commit()
    build(org, tmp_path)
    with org.session() as s:
        with clock.frozen(date(2024, 2, 1)):
            hid = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise=AT, title="H7 液氨制冷间", channel="inspection").id
            ledger.confirm(s, ledger.get_user(s, "sup_yingji"), hid, basis_code="MEM10", basis_clause="第三条", level="city")
            ledger.plan(s, ledger.get_user(s, "at_safety"), hid, responsible_person="曹雪", measures="更换", funds="5000",
                        deadline=date(2024, 3, 15), emergency_plan="预案")
            s.commit()
        with clock.frozen(date(2024, 3, 1)):
            p = tmp_path / "h7.jpg"
            p.write_bytes(b"h7")
            ledger.submit(s, ledger.get_user(s, "at_safety"), hid, evidence=[p])
            s.commit()
        with clock.frozen(date(2024, 3, 5)):
            ledger.approve(s, ledger.get_user(s, "sup_yingji"), hid)
            s.commit()
    for day in (date(2024, 2, 10), date(2024, 5, 10), date(2024, 8, 10)):
        _record(org, day, "at_safety", AT)
    _record(org, date(2024, 2, 1), "xy_safety", XY)  # Q1 only: Q2 missed
    for month in range(1, 10):
        _record(org, date(2024, month, 8), "hd_safety", HD)  # HD inspects every month
    return org

"""`hazardloop demo`: a realistic Feicheng ledger from 2023 to today, walked through its lifecycle.

Everything goes through the same ledger functions and guards as the CLI, each
action in its own transaction, in time order under a frozen clock, so the audit
trail reads like three years of real work.
"""

from __future__ import annotations

import contextlib
import heapq
import random
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from collections.abc import Iterator
from typing import Any, Callable

from rich.console import Console
from rich.table import Table
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hazardloop.bootstrap import bootstrap
from hazardloop.campaigns import demo as campaign_demo
from hazardloop.config import calendar, clock
from hazardloop.models import audit
from hazardloop.errors import HazardLoopError
from hazardloop.models.migrate import init_database, reset_database
from hazardloop.models.orgs import CREDIT_ALPHABET, make_credit_code
from hazardloop.models.reference import read
from hazardloop.models.escalation import Document
from hazardloop.models.tables import AppUser, Department, Enterprise, Hazard, Industry, Region, Standard
from hazardloop.escalation.hazards import run_sweeps
from hazardloop.plans import demo as plan_demo
from hazardloop.states import ledger
from hazardloop.states.roles import CHANNELS, STATE_NAMES

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "建国志强明华丽娟海涛春生振华光明晓军立新德明国平红梅东升卫东静敏伟刚磊洋勇军杰涛斌超鹏辉芳燕萍玲霞婷雪琳晨阳宇浩然子轩思远文博"
TRADE_NAMES = "恒达鑫源泰和瑞丰宏图华鲁金山汶河康泰永盛盛达福源中联润通安泰利民昌盛东岳凯旋鼎新正阳佳和嘉禾银河蓝天绿源天成瑞祥兴隆宏达海川"
SUFFIX = {
    "chemical": "化工有限公司", "nonmetal_mine": "矿业有限公司", "coal_mine": "煤矿", "fireworks": "烟花爆竹有限公司",
    "metallurgy": "钢铁有限公司", "nonferrous": "铝业有限公司", "building_materials": "建材有限公司",
    "machinery": "机械制造有限公司", "light_industry": "食品有限公司", "textile": "纺织有限公司", "tobacco": "卷烟配送中心",
    "trade": "商贸有限公司", "dust_explosion": "木业有限公司", "ammonia_refrigeration": "冷藏有限公司",
    "construction": "建筑工程有限公司", "gas": "燃气有限公司", "special_equipment": "起重设备有限公司",
    "road_transport": "运输有限公司", "crowded_places": "商场有限公司", "school": "学校", "tourism": "旅游开发有限公司",
    "water": "水利工程有限公司", "medical": "医院",
}
# Realistic hazard titles per industry, with the clause of the standard that makes them major.
HAZARDS: dict[str, list[tuple[str, str]]] = {
    "chemical": [("涉及重点监管危险化工工艺的装置未实现自动化控制", "第五条"),
                 ("液化烃储罐区未设置紧急切断装置", "第十条"),
                 ("控制室面向具有火灾、爆炸危险性装置一侧不满足防火防爆要求", "第九条"),
                 ("特殊作业未执行作业许可制度", "第二十条")],
    "nonmetal_mine": [("地下矿山未按规定建立安全出口", "第七条"), ("露天采场边坡存在滑坡现象", "第八条")],
    "coal_mine": [("超能力、超强度组织生产", "第三条"), ("瓦斯超限作业", "第四条")],
    "fireworks": [("工房内超员、超量作业", "第六条")],
    "metallurgy": [("会议室、活动室等人员聚集场所设置在铁水、钢水影响范围内", "第八条第（一）项"),
                   ("煤气区域未设置固定式一氧化碳浓度监测报警装置", "第八条第（五）项")],
    "nonferrous": [("熔融金属作业区地面积水", "第九条")],
    "building_materials": [("水泥工厂煤粉制备系统未设置防爆泄压装置", "第十条")],
    "machinery": [("铸造熔炼炉冷却水系统未设置出水温度监测报警", "第十二条")],
    "light_industry": [("食品制造企业涉及燃气的烘制设备未设置熄火保护", "第十三条")],
    "textile": [("纱库、棉库未按规定设置防火分隔", "第十四条")],
    "tobacco": [("烟叶仓库消防设施不完好", "第十五条")],
    "trade": [("冷库使用聚氨酯泡沫作为隔热保温材料且未有效阻燃", "第十六条")],
    "dust_explosion": [("粉尘爆炸危险场所设置在非框架结构的多层建筑物内", "第十七条第（一）项"),
                       ("除尘系统未按规定采取泄爆、隔爆等措施", "第十七条第（四）项")],
    "ammonia_refrigeration": [("快速冻结装置未设置在单独的作业间内且人员超过9人", "第十八条")],
    "construction": [("深基坑施工未按规定进行第三方监测", "第八条"), ("高大模板支撑体系未按专项方案施工", "第九条"),
                     ("起重机械未经验收即投入使用", "第十条")],
    "gas": [("燃气场站未设置可燃气体泄漏报警装置", "第三条"), ("瓶装液化石油气充装未落实充装前检查", "第五条")],
    "special_equipment": [("起重机械超期未检验继续使用", "第三条")],
    "road_transport": [("危险货物运输车辆卫星定位装置不在线", "第四条")],
    "crowded_places": [("疏散通道被占用、堵塞", "5.1"), ("自动喷水灭火系统不能正常运行", "6.3")],
    "school": [("学生宿舍疏散楼梯数量不足", "5.2")],
    "tourism": [("游乐设施安全保护装置失效", "5.3")],
    "water": [("水库泄洪设施存在严重安全隐患", "第三条")],
    "medical": [("医院病房楼自动消防设施不能正常使用", "6.2")],
}
CHANNEL_WEIGHTS = {"self_inspection": 40, "inspection": 40, "public_report": 10, "assigned": 10}


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return "13" + "".join(rng.choice("0123456789") for _ in range(9))


@dataclass(order=True)
class _Step:
    when: datetime
    order: int
    action: Callable[[Session], Any] = field(compare=False)


def seed_people(session: Session, rng: random.Random) -> dict[str, list[str]]:
    """Committee office, one or two supervisors per department, township officers, inspectors, the public."""
    people: dict[str, list[str]] = {"committee": [], "supervisor": [], "township": [], "inspector": [], "public": []}

    def add(username: str, role: str, **kw: Any) -> None:
        if session.exec(select(AppUser).where(AppUser.username == username)).first() is None:
            session.add(AppUser(username=username, name=_person(rng), role=role, phone=_phone(rng), **kw))
        people[role].append(username)

    add("office_yang", "committee", department_code="anweiban")
    add("office_zhu", "committee", department_code="anweiban")
    for dept in session.exec(select(Department).where(Department.committee == False)).all():  # noqa: E712
        add(f"sup_{dept.code}", "supervisor", department_code=dept.code)
        add(f"sup_{dept.code}_2", "supervisor", department_code=dept.code)
    for region in session.exec(select(Region)).all():
        add(f"town_{region.code}", "township", region_code=region.code)
    for i in range(1, 6):
        add(f"inspector{i}", "inspector", department_code="yingji")
    for i in range(1, 4):
        add(f"citizen{i}", "public")
    session.flush()
    return people


def seed_enterprises(session: Session, rng: random.Random, n: int) -> list[Enterprise]:
    industries = session.exec(select(Industry)).all()
    regions = [r.code for r in session.exec(select(Region)).all()]
    weights = [6 if i.code in ("chemical", "machinery", "construction", "trade", "gas", "crowded_places") else 2
               for i in industries]
    out: list[Enterprise] = []
    names: set[str] = set()
    while len(out) < n:
        industry = rng.choices(industries, weights)[0]
        region = rng.choice(regions)
        region_name = session.get(Region, region).name.rstrip("镇街道区")
        name = f"肥城市{rng.choice([region_name, ''])}{rng.choice(TRADE_NAMES)}{rng.choice(TRADE_NAMES)}{SUFFIX[industry.code]}"
        if name in names:
            continue
        names.add(name)
        code = make_credit_code("91370983" + "".join(rng.choice(CREDIT_ALPHABET) for _ in range(9)))
        principal, controller, manager = _person(rng), _person(rng), _person(rng)
        ent = Enterprise(name=name, credit_code=code, region_code=region, industry_code=industry.code,
                         address=f"{session.get(Region, region).name}{rng.randint(1, 300)}号",
                         principal=principal, principal_phone=_phone(rng), controller=controller,
                         controller_phone=_phone(rng), safety_manager=manager, safety_manager_phone=_phone(rng),
                         contacts={"email": f"safety{len(out) + 1}@ent.example"})
        session.add(ent)
        session.flush()
        session.add(AppUser(username=f"ent{ent.id}", name=manager, role="enterprise", enterprise_id=ent.id,
                            phone=ent.safety_manager_phone))
        audit.append(session, actor="demo", action="enterprise_upsert", after={"credit_code": code, "name": name})
        out.append(ent)
    session.flush()
    return out


def _at(day: date, hour: int, rng: random.Random) -> datetime:
    return datetime.combine(day, time(hour, rng.randint(0, 59)), tzinfo=clock.SHANGHAI)


def plan_hazard_walks(session: Session, rng: random.Random, enterprises: list[Enterprise], n: int,
                      people: dict[str, list[str]], end: date, evidence_dir: Path) -> list[_Step]:
    """Schedule every action of every hazard; executed later in time order."""
    standards = {s: st for st in session.exec(select(Standard)).all() for s in st.sectors}
    steps: list[_Step] = []
    start = date(2023, 1, 3)
    span = (end - start).days
    order = 0
    codes: dict[int, int] = {}  # demo index -> hazard id, filled as reports run

    def at(when: datetime, fn: Callable[[Session], Any]) -> None:
        nonlocal order
        order += 1
        steps.append(_Step(when, order, fn))

    for k in range(n):
        ent = rng.choice(enterprises)
        # more hazards in recent years, as the 三年行动 intensified the search
        found = start + timedelta(days=int(span * (rng.random() ** 0.8)))
        channel = rng.choices(list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values()))[0]
        title, clause = rng.choice(HAZARDS[ent.industry_code])
        industry = session.get(Industry, ent.industry_code)
        regulator = f"sup_{industry.department_code}"
        reporter = {"self_inspection": f"ent{ent.id}", "inspection": rng.choice(people["inspector"]),
                    "public_report": "office_yang", "assigned": regulator}[channel]
        ent_user = f"ent{ent.id}"
        basis = standards[ent.industry_code].code

        def report(s: Session, k=k, ent=ent, title=title, channel=channel, reporter=reporter) -> None:
            h = ledger.report(s, ledger.get_user(s, reporter), enterprise=ent.id, title=title, channel=channel,
                              description=f"{ent.name}{title}。", location=rng.choice(["生产车间", "储存区", "配电室",
                                                                                      "施工现场", "仓库", "办公楼"]))
            codes[k] = h.id

        t = _at(found, 9, rng)
        at(t, report)
        if rng.random() < 0.08:  # judged not major
            at(t + timedelta(days=2), lambda s, k=k, r=regulator: ledger.dismiss(
                s, ledger.get_user(s, r), codes[k], reason="经核查不构成重大事故隐患，按一般隐患处理"))
            continue
        confirm_at = t + timedelta(days=rng.randint(1, 4))
        if confirm_at.date() > end:
            continue
        level = rng.choices(["city", "taian", "province"], [85, 12, 3])[0]
        at(confirm_at, lambda s, k=k, r=regulator, b=basis, c=clause, lv=level: ledger.confirm(
            s, ledger.get_user(s, r), codes[k], basis_code=b, basis_clause=c, level=lv))
        plan_at = confirm_at + timedelta(days=rng.randint(2, 7))
        if plan_at.date() > end:
            continue
        deadline = plan_at.date() + timedelta(days=rng.choice((30, 45, 60, 90)))
        at(plan_at, lambda s, k=k, u=ent_user, d=deadline: ledger.plan(
            s, ledger.get_user(s, u), codes[k], responsible_person=session.get(Enterprise, ent.id).principal,
            measures="制定专项整改措施，停产整改并委托专业机构复核", funds=str(rng.choice((20000, 50000, 120000, 300000))),
            deadline=d, emergency_plan="专项应急预案已修订并组织演练"))
        # how the enterprise performs: most on time, some late, some very late, a few ask for more time
        lateness = rng.choices([-10, 5, 25, 60], [55, 20, 15, 10])[0]
        cur_deadline = deadline
        if rng.random() < 0.1:
            ask = plan_at + timedelta(days=(deadline - plan_at.date()).days - 5)
            new = cur_deadline + timedelta(days=30)
            if ask.date() <= end:
                at(ask, lambda s, k=k, u=ent_user, nd=new: ledger.request_extension(
                    s, ledger.get_user(s, u), codes[k], deadline=nd, reason="整改设备采购周期长，申请延期"))
                approve_ext = rng.random() < 0.8

                def decide(s: Session, k=k, r=regulator, ok=approve_ext) -> None:
                    from hazardloop.models.tables import Extension

                    ext = s.exec(select(Extension).where(Extension.hazard_id == codes[k],
                                                         Extension.status == "pending")).first()
                    if ext is not None:
                        ledger.decide_extension(s, ledger.get_user(s, r), ext.id, approve=ok,
                                                reason="同意延期" if ok else "理由不充分，不予延期")
                at(ask + timedelta(days=2), decide)
                if approve_ext:
                    cur_deadline = new
        submit_day = cur_deadline + timedelta(days=lateness)
        for attempt in range(3):
            submit_at = _at(submit_day, 15, rng)
            if submit_day > end:
                break
            proof = evidence_dir / f"evidence-{k}-{attempt}.txt"
            proof.write_text(f"整改完成照片及验收记录：隐患 {k}，第 {attempt + 1} 次提交\n", encoding="utf-8")

            def submit(s: Session, k=k, u=ent_user, p=proof) -> None:
                h = s.get(Hazard, codes[k])
                if h.state == "listed":  # a late plan: nothing to submit yet
                    return
                ledger.submit(s, ledger.get_user(s, u), codes[k], evidence=[p])
            at(submit_at, submit)
            review_day = submit_day + timedelta(days=rng.randint(1, 6))
            if review_day > end:
                break
            reviewer = regulator if rng.random() < 0.85 else "office_zhu"
            if attempt < 2 and rng.random() < 0.15:
                new_deadline = review_day + timedelta(days=20)
                at(_at(review_day, 10, rng), lambda s, k=k, r=reviewer, d=new_deadline: ledger.reject(
                    s, ledger.get_user(s, r), codes[k], reason="整改不彻底，联锁装置未投用", deadline=d))
                submit_day = new_deadline - timedelta(days=rng.randint(0, 10))
                continue
            at(_at(review_day, 10, rng), lambda s, k=k, r=reviewer: ledger.approve(
                s, ledger.get_user(s, r), codes[k], reason="现场复核整改到位，同意销号"))
            break
    return steps


def run_demo(engine: Engine, *, reset: bool, n_enterprises: int, n_hazards: int, seed: int,
             console: Console, today: date | None = None, sweeps: bool = True) -> dict[str, Any]:
    bootstrap()  # the demo's ledger calls write their notices and escalation cycles
    init_database(engine)
    with Session(engine) as s:
        existing = s.exec(select(func.count()).select_from(Hazard)).one()
    if existing and not reset:
        raise HazardLoopError(f"数据库中已有 {existing} 条隐患；演示不会覆盖已有数据。如确需重建，请加 --reset。")
    if reset:
        reset_database(engine)
        init_database(engine)
    rng = random.Random(seed)
    end = today or clock.today()
    with Session(engine) as s, clock.frozen(datetime(2023, 1, 2, 9, tzinfo=clock.SHANGHAI)):
        people = seed_people(s, rng)
        enterprises = seed_enterprises(s, rng, n_enterprises)
        s.commit()
        with tempfile.TemporaryDirectory() as tmp:
            steps = plan_hazard_walks(s, rng, enterprises, n_hazards, people, end, Path(tmp))
            heapq.heapify(steps)
            refused = 0
            issued: Counter = Counter()
            swept_until = date(2023, 1, 1)
            factory = lambda: Session(engine.execution_options(hazardloop_write=True),  # noqa: E731
                                      expire_on_commit=False)
            while steps:
                step = heapq.heappop(steps)
                day = clock.local_date(step.when)
                if sweeps and day > swept_until + timedelta(days=1):
                    # the daily escalation sweep, every working day between the demo's actions
                    issued.update(run_sweeps(_committing(factory), swept_until + timedelta(days=1),
                                             day - timedelta(days=1)))
                    swept_until = day - timedelta(days=1)
                clock.set_fixed(step.when)
                try:
                    with Session(engine.execution_options(hazardloop_write=True), expire_on_commit=False) as w:
                        step.action(w)
                        w.commit()
                except HazardLoopError:
                    refused += 1  # e.g. an extension decided after the hazard moved on
            if sweeps and swept_until < end:
                issued.update(run_sweeps(_committing(factory), swept_until + timedelta(days=1), end))
    seed_public_reports(engine, random.Random(f"{seed}-reports"), end)
    seed_principal_inspections(engine, random.Random(f"{seed}-inspections"), end)
    summary = summarise(engine, console, end)
    summary["campaigns"] = campaign_demo.seed(engine, rng, end, console)  # 五项整治 (issue 19)
    summary["refused"] = refused
    summary["documents"] = dict(issued)
    if sweeps:
        _print_documents(console, issued, engine)
        summary["plans"] = plan_demo.seed(engine, end)  # a year of action plans (issue 18), before the bulletin
        summary["bulletin"] = _issue_bulletin(engine, console, end)
    return summary


# --- the clerk's demo (issue 15): 举报 behind the 群众举报查实 hazards, principal-led inspections -----------

REPORT_WORDING = {"phone": "群众来电反映：{ent}{title}，存在较大安全风险，请尽快核查。",
                  "platform": "网上举报：{ent}{title}，企业长期未整改。",
                  "letter": "来信举报{ent}：{title}。",
                  "visit": "群众来访反映：{ent}{title}。"}


def _write(engine: Engine, when: datetime, action: Callable[[Session], Any]) -> None:
    clock.set_fixed(when)
    with Session(engine.execution_options(hazardloop_write=True), expire_on_commit=False) as w:
        action(w)
        w.commit()


def seed_public_reports(engine: Engine, rng: random.Random, end: date) -> int:
    """Each 群众举报查实 hazard gets the 举报 it came from, handled as the office handles one: received a few
    days before the hazard was recorded, accepted, verified by the industry's department (属实, linked to
    the hazard), answered to the reporter.  Some reporters give their name (stored encrypted); most do not.
    Written after the walk, so these audit events follow the hazards' in sequence though dated before."""
    from hazardloop.intake import reports

    with Session(engine) as s:
        rows = s.exec(select(Hazard, Enterprise, Industry).join(Enterprise, Enterprise.id == Hazard.enterprise_id)
                      .join(Industry, Industry.code == Enterprise.industry_code)
                      .where(Hazard.channel == "public_report").order_by(Hazard.id)).all()
        citizens = [u.username for u in s.exec(select(AppUser).where(AppUser.role == "public")).all()]
    done = 0
    with clock.frozen(end):  # each write below sets its own time; the clock is restored at the end
        for hazard, ent, industry in rows:
            found = clock.to_local(hazard.found_at)
            received = (found - timedelta(days=rng.randint(3, 6))).replace(hour=rng.randint(8, 16),
                                                                          minute=rng.randint(0, 59))
            named = rng.random() < 0.35
            via = rng.choices(["platform", "phone", "letter", "visit"], [55, 30, 10, 5])[0]
            content = REPORT_WORDING[via].format(ent=ent.name, title=hazard.title)
            by = rng.choice(citizens) if via == "platform" and citizens else "office_yang"
            box: dict[str, Any] = {}

            def submit(s: Session) -> None:
                r = reports.submit(s, ledger.get_user(s, by), content=content, enterprise=ent.credit_code,
                                   location=hazard.location, reporter_name=_person(rng) if named else None,
                                   reporter_contact=_phone(rng) if named else None, via=via)
                box["code"] = r.code

            _write(engine, received, submit)
            _write(engine, received + timedelta(days=1), lambda s: reports.accept(
                s, ledger.get_user(s, "office_yang"), box["code"]))
            verifier = f"sup_{industry.department_code}"
            _write(engine, received + timedelta(days=2), lambda s: reports.start_verification(
                s, ledger.get_user(s, verifier), box["code"]))
            _write(engine, found + timedelta(minutes=30), lambda s: reports.verify(
                s, ledger.get_user(s, verifier), box["code"], verdict="true",
                note="现场核查属实，已按重大事故隐患登记", hazard=hazard.code))
            answered = found + timedelta(days=rng.randint(2, 8))
            if answered.date() <= end:
                _write(engine, answered, lambda s: reports.give_feedback(
                    s, ledger.get_user(s, "office_yang"), box["code"],
                    text=f"您反映的问题经核查属实，已列为重大事故隐患（{hazard.code}）督促整改。"))
            done += 1
    return done


def seed_principal_inspections(engine: Engine, rng: random.Random, end: date) -> int:
    """Principal-led inspections (主要负责人带队检查) from the assessment's start to today: most
    enterprises inspect in every period (quarterly; high-risk industries monthly), a few miss some, and
    the current period is half done — so the 红黑榜 and `inspection missing` have something true to say."""
    from hazardloop.reports import inspections

    cfg = inspections.load_config()
    with Session(engine) as s:
        ents = s.exec(select(Enterprise, Industry).join(Industry, Industry.code == Enterprise.industry_code)
                      .order_by(Enterprise.id)).all()
    findings = ("检查了重点部位和特殊作业管理，未发现重大事故隐患", "检查发现消防通道堆放杂物，已当场整改",
                "检查了安全生产责任制落实情况，督促完善隐患排查台账", "检查了应急预案演练记录，要求补充演练")
    planned: list[tuple[datetime, int, Callable[[Session], Any]]] = []
    for ent, industry in ents:
        diligent = rng.random()  # how reliably this principal inspects
        for period in inspections.periods_between(cfg.start, end, bool(industry.high_risk)):
            current = period.end >= end
            if rng.random() > (0.5 if current else 0.55 + 0.42 * diligent):
                continue
            last = min(period.end, end - timedelta(days=1))
            if last < period.start:
                continue
            day = period.start + timedelta(days=rng.randint(0, (last - period.start).days))
            when = datetime.combine(day, time(17, rng.randint(0, 59)), tzinfo=clock.SHANGHAI)
            leader = ent.principal if rng.random() < 0.9 else ent.controller

            def record(s: Session, ent_id=ent.id, day=day, leader=leader) -> None:
                inspections.record(s, ledger.get_user(s, f"ent{ent_id}"), enterprise=ent_id, inspected_on=day,
                                   led_by=leader, findings=rng.choice(findings), hazards_found=0)

            planned.append((when, ent.id, record))
    with clock.frozen(end):
        for when, _, action in sorted(planned, key=lambda p: (p[0], p[1])):
            try:
                _write(engine, when, action)
            except HazardLoopError:
                pass  # e.g. an enterprise without its own user: skipped, as a clerk would
    return len(planned)


def _issue_bulletin(engine: Engine, console: Console, end: date) -> dict[str, Any]:
    """Last month's bulletin, as the monthly flow issues it: the lagging regions and departments
    evaluated month by month first (their letters numbered and queued), then the 月通报 itself."""
    from hazardloop.models.lagging import LagStep
    from hazardloop.reports import bulletin_issue

    month = calendar.previous_month(calendar.month_of(end))
    with Session(engine.execution_options(hazardloop_write=True), expire_on_commit=False) as s, \
            clock.frozen(datetime(end.year, end.month, end.day, 9, tzinfo=clock.SHANGHAI)):
        issued = bulletin_issue.issue(s, month, issue_date=end)
        s.commit()
        lag = Counter(s.exec(select(LagStep.name)).all())
    t = Table(title="落后单位督办（至上月）", min_width=30)  # the title is wider than its two columns
    t.add_column("措施")
    t.add_column("份数", justify="right")
    for name, count in lag.items():
        t.add_row(name, str(count))
    console.print(t)
    number = issued.document.number
    console.print(f"{month} 月通报：{number}，发往 {issued.units} 个成员单位（{issued.queued} 条通知）；"
                  f"阅读：hazardloop document show {number} --html", highlight=False, soft_wrap=True)
    return {"number": number, "units": issued.units, "lagging_steps": dict(lag)}


@contextlib.contextmanager
def _session(factory: Callable[[], Session]) -> Iterator[Session]:
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _committing(factory: Callable[[], Session]) -> Callable[[], Any]:
    return lambda: _session(factory)


def _print_documents(console: Console, issued: Counter, engine: Engine) -> None:
    t = Table(title="督办扫描出具的文书与提醒（按日模拟）", min_width=44)
    t.add_column("类型")
    t.add_column("份数", justify="right")
    for name, count in issued.items():
        t.add_row(name, str(count))
    console.print(t)
    with Session(engine) as s:
        sample = s.exec(select(Document.number).order_by(Document.id.desc()).limit(1)).first()
    if sample:
        console.print(f"阅读文书：hazardloop document list，或 hazardloop document show {sample}", highlight=False,
                      soft_wrap=True)
    console.print("待发送的通知：hazardloop outbox list；投递：hazardloop outbox dispatch（演示渠道写入 "
                  "$HAZARDLOOP_HOME 下的文件）", highlight=False, soft_wrap=True)


def summarise(engine: Engine, console: Console, as_of: date) -> dict[str, Any]:
    with Session(engine) as s, clock.frozen(datetime.combine(as_of, time(18), tzinfo=clock.SHANGHAI)):
        hazards = s.exec(select(Hazard)).all()
        by_state = Counter(h.state for h in hazards)
        by_channel = Counter(h.channel for h in hazards)
        regions = {r.code: r.name for r in s.exec(select(Region)).all()}
        by_region = Counter(h.region_code for h in hazards)
        open_by_region = Counter(h.region_code for h in hazards if h.state not in ("closed", "dismissed"))
        overdue = [h for h in hazards if ledger.is_overdue(h)]
        overdue_by_region = Counter(h.region_code for h in overdue)
        stock_open = sum(1 for h in hazards if clock.local_date(h.found_at).year <= 2023
                         and h.state not in ("closed", "dismissed"))
        verify = audit.verify(s)
        n_ent = s.exec(select(func.count()).select_from(Enterprise)).one()

    console.print(f"\n[bold]肥城市重大事故隐患台账（截至 {as_of.isoformat()}）[/]：企业 {n_ent} 家，隐患 {len(hazards)} 条")
    t = Table(title="按状态")
    t.add_column("状态")
    t.add_column("数量", justify="right")
    for state in STATE_NAMES:
        t.add_row(STATE_NAMES[state], str(by_state.get(state, 0)))
    t.add_row("[red]其中逾期未整改[/]", str(len(overdue)))
    console.print(t)
    t = Table(title="按发现渠道")
    t.add_column("渠道")
    t.add_column("数量", justify="right")
    for ch, name in CHANNELS.items():
        t.add_row(name, str(by_channel.get(ch, 0)))
    console.print(t)
    t = Table(title="按镇街区")
    for col in ("镇街区", "隐患", "未销号", "逾期"):
        t.add_column(col, justify="right" if col != "镇街区" else "left")
    for code, name in regions.items():
        t.add_row(name, str(by_region.get(code, 0)), str(open_by_region.get(code, 0)), str(overdue_by_region.get(code, 0)))
    console.print(t)
    console.print(f"2023 年及以前发现的存量隐患尚未销号：{stock_open} 条（动态清零目标：0）")
    console.print(("[green]" if verify.ok else "[bold red]") + verify.message() + "[/]")
    return {"hazards": len(hazards), "by_state": dict(by_state), "overdue": len(overdue),
            "audit_ok": verify.ok, "audit_events": verify.checked}

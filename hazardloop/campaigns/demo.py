"""Demo data for the five special campaigns: inventories in every campaign across the regions,
底数, checks by the township officers over the last months, problems rectified and verified,
some left overdue, one raised into the major-hazard ledger, and the problems' ladder swept.

Called by hazardloop.demo after its hazards are walked; every action goes through the same
functions and guards as the CLI and the console, each in its own transaction, in time order
under a frozen clock.
"""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from hazardloop.campaigns import inventory, problems
from hazardloop.config import clock
from hazardloop.errors import HazardLoopError
from hazardloop.escalation import problems as problem_ladder
from hazardloop.models.tables import AppUser, Enterprise, Industry, Standard
from hazardloop.reports import campaigns as numbers
from hazardloop.states import ledger

PER_CAMPAIGN = 14
TEXT = {
    "address": "{region}{n}号", "location": "{site}东侧", "space_name": "{n}号污水收集池", "space_no": "YX-{n:03d}",
    "project_name": "{site}{n}号厂房检修项目", "site_name": "{region}闲置厂房{n}号", "village": "{region}第{n}村",
    "owner": "{person}", "tenant": "", "actual_use": "仓储", "contractor": "肥城市安建工程有限公司",
    "contractor_name": "肥城市安建工程有限公司", "contractor_qualification": "建筑施工安全生产许可证（有效）",
}
PEOPLE = "王建国 李志强 张明华 刘丽娟 陈海涛 杨春生 赵振华 黄光明 周晓军 吴立新".split()


def _value(f: Any, rng: random.Random, ctx: dict[str, Any], day: date) -> Any:
    if f.code in ctx:
        return ctx[f.code]
    if f.type == "int":
        return rng.randint(1, 12)
    if f.type == "date":
        return (day - timedelta(days=rng.randint(0, 60))).isoformat()
    if f.type == "choice":
        return rng.sample(list(f.choices), k=min(2, len(f.choices))) if f.multiple else rng.choice(f.choices)
    if "phone" in f.code:
        return f"138{rng.randint(10000000, 99999999)}"
    if f.code in ("responsible_person", "safety_contact", "site_manager", "guardian", "employer_contact",
                  "contractor_site_manager", "checker"):
        return rng.choice(PEOPLE)
    pattern = TEXT.get(f.code, "{site}")
    return pattern.format(region=ctx["_region_name"], n=ctx["_n"], site=ctx["_site"], person=rng.choice(PEOPLE))


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=clock.SHANGHAI)


def seed(engine: Engine, rng: random.Random, end: date, console: Console) -> dict[str, Any]:
    """Seed all five campaigns; returns what was done (printed as a table too)."""
    factory = lambda: Session(engine.execution_options(hazardloop_write=True), expire_on_commit=False)  # noqa: E731
    done: Counter = Counter()
    cfg = inventory.load()
    start = end - timedelta(days=75)
    with factory() as s:
        ents = s.exec(select(Enterprise)).all()
        industries = {i.code: i for i in s.exec(select(Industry)).all()}
        standards = s.exec(select(Standard.code)).all()
        region_names = inventory.Lookups.of(s).region_names
        users = {u.username for u in s.exec(select(AppUser)).all()}
    if not ents:
        return {}
    plans: list[tuple[date, str, dict[str, Any], Enterprise]] = []
    for c in cfg.campaigns:
        for n in range(1, PER_CAMPAIGN + 1):
            ent = rng.choice(ents)
            ctx = {"unit_name": ent.name, "employer_name": ent.name, "credit_code": ent.credit_code,
                   "employer_credit_code": ent.credit_code, "region": ent.region_code,
                   "industry": ent.industry_code if ent.industry_code in industries else "other",
                   "_region_name": region_names.get(ent.region_code, ""), "_n": n, "_site": ent.name[3:9]}
            if c.code == "idle_sites":  # sites belong to a village or a landlord, not an enterprise
                ctx = {k: v for k, v in ctx.items() if k not in ("credit_code", "unit_name")}
            day = start + timedelta(days=rng.randint(0, 40))
            values = {f.code: _value(f, rng, ctx, day) for f in c.fields}
            plans.append((day, c.code, values, ent))
    plans.sort(key=lambda p: p[0])
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "现场照片.jpg"
        photo.write_bytes(b"\xff\xd8\xff\xe0 demo photo")
        raised = False
        for day, code, values, ent in plans:
            town = f"town_{values['region']}"
            if town not in users:
                continue
            try:
                with factory() as s, clock.frozen(_at(day, 9)):
                    actor = ledger.get_user(s, town)
                    obj, _ = inventory.register(s, actor, code, values)
                    if code == "confined_space" or rng.random() < 0.5:
                        inventory.set_baseline(s, actor, code, obj.region_code,
                                               len(inventory.list_objects(s, campaign_code=code,
                                                                          region=obj.region_code)) + rng.randint(0, 2))
                        done["baselines"] += 1
                    s.commit()
                    done["objects"] += 1
                    obj_id = obj.id
                if rng.random() > 0.8:
                    continue  # not yet checked
                check_day = day + timedelta(days=rng.randint(1, 10))
                c = cfg.get(code)
                results = {i.no: rng.choices(["met", "not_met", "na"], [85, 10, 5])[0] for i in c.items}
                with factory() as s, clock.frozen(_at(check_day, 10)):
                    _, found = problems.record_check(
                        s, ledger.get_user(s, town), obj_id, results, photos=[(None, photo, "现场照片.jpg")],
                        deadline=check_day + timedelta(days=cfg.default_days))
                    s.commit()
                    done["checks"] += 1
                    done["problems"] += len(found)
                    found_ids = [(p.id, p.enterprise_id, p.department_code) for p in found]
                for pid, ent_id, dept in found_ids:
                    fate = rng.random()
                    sup = f"sup_{dept}" if dept and f"sup_{dept}" in users else None
                    if not raised and ent_id and sup and standards:
                        with factory() as s, clock.frozen(_at(check_day + timedelta(days=2), 11)):
                            problems.raise_major(s, ledger.get_user(s, sup), pid, basis_code=rng.choice(standards),
                                                 basis_clause="第五条", reason="经现场核查，构成重大事故隐患",
                                                 level="city")
                            s.commit()
                        raised = True
                        done["raised"] += 1
                        continue
                    if fate < 0.6:
                        fix_day = check_day + timedelta(days=rng.randint(3, 12))
                        if fix_day >= end:
                            continue
                        rectifier = f"ent{ent_id}" if ent_id and f"ent{ent_id}" in users else town
                        verifier = town if rectifier != town else (sup or "office_yang")
                        with factory() as s, clock.frozen(_at(fix_day, 15)):
                            problems.rectify(s, ledger.get_user(s, rectifier), pid, note="已按要求整改",
                                             evidence=[(photo, "整改后照片.jpg")])
                            if verifier and fate < 0.5:
                                problems.verify(s, ledger.get_user(s, verifier), pid)
                                done["closed"] += 1
                            s.commit()
            except HazardLoopError:
                done["refused"] += 1
    with factory() as s, clock.frozen(_at(end, 8)):
        swept = problem_ladder.sweep(s, end)
        s.commit()
        done["ladder_steps"] = len(swept.steps)
        done["ladder_letters"] = swept.documents
        table = numbers.compute(s, end, "campaign")
    t = Table(title=f"五项整治（截至 {end}）")
    for col in ("专项整治", "已登记", "底数", "检查", "发现问题隐患", "已销号", "逾期", "升级为重大隐患"):
        t.add_column(col)
    for r in [*table.rows, table.total]:
        t.add_row(r.name, str(r.surveyed), "—" if r.baseline is None else str(r.baseline), str(r.checks), str(r.found),
                  str(r.closed), str(r.overdue), str(r.raised))
    console.print(t, width=max(console.width, 140))
    console.print(f"问题隐患督办：{done['ladder_steps']} 项（督办通知 {done['ladder_letters']} 份）；"
                  f"查看：hazardloop campaign stats、hazardloop campaign problem list --overdue", highlight=False,
                  soft_wrap=True)
    return dict(done)

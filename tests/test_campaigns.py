"""The special campaigns (五项整治, issue 19): config, inventories, 赋码 with QR codes, checks,
the problems' loop, raising into the major-hazard ledger, the short ladder, the numbers."""

from __future__ import annotations

import re
import stat
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import segno
from PIL import Image
from sqlalchemy import text
from sqlmodel import select

from hazardloop.campaigns import coding, inventory, problems
from hazardloop.config import campaigns as config
from hazardloop.config import clock
from hazardloop.errors import NotFound, ValidationError
from hazardloop.escalation import problems as problem_ladder
from hazardloop.intake.excel import ImportRejected
from hazardloop.models import audit
from hazardloop.models.campaigns import CampaignObject, CampaignProblem, ProblemStep
from hazardloop.models.tables import AuditEvent, Hazard, Notification
from hazardloop.reports import bulletin
from hazardloop.reports import campaigns as numbers
from hazardloop.states import ledger
from hazardloop.states.errors import InvalidTransition, MissingData, PermissionDenied
from tests.fixtures_web import browser, live, web, web_sqlite, csrf_of  # noqa: F401

HD = "91370983MA3C0001AY"  # 恒达化工, 石横镇, chemical (应急管理局)
SPACE = dict(unit_name="肥城市恒达化工有限公司", credit_code=HD, region="石横镇", industry="化工和危险化学品",
             space_name="1号污水收集池", space_no="WS-01", location="污水处理站东侧", space_type="地下有限空间",
             hazards="中毒、缺氧窒息", risk_level="较大风险", warning_sign="是", locked="否", coded="否",
             isolation="盲板抽堵", work_mode="外包作业", rescue_equipment="部分", responsible_person="孙立新",
             phone="13805380003", last_identified_on="2026-10-01", checked_on="2026-11-20")


def _sheet(tmp_path: Path, *rows: dict) -> Path:
    return inventory.write_template("confined_space", tmp_path / "有限空间台账.xlsx", list(rows))


# --- config -------------------------------------------------------------------------------------


def test_the_five_campaigns_load_with_their_checklists_and_provenance():
    cfg = config.load()
    assert [c.paragraph for c in cfg.campaigns] == [26, 27, 28, 29, 30]
    counts = {c.code: len(c.items) for c in cfg.campaigns}
    assert counts["welding"] == 20 and counts["confined_space"] == 18 and counts["work_at_height"] == 9
    space = cfg.get("confined_space")
    assert space.item(1).source == "原文¶27" and not space.item(1).to_check
    assert space.item(12).source.startswith("重构") and space.item(12).to_check  # reconstructed: flagged


def test_a_bad_campaigns_file_is_refused_with_its_line(tmp_path):
    good = config.DEFAULT_FILE.read_text(encoding="utf-8")
    bad = good.replace('{"no": 3, text: 规范设置警示标志', '{"no": 4, text: 规范设置警示标志', 1)
    with pytest.raises(config.CampaignConfigError) as err:
        config.parse(bad, "campaigns.yaml")
    line = next(i for i, s in enumerate(bad.splitlines(), 1) if '{"no": 4, text: 规范设置警示标志' in s)
    assert f"第 {line} 行" in str(err.value) and "此处应为 3" in str(err.value)
    with pytest.raises(config.CampaignConfigError, match="第 .* 行：字段类型应为"):
        config.parse(good.replace("type: int, required: true}", "type: number, required: true}", 1))


# --- inventory and 赋码 ---------------------------------------------------------------------------


def test_import_is_validated_row_by_row_and_writes_nothing_on_a_bad_row(org, tmp_path):
    bad = _sheet(tmp_path, SPACE, {**SPACE, "space_no": "WS-02", "risk_level": "很大", "locked": ""})
    with org.session() as s:
        with pytest.raises(ImportRejected) as err:
            inventory.import_sheet(s, org.user(s, "town_shiheng"), "confined_space", bad)
        lines = [p.line() for p in err.value.problems]
        assert any(l.startswith("第 4 行") and "风险等级" in l and "'很大' 不是可选项" in l for l in lines)
        assert any(l.startswith("第 4 行") and "是否上锁" in l and "必填项为空" in l for l in lines)
        s.rollback()
    with org.session() as s:
        assert s.exec(select(CampaignObject)).all() == []
        with pytest.raises(ImportRejected) as err:  # the same space twice in one sheet
            inventory.import_sheet(s, org.user(s, "office1"), "confined_space",
                                   _sheet(tmp_path, SPACE, {**SPACE, "space_no": "ws-01"}))
        assert [p.line() for p in err.value.problems] == ["第 4 行｜—｜与第 3 行是同一对象（所属单位名称、有限空间编号相同）"]
        with pytest.raises(PermissionDenied):  # an enterprise does not import the township's sheet
            inventory.import_sheet(s, org.user(s, "xy_safety"), "confined_space", _sheet(tmp_path, SPACE))


def _decode_modules(png: bytes, scale: int, border: int) -> list[list[bool]]:
    """Read the dark modules back from a segno PNG (scale px per module, border modules around)."""
    import io

    img = Image.open(io.BytesIO(png)).convert("L")
    n = img.width // scale - 2 * border
    return [[img.getpixel(((border + x) * scale + scale // 2, (border + y) * scale + scale // 2)) < 128
             for x in range(n)] for y in range(n)]


def test_campaign_end_to_end(web, tmp_path):  # noqa: F811
    """Inventory import → QR label that resolves → a phone check with two failed items (photo)
    → one problem rectified and closed → one raised to a major hazard that then runs the
    major-hazard loop to its close-out; the audit chain holds."""
    db = web.db
    with db.session() as s:
        inventory.set_baseline(s, db.user(s, "town_shiheng"), "confined_space", "石横镇", 12)
        result = inventory.import_sheet(s, db.user(s, "town_shiheng"), "confined_space",
                                        _sheet(tmp_path, SPACE, {**SPACE, "space_no": "WS-02", "space_name": "2号池"}))
        s.commit()
    assert len(result.created) == 2
    code = result.created[0]
    assert re.fullmatch(r"YXKJ-\d{4}-\d{6}", code)
    with db.session() as s:  # the same sheet again: nothing new, the codes stay
        again = inventory.import_sheet(s, db.user(s, "town_shiheng"), "confined_space",
                                       _sheet(tmp_path, SPACE, {**SPACE, "space_no": "WS-02", "space_name": "2号池"}))
        s.commit()
    assert again.created == [] and sorted(again.unchanged) == sorted(result.created)

    # The QR code encodes the record's URL: read the modules back from the PNG and compare them with
    # segno's encoding of exactly that URL (and of nothing else).
    url = coding.object_url(code, "http://127.0.0.1:8000")
    png = coding.qr_png(code, "http://127.0.0.1:8000", scale=6)
    read_back = _decode_modules(png, 6, 4)
    assert read_back == [list(map(bool, row)) for row in segno.make_qr(url, error="m", boost_error=False).matrix]
    assert read_back != [list(map(bool, row)) for row in
                         segno.make_qr(url.replace(code, result.created[1]), error="m", boost_error=False).matrix]
    town = web.login("town_shiheng")
    page = town.get(url.removeprefix("http://127.0.0.1:8000"))
    assert page.status_code == 200 and code in page.text and "1号污水收集池" in page.text
    assert 'accept="image/*" capture="environment"' in page.text
    label = town.get(f"/c/{code}/label")
    assert label.status_code == 200 and "data:image/svg+xml" in label.text
    assert web.login("xy_safety").get(f"/c/{code}").status_code == 404  # another enterprise's: not there

    # The check on the phone form: items 5 (上锁) and 6 (赋码) not met, one photo, assigned at once.
    c = inventory.campaign("confined_space")
    form = {f"item_{i.no}": "met" for i in c.items} | {"item_5": "not_met", "item_6": "not_met", "item_18": "na",
                                                        "note_5": "人孔未上锁", "csrf_token": csrf_of(page.text),
                                                        "responsible": "孙立新",
                                                        "deadline": (clock.today() + timedelta(days=10)).isoformat()}
    done = town.post(f"/c/{code}/check", data=form, files={"photo_5": ("manhole.jpg", b"\xff\xd8\xff fake jpeg", "image/jpeg")})
    assert done.status_code == 303, done.text[:400]
    with db.session() as s:
        found = problems.list_problems(s, object_id=inventory.get_object(s, code).id)
        assert [(p.item_no, p.state, p.responsible) for p in found] == [(5, "rectifying", "孙立新"),
                                                                        (6, "rectifying", "孙立新")]
        stored = Path(problems.photos_of(s, found[0].id)[0].stored_path)
        # a photo is evidence: private like every other stored file (issue 13)
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600 and stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
        first, second = found[0].code, found[1].code

    # Problem 1: the enterprise rectifies with a photo; the township verifies and closes it.
    photo = tmp_path / "locked.jpg"
    photo.write_bytes(b"\xff\xd8\xff after")
    with db.session() as s:
        with pytest.raises(InvalidTransition):
            problems.verify(s, db.user(s, "town_shiheng"), first)
        problems.rectify(s, db.user(s, "hd_safety"), first, note="已加装挂锁", evidence=[(photo, "locked.jpg")])
        s.commit()
    with db.session() as s:
        with pytest.raises(PermissionDenied):
            problems.verify(s, db.user(s, "xy_safety"), first)
        s.rollback()
    with db.session() as s:
        problems.verify(s, db.user(s, "town_shiheng"), first)
        s.commit()

    # Problem 2: judged major, raised by the township officer with its basis; the department confirms.
    with db.session() as s:
        p2, hazard = problems.raise_major(s, db.user(s, "town_shiheng"), second, basis_code="CHEM121",
                                          basis_clause="第十条", reason="涉及有毒有害气体，未赋码未上锁，构成重大事故隐患")
        hazard_id = hazard.id
        s.commit()
    with db.session() as s:
        h = ledger.get_hazard(s, hazard_id)
        assert (h.state, h.channel, h.basis_code, h.enterprise_id is not None) == ("found", "inspection", "CHEM121", True)
        assert problems.problem_of_hazard(s, hazard_id).code == second  # linked both ways
        assert problems.get_problem(s, second).hazard_id == hazard_id
        trail = [e.action for e in s.exec(select(AuditEvent).where(AuditEvent.hazard_id == hazard_id).order_by(AuditEvent.seq)).all()]
        assert trail == ["report", "problem_raise_major"]
        sup, ent = db.user(s, "sup_yingji"), db.user(s, "hd_safety")
        ledger.confirm(s, sup, hazard_id, basis_code="CHEM121", basis_clause="第十条", level="city")
        ledger.plan(s, ent, hazard_id, responsible_person="孙立新", measures="加装挂锁并赋码", funds="3000",
                    deadline=clock.today() + timedelta(days=20), emergency_plan="有限空间中毒窒息专项预案")
        ledger.submit(s, ent, hazard_id, evidence=[photo])
        ledger.approve(s, sup, hazard_id)
        s.commit()
    with db.session() as s:
        assert ledger.get_hazard(s, hazard_id).state == "closed"
        states = {p.code: p.state for p in problems.list_problems(s)}
        assert states == {first: "closed", second: "raised"}
        table = numbers.compute(s, clock.today(), "campaign")
        row = next(r for r in table.rows if r.key == "confined_space")
        assert (row.surveyed, row.baseline, row.checks, row.found, row.closed, row.raised, row.overdue) == \
            (2, 12, 1, 2, 1, 1, 0)
        assert audit.verify(s).ok
        problem_page = town.get(f"/campaigns/problems/{second}")
        assert h.code in problem_page.text or ledger.get_hazard(s, hazard_id).code in problem_page.text


def test_the_short_ladder_climbs_once_per_cycle_and_pauses_when_rectified(org, tmp_path):
    with org.session() as s:
        town = org.user(s, "town_shiheng")
        obj, _ = inventory.register(s, town, "confined_space", SPACE)
        c = inventory.campaign("confined_space")
        results = {i.no: "met" for i in c.items} | {3: "not_met"}
        _, (p,) = problems.record_check(s, town, obj.code, results, deadline=clock.today() + timedelta(days=3))
        s.commit()
        pid, deadline = p.id, clock.local_date(p.deadline)
    late = deadline + timedelta(days=20)
    with org.session() as s:
        first = problem_ladder.sweep(s, late)
        s.commit()
    assert [x["step"] for x in first.steps] == ["reminder", "overdue_notice", "supervision"]
    with org.session() as s:
        again = problem_ladder.sweep(s, late)  # idempotent
        s.commit()
        assert again.steps == []
        letter = s.exec(select(ProblemStep).where(ProblemStep.problem_id == pid, ProblemStep.kind == "letter")).one()
        assert letter.number.startswith("肥安办督〔") and "已逾期" in problem_ladder.stored_letter(letter)
        sent = s.exec(select(Notification).where(Notification.event == "problem_escalation")).all()
        assert {n.recipient_role for n in sent} >= {"safety_manager", "township", "department"}
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "problem_step_issued")).all()
        assert len(events) == 3


def test_bulletin_campaign_numbers_are_recomputed_from_the_raw_rows(org, tmp_path):
    """The month's 五项整治 block equals counts taken straight from the tables with SQL."""
    month_end = date(2026, 10, 31)
    with org.session() as s, clock.frozen(datetime(2026, 10, 10, 9, tzinfo=clock.SHANGHAI)):
        town = org.user(s, "town_shiheng")
        inventory.set_baseline(s, town, "confined_space", "shiheng", 5)
        objs = [inventory.register(s, town, "confined_space", {**SPACE, "space_no": f"WS-{i}"})[0] for i in range(3)]
        c = inventory.campaign("confined_space")
        for k, obj in enumerate(objs):
            res = {i.no: "met" for i in c.items} | {i: "not_met" for i in range(1, k + 2)}
            problems.record_check(s, town, obj.code, res, deadline=date(2026, 10, 20))
        s.commit()
    with org.session() as s, clock.frozen(datetime(2026, 10, 15, 9, tzinfo=clock.SHANGHAI)):
        p = problems.list_problems(s)[0]
        problems.rectify(s, org.user(s, "town_shiheng"), p.code, note="已整改",
                         evidence=[(tmp_path / "x.jpg", "x.jpg")] if (tmp_path / "x.jpg").write_bytes(b"x") else [])
        problems.verify(s, org.user(s, "sup_yingji"), p.code)
        s.commit()
    with org.session() as s, clock.frozen(datetime(2026, 11, 5, 9, tzinfo=clock.SHANGHAI)):  # after the month
        obj, _ = inventory.register(s, org.user(s, "town_shiheng"), "confined_space", {**SPACE, "space_no": "WS-9"})
        s.commit()
    with org.session() as s:
        html = bulletin.render(s, "2026-10")
        cutoff = clock.end_of_day_utc(month_end)
        q = lambda sql: s.execute(text(sql), {"c": cutoff}).scalar()  # noqa: E731
        expected = {
            "surveyed": q("select count(*) from campaign_object where campaign='confined_space' and created_at <= :c"),
            "baseline": q("select sum(expected) from campaign_baseline where campaign='confined_space'"),
            "checks": q("select count(*) from campaign_check where campaign='confined_space' and checked_at <= :c"),
            "found": q("select count(*) from campaign_problem where campaign='confined_space' and found_at <= :c"),
            "closed": q("select count(*) from campaign_problem where campaign='confined_space' and closed_at <= :c"),
            "overdue": q("select count(*) from campaign_problem where campaign='confined_space' and found_at <= :c "
                         "and deadline < :c and (closed_at is null or closed_at > :c) "
                         "and (raised_at is null or raised_at > :c) and (rectified_at is null or rectified_at > :c)"),
            "raised": q("select count(*) from campaign_problem where campaign='confined_space' and raised_at <= :c"),
        }
    assert expected == {"surveyed": 3, "baseline": 5, "checks": 3, "found": 6, "closed": 1, "overdue": 5, "raised": 0}
    section = html[html.index('<table id="campaigns">'):]
    row = re.search(r"<tr><td class=\"name\">有限空间作业专项整治</td>(.*?)</tr>", section).group(1)
    cells = [int(x) for x in re.findall(r"<td>(\d+)</td>", row)]
    assert cells == [expected[k] for k in ("surveyed", "baseline", "checks", "found", "closed", "overdue", "raised")]


def test_a_problem_without_a_registered_enterprise_cannot_be_raised(org):
    with org.session() as s:
        town = org.user(s, "town_shiheng")
        obj, _ = inventory.register(s, town, "confined_space", {**SPACE, "credit_code": "", "unit_name": "某村集体污水站"})
        c = inventory.campaign("confined_space")
        _, (p,) = problems.record_check(s, town, obj.code, {i.no: "met" for i in c.items} | {4: "not_met"})
        with pytest.raises(Exception, match="没有关联到已登记的企业"):
            problems.raise_major(s, town, p.code, basis_code="CHEM121", basis_clause="第十条", reason="x")
        with pytest.raises(NotFound):
            inventory.view_object(s, org.user(s, "xy_safety"), obj.code)
        with pytest.raises(MissingData, match="尚未填写"):
            problems.record_check(s, town, obj.code, {1: "met"})


@pytest.mark.slow
def test_phone_checklist_page_at_390px(browser, live, tmp_path):  # noqa: F811
    """The township officer on a phone: opens the space by its QR URL, ticks the checklist (two not
    met), attaches a photo to item 5, saves; the page shows the problems; nothing overflows 390 px."""
    from tests.fixtures_web import browser_sign_in, screenshot_dir

    base, db = live
    with db.session() as s:
        obj, _ = inventory.register(s, db.user(s, "town_shiheng"), "confined_space", SPACE)
        s.commit()
        code = obj.code
    photo = tmp_path / "manhole.jpg"
    Image.new("RGB", (8, 8), "gray").save(photo)
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    browser_sign_in(page, base, "town_shiheng")
    page.goto(coding.object_url(code, base))
    assert page.locator("#object-code").inner_text() == code
    c = inventory.campaign("confined_space")
    for it in c.items:
        value = "not_met" if it.no in (5, 6) else "met"
        page.locator(f'#item-{it.no} input[value="{value}"]').check()
    page.set_input_files("input[name=photo_5]", str(photo))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide on a 390px phone"
    page.screenshot(path=str(screenshot_dir("campaigns") / "checklist-390.png"), full_page=False)
    page.click("#check-submit")
    page.wait_for_url(f"{base}/c/{code}?done=check")
    assert "检查已保存" in page.locator("#notice").inner_text()
    assert page.locator("a[href^='/campaigns/problems/WT-']").count() == 2
    assert not [e for e in errors if "Content Security Policy" in e]
    with db.session() as s:
        found = problems.list_problems(s)
        assert [p.item_no for p in found] == [5, 6]
        assert len(problems.photos_of(s, found[0].id)) == 1
    ctx.close()


def test_the_command_line_imports_checks_raises_and_counts(db, capsys, monkeypatch, tmp_path):
    import json

    from tests.conftest import ORG_FILE
    from tests.helpers import cli_runner

    cli = cli_runner(db.url, capsys, monkeypatch)
    cli("init")
    assert cli("org", "load", str(ORG_FILE), "--privileged")[0] == 0
    bad = _sheet(tmp_path, {**SPACE, "risk_level": "??"})
    code, _, err = cli("campaign", "import", "confined_space", str(bad), "--actor", "town_shiheng")
    assert code == 1 and "第 3 行｜J 列（风险等级）｜'??' 不是可选项" in err
    code, out, err = cli("campaign", "import", "confined_space", str(_sheet(tmp_path, SPACE)), "--actor",
                         "town_shiheng", "--json")
    assert code == 0, err
    obj = json.loads(out)["created"][0]
    code, out, err = cli("campaign", "check", obj, "--actor", "town_shiheng", "--rest", "met", "--item", "5=not_met",
                         "--deadline", (clock.today() + timedelta(days=5)).isoformat(), "--json")
    assert code == 0, err
    (problem,) = json.loads(out)["problems"]
    code, _, err = cli("campaign", "problem", "verify", problem["code"], "--actor", "town_shiheng")
    assert code == 1 and "不能执行“验收销号”" in err and "verify" not in err
    code, out, err = cli("campaign", "problem", "raise", problem["code"], "--actor", "sup_yingji", "--basis", "CHEM121",
                         "--clause", "第十条", "--reason", "构成重大事故隐患", "--level", "city")
    assert code == 0 and "已挂牌" in out, err
    code, out, _ = cli("campaign", "stats", "--by", "region", "--json")
    shiheng = next(r for r in json.loads(out)["rows"] if r["key"] == "shiheng")
    assert (shiheng["surveyed"], shiheng["checks"], shiheng["found"], shiheng["raised"]) == (1, 1, 1, 1)
    assert cli("campaign", "label", obj, "--out", str(tmp_path / "x.txt"))[0] == 2


def test_an_object_is_edited_on_the_web_and_keeps_its_code(web):  # noqa: F811
    with web.db.session() as s:
        obj, _ = inventory.register(s, web.db.user(s, "town_shiheng"), "confined_space", SPACE)
        other, _ = inventory.register(s, web.db.user(s, "town_shiheng"), "confined_space", {**SPACE, "space_no": "WS-07"})
        s.commit()
        code, version = obj.code, obj.version
    town = web.login("town_shiheng")
    page = town.get(f"/c/{code}/edit")
    assert page.status_code == 200 and 'name="f_locked"' in page.text
    form = {"csrf_token": csrf_of(page.text), "version": str(version), "f_locked": "是", "f_risk_level": "一般风险"}
    assert town.post(f"/c/{code}/edit", data=form).status_code == 303
    clash = town.post(f"/c/{code}/edit", data={**form, "version": str(version + 1), "f_space_no": "WS-07"})
    assert clash.status_code == 422 and f"与 {other.code} 是同一对象" in clash.text
    stale = town.post(f"/c/{code}/edit", data={**form, "f_risk_level": "低风险"})  # the version read before the edit
    assert stale.status_code == 409
    with web.db.session() as s:
        obj = inventory.get_object(s, code)
        assert (obj.code, obj.fields["locked"], obj.fields["risk_level"]) == (code, "是", "一般风险")
        edits = s.exec(select(AuditEvent).where(AuditEvent.action == "campaign_object_edit")).all()
        assert edits[-1].before["fields"] == {"locked": "否", "risk_level": "较大风险"}
    assert web.login("xy_safety").get(f"/c/{code}/edit").status_code == 404


def test_an_inventory_sheet_is_imported_on_the_console(web, tmp_path):  # noqa: F811
    town = web.login("town_shiheng")
    page = town.get("/campaigns/confined_space")
    assert page.status_code == 200 and 'id="import-form"' in page.text
    bad = _sheet(tmp_path, SPACE, {**SPACE, "space_no": "WS-02", "locked": "也许"})
    refused = town.post("/campaigns/confined_space/import", data={"csrf_token": csrf_of(page.text)},
                        files={"file": ("有限空间台账.xlsx", bad.read_bytes(), "application/octet-stream")})
    assert refused.status_code == 422 and "第 4 行｜L 列（是否上锁）｜&#39;也许&#39; 不是可选项" in refused.text
    with web.db.session() as s:
        assert inventory.list_objects(s) == []
    done = town.post("/campaigns/confined_space/import", data={"csrf_token": csrf_of(page.text), "skip_invalid": "1"},
                     files={"file": ("有限空间台账.xlsx", bad.read_bytes(), "application/octet-stream")})
    assert done.status_code == 200 and "新登记 1" in done.text and "跳过 1" in done.text
    assert "import-form" not in web.login("xy_safety").get("/campaigns/confined_space").text



def test_problems_waiting_for_a_user_are_in_their_queue(web, tmp_path):  # noqa: F811
    with web.db.session() as s:
        town = web.db.user(s, "town_shiheng")
        obj, _ = inventory.register(s, town, "confined_space", SPACE)
        c = inventory.campaign("confined_space")
        _, (p,) = problems.record_check(s, town, obj.code, {i.no: "met" for i in c.items} | {3: "not_met"},
                                        deadline=clock.today() + timedelta(days=5))
        s.commit()
    assert "queue-problem-rectify" in web.login("hd_safety").get("/queue").text
    assert "queue-problem" not in web.login("xy_safety").get("/queue").text
    (tmp_path / "sign.jpg").write_bytes(b"\xff\xd8 sign")
    with web.db.session() as s:
        problems.rectify(s, web.db.user(s, "hd_safety"), p.code, note="已设置警示标志",
                         evidence=[(tmp_path / "sign.jpg", "sign.jpg")])
        s.commit()
    queue = web.login("town_shiheng").get("/queue").text
    assert "queue-problem-verify" in queue and p.code in queue


def test_every_code_a_person_reads_has_its_chinese_label():
    import ast

    from hazardloop.config import labels
    from hazardloop.states import problem_machine

    assert set(problem_machine.STATES) == set(labels.PROBLEM_STATES)
    assert {t["trigger"] for t in problem_machine.TRANSITIONS} == set(labels.PROBLEM_TRIGGERS)
    assert {f"problem_{t}" for t in labels.PROBLEM_TRIGGERS} <= set(labels.AUDIT_ACTIONS)
    assert {s.code for s in config.load().steps} <= set(labels.PROBLEM_STEPS)
    # every audit action the campaign modules write (action="...") is in the one table
    root = Path(__file__).resolve().parent.parent / "hazardloop"
    written = set()
    for path in [*(root / "campaigns").glob("*.py"), root / "escalation" / "problems.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "action" and isinstance(node.value, ast.Constant):
                written.add(node.value.value)
    assert written and written <= set(labels.AUDIT_ACTIONS), written - set(labels.AUDIT_ACTIONS)


def test_the_problem_sweep_is_a_daily_deployment_that_skips_non_working_days():
    from hazardloop.flows.campaigns import problem_sweep_flow
    from hazardloop.flows.deployments import all_deployments

    deps = {d.name: d for d in all_deployments()}
    sched = deps["daily-campaign-problem-sweep"].schedules[0].schedule
    assert sched.cron == "20 8 * * *" and sched.timezone == "Asia/Shanghai"
    # a Sunday: the flow's own body returns before touching any database
    assert problem_sweep_flow.fn(as_of="2026-11-29", db_url="sqlite:////nonexistent/x.sqlite") == \
        {"as_of": "2026-11-29", "skipped": True}

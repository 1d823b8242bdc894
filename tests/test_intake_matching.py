"""Real sheets from real units (issue 16): industries and towns as people write them, a department
as 上报单位, holding values the office resolves, a dry run that counts what the real run does, merge
proposals that can be done, imported close-outs shown as 导入销号 and sent to review — with .xlsx
files built by openpyxl in the shapes units send."""

from __future__ import annotations

import json
from datetime import date

import openpyxl
import pytest
from sqlmodel import select

from hazardloop.config import clock
from hazardloop.intake import excel, holding, merge as merging
from hazardloop.models.intake import ImportRow
from hazardloop.reports import stats
from hazardloop.models.tables import AuditEvent, Enterprise, Hazard
from hazardloop.states import ledger
from hazardloop.states.errors import InvalidTransition, PermissionDenied
from hazardloop.states.machine import replay
from tests.conftest import ORG_FILE
from tests.fixtures_intake import HEADERS, _fresh_rules, read_back, row, write_sheet  # noqa: F401
from tests.helpers import cli_runner

TODAY = date(2026, 11, 20)


@pytest.fixture(autouse=True)
def _frozen():
    with clock.frozen(TODAY):
        yield


def _import(org, path, **kw):
    with org.session() as s:
        out = excel.import_sheet(s, ledger.get_user(s, "office1"), path, **kw)
        s.commit()
    return out


def _ent(org, name):
    with org.session() as s:
        return s.exec(select(Enterprise).where(Enterprise.name == name)).one()


def test_industries_as_people_write_them(org, tmp_path):
    rows = [
        row(seq=1, name="肥城市金泰危化品经营有限公司", industry="危险化学品", unit="石横镇", desc="储罐区未设置泄漏报警装置"),
        row(seq=2, name="肥城市宏建建筑有限公司", industry="建筑施工", unit="高新区", desc="高大模板支撑体系未经论证"),
        # the umbrella 工贸 with a name that tells the member (机械)
        row(seq=3, name="肥城市鑫达机械有限公司", industry="工贸", unit="王庄镇", desc="冲压设备光电保护失效"),
        # the umbrella with a name that does not: held in 工贸（待细分） and listed for follow-up
        row(seq=4, name="肥城市恒泰实业有限公司", industry="工贸行业", unit="湖屯镇", desc="除尘系统未设置锁气卸灰装置"),
        # containment: a longer cell that holds one catalogue entry's name
        row(seq=5, name="肥城市远达粉体有限公司", industry="粉尘涉爆企业（木粉）", unit="孙伯镇", desc="除尘器未设泄爆装置"),
    ]
    out = _import(org, write_sheet(tmp_path / "ind.xlsx", rows))
    assert (out.created, out.enterprises_created, out.invalid) == (5, 5, 0)
    got = {n: _ent(org, n).industry_code for n in ("肥城市金泰危化品经营有限公司", "肥城市宏建建筑有限公司",
                                                  "肥城市鑫达机械有限公司", "肥城市恒泰实业有限公司", "肥城市远达粉体有限公司")}
    assert got == {"肥城市金泰危化品经营有限公司": "chemical", "肥城市宏建建筑有限公司": "construction",
                   "肥城市鑫达机械有限公司": "machinery", "肥城市恒泰实业有限公司": "gongmao_pending",
                   "肥城市远达粉体有限公司": "dust_explosion"}
    report = out.report()
    # the row report says what each cell was matched to
    assert "“危险化学品” → 化工和危险化学品（常用名）：第 4 行" in report
    assert "“建筑施工” → 房屋市政工程（常用名）" in report
    assert "“工贸” → 机械（统称，按企业名称细分）" in report
    assert "“粉尘涉爆企业（木粉）” → 粉尘涉爆（包含关系）" in report
    assert "行业领域“工贸行业”为统称，记入工贸（待细分），待细分" in report and "第 7 行" in report
    # the hazard of a held industry is supervised by the umbrella's department, not lost
    with org.session() as s:
        h = s.exec(select(Hazard).join(Enterprise, Enterprise.id == Hazard.enterprise_id)
                   .where(Enterprise.name == "肥城市恒泰实业有限公司")).one()
        assert (h.industry_code, h.supervising_department) == ("gongmao_pending", "yingji")


def test_unresolvable_cells_get_a_suggestion(org, tmp_path):
    rows = [row(seq=1, name="肥城市某某有限公司", industry="危险化学", unit="石横镇", desc="某隐患"),
            row(seq=2, name="肥城市另一有限公司", industry="航空航天", unit="石横镇", desc="另一隐患"),
            row(seq=3, name="肥城市第三有限公司", industry="机械", unit="石横镇", desc="第三隐患")]
    headers = HEADERS + ["所属镇街区"]
    rows[2] = rows[2] + ["石衡镇"]  # a typo of 石横镇
    with pytest.raises(excel.ImportRejected) as err:
        _import(org, write_sheet(tmp_path / "bad.xlsx", rows, headers=headers))
    msg = str(err.value)
    # 危险化学 is contained in one entry's name: matched, not refused
    assert "第 4 行" not in msg
    assert "第 5 行｜C 列（行业领域）｜新企业“肥城市另一有限公司”的行业领域“航空航天”无法识别" in msg
    assert "第 6 行｜R 列（所属镇街区）｜新企业“肥城市第三有限公司”的所属镇街区“石衡镇”无法识别：是否为 石横镇" in msg


def test_department_as_reporting_unit(org, tmp_path):
    headers = HEADERS + ["企业地址"]
    rows = [
        # the town is in the enterprise's name
        row(seq=1, unit="市应急管理局", name="山东石横特钢集团有限公司", industry="冶金", desc="煤气柜区域未设置固定式报警仪") + [None],
        # the town is in its address
        row(seq=2, unit="肥城市住建局", name="肥城市顺达建设有限公司", industry="建筑", desc="深基坑未按方案支护")
        + ["肥城市王庄镇工业园8号"],
        # neither: held in 待确认镇街区, listed for the office
        row(seq=3, unit="应急局", name="肥城市宏远商贸有限公司", industry="商贸", desc="冷库液氨管道腐蚀") + [None],
    ]
    out = _import(org, write_sheet(tmp_path / "dept.xlsx", rows, headers=headers))
    assert (out.created, out.invalid) == (3, 0)
    assert _ent(org, "山东石横特钢集团有限公司").region_code == "shiheng"
    assert _ent(org, "肥城市顺达建设有限公司").region_code == "wangzhuang"
    held = _ent(org, "肥城市宏远商贸有限公司")
    assert held.region_code == "pending_region"
    report = out.report()
    assert "所属镇街区按企业名称“山东石横特钢集团有限公司” → 石横镇（企业名称中的镇街区）" in report
    assert "所属镇街区按企业地址“肥城市王庄镇工业园8号” → 王庄镇（企业地址中的镇街区）" in report
    assert "上报单位“应急局”不是镇街区" in report and "记入待确认镇街区" in report
    # the office lists and resolves it; the enterprise and its hazard follow, each write audited
    with org.session() as s:
        items = holding.pending(s)
        assert [(p.enterprise, p.region_pending) for p in items] == [("肥城市宏远商贸有限公司", True)]
        with pytest.raises(PermissionDenied):
            holding.resolve(s, ledger.get_user(s, "sup_yingji"), held.id, region="湖屯镇")
        done = holding.resolve(s, ledger.get_user(s, "office1"), held.id, region="湖屯")
        s.commit()
    assert done["changed"] == {"region_code": "hutun"} and len(done["hazards"]) == 1
    with org.session() as s:
        h = s.exec(select(Hazard).where(Hazard.enterprise_id == held.id)).one()
        assert (h.region_code, h.version) == ("hutun", 2)
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "holding_resolved",
                                             AuditEvent.hazard_id == h.id)).one()
        assert ev.before == {"region_code": "pending_region"} and ev.after == {"region_code": "hutun"}
        assert holding.pending(s) == []


def test_pending_and_resolve_by_command(db, capsys, monkeypatch, tmp_path):
    run = cli_runner(db.url, capsys, monkeypatch)
    assert run("init")[0] == 0 and run("org", "load", str(ORG_FILE), "--privileged")[0] == 0
    sheet = write_sheet(tmp_path / "u.xlsx", [row(unit="市应急管理局", name="肥城市恒泰实业有限公司", industry="工贸",
                                                  desc="除尘系统未设置锁气卸灰装置")])
    code, out, err = run("ledger", "import", str(sheet), "--actor", "office1", "--json")
    assert code == 0, err
    doc = json.loads(out)
    notes = [f["note"] for f in doc["follow_up"]]
    assert len(notes) == 2 and notes[0].startswith("行业领域“工贸”为统称") and notes[1].startswith("上报单位“市应急管理局”")
    code, out, _ = run("ledger", "pending", "--actor", "office1")
    assert code == 0 and "肥城市恒泰实业有限公司" in out and "镇街区待确认" in out and "待细分（可选：冶金、有色" in out
    assert run("ledger", "pending", "--actor", "citizen1")[0] == 1
    code, out, err = run("ledger", "resolve", "肥城市恒泰实业有限公司", "--actor", "office1", "--industry", "工贸")
    assert code == 1 and "仍是统称" in err
    code, out, err = run("ledger", "resolve", "肥城市恒泰实业有限公司", "--actor", "office1", "--region", "桃园镇",
                         "--industry", "商贸企业")
    assert code == 0, err
    assert "随之更新隐患 1 条" in out
    with db.session() as s:
        h = s.exec(select(Hazard)).one()
        # trade is supervised by 市商务局: the hazard follows its industry's department
        assert (h.region_code, h.industry_code, h.supervising_department) == ("taoyuan", "trade", "shangwu")
    assert "没有待确认镇街区" in run("ledger", "pending", "--actor", "office1")[1]


def test_dry_run_reports_exactly_what_the_real_run_does(org, tmp_path):
    # two rows already in the ledger (imported before), then a sheet with them, an in-sheet duplicate,
    # new rows, a rectified row, a new enterprise, a held town and a look-alike of a ledger hazard
    first = write_sheet(tmp_path / "first.xlsx", [row(seq=1), row(seq=2, desc="配电室无应急照明")])
    assert _import(org, first).created == 2
    with org.session() as s:
        ledger.report(s, ledger.get_user(s, "inspector1"), enterprise="91370983MA3C0002B3",
                      title="冲压设备光电保护装置失效", channel="inspection")
        s.commit()
    rows = [row(seq=1), row(seq=2, desc="配电室无应急照明"),
            row(seq=3, desc="液氨管道未设置紧急切断阀"), row(seq=4, desc="液氨管道未设置紧急切断阀"),
            row(seq=5, name="肥城市鑫源机械制造有限公司", industry="机械", desc="冲压设备光电保护装置已失效"),
            row(seq=6, name="肥城市新兴粉体材料有限公司", industry="粉尘涉爆", unit="市应急局", desc="除尘系统未设置锁气卸灰装置",
                rectified="是", done="2026-11-01")]
    path = write_sheet(tmp_path / "second.xlsx", rows)
    dry = _import(org, path, dry_run=True)
    with org.session() as s:
        assert s.exec(select(ImportRow)).all().__len__() == 2  # the dry run wrote nothing
    real = _import(org, path)
    keys = ("created", "existing", "invalid", "enterprises_created", "closed_imported")
    assert [getattr(dry, k) for k in keys] == [getattr(real, k) for k in keys] == [3, 3, 0, 1, 1]
    assert dry.new_enterprises == real.new_enterprises == ["肥城市新兴粉体材料有限公司"]
    assert dry.follow_up == real.follow_up and len(real.follow_up) == 1
    assert [(p.row, p.other) for p in dry.possible_duplicates] == [(p.row, p.other) for p in real.possible_duplicates]
    assert "将新建隐患 3 条" in dry.report() and "新建隐患 3 条" in real.report()


def test_merge_proposed_only_when_it_can_be_done(org, tmp_path):
    with org.session() as s:
        office = ledger.get_user(s, "office1")
        confirmed = ledger.report(s, office, enterprise="91370983MA3C0001AY", title="液氨储罐区未设置泄漏报警装置",
                                  channel="inspection")
        ledger.confirm(s, ledger.get_user(s, "sup_yingji"), confirmed.id, basis_code="CHEM121", basis_clause="第十条",
                       level="city")
        found = ledger.report(s, office, enterprise="91370983MA3C0002B3", title="冲压设备光电保护装置失效",
                              channel="inspection")
        s.commit()
        confirmed_code, found_code = confirmed.code, found.code
    rows = [
        # closed by the import itself, like a confirmed hazard: neither could be the duplicate
        row(seq=1, rectified="是", done="2026-10-20"),
        # closed by the import, like a found hazard: the found one is the duplicate
        row(seq=2, name="肥城市鑫源机械制造有限公司", industry="机械", desc="冲压设备光电保护装置失效", rectified="是",
            done="2026-10-20"),
    ]
    out = _import(org, write_sheet(tmp_path / "m.xlsx", rows))
    assert [(p.row, p.kept, p.duplicate) for p in out.possible_duplicates] == [(5, out.created_codes[1], found_code)]
    assert confirmed_code not in out.report()
    # and the proposal can be carried out as printed
    with org.session() as s:
        p = out.possible_duplicates[0]
        merging.merge(s, ledger.get_user(s, "office1"), p.kept, p.duplicate)
        s.commit()
        assert ledger.get_hazard(s, found_code).state == "dismissed"


def test_shapes_units_send(org, tmp_path):
    """Merged title rows, a two-level header, 上报单位 and 企业名称 merged down over their rows,
    text dates in several spellings, totals and subtotal rows, a footer."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "10月明细"
    ws.append(["石横镇重大事故隐患排查及整改情况明细表（2026年10月）"])
    ws.merge_cells("A1:Q1")
    ws.append(["填报单位：石横镇应急办", None, None, None, None, None, None, None, None, None, None, None, "单位：条"])
    top = HEADERS[:12] + ["整改情况", None] + HEADERS[14:]
    sub = [None] * 12 + ["是否整改", "实际整改完成时间"] + [None] * 3
    ws.append(top)
    ws.append(sub)
    ws.merge_cells("M3:N3")
    data = [
        row(seq=1, unit="石横镇", name="肥城市恒达化工有限公司", desc="液氨储罐区未设置泄漏报警装置", date="2026年10月8日"),
        row(seq=2, unit=None, name=None, desc="罐区防火堤破损", date="2026.10.9", rectified="已整改", done="2026年10月30日"),
        row(seq=3, unit=None, name="肥城市石横永兴机械有限公司", industry="工贸", desc="行车制动器失效", date="20261012"),
        ["", "石横镇", None, None, "小计", None, "3", None, None, None, None, None, None, None, None, None, None],
        ["合计", None, None, None, None, None, "3 条", None, None, None, None, None, None, None, None, None, None],
        ["填表人：王五", None, None, "审核人：赵六"],
    ]
    for r in data:
        ws.append(r)
    ws.merge_cells("B5:B7")  # 上报单位 over the town's three rows
    ws.merge_cells("E5:E6")  # one enterprise, two hazards
    path = tmp_path / "shapes.xlsx"
    wb.save(path)
    out = _import(org, path)
    assert (out.rows, out.created, out.invalid, out.closed_imported) == (3, 3, 0, 1)
    with org.session() as s:
        hs = s.exec(select(Hazard).order_by(Hazard.id)).all()
        assert [h.enterprise_id for h in hs][:2] == [hs[0].enterprise_id] * 2  # the merged name filled down
        assert [clock.local_date(h.found_at) for h in hs] == [date(2026, 10, 8), date(2026, 10, 9), date(2026, 10, 12)]
        assert [h.state for h in hs] == ["found", "closed", "found"]
        new = s.exec(select(Enterprise).where(Enterprise.name == "肥城市石横永兴机械有限公司")).one()
        assert (new.region_code, new.industry_code) == ("shiheng", "machinery")


def test_short_name_matches_the_known_enterprise(org, tmp_path):
    out = _import(org, write_sheet(tmp_path / "short.xlsx", [row(name="恒达化工", desc="气化炉联锁被摘除")]))
    assert out.enterprises_created == 0
    assert "“恒达化工” → 肥城市恒达化工有限公司（企业简称）" in out.report()
    with org.session() as s:
        assert s.exec(select(Hazard)).one().enterprise_id == ledger.get_enterprise(s, "91370983MA3C0001AY").id


def test_imported_close_shown_as_such_and_sent_to_review(org, tmp_path):
    out = _import(org, write_sheet(tmp_path / "c.xlsx", [row(rectified="是", done="2026-10-20")]))
    code = out.created_codes[0]
    exported = tmp_path / "out.xlsx"
    with org.session() as s:
        excel.export_sheet(s, ledger.get_user(s, "office1"), exported)
        s.commit()
    headers, rows, _ = read_back(exported)
    assert rows[0][headers.index("状态")] == "已销号（导入销号）"
    with org.session() as s:
        t = stats.compute(s).total
        assert (t.closed, t.closed_imported) == (1, 1)
    with org.session() as s:
        assert [h.code for h in holding.pending_imported_closes(s, ledger.get_user(s, "office1"))] == [code]
        with pytest.raises(PermissionDenied):
            holding.send_to_review(s, ledger.get_user(s, "sup_yingji"), code)
    with org.session() as s:
        holding.send_to_review(s, ledger.get_user(s, "office1"), code, "抽查导入销号")
        s.commit()
    with org.session() as s:
        # the sender counts as the submitter: another regulator reviews it
        with pytest.raises(PermissionDenied):
            ledger.approve(s, ledger.get_user(s, "office1"), code)
    with org.session() as s:
        ledger.approve(s, ledger.get_user(s, "sup_yingji"), code)
        s.commit()
        with pytest.raises(InvalidTransition):  # reviewed now: no second trip
            holding.send_to_review(s, ledger.get_user(s, "office1"), code)
        acts = [e.action for e in s.exec(select(AuditEvent).where(AuditEvent.hazard_id == ledger.get_hazard(s, code).id)
                                         .order_by(AuditEvent.seq)).all()]
        assert acts == ["report", "close_imported", "review_imported", "approve"]
        assert replay(acts[1:]) == "closed"
        excel.export_sheet(s, ledger.get_user(s, "office1"), exported)
    headers, rows, _ = read_back(exported)
    assert rows[0][headers.index("状态")] == "已销号（审核销号）"
    with org.session() as s:
        t = stats.compute(s).total
        assert (t.closed, t.closed_imported) == (1, 0)


def test_other_wordings_of_headers_and_cells(org, tmp_path):
    """Headers and cells as other units word them: 报送单位 / 行业类别 / 被检查单位 / 存在问题 / 排查方式 /
    排查日期 / 整改状态 / 整改完成日期; 已整改完毕, 正在整改中; a span of inspection days."""
    headers = ["序号", "报送单位", "行业类别", "被检查单位", "存在问题", "排查方式", "排查日期", "整改状态", "整改完成日期"]
    rows = [
        [1, "石横镇", "危化品", "肥城市恒达化工有限公司", "液氨储罐区未设置泄漏报警装置", "督导检查", "2026.10.8-10.9",
         "已整改完毕", "2026年10月20日"],
        [2, "石横镇", "危化品", "肥城市恒达化工有限公司", "罐区防火堤破损", "执法检查", "2026年10月12日至14日", "正在整改中", None],
    ]
    out = _import(org, write_sheet(tmp_path / "words.xlsx", rows, headers=headers))
    assert (out.created, out.invalid, out.closed_imported) == (2, 0, 1)
    with org.session() as s:
        hs = s.exec(select(Hazard).order_by(Hazard.id)).all()
        assert [(clock.local_date(h.found_at), h.state) for h in hs] == [(date(2026, 10, 8), "closed"),
                                                                         (date(2026, 10, 12), "found")]


def test_batched_similarity_agrees_with_merge_similarity():
    """The import's shortcut (bounds before the sequence ratio) gives merge.similarity's score
    wherever that score reaches the floor, and never lifts a pair over it."""
    import random

    from hazardloop.intake.excel import _Similarity

    texts = ["液氨储罐区未设置泄漏报警装置", "储罐区液氨泄漏报警装置未设置", "除尘系统未设置锁气卸灰装置", "冲压设备光电保护失效",
             "配电室无应急照明", "防爆区域使用非防爆电气", "有限空间作业未审批", "Ａ区 液氨 储罐"]
    rnd, sim = random.Random(16), _Similarity()
    for _ in range(2000):
        a = rnd.choice(texts) + rnd.choice(["", f"（第{rnd.randint(1, 30)}处）"])
        b = rnd.choice(texts) + rnd.choice(["", f"（第{rnd.randint(1, 30)}处）"])
        floor = rnd.choice([0.55, 0.7, 0.9])
        exact, got = merging.similarity(a, b), sim(a, b, floor)
        assert (got >= floor) == (exact >= floor)
        if exact >= floor:
            assert got == pytest.approx(exact)

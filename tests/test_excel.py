"""Excel import/export of 重大事故隐患排查及整改情况明细表, with real .xlsx files (openpyxl)."""

from __future__ import annotations

from datetime import date, datetime

import openpyxl
import pytest
from sqlmodel import select

from hazardloop.config import clock
from hazardloop.reports import stats
from hazardloop.intake import excel
from hazardloop.models import audit
from hazardloop.errors import ValidationError
from hazardloop.models.intake import ImportBatch
from hazardloop.models.tables import AuditEvent, Enterprise, Hazard
from hazardloop.states import ledger
from hazardloop.states.machine import TRANSITIONS, replay
from hazardloop.states.errors import PermissionDenied
from tests.fixtures_intake import HEADERS, _fresh_rules, read_back, row, write_sheet  # noqa: F401
from tests.helpers import rectifying

TODAY = date(2026, 11, 20)
TRIGGERS = {t["trigger"] for t in TRANSITIONS}


@pytest.fixture(autouse=True)
def _frozen():
    with clock.frozen(TODAY):
        yield


def _import(org, path, **kw):
    with org.session() as s:
        out = excel.import_sheet(s, ledger.get_user(s, "office1"), path, **kw)
        s.commit()
    return out


def _messy_rows():
    return [
        row(seq=1),
        # full-width digits and a Chinese-typed date, a self-inspection at another enterprise
        row(seq=2, name="肥城市鑫源机械制造有限公司", industry="机械", unit="新城街道", desc="冲压设备光电保护装置失效",
            method="企业自查", date="２０２６年９月３日", basis="工贸企业重大事故隐患判定标准", clause="第六条第（三）项"),
        # an Excel serial date in a text column, rectified with a slashed completion date
        row(seq=3, desc="脚手架连墙件缺失", name="肥城市泰和建筑工程有限公司", industry="房屋市政工程", unit="高新区",
            date=46270, rectified="是", done="2026/10/20", method="执法检查"),
        # an enterprise nobody knows yet: created from the sheet
        row(seq=4, name="肥城市新兴粉体材料有限公司", industry="粉尘涉爆", unit="王庄镇", desc="除尘系统未设置锁气卸灰装置",
            date=datetime(2026, 10, 9, 0, 0), method="群众举报", note="举报查实"),
    ]


def test_import_tolerant_sheet_then_reimport_is_noop(org, tmp_path):
    order = [0, 4, 1, 2, 3, 6, 5, 9, 8, 7, 10, 11, 12, 13, 14, 15, 16]  # shuffled columns
    path = write_sheet(tmp_path / "明细表.xlsx", _messy_rows(), order=order, blank_after=(1,), footer=True)
    out = _import(org, path)
    assert (out.rows, out.created, out.existing, out.invalid, out.enterprises_created) == (4, 4, 0, 0, 1)
    assert out.new_enterprises == ["肥城市新兴粉体材料有限公司"] and "将按表格新建的企业" in out.report()
    with org.session() as s:
        hazards = {h.description: h for h in s.exec(select(Hazard)).all()}
        assert hazards["冲压设备光电保护装置失效"].channel == "self_inspection"
        assert clock.local_date(hazards["冲压设备光电保护装置失效"].found_at) == date(2026, 9, 3)
        assert clock.local_date(hazards["脚手架连墙件缺失"].found_at) == date(2026, 9, 5)  # serial 46270
        assert hazards["除尘系统未设置锁气卸灰装置"].channel == "public_report"
        assert hazards["液氨储罐区未设置泄漏报警装置"].basis_code == "CHEM121"
        assert hazards["冲压设备光电保护装置失效"].basis_code == "MEM10"
        new_ent = s.exec(select(Enterprise).where(Enterprise.name == "肥城市新兴粉体材料有限公司")).one()
        assert new_ent.region_code == "wangzhuang" and new_ent.industry_code == "dust_explosion"
        # the rectified row (是否整改=是, 2026/10/20) is a historical close-out, through the machine;
        # the others are found.  Every one was reported through the ledger ("report" + reported event).
        done = hazards.pop("脚手架连墙件缺失")
        assert done.state == "closed" and clock.local_date(done.closed_at) == date(2026, 10, 20)
        assert done.closed_by == "office1" and done.confirmed_at is None
        assert all(h.state == "found" for h in hazards.values())
        for h in [done, *hazards.values()]:
            events = s.exec(select(AuditEvent).where(AuditEvent.hazard_id == h.id).order_by(AuditEvent.seq)).all()
            actions = [e.action for e in events]
            assert actions == (["report", "close_imported"] if h is done else ["report"])
            assert events[0].after["import_batch"] == out.batch_id and events[0].after["sheet_row"]
            assert replay([a for a in actions if a in TRIGGERS]) == h.state
        close = s.exec(select(AuditEvent).where(AuditEvent.action == "close_imported")).one()
        assert close.after["completed_on"] == "2026-10-20" and "实际整改完成时间 2026-10-20" in close.reason
    # statistics from the trail see the imported close-out as closed (not on time: no submission)
    with org.session(write=False) as s:
        total = stats.compute(s, clock.today(), "region").total
        assert (total.found, total.closed, total.open, total.closed_on_time) == (4, 1, 3, 0)
    again = _import(org, path)
    assert (again.created, again.existing, again.enterprises_created) == (0, 4, 0)
    with org.session() as s:
        assert len(s.exec(select(Hazard)).all()) == 4
        assert len(s.exec(select(ImportBatch)).all()) == 2
        assert audit.verify(s).ok


def test_invalid_rows_reported_in_chinese_and_nothing_imported(org, tmp_path):
    rows = _messy_rows() + [
        row(seq=5, date="下个月", desc="某问题"),
        row(seq=6, name="", desc=""),
        row(seq=7, rectified="是", done=None, desc="已整改却无完成时间"),
        row(seq=8, name="肥城市无名公司", industry="航天", unit="市应急局", desc="某隐患"),
        row(seq=9, method="猜测", desc="方式不明"),
    ]
    path = write_sheet(tmp_path / "bad.xlsx", rows)
    with pytest.raises(excel.ImportRejected) as err:
        _import(org, path)
    msg = str(err.value)
    # the header is on sheet row 3 (two title rows), so data row n sits on row n + 3
    assert "第 8 行｜J 列（检查时间）｜检查时间“下个月”不是可识别的日期" in msg
    assert "第 9 行｜E 列（企业名称）｜企业名称为空" in msg and "第 9 行｜G 列" in msg
    assert "第 10 行｜N 列（实际整改完成时间）｜已整改的隐患须填写实际整改完成时间" in msg
    assert "第 11 行｜C 列（行业领域）｜新企业“肥城市无名公司”的行业领域“航天”无法识别" in msg
    # a department as 上报单位 no longer refuses the row (the town is inferred or held: test_intake_matching.py)
    assert "第 11 行｜" not in msg.replace("第 11 行｜C 列", "")
    assert "第 12 行｜H 列（检查方式）｜无法识别的检查方式“猜测”" in msg
    assert "未导入任何数据" in msg
    with org.session() as s:
        assert s.exec(select(Hazard)).all() == [] and s.exec(select(ImportBatch)).all() == []
    out = _import(org, path, skip_invalid=True)
    assert (out.created, out.invalid) == (4, 5)


def test_credit_code_column_matches_and_validates(org, tmp_path):
    headers = HEADERS + ["统一社会信用代码"]
    good = row(name="恒达化工（简称）") + ["９１３７０９８３ＭＡ３Ｃ０００１ＡＹ"]  # full-width code, other name
    bad = row(seq=2, desc="另一隐患") + ["91370983MA3C0001AX"]
    path = write_sheet(tmp_path / "codes.xlsx", [good, bad], headers=headers, title=False)
    with pytest.raises(excel.ImportRejected, match="校验位错误"):
        _import(org, path)
    path = write_sheet(tmp_path / "codes.xlsx", [good], headers=headers, title=False)
    out = _import(org, path)
    assert out.enterprises_created == 0
    with org.session() as s:
        h = s.exec(select(Hazard)).one()
        assert s.get(Enterprise, h.enterprise_id).credit_code == "91370983MA3C0001AY"


def test_malformed_files(org, tmp_path):
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"this is not a zip file")
    with pytest.raises(ValidationError, match="不是可读取的 .xlsx"):
        _import(org, junk)
    wb = openpyxl.Workbook()
    wb.active.append(["姓名", "电话", "地址"])
    wb.save(tmp_path / "other.xlsx")
    with pytest.raises(ValidationError, match="没有找到"):
        _import(org, tmp_path / "other.xlsx")
    path = write_sheet(tmp_path / "nodate.xlsx", [row()], headers=[h if h != "检查时间" else "备用" for h in HEADERS])
    with pytest.raises(ValidationError, match="缺少列：检查时间"):
        _import(org, path)


def test_only_the_office_imports(org, tmp_path):
    path = write_sheet(tmp_path / "a.xlsx", [row()])
    with org.session() as s:
        with pytest.raises(PermissionDenied):
            excel.import_sheet(s, ledger.get_user(s, "sup_yingji"), path)


def test_export_format_and_reimport_is_noop(org, tmp_path):
    path = write_sheet(tmp_path / "in.xlsx", _messy_rows())
    _import(org, path)
    with clock.frozen(date(2026, 10, 1)), org.session() as s:
        hid = rectifying(s, days=10)  # deadline 2026-10-11, overdue by TODAY
    out = tmp_path / "out" / "台账.xlsx"
    with org.session() as s:
        result = excel.export_sheet(s, ledger.get_user(s, "office1"), out)
        s.commit()
    assert result.rows == 5 and result.escalations_available and "列为空" not in result.message()
    header, rows, ws = read_back(out)
    assert header[:2] == ["序号", "上报单位"] and "重大隐患描述（举报问题描述）" in header
    for extra in ("状态", "整改期限", "逾期天数", "督办级别", "已采取督办措施", "隐患编号"):
        assert extra in header
    assert ws.freeze_panes == "B2"
    assert ws.column_dimensions["A"].width == 6 and ws.column_dimensions["G"].width == 50
    col = {h: i for i, h in enumerate(header)}
    listed_row = next(r for r in rows if r[col["状态"]] == "整改中")
    assert listed_row[col["整改期限"]] == datetime(2026, 10, 11)  # a real date, not text
    assert ws.cell(row=2, column=col["检查时间"] + 1).number_format == "yyyy-mm-dd"
    assert listed_row[col["逾期天数"]] == (TODAY - date(2026, 10, 11)).days
    assert listed_row[col["督办级别"]] == "市级" and listed_row[col["整改措施"]] == "加装泄漏报警并联锁"
    assert all(r[col["已采取督办措施"]] is None for r in rows)
    assert isinstance(rows[0][col["检查时间"]], datetime)
    closed_row = next(r for r in rows if r[col["状态"]] == "已销号（导入销号）")  # the imported historical close-out
    assert closed_row[col["是否整改"]] == "是" and closed_row[col["实际整改完成时间"]] == datetime(2026, 10, 20)
    # reading the export back creates nothing
    again = _import(org, out)
    assert (again.created, again.existing, again.invalid) == (0, 5, 0)
    with org.session() as s:
        assert len(s.exec(select(Hazard)).all()) == 5
        assert ledger.get_hazard(s, hid).state == "rectifying"


def test_export_filters_and_scope(org, tmp_path):
    _import(org, write_sheet(tmp_path / "in.xlsx", _messy_rows()))
    with org.session() as s:
        r = excel.export_sheet(s, ledger.get_user(s, "office1"), tmp_path / "c.xlsx",
                               ledger.HazardFilter(channel="self_inspection"))
        assert r.rows == 1
        r = excel.export_sheet(s, ledger.get_user(s, "town_shiheng"), tmp_path / "t.xlsx")
        assert r.rows == 1  # a township officer sees only its own region's hazards
        with pytest.raises(PermissionDenied):
            excel.export_sheet(s, ledger.get_user(s, "citizen1"), tmp_path / "p.xlsx")


def test_export_reads_escalation_steps_when_table_exists(org, tmp_path):
    from hazardloop.models.escalation import EscalationStep

    _import(org, write_sheet(tmp_path / "in.xlsx", [row()]))
    with org.session() as s:  # steps as the sweep records them; a proposal not yet approved is not "taken"
        s.add(EscalationStep(hazard_id=1, cycle=1, step="提示函", kind="letter", due_date=date(2026, 10, 12)))
        s.add(EscalationStep(hazard_id=1, cycle=1, step="曝光", kind="exposure", due_date=date(2026, 11, 10),
                             status="proposed"))
        s.commit()
    with org.session() as s:
        result = excel.export_sheet(s, ledger.get_user(s, "office1"), tmp_path / "e.xlsx")
    header, rows, _ = read_back(tmp_path / "e.xlsx")
    assert result.escalations_available
    assert rows[0][header.index("已采取督办措施")] == "提示函 2026-10-12"


def test_cli_import_dry_run_reject_skip_and_export(org, tmp_path):
    from typer.testing import CliRunner

    from hazardloop.cli import app

    runner = CliRunner()
    path = write_sheet(tmp_path / "cli.xlsx", [row(), row(seq=2, date="2026-02-30", desc="日期不存在")])
    res = runner.invoke(app, ["--db", org.url, "ledger", "import", str(path), "--actor", "office1"])
    assert res.exit_code == 1 and "第 5 行｜J 列（检查时间）" in res.output and "未导入任何数据" in res.output
    res = runner.invoke(app, ["--db", org.url, "ledger", "import", str(path), "--actor", "office1", "--skip-invalid",
                              "--dry-run", "--json"])
    assert res.exit_code == 0 and '"imported": false' in res.output
    with org.session() as s:
        assert s.exec(select(Hazard)).all() == []
    res = runner.invoke(app, ["--db", org.url, "ledger", "import", str(path), "--actor", "office1", "--skip-invalid"])
    assert res.exit_code == 0 and "新建隐患 1 条" in res.output
    out = tmp_path / "x.xlsx"
    res = runner.invoke(app, ["--db", org.url, "ledger", "export", "--actor", "office1", "--out", str(out),
                              "--region", "shiheng"])
    assert res.exit_code == 0 and "已导出 1 条" in res.output and out.exists()


def test_import_points_out_possible_duplicates(org, tmp_path):
    with org.session() as s:
        existing = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise="91370983MA3C0001AY",
                                 title="液氨储罐区泄漏报警装置未设置", channel="inspection").code
        s.commit()
    out = _import(org, write_sheet(tmp_path / "d.xlsx", [row(), row(seq=2, desc="配电室无应急照明")]))
    assert [(p.row, p.other) for p in out.possible_duplicates] == [(4, existing)]
    assert "可能与已有隐患重复" in out.report()


def test_two_level_header(org, tmp_path):
    # 整改情况 spans 是否整改 / 实际整改完成时间 on a second header row; the other headers are merged vertically
    top = HEADERS[:12] + ["整改情况", None] + HEADERS[14:]
    sub = [None] * 12 + ["是否整改", "实际整改完成时间"] + [None] * 3
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["重大事故隐患排查及整改情况明细表"])
    ws.merge_cells("A1:Q1")
    ws.append(top)
    ws.append(sub)
    ws.merge_cells("M2:N2")
    for col in "ABCDEFGHIJKLOPQ":
        ws.merge_cells(f"{col}2:{col}3")
    ws.append(row(rectified="是", done="2026年10月20日"))
    wb.save(tmp_path / "two.xlsx")
    out = _import(org, tmp_path / "two.xlsx")
    assert (out.created, out.invalid) == (1, 0)
    with org.session() as s:
        from hazardloop.models.intake import ImportRow

        data = s.exec(select(ImportRow)).one().data
        assert data["rectified"] == "是" and data["completed_on"] == "2026-10-20"


def test_import_goes_through_the_ledger_and_the_machine(org, tmp_path):
    """Each created row is a ledger report (the "reported" domain event, with its import provenance);
    the close-out transition is the import's own: refused for any hazard a row did not just create."""
    from hazardloop.models.intake import ImportRow
    from hazardloop.states import events, machine

    seen = []
    listener = events.subscribe(lambda s, ev: seen.append((ev.name, ev.hazard.code, dict(ev.info))))
    try:
        path = write_sheet(tmp_path / "in.xlsx", _messy_rows())
        out = _import(org, path)
    finally:
        events._listeners.remove(listener)
    reported = [x for x in seen if x[0] == "reported"]
    assert sorted(c for _, c, _ in reported) == sorted(out.created_codes)
    assert all(info["import_batch"] == out.batch_id for _, _, info in reported)
    assert [x[0] for x in seen].count("closed_imported") == 1
    with org.session() as s:
        found = s.exec(select(Hazard).where(Hazard.state == "found")).first()
        row_of_other = s.exec(select(ImportRow).where(ImportRow.hazard_id != found.id)).first()
        office = ledger.get_user(s, "office1")
        for data in ({}, {"import_row": row_of_other, "completed_on": date(2026, 10, 20)}):
            with pytest.raises(PermissionDenied, match="审核销号"):
                machine.fire(found, "close_imported", office, data)
        with pytest.raises(PermissionDenied, match="市安委办"):
            machine.fire(found, "close_imported", ledger.get_user(s, "sup_yingji"), {})
        s.rollback()
        assert s.get(Hazard, found.id).state == "found"


def test_future_completion_date_is_a_validation_problem(org, tmp_path):
    path = write_sheet(tmp_path / "f.xlsx", [row(rectified="是", done="2026-12-01")])
    with pytest.raises(excel.ImportRejected) as err:
        _import(org, path)
    assert "实际整改完成时间 2026-12-01 晚于今天" in str(err.value)
    with org.session() as s:
        assert s.exec(select(Hazard)).all() == []

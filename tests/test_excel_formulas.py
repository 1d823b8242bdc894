"""Excel and formulas (issue 13): an export never writes a live formula, an import never evaluates one."""

from __future__ import annotations

import zipfile

import openpyxl
from sqlalchemy import update

from hazardloop.intake import excel
from hazardloop.models.tables import Enterprise
from hazardloop.states import ledger
from tests.fixtures_intake import row, write_sheet
from tests.helpers import ENT_HD, listed

HOSTILE = ['=1+1', '=HYPERLINK("http://127.0.0.1/x","点我")', "+SUM(1,2)", "-2+3", "@cmd"]


def test_export_writes_formula_like_text_as_text(org, tmp_path):
    with org.session() as s:
        ids = [listed(s, title=f"隐患{i}") for i in range(len(HOSTILE))]
        for hid, text in zip(ids, HOSTILE):
            ledger.edit(s, ledger.get_user(s, "sup_yingji"), hid, description=text)
        s.execute(update(Enterprise).where(Enterprise.credit_code == ENT_HD).values(name="=HYPERLINK(\"x\")"))
        s.commit()
        out = excel.export_sheet(s, ledger.get_user(s, "office1"), tmp_path / "out.xlsx").path
    with zipfile.ZipFile(out) as z:
        sheet_xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml  # no formula element anywhere
    ws = openpyxl.load_workbook(out).active
    cells = [c for r in ws.iter_rows(min_row=2) for c in r if isinstance(c.value, str)]
    for text in HOSTILE + ['=HYPERLINK("x")']:
        hit = [c for c in cells if c.value == text]
        assert hit and all(c.data_type == "s" and c.quotePrefix for c in hit), text


def test_import_reads_formula_cells_as_text_and_says_so(org, tmp_path):
    path = write_sheet(tmp_path / "in.xlsx", [row(desc='=HYPERLINK("http://127.0.0.1/x","液氨储罐")'),
                                             row(seq=2, desc="液氨储罐区报警装置损坏", measures="=1+1")])
    sheet = excel.read_sheet(path)
    assert sheet.rows[0].values["description"].startswith("=HYPERLINK(")
    assert sheet.rows[1].values["measures"] == "=1+1"  # not 2
    assert [n.row for n in sheet.notes] == [sheet.rows[0].row, sheet.rows[1].row]
    with org.session() as s:
        result = excel.import_sheet(s, ledger.get_user(s, "office1"), path, dry_run=True)
    assert "公式" in result.report() and "按文本读取" in result.report()

"""intake/xlsxmerge.py reads merged ranges from the .xlsx package itself (zipfile, ElementTree):
held here to openpyxl's own public answer (a normal load's ws.merged_cells) on real sheets."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import openpyxl
import pytest

from hazardloop.intake import excel, xlsxmerge
from tests.fixtures_intake import HEADERS, row


def _openpyxl_says(path: Path, title: str) -> list[tuple[int, int, int, int]]:
    wb = openpyxl.load_workbook(path)  # the normal (non-streaming) load: public API, every cell in memory
    try:
        return sorted(r.bounds for r in wb[title].merged_cells.ranges)
    finally:
        wb.close()


def _agree(path: Path, title: str) -> list[tuple[int, int, int, int]]:
    ours = sorted(xlsxmerge.merged_ranges(path, title))
    assert ours == _openpyxl_says(path, title)
    return ours


def _unit_sheet(path: Path) -> Path:
    """As a township sends it: a merged title, a two-level header, 上报单位 and 企业名称 merged down."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "10月明细"
    ws.append(["石横镇重大事故隐患排查及整改情况明细表（2026年10月）"])
    ws.merge_cells("A1:Q1")
    ws.append(HEADERS[:12] + ["整改情况", None] + HEADERS[14:])
    ws.append([None] * 12 + ["是否整改", "实际整改完成时间"] + [None] * 3)
    ws.merge_cells("M2:N2")
    for col in "ABCDEFGHIJKL":
        ws.merge_cells(f"{col}2:{col}3")
    for i in range(6):
        ws.append(row(seq=i + 1, unit="石横镇" if i == 0 else None, desc=f"隐患{i}", date="2026-10-08"))
    ws.merge_cells("B4:B9")
    ws.merge_cells("E4:E5")
    ws.merge_cells("C6:D7")  # a block, not only a column
    wb.save(path)
    return path


def test_unit_sheet_ranges_match_openpyxl(tmp_path):
    path = _unit_sheet(tmp_path / "unit.xlsx")
    ranges = _agree(path, "10月明细")
    assert (2, 4, 2, 9) in ranges and (1, 1, 17, 1) in ranges and len(ranges) == 17
    sheet = excel.read_sheet(path)  # and the importer fills the merged cells down
    assert [r.values["reporting_unit"] for r in sheet.rows] == ["石横镇"] * 6


def test_the_right_sheet_of_many_reordered_and_escaped_names(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    names = ["汇总 & 统计", "10月明细<终>", "'引号'表"]
    for k, name in enumerate(names):
        ws = wb.create_sheet(name)
        for r in range(1, 30):
            ws.append([r, f"{name}{r}"])
        ws.merge_cells(f"B{2 + k}:B{10 + 3 * k}")
    wb.move_sheet("'引号'表", offset=-3)  # sheet order no longer follows the parts' numbering
    path = tmp_path / "many.xlsx"
    wb.save(path)
    for k, name in enumerate(names):
        assert _agree(path, name) == [(2, 2 + k, 2, 10 + 3 * k)]
    assert _agree(path, "说明") == []
    assert xlsxmerge.merged_ranges(path, "没有这张表") == []


def test_absolute_relationship_targets(tmp_path):
    """Some writers name parts from the package root (/xl/worksheets/sheet1.xml)."""
    src = _unit_sheet(tmp_path / "rel.xlsx")
    dst = tmp_path / "abs.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b'Target="worksheets/', b'Target="/xl/worksheets/')
                assert b'Target="/xl/worksheets/sheet1.xml"' in data
            zout.writestr(item, data)
    assert sorted(xlsxmerge.merged_ranges(dst, "10月明细")) == sorted(xlsxmerge.merged_ranges(src, "10月明细"))
    assert _agree(dst, "10月明细")


@pytest.mark.parametrize("chunk", [64, 97, 4096])
def test_many_merges_across_chunk_boundaries(tmp_path, monkeypatch, chunk):
    """Thousands of ranges, the part read in small chunks so that elements are cut at every place."""
    rnd = random.Random(16)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("明细表")
    r = 1
    while r < 3000:
        size = rnd.randint(2, 7)
        left, right = sorted(rnd.sample("ABEF", 2)) if rnd.random() < 0.2 else [rnd.choice("ABEF")] * 2
        ws.merged_cells.add(f"{left}{r}:{right}{r + size - 1}")
        r += size
    for i in range(1, 3000):
        ws.append([i, "石横镇", None, None, f"企业{i}"])
    path = tmp_path / "big.xlsx"
    wb.save(path)
    whole = xlsxmerge.merged_ranges(path, "明细表")
    monkeypatch.setattr(xlsxmerge, "_CHUNK", chunk)
    assert sorted(xlsxmerge.merged_ranges(path, "明细表")) == sorted(whole) == _openpyxl_says(path, "明细表")
    assert len(whole) > 500

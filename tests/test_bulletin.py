"""The monthly bulletin: content, byte-identical re-rendering after the ledger moved on, real chromium."""

from __future__ import annotations

import io
import os
import shutil
import sys
from datetime import date
from pathlib import Path

import pytest

from hazardloop.config import clock
from hazardloop.reports import bulletin
from hazardloop.reports import inspections as insp
from hazardloop.states import ledger
from tests.fixtures_stats import AT, HD, ledger_sept  # noqa: F401  (fixture)


def _render(db, month: str) -> str:
    with db.session(write=False) as s:
        return bulletin.render(s, month)


def _move_on(db, tmp_path) -> str:
    """October: H6 closed, two hazards found (one overdue by the month's end), an inspection
    recorded late for September."""
    with db.session() as s:
        u = lambda name: ledger.get_user(s, name)  # noqa: E731
        with clock.frozen(date(2024, 10, 2)):
            late = ledger.report(s, u("inspector1"), enterprise=HD, title="H9 逾期", channel="inspection")
            ledger.confirm(s, u("sup_yingji"), late.id, basis_code="CHEM121", basis_clause="第一条", level="city")
            ledger.plan(s, u("hd_safety"), late.id, responsible_person="孙立新", measures="整改", funds="1000",
                        deadline=date(2024, 10, 15), emergency_plan="预案")
            code = late.code
            s.commit()
        with clock.frozen(date(2024, 10, 8)):
            p = tmp_path / "h6-final.jpg"
            p.write_bytes(b"final")
            ledger.submit(s, u("hd_safety"), 6, evidence=[p])
            ledger.report(s, u("inspector1"), enterprise=AT, title="H8 新发现", channel="inspection")
            insp.record(s, u("xy_safety"), enterprise="91370983MA3C0002B3", inspected_on=date(2024, 6, 20))
            s.commit()
        with clock.frozen(date(2024, 10, 10)):
            ledger.approve(s, u("sup_yingji"), 6)
            s.commit()
    return code


def test_bulletin_content_and_reproducibility(ledger_sept, tmp_path):
    html = _render(ledger_sept, "2024-09")
    assert "关于2024年9月全市重大事故隐患排查整治情况的通报" in html
    assert html.count('src="data:image/png;base64,') == 2
    assert "截至2024年9月30日" in html and "石横镇" in html and "化工和危险化学品" in html
    red = html.split("<h3>红榜")[1].split("<h3>黑榜")[0]
    black = html.split("<h3>黑榜")[1]
    assert "肥城市安泰食品有限公司" in red and "肥城市恒达化工有限公司" not in red
    assert "整改多次被驳回（近12个月驳回 3 次）" in black and "肥城市鑫源机械制造有限公司" in black
    assert "2024年9月" in html.split("六、主要负责人带队检查")[1].split("七、红黑榜")[0]  # TH missed September
    overdue = html.split("五、逾期未整改的重大事故隐患")[1].split("六、")[0]
    assert "本期无逾期" in overdue  # H6's deadline (10-31) had not passed by 09-30

    code = _move_on(ledger_sept, tmp_path)
    assert _render(ledger_sept, "2024-09") == html  # byte for byte, after the ledger changed
    october = _render(ledger_sept, "2024-10")
    overdue = october.split("五、逾期未整改的重大事故隐患")[1].split("六、")[0]
    assert f'<td class="name">{code}</td><td class="name">肥城市恒达化工有限公司</td>' in overdue
    assert "<td>2024-10-15</td><td>16</td>" in overdue


def test_cli_bulletin_writes_identical_files(ledger_sept, tmp_path, monkeypatch, capsys):
    from hazardloop import cli as cli_mod

    outs = []
    for name in ("a.html", "b.html"):
        out = tmp_path / name
        monkeypatch.setattr(sys, "argv", ["hazardloop", "--db", ledger_sept.url, "bulletin", "--month", "2024-09",
                                          "--out", str(out)])
        with pytest.raises(SystemExit) as exc:
            cli_mod.main()
        assert exc.value.code == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] and b"<!DOCTYPE html>" in outs[0]
    monkeypatch.setattr(sys, "argv", ["hazardloop", "--db", ledger_sept.url, "bulletin", "--month", "2024/09",
                                      "--out", str(tmp_path / "c.html")])
    with pytest.raises(SystemExit) as exc:
        cli_mod.main()
    assert exc.value.code == 2 and not (tmp_path / "c.html").exists()


def _chromium() -> str | None:
    for path in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if path and Path(path).exists():
            return path
    return None


def test_bulletin_in_headless_chromium(ledger_sept, tmp_path):
    if ledger_sept.kind == "pg":
        pytest.skip("the rendering does not depend on the database: the browser check runs once, on SQLite")
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium (apt-get install -y chromium)")
    from matplotlib.image import imread
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "bulletin-2024-09.html"
    page_file.write_text(_render(ledger_sept, "2024-09"), encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.goto(page_file.as_uri())
            images = page.eval_on_selector_all(
                "img.chart", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight,"
                             " e.getBoundingClientRect().width, e.getBoundingClientRect().height])")
            chart = page.locator("#trend-chart").screenshot()
            shot = tmp_path / "bulletin.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert len(images) == 2
    for complete, nat_w, nat_h, w, h in images:
        assert complete and nat_w == 800 and nat_h == 360 and w > 0 and h > 0
    pixels = imread(io.BytesIO(chart), format="png")
    assert pixels.shape[0] > 100 and pixels.shape[1] > 300
    assert pixels[..., :3].std() > 0.05  # lines, labels and axes drawn: not a blank box
    assert shot.stat().st_size > 20_000

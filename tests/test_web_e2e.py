"""End to end in a real browser: Debian's chromium driven by Playwright (no browser download).

An enterprise user (on a phone-sized screen) uploads evidence and submits; a supervisor
sees it in the queue and rejects it with a reason; the enterprise uploads again and
resubmits; the supervisor approves with re-authentication; the audit trail on the page
shows all of it.  Screenshots go to $HAZARDLOOP_TEST_OUTPUT (default test-output/)/web-e2e/."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from sqlmodel import select

from hazardloop.models.tables import AuditEvent, Hazard
from tests.fixtures_web import PASSWORD, browser, browser_sign_in, live, screenshot_dir, web_sqlite  # noqa: F401
from tests.helpers import future, rectifying

def png(path: Path, rgb: tuple[int, int, int], w: int = 64, h: int = 48) -> Path:
    """A real PNG (so the browser can decode and show it)."""
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def test_close_out_in_a_real_browser(browser, live, tmp_path):
    base, db = live
    out = screenshot_dir("web-e2e")
    with db.session() as s:
        hid = rectifying(s)
        code = s.get(Hazard, hid).code
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                locale="zh-CN")
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    ent, sup = phone.new_page(), desk.new_page()
    errors: list[str] = []
    for p in (ent, sup):
        p.on("pageerror", lambda e: errors.append(str(e)))

    # The enterprise signs in on a phone and finds the hazard in its queue.
    browser_sign_in(ent, base, "hd_safety")
    session_cookie = next(c for c in phone.cookies() if c["name"] == "hl_session")
    assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Lax" and session_cookie["expires"] > 0
    ent.screenshot(path=out / "01-enterprise-queue-phone.png", full_page=True)
    ent.click(f"#queue-rectify a:has-text('{code}')")
    ent.set_input_files("#form-evidence input[type=file]", str(png(tmp_path / "整改后现场.png", (200, 30, 30))))
    ent.click("#form-evidence button")
    ent.wait_for_selector("#notice")
    img = ent.locator("#evidence img").first
    img.wait_for()
    assert ent.evaluate("(el) => el.complete && el.naturalWidth", img.element_handle()) == 64
    ent.click("#form-submit button")
    assert "整改完成已提交" in ent.inner_text("#notice")
    assert ent.inner_text("#hazard-state") == "待审核"
    ent.screenshot(path=out / "02-enterprise-submitted-phone.png", full_page=True)

    # The supervisor sees it waiting for review and rejects it with a reason.
    browser_sign_in(sup, base, "sup_yingji")
    assert code in sup.inner_text("#queue-review")
    sup.screenshot(path=out / "03-supervisor-queue.png", full_page=True)
    sup.click(f"#queue-review a:has-text('{code}')")
    sup.fill("#form-reject textarea[name=reason]", "报警装置未与紧急切断阀联锁，请整改后重新提交")
    sup.fill("#form-reject input[name=deadline]", future(10).isoformat())
    sup.click("#form-reject button")
    assert "已驳回" in sup.inner_text("#notice")
    assert sup.inner_text("#hazard-state") == "整改中"
    sup.screenshot(path=out / "04-supervisor-rejected.png", full_page=True)

    # The enterprise sees the reason, uploads new evidence and resubmits.
    ent.reload()
    assert "报警装置未与紧急切断阀联锁" in ent.inner_text("#audit")
    ent.set_input_files("#form-evidence input[type=file]", str(png(tmp_path / "联锁测试.png", (30, 160, 60))))
    ent.click("#form-evidence button")
    ent.wait_for_selector("#notice")
    ent.click("#form-submit button")
    assert ent.inner_text("#hazard-state") == "待审核"

    # The supervisor approves: a wrong password is refused, the right one closes it.
    sup.goto(f"{base}/queue")
    sup.click(f"#queue-review a:has-text('{code}')")
    sup.fill("#form-approve textarea[name=reason]", "现场复查：报警与切断阀联锁有效，同意销号")
    sup.fill("#form-approve input[name=password]", "not-the-password")
    sup.click("#form-approve button")
    assert "密码" in sup.inner_text("#error")
    assert sup.inner_text("#hazard-state") == "待审核"
    assert sup.input_value("#form-approve textarea[name=reason]") == "现场复查：报警与切断阀联锁有效，同意销号"
    sup.fill("#form-approve input[name=password]", PASSWORD)
    sup.click("#form-approve button")
    assert "已审核销号" in sup.inner_text("#notice")
    assert sup.inner_text("#hazard-state") == "已销号"
    trail = sup.inner_text("#audit")
    for words in ("上报隐患", "确认挂牌", "提交整改方案", "上传整改材料", "提交整改完成", "驳回整改",
                  "报警装置未与紧急切断阀联锁", "审核销号", "同意销号", "已重新验证密码"):
        assert words in trail, words
    assert trail.count("提交整改完成") == 2 and trail.count("上传整改材料") == 2
    sup.screenshot(path=out / "05-supervisor-closed-audit.png", full_page=True)

    # The enterprise's page shows the close-out too; another enterprise gets 404 by URL.
    ent.reload()
    assert ent.inner_text("#hazard-state") == "已销号"
    ent.screenshot(path=out / "06-enterprise-closed-phone.png", full_page=True)
    ent.click("#nav-list")
    assert "共 1 条" in ent.inner_text("#total") and "1已销号" in ent.inner_text("#counts").replace("\n", "")
    ent.screenshot(path=out / "07-enterprise-list-phone.png", full_page=True)
    other = browser.new_context().new_page()
    browser_sign_in(other, base, "xy_safety")
    response = other.goto(f"{base}/hazards/{hid}")
    assert response.status == 404
    assert not errors, errors
    with db.session() as s:
        actions = [e.action for e in s.exec(select(AuditEvent).where(AuditEvent.hazard_id == hid)
                                            .order_by(AuditEvent.seq)).all()]
    assert actions == ["report", "confirm", "start_rectification", "evidence", "submit", "reject", "evidence",
                       "submit", "approve"]
    for name in ("01-enterprise-queue-phone", "03-supervisor-queue", "05-supervisor-closed-audit"):
        assert (out / f"{name}.png").stat().st_size > 5000

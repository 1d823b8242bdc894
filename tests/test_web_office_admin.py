"""Issue 17's remaining office features (SQLite and PostgreSQL): 管理 creates users (a 市安委办
account only when asked for explicitly) and revokes single API tokens; enterprises and their
people are edited on a page or loaded from an `org load` file (a report, nothing half-written);
a principal-led inspection carries its record as a private file, downloadable only by those
guards.read_inspection allows; the 台账, its API and its .xlsx export filter by 监管部门."""

from __future__ import annotations

import io
import os
import re
import stat
from pathlib import Path

import openpyxl
from sqlmodel import select

from hazardloop.config import clock
from hazardloop.models.inspections import PrincipalInspection
from hazardloop.models.tables import AppUser, AuditEvent, Enterprise, Hazard
from hazardloop.models.web import ApiToken
from hazardloop.states import ledger
from tests.fixtures_web import PASSWORD, csrf_of, web  # noqa: F401
from tests.helpers import ENT_HD, rectifying

ENT_TH = "91370983MA3C0003C7"  # 泰和建筑 (construction: 住建局 supervises, 高新区)


def _add(client, token: str, **fields):  # noqa: ANN001, ANN003, ANN202
    data = {"csrf_token": token, "password": PASSWORD, "new_password": "New-User-Pass-1", **fields}
    return client.post("/admin/users", data=data)


def test_admin_adds_users_privileged_only_when_asked_and_revokes_one_token(web):
    office = web.login("office1")
    page = office.get("/admin").text
    assert 'id="form-add-user"' in page and 'href="/admin/enterprises"' in page
    token = csrf_of(page)
    wrong = _add(office, token, username="hd_new", name="新员工", role="enterprise", enterprise=ENT_HD,
                 password="wrong")
    assert wrong.status_code == 403 and "再次输入本人密码" in wrong.text
    no_ent = _add(office, token, username="hd_new", name="新员工", role="enterprise")
    assert no_ent.status_code == 422 and "所属企业" in no_ent.text and 'value="hd_new"' in no_ent.text
    unknown = _add(office, token, username="hd_new", name="新员工", role="enterprise", enterprise="不存在的企业")
    assert unknown.status_code == 422 and "没有企业 不存在的企业" in unknown.text
    quiet = _add(office, token, username="boss", name="新主任", role="committee", department="anweiban")
    assert quiet.status_code == 422 and "须明确确认" in quiet.text
    bad_name = _add(office, token, username="a/b", name="x", role="public")
    assert bad_name.status_code == 422
    with web.db.session() as s:
        assert not s.exec(select(AppUser).where(AppUser.username.in_(("hd_new", "boss", "a/b")))).all()
    ok = _add(office, token, username="hd_new", name="新员工", role="企业安全管理人员", enterprise="肥城市恒达化工有限公司")
    assert ok.status_code == 200 and "已新建用户并开通登录：hd_new" in ok.text
    boss = _add(office, token, username="boss", name="新主任", role="committee", department="anweiban", privileged="1")
    assert boss.status_code == 200
    again = _add(office, token, username="hd_new")
    assert again.status_code == 422 and "已有登录账户" in again.text
    with web.db.session() as s:
        user = web.db.user(s, "hd_new")
        assert (user.role, s.get(Enterprise, user.enterprise_id).credit_code) == ("enterprise", ENT_HD)
        opened = s.exec(select(AuditEvent).where(AuditEvent.action == "user_sign_in_opened")).all()
        assert [(e.actor, e.after["username"]) for e in opened] == [("office1", "hd_new"), ("office1", "boss")]
    assert web.login("boss", "New-User-Pass-1").get("/dashboard").status_code == 200
    newcomer = web.login("hd_new", "New-User-Pass-1")
    assert newcomer.get("/admin").status_code == 404
    assert _add(newcomer, csrf_of(newcomer.get("/queue").text), username="x2", name="x", role="public").status_code == 404

    # two tokens; revoking one leaves the other working
    raws = []
    for purpose in ("甲", "乙"):
        issued = office.post("/admin/users/hd_new/token", data={"csrf_token": token, "name": purpose,
                                                                 "password": PASSWORD})
        raws.append(re.search(r'id="new-token">([^<]+)<', issued.text).group(1))
    with web.db.session() as s:
        first = s.exec(select(ApiToken).where(ApiToken.name == "甲")).one().id
    assert f'id="form-revoke-{first}"' in office.get("/admin").text
    assert office.post("/admin/users/hd_new/revoke", data={"csrf_token": token, "token_id": str(first),
                                                           "password": "wrong"}).status_code == 403
    assert office.post("/admin/users/boss/revoke", data={"csrf_token": token, "token_id": str(first),
                                                         "password": PASSWORD}).status_code == 404  # not boss's
    done = office.post("/admin/users/hd_new/revoke", data={"csrf_token": token, "token_id": str(first),
                                                           "password": PASSWORD})
    assert done.status_code == 200 and f"已作废 hd_new 的 API 令牌 {first}（甲）" in done.text
    api = [web.client(), web.client()]
    for client, raw in zip(api, raws):
        client.headers["Authorization"] = f"Bearer {raw}"
    assert api[0].get("/api/v1/me").status_code == 401 and api[1].get("/api/v1/me").status_code == 200


def test_cli_user_tokens_and_revoke(org):
    from typer.testing import CliRunner

    from hazardloop.cli import app as cli_app
    from hazardloop.web import auth

    with org.session() as s:
        raw = auth.create_token(s, org.user(s, "sup_yingji"), "对接")
        s.commit()
        token_id = s.exec(select(ApiToken)).one().id
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["--db", org.url, "user", "tokens", "sup_yingji", "--json"])
    assert listed.exit_code == 0 and '"name": "对接"' in listed.output and raw not in listed.output
    gone = runner.invoke(cli_app, ["--db", org.url, "user", "revoke", "sup_yingji", str(token_id)])
    assert gone.exit_code == 0, gone.output
    assert runner.invoke(cli_app, ["--db", org.url, "user", "revoke", "sup_yingji", str(token_id)]).exit_code == 1
    with org.session() as s:
        assert auth.token_user(s, raw) is None


def _ent_form(**changes: str) -> dict[str, str]:
    base = {"name": "肥城市恒达化工有限公司", "credit_code": ENT_HD, "region": "shiheng", "industry": "chemical",
            "address": "石横镇工业园区 8 号", "principal": "赵建国", "principal_phone": "13805380001",
            "controller": "钱德明", "controller_phone": "13805380002", "safety_manager": "孙立新",
            "safety_manager_phone": "13805380003", "contacts": "email: safety@hengda.example"}
    return {**base, **changes}


def test_enterprise_edited_on_its_page_checked_and_audited(web):
    office = web.login("office1")
    listing = office.get("/admin/enterprises", params={"q": "恒达"}).text
    with web.db.session() as s:
        ent = s.exec(select(Enterprise).where(Enterprise.credit_code == ENT_HD)).one()
    assert f'id="ent-{ent.id}"' in listing and "共 1 家" in listing
    page = office.get(f"/admin/enterprises/{ent.id}").text
    assert 'value="赵建国"' in page and "email: safety@hengda.example" in page
    token = csrf_of(page)
    bad = office.post(f"/admin/enterprises/{ent.id}", data={"csrf_token": token, "password": PASSWORD,
                                                            **_ent_form(principal="", controller_phone="打电话")})
    assert bad.status_code == 422 and "缺少主要负责人" in bad.text and "不像电话号码" in bad.text
    assert 'value="打电话"' in bad.text  # what was typed is kept
    taken = office.post(f"/admin/enterprises/{ent.id}", data={"csrf_token": token, "password": PASSWORD,
                                                              **_ent_form(credit_code="91370983MA3C0002B3")})
    assert taken.status_code == 422 and "已属于另一家企业" in taken.text
    wrong = office.post(f"/admin/enterprises/{ent.id}", data={"csrf_token": token, "password": "nope",
                                                              **_ent_form(principal="刘新")})
    assert wrong.status_code == 403
    with web.db.session() as s:
        assert s.get(Enterprise, ent.id).principal == "赵建国"  # nothing written by any refusal
    ok = office.post(f"/admin/enterprises/{ent.id}", data={
        "csrf_token": token, "password": PASSWORD,
        **_ent_form(principal="刘新", principal_phone="13900000000", contacts="email: a@hengda.example\nprincipal_email：liu@hengda.example")})
    assert ok.status_code == 303 and ok.headers["location"].endswith("saved=1")
    with web.db.session() as s:
        now = s.get(Enterprise, ent.id)
        assert (now.principal, now.principal_phone) == ("刘新", "13900000000")
        assert now.contacts == {"email": "a@hengda.example", "principal_email": "liu@hengda.example"}
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "enterprise_edited")).one()
        assert event.actor == "office1" and event.before["principal"] == "赵建国" and event.after["principal"] == "刘新"
    # Two clerks open the page; the first saves; the second's save from the older page is refused
    # (it would silently undo the first) and keeps what the second typed.
    first, second = web.login("office1"), web.login("office2")
    page1, page2 = first.get(f"/admin/enterprises/{ent.id}").text, second.get(f"/admin/enterprises/{ent.id}").text
    seen = re.search(r'name="seen" value="([0-9a-f]+)"', page1).group(1)
    assert seen == re.search(r'name="seen" value="([0-9a-f]+)"', page2).group(1)
    saved = first.post(f"/admin/enterprises/{ent.id}", data={"csrf_token": csrf_of(page1), "password": PASSWORD,
                                                              "seen": seen, **_ent_form(principal="周平")})
    assert saved.status_code == 303
    late = second.post(f"/admin/enterprises/{ent.id}", data={"csrf_token": csrf_of(page2), "password": PASSWORD,
                                                              "seen": seen, **_ent_form(controller="吴强")})
    assert late.status_code == 409 and "已被他人修改，本次未保存" in late.text and 'value="吴强"' in late.text
    with web.db.session() as s:
        now = s.get(Enterprise, ent.id)
        assert now.principal == "周平" and now.controller != "吴强"  # the first save stands, nothing of the second
    fresh = second.get(f"/admin/enterprises/{ent.id}").text
    again = second.post(f"/admin/enterprises/{ent.id}", data={
        "csrf_token": csrf_of(fresh), "password": PASSWORD,
        "seen": re.search(r'name="seen" value="([0-9a-f]+)"', fresh).group(1),
        **_ent_form(principal="周平", controller="吴强")})
    assert again.status_code == 303  # from the page as it is now, the same change goes through
    supervisor = web.login("sup_yingji")
    assert supervisor.get("/admin/enterprises").status_code == 404
    assert supervisor.get(f"/admin/enterprises/{ent.id}").status_code == 404
    assert supervisor.post(f"/admin/enterprises/{ent.id}", data={
        "csrf_token": csrf_of(supervisor.get("/queue").text), "password": PASSWORD, **_ent_form(principal="x")}
    ).status_code == 404


GOOD = """enterprises:
  - name: 肥城市新泰精细化工有限公司
    credit_code: {code}
    region: 石横镇
    industry: chemical
    principal: {{name: 高明, phone: "13811112222"}}
    controller: 高远
  - name: 肥城市恒达化工有限公司
    credit_code: 91370983MA3C0001AY
    region: shiheng
    industry: chemical
    principal: {{name: 赵建国, phone: "13805380001"}}
    controller: {{name: 钱德明, phone: "13805380002"}}
    safety_manager: {{name: 孙立新, phone: "13805380003"}}
    contacts: {{email: new@hengda.example}}
users:
  - {{username: xt_safety, name: 高亮, role: enterprise, enterprise: {code}}}
  - {{username: office3, name: 新同事, role: committee, department: anweiban}}
"""


def _load(client, token: str, text: str, mode: str, **fields):  # noqa: ANN001, ANN003, ANN202
    return client.post("/admin/orgs/load", data={"csrf_token": token, "mode": mode, **fields},
                       files={"file": ("企业.yaml", text.encode("utf-8"), "application/x-yaml")})


def test_org_file_checked_reported_and_loaded_whole_or_not_at_all(web):
    from hazardloop.models.orgs import make_credit_code

    code = make_credit_code("91370983MA3C0009X")
    office = web.login("office1")
    token = csrf_of(office.get("/admin/enterprises").text)
    broken = GOOD.format(code=code).replace("region: 石横镇", "region: 月球").replace(
        "91370983MA3C0001AY\n", "91370983MA3C0001AX\n")
    report = _load(office, token, broken, "load", password=PASSWORD, privileged="1")
    assert report.status_code == 422
    problems = re.findall(r"<li>([^<]+)</li>", report.text.split('id="org-problems"')[1].split("</ul>")[0])
    assert any("enterprises 第 1 条：未知镇街区 月球" in p for p in problems)
    assert any("enterprises 第 2 条" in p and "校验位错误" in p for p in problems)
    quiet = _load(office, token, GOOD.format(code=code), "check")
    assert quiet.status_code == 422 and "office3 将成为市安委办账户" in quiet.text
    checked = _load(office, token, GOOD.format(code=code), "check", privileged="1")
    assert checked.status_code == 200 and 'id="org-ok"' in checked.text
    changes = checked.text.split('id="org-changes"')[1]
    assert "新增" in changes and "其他联系方式" in changes and "管理权限" in changes  # 恒达's e-mail changes
    assert _load(office, token, GOOD.format(code=code), "load", privileged="1", password="wrong").status_code == 403
    assert _load(office, token, "enterprises: [", "check").status_code == 422  # not YAML: said so
    with web.db.session() as s:  # nothing written by any of the above
        assert s.exec(select(Enterprise).where(Enterprise.credit_code == code)).first() is None
        assert s.exec(select(AppUser).where(AppUser.username.in_(("xt_safety", "office3")))).all() == []
        assert s.exec(select(Enterprise).where(Enterprise.credit_code == ENT_HD)).one().contacts == {
            "email": "safety@hengda.example"}
    loaded = _load(office, token, GOOD.format(code=code), "load", privileged="1", password=PASSWORD)
    assert loaded.status_code == 200 and "已载入：企业 2 家、用户 2 人" in loaded.text
    with web.db.session() as s:
        ent = s.exec(select(Enterprise).where(Enterprise.credit_code == code)).one()
        assert (ent.region_code, ent.principal_phone) == ("shiheng", "13811112222")  # 石横镇 read as its code
        assert web.db.user(s, "xt_safety").enterprise_id == ent.id
    # the same for a system, over the API: a report (422) and nothing written, then loaded
    api = web.api("office1")

    def post(text: str, **params):  # noqa: ANN003, ANN202
        return api.post("/api/v1/orgs/load", params=params, files={"file": ("orgs.yaml", text.encode("utf-8"))})

    other = make_credit_code("91370983MA3C0008X")
    second = GOOD.format(code=other).replace("xt_safety", "xt2").replace("office3", "office4")
    refused = post(second)
    assert refused.status_code == 422 and any("office4" in p for p in refused.json()["problems"])
    checked = post(second, dry_run="true", privileged="true").json()
    assert checked["loaded"] is False and {c["key"]: c["action"] for c in checked["changes"]}[other] == "add"
    with web.db.session() as s:
        assert s.exec(select(Enterprise).where(Enterprise.credit_code == other)).first() is None
    assert post(second, privileged="true").json()["added"] == {"enterprises": 1, "users": 2}
    assert web.api("sup_yingji").post("/api/v1/orgs/load", files={"file": ("o.yaml", b"users: []")}).status_code == 404
    town = web.login("town_shiheng")
    assert _load(town, csrf_of(town.get("/queue").text), GOOD.format(code=code), "check").status_code == 404


def test_inspection_record_file_private_and_downloadable_by_those_allowed(web, tmp_path):
    office = web.login("office1")
    token = csrf_of(office.get("/inspections").text)
    record = b"%PDF-1.4 principal inspection record\n"
    day = clock.today().isoformat()
    bad = office.post("/inspections", data={"csrf_token": token, "enterprise": ENT_HD, "inspected_on": day,
                                            "findings": "带队检查储罐区"},
                      files={"record": ("记录.exe", b"MZ", "application/octet-stream")})
    assert bad.status_code == 422 and "格式不支持" in bad.text and "带队检查储罐区" in bad.text
    ok = office.post("/inspections", data={"csrf_token": token, "enterprise": ENT_HD, "inspected_on": day,
                                           "findings": "带队检查储罐区", "hazards_found": "1"},
                     files={"record": ("带队检查记录.pdf", record, "application/pdf")})
    assert ok.status_code == 303
    with web.db.session() as s:
        row = s.exec(select(PrincipalInspection)).one()  # the refused one left nothing
        stored = Path(row.record_path)
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "inspection_recorded")).one()
    assert row.record_name == "带队检查记录.pdf" and row.record_size == len(record)
    assert stored.read_bytes() == record and stored.name.startswith(row.record_sha256)
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600 and stat.S_IMODE(os.stat(stored.parent).st_mode) == 0o700
    assert event.after["sha256"] == row.record_sha256
    assert f'href="/inspections/{row.id}/record"' in office.get("/inspections").text
    for who in ("office1", "hd_safety", "sup_yingji", "town_shiheng"):  # the office, the enterprise, its regulators
        got = web.login(who).get(f"/inspections/{row.id}/record")
        assert got.status_code == 200 and got.content == record, who
        assert got.headers["content-disposition"].startswith("attachment")
        assert "sandbox" in got.headers["content-security-policy"]
    for who in ("xy_safety", "sup_zhujian", "inspector1", "citizen1"):
        assert web.login(who).get(f"/inspections/{row.id}/record").status_code == 404, who
    assert office.get("/inspections/999999/record").status_code == 404
    assert web.client().get(f"/inspections/{row.id}/record").status_code == 303  # sign in first


def test_ledger_filters_by_supervising_department_on_page_api_and_export(web):
    with web.db.session() as s:
        rectifying(s)  # 恒达化工: 应急局
        h = ledger.report(s, ledger.get_user(s, "office1"), enterprise=ENT_TH, title="深基坑未按方案支护",
                          channel="inspection")
        s.commit()
        assert (s.get(Hazard, h.id).supervising_department, len(s.exec(select(Hazard)).all())) == ("zhujian", 2)
    office = web.login("office1")
    page = office.get("/hazards", params={"department": "zhujian"}).text
    assert "共 1 条" in page and "深基坑未按方案支护" in page and "液氨" not in page
    assert '<option value="zhujian" selected>' in page
    assert 'href="/sheets/export?department=zhujian' in page  # the export keeps the filter
    api = web.api("office1").get("/api/v1/hazards", params={"department": "yingji"}).json()
    assert api["total"] == 1 and "液氨" in api["items"][0]["title"]
    ws = openpyxl.load_workbook(io.BytesIO(office.get("/sheets/export", params={"department": "zhujian"}).content)).active
    assert ws.max_row == 2 and any("深基坑" in str(c.value) for c in ws[2])
    dashboard = office.get("/dashboard").text  # the 监管部门 numbers are links now
    assert 'href="/hazards?department=zhujian"' in dashboard
    # a supervisor filtering by another department sees nothing of it (the list's own scope)
    assert "共 0 条" in web.login("sup_yingji").get("/hazards", params={"department": "zhujian"}).text

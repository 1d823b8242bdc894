"""The console's rules: who sees what (404 elsewhere), every action of every role on every
state against the guards, close-out with re-authentication, conflicts, the list and the queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from hazardloop.config import clock
from hazardloop.models.tables import AppUser, AuditEvent, Evidence, Extension, Hazard
from hazardloop.states import guards, ledger, machine
from hazardloop.states.roles import STATE_NAMES
from hazardloop.web import services
from tests.fixtures_web import PASSWORD, csrf_of, web  # noqa: F401
from tests.helpers import ENT_HD, evidence_file, future, listed, rectifying, reported, reviewed

ENT_XY = "91370983MA3C0002B3"
JPEG = b"\xff\xd8\xff\xe0" + b"0" * 64


def _xy_hazard(s) -> int:  # noqa: ANN001
    h = ledger.report(s, ledger.get_user(s, "xy_safety"), enterprise=ENT_XY, title="冲压机防护缺失",
                      channel="self_inspection")
    s.commit()
    return h.id


# --- who sees what -----------------------------------------------------------------------------


def test_other_enterprise_hazard_and_evidence_are_404_by_url(web, tmp_path):
    with web.db.session() as s:
        hid = reviewed(s, tmp_path)
        ev = s.exec(select(Evidence).where(Evidence.hazard_id == hid)).one()
    owner = web.login("hd_safety")
    assert owner.get(f"/hazards/{hid}").status_code == 200
    download = owner.get(f"/evidence/{ev.id}")
    assert download.status_code == 200 and download.content == evidence_file(tmp_path).read_bytes()
    assert "attachment" in download.headers["content-disposition"]
    stranger = web.login("xy_safety")
    for url in (f"/hazards/{hid}", f"/hazards/YH-{clock.today().year}-{hid:06d}", f"/evidence/{ev.id}",
                f"/evidence/{ev.id}?inline=1"):
        response = stranger.get(url)
        assert response.status_code == 404, url
        assert "液氨" not in response.text
    # Actions by URL on an invisible hazard: 404 as well (no existence leak), nothing changes.
    token = csrf_of(stranger.get("/queue").text)
    assert stranger.post(f"/hazards/{hid}/submit", data={"csrf_token": token}).status_code == 404
    api = web.api("xy_safety")
    assert api.get(f"/api/v1/hazards/{hid}").status_code == 404
    assert api.get(f"/api/v1/hazards/{hid}/audit").status_code == 404
    assert api.get(f"/api/v1/evidence/{ev.id}").status_code == 404
    assert api.post(f"/api/v1/hazards/{hid}/approve", json={}).status_code == 404
    assert hid not in [h["id"] for h in api.get("/api/v1/hazards").json()["items"]]
    # Other scopes: another department's supervisor and another region's officer see nothing either.
    assert web.api("sup_zhujian").get(f"/api/v1/evidence/{ev.id}").status_code == 404
    assert web.api("town_shiheng").get(f"/api/v1/evidence/{ev.id}").status_code == 200


def test_lists_are_filtered_in_the_query(web):
    with web.db.session() as s:
        hd = reported(s)
        xy = _xy_hazard(s)
    expect = {"hd_safety": {hd}, "xy_safety": {xy}, "town_shiheng": {hd}, "sup_yingji": {hd, xy},
              "sup_zhujian": set(), "office1": {hd, xy}, "inspector1": {hd}, "citizen1": set()}
    for username, ids in expect.items():
        body = web.api(username).get("/api/v1/hazards").json()
        assert {h["id"] for h in body["items"]} == ids, username
        assert body["total"] == len(ids) and sum(body["counts"].values()) == len(ids)


def test_public_reporter_identity_is_masked(web):
    with web.db.session() as s:
        h = ledger.report(s, ledger.get_user(s, "office1"), enterprise=ENT_HD, title="群众举报：仓库堆放危化品",
                          channel="public_report")
        s.commit()
        hid = h.id
    page = web.login("office2").get(f"/hazards/{hid}")
    assert services.MASKED_REPORTER in page.text and "杨志远（office1）" not in page.text
    detail = web.api("office2").get(f"/api/v1/hazards/{hid}").json()
    assert detail["hazard"]["reported_by"] == services.MASKED_REPORTER
    audit = web.api("office2").get(f"/api/v1/hazards/{hid}/audit").json()
    assert audit[0]["actor"] == services.MASKED_REPORTER


# --- every action of every role on every state -----------------------------------------------------

USERS = ["hd_safety", "hd_staff", "xy_safety", "inspector1", "citizen1", "town_shiheng", "sup_yingji",
         "sup_zhujian", "office1"]
ACTIONS = ["confirm", "dismiss", "plan", "evidence", "submit", "request_extension", "decide_extension",
           "approve", "reject", "edit"]


def _make(s, state: str, tmp_path) -> int:  # noqa: ANN001
    """A fresh hazard in the given state; rectifying ones have evidence and a pending extension."""
    if state == "found":
        return reported(s)
    if state == "listed":
        return listed(s)
    if state == "rectifying":
        hid = rectifying(s)
        ledger.add_evidence(s, ledger.get_user(s, "hd_safety"), hid, evidence_file(tmp_path))
        ledger.request_extension(s, ledger.get_user(s, "hd_safety"), hid, deadline=future(60), reason="设备到货延迟")
        s.commit()
        return hid
    if state == "reviewed":
        hid = reviewed(s, tmp_path)
        return hid
    hid = reviewed(s, tmp_path) if state == "closed" else reported(s)
    if state == "closed":
        ledger.approve(s, ledger.get_user(s, "sup_yingji"), hid)
    else:
        ledger.dismiss(s, ledger.get_user(s, "sup_yingji"), hid, reason="不属于重大隐患")
    s.commit()
    return hid


def _call(client, hid: int, action: str, version: int):  # noqa: ANN001, ANN202
    base = f"/api/v1/hazards/{hid}"
    v = {"expected_version": version}
    if action == "evidence":
        return client.post(f"{base}/evidence", files={"file": ("after.jpg", JPEG, "image/jpeg")})
    if action == "edit":
        return client.patch(base, json={**v, "location": "储罐区东侧"})
    body = {
        "confirm": {"basis_code": "CHEM121", "basis_clause": "第十三条", "level": "city"},
        "dismiss": {"reason": "不属于重大隐患"},
        "plan": {"responsible_person": "孙立新", "measures": "加装报警", "funds": "80000",
                 "deadline": future(20).isoformat(), "emergency_plan": "专项预案"},
        "submit": {},
        "request_extension": {"reason": "设备到货延迟", "deadline": future(90).isoformat()},
        "decide_extension": {"approve": True, "reason": "同意"},
        "approve": {"reason": "现场核查到位"},  # re-authentication is tested on the pages (argon2 is slow)
        "reject": {"reason": "报警未联锁", "deadline": future(15).isoformat()},
    }[action]
    path = {"request_extension": "extensions", "decide_extension": "extensions/decide"}.get(action, action)
    payload = body if action == "request_extension" else {**body, **v}
    return client.post(f"{base}/{path}", json=payload)


def _expected(s, user: AppUser, hazard: Hazard, action: str) -> tuple[bool, set[int]]:  # noqa: ANN001
    """What the guards say: (allowed, acceptable refusal codes)."""
    if not guards.can_view(user, hazard):
        return False, {404}
    trigger = services.TRIGGER_OF.get(action)
    if action == "decide_extension":
        allowed = (services._passes(lambda: guards.decide_extension(user, hazard))  # noqa: SLF001
                   and machine.check(hazard, "extend", user, {}))
        if services.pending_extension(s, hazard) is None:
            return False, {404}
        return allowed, {403} if hazard.state == "rectifying" else {403, 409}
    if trigger is not None:
        allowed = machine.check(hazard, trigger, user, {})
        if trigger not in machine.allowed_triggers(hazard.state):
            return False, {403, 409}  # wrong state (some ledger functions check the role first)
        return allowed, {403}
    if action == "evidence" or action == "request_extension":
        check = guards.upload_evidence if action == "evidence" else guards.request_extension
        role_ok = services._passes(lambda: check(user, hazard))  # noqa: SLF001
        if not role_ok:
            return False, {403}
        if action == "request_extension" and services.pending_extension(s, hazard) is not None:
            return False, {422}
        return hazard.state == "rectifying", {422}
    if action == "edit":
        return services._passes(lambda: guards.edit(user, hazard)), {403}  # noqa: SLF001
    raise AssertionError(action)


@pytest.mark.parametrize("state", machine.STATES)
def test_every_action_of_every_role_matches_the_guards(web, tmp_path, state):
    pool: list[int] = []
    checked = allowed_seen = 0
    for username in USERS:
        client = web.api(username)
        for action in ACTIONS:
            with web.db.session() as s:
                if not pool:
                    pool.append(_make(s, state, tmp_path))
                hid = pool[-1]
                hazard = s.get(Hazard, hid)
                user = ledger.get_user(s, username)
                allowed, refusals = _expected(s, user, hazard, action)
                before = (hazard.state, hazard.version)
                n_audit = len(s.exec(select(AuditEvent).where(AuditEvent.hazard_id == hid)).all())
            response = _call(client, hid, action, before[1])
            checked += 1
            where = f"{username} {action} on {state}: {response.status_code} {response.text[:200]}"
            if allowed:
                allowed_seen += 1
                assert response.status_code in (200, 201), where
                pool.pop()  # it changed: the next attempt gets a fresh hazard
            else:
                assert response.status_code in refusals, where
                with web.db.session() as s:
                    h = s.get(Hazard, hid)
                    assert (h.state, h.version) == before, where
                    assert len(s.exec(select(AuditEvent).where(AuditEvent.hazard_id == hid)).all()) == n_audit
    assert checked == len(USERS) * len(ACTIONS)
    if state not in machine.TERMINAL:
        assert allowed_seen > 0


# --- pages: the close-out loop, re-authentication, conflicts --------------------------------------


def _form(client, hid: int, action: str, **fields):  # noqa: ANN001, ANN202
    page = client.get(f"/hazards/{hid}")
    assert page.status_code == 200
    assert f'id="form-{action}"' in page.text, f"no {action} form for this user"
    version = int(page.text.split('name="expected_version" value="')[1].split('"')[0])
    data = {"csrf_token": csrf_of(page.text), "expected_version": str(version), **fields}
    files = fields.pop("files", None)
    if files:
        data.pop("files")
        return client.post(f"/hazards/{hid}/{action}", data=data, files=files)
    return client.post(f"/hazards/{hid}/{action}", data=data)


def test_close_out_loop_on_pages_with_reauthentication(web, tmp_path):
    with web.db.session() as s:
        hid = rectifying(s)
    ent = web.login("hd_safety")
    sup = web.login("sup_yingji")
    r = _form(ent, hid, "submit")
    assert r.status_code == 422 and "至少需要一份" in r.text  # no evidence yet
    r = _form(ent, hid, "evidence", files={"file": ("现场照片.jpg", JPEG, "image/jpeg")})
    assert r.status_code == 303
    page = ent.get(f"/hazards/{hid}")
    assert "现场照片.jpg" in page.text and '<img src="/evidence/' in page.text
    img = ent.get(page.text.split('<img src="')[1].split('"')[0].replace("&amp;", "&"))
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
    assert "inline" in img.headers["content-disposition"]
    assert _form(ent, hid, "submit").status_code == 303
    queue = sup.get("/queue").text
    assert f"/hazards/{hid}" in queue.split('id="queue-review"')[1].split("</section>")[0]
    r = _form(sup, hid, "reject", reason="报警未与切断阀联锁", deadline=future(10).isoformat())
    assert r.status_code == 303
    assert _form(ent, hid, "evidence", files={"file": ("联锁测试.png", b"\x89PNG\r\n\x1a\n0000", "image/png")}).status_code == 303
    assert _form(ent, hid, "submit").status_code == 303
    # Close-out: the wrong password refuses (and counts), the right one closes and is recorded.
    r = _form(sup, hid, "approve", reason="复查合格", password="not-my-password")
    assert r.status_code == 403 and "密码" in r.text and "复查合格" in r.text
    with web.db.session() as s:
        assert s.get(Hazard, hid).state == "reviewed"
    r = _form(sup, hid, "approve", reason="复查合格", password=PASSWORD)
    assert r.status_code == 303 and r.headers["location"] == f"/hazards/{hid}?done=approve"
    page = sup.get(r.headers["location"]).text
    assert "已审核销号。" in page and "已销号" in page
    trail = page.split('id="audit"')[1]
    for words in ("上报隐患", "确认挂牌", "提交整改方案", "上传整改材料", "提交整改完成", "驳回整改",
                  "报警未与切断阀联锁", "审核销号", "已重新验证密码"):
        assert words in trail, words
    with web.db.session() as s:
        last = s.exec(select(AuditEvent).where(AuditEvent.hazard_id == hid).order_by(AuditEvent.seq.desc())).first()
        assert last.action == "approve" and last.after["reauthenticated"] is True


def test_conflict_shows_the_new_state_and_keeps_the_input(web, tmp_path):
    with web.db.session() as s:
        hid = reviewed(s, tmp_path)
    a = web.login("sup_yingji")
    b = web.login("sup_yingji2")
    stale = a.get(f"/hazards/{hid}").text
    assert _form(b, hid, "reject", reason="整改不到位", deadline=future(10).isoformat()).status_code == 303
    r = a.post(f"/hazards/{hid}/approve", data={"csrf_token": csrf_of(stale), "expected_version": "4",
                                                 "reason": "我的审核意见很长很重要", "password": PASSWORD})
    assert r.status_code == 409
    assert "已被他人修改" in r.text and STATE_NAMES["rectifying"] in r.text
    assert "我的审核意见很长很重要" in r.text  # nothing typed is lost
    with web.db.session() as s:
        assert s.get(Hazard, hid).state == "rectifying"
    api = web.api("sup_yingji")
    r = api.post(f"/api/v1/hazards/{hid}/confirm", json={"basis_code": "CHEM121", "basis_clause": "x",
                                                         "level": "city", "expected_version": 1})
    assert r.status_code == 409 and r.json()["state"] == "rectifying" and r.json()["version"] >= 5


def test_extension_request_and_decision_on_pages(web):
    with web.db.session() as s:
        hid = rectifying(s)
    ent = web.login("hd_safety")
    assert _form(ent, hid, "request_extension", reason="设备到货延迟", deadline=future(60).isoformat()).status_code == 303
    sup = web.login("sup_yingji")
    assert f"/hazards/{hid}" in sup.get("/queue").text.split('id="queue-extension"')[1].split("</section>")[0]
    r = _form(sup, hid, "decide_extension", approve="0", reason="")
    assert r.status_code == 422 and "理由" in r.text
    assert _form(sup, hid, "decide_extension", approve="1", reason="同意").status_code == 303
    with web.db.session() as s:
        h = s.get(Hazard, hid)
        assert clock.local_date(h.deadline) == future(60) and h.cycle == 2
        assert s.exec(select(Extension).where(Extension.hazard_id == hid)).one().status == "approved"


def test_enterprise_queue_and_township_overdue(web):
    with clock.frozen(clock.today()):
        with web.db.session() as s:
            need_plan = listed(s, title="待方案隐患")
            late = rectifying(s, days=2, title="逾期隐患")
        clock.advance(timedelta(days=5))
        q = web.login("hd_safety").get("/queue").text
        assert f"/hazards/{need_plan}" in q.split('id="queue-plan"')[1].split("</section>")[0]
        assert "逾期 3 天" in q.split('id="queue-rectify"')[1].split("</section>")[0]
        town = web.login("town_shiheng").get("/queue").text
        assert f"/hazards/{late}" in town.split('id="queue-overdue"')[1].split("</section>")[0]
        page = web.login("office1").get(f"/hazards/{late}").text
        assert "已逾期 3 天" in page


def test_list_filters_sort_paging_and_counts(web):
    with web.db.session() as s:
        ids = [reported(s, title=f"隐患{i:02d}") for i in range(23)]
        for hid in ids[:5]:
            ledger.confirm(s, ledger.get_user(s, "sup_yingji"), hid, basis_code="CHEM121", basis_clause="第一条",
                           level="province")
        s.commit()
        xy = _xy_hazard(s)
    client = web.login("office1")
    page = client.get("/hazards").text
    assert "共 24 条" in page and "第 1/2 页" in page and 'id="next"' in page
    counts = page.split('id="counts"')[1].split("</div>")[0]
    assert "<b>19</b>已发现" in counts and "<b>5</b>已挂牌" in counts
    page2 = client.get("/hazards?page=2").text
    assert "第 2/2 页" in page2 and "隐患00" in page2  # newest first: the oldest is on page 2
    listed_only = client.get("/hazards?state=listed&level=province").text
    assert "共 5 条" in listed_only
    asc = client.get("/hazards?sort=code&order=asc").text
    assert asc.index("隐患00") < asc.index("隐患01")
    assert "共 1 条" in client.get("/hazards?industry=machinery").text
    assert "共 1 条" in client.get("/hazards?q=冲压").text
    assert client.get("/hazards?state=bogus&page=x").status_code == 200
    api = web.api("office1").get("/api/v1/hazards", params={"per": 10, "page": 3, "sort": "code", "desc": False}).json()
    assert api["total"] == 24 and api["pages"] == 3 and [h["id"] for h in api["items"]] == ids[20:] + [xy]
    assert web.api("office1").get("/api/v1/hazards", params={"state": "bogus"}).status_code == 422


def test_api_report_by_a_system_and_the_full_loop(web, tmp_path):
    office = web.api("office1")
    r = office.post("/api/v1/hazards", json={"enterprise": ENT_HD, "title": "省平台推送：储罐区无报警",
                                             "channel": "assigned"})
    assert r.status_code == 201 and r.json()["duplicate_candidates"] == []
    hid = r.json()["id"]
    # the same problem through another channel: intake shows the first as a duplicate candidate
    again = web.api("sup_yingji").post("/api/v1/hazards", json={"enterprise": ENT_HD, "title": "储罐区无报警装置",
                                                                "channel": "inspection"})
    assert again.status_code == 201, again.text
    [cand] = again.json()["duplicate_candidates"]
    assert cand["hazard_id"] == hid and cand["state"] == "found" and cand["score"] >= 0.55
    assert cand["merge_command"] == f"hazardloop hazard merge {cand['code']} {again.json()['code']} --actor sup_yingji"
    assert web.api("hd_safety").post("/api/v1/hazards", json={"enterprise": ENT_XY, "title": "x",
                                                              "channel": "self_inspection"}).status_code == 403
    sup, ent = web.api("sup_yingji"), web.api("hd_safety")
    assert sup.post(f"/api/v1/hazards/{hid}/confirm", json={"basis_code": "CHEM121", "basis_clause": "第十三条",
                                                            "level": "city"}).status_code == 200
    assert ent.post(f"/api/v1/hazards/{hid}/plan", json={
        "responsible_person": "孙立新", "measures": "加装", "funds": "1", "deadline": future().isoformat(),
        "emergency_plan": "预案"}).status_code == 200
    ev = ent.post(f"/api/v1/hazards/{hid}/evidence", files={"file": ("a.pdf", b"%PDF-1.4 x", "application/pdf")})
    assert ev.status_code == 201 and ev.json()["url"].startswith("/api/v1/evidence/")
    assert ent.post(f"/api/v1/hazards/{hid}/submit", json={}).status_code == 200
    r = sup.post(f"/api/v1/hazards/{hid}/approve", json={"password": "wrong-one"})
    assert r.status_code == 403
    r = sup.post(f"/api/v1/hazards/{hid}/approve", json={"reason": "系统核查"})
    assert r.status_code == 200 and r.json()["state"] == "closed"
    audit = sup.get(f"/api/v1/hazards/{hid}/audit").json()
    assert [a["action"] for a in audit][-1] == "approve" and "未重新验证密码" in audit[-1]["summary"]
    assert sup.get(ev.json()["url"]).content == b"%PDF-1.4 x"


def test_two_supervisors_approve_at_once_one_wins(pg, tmp_path):
    """Real concurrency on PostgreSQL through the API: one close-out, one clear conflict."""
    import threading

    from hazardloop.models.orgs import load_orgs
    from tests.conftest import ORG_FILE
    from tests.fixtures_web import Web, give_passwords

    with pg.session() as s:
        load_orgs(s, ORG_FILE)
        s.commit()
    give_passwords(pg)
    web = Web(pg)
    with pg.session() as s:
        hid = reviewed(s, tmp_path)
    clients = [web.api("sup_yingji"), web.api("sup_yingji2")]
    barrier = threading.Barrier(2)
    answers: list = []

    def go(client):  # noqa: ANN001
        barrier.wait()
        answers.append(client.post(f"/api/v1/hazards/{hid}/approve", json={"reason": "同时审核"}))

    threads = [threading.Thread(target=go, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    loser = next(a for a in answers if a.status_code == 409).json()
    assert loser["state"] == "closed" and loser["error"] == "conflict"
    with pg.session() as s:
        approvals = s.exec(select(AuditEvent).where(AuditEvent.hazard_id == hid, AuditEvent.action == "approve")).all()
        assert len(approvals) == 1


def test_list_counts_from_one_pass_match_each_filter(web):
    """The 台账's total, count boxes and overdue box come from one GROUP BY (services.list_hazards):
    the total is what the page lists, the boxes ignore only the state filter, the overdue box counts
    the overdue ones under the other filters."""
    with clock.frozen(clock.today()):
        with web.db.session() as s:
            late = [rectifying(s, days=2, title=f"逾期{i}") for i in range(3)]
            rectifying(s, days=30, title="未到期")
            listed(s, title="已挂牌")
            reported(s, title="已发现")
        clock.advance(timedelta(days=5))
        api = web.api("office1")
        every = api.get("/api/v1/hazards", params={"per": 200}).json()
        only_late = api.get("/api/v1/hazards", params={"overdue": True, "per": 200}).json()
        assert every["overdue"] == 3 and every["total"] == sum(every["counts"].values()) == len(every["items"])
        assert sorted(h["id"] for h in only_late["items"]) == sorted(late)
        assert only_late["counts"]["rectifying"] == 3 == sum(only_late["counts"].values()) == only_late["total"]
        for params in ({"state": "rectifying"}, {"state": "rectifying", "overdue": True},
                       {"state": "closed", "overdue": True}, {"state": "found"}, {"state": "listed"}):
            got = api.get("/api/v1/hazards", params={**params, "per": 200}).json()
            assert got["total"] == len(got["items"]) == got["counts"][params["state"]], params
            assert got["counts"] == (only_late if params.get("overdue") else every)["counts"], params
            assert got["overdue"] == 3, params
        assert all(h["overdue"] for h in api.get("/api/v1/hazards", params={"state": "rectifying", "overdue": True}
                                                 ).json()["items"])
        page = web.login("office1").get("/hazards?overdue=1").text
        assert "共 3 条" in page and "<b>3</b>逾期" in page

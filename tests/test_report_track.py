"""The reporter's 查询码 (issue 16): given once at submission, stored hashed, with which the reporter —
signed in or anonymous — sees status, feedback and reward decision by CLI, page and API, and nothing
of the enterprise's internal data."""

from __future__ import annotations

import json
import re

from sqlalchemy import text
from sqlmodel import select

from hazardloop.intake import reports
from hazardloop.models.intake import PublicReport
from hazardloop.models.tables import AuditEvent
from hazardloop.states import ledger
from tests.conftest import ORG_FILE
from tests.fixtures_intake import SECRET_NAME, SECRET_PHONE, _fresh_rules  # noqa: F401
from tests.fixtures_web import csrf_of, web  # noqa: F401
from tests.helpers import ENT_HD, cli_runner

CODE_RE = re.compile(r"[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}")


def _walk(s, rid):  # noqa: ANN001, ANN202
    office, sup = ledger.get_user(s, "office1"), ledger.get_user(s, "sup_yingji")
    reports.accept(s, office, rid)
    reports.start_verification(s, sup, rid)
    out = reports.verify(s, sup, rid, verdict="true", note="内部核查记录：储罐区编号 T-3 报警器拆除")
    reports.give_feedback(s, office, rid, text="经核查，举报属实，已责令企业整改。")
    reports.decide_reward(s, office, rid, fine=20000)
    return out.hazard.code


def test_query_code_by_command(db, capsys, monkeypatch):
    run = cli_runner(db.url, capsys, monkeypatch)
    assert run("init")[0] == 0 and run("org", "load", str(ORG_FILE), "--privileged")[0] == 0
    code, out, err = run("report", "submit", "--actor", "citizen1", "--content", "恒达化工液氨储罐区泄漏报警装置损坏",
                         "--enterprise", ENT_HD, "--reporter-name", SECRET_NAME, "--reporter-contact", SECRET_PHONE,
                         "--json")
    assert code == 0, err
    doc = json.loads(out)
    jb, query_code = doc["code"], doc["query_code"]
    assert CODE_RE.fullmatch(query_code)
    with db.session() as s:
        row = s.exec(select(PublicReport).where(PublicReport.code == jb)).one()
        # stored only as an argon2id hash; no column and no audit event holds the code itself
        assert row.query_code_hash.startswith("$argon2id$")
        dump = " ".join(str(v) for t in ("public_report", "audit_event")
                        for r in s.connection().execute(text(f"SELECT * FROM {t}")).all() for v in r)
        assert query_code not in dump and query_code.replace("-", "") not in dump
        assert "query_code_hash" not in reports.report_dict(row)
    code, out, err = run("report", "track", jb, "--query-code", query_code.lower().replace("-", " "))
    assert code == 0, err
    assert f"举报 {jb}：已收到" in out
    # a wrong code and an unknown report get the same answer
    wrong = run("report", "track", jb, "--query-code", "2222-2222-2222")
    unknown = run("report", "track", "JB-2026-999999", "--query-code", query_code)
    assert wrong[0] == unknown[0] == 1 and "举报编号或查询码不正确" in wrong[2] and wrong[2] == unknown[2]
    with db.session() as s:
        hazard_code = _walk(s, row.id)
        s.commit()
    code, out, err = run("report", "track", jb, "--query-code", query_code, "--json")
    assert code == 0, err
    seen = json.loads(out)
    assert (seen["state"], seen["verdict_name"], seen["feedback"]) == ("reward_decided", "属实", "经核查，举报属实，已责令企业整改。")
    assert seen["reward"]["amount"] == 10000 and "鲁应急发〔2021〕3号" in seen["reward"]["basis"]
    # nothing of the enterprise's internal data: no hazard, no verification note, no enterprise, no department
    for secret in (hazard_code, "T-3", "恒达化工", "yingji", "sup_yingji", SECRET_NAME, SECRET_PHONE):
        assert secret not in out
    with db.session() as s:
        reads = s.exec(select(AuditEvent).where(AuditEvent.action == "report_status_read")).all()
        assert [(e.actor, e.after) for e in reads] == [("public", {"report": jb})] * 2


def test_query_code_on_the_pages_and_api(web):  # noqa: F811
    citizen = web.login("citizen1")
    form = citizen.get("/reports/new")
    done = citizen.post("/reports/new", data={"csrf_token": csrf_of(form.text), "content": "鑫源机械冲压车间光电保护拆除",
                                              "enterprise": "91370983MA3C0002B3"})
    assert done.status_code == 303 and "query" not in done.headers["location"].lower()
    page = citizen.get(done.headers["location"])
    query_code = re.search(r'id="query-code">([^<]+)<', page.text).group(1)
    assert CODE_RE.fullmatch(query_code)
    jb = re.search(r'id="report-code">([^<]+)<', page.text).group(1)
    again = citizen.get(done.headers["location"])  # shown once
    assert 'id="query-code"' not in again.text and jb in again.text
    # anonymous: no session at all
    anon = web.client()
    assert anon.get("/track").status_code == 200
    r = anon.post("/track", data={"report": jb, "query_code": query_code})
    assert r.status_code == 200 and 'id="track-state">已收到<' in r.text and r.headers["cache-control"] == "no-store"
    assert "鑫源机械" not in r.text
    r = anon.post("/track", data={"report": jb, "query_code": "ABCD-EFGH-JKMN"})
    assert r.status_code == 404 and "举报编号或查询码不正确" in r.text
    # signed in (the citizen) sees the same by the code; by API as well
    assert "已收到" in citizen.post("/track", data={"report": jb, "query_code": query_code}).text
    api = anon.post("/api/v1/track", json={"report": jb, "query_code": query_code})
    assert api.status_code == 200 and api.json()["state_name"] == "已收到"
    assert anon.post("/api/v1/track", json={"report": jb, "query_code": "x"}).status_code == 404
    # the API submission answers the code once
    sub = web.api("citizen1").post("/api/v1/reports", json={"content": "某企业有限空间作业无人监护"})
    assert sub.status_code == 201 and CODE_RE.fullmatch(sub.json()["query_code"])
    listed = web.api("office1").get("/api/v1/reports").json()
    assert all(r.get("query_code") is None for r in listed)

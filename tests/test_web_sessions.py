"""Sessions and accounts (issue 13): sign-out voids the session on the server, password changes
revoke API tokens, argon2 never runs inside a write transaction, a refused approver's password
never counts toward lock-out, `serve` creates demo sign-ins only when asked."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlmodel import select
from typer.testing import CliRunner

from hazardloop.cli import app as cli_app
from hazardloop.models.web import WebCredential
from hazardloop.web import auth
from hazardloop.web.app import create_app
from tests.fixtures_web import PASSWORD, SECRET, csrf_of, sign_in, web  # noqa: F401
from tests.helpers import listed, reviewed


def test_signed_out_cookie_opens_nothing_on_any_worker(web):
    client = web.login("office1")
    cookie = client.cookies.get(auth.SESSION_COOKIE)
    token = csrf_of(client.get("/queue").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    other_worker = TestClient(create_app(web.db.url, SECRET), follow_redirects=False)  # another process's app
    for c in (web.client(), other_worker):
        c.cookies.set(auth.SESSION_COOKIE, cookie)
        assert c.get("/queue").status_code == 303, "a copy of the signed-out cookie still opened the queue"
    assert web.login("office1").get("/queue").status_code == 200  # a new sign-in works


def test_password_change_revokes_tokens_unless_kept(web):
    runner = CliRunner()
    api = web.api("sup_yingji")
    assert api.get("/api/v1/me").status_code == 200
    r = runner.invoke(cli_app, ["--db", web.db.url, "user", "passwd", "sup_yingji", "--password", "Another-Pass-1",
                                "--keep-tokens"])
    assert r.exit_code == 0 and "保留" in r.output, r.output
    assert api.get("/api/v1/me").status_code == 200
    r = runner.invoke(cli_app, ["--db", web.db.url, "user", "passwd", "sup_yingji", "--password", "Third-Pass-11"])
    assert r.exit_code == 0 and "作废 1 个" in r.output, r.output
    assert api.get("/api/v1/me").status_code == 401


def test_argon2_runs_outside_the_write_transaction(web, monkeypatch):
    if web.db.kind != "sqlite":
        pytest.skip("the SQLite write lock is the one that queued writers")
    path = make_url(web.db.url).database
    seen: list[bool] = []
    real = auth._verify  # noqa: SLF001

    def probing(hash_: str, password: str) -> bool:
        other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another writer gets the lock while we hash
            other.execute("ROLLBACK")
            seen.append(True)
        except sqlite3.OperationalError:
            seen.append(False)
        finally:
            other.close()
        return real(hash_, password)

    monkeypatch.setattr(auth, "_verify", probing)
    sign_in(web.client(), "nobody_here", "wrong-password")
    sign_in(web.client(), "hd_safety", "wrong-password")
    assert sign_in(web.client(), "hd_safety", PASSWORD).status_code == 303
    assert seen == [True, True, True]


def test_refused_approver_password_never_counts_toward_lock_out(web, tmp_path):
    with web.db.session() as s:
        hid = listed(s)
        done = reviewed(s, tmp_path, title="另一条")
    for who, ref in (("hd_safety", done), ("sup_yingji", hid), ("sup_zhujian", done)):
        api = web.api(who)
        for _ in range(auth.MAX_FAILURES + 1):
            r = api.post(f"/api/v1/hazards/{ref}/approve", json={"password": "wrong-password"})
            assert r.status_code in (403, 404, 409), r.text
        with web.db.session() as s:
            cred = s.get(WebCredential, web.db.user(s, who).id)
            assert cred.failed_attempts == 0 and cred.locked_until is None, who
    # the allowed approver's wrong password still counts
    r = web.api("sup_yingji").post(f"/api/v1/hazards/{done}/approve", json={"password": "wrong-password"})
    assert r.status_code == 403
    with web.db.session() as s:
        assert s.get(WebCredential, web.db.user(s, "sup_yingji").id).failed_attempts == 1


def test_serve_creates_demo_accounts_only_when_asked(org, monkeypatch):
    import hazardloop.flows.serve as flows_serve
    import hazardloop.web.server as server

    class Background:
        url = "http://127.0.0.1:1/"

        def stop(self) -> None:
            pass

    monkeypatch.setattr(flows_serve, "serve", lambda **kw: 0)
    monkeypatch.setattr(server, "start_background", lambda *a, **kw: Background())
    runner = CliRunner()
    r = runner.invoke(cli_app, ["--db", org.url, "serve", "--no-ui"])
    assert r.exit_code == 0 and "演示账号" not in r.output, r.output
    with org.session() as s:
        assert s.exec(select(WebCredential)).all() == []
    r = runner.invoke(cli_app, ["--db", org.url, "serve", "--no-ui", "--demo-accounts"])
    assert r.exit_code == 0 and r.output.count("演示账号") >= 5, r.output

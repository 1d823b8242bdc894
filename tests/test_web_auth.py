"""Sign-in, sessions, CSRF, lock-out, passwd/disable, API tokens, the CLI, demo accounts."""

from __future__ import annotations

import os
import stat
import time
from datetime import timedelta

from sqlmodel import select
from typer.testing import CliRunner

from hazardloop.cli import app as cli_app
from hazardloop.config import clock
from hazardloop.models.tables import AppUser, Hazard
from hazardloop.models.web import WebCredential
from hazardloop.web import auth, server
from hazardloop.web.app import create_app
from tests.fixtures_web import PASSWORD, SECRET, Web, csrf_of, sign_in, web  # noqa: F401
from tests.helpers import future, listed


def test_sign_in_sets_a_signed_httponly_samesite_expiring_cookie(web):
    client = web.client()
    response = sign_in(client, "sup_yingji", PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/queue"
    cookie = response.headers["set-cookie"]
    assert "hl_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert f"Max-Age={auth.SESSION_MAX_AGE}" in cookie
    page = client.get("/queue")
    assert page.status_code == 200 and "蒋国平" in page.text and "待审核销号" in page.text
    # A tampered cookie is no session.
    value = client.cookies.get("hl_session")
    client.cookies.set("hl_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/queue").status_code == 303


def test_wrong_password_and_unknown_user_say_the_same(web):
    client = web.client()
    a = sign_in(client, "sup_yingji", "wrong-password")
    b = sign_in(client, "nobody_here", "wrong-password")
    assert a.status_code == b.status_code == 401
    assert auth.FAILED in a.text and auth.FAILED in b.text
    assert "hl_session" not in a.headers.get("set-cookie", "")


def test_login_form_needs_its_csrf_token(web):
    client = web.client()
    client.get("/login")
    response = client.post("/login", data={"username": "sup_yingji", "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 403 and "hl_session" not in response.headers.get("set-cookie", "")


def test_lock_out_after_repeated_failures_then_expires(web):
    with clock.frozen(clock.today()):
        client = web.client()
        for _ in range(auth.MAX_FAILURES - 1):
            assert sign_in(client, "hd_safety", "bad-password").status_code == 401
        locked = sign_in(client, "hd_safety", "bad-password")
        assert locked.status_code == 401 and "锁定" in locked.text
        # Even the right password is refused while locked.
        assert sign_in(client, "hd_safety", PASSWORD).status_code == 401
        clock.advance(timedelta(minutes=auth.LOCK_MINUTES + 1))
        assert sign_in(client, "hd_safety", PASSWORD).status_code == 303
    with web.db.session() as s:
        cred = s.get(WebCredential, web.db.user(s, "hd_safety").id)
        assert cred.failed_attempts == 0 and cred.locked_until is None


def test_session_expires(web):
    app = create_app(web.db.url, SECRET, session_max_age=1)
    from fastapi.testclient import TestClient

    client = TestClient(app, follow_redirects=False)
    assert sign_in(client, "office1", PASSWORD).status_code == 303
    assert client.get("/queue").status_code == 200
    time.sleep(2.1)
    response = client.get("/queue")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_forms_refuse_a_missing_or_foreign_csrf_token(web):
    with web.db.session() as s:
        hid = listed(s)
    client = web.login("hd_safety")
    page = client.get(f"/hazards/{hid}")
    assert "form-plan" in page.text
    plan = {"responsible_person": "孙立新", "measures": "加装报警", "funds": "1000", "deadline": future(60).isoformat(),
            "emergency_plan": "预案"}
    assert client.post(f"/hazards/{hid}/plan", data=plan).status_code == 403
    other = web.login("hd_staff")
    foreign = csrf_of(other.get("/queue").text)
    assert client.post(f"/hazards/{hid}/plan", data={**plan, "csrf_token": foreign}).status_code == 403
    with web.db.session() as s:
        assert s.get(Hazard, hid).state == "listed"
    ok = client.post(f"/hazards/{hid}/plan", data={**plan, "csrf_token": csrf_of(page.text)})
    assert ok.status_code == 303
    with web.db.session() as s:
        assert s.get(Hazard, hid).state == "rectifying"


def test_logout_ends_the_session(web):
    client = web.login("office1")
    token = csrf_of(client.get("/queue").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/queue").status_code == 303


def test_passwd_and_disable_void_sessions_and_tokens(web):
    client = web.login("sup_yingji")
    api = web.api("sup_yingji")
    assert api.get("/api/v1/me").json()["username"] == "sup_yingji"
    with web.db.session() as s:
        auth.set_password(s, web.db.user(s, "sup_yingji"), "Another-Pass-1")
        s.commit()
    assert client.get("/queue").status_code == 303  # the old session is void
    assert sign_in(web.client(), "sup_yingji", PASSWORD).status_code == 401
    client = web.login("sup_yingji", "Another-Pass-1")
    with web.db.session() as s:
        auth.disable(s, web.db.user(s, "sup_yingji"))
        s.commit()
    assert client.get("/queue").status_code == 303
    assert sign_in(web.client(), "sup_yingji", "Another-Pass-1").status_code == 401
    assert api.get("/api/v1/me").status_code == 401


def test_api_needs_a_valid_token(web):
    client = web.client()
    assert client.get("/api/v1/hazards").status_code == 401
    client.headers["Authorization"] = "Bearer hl_not-a-token"
    response = client.get("/api/v1/hazards")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    with web.db.session() as s:
        assert "hl_" not in "".join(t.token_hash for t in s.exec(select(auth.ApiToken)).all())


def test_security_headers(web):
    response = web.client().get("/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_cli_user_add_passwd_disable_token(org):
    runner = CliRunner()
    base = ["--db", org.url, "user"]
    r = runner.invoke(cli_app, [*base, "add", "sup_zhujian", "--password", "Zhujian-Pass-1"])
    assert r.exit_code == 0, r.output
    office = [*base, "add", "new_office", "--name", "新同事", "--role", "committee", "--department", "anweiban",
              "--password", "Office-Pass-1", "--json"]
    r = runner.invoke(cli_app, office)  # a 市安委办 sign-in only when asked for explicitly
    assert r.exit_code == 1 and "--privileged" in r.output + str(r.exception)
    with org.session() as s:
        assert s.exec(select(AppUser).where(AppUser.username == "new_office")).first() is None
    r = runner.invoke(cli_app, [*office, "--privileged"])
    assert r.exit_code == 0 and '"created": true' in r.output
    r = runner.invoke(cli_app, [*base, "add", "bad", "--name", "x", "--role", "enterprise", "--password", "Abcdefgh1"])
    assert r.exit_code == 2 and "--enterprise" in r.output
    r = runner.invoke(cli_app, [*base, "add", "short", "--name", "x", "--role", "public", "--password", "abc"])
    assert r.exit_code == 1
    web = Web(org)
    assert sign_in(web.client(), "new_office", "Office-Pass-1").status_code == 303
    r = runner.invoke(cli_app, [*base, "passwd", "new_office", "--password-stdin"], input="Changed-Pass-2\n")
    assert r.exit_code == 0, r.output
    assert sign_in(web.client(), "new_office", "Office-Pass-1").status_code == 401
    assert sign_in(web.client(), "new_office", "Changed-Pass-2").status_code == 303
    r = runner.invoke(cli_app, [*base, "token", "new_office"])
    token = r.output.strip().splitlines()[-1]
    assert r.exit_code == 0 and token.startswith("hl_")
    api = web.client()
    api.headers["Authorization"] = f"Bearer {token}"
    assert api.get("/api/v1/me").json()["role"] == "committee"
    r = runner.invoke(cli_app, [*base, "disable", "new_office"])
    assert r.exit_code == 0
    assert sign_in(web.client(), "new_office", "Changed-Pass-2").status_code == 401
    assert api.get("/api/v1/me").status_code == 401
    with org.session() as s:
        assert s.exec(select(AppUser).where(AppUser.username == "short")).first() is None


def test_secret_key_file_is_private_and_stable(monkeypatch):
    monkeypatch.delenv("HAZARDLOOP_SECRET_KEY", raising=False)
    first = auth.load_secret_key()
    path = auth.secret_key_path()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert auth.load_secret_key() == first and len(first) >= 40
    monkeypatch.setenv("HAZARDLOOP_SECRET_KEY", "k" * 40)
    assert auth.load_secret_key() == "k" * 40


def test_demo_accounts_one_per_role_idempotent(org):
    with org.session() as s:
        first = server.ensure_demo_accounts(s)
        s.commit()
    with org.session() as s:
        second = server.ensure_demo_accounts(s)
        s.commit()
    assert first == second
    roles = {role for role, _, _ in first}
    assert roles == {"enterprise", "supervisor", "committee", "township", "inspector", "public"}
    web = Web(org)
    for role, username, password in first:
        assert password and sign_in(web.client(), username, password).status_code == 303, role


def test_sign_in_never_redirects_off_site(web):
    for target in ("//evil.example/", "/\t/evil.example/", "https://evil.example/", "/\\evil.example"):
        client = web.client()
        page = client.get("/login", params={"next": target})
        r = client.post("/login", data={"username": "office1", "password": PASSWORD, "next": target,
                                        "csrf_token": csrf_of(page.text)})
        assert r.status_code == 303 and r.headers["location"] == "/queue", target
    client = web.client()
    assert client.get("/hazards/1").headers["location"] == "/login?next=/hazards/1"


def test_user_text_is_escaped(web):
    from hazardloop.states import ledger

    with web.db.session() as s:
        h = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise="91370983MA3C0001AY",
                          title='<script>alert(1)</script>', channel="inspection", description='"><img src=x onerror=1>')
        s.commit()
        hid = h.id
    text = web.login("office1").get(f"/hazards/{hid}").text
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text
    assert "<img src=x" not in text


def test_secure_cookie_flag_from_the_environment(web, monkeypatch):
    monkeypatch.setenv("HAZARDLOOP_SECURE_COOKIES", "1")
    from fastapi.testclient import TestClient

    client = TestClient(create_app(web.db.url, SECRET), follow_redirects=False, base_url="https://testserver")
    response = sign_in(client, "office1", PASSWORD)
    assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]


def test_a_token_opens_the_api_only_for_a_live_token_of_an_active_user(org):
    """auth.token_user in one statement: a user with no sign-in (a system account) may hold a token;
    revoking it, deactivating the user or disabling their sign-in each closes the API."""
    with org.session() as s:
        user = org.user(s, "hd_safety")
        assert s.get(WebCredential, user.id) is None  # tokens do not need a password
        raw = auth.create_token(s, user, "sync")
        other = auth.create_token(s, user, "spare")
        s.commit()
        assert auth.token_user(s, raw).username == "hd_safety"
        assert auth.token_user(s, raw + "x") is None and auth.token_user(s, None) is None
        (sync, spare) = auth.live_tokens(s, user)
        auth.revoke_token(s, user, sync.id)
        s.commit()
        assert auth.token_user(s, raw) is None and auth.token_user(s, other).username == "hd_safety"
        auth.set_password(s, user, "another-password-9", keep_tokens=True)
        s.commit()
        assert auth.token_user(s, other).username == "hd_safety"  # a sign-in that is not disabled
        auth.disable(s, user)
        s.commit()
        assert auth.token_user(s, other) is None
    with org.session() as s:
        user = org.user(s, "sup_yingji")
        raw = auth.create_token(s, user)
        user.active = False
        s.add(user)
        s.commit()
        assert auth.token_user(s, raw) is None

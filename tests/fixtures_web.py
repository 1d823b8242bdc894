"""Fixtures for the web console tests: an app on the test database, signed-in clients,
API tokens.  Every org.yaml user gets the password PASSWORD (hashed once per session:
argon2 is deliberately slow)."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from hazardloop.models.tables import AppUser
from hazardloop.models.web import WebCredential
from hazardloop.web import auth
from hazardloop.web.app import create_app

PASSWORD = "Correct-Horse-9"
SECRET = "test-secret-key-" + "x" * 32


@lru_cache(maxsize=1)
def password_hash() -> str:
    return auth.hash_password(PASSWORD)


def give_passwords(db) -> None:  # noqa: ANN001
    with db.session() as s:
        for user in s.exec(select(AppUser)).all():
            if s.get(WebCredential, user.id) is None:
                s.add(WebCredential(user_id=user.id, password_hash=password_hash()))
        s.commit()


class Web:
    def __init__(self, db) -> None:  # noqa: ANN001
        self.db = db
        self.app = create_app(db.url, SECRET)
        self._tokens: dict[str, str] = {}

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)

    def login(self, username: str, password: str = PASSWORD) -> TestClient:
        client = self.client()
        response = sign_in(client, username, password)
        assert response.status_code == 303, response.text[:500]
        return client

    def token(self, username: str) -> str:
        if username not in self._tokens:
            with self.db.session() as s:
                self._tokens[username] = auth.create_token(s, self.db.user(s, username), "test")
                s.commit()
        return self._tokens[username]

    def api(self, username: str) -> TestClient:
        client = self.client()
        client.headers["Authorization"] = f"Bearer {self.token(username)}"
        return client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str):  # noqa: ANN201
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_of(page.text),
                                       "next": "/queue"})


@pytest.fixture
def web(org) -> Web:  # noqa: ANN001
    give_passwords(org)
    return Web(org)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_or_skip() -> None:
    """No browser: fail loudly under CI=true (.ci/install-browser.sh should have installed it), skip elsewhere."""
    import os

    problem = None
    if not os.path.exists(CHROMIUM):
        problem = f"{CHROMIUM} not found (run .ci/install-browser.sh: apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError as exc:
            problem = f"python package playwright missing: {exc}"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"END-TO-END BROWSER TEST CANNOT RUN UNDER CI: {problem}")
        import warnings

        warnings.warn(f"END-TO-END BROWSER TEST SKIPPED: {problem}", stacklevel=1)
        pytest.skip(f"!!! END-TO-END BROWSER TEST SKIPPED: {problem} !!!")


@pytest.fixture
def web_sqlite(sqlite_template, tmp_path):  # noqa: ANN001
    """One SQLite database with the org (the browser test needs one real server, not both backends)."""
    import shutil

    from hazardloop.models.db import forget_engine, get_engine
    from hazardloop.models.orgs import load_orgs
    from tests.conftest import ORG_FILE, Db

    path = tmp_path / "e2e.sqlite"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    db = Db(url, get_engine(url), "sqlite")
    with db.session() as s:
        load_orgs(s, ORG_FILE)
        s.commit()
    give_passwords(db)
    yield db
    forget_engine(url)


def screenshot_dir(name: str) -> Path:
    """Where a browser test leaves its screenshots: $HAZARDLOOP_TEST_OUTPUT (default test-output/)/name."""
    out = Path(os.environ.get("HAZARDLOOP_TEST_OUTPUT", Path(__file__).resolve().parents[1] / "test-output")) / name
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def browser():
    """Debian's chromium, headless, driven by Playwright (no browser download)."""
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def live(web_sqlite):  # noqa: ANN001
    """The console served on a loopback port over web_sqlite: (base URL, Db)."""
    from hazardloop.web import server

    bg = server.start_background(db_url=web_sqlite.url)
    yield bg.url.rstrip("/"), web_sqlite
    bg.stop()


def browser_sign_in(page, base: str, username: str) -> None:  # noqa: ANN001
    """Open the queue signed out, get sent to the sign-in page, sign in, land on the queue."""
    page.goto(f"{base}/queue")
    assert "/login" in page.url
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/queue")

"""Test databases: every test that asks for `db` runs on SQLite and on PostgreSQL.

PostgreSQL: one throw-away database per test session (created next to the
`test` database, dropped at the end), emptied between tests.  Where no server
answers, the PostgreSQL tests are skipped and the summary says so loudly;
with CI=true a missing server fails the run instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel

from hazardloop.bootstrap import bootstrap
from hazardloop.config import clock
from hazardloop.config.settings import get_settings
from hazardloop.models import load_all
from hazardloop.models.db import dispose_engines, forget_engine, get_engine, write_engine
from hazardloop.models.migrate import init_database
from hazardloop.models.orgs import load_orgs
from hazardloop.models.reference import load_reference
from hazardloop.states import ledger

load_all()  # every table on the metadata: _empty_pg truncates them all

PG_URL = os.environ.get("HAZARDLOOP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ORG_FILE = Path(__file__).with_name("data") / "org.yaml"
_pg_skipped: list[str] = []


def _pg_admin_engine() -> Engine | None:
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        return engine
    except Exception as exc:  # noqa: BLE001
        _pg_skipped.append(str(exc).splitlines()[0])
        return None


@pytest.fixture(scope="session", autouse=True)
def _wired():
    """The test process is an entry point like the CLI: the application is wired once."""
    bootstrap()


@pytest.fixture(scope="session")
def pg_url():
    admin = _pg_admin_engine()
    if admin is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no PostgreSQL answers at {PG_URL}: {_pg_skipped[-1]}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    name = f"hazardloop_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    init_database(get_engine(url))
    yield url
    dispose_engines()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    init_database(get_engine(f"sqlite:///{path}"))
    forget_engine(f"sqlite:///{path}")
    return path


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HAZARDLOOP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HAZARDLOOP_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    clock.set_fixed(None)


@dataclass
class Db:
    url: str
    engine: Engine
    kind: str

    def session(self, write: bool = True) -> Session:
        bind = write_engine(self.url) if write else self.engine
        return Session(bind, expire_on_commit=False)

    def user(self, session: Session, username: str):
        return ledger.get_user(session, username)


def _empty_pg(engine: Engine) -> None:
    tables = [t.name for t in SQLModel.metadata.sorted_tables]
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"), {"h": "0" * 64})
    with Session(engine) as s:
        load_reference(s)
        s.commit()


@pytest.fixture(params=["sqlite", "pg"])
def db(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "hazardloop.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_url")
        _empty_pg(get_engine(url))
    yield Db(url, get_engine(url), request.param)
    if request.param == "sqlite":
        forget_engine(url)


@pytest.fixture
def pg(request) -> Db:
    """PostgreSQL only (real concurrency)."""
    url = request.getfixturevalue("pg_url")
    _empty_pg(get_engine(url))
    return Db(url, get_engine(url), "pg")


@pytest.fixture
def org(db: Db) -> Db:
    """The database with tests/data/org.yaml loaded."""
    with db.session() as s:
        load_orgs(s, ORG_FILE)
        s.commit()
    return db


def pytest_terminal_summary(terminalreporter):  # noqa: ANN001
    if _pg_skipped:
        terminalreporter.write_sep("!", "POSTGRESQL TESTS WERE SKIPPED", red=True, bold=True)
        terminalreporter.write_line(f"no PostgreSQL at {PG_URL}: {_pg_skipped[-1]}", red=True)


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """One Prefect test harness for the whole session (it costs ~12 s), with its own PREFECT_HOME."""
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ["PREFECT_HOME"] = str(home)
    from prefect.testing.utilities import prefect_test_harness

    # A generous start-up limit: on a loaded 2-core machine the harness's server can take over 30 s.
    with prefect_test_harness(server_startup_timeout=300):
        yield

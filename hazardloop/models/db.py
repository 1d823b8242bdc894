"""Engine and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from hazardloop.config.private import private_dir, private_file
from hazardloop.config.settings import get_settings


def database_url(override: str | None = None) -> str:
    return get_settings().resolved_database_url(override)


def is_sqlite(url_or_engine: str | Engine) -> bool:
    url = url_or_engine.url if isinstance(url_or_engine, Engine) else make_url(url_or_engine)
    return url.get_backend_name() == "sqlite"


def _normalise(url: str) -> str:
    # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://"):]
    return url


_ENGINES: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    url = _normalise(database_url(url))
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = _make_engine(url)
    return engine


def _json_text(value: Any) -> str:
    # JSON columns (audit before/after, outbox payloads) keep Chinese as UTF-8, not \uXXXX
    # escapes: readable in the database and about half the bytes for Chinese text.
    return json.dumps(value, ensure_ascii=False)


def _make_engine(url: str) -> Engine:
    if is_sqlite(url):
        path = make_url(url).database
        if path and path != ":memory:" and not path.startswith("file:"):
            # Private: the database holds who reported what (encrypted) and every hazard's trail.
            parent = Path(path).parent
            private_dir(parent, tighten=parent.resolve() == get_settings().data_dir)
            private_file(Path(path))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               json_serializer=_json_text)
        _sqlite_pragmas(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, json_serializer=_json_text)
    return engine


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        # A writing unit of work takes the write lock up front (BEGIN IMMEDIATE):
        # a read-then-write transaction then waits its turn instead of failing
        # half-way with "database is locked".  Reads stay deferred and concurrent.
        # Straight on the driver connection: this runs once per unit of work, and
        # the statement needs none of SQLAlchemy's execution machinery.
        dbapi = conn.connection.dbapi_connection
        if conn.get_execution_options().get("hazardloop_write"):
            dbapi.execute("BEGIN IMMEDIATE")
        else:
            dbapi.execute("BEGIN")


_WRITE_ENGINES: dict[int, tuple[Engine, Engine]] = {}


def write_engine(url: str | None = None) -> Engine:
    """The engine for units of work that write (serialised on SQLite).  One option
    view per engine, kept: building it costs more than a whole small query."""
    engine = get_engine(url)
    known = _WRITE_ENGINES.get(id(engine))
    if known is None or known[0] is not engine:
        known = _WRITE_ENGINES[id(engine)] = (engine, engine.execution_options(hazardloop_write=True))
    return known[1]


def connection(session: Session):  # noqa: ANN201
    """The session's connection in its current transaction, remembered for the
    transaction's life (Session.connection() costs tens of µs per call)."""
    conn = session.info.get(_CONN)
    if conn is None or conn.closed or not conn.in_transaction():
        conn = session.connection()
    return conn


_CONN = "hazardloop.connection"


@event.listens_for(Session, "after_begin")
def _remember_connection(session: Session, _transaction, conn) -> None:  # noqa: ANN001
    session.info[_CONN] = conn


@event.listens_for(Session, "after_transaction_end")
def _forget_connection(session: Session, transaction) -> None:  # noqa: ANN001
    if transaction.parent is None:
        session.info.pop(_CONN, None)


@contextlib.contextmanager
def session_scope(url: str | None = None, write: bool = True) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on error."""
    bind = write_engine(url) if write else get_engine(url)
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def forget_engine(url: str) -> None:
    engine = _ENGINES.pop(_normalise(url), None)
    if engine is not None:
        _WRITE_ENGINES.pop(id(engine), None)
        engine.dispose()


def dispose_engines() -> None:
    _WRITE_ENGINES.clear()
    while _ENGINES:
        _ENGINES.popitem()[1].dispose()


def insert_or_skip(session: Session, table: Any, index_elements: list[str]) -> Any:
    """INSERT … ON CONFLICT (index_elements) DO NOTHING in the session's dialect: a unique key
    makes the write happen once however often it is tried (outbox rows, counters, ladder steps)."""
    dialect = session.get_bind().dialect.name
    # Each dialect's module imported here: the PostgreSQL one is 19 modules a SQLite run never needs
    # (issue 15, a CLI call's start-up); the engine imports its own dialect when it is created.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=index_elements)
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing(index_elements=index_elements)
    return insert(table)  # pragma: no cover - only the two databases are supported

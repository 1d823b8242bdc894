"""Hot-path statements: SQLAlchemy Core statements run on the driver's own cursor.

Every hazard transition runs the same handful of statements (load the actor and
the hazard, lock the audit head, insert the event, update the hazard).  Through
SQLAlchemy each costs 100-150 µs of Python around a 20-30 µs SQLite call (see
docs/bench.md), which made the engine several times slower than a hand-written
writer.  A `Prepared` statement is still written as Core and compiled by
SQLAlchemy — once per dialect — with SQLAlchemy's own type processors for its
parameters and result columns (UTC datetimes, JSON, booleans), so the SQL and the
stored values are exactly what `Connection.execute` would produce; only the
per-call execution context is skipped.  It runs on the session's connection, in
the session's transaction, so it commits and rolls back with everything else.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # parameter order for qmark/format drivers, None for named
    fixed: dict[str, Any]  # values written into the statement itself (e.g. `id == 1`)
    binds: tuple[tuple[str, Processor], ...]  # parameters that need converting
    columns: tuple[str, ...]  # result column names
    results: tuple[tuple[str, Callable[[Any], Any]], ...]  # result columns that need converting
    getter: Callable[[dict], tuple] | None  # the positional parameters out of a dict, in order


def _bind_processor(type_: Any, dialect: Dialect) -> Processor:
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _result_processor(type_: Any, dialect: Dialect) -> Processor:
    return type_.dialect_impl(dialect).result_processor(dialect, None)


class Prepared:
    """One Core statement, compiled once per dialect, executed on the DB-API cursor."""

    __slots__ = ("statement", "column_keys", "_compiled")

    def __init__(self, statement: ClauseElement, column_keys: list[str] | None = None) -> None:
        self.statement = statement
        self.column_keys = column_keys
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        done = self._compiled.get(dialect.name)
        if done is not None:
            return done
        compiled = self.statement.compile(dialect=dialect, column_keys=self.column_keys)
        binds = tuple((name, proc) for name, bind in compiled.binds.items()
                      if (proc := _bind_processor(bind.type, dialect)) is not None)
        positional = tuple(compiled.positiontup) if compiled.positional else None
        selected = getattr(self.statement, "selected_columns", None)
        returning = getattr(self.statement, "_returning", None) or ()
        cols = list(selected) if selected is not None else list(returning)
        fixed = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
        results = tuple((c.key, proc) for c in cols if (proc := _result_processor(c.type, dialect)) is not None)
        getter = None
        if positional is not None:
            getter = (lambda p: ()) if not positional else operator.itemgetter(*positional)
            if len(positional) == 1:  # itemgetter of one name returns the value, not a tuple
                one = positional[0]
                getter = lambda p: (p[one],)  # noqa: E731
        done = _Compiled(
            sql=compiled.string, positional=positional, fixed=fixed, binds=binds,
            columns=tuple(c.key for c in cols), results=results, getter=getter,
        )
        self._compiled[dialect.name] = done
        return done

    def _run(self, conn: Connection, params: dict[str, Any]):  # noqa: ANN202
        c = self._compile(conn.dialect)
        if c.fixed or c.binds:
            params = {**c.fixed, **params}
            for name, proc in c.binds:
                if name in params:
                    params[name] = proc(params[name])
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.execute(c.sql, c.getter(params) if c.getter is not None else params)
        return c, cursor

    def execute(self, conn: Connection, params: dict[str, Any] | None = None) -> int:
        """Run a write; returns the number of rows it touched."""
        _, cursor = self._run(conn, params or {})
        count = cursor.rowcount
        cursor.close()
        return count

    def first(self, conn: Connection, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Run a query; its first row as {column: value}, converted as SQLAlchemy would, or None."""
        c, cursor = self._run(conn, params or {})
        raw = cursor.fetchone()
        cursor.close()
        if raw is None:
            return None
        row = dict(zip(c.columns, raw))
        for name, proc in c.results:
            row[name] = proc(row[name])
        return row

    def scalar(self, conn: Connection, params: dict[str, Any] | None = None) -> Any:
        row = self.first(conn, params)
        return None if row is None else next(iter(row.values()))

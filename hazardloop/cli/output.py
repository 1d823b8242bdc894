"""Shared pieces of the command line: the database option, the session, output, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from hazardloop.errors import HazardLoopError
from hazardloop.models.db import get_engine, session_scope

console = Console()


err_console = Console(stderr=True, soft_wrap=True)  # messages stay whole lines (greppable)


STATE: dict[str, Any] = {"db": None}


def db_url() -> str | None:
    return STATE["db"]


@contextmanager
def unit_of_work() -> Iterator[Session]:
    with session_scope(db_url()) as session:
        yield session


def engine():  # noqa: ANN201
    return get_engine(db_url())


def parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"日期格式应为 YYYY-MM-DD，收到 {value!r}", param_hint=option) from None


def print_json(data: Any) -> None:
    from hazardloop.models.audit import jsonable

    sys.stdout.write(json.dumps(jsonable(data), ensure_ascii=False, indent=2) + "\n")


def fail(error: HazardLoopError | str, code: int = 1) -> None:
    err_console.print(f"[bold red]错误：[/]{error}", highlight=False, markup=True)
    raise SystemExit(code)


def write_document(doc: Any, html: bool) -> None:
    """Print an issued document's stored bytes as they are (HTML or text); a hash mismatch exits 1."""
    from hazardloop.escalation.documents import stored_body

    try:
        body = stored_body(doc, html)
    except HazardLoopError as exc:
        fail(exc)
    sys.stdout.flush()
    sys.stdout.buffer.write(body.encode("utf-8"))
    sys.stdout.buffer.flush()


Actor = Annotated[str, typer.Option("--actor", help="操作人用户名")]
OfficeActor = Annotated[str, typer.Option("--actor", help="操作人用户名（市安委办）")]


Json = Annotated[bool, typer.Option("--json", help="以 JSON 输出")]

def read_only():  # noqa: ANN201
    """A unit of work that only reads (no write lock on SQLite)."""
    from hazardloop.models.db import session_scope

    return session_scope(db_url(), write=False)


def print_wide(table: Table) -> None:
    # Rows of Chinese names do not fit 80 cells (the width rich assumes for a pipe): print wide.
    Console(width=max(console.width, 160), soft_wrap=False).print(table)


def parse_month(value: Optional[str]) -> str:
    from hazardloop.config import clock

    if value is None:
        today = clock.today()
        return f"{today.year}-{today.month:02d}"
    from hazardloop.config.calendar import month_bounds
    from hazardloop.errors import ValidationError

    try:
        first, _ = month_bounds(value.strip())
    except ValidationError as exc:
        raise typer.BadParameter(str(exc), param_hint="--month") from None
    return f"{first.year}-{first.month:02d}"

"""Shared pieces of the command line: the database option, the session, output, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import typer
from rich.console import Console
from sqlmodel import Session

from hazardloop.models.db import get_engine, session_scope
from hazardloop.models.errors import HazardLoopError

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
    from hazardloop.notifications.documents import stored_body

    try:
        body = stored_body(doc, html)
    except HazardLoopError as exc:
        fail(exc)
    sys.stdout.flush()
    sys.stdout.buffer.write(body.encode("utf-8"))
    sys.stdout.buffer.flush()

"""Shared pieces of the command line: the database option, the session, output, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from sqlmodel import Session

from hazardloop.errors import HazardLoopError
from hazardloop.models.db import get_engine, session_scope

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

def terminal_width() -> int:
    """COLUMNS when set (tests, scripts), else the terminal's width; 80 under a pipe."""
    import os
    import shutil

    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 20:
        return int(cols)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((80, 24)).columns
    return 80


class _Console:
    """The stdout console, made at each use: the width follows COLUMNS and the stream is the current
    sys.stdout (a test's capture or a pipe).  rich is imported on the first print: a --json call never
    loads it (issue 15, start-up)."""

    def __getattr__(self, name: str) -> Any:
        from rich.console import Console

        return getattr(Console(width=terminal_width()), name)


class _ErrConsole:
    """stderr's console, made on first use; messages stay whole lines (greppable)."""

    _console: Any = None

    def __getattr__(self, name: str) -> Any:
        if _ErrConsole._console is None:
            from rich.console import Console

            _ErrConsole._console = Console(stderr=True, soft_wrap=True)
        return getattr(_ErrConsole._console, name)


console: Any = _Console()
err_console: Any = _ErrConsole()


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


def print_wide(table: Table, wide: bool = False, **kw: Any) -> None:
    """Kept for the group modules that call it: the table fitted to the terminal (see show)."""
    show(table, wide=wide, **kw)


# --- tables that fit (issue 15) -------------------------------------------------------------------
# Identifiers (YH-…, JB-…, 文号, dates, codes) are never cut: a column whose every cell looks like one
# keeps its full width.  Text columns may wrap, but not to slivers (at least TEXT_MIN cells, 6 汉字).
# When the table is wider than the terminal: the secondary columns go first; if it still does not fit,
# every record is printed as a block of "名称：值" lines.  --wide prints every column at full width.
TEXT_MIN = 12
_IDENT = None


def _is_ident(text: str) -> bool:
    import re

    global _IDENT
    if _IDENT is None:
        _IDENT = re.compile(r"^(?:[\x21-\x7e]+|\S*〔\d{4}〕\d+号|\d{4}-\d\d-\d\d(?: \d\d:\d\d)?|"
                            r"\d{4}年第?\d+(?:季度|月))$")
    return bool(_IDENT.match(text))


def _plain(cell: Any) -> str:
    return cell.plain if hasattr(cell, "plain") else str(cell)


def _width(console_: Console, table: Table) -> tuple[int, int]:
    """(narrowest, natural) width of `table`.  Computed here: rich measures a run of 汉字 as one unbreakable
    word, so its own minimum is the natural width, although it wraps 汉字 anywhere when printing."""
    from rich.cells import cell_len

    frame = 3 * len(table.columns) + 1
    natural = narrowest = frame
    for col in table.columns:
        widest = max([cell_len(_plain(col.header))] + [cell_len(_plain(c)) for c in col.cells])
        natural += widest
        narrowest += widest if col.no_wrap else min(widest, col.min_width or widest)
    return narrowest, natural


def _fit_columns(table: Table) -> None:
    from rich.cells import cell_len

    for col in table.columns:
        cells = [_plain(c) for c in col.cells]
        widest = max([cell_len(_plain(col.header))] + [cell_len(c) for c in cells])
        if cells and all(_is_ident(c) or not c for c in cells):
            col.no_wrap, col.min_width = True, widest
        else:  # 汉字 have no spaces to wrap at: fold, never "…"
            col.min_width, col.overflow = min(widest, max(TEXT_MIN, cell_len(_plain(col.header)))), "fold"


def _share(table: Table, width: int) -> None:
    """Fix each column's width so the table is exactly as wide as the terminal allows: identifiers keep
    theirs, the text columns share the rest in proportion to what they would like (rich, measuring a
    run of 汉字 as one word, would otherwise overrun the terminal and crop the right edge)."""
    from rich.cells import cell_len

    natural = [max([cell_len(_plain(c.header))] + [cell_len(_plain(x)) for x in c.cells]) for c in table.columns]
    if sum(natural) + 3 * len(natural) + 1 <= width:
        return
    flexible = [i for i, c in enumerate(table.columns) if not c.no_wrap]
    fixed = sum(natural[i] for i in range(len(natural)) if i not in flexible)
    avail = width - 3 * len(natural) - 1 - fixed
    mins = {i: min(natural[i], table.columns[i].min_width or natural[i]) for i in flexible}
    extra = avail - sum(mins.values())
    want = {i: natural[i] - mins[i] for i in flexible}
    total_want = sum(want.values()) or 1
    for i in flexible:
        table.columns[i].width = mins[i] + extra * want[i] // total_want
    for i in range(len(natural)):
        if i not in flexible:
            table.columns[i].width = natural[i]


def _without(table: Table, drop: set[str]) -> Table:
    from rich.table import Table

    keep = [i for i, c in enumerate(table.columns) if _plain(c.header) not in drop]
    out = Table(show_header=table.show_header, box=table.box, show_lines=table.show_lines, caption=table.caption)
    for i in keep:
        c = table.columns[i]
        out.add_column(c.header, justify=c.justify, no_wrap=c.no_wrap, min_width=c.min_width, overflow=c.overflow)
    columns = [list(table.columns[i].cells) for i in keep]
    for row in zip(*columns):
        out.add_row(*row)
    return out


def print_blocks(table: Table, out: Console) -> None:
    """One record per block: the first column as its heading, then "名称：值" lines (nothing is cut)."""
    headers = [_plain(c.header) for c in table.columns]
    columns = [[_plain(x) for x in c.cells] for c in table.columns]
    for row in zip(*columns):
        if table.show_header:
            out.print(f"■ {row[0]}", highlight=False, markup=False, soft_wrap=True)
            for h, v in zip(headers[1:], row[1:]):
                if v:
                    out.print(f"  {h}：{v}", highlight=False, markup=False, soft_wrap=True)
        else:  # a key/value table (show): one line per field
            out.print(f"{row[0]}：{'  '.join(row[1:])}", highlight=False, markup=False, soft_wrap=True)


def show(table: Table, *, wide: bool = False, secondary: tuple[str, ...] = (), footer: str | None = None) -> None:
    """Print `table` so that it is readable at the terminal's width (see the rules above).  The title
    is printed on its own line (never broken inside the frame); `footer` (显示 N / 共 M) after it."""
    from rich.console import Console

    width = terminal_width()
    title = table.title
    table.title = None
    if table.row_count == 0:  # an empty frame says less than a sentence
        Console(width=width).print(f"{_plain(title) + '：' if title else ''}（无）", highlight=False, markup=False,
                                   soft_wrap=True)
        return
    _fit_columns(table)
    out = Console(width=width, soft_wrap=False)
    if title:
        out.print(_plain(title), highlight=False, markup=False, soft_wrap=True, style="bold")
    if wide:
        _, maximum = _width(out, table)
        Console(width=max(width, maximum), soft_wrap=False).print(table)
    else:
        fitted = table
        for header in secondary:  # least needed first
            if _width(out, fitted)[1] <= width:
                break
            fitted = _without(fitted, {header})
        if _width(out, fitted)[0] <= width:
            _share(fitted, width)
            out.print(fitted)
        else:
            print_blocks(table, out)
    if footer:
        out.print(footer, highlight=False, markup=False, soft_wrap=True)


def shown(count: int, total: int, offset: int = 0) -> str:
    """The footer of a paged list."""
    if total > offset + count:
        return f"显示 {count} / 共 {total}（第 {offset + 1}–{offset + count} 条；翻页：--offset {offset + count}）"
    return f"显示 {count} / 共 {total}"


Wide = Annotated[bool, typer.Option("--wide", help="显示全部列（不按终端宽度省略）")]
Limit = Annotated[int, typer.Option("--limit", help="每页条数")]
Offset = Annotated[int, typer.Option("--offset", help="从第几条开始（翻页）")]


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


# --- what a person types (issue 15): codes or Chinese names, hazards by code, 文号 by any brackets ---
def _refuse(exc: Exception, option: str | None = None) -> None:
    raise typer.BadParameter(str(exc), param_hint=option) from None


def choice(table: str, what: str) -> Any:
    """A typer callback: the option takes a code of labels `table` or its Chinese name; unknown values
    are a usage error (exit 2) naming every accepted value."""
    from hazardloop.config import labels

    def convert(value: Any) -> Any:
        try:
            if isinstance(value, (list, tuple)):
                return [labels.resolve(table, v, what) for v in value]
            return labels.resolve(table, value, what)
        except HazardLoopError as exc:
            _refuse(exc)
    return convert


def org(kind: str) -> Any:
    """A typer callback: a region / department / industry by code or Chinese name (looked up in the
    database the command uses)."""
    def convert(value: Any) -> Any:
        if value is None or value == []:
            return value
        from hazardloop.models.lookup import resolve

        try:
            with read_only() as s:
                if isinstance(value, (list, tuple)):
                    return [resolve(s, kind, v) for v in value]
                return resolve(s, kind, value)
        except HazardLoopError as exc:
            _refuse(exc)
    return convert


def choices_help(table: str, prefix: str) -> str:
    from hazardloop.config import labels

    return f"{prefix}：" + "、".join(labels.TABLES[table].values()) + "（中文名或代码）"


def hazard_ids(session: Session, refs: list[str] | None) -> list[int]:
    """Hazards typed by code (YH-2026-000401) or id, as ids (NotFound names the one missing)."""
    from hazardloop.states.ledger import get_hazard

    return [get_hazard(session, ref.strip()).id for ref in refs or []]


def document_number(value: str) -> str:
    from hazardloop.models.lookup import document_number as normal

    return normal(value)


def local_time(value: Any) -> str:
    """A stored UTC time as a person reads it: Asia/Shanghai, to the minute."""
    if value is None:
        return ""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)  # SQLite drops the zone; storage is UTC
        return value.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def port_free(host: str, port: int, option: str) -> None:
    """Refuse (exit 1, in Chinese) a port something else already listens on: better than the server's
    traceback half-way through start-up."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is not busy
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(f"端口 {port} 已被占用（{host}）：请用 {option} 换一个端口，或先停止占用它的程序。")
            fail(f"无法在 {host}:{port} 上监听：{exc.strerror or exc}")


def yes_no(value: Any) -> str:
    return "是" if value else "否"


# Options a person fills with a Chinese name or a code (resolved before the command runs).
def code_option(table: str, what: str, *names: str, multiple: bool = False) -> Any:
    return typer.Option(*names, help=choices_help(table, what) + ("（可多次给出）" if multiple else ""),
                        callback=choice(table, what))


def org_option(kind: str, *names: str, multiple: bool = False) -> Any:
    what = {"region": "镇街区", "department": "部门", "industry": "行业"}[kind]
    return typer.Option(*names, help=f"{what}（中文名或代码）" + ("（可多次给出）" if multiple else ""),
                        callback=org(kind))


State = Annotated[Optional[str], code_option("state", "状态", "--state")]
Channel = Annotated[Optional[str], code_option("channel", "发现渠道", "--channel")]
Level = Annotated[Optional[str], code_option("level", "督办级别", "--level")]
RoleOpt = Annotated[Optional[str], code_option("role", "角色", "--role")]
Region = Annotated[Optional[str], org_option("region", "--region")]
Industry = Annotated[Optional[str], org_option("industry", "--industry")]
Department = Annotated[Optional[str], org_option("department", "--department")]


def shown_value(value: Any) -> str:
    """A stored value as a person reads it: times in Shanghai, 是/否, lists joined, nothing for None."""
    from datetime import datetime

    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, (datetime, date)):
        return local_time(value)
    if isinstance(value, (list, tuple, set)):
        return "、".join(shown_value(v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}：{shown_value(v)}" for k, v in value.items())
    return str(value)


def record_table(title: str, rows: list[tuple[str, Any]]) -> Table:
    """One record as 名称 / 值 rows (empty values left out)."""
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("项目")
    table.add_column("内容")
    for name, value in rows:
        text = shown_value(value)
        if text:
            table.add_row(name, text)
    return table

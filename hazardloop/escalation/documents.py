"""Official documents (公文): numbering (文号), rendering from Jinja2 templates, storing.

A document is rendered once, when it is issued, and stored with the SHA-256 of
its HTML and of its text; every later use (messages, `document show`, the audit
trail) reads the stored bytes, never a fresh rendering.

文号 are `{prefix}{doc_type}〔{year}〕{serial}号`, e.g. 肥安办函〔2026〕12号: one
counter row per (doc_type, year), incremented with UPDATE ... RETURNING inside
the issuing transaction.  The UPDATE row-locks the counter until commit, so two
sweeps take turns, and a rolled-back transaction returns its numbers: no gap,
no reuse.
"""

from __future__ import annotations

import hashlib
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import insert, select, update
from sqlmodel import Session

from hazardloop.models.db import insert_or_skip
from hazardloop.models.escalation import Document, DocumentCounter
from hazardloop.errors import NotFound, ValidationError

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, auto_reload=False, trim_blocks=True, lstrip_blocks=True,
    )


def render(template: str, context: dict[str, Any]) -> tuple[str, str]:
    """(html, text) for a document template name such as doc_letter."""
    env = environment()
    html = env.get_template(f"{template}.html.j2").render(context)
    text = env.get_template(f"{template}.txt.j2").render(context)
    return html, text


def render_text(template: str, context: dict[str, Any]) -> str:
    return environment().get_template(f"{template}.txt.j2").render(context)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def format_number(prefix: str, doc_type: str, year: int, serial: int) -> str:
    return f"{prefix}{doc_type}〔{year}〕{serial}号"


def allocate(session: Session, doc_type: str, year: int, count: int = 1) -> int:
    """Reserve `count` consecutive serials; returns the first.  Locks the counter row until commit."""
    table = DocumentCounter.__table__
    session.execute(insert_or_skip(session, table, ["doc_type", "year"]),
                    {"doc_type": doc_type, "year": year, "last": 0})
    last = session.execute(
        update(table).where(table.c.doc_type == doc_type, table.c.year == year)
        .values(last=table.c.last + count).returning(table.c.last)
    ).scalar_one()
    return last - count + 1


def document_row(*, number: str, doc_type: str, year: int, serial: int, title: str, step_id: int, hazard_id: int,
                 cycle: int, step: str, issue_date: date, html: str, text: str, issued_at) -> dict[str, Any]:  # noqa: ANN001
    return dict(number=number, doc_type=doc_type, year=year, serial=serial, title=title, step_id=step_id,
                hazard_id=hazard_id, cycle=cycle, step=step, issue_date=issue_date, html=html, text=text,
                sha256=sha256(html), text_sha256=sha256(text), issued_at=issued_at)


def store(session: Session, rows: list[dict[str, Any]]) -> dict[int, int]:
    """Insert documents; returns step_id -> document id."""
    if not rows:
        return {}
    table = Document.__table__
    result = session.execute(insert(table).returning(table.c.id, table.c.step_id), rows).all()
    return {r.step_id: r.id for r in result}


def stored_body(doc: Any, html: bool = True) -> str:
    """An issued document's stored HTML (or text), refused if it no longer matches the hash
    recorded at issue.  Any stored 公文 row: hazard letters, bulletins, lagging-unit letters."""
    body, digest = (doc.html, doc.sha256) if html else (doc.text, doc.text_sha256)
    if sha256(body) != digest:
        raise ValidationError(f"公文 {doc.number} 的存储内容与出具时的 SHA-256 不符（可能被篡改）。")
    return body


def get_document(session: Session, number: str) -> Document:
    doc = session.execute(select(Document).where(Document.number == number.strip())).scalars().first()
    if doc is None:
        raise NotFound(f"没有文号为 {number} 的公文（见 hazardloop document list）。")
    return doc

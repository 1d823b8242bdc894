"""Recipients whose address is confidential: a public reporter (举报人) who asked for feedback.

A reporter's contact is stored only as a Fernet token on the report (config.secrecy).  The
outbox row for the reporter therefore names the report, never the address:
recipient_role "reporter", recipient_key "public_report:<id>", the masked name, address NULL.
The dispatcher opens the token only when it sends (open_addresses), builds the URL it hands
Apprise from it, and scrubs the address from every error it records and from Apprise's own
log records while the message is on the wire (Apprise logs "Sent Email to …" at INFO and
the JSON payload at DEBUG).  Such a row never joins a digest, and its Apprise object is not
cached.  Who may read the address in clear is decided elsewhere (intake.reports.reveal_identity);
nothing here shows it to anyone.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from hazardloop.config import secrecy
from hazardloop.config.clock import utcnow
from hazardloop.config.labels import label
from hazardloop.models.intake import PublicReport
from hazardloop.notifications.outbox import base_row, insert_rows, notification_key
from hazardloop.notifications.recipients import Recipient
from hazardloop.notifications.routes import Routes, load_routes
from hazardloop.states.confidential import MASKED_REPORTER

SEALED_ROLE = "reporter"
KEY_PREFIX = "public_report:"
# What the outbox pages and `outbox show` print where another row prints its address.
SEALED_ADDRESS = "（举报人的联系方式加密保存，发送时才解密，不在此显示）"
MASK = "（举报人联系方式）"


def reporter_key(report_id: int) -> str:
    return f"{KEY_PREFIX}{report_id}"


def is_sealed(row: Any) -> bool:
    """Whether an outbox row (a mapping or a Notification) goes to a sealed address."""
    get = row.get if isinstance(row, Mapping) else (lambda k: getattr(row, k, None))
    return get("recipient_role") == SEALED_ROLE and str(get("recipient_key") or "").startswith(KEY_PREFIX)


def channel_problem(routes: Routes, channel: str) -> str | None:
    """Why the reporter's chosen channel cannot be used now (None: it can)."""
    name = label("feedback_channel", channel)
    ch = routes.channels.get(channel)
    if ch is None:
        return f"举报人选择的反馈渠道“{name}”（{channel}）在路由配置中没有定义（{routes.path}），补充后执行 outbox retry。"
    if not ch.enabled():
        return (f"举报人选择的反馈渠道“{name}”未启用：需设置环境变量 {'、'.join(ch.requires_env)}，"
                f"设置后执行 outbox retry。")
    return None


def enqueue_reporter(session: Session, *, report_id: int, cycle: int, event: str, channel: str, subject: str,
                     body: str) -> int:
    """Queue one notice to a report's reporter on the channel they chose (in the caller's
    transaction).  A channel that is not configured or not enabled still gets its row, as
    undeliverable with the reason: a finding, not a drop.  Returns how many rows were new."""
    who = Recipient(SEALED_ROLE, MASKED_REPORTER, username=reporter_key(report_id))
    step = f"R{report_id}"
    why = channel_problem(load_routes(), channel)
    row = base_row(event=event, hazard_id=None, cycle=cycle, step=step, role=SEALED_ROLE, name=MASKED_REPORTER,
                   key=who.username or "", subject=subject, body=body, document_id=None, now=utcnow())
    row |= dict(key=notification_key(event, None, cycle, step, who, channel), channel=channel, address=None,
                status="undeliverable" if why else "pending", last_error=why)
    return insert_rows(session, [row])


# --- at send time ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    address: str | None = None
    error: str | None = None
    final: bool = False  # True: undeliverable (no contact); False: may work on a retry (e.g. a key fixed)

    def __repr__(self) -> str:  # never print the address, not even in a traceback
        return f"Opened(address={'***' if self.address else None}, error={self.error!r}, final={self.final})"


def normalise(channel: str, contact: str) -> str:
    text = unicodedata.normalize("NFKC", contact).strip()
    if channel == "sms":
        return re.sub(r"[\s\-()]", "", text)
    return text


def open_addresses(engine: Engine, rows: list[dict[str, Any]]) -> dict[int, Opened]:
    """For each sealed row (by row id): the reporter's address, decrypted now, or why not."""
    wanted: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if is_sealed(row):
            ref = str(row["recipient_key"])[len(KEY_PREFIX):]
            if ref.isdigit():
                wanted.setdefault(int(ref), []).append(row)
            else:
                wanted.setdefault(-1, []).append(row)
    if not wanted:
        return {}
    with Session(engine) as s:
        tokens = dict(s.execute(select(PublicReport.id, PublicReport.reporter_contact_enc)
                                .where(PublicReport.id.in_(list(wanted)))).all())  # type: ignore[union-attr]
    out: dict[int, Opened] = {}
    for report_id, members in wanted.items():
        token = tokens.get(report_id)
        for row in members:
            if token is None:
                out[row["id"]] = Opened(error="举报人没有留下联系方式（或举报不存在），无法投递。", final=True)
                continue
            try:
                contact = secrecy.decrypt(token)
            except secrecy.KeyError_ as exc:
                out[row["id"]] = Opened(error=str(exc))
                continue
            out[row["id"]] = Opened(address=normalise(row["channel"], contact or ""))
    return out


def forms(address: str) -> tuple[str, ...]:
    """Every spelling of an address that may appear in a URL, a log line or an error."""
    spelled = {address, quote(address, safe="@+"), quote(address, safe=""), quote(address, safe="@")}
    return tuple(sorted((f for f in spelled if f), key=len, reverse=True))


def scrub(text: str | None, secrets: tuple[str, ...]) -> str | None:
    if not text or not secrets:
        return text
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


_lock = threading.Lock()
_on_wire: Counter[str] = Counter()
_filter_installed = False


class _ScrubApprise(logging.Filter):
    """On Apprise's logger: a record that names an address now on the wire is rewritten masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _lock:
            secrets = tuple(_on_wire)
        if secrets:
            message = record.getMessage()
            cleaned = scrub(message, tuple(sorted(secrets, key=len, reverse=True)))
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


@contextmanager
def on_the_wire(secrets: tuple[str, ...]) -> Iterator[None]:
    """While a sealed message is being sent: Apprise's log records are scrubbed of its address."""
    global _filter_installed
    if not secrets:
        yield
        return
    with _lock:
        if not _filter_installed:  # installed on first use, not at import (importing changes nothing)
            logging.getLogger("apprise").addFilter(_ScrubApprise())
            _filter_installed = True
        _on_wire.update(secrets)
    try:
        yield
    finally:
        with _lock:
            _on_wire.subtract(secrets)
            for s in secrets:
                if _on_wire[s] <= 0:
                    del _on_wire[s]

"""The dispatcher: claim due outbox rows, send them through Apprise, record each result.

One pass (`dispatch()`) loops over batches:

1. claim — in one short write transaction, take up to batch_size due rows
   (pending, retry whose time has come, or sending whose lease ran out because
   a dispatcher died) and mark them sending / claimed_by / claimed_until.  On
   PostgreSQL the rows are selected FOR UPDATE SKIP LOCKED, so concurrent
   dispatchers never take the same row; on SQLite the claim runs under the
   database write lock and a lock file keeps to one dispatcher at a time.
   The attempt counter goes up at claim time, so a row that keeps killing its
   dispatcher still runs out of attempts.
2. send — outside any transaction, `concurrency` threads each build an Apprise
   object holding the row's URL under its channel tag and notify by that tag.
   Each URL carries X-Idempotency-Key (a hash of the row's unique key).
3. record — one write transaction stores a notification_attempt per Apprise
   service result (AppriseResult is iterated; its truthiness is not trusted)
   and moves each row to sent, retry (exponential backoff with jitter) or dead.

The steps overlap: while batch k is on the wire (in the worker threads) the main
thread records batch k-1 and claims batch k+1 (the database work hides behind
the network work).

At-least-once window: a crash between 2 and 3 leaves rows `sending`; when
their lease expires the next pass sends them again.  Nothing is lost; a
receiver may see a second copy carrying the same X-Idempotency-Key.  The window
holds at most the batch being sent and, when pipelined, the one before it.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import os
import random
import signal
import socket
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import apprise
from apprise import AppriseResultStatus
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from hazardloop.config import clock
from hazardloop.models.db import get_engine, is_sqlite
from hazardloop.errors import ValidationError
from hazardloop.models.notify import NotificationAttempt
from hazardloop.models.tables import Hazard, Notification
from hazardloop.notifications import filechannel  # noqa: F401  (registers the file:// plugin)
from hazardloop.notifications import sealed
from hazardloop.notifications.notices import render
from hazardloop.notifications.routes import UNDELIVERABLE, Routes, load_routes

N = Notification.__table__
A = NotificationAttempt.__table__
KILL_ENV = "HAZARDLOOP_DISPATCH_KILL_POINT"  # test hook: after_claim | after_send
IDEMPOTENT_SCHEMAS = {"json", "jsons", "form", "forms", "xml", "xmls", "mailto", "mailtos", "file"}
DUE_STATUSES = ("pending", "retry")


@dataclass
class DispatchReport:
    dispatcher: str
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    undeliverable: int = 0
    messages: int = 0  # Apprise notify calls (a digest is one)
    digests: int = 0
    recovered: int = 0  # rows taken over from a dispatcher whose lease ran out
    busy: bool = False
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        if self.busy:
            return "另一个调度进程正在运行（SQLite 同一时间只允许一个调度进程），本次未处理。"
        return (f"认领 {self.claimed} 条：已发送 {self.sent}，待重试 {self.retried}，死信 {self.dead}，"
                f"无法送达 {self.undeliverable}；共投递 {self.messages} 次（其中汇总 {self.digests} 次），"
                f"接管中断的投递 {self.recovered} 条，用时 {self.seconds:.2f} 秒。")


@dataclass
class Message:
    """One Apprise call: one outbox row, or several folded into a digest."""

    rows: list[dict[str, Any]]
    channel: str
    target: str | None  # URL with recipient fields filled, ${ENV} not expanded (safe to show)
    title: str
    body: str
    idem: str
    digest_key: str | None = None
    error: str | None = None  # could not even be built
    undeliverable: bool = False
    # A sealed recipient (a public reporter, notifications/sealed.py): the URL with the decrypted
    # address, and the address's spellings to scrub; `target` above then shows no address.
    secret_target: str | None = field(default=None, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)


@dataclass
class Outcome:
    message: Message
    ok: bool
    services: list[dict[str, Any]]  # per Apprise service: name, tag, status, error, elapsed_ms
    error: str | None


RECOVERY_EVERY = 60.0  # seconds between looks for expired leases within one pass


def idempotency_key(keys: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode("utf-8")).hexdigest()[:32]


def backoff_seconds(attempts: int, policy: dict[str, Any], rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: base * 2^(n-1), capped, then ± jitter."""
    base = float(policy["backoff_seconds"]) * (2 ** max(0, attempts - 1))
    delay = min(base, float(policy["backoff_max_seconds"]))
    j = float(policy["jitter"])
    return max(0.0, delay * (rng or random).uniform(1 - j, 1 + j))


def new_dispatcher_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


# --- claim --------------------------------------------------------------------------


def claim(engine: Engine, me: str, n: int, lease_seconds: float, *, recover: bool = True
          ) -> tuple[list[dict[str, Any]], int]:
    """Take up to n due rows; returns them (attempts already counted) and how many were recovered.
    recover: also look for rows whose holder's lease ran out (a dispatcher that died)."""
    now = clock.utcnow()
    cols = (N.c.id, N.c.status, N.c.claimed_by, N.c.attempts)
    with Session(engine.execution_options(hazardloop_write=True)) as s:
        # Two index range scans (status, next_attempt_at) rather than one OR that scans the table.
        picked = s.execute(
            select(*cols).where(N.c.status == "sending", N.c.claimed_until < now)
            .order_by(N.c.id).limit(n).with_for_update(skip_locked=True)
        ).all() if recover else []
        for status in DUE_STATUSES:
            if len(picked) >= n:
                break
            picked += s.execute(
                select(*cols).where(N.c.status == status, N.c.next_attempt_at <= now)
                .order_by(N.c.next_attempt_at, N.c.id).limit(n - len(picked)).with_for_update(skip_locked=True)
            ).all()
        if not picked:
            s.commit()
            return [], 0
        ids = [p.id for p in picked]
        rows = s.execute(
            update(N).where(N.c.id.in_(ids))
            .values(status="sending", claimed_by=me, claimed_until=now + timedelta(seconds=lease_seconds),
                    attempts=N.c.attempts + 1)
            .returning(*N.c)
        ).mappings().all()
        crashed = [p for p in picked if p.status == "sending"]
        if crashed:
            # The previous holder died after claiming: it may or may not have sent.
            s.execute(insert(A), [dict(
                notification_id=p.id, attempt=p.attempts, dispatcher=p.claimed_by or "?", service="-", tag="",
                status="INTERRUPTED", elapsed_ms=0, at=now,
                error=f"调度进程 {p.claimed_by} 在记录结果前中断（租期已过），由 {me} 重新投递；"
                      f"接收方可能收到第二份，可按 X-Idempotency-Key 去重。",
            ) for p in crashed])
        s.commit()
    return [dict(r) for r in sorted(rows, key=lambda r: r["id"])], len(crashed)


# --- plan: rows -> messages ---------------------------------------------------------


def _target(routes: Routes, row: dict[str, Any]) -> str:
    return routes.target(row["channel"], recipient_key_=row["recipient_key"] or f"{row['recipient_role']}:"
                         f"{row['recipient_name']}", role=row["recipient_role"], name=row["recipient_name"],
                         address=row["address"])


def _sealed_message(row: dict[str, Any], routes: Routes, opened: sealed.Opened | None) -> Message:
    """A row to a sealed address: sent on its own, the address only in secret_target."""
    idem = idempotency_key([row["key"]])

    def failed(error: str | None, final: bool) -> Message:
        return Message([row], row["channel"], None, row["subject"], row["body"], idem, error=error,
                       undeliverable=final)

    why = sealed.channel_problem(routes, row["channel"])
    if why:
        return failed(why, True)
    if opened is None or opened.address is None:
        return failed(opened.error if opened else "举报人的联系方式未能读取。", opened.final if opened else False)
    try:
        shown = _target(routes, row)  # the row's address is NULL: the URL without it, safe to show
        real = routes.target(row["channel"], recipient_key_=row["recipient_key"], role=row["recipient_role"],
                             name=row["recipient_name"], address=opened.address)
    except (ValidationError, LookupError) as exc:
        return failed(str(exc), True)
    return Message([row], row["channel"], shown, row["subject"], row["body"], idem, secret_target=real,
                   secrets=sealed.forms(opened.address))


def plan_messages(rows: list[dict[str, Any]], routes: Routes, hazard_codes: dict[int, str] | None = None,
                  opened: dict[int, sealed.Opened] | None = None) -> list[Message]:
    single: list[Message] = []
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if sealed.is_sealed(row) and row["channel"] != UNDELIVERABLE:
            single.append(_sealed_message(row, routes, (opened or {}).get(row["id"])))
            continue
        try:
            if row["channel"] == UNDELIVERABLE:
                raise LookupError("无可达渠道")
            target = _target(routes, row)
        except (ValidationError, LookupError) as exc:
            single.append(Message([row], row["channel"], None, row["subject"], row["body"],
                                  idempotency_key([row["key"]]), error=str(exc), undeliverable=True))
            continue
        # Formal documents (letters, bulletins) always go out on their own, never inside a digest.
        if row["document_id"] is None and routes.digest_for(row["recipient_key"], row["recipient_role"],
                                                            row["recipient_name"]):
            groups[(row["channel"], target)].append(row)
        else:
            single.append(Message([row], row["channel"], target, row["subject"], row["body"],
                                  idempotency_key([row["key"]])))
    for (channel, target), members in groups.items():
        if len(members) == 1:
            row = members[0]
            single.append(Message([row], channel, target, row["subject"], row["body"], idempotency_key([row["key"]])))
            continue
        key = idempotency_key([m["key"] for m in members])
        items = [dict(subject=m["subject"], body=m["body"], hazard_code=(hazard_codes or {}).get(m["hazard_id"]))
                 for m in members]
        title, body = render("notice_digest.j2", recipient_name=members[0]["recipient_name"], items=items)
        single.append(Message(members, channel, target, title, body, key, digest_key=key))
    return single


# --- send ---------------------------------------------------------------------------


def _with_idempotency(url: str, key: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in IDEMPOTENT_SCHEMAS:
        return url
    return url + ("&" if "?" in url else "?") + f"+X-Idempotency-Key={key}"


# Parsing an Apprise URL costs about a millisecond; a pass sends many messages to few
# URL templates.  Plugins with a headers dict (json/form/xml, e-mail) are parsed once
# per URL and shallow-copied per message with that message's idempotency header.
# Sequential mode and no service deadline: each call runs inline in our worker thread
# (otherwise Apprise hands every call to its shared pool of cpu+4 threads, which caps
# the dispatcher's concurrency); the time limit is the plugin's socket timeouts instead.
_ASSET = apprise.AppriseAsset(async_mode=False, service_timeout=0)
_PLUGINS: dict[tuple[str, str], Any] = {}
_PLUGINS_LOCK = threading.Lock()
_LOCAL = threading.local()


def _service(url: str, channel: str, key: str, timeout: float, cache: bool = True) -> Any:
    service = _service_for(url, channel, key, cache)
    if service is not None and timeout > 0:
        for attr in ("socket_connect_timeout", "socket_read_timeout"):
            if hasattr(service, attr):
                setattr(service, attr, timeout)
    return service


def _service_for(url: str, channel: str, key: str, cache: bool = True) -> Any:
    cache_key = (url, channel)
    base = _PLUGINS.get(cache_key) if cache else None
    if base is None:
        base = apprise.Apprise.instantiate(url, asset=_ASSET, tag=channel)
        if base is None:
            return None
        if cache:  # (a sealed address is never kept in this process-wide cache)
            with _PLUGINS_LOCK:
                if len(_PLUGINS) > 2048:
                    _PLUGINS.clear()
                _PLUGINS[cache_key] = base
    if isinstance(getattr(base, "headers", None), dict):
        service = copy.copy(base)
        service.headers = {**base.headers, "X-Idempotency-Key": key}
        return service
    # Other plugins (ours among them) read the key from the URL.
    return apprise.Apprise.instantiate(_with_idempotency(url, key), asset=_ASSET, tag=channel)


def _apprise() -> apprise.Apprise:
    ap = getattr(_LOCAL, "apprise", None)
    if ap is None:
        ap = _LOCAL.apprise = apprise.Apprise(asset=_ASSET)
    ap.clear()
    return ap


def _log_error(nr: Any) -> str | None:
    messages = [e.message for e in nr.logs() if e.level in ("ERROR", "WARNING")]
    return "；".join(messages[-3:]) or None


def send(message: Message, routes: Routes) -> Outcome:
    if message.error:
        return Outcome(message, False, [], message.error)
    with sealed.on_the_wire(message.secrets):
        try:
            return _send(message, routes)
        finally:
            if message.secrets and getattr(_LOCAL, "apprise", None) is not None:
                _LOCAL.apprise.clear()  # the thread's Apprise object would hold the address until its next message


def _send(message: Message, routes: Routes) -> Outcome:
    def scrub(text: str | None) -> str | None:
        return sealed.scrub(routes.scrub(text), message.secrets)

    started = time.perf_counter()
    try:
        url = routes.expand(message.secret_target or message.target or "")
    except ValidationError as exc:
        return Outcome(message, False, [], scrub(str(exc)))
    service = _service(url, message.channel, message.idem, float(routes.policy["send_timeout"]),
                       cache=not message.secrets)
    if service is None:
        return Outcome(message, False, [], f"Apprise 无法识别渠道 {message.channel} 的 URL：{message.target}")
    ap = _apprise()
    ap.add(service)
    try:
        # Address by tag: an untagged notify would reach every service loaded.
        result = ap.notify(body=message.body, title=message.title, tag=message.channel)
    except Exception as exc:  # noqa: BLE001 - a plugin bug must not kill the pass
        return Outcome(message, False, [dict(name="-", tag=message.channel, status="ERROR", error=scrub(
            f"{type(exc).__name__}: {exc}"), elapsed_ms=int((time.perf_counter() - started) * 1000))],
            scrub(f"{type(exc).__name__}: {exc}"))
    try:
        services = [dict(name=nr.name[:64], tag=",".join(nr.tag)[:64], status=nr.status.name,
                         error=scrub(_log_error(nr)) if nr.status != AppriseResultStatus.SUCCESS else None,
                         elapsed_ms=int(nr.elapsed * 1000)) for nr in result]
        status = result.status
    finally:
        result.close()
    ok = status == AppriseResultStatus.SUCCESS and bool(services) and all(
        s["status"] == "SUCCESS" for s in services)
    error = None
    if not ok:
        if not services:
            error = f"没有与 tag {message.channel} 匹配的服务（{status.name}）"
        else:
            error = "；".join(f"{s['name']}：{s['error'] or s['status']}" for s in services if s["status"] != "SUCCESS")
    return Outcome(message, ok, services, error)


# --- record -------------------------------------------------------------------------


def record(engine: Engine, me: str, outcomes: list[Outcome], routes: Routes, report: DispatchReport) -> None:
    now = clock.utcnow()
    attempts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    max_attempts = int(routes.policy["max_attempts"])
    for out in outcomes:
        msg = out.message
        for row in msg.rows:
            for svc in out.services or [dict(name="-", tag=msg.channel, status="ERROR", error=out.error,
                                             elapsed_ms=0)]:
                attempts.append(dict(notification_id=row["id"], attempt=row["attempts"], dispatcher=me,
                                     service=svc["name"], tag=svc["tag"], status=svc["status"],
                                     error=svc["error"], elapsed_ms=svc["elapsed_ms"], digest_key=msg.digest_key,
                                     at=now))
            if out.ok:
                status, nxt, err, sent_at = "sent", row["next_attempt_at"], None, now
                report.sent += 1
            elif msg.undeliverable:
                status, nxt, err, sent_at = "undeliverable", row["next_attempt_at"], out.error, None
                report.undeliverable += 1
            elif row["attempts"] >= max_attempts:
                status, nxt, err, sent_at = "dead", row["next_attempt_at"], out.error, None
                report.dead += 1
            else:
                status, err, sent_at = "retry", out.error, None
                nxt = now + timedelta(seconds=backoff_seconds(row["attempts"], routes.policy))
                report.retried += 1
            updates.append(dict(_id=row["id"], _status=status, _next=nxt, _err=(err or None) and err[:2000],
                                _sent=sent_at, _digest=msg.digest_key if out.ok else None))
    with Session(engine.execution_options(hazardloop_write=True)) as s:
        if attempts:
            s.execute(insert(A), attempts)
        if updates:
            # Only rows still ours: if our lease ran out and another dispatcher took one over, it records.
            s.execute(
                update(N).where(N.c.id == bindparam("_id"), N.c.claimed_by == me).values(
                    status=bindparam("_status"), next_attempt_at=bindparam("_next"), last_error=bindparam("_err"),
                    sent_at=bindparam("_sent"), digest_key=bindparam("_digest"), claimed_by=None,
                    claimed_until=None),
                updates,
            )
        s.commit()


# --- one pass -------------------------------------------------------------------------


@contextmanager
def _single_sqlite_dispatcher(engine: Engine) -> Iterator[bool]:
    """SQLite: one dispatcher at a time, by an exclusive lock file beside the database."""
    if not is_sqlite(engine):
        yield True
        return
    path = make_url(str(engine.url)).database
    if not path or path == ":memory:":
        yield True
        return
    lock = Path(path + ".dispatch.lock")
    fh = lock.open("a")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        fh.close()


def _kill_point(name: str) -> None:
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def dispatch(url: str | None = None, *, limit: int | None = None, concurrency: int = 8,
             dispatcher_id: str | None = None, routes: Routes | None = None,
             batch_size: int | None = None) -> DispatchReport:
    """One dispatcher pass over every due row (or at most `limit`)."""
    routes = routes or load_routes()
    engine = get_engine(url)
    me = (dispatcher_id or new_dispatcher_id())[:64]
    report = DispatchReport(me)
    started = time.perf_counter()
    batch = max(int(batch_size or routes.policy["batch_size"]), concurrency * 4)
    lease = float(routes.policy["lease_seconds"])
    with _single_sqlite_dispatcher(engine) as mine:
        if not mine:
            report.busy = True
            return report
        # A pool even for concurrency 1: the sends then overlap the database work, and (measured
        # here) blocking HTTP in a worker thread is faster than in the main thread.
        pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="hl-dispatch")

        # Expired leases are looked for at the start of the pass (until none are left) and then at
        # most once a minute, not before every batch: a lease lasts minutes, and after a large sweep
        # that query walks the index entries of every row sent since the last vacuum (the
        # 1,000,000-hazard bench: 0.8 s a claim, the pass's main cost, against 13 ms for due rows).
        next_recovery = 0.0

        def take() -> list[dict[str, Any]]:
            nonlocal next_recovery
            if limit is not None and report.claimed >= limit:
                return []
            n = batch if limit is None else min(batch, limit - report.claimed)
            recover = time.monotonic() >= next_recovery
            rows, recovered = claim(engine, me, n, lease, recover=recover)
            if recover and recovered < n:
                next_recovery = time.monotonic() + min(lease, RECOVERY_EVERY)
            report.claimed += len(rows)
            report.recovered += recovered
            return rows

        unrecorded: list[Outcome] | None = None
        try:
            rows = take()
            while rows:
                _kill_point("after_claim")
                opened = sealed.open_addresses(engine, rows)  # decrypted now, for this batch only
                messages = plan_messages(rows, routes, _hazard_codes(engine, rows) if _may_digest(routes) else None,
                                         opened)
                del opened
                sendable = [m for m in messages if not m.undeliverable]
                outcomes = [Outcome(m, False, [], m.error) for m in messages if m.undeliverable]
                report.messages += len(sendable)
                report.digests += sum(1 for m in sendable if m.digest_key)
                # Pipelined: while this batch is on the wire, record the previous one and claim the next.
                futures = [pool.submit(send, m, routes) for m in sendable]
                if unrecorded is not None:
                    record(engine, me, unrecorded, routes, report)
                    unrecorded = None
                rows_next = take()
                outcomes += [f.result() for f in futures]
                _kill_point("after_send")
                unrecorded = outcomes
                rows = rows_next
            if unrecorded is not None:
                record(engine, me, unrecorded, routes, report)
        finally:
            pool.shutdown(wait=True)
    report.seconds = time.perf_counter() - started
    return report


def _may_digest(routes: Routes) -> bool:
    return routes.policy["digest"] or any(r.get("digest") for r in routes.roles.values()) or any(
        p.get("digest") for p in routes.people.values())


def _hazard_codes(engine: Engine, rows: list[dict[str, Any]]) -> dict[int, str]:
    ids = {r["hazard_id"] for r in rows if r["hazard_id"]}
    if not ids:
        return {}
    with Session(engine) as s:
        return {hid: code for hid, code in s.execute(select(Hazard.id, Hazard.code).where(Hazard.id.in_(ids)))}

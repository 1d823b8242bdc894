"""The multi-process layout on this machine (hazardloop.flows.cluster): a Prefect server on the local
PostgreSQL, a main worker, two shard workers, uvicorn with two web workers, a dispatcher.

One cluster for the module (it costs ~40 s to start):
- a sharded sweep over a few thousand hazards: both shard workers run shards; one worker is killed
  (SIGKILL, with the flow run it started: a lost machine) in the middle of its shard; the heartbeat
  automation marks that run Crashed, the sweep submits it again and completes; every due step is
  issued exactly once (the same steps as one in-process sweep of the same ledger), 文号 gapless,
  nothing half-written (each step has its document, notices and audit event; the chain verifies);
- sign-in, CSRF, lock-out and logout across the two web workers (which worker answered is read
  from uvicorn's access log: pid and client port).
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

pytestmark = [pytest.mark.cluster, pytest.mark.pg, pytest.mark.slow, pytest.mark.timeout(420)]

PG_URL = os.environ.get("HAZARDLOOP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
HAZARDS = 8000
AS_OF = "2026-06-30"
PASSWORD = "集群测试-Passw0rd"
SHARDS = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _admin():
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no PostgreSQL answers at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    return engine


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    from bench.sweep import generate
    from hazardloop.flows.cluster import Cluster, Layout
    from hazardloop.models.db import dispose_engines
    from hazardloop.web import auth
    from hazardloop.states import ledger

    admin = _admin()
    tag = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
    app_db, prefect_db = f"hazardloop_cl_{tag}", f"hazardloop_clp_{tag}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{app_db}"'))
    app_url = make_url(PG_URL).set(database=app_db).render_as_string(hide_password=False)
    prefect_url = make_url(PG_URL).set(drivername="postgresql+asyncpg", database=prefect_db).render_as_string(
        hide_password=False)
    home = tmp_path_factory.mktemp("cluster")
    from hazardloop.models import anchor

    anchor.audit_key()  # this process's key (created if new): the cluster's processes are given the same file
    key = anchor.key_file()
    # The test functions change HAZARDLOOP_HOME each (conftest); the key stays this one for the module.
    saved_key_env = os.environ.get("HAZARDLOOP_AUDIT_KEY_FILE")
    os.environ["HAZARDLOOP_AUDIT_KEY_FILE"] = str(key)
    generate(app_url, HAZARDS, 2026)
    engine = create_engine(app_url)
    with Session(engine) as s:
        for name in ("office1", "office2"):
            auth.set_password(s, ledger.get_user(s, name), PASSWORD)
        s.commit()
    layout = Layout(database_url=app_url, prefect_database_url=prefect_url, home=home / "prefect", workers=2,
                    main_workers=1, web_workers=2, dispatchers=1, dispatch_every=30, prefect_port=_free_port(),
                    web_port=_free_port(), secret_key=uuid.uuid4().hex * 2, poll_seconds=1, heartbeat=30,
                    crash_after=45,  # heartbeats every 30 s; 15 s of slack on a loaded machine
                    # Every process signs audit events with the one key (as every machine must share it).
                    extra_env={"HAZARDLOOP_HOME": str(home / "data"), "HAZARDLOOP_AUDIT_KEY_FILE": str(key)})
    c = Cluster(layout, echo=lambda m: None)
    try:
        c.start()
        with temporary_settings(updates={PREFECT_API_URL: layout.api_url, PREFECT_HOME: str(layout.home)}):
            yield c, app_url, engine
    finally:
        c.stop()
        if saved_key_env is None:
            os.environ.pop("HAZARDLOOP_AUDIT_KEY_FILE", None)
        else:
            os.environ["HAZARDLOOP_AUDIT_KEY_FILE"] = saved_key_env
        engine.dispose()
        dispose_engines()
        with admin.connect() as conn:
            for name in (app_db, prefect_db):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- the sweep ------------------------------------------------------------------------------------------


def _shard_runs(client) -> list:  # noqa: ANN001
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    return client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_="escalation-shard-")))


def _steps_in(engine, regions: list[str]) -> int:  # noqa: ANN001
    from hazardloop.models.escalation import EscalationStep
    from hazardloop.models.tables import Hazard

    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(EscalationStep).join(
            Hazard, Hazard.id == EscalationStep.hazard_id).where(Hazard.region_code.in_(regions))).scalar_one()


def _node(run) -> str | None:  # noqa: ANN001
    return next((t[5:] for t in run.tags or [] if t.startswith("node:")), None)


def _reference_counts(tmp_path: Path) -> tuple[Counter, Counter]:
    """The same ledger swept once in this process, on SQLite: what exactly-once must give."""
    from datetime import date

    from bench.sweep import generate
    from hazardloop.escalation import hazards as esc

    url = f"sqlite:///{tmp_path / 'reference.sqlite'}"
    generate(url, HAZARDS, 2026)
    result = esc.sweep(esc.factory_for(url), date.fromisoformat(AS_OF), stage_timeouts=False)
    # Step rows, as the cluster's are counted: a 到期提醒 swept after its deadline has its row (once) but
    # is not in result.issued (nothing was sent).
    from hazardloop.models.db import session_scope
    from hazardloop.models.escalation import EscalationStep

    with session_scope(url) as s:
        steps = Counter(dict(s.execute(select(EscalationStep.step, func.count()).group_by(EscalationStep.step)).all()))
    assert {k: v for k, v in steps.items() if k != "reminder"} == {k: v for k, v in result.issued.items()
                                                                   if k != "reminder"}
    return steps, Counter(result.documents)


def test_sharded_sweep_survives_a_lost_worker(cluster, tmp_path):
    from datetime import date

    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    from hazardloop.escalation import hazards as esc
    from hazardloop.flows.escalation import due_by_region
    from hazardloop.models import audit
    from hazardloop.models.escalation import Document, EscalationStep
    from hazardloop.models.tables import AuditEvent, Notification
    from tests.fixtures_escalation import check_gapless

    c, app_url, engine = cluster
    due = sum(due_by_region(app_url, date.fromisoformat(AS_OF)).values())
    assert due > 500  # a few thousand hazards, some hundreds of them overdue
    parent = run_deployment("escalation-sweep/daily-escalation-sweep", timeout=0, as_subflow=False, parameters={
        "as_of": AS_OF, "force": True, "shard_size": -(-due // SHARDS), "poll_seconds": 1, "batch_size": 10})

    # Kill a worker in the middle of its second shard (its first is done; the other worker runs or ran one).
    victim = None
    deadline = time.monotonic() + 200
    with get_client(sync_client=True) as client:
        while victim is None and time.monotonic() < deadline:
            runs = _shard_runs(client)
            done = {_node(r) for r in runs if r.state and r.state.is_completed()}
            for r in runs:
                if r.state and r.state.is_running() and _node(r) in done and \
                        _steps_in(engine, r.parameters["regions"]) > 0:
                    victim = r
                    break
            else:
                time.sleep(0.2)
        assert victim is not None, [(r.name, r.state_name, r.tags) for r in _shard_runs(client)]
        regions = victim.parameters["regions"]
        c.kill(_node(victim))  # the worker and the flow run it started: a lost machine
        at_kill = _steps_in(engine, regions)

        final = client.read_flow_run(parent.id)
        deadline = time.monotonic() + 240
        while not (final.state and final.state.is_final()) and time.monotonic() < deadline:
            time.sleep(1)
            final = client.read_flow_run(parent.id)
        runs = _shard_runs(client)
    assert final.state.is_completed(), (final.state, [(r.name, r.state_name, r.tags) for r in runs])

    by_name = {r.name: r for r in runs}
    assert by_name[victim.name].state.type.value == "CRASHED"  # marked by the heartbeat automation
    rerun = by_name[victim.name.replace("-try1", "-try2")]
    assert rerun.state.is_completed() and _node(rerun) != _node(victim)
    completed_nodes = {_node(r) for r in runs if r.state.is_completed()}
    assert completed_nodes == {"shard-1", "shard-2"}, completed_nodes  # both workers ran shards
    assert len([r for r in runs if r.name.endswith("-try1")]) == SHARDS
    final_in_regions = _steps_in(engine, regions)
    assert 0 < at_kill < final_in_regions, (at_kill, final_in_regions)  # killed in the middle of its shard

    # Exactly once: the steps and documents one in-process sweep of the same ledger issues; nothing left to do.
    issued_ref, documents_ref = _reference_counts(tmp_path)
    with Session(engine) as s:
        issued = Counter(dict(s.execute(select(EscalationStep.step, func.count()).group_by(EscalationStep.step)).all()))
        documents = Counter(dict(s.execute(select(Document.doc_type, func.count()).group_by(Document.doc_type)).all()))
        assert issued == issued_ref and documents == documents_ref
        assert sum(check_gapless(s).values()) == sum(documents_ref.values())  # 文号 1..n per series, no gaps
        # Nothing half-written: every step has its audit event, every document step its document, notices sent.
        steps = sum(issued.values())
        events = s.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action.in_(["escalation_issued", "escalation_proposed", "escalation_skipped"]))).scalar_one()
        assert events == steps
        # A 到期提醒 swept after its deadline is recorded and not sent: every other step has its notices.
        without_notice = s.execute(select(func.count()).select_from(EscalationStep).where(
            EscalationStep.status != "skipped",
            ~select(Notification.id).where(Notification.hazard_id == EscalationStep.hazard_id,
                                           Notification.cycle == EscalationStep.cycle).exists())).scalar_one()
        assert without_notice == 0
        assert audit.verify(s).ok
    again = esc.sweep(esc.factory_for(app_url), date.fromisoformat(AS_OF), dry_run=True, stage_timeouts=False)
    assert sum(again.issued.values()) == 0


# --- the web, two workers -------------------------------------------------------------------------------

ACCESS = re.compile(r'^(\d+) INFO:\s+127\.0\.0\.1:(\d+) - "(\w+) (\S+)')


class Web:
    """HTTP on a new connection per request; which worker answered comes from the access log."""

    def __init__(self, c) -> None:  # noqa: ANN001
        self.port = c.layout.web_port
        self.log = c.logs / "web.log"

    def worker_of(self, client_port: int) -> int:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for line in self.log.read_text(errors="replace").splitlines():
                m = ACCESS.match(line)
                if m and int(m.group(2)) == client_port:
                    return int(m.group(1))
            time.sleep(0.05)
        raise AssertionError(f"no access-log line for client port {client_port}")

    def request(self, method: str, path: str, *, cookies: dict[str, str] | None = None,
                form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str, int]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.connect()
        client_port = conn.sock.getsockname()[1]
        headers = {"Connection": "close"}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        html = resp.read().decode("utf-8", "replace")
        set_cookies = {}
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                k, _, rest = value.partition("=")
                set_cookies[k] = rest.split(";", 1)[0].strip('"')
        conn.close()
        return resp.status, set_cookies, html, self.worker_of(client_port)

    def until_other(self, worker: int, method: str, path: str, **kw):  # noqa: ANN003, ANN201
        """Repeat a (harmless) request until the other web worker answers it."""
        for _ in range(60):
            out = self.request(method, path, **kw)
            if out[3] != worker:
                return out
        raise AssertionError("the second web worker never answered")

    def sign_in(self, username: str, password: str) -> tuple[int, dict[str, str], str, int]:
        _, cookies, html, _ = self.request("GET", "/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        return self.request("POST", "/login", cookies=cookies, form={
            "username": username, "password": password, "csrf_token": token, "next": "/queue"})


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_sessions_csrf_and_lockout_across_web_workers(cluster):
    c, _, _ = cluster
    web = Web(c)
    status, cookies, _, made_on = web.sign_in("office1", PASSWORD)
    assert status == 303 and "hl_session" in cookies
    session = {"hl_session": cookies["hl_session"]}
    # The session made on one worker is honoured on the other.
    status, _, page, other = web.until_other(made_on, "GET", "/queue", cookies=session)
    assert status == 200 and other != made_on and "安委办" in page
    token = _csrf(page)
    # CSRF: a form post without the session's token is refused by either worker; the session survives.
    status, _, _, w = web.until_other(other, "POST", "/logout", cookies=session, form={"csrf_token": "forged"})
    assert status == 403 and w == made_on
    assert web.request("GET", "/queue", cookies=session)[0] == 200

    # Lock-out: five wrong passwords lock the account; the right one is then refused by both workers.
    for _ in range(5):
        status, _, page, locked_on = web.sign_in("office2", "wrong-password")
        assert status == 401
    assert "已锁定" in page
    workers = set()
    for _ in range(60):
        status, cookies, page, w = web.sign_in("office2", PASSWORD)
        assert status == 401 and "已锁定" in page and "hl_session" not in cookies
        workers.add(w)
        if w != locked_on:
            break
    assert workers - {locked_on}, "the second web worker never answered"

    # Logout (with the token a page from the other worker carried) ends the session in the browser.
    status, cookies, _, w = web.request("POST", "/logout", cookies=session, form={"csrf_token": token})
    assert status == 303 and cookies.get("hl_session", "") == ""


def test_logout_on_one_worker_voids_the_session_on_the_other(cluster):
    c, _, _ = cluster
    web = Web(c)
    status, cookies, _, made_on = web.sign_in("office1", PASSWORD)
    session = {"hl_session": cookies["hl_session"]}
    page = web.request("GET", "/queue", cookies=session)[2]
    status, _, _, logged_out_on = web.request("POST", "/logout", cookies=session, form={"csrf_token": _csrf(page)})
    assert status == 303
    # The same cookie, replayed (a copy kept by an attacker), on the other worker: refused.
    status, _, _, w = web.until_other(logged_out_on, "GET", "/queue", cookies=session)
    assert w != logged_out_on and status == 303

"""Serving the console: a uvicorn Server object the lead's `serve` can run beside the
schedules, a blocking run(), a background thread for tests, and demo sign-ins."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from sqlmodel import Session, select

from hazardloop.models.tables import AppUser, Enterprise
from hazardloop.states.roles import Role
from hazardloop.web import auth
from hazardloop.web.app import create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEMO_ROLES = (Role.enterprise, Role.supervisor, Role.committee, Role.township, Role.inspector, Role.public)
DEMO_USERS = {
    Role.enterprise: ("demo_enterprise", "演示企业安全员"),
    Role.supervisor: ("demo_supervisor", "演示监管人员"),
    Role.committee: ("demo_office", "演示安委办"),
    Role.township: ("demo_township", "演示镇街区"),
    Role.inspector: ("demo_inspector", "演示检查人员"),
    Role.public: ("demo_public", "演示群众"),
}


def make_server(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, db_url: str | None = None,
                log_level: str = "info") -> uvicorn.Server:
    """The console as a uvicorn Server: `server.run()` blocks; in a thread, set
    `server.should_exit = True` to stop it."""
    config = uvicorn.Config(create_app(db_url), host=host, port=port, log_level=log_level,
                            proxy_headers=False, server_header=False, lifespan="off")
    return uvicorn.Server(config)


def run(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, db_url: str | None = None) -> None:
    make_server(host, port, db_url).run()


def url_of(host: str, port: int) -> str:
    return f"http://{host}:{port}/"


@dataclass
class Background:
    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_background(host: str = DEFAULT_HOST, port: int | None = None, db_url: str | None = None,
                     log_level: str = "warning") -> Background:
    """Start the console in a daemon thread and wait until it answers."""
    port = port or free_port(host)
    server = make_server(host, port, db_url, log_level)
    thread = threading.Thread(target=server.run, name="hazardloop-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"网页控制台未能在 {host}:{port} 启动。")
        time.sleep(0.05)
    return Background(server, thread, url_of(host, port))


# --- demo sign-ins -------------------------------------------------------------------------


def demo_password(username: str) -> str:
    """Derived from the secret key: stable across restarts, printable, never stored in the repo."""
    digest = hmac.new(auth.load_secret_key().encode(), f"demo:{username}".encode(), hashlib.sha256).digest()
    return "Demo-" + base64.b32encode(digest).decode()[:10].lower()


def _demo_user(session: Session, role: Role) -> AppUser | None:
    username, name = DEMO_USERS[role]
    user = session.exec(select(AppUser).where(AppUser.username == username)).first()
    if user is not None:
        return user
    # Prefer a real person of that role (the demo data's) with the most to do: the first one.
    existing = session.exec(select(AppUser).where(AppUser.role == role.value, AppUser.active)
                            .order_by(AppUser.id)).first()
    kwargs: dict = {}
    if role == Role.enterprise:
        ent = (session.get(Enterprise, existing.enterprise_id) if existing and existing.enterprise_id
               else session.exec(select(Enterprise).order_by(Enterprise.id)).first())
        if ent is None:
            return None
        kwargs["enterprise_id"] = ent.id
    elif role == Role.supervisor:
        kwargs["department_code"] = existing.department_code if existing else "yingji"
    elif role == Role.committee:
        kwargs["department_code"] = existing.department_code if existing else "anweiban"
    elif role == Role.township:
        kwargs["region_code"] = existing.region_code if existing else None
        if kwargs["region_code"] is None:
            from hazardloop.models.tables import Region

            region = session.exec(select(Region).order_by(Region.code)).first()
            if region is None:
                return None
            kwargs["region_code"] = region.code
    elif role == Role.inspector:
        kwargs["department_code"] = existing.department_code if existing else None
    user = AppUser(username=username, name=name, role=role.value, **kwargs)
    session.add(user)
    session.flush()
    return user


def ensure_demo_accounts(session: Session) -> list[tuple[str, str, str | None]]:
    """One sign-in per role (idempotent): [(role, username, password)].  password is None
    when someone has since changed it (then it is not ours to print)."""
    out: list[tuple[str, str, str | None]] = []
    for role in DEMO_ROLES:
        try:
            user = _demo_user(session, role)
        except Exception:  # noqa: BLE001  (a missing reference row must not stop the others)
            session.rollback()
            user = None
        if user is None:
            continue
        password = demo_password(user.username)
        cred = auth.credential(session, user)
        if cred is None:
            auth.set_password(session, user, password)
        elif not auth.password_matches(session, user, password):
            password = None
        out.append((role.value, user.username, password))
    session.flush()
    return out

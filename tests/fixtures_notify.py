"""Real receivers for the notification tests: an aiosmtpd SMTP server and an HTTP
server, both on 127.0.0.1 with free ports, plus a routing config pointing at them."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- SMTP ---------------------------------------------------------------------------


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


class SmtpServer:
    """aiosmtpd on a fixed free port; stop() and start() again simulate an outage."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mails: list[Mail] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802 - aiosmtpd hook
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 OK"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down():
    """An SMTP server object whose port nobody listens on yet (call .start() to end the outage)."""
    server = SmtpServer()
    yield server
    server.stop()


# --- HTTP ---------------------------------------------------------------------------


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class HttpReceiver:
    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    fail_first: int = 0  # answer 500 to the first N requests
    always_fail: bool = False
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self) -> list[str]:
        return [h.headers.get("x-idempotency-key", "") for h in self.hits]

    def unique(self) -> dict[str, Hit]:
        """What a receiver that dedupes by X-Idempotency-Key keeps."""
        out: dict[str, Hit] = {}
        for h in self.hits:
            out.setdefault(h.headers.get("x-idempotency-key", ""), h)
        return out


def _handler(receiver: HttpReceiver):  # noqa: ANN202
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if receiver.delay:
                time.sleep(receiver.delay)
            with receiver.lock:
                failing = receiver.always_fail or receiver.fail_first > 0
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                if not failing:
                    try:
                        body = json.loads(raw or b"{}")
                    except ValueError:
                        body = {"raw": raw.decode("utf-8", "replace")}
                    receiver.hits.append(Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def http_receiver():
    receiver = HttpReceiver()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


# --- routing config -----------------------------------------------------------------


def write_routes(path: Path, *, smtp_port: int | None = None, http_port: int | None = None,
                 roles: dict[str, Any] | None = None, people: dict[str, Any] | None = None,
                 policy_: dict[str, Any] | None = None, channels: dict[str, Any] | None = None,
                 events: dict[str, Any] | None = None) -> Path:
    chans: dict[str, Any] = {"file": {"url": "file://{home}/outbox-files"}}
    if smtp_port:
        chans["email"] = {"url": f"mailto://127.0.0.1:{smtp_port}?from=hazardloop@test.local&to={{email}}"
                                 "&name=HazardLoop", "needs": "email"}
    if http_port:
        chans["webhook"] = {"url": f"json://127.0.0.1:{http_port}/hook?:who={{name}}"}
        chans["sms"] = {"url": f"json://127.0.0.1:{http_port}/sms?+Authorization=Bearer%20${{SMS_TOKEN:-none}}"
                               "&:mobile={phone}", "needs": "phone"}
    chans.update(channels or {})
    doc = {
        "policy": {"max_attempts": 4, "backoff_seconds": 60, "backoff_max_seconds": 600, "jitter": 0.2,
                   "lease_seconds": 60, "batch_size": 50, "send_timeout": 10, "digest": False, **(policy_ or {})},
        "channels": chans,
        "roles": roles or {"*": {"channels": [c for c in ("email", "webhook") if c in chans] or ["file"]}},
        "people": people or {},
        "events": events or {
            "reported": ["safety_manager"], "listed": ["principal", "controller", "safety_manager"],
            "plan_accepted": ["principal", "safety_manager"], "extension_requested": ["department"],
            "extension_decided": ["principal", "safety_manager"], "rejected": ["principal", "controller", "safety_manager"],
            "closed": ["principal", "controller", "safety_manager", "township"], "submitted": ["department"],
        },
    }
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def routes_file(tmp_path, monkeypatch):
    """Call with the same keywords as write_routes; HAZARDLOOP_ROUTES points at the file."""
    def make(**kw: Any) -> Path:
        path = write_routes(tmp_path / "routes.yaml", **kw)
        monkeypatch.setenv("HAZARDLOOP_ROUTES", str(path))
        return path
    return make

"""Request bodies (issue 13): an anonymous body is refused before it is read, every body is capped
while it streams (a chunked body declares no length), on a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import select
import socket
import time

import pytest

from hazardloop.web import auth, limits, server
from tests.fixtures_web import web  # noqa: F401
from tests.helpers import rectifying

CHUNK = b"x" * (1 << 20)


@pytest.fixture
def live(web):  # noqa: ANN001, ANN201
    if web.db.kind != "sqlite":
        pytest.skip("the body handling is the server's, not the database's")
    bg = server.start_background("127.0.0.1", None, web.db.url)
    yield web, int(bg.url.rsplit(":", 1)[1].strip("/"))
    bg.stop()


def _cookie(web, username: str) -> str:  # noqa: ANN001
    with web.db.session() as s:
        cred = auth.credential(s, web.db.user(s, username))
        data = auth.new_session(cred)
    return auth.SessionCodec(auth.load_secret_key()).dumps(data)


def _stream(port: int, path: str, headers: dict[str, str], total_mb: int) -> tuple[bytes, int]:
    """POST a chunked body of total_mb MB, stopping as soon as the server answers.
    Returns (the status line and headers, MB sent before the answer came)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                 f"Content-Type: multipart/form-data; boundary=b\r\n{head}\r\n".encode())
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n' \
           b"Content-Type: application/octet-stream\r\n\r\n"
    sock.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
    sent = 0
    try:
        for sent in range(1, total_mb + 1):
            if select.select([sock], [], [], 0)[0]:
                return sock.recv(4096), sent - 1
            try:
                sock.sendall(b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n")
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                break  # the server stopped reading: its answer is waiting
        return sock.recv(4096), sent
    finally:
        sock.close()


def test_anonymous_chunked_upload_is_refused_before_it_is_read(live):
    web, port = live
    with web.db.session() as s:
        hid = rectifying(s)
    answer, sent = _stream(port, f"/hazards/{hid}/evidence", {}, 300)
    assert answer.startswith(b"HTTP/1.1 303") and b"/login" in answer, answer[:200]
    assert sent <= 5, f"{sent} MB were read before the refusal"
    answer, sent = _stream(port, f"/api/v1/hazards/{hid}/evidence", {}, 300)
    assert answer.startswith(b"HTTP/1.1 401") and sent <= 5


def test_signed_in_chunked_upload_is_capped_while_streaming(live):
    web, port = live
    with web.db.session() as s:
        hid = rectifying(s)
    cookie = _cookie(web, "hd_safety")
    answer, sent = _stream(port, f"/hazards/{hid}/evidence", {"Cookie": f"{auth.SESSION_COOKIE}={cookie}"}, 300)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert sent < 60, f"{sent} MB were read before the refusal"
    token = web.token("hd_safety")
    answer, sent = _stream(port, f"/api/v1/hazards/{hid}/evidence", {"Authorization": f"Bearer {token}"}, 300)
    assert answer.startswith(b"HTTP/1.1 413") and sent < 60, answer[:300]


def test_declared_lengths_and_small_endpoints_are_capped(web):
    client = web.client()
    big = b"a" * (limits.LOGIN_LIMIT + 1)
    r = client.post("/login", content=big, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and "太大" in r.text
    api = web.api("hd_safety")
    r = api.post("/api/v1/hazards", content=b"{" + b" " * (limits.FORM_LIMIT + 10) + b"}",
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "太大" in r.json()["detail"]
    r = web.client().post("/logout", content=big, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413

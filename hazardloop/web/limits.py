"""Request bodies, bounded before the application reads them (ASGI middleware).

- A body sent by someone not signed in is refused before a byte of it is read: a POST
  without a validly signed session cookie and without a bearer token gets the sign-in
  redirect (pages) or 401 (API) at once.  Only sign-in, sign-out and a reporter's follow-up
  with the 查询码 (/track) take anonymous bodies.
- Every body is capped while it streams, whatever Content-Length says (a chunked body has
  none): evidence uploads at services.MAX_UPLOAD plus the form's overhead, the sign-in form
  at 64 KB, every other form or JSON body at 1 MB.  Over the cap: 413 with a Chinese
  message; the rest of the body is never read and nothing is spooled beyond the cap.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hazardloop.web import auth, services

KB, MB = 1 << 10, 1 << 20
UPLOAD_LIMIT = services.MAX_UPLOAD + MB  # the file plus the multipart form around it
FORM_LIMIT = MB
LOGIN_LIMIT = 64 * KB
# Anonymous bodies: signing in and out, and a reporter following up a report with its 查询码.
ANONYMOUS = ("/login", "/logout", "/track", "/api/v1/track")
# Every form that carries a file: evidence, the 明细表, a campaign's inventory sheet, checklist and
# problem photos, the record of a principal-led inspection, an `org load` file.
_UPLOAD_PATH = re.compile(r"^/(?:(?:api/v1/)?hazards/[^/]+/evidence|sheets/(?:check|import)|api/v1/ledger/import"
                          r"|campaigns/[^/]+/import|c/[^/]+/check|campaigns/problems/[^/]+/[^/]+"
                          r"|inspections|admin/orgs/load|api/v1/orgs/load)$")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def limit_for(path: str) -> int:
    if _UPLOAD_PATH.match(path):
        return UPLOAD_LIMIT
    if path in ANONYMOUS:
        return LOGIN_LIMIT
    return FORM_LIMIT


def _message(limit: int) -> str:
    size = f"{limit // MB} MB" if limit >= MB else f"{limit // KB} KB"
    if limit == UPLOAD_LIMIT:
        size = f"{services.MAX_UPLOAD // MB} MB"
    return f"提交的内容太大（最大 {size}）。"


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        api = path.startswith("/api/")
        if path not in ANONYMOUS and not self._credentials(scope, headers):
            await self._refuse_anonymous(scope, receive, send, api)
            return
        limit = limit_for(path)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send, api, limit)
            return
        seen, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    # Raised into whatever is reading the body (the form parser, FastAPI's body
                    # reader); the app's HTTP error handler answers with the Chinese message.
                    raise HTTPException(413, detail=_message(limit))
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if over and not started and message["type"] == "http.response.start":
                # Whatever the app made of the interrupted body (FastAPI: "error parsing the body",
                # 400), the answer is the 413; the app's own response is dropped.
                started = True
                await self._too_large(scope, receive, send, api, limit)
                return
            if over and started and message["type"] != "http.response.start":
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BaseException:
            # A middleware in between (task groups) may wrap the 413 on its way out: answer it here.
            if not over:
                raise
            if not started:
                await self._too_large(scope, receive, send, api, limit)

    @staticmethod
    def _credentials(scope: Scope, headers: dict[str, str]) -> bool:
        if headers.get("authorization", "").lower().startswith("bearer "):
            return True  # checked against the database by the route; the body is capped meanwhile
        cookies = Request(scope).cookies
        codec = getattr(getattr(scope.get("app"), "state", None), "codec", None)
        return codec is not None and codec.loads(cookies.get(auth.SESSION_COOKIE)) is not None

    @staticmethod
    async def _refuse_anonymous(scope: Scope, receive: Receive, send: Send, api: bool) -> None:
        if api:
            response: Any = JSONResponse({"detail": "需要有效的 API 令牌（Authorization: Bearer ...）。", "error": "http"},
                                         status_code=401, headers={"WWW-Authenticate": "Bearer"})
        else:
            response = RedirectResponse(f"/login?next={quote(scope['path'])}", status_code=303)
        response.headers["Connection"] = "close"  # the unread body is not ours to drain
        await response(scope, receive, send)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send, api: bool, limit: int) -> None:
        message = _message(limit)
        if api:
            response: Any = JSONResponse({"detail": message, "error": "too_large"}, status_code=413)
        else:
            templates = scope["app"].state.templates
            response = templates.TemplateResponse(Request(scope), "error.html", {"message": message, "user": None},
                                                  status_code=413)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def install(app: Any) -> None:
    app.add_middleware(BodyLimit)

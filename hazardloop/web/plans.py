"""The action plans on the console: 挂图作战 (the city's and each plan's chart, with the task
list), the unit's monthly report page (月调度), and /api/v1/plans for systems.

The page calls the same plain functions as `hazardloop plan` (plans.tasks.monthly_report,
guarded by states.plan_guards); a form with several tasks is written in one transaction
after every row has been checked, so a bad row loses nothing and writes nothing.

The committee office decides on the same page what the CLI's `plan ladder approve|decline`
and `plan review issue|conclude` do, through the same functions (escalation.tasks.approve /
decline, reports.quarterly.issue / conclude) and guards.  Those posts are office pages
(web.office.poster: 404 for anyone else); approving a 曝光 or 追责问责移交 asks for the password
again, as approving a hazard's 曝光 does, after the guard, so a refused user's attempt never
counts toward a lock-out.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from hazardloop.config import calendar, clock, labels
from hazardloop.errors import HazardLoopError, ValidationError
from hazardloop.models.db import session_scope
from hazardloop.models.tables import AppUser
from hazardloop.escalation import documents
from hazardloop.escalation import tasks as lag
from hazardloop.models.plans import QuarterlyReview
from hazardloop.plans import chart, plans, tasks
from hazardloop.reports import quarterly
from hazardloop.states import plan_guards
from hazardloop.states.errors import MissingData, PermissionDenied
from hazardloop.states.roles import Role
from hazardloop.web import auth, office, pages, services
from hazardloop.web.api import api_user
from hazardloop.web.errors import status_of
from hazardloop.web.escalation import status_for as decision_status

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1/plans", tags=["行动计划"])
VIEWERS = {Role.committee, Role.supervisor, Role.township, Role.system}
REPORTERS = {Role.committee, Role.supervisor, Role.township}


def may_view(user: AppUser | None) -> bool:
    return user is not None and user.active and user.role in VIEWERS


def nav_links(user: AppUser | None) -> list[tuple[str, str, str]]:
    if not may_view(user):
        return []
    links = [("/plans", "nav-plans", "挂图作战")]
    if user.role in REPORTERS:
        links.append(("/plans/report", "nav-plan-report", "月调度"))
    return links


def _db(request: Request, write: bool = False):  # noqa: ANN202
    return session_scope(request.app.state.db_url, write=write)


def _year(value: str | None) -> int:
    try:
        return int(value) if value else clock.today().year
    except ValueError:
        return clock.today().year


def _month(value: str | None) -> str:
    if value:
        try:
            first, _ = calendar.month_bounds(value.strip())
            return calendar.month_of(first)
        except HazardLoopError:
            pass
    return calendar.month_of(clock.today())


MEASURE_ROWS = 5  # blank measure rows on the conclude form (no script adds rows)


def _may(guard: Any, user: AppUser, action: str) -> bool:
    """Ask a guard whether to show a form (changes nothing)."""
    try:
        return bool(guard(user, action))
    except PermissionDenied:
        return False


def office_forms(user: AppUser) -> dict[str, bool]:
    """Which of the office's forms the page shows: the office pages' door, then the guard that decides."""
    if not office.may_open(user):
        return {"steps": False, "reviews": False}
    return {"steps": _may(plan_guards.decide_plan_step, user, "批准曝光、追责问责移交"),
            "reviews": _may(plan_guards.manage_plans, user, "签发季度会商研判报告")}


def _issuable(year: int, issued: set[str], today: date) -> list[str]:
    """The year's quarters that have ended and have no report yet."""
    return [f"{year}-Q{q}" for q in range(1, 5)
            if quarterly.quarter_bounds(year, q)[1] < today and f"{year}-Q{q}" not in issued]


def _board(request: Request, year: int, plan: str | None) -> dict[str, Any]:
    today = clock.today()
    with _db(request) as s:
        rows = tasks.list_tasks(s, plan=plan, year=None if plan else year)
        plan_rows = plans.list_plans(s, year)
        steps = lag.list_steps(s, year=year)
        proposed = lag.list_steps(s, status="proposed")  # every year's: the year filter never hides a decision
        reviews = [quarterly.summary(r) for r in s.execute(select(QuarterlyReview).where(
            QuarterlyReview.quarter.startswith(str(year))).order_by(QuarterlyReview.quarter)).scalars()]
        units = sorted(((kind, code, name) for (kind, code), name in lag.unit_names(s).items()),
                       key=lambda u: (u[0] != "department", u[1]))
    title = f"{plan}任务挂图作战" if plan else f"{year}年度全市任务挂图作战"
    return {"rows": rows, "plans": plan_rows, "title": title, "steps": steps, "reviews": reviews,
            "proposed": proposed, "issuable": _issuable(year, {r["quarter"] for r in reviews}, today),
            "units": units, "MEASURE_ROWS": MEASURE_ROWS, "UNIT_KINDS": labels.PLAN_UNIT_KINDS,
            "PROBLEMS": labels.PLAN_PROBLEMS,
            "svg": chart.svg(rows, today, title), "year": year, "plan": plan,
            "counts": {k: sum(1 for r in rows if chart.status_of(r) == k) for k in chart.COLORS},
            "LEGEND": chart.LEGEND}


def _board_page(request: Request, user: AppUser, csrf: str, year: int, plan: str | None, *, done: str | None = None,
                error: str | None = None, form: dict[str, str] | None = None, status: int = 200) -> Response:
    try:
        ctx = _board(request, year, plan)
    except HazardLoopError as exc:
        return pages.error_page(request, user, csrf, str(exc), status_of(exc))
    return pages.no_store(pages._render(request, "plans.html", {
        "user": user, "csrf": csrf, "done": (done or "")[:200], "error": error, "form": form or {},
        "office": user.role == Role.committee, "forms": office_forms(user), **ctx}, status))


@router.get("/plans")
async def board(request: Request, year: str | None = None, plan: str | None = None,
                done: str | None = None) -> Response:
    user, data = pages._current(request)
    if user is None:
        return pages._to_login(request)
    if not may_view(user):
        return pages.error_page(request, user, data.csrf, "挂图作战仅供市安委办、行业监管部门和镇街区查看。", 403)
    return await run_in_threadpool(lambda: _board_page(request, user, data.csrf, _year(year), plan or None, done=done))


async def _stored_page(request: Request, find: Any) -> Response:
    """An issued document's stored HTML (hash-checked) for whoever may view the plans; `find(session)`
    returns the document row."""
    user, data = pages._current(request)
    if user is None:
        return pages._to_login(request)
    if not may_view(user):
        return pages.error_page(request, user, data.csrf, "无权查看。", 403)

    def body() -> str:
        with _db(request) as s:
            return documents.stored_body(find(s))
    try:
        html = await run_in_threadpool(body)
    except HazardLoopError as exc:
        return pages.error_page(request, user, data.csrf, str(exc), status_of(exc))
    return pages.no_store(Response(html, media_type="text/html; charset=utf-8"))


@router.get("/plans/reviews/{quarter}")
async def review_page(request: Request, quarter: str) -> Response:
    """The issued 季度会商研判 report as stored (hash-checked)."""
    return await _stored_page(request, lambda s: quarterly.get(s, quarter))


@router.get("/plans/documents/{number}")
async def document_page(request: Request, number: str) -> Response:
    """A plan-work 公文 by its 文号, as stored (hash-checked)."""
    return await _stored_page(request, lambda s: lag.get_document(s, number))


@router.get("/plans/chart.svg")
async def chart_svg(request: Request, year: str | None = None, plan: str | None = None) -> Response:
    user, _ = pages._current(request)
    if not may_view(user):
        return Response("未登录或无权查看。", status_code=403, media_type="text/plain; charset=utf-8")
    ctx = await run_in_threadpool(_board, request, _year(year), plan or None)
    return Response(ctx["svg"], media_type="image/svg+xml; charset=utf-8", headers={"Cache-Control": "no-store"})


def _unit_page(request: Request, user: AppUser, month: str) -> dict[str, Any]:
    with _db(request) as s:
        return tasks.unit_month(s, user, month)


def _report_page(request: Request, user: AppUser, csrf: str, month: str, *, error: str | None = None,
                 done: str | None = None, form: dict[str, str] | None = None, status: int = 200) -> Response:
    try:
        page = _unit_page(request, user, month)
    except HazardLoopError as exc:
        return pages.error_page(request, user, csrf, str(exc), status_of(exc))
    return pages.no_store(pages._render(request, "plan_report.html", {
        "user": user, "csrf": csrf, "page": page, "error": error, "done": done, "form": form or {},
        "TASK_STATES": labels.TASK_STATES}, status))


@router.get("/plans/report")
async def report_form(request: Request, month: str | None = None, saved: int | None = None) -> Response:
    user, data = pages._current(request)
    if user is None:
        return pages._to_login(request)
    if user.role not in REPORTERS:
        return pages.error_page(request, user, data.csrf, "月调度由牵头单位（部门、镇街区、市安委办）报送。", 403)
    done = f"已报送 {saved} 项任务的月调度。" if saved else None
    return await run_in_threadpool(lambda: _report_page(request, user, data.csrf, _month(month), done=done))


def _save(request: Request, user: AppUser, month: str, fields: dict[str, str]) -> int:
    """Every filled-in task of the form in one transaction; the first refusal rolls all back."""
    ids = sorted({int(k.split("_", 1)[1]) for k in fields if k.startswith("percent_") and k[8:].isdigit()})
    saved = 0
    with _db(request, write=True) as s:
        for task_id in ids:
            pct, done = fields.get(f"percent_{task_id}", "").strip(), fields.get(f"done_{task_id}", "").strip()
            if not pct and not done:
                continue  # left empty: not reported this time
            task = tasks.get_task(s, task_id)
            try:
                percent = int(pct)
            except ValueError:
                raise ValidationError(f"任务 {task.code} 的完成进度应为 0–100 的整数，收到 {pct!r}。") from None
            tasks.monthly_report(s, user, task_id, month, percent=percent, done=done,
                                 problems=fields.get(f"problems_{task_id}", ""),
                                 next_steps=fields.get(f"next_{task_id}", ""))
            saved += 1
        if not saved:
            raise ValidationError("没有填写任何任务的进度和完成情况。")
    return saved


@router.post("/plans/report")
async def report_post(request: Request) -> Response:
    fields = await pages.posted_fields(request, max_fields=2000)
    who = pages.form_poster(request, fields)
    if isinstance(who, Response):
        return who
    user, data = who
    month = _month(fields.get("month"))
    try:
        n = await run_in_threadpool(_save, request, user, month, fields)
    except HazardLoopError as exc:
        error, status = str(exc), status_of(exc)
        return await run_in_threadpool(lambda: _report_page(request, user, data.csrf, month, error=error,
                                                            form=fields, status=status))
    return RedirectResponse(f"/plans/report?month={month}&saved={n}", status_code=303)


# --- the committee office's decisions on the page (verify / return a task; approve / return a filing) -----

TASK_ACTIONS = {"verify": "verify", "return": "return_task"}
FILING_ACTIONS = {"approve": plans.approve_plan, "return": plans.return_plan}


def _decide(request: Request, user: AppUser, kind: str, ref: str, action: str, reason: str) -> str:
    with _db(request, write=True) as s:
        actor = s.get(AppUser, user.id)
        if kind == "task":
            t = tasks.fire(s, actor, ref, TASK_ACTIONS[action], reason=reason or None)
            return f"任务 {t.code}：{labels.TASK_STATES[t.state]}。"
        p = FILING_ACTIONS[action](s, actor, ref, *([reason] if action == "return" else []))
        return f"子方案 {p.code}：{labels.FILING_STATES[p.state]}。"


@router.post("/plans/{kind}/{ref}/decide")
async def decide(request: Request, kind: str, ref: str) -> Response:
    fields = await pages.posted_fields(request, max_fields=10)
    who = pages.form_poster(request, fields)
    if isinstance(who, Response):
        return who
    user, data = who
    action = fields.get("action", "")
    if kind not in ("task", "filing") or action not in (TASK_ACTIONS if kind == "task" else FILING_ACTIONS):
        return pages.error_page(request, user, data.csrf, "未知的操作。", 404)
    try:
        message = await run_in_threadpool(_decide, request, user, kind, ref, action, fields.get("reason", "").strip())
    except HazardLoopError as exc:
        return pages.error_page(request, user, data.csrf, str(exc), status_of(exc))
    return RedirectResponse(f"/plans?done={quote(message)}", status_code=303)


# --- the committee office's decisions that need the office itself (office pages: 404 for anyone else) ----

STEP_ACTIONS = ("approve", "decline")
MAX_ID = 2**31 - 1


def _step_decide(request: Request, user: AppUser, step_id: int, action: str, fields: dict[str, str]) -> str:
    """Approve (password again) or decline (reason) one proposed 曝光 / 追责问责移交; the message for the page.
    The step is looked up first (404 before anything else), the guard asked before the password."""
    with _db(request) as s:
        name = lag.get_step(s, step_id).name
    if action == "approve":
        plan_guards.decide_plan_step(user, f"批准{name}")
        result = auth.attempt(request.app.state.db_url, fields.get("password") or "", user_id=user.id,
                              sign_in=False)  # argon2 outside the write lock
        if result.user is None:
            raise office.ReauthFailed(f"批准{name}需要再次输入本人密码：" + (result.message or auth.FAILED))
        with _db(request, write=True) as s:
            row, doc = lag.approve(s, s.get(AppUser, user.id), step_id)
            unit = lag.unit_of(s, row.unit_kind, row.unit_code).name
            return f"已批准对{unit}{row.name}，公文 {doc.number} 已出具并通知。"
    try:
        with _db(request, write=True) as s:
            row = lag.decline(s, s.get(AppUser, user.id), step_id, reason=fields.get("reason"))
            unit = lag.unit_of(s, row.unit_kind, row.unit_code).name
            return f"已不予批准对{unit}{row.name}，理由已记入审计记录。"
    except MissingData:
        raise MissingData("不予批准须填写理由。") from None  # the engine names the CLI flag


@router.post("/plans/steps/{ref}/{action}")
async def step_post(request: Request, ref: str, action: str) -> Response:
    fields = await pages.posted_fields(request, 6)
    return await run_in_threadpool(_step_post, request, ref[:12], action[:10], fields)


def _step_post(request: Request, ref: str, action: str, fields: dict[str, str]) -> Response:
    got = office.poster(request, fields)
    if isinstance(got, Response):
        return got
    user, csrf = got
    step_id = services.small_int(ref)
    if step_id is None or step_id > MAX_ID or action not in STEP_ACTIONS:
        return pages.error_page(request, user, csrf, "没有这个操作。", 404)
    year = _year(fields.get("year"))
    try:
        message = _step_decide(request, user, step_id, action, fields)
    except office.ReauthFailed as exc:
        return _board_page(request, user, csrf, year, None, error=str(exc), status=403)
    except HazardLoopError as exc:
        if status_of(exc) == 404:
            return pages.error_page(request, user, csrf, str(exc), 404)
        keep = {f"decline-{step_id}-reason": fields.get("reason", "")} if action == "decline" else {}
        return _board_page(request, user, csrf, year, None, error=str(exc), form=keep, status=decision_status(exc))
    return RedirectResponse(f"/plans?year={year}&done={quote(message)}#ladder", status_code=303)


def _measures(fields: dict[str, str]) -> list[dict[str, str]]:
    """The filled-in measure rows, in order (a row with any field typed counts; conclude checks each)."""
    out = []
    for i in range(1, MEASURE_ROWS + 1):
        row = {k: fields.get(f"{k}_{i}", "").strip() for k in ("lead", "deadline", "content")}
        if any(row.values()):
            out.append(row)
    return out


def _review_act(request: Request, user: AppUser, quarter: str, action: str, fields: dict[str, str]) -> str:
    with _db(request, write=True) as s:
        actor = s.get(AppUser, user.id)
        if action == "issue":
            row = quarterly.issue(s, actor, quarter)
            return f"已签发 {row.number}（{row.quarter}季度会商研判报告）。"
        row, created = quarterly.conclude(s, actor, quarter, fields.get("conclusions", ""), _measures(fields))
        return (f"已记录 {row.quarter} 会商结论；新增任务 {'、'.join(t.code for t in created) or '无'}。")


@router.post("/plans/reviews/issue")
async def review_issue_post(request: Request) -> Response:
    fields = await pages.posted_fields(request, 4)
    return await run_in_threadpool(_review_post, request, fields.get("quarter", "")[:10], "issue", fields)


@router.post("/plans/reviews/{quarter}/conclude")
async def review_conclude_post(request: Request, quarter: str) -> Response:
    fields = await pages.posted_fields(request, 4 + 3 * MEASURE_ROWS)
    return await run_in_threadpool(_review_post, request, quarter[:10], "conclude", fields)


def _review_post(request: Request, quarter: str, action: str, fields: dict[str, str]) -> Response:
    got = office.poster(request, fields)
    if isinstance(got, Response):
        return got
    user, csrf = got
    year = _year(fields.get("year"))
    try:
        message = _review_act(request, user, quarter, action, fields)
    except HazardLoopError as exc:
        if status_of(exc) == 404:
            return pages.error_page(request, user, csrf, str(exc), 404)
        keep = {f"{action}-{quarter}-{k}": v for k, v in fields.items() if k != "csrf_token"}
        return _board_page(request, user, csrf, year, None, error=str(exc), form=keep, status=status_of(exc))
    return RedirectResponse(f"/plans?year={year}&done={quote(message)}#reviews", status_code=303)


# --- API -----------------------------------------------------------------------------------------


@api_router.get("/tasks")
def api_tasks(request: Request, year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
              plan: Annotated[str | None, Query(max_length=64)] = None,
              unit: Annotated[str | None, Query(max_length=64)] = None,
              user: AppUser = Depends(api_user)) -> Response:
    if not may_view(user):
        return JSONResponse({"detail": "无权查看行动计划。", "error": "forbidden"}, status_code=403)
    try:
        with _db(request) as s:
            return JSONResponse(tasks.list_tasks(s, plan=plan, year=year, unit=unit))
    except HazardLoopError as exc:
        return JSONResponse({"detail": str(exc), "error": "invalid"}, status_code=status_of(exc))


def _no_nul(value):  # noqa: ANN001, ANN202
    """PostgreSQL refuses NUL in text: refuse it here (422) rather than fail in the database."""
    items = value if isinstance(value, list) else [value]
    if any(isinstance(v, str) and "\x00" in v for v in items):
        raise ValueError("不能包含 NUL 字符")
    return value


class ReportIn(BaseModel):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="月份 YYYY-MM")
    percent: int = Field(ge=0, le=100, description="完成进度（%）")
    done: str = Field(min_length=1, max_length=2000, description="本月完成情况")
    problems: str = Field(default="", max_length=2000, description="存在问题")
    next_steps: str = Field(default="", max_length=2000, description="下步打算")

    _nul = field_validator("done", "problems", "next_steps")(_no_nul)


class ActionIn(BaseModel):
    summary: str | None = Field(default=None, max_length=2000, description="完成情况说明（report_done）")
    reason: str | None = Field(default=None, max_length=2000, description="退回理由（return_task）")
    evidence: list[str] = Field(default_factory=list, max_length=50, description="佐证材料（report_done）")

    _nul = field_validator("summary", "reason", "evidence")(_no_nul)


def _write(request: Request, user: AppUser, work) -> Response:  # noqa: ANN001
    try:
        with _db(request, write=True) as s:
            task = work(s, s.get(AppUser, user.id))
            return JSONResponse({"code": task.code, "state": task.state, "state_name": labels.TASK_STATES[task.state],
                                 "percent": task.percent})
    except HazardLoopError as exc:
        return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=status_of(exc))


@api_router.post("/tasks/{ref}/reports")
def api_report(request: Request, ref: str, body: ReportIn, user: AppUser = Depends(api_user)) -> Response:
    """月调度：牵头单位报送一项任务某月的进度（同月再次报送即替换）。"""
    def work(s, actor):  # noqa: ANN001, ANN202
        tasks.monthly_report(s, actor, ref, body.month, percent=body.percent, done=body.done,
                             problems=body.problems, next_steps=body.next_steps)
        return tasks.get_task(s, ref)
    return _write(request, user, work)


@api_router.post("/tasks/{ref}/{trigger}")
def api_fire(request: Request, ref: str, trigger: str, body: ActionIn | None = None,
             user: AppUser = Depends(api_user)) -> Response:
    """任务状态变更：start · report_done · verify · return_task（与命令行相同的 guards）。"""
    if trigger not in labels.TASK_TRIGGERS:
        return JSONResponse({"detail": f"未知操作 {trigger}；可用：{'、'.join(labels.TASK_TRIGGERS)}。", "error": "invalid"},
                            status_code=404)
    b = body or ActionIn()
    return _write(request, user, lambda s, actor: tasks.fire(s, actor, ref, trigger, summary=b.summary,
                                                             reason=b.reason, evidence=b.evidence))


def install(app: FastAPI) -> None:
    """Routes and the nav links; called once by create_app."""
    app.include_router(api_router)
    app.include_router(router)
    app.state.templates.env.globals.update(plan_nav=nav_links)

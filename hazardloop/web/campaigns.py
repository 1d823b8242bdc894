"""The special campaigns (五项整治) on the console, made for the township officer's phone:
open a space by its QR code (/c/{赋码}), tick the checklist, take a photo; the problems' pages
with their actions; the printable 赋码 label; and a small JSON API.

Every action calls the same functions as `hazardloop campaign ...` (hazardloop.campaigns),
so states.campaign_guards decides who may; an object or problem the user may not see is
simply not found.  No inline script or style (the console's CSP): the photo input is a plain
<input type=file accept=image/* capture=environment> per item.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from hazardloop.campaigns import coding, inventory, problems
from hazardloop.config import clock, labels
from hazardloop.errors import HazardLoopError, ValidationError
from hazardloop.escalation import problems as problem_ladder
from hazardloop.intake.excel import ImportRejected
from hazardloop.models.tables import AppUser
from hazardloop.reports import campaigns as numbers
from hazardloop.states import campaign_guards, problem_machine
from hazardloop.states.errors import MissingData, PermissionDenied
from hazardloop.web import pages, services
from hazardloop.web.api import User
from hazardloop.web.errors import status_of

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/campaigns", tags=["专项整治"])

ACTIONS = {"assign": "交办整改", "rectify": "报告整改完成", "verify": "验收销号", "reject": "验收不通过",
           "raise_major": "升级为重大事故隐患"}
DONE = {"check": "检查已保存。", "edit": "台账信息已修改。", **{k: f"已{v}。" for k, v in ACTIONS.items()}}
MAX_PHOTOS = 40
# Well-formed data per trigger: probing a guard with it leaves only the refusals that depend on
# who acts and on the record (which forms to show).
_PROBE: dict[str, dict[str, Any]] = {
    "assign": {"responsible": "-", "deadline": date.max}, "rectify": {"note": "-", "evidence_count": 1},
    "verify": {}, "reject": {"reason": "-", "deadline": date.max},
    "raise_major": {"basis_code": "-", "basis_clause": "-", "reason": "-"},
}


def _may(problem: Any, trigger: str, user: AppUser) -> bool:
    if trigger not in problem_machine.allowed_for(problem):
        return False
    try:
        return bool(campaign_guards.PROBLEM_GUARDS[trigger](problem, user, dict(_PROBE[trigger])))
    except (PermissionDenied, MissingData):
        return False


def _may_check(user: AppUser, obj: Any) -> bool:
    try:
        return bool(campaign_guards.check(user, obj))
    except PermissionDenied:
        return False


def _page(request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> Response:
    return pages.no_store(pages._render(request, name, ctx, status))


def _signed_in(request: Request) -> tuple[AppUser, str] | Response:
    user, data = pages._current(request)
    if user is None:
        return pages._to_login(request)
    return user, data.csrf


# --- pages --------------------------------------------------------------------------------------


@router.get("/campaigns")
def campaigns_home(request: Request) -> Response:
    who = _signed_in(request)
    if isinstance(who, Response):
        return who
    user, csrf = who
    with pages._db(request) as s:
        cfg = inventory.load()
        table = numbers.compute(s, clock.today(), "campaign")
        mine = problems.list_problems(s, user, state=None)
    open_problems = [p for p in mine if p.state in problem_machine.OPEN][:100]
    return _page(request, "campaigns.html", {"user": user, "csrf": csrf, "cfg": cfg, "table": table,
                                             "problems": open_problems, "overdue": problems.is_overdue,
                                             "P_STATES": labels.PROBLEM_STATES})


def _campaign_page(request: Request, user: AppUser, csrf: str, code: str, region: str | None = None, *,
                   status: int = 200, error: str | None = None, rows: list[str] = (), notice: str | None = None
                   ) -> Response:
    c = inventory.campaign(code)
    with pages._db(request) as s:
        objects = inventory.list_objects(s, user, campaign_code=c.code, region=(region or None) and region[:32])
        look = inventory.Lookups.of(s)
    try:
        may_import = bool(campaign_guards.import_inventory(user))
    except PermissionDenied:
        may_import = False
    return _page(request, "campaign.html", {"user": user, "csrf": csrf, "c": c, "objects": objects,
                                            "regions": look.region_names, "may_import": may_import,
                                            "error": error, "rows": rows, "notice": notice}, status)


@router.get("/campaigns/{code}")
def campaign_page(request: Request, code: str, region: str | None = None) -> Response:
    who = _signed_in(request)
    if isinstance(who, Response):
        return who
    user, csrf = who
    return _campaign_page(request, user, csrf, code[:32], region)


@router.post("/campaigns/{code}/import")
async def import_post(request: Request, code: str) -> Response:
    return await pages.with_upload(request, 10, _import, code[:32])


def _import(request: Request, code: str, fields: dict[str, str], upload: UploadFile | None) -> Response:
    poster = pages.form_poster(request, fields)
    if isinstance(poster, Response):
        return poster
    user, data = poster
    tmp: Path | None = None
    try:
        if upload is None:
            raise ValidationError("请选择要导入的 .xlsx 台账文件。")
        tmp, name = pages._store_upload(upload)
        with pages._db(request, write=True) as s:
            result = inventory.import_sheet(s, user, code, tmp, skip_invalid=fields.get("skip_invalid") == "1")
    except ImportRejected as exc:
        return _campaign_page(request, user, data.csrf, code, status=422, error=str(exc).replace(tmp.name, name)
                              if tmp else str(exc), rows=[p.line() for p in exc.problems])
    except HazardLoopError as exc:
        return _campaign_page(request, user, data.csrf, code, status=status_of(exc), error=str(exc))
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    notice = (f"导入完成：新登记 {len(result.created)}，更新 {len(result.updated)}，未变 {len(result.unchanged)}，"
              f"跳过 {len(result.skipped)}。")
    return _campaign_page(request, user, data.csrf, code, notice=notice, rows=[p.line() for p in result.skipped])


def _object_page(request: Request, user: AppUser, csrf: str, ref: str, *, status: int = 200,
                 error: str | None = None, notice: str | None = None) -> Response:
    with pages._db(request) as s:
        obj = inventory.view_object(s, user, ref)
        c = inventory.campaign(obj.campaign)
        look = inventory.Lookups.of(s)
        ctx = {"obj": obj, "c": c, "fields": inventory.display_fields(c, obj, look),
               "region": look.region_names.get(obj.region_code, obj.region_code),
               "checks": problems.checks_of(s, obj.id), "problems": problems.list_problems(s, object_id=obj.id),
               "may_check": _may_check(user, obj), "may_edit": _may_edit(user, obj), "deadline": problems.default_deadline().isoformat(),
               "responsible": obj.fields.get("responsible_person") or obj.fields.get("safety_contact")
               or obj.fields.get("site_manager") or obj.fields.get("owner") or ""}
    ctx.update({"user": user, "csrf": csrf, "error": error, "notice": notice, "RESULTS": labels.CHECK_RESULTS,
                "P_STATES": labels.PROBLEM_STATES, "overdue": problems.is_overdue})
    return _page(request, "campaign_object.html", ctx, status)


@router.get("/c/{ref}")
def object_page(request: Request, ref: str, done: str | None = None) -> Response:
    """What a 赋码 label's QR code opens."""
    who = _signed_in(request)
    if isinstance(who, Response):
        return who
    user, csrf = who
    return _object_page(request, user, csrf, ref[:40], notice=DONE.get(done or ""))


@router.get("/c/{ref}/label")
def label_page(request: Request, ref: str) -> Response:
    who = _signed_in(request)
    if isinstance(who, Response):
        return who
    user, csrf = who
    with pages._db(request) as s:
        obj = inventory.view_object(s, user, ref[:40])
        c = inventory.campaign(obj.campaign)
        region = inventory.Lookups.of(s).region_names.get(obj.region_code, obj.region_code)
    return _page(request, "campaign_label.html", {
        "user": user, "csrf": csrf, "obj": obj, "c": c, "region": region, "url": coding.object_url(obj.code),
        "qr": coding.qr_data_uri(obj.code, scale=6)})


@router.get("/c/{ref}/qr.png")
def label_png(request: Request, ref: str) -> Response:
    who = _signed_in(request)
    if isinstance(who, Response):
        return who
    user, _ = who
    with pages._db(request) as s:
        obj = inventory.view_object(s, user, ref[:40])
    return pages.no_store(Response(coding.qr_png(obj.code), media_type="image/png"))


def _may_edit(user: AppUser, obj: Any) -> bool:
    try:
        return bool(campaign_guards.add_object(user, obj))
    except PermissionDenied:
        return False


def _edit_page(request: Request, user: AppUser, csrf: str, ref: str, *, status: int = 200,
               error: str | None = None, form: dict[str, str] | None = None) -> Response:
    with pages._db(request) as s:
        obj = inventory.view_object(s, user, ref)
        c = inventory.campaign(obj.campaign)
        look = inventory.Lookups.of(s)
    if not _may_edit(user, obj):
        return pages.error_page(request, user, csrf, "无权修改该台账对象。", 403)
    values = {}
    for f in c.fields:
        v = obj.fields.get(f.code)
        values[f.code] = "、".join(v) if isinstance(v, list) else ("" if v is None else str(v))
    values.update(form or {})
    names = {"region": look.region_names, "industry": look.industry_names}
    return _page(request, "campaign_edit.html", {"user": user, "csrf": csrf, "obj": obj, "c": c, "values": values,
                                                 "names": names, "error": error}, status)


@router.get("/c/{ref}/edit")
def edit_page(request: Request, ref: str) -> Response:
    who = _signed_in(request)
    if isinstance(who, Response):
        return who
    user, csrf = who
    return _edit_page(request, user, csrf, ref[:40])


@router.post("/c/{ref}/edit")
async def edit_post(request: Request, ref: str) -> Response:
    fields = await pages.posted_fields(request, 120)
    return await run_in_threadpool(_edit, request, ref[:40], fields)


def _edit(request: Request, ref: str, fields: dict[str, str]) -> Response:
    poster = pages.form_poster(request, fields)
    if isinstance(poster, Response):
        return poster
    user, data = poster
    raw = {k[2:]: v for k, v in fields.items() if k.startswith("f_")}
    try:
        with pages._db(request, write=True) as s:
            obj = inventory.view_object(s, user, ref)
            inventory.edit(s, user, obj.id, raw, expected_version=services.small_int(fields.get("version"), 9))
            code = obj.code
    except HazardLoopError as exc:
        return _edit_page(request, user, data.csrf, ref, status=status_of(exc), error=str(exc), form=raw)
    return RedirectResponse(f"/c/{code}?done=edit", status_code=303)


@router.post("/c/{ref}/check")
async def check_post(request: Request, ref: str) -> Response:
    form = await request.form(max_files=MAX_PHOTOS, max_fields=300)
    try:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        uploads = [(k, v) for k, v in form.multi_items() if isinstance(v, UploadFile) and v.filename]
        return await run_in_threadpool(_check, request, ref[:40], fields, uploads)
    finally:
        await form.close()


def _check(request: Request, ref: str, fields: dict[str, str], uploads: list[tuple[str, UploadFile]]) -> Response:
    poster = pages.form_poster(request, fields)
    if isinstance(poster, Response):
        return poster
    user, data = poster
    results = {k[5:]: v for k, v in fields.items() if k.startswith("item_")}
    notes = {k[5:]: v for k, v in fields.items() if k.startswith("note_")}
    temps: list[Path] = []
    try:
        photos = []
        for key, upload in uploads:
            tmp, name = pages._store_upload(upload)
            temps.append(tmp)
            no = key[6:] if key.startswith("photo_") else ""
            photos.append((int(no) if no.isdigit() else None, tmp, name))
        deadline = _date(fields.get("deadline"), "整改期限") if fields.get("deadline") else None
        with pages._db(request, write=True) as s:
            obj = inventory.view_object(s, user, ref)
            problems.record_check(s, user, obj.id, results, notes=notes, photos=photos, deadline=deadline,
                                  responsible=(fields.get("responsible") or "").strip() or None)
            code = obj.code
    except HazardLoopError as exc:
        return _object_page(request, user, data.csrf, ref, status=status_of(exc), error=str(exc))
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    return RedirectResponse(f"/c/{code}?done=check", status_code=303)


def _date(value: str | None, what: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(f"{what}的日期格式应为 YYYY-MM-DD，收到 {value!r}。") from None


def _problem_page(request: Request, user: AppUser, csrf: str, ref: str, *, status: int = 200,
                  error: str | None = None, notice: str | None = None) -> Response:
    with pages._db(request) as s:
        problem = problems.view_problem(s, user, ref)
        obj = inventory.get_object(s, problem.object_id)
        photos = problems.photos_of(s, problem.id)
        steps = problem_ladder.steps_of(s, problem.id)
        hazard_code = problems.hazard_code(s, problem)
    allowed = [t for t in ACTIONS if _may(problem, t, user)]
    return _page(request, "campaign_problem.html", {
        "user": user, "csrf": csrf, "p": problem, "obj": obj, "photos": photos, "steps": steps, "allowed": allowed,
        "ACTIONS": ACTIONS, "P_STATES": labels.PROBLEM_STATES, "error": error, "notice": notice,
        "hazard_code": hazard_code, "overdue": problems.is_overdue(problem),
        "deadline": problems.default_deadline().isoformat(), "LEVELS": labels.LEVELS}, status)


@router.get("/campaigns/problems/{ref}")
def problem_page(request: Request, ref: str, done: str | None = None) -> Response:
    who = _signed_in(request)
    if isinstance(who, Response):
        return who
    user, csrf = who
    return _problem_page(request, user, csrf, ref[:40], notice=DONE.get(done or ""))


@router.post("/campaigns/problems/{ref}/{action}")
async def problem_action(request: Request, ref: str, action: str) -> Response:
    form = await request.form(max_files=5, max_fields=30)
    try:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        uploads = [v for _, v in form.multi_items() if isinstance(v, UploadFile) and v.filename]
        return await run_in_threadpool(_act, request, ref[:40], action[:20], fields, uploads)
    finally:
        await form.close()


def _act(request: Request, ref: str, action: str, fields: dict[str, str], uploads: list[UploadFile]) -> Response:
    poster = pages.form_poster(request, fields)
    if isinstance(poster, Response):
        return poster
    user, data = poster
    if action not in ACTIONS:
        return pages.error_page(request, user, data.csrf, "没有这个操作。", 404)
    temps: list[tuple[Path, str]] = []
    try:
        for upload in uploads:
            temps.append(pages._store_upload(upload))
        version = services.small_int(fields.get("version"), 9)
        with pages._db(request, write=True) as s:
            problem = problems.view_problem(s, user, ref)
            if action == "assign":
                problems.assign(s, user, problem.id, responsible=fields.get("responsible"),
                                deadline=_date(fields.get("deadline"), "整改期限"), expected_version=version)
            elif action == "rectify":
                problems.rectify(s, user, problem.id, note=fields.get("note"), evidence=temps, expected_version=version)
            elif action == "verify":
                problems.verify(s, user, problem.id, reason=fields.get("reason") or None, expected_version=version)
            elif action == "reject":
                problems.reject(s, user, problem.id, reason=fields.get("reason"),
                                deadline=_date(fields.get("deadline"), "新的整改期限"), expected_version=version)
            else:
                problems.raise_major(s, user, problem.id, basis_code=(fields.get("basis_code") or "").strip() or None,
                                     basis_clause=fields.get("basis_clause"), reason=fields.get("reason"),
                                     level=fields.get("level") or None, expected_version=version)
            code = problem.code
    except HazardLoopError as exc:
        return _problem_page(request, user, data.csrf, ref, status=status_of(exc), error=str(exc))
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
    return RedirectResponse(f"/campaigns/problems/{code}?done={action}", status_code=303)


# --- API ------------------------------------------------------------------------------------------


@api.get("/objects/{ref}", summary="专项整治台账对象（按赋码或编号）")
def api_object(request: Request, ref: str, user: User) -> dict[str, Any]:
    with pages._db(request) as s:
        obj = inventory.view_object(s, user, ref[:40])
        found = problems.list_problems(s, object_id=obj.id)
    return {"code": obj.code, "campaign": obj.campaign, "kind": obj.kind, "title": obj.title,
            "region_code": obj.region_code, "industry_code": obj.industry_code, "enterprise_id": obj.enterprise_id,
            "fields": obj.fields, "url": coding.object_url(obj.code),
            "problems": [{"code": p.code, "state": p.state, "item_no": p.item_no, "hazard_id": p.hazard_id}
                         for p in found]}


@api.get("/stats", summary="专项整治统计（按专项整治、镇街区或行业）")
def api_stats(request: Request, user: User, by: str = "campaign", as_of: str | None = None) -> dict[str, Any]:
    if by not in numbers.GROUPS:
        raise ValidationError(f"by 只能是 {'、'.join(numbers.GROUPS)}。")
    day = _date(as_of, "as_of") or clock.today()
    with pages._db(request) as s:
        return numbers.compute(s, day, by).as_dict()


# --- the queue ("我的待办") ------------------------------------------------------------------------

QUEUE = (
    ("problem-verify", "待验收的问题隐患", "专项整治问题隐患已报告整改完成，等待验收销号", "rectified", "verify"),
    ("problem-rectify", "待整改的问题隐患", "专项整治检查发现的问题隐患，请整改并上传整改后照片", "rectifying", "rectify"),
    ("problem-assign", "待交办的问题隐患", "检查发现、尚未交办整改的问题隐患", "found", "assign"),
)


def queue_sections(session: Any, user: AppUser) -> list[services.Section]:
    """The problems waiting for this user, one section per action the guards would let them take."""
    if user.role in ("public", "inspector"):
        return []
    rows = problems.list_problems(session, user, limit=100000)
    out = []
    for key, title, hint, state, trigger in QUEUE:
        mine = [p for p in rows if p.state == state and _may(p, trigger, user)]
        if user.role == "enterprise" and trigger != "rectify":
            mine = []
        if mine:
            mine.sort(key=lambda p: (p.deadline is None, p.deadline or p.found_at, p.id))
            items = [{"problem": p, "late": problems.is_overdue(p), "P_STATES": labels.PROBLEM_STATES}
                     for p in mine[:services.QUEUE_LIMIT]]
            out.append(services.Section(key, title, hint, items, len(mine)))
    return out


def nav_links(user: AppUser | None) -> list[tuple[str, str, str]]:
    return [("/campaigns", "nav-campaigns", "五项整治")] if user is not None and user.role != "public" else []


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(api)
    app.state.templates.env.globals.update(campaign_nav=nav_links, PROBLEM_STATES=labels.PROBLEM_STATES)
    if queue_sections not in services.QUEUE_PROVIDERS:
        services.QUEUE_PROVIDERS.append(queue_sections)

"""JSON API under /api/v1 for systems (token auth).  Same operations, same guards,
same visibility as the pages and the CLI: every call goes through services.perform
or the visible look-ups."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Path as PathParam, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hazardloop.intake import merge
from hazardloop.models.db import session_scope
from hazardloop.errors import ConflictError, HazardLoopError, NotFound, ValidationError
from hazardloop.models.tables import AppUser, Evidence, Extension, Hazard
from hazardloop.states import confidential, ledger
from hazardloop.states.errors import InvalidTransition
from hazardloop.web import auth, services
from hazardloop.web.errors import kind_of, status_of

bearer = HTTPBearer(auto_error=False, description="`hazardloop user token USERNAME` 签发的令牌")
router = APIRouter(prefix="/api/v1", tags=["hazards"])

MAX_ID = 2**31 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("不能包含 NUL 字符")
    return value


def Text(n: int) -> Any:  # noqa: N802
    return Annotated[str, Field(max_length=n), AfterValidator(_no_nul)]


Ref = Annotated[str, PathParam(min_length=1, max_length=40, description="隐患编号（id 或 YH-年份-序号）")]
StateName = Literal["found", "listed", "rectifying", "reviewed", "closed", "dismissed"]
Channel = Literal["self_inspection", "inspection", "public_report", "assigned"]
Level = Literal["city", "taian", "province"]


# --- schemas ------------------------------------------------------------------------------------


class UserOut(BaseModel):
    username: str
    name: str
    role: str
    enterprise_id: int | None = None
    department_code: str | None = None
    region_code: str | None = None


class HazardOut(BaseModel):
    id: int
    code: str | None
    version: int
    state: str
    title: str
    description: str
    location: str | None
    enterprise_id: int
    enterprise_name: str | None = None
    region_code: str
    industry_code: str
    channel: str
    level: str | None
    basis_code: str | None
    basis_clause: str | None
    supervising_department: str | None
    reported_by: str
    found_at: datetime
    deadline: datetime | None
    cycle: int
    overdue: bool
    days_overdue: int
    submitted_by: str | None
    closed_by: str | None
    closed_at: datetime | None
    rejections: int


class PlanOut(BaseModel):
    responsible_person: str
    measures: str
    funds: str
    deadline: datetime
    emergency_plan: str
    submitted_by: str
    created_at: datetime


class EvidenceOut(BaseModel):
    id: int
    cycle: int
    filename: str
    sha256: str
    size: int
    uploaded_by: str
    uploaded_at: datetime
    url: str


class ExtensionOut(BaseModel):
    id: int
    status: str
    reason: str
    new_deadline: datetime
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decision_reason: str | None


class AuditOut(BaseModel):
    seq: int
    ts: datetime
    actor: str
    action: str
    action_name: str
    reason: str | None
    summary: str


class HazardDetailOut(BaseModel):
    hazard: HazardOut
    plans: list[PlanOut]
    evidence: list[EvidenceOut]
    extensions: list[ExtensionOut]
    allowed_actions: list[str]


class HazardPage(BaseModel):
    total: int
    page: int
    pages: int
    per: int
    counts: dict[str, int]
    overdue: int
    items: list[HazardOut]


class QueueSectionOut(BaseModel):
    key: str
    title: str
    total: int
    items: list[HazardOut]
    reports: list[str] = Field(default_factory=list, description="待办的举报编号（详情：/api/v1/reports/{编号}）")


class ReportIn(BaseModel):
    enterprise: Text(200) = Field(description="企业编号、统一社会信用代码或名称")  # type: ignore[valid-type]
    title: Text(200)  # type: ignore[valid-type]
    channel: Channel
    description: Text(4000) = ""  # type: ignore[valid-type]
    location: Text(200) | None = None  # type: ignore[valid-type]


class VersionIn(BaseModel):
    expected_version: int | None = Field(default=None, ge=0, le=MAX_ID, description="乐观锁：看到的版本号")


class ConfirmIn(VersionIn):
    basis_code: Text(32)  # type: ignore[valid-type]
    basis_clause: Text(200)  # type: ignore[valid-type]
    level: Level


class ReasonIn(VersionIn):
    reason: Text(2000)  # type: ignore[valid-type]


class PlanIn(VersionIn):
    responsible_person: Text(64)  # type: ignore[valid-type]
    measures: Text(2000)  # type: ignore[valid-type]
    funds: Text(64)  # type: ignore[valid-type]
    deadline: date
    emergency_plan: Text(2000)  # type: ignore[valid-type]


class ApproveIn(VersionIn):
    reason: Text(2000) | None = None  # type: ignore[valid-type]
    password: Text(256) | None = Field(default=None, description="再次输入密码（记录为已重新验证）")  # type: ignore[valid-type]


class RejectIn(VersionIn):
    reason: Text(2000)  # type: ignore[valid-type]
    deadline: date


class ExtensionIn(BaseModel):
    reason: Text(2000)  # type: ignore[valid-type]
    deadline: date


class DecideIn(VersionIn):
    approve: bool
    extension_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    reason: Text(2000) | None = None  # type: ignore[valid-type]


class EditIn(VersionIn):
    title: Text(200) | None = None  # type: ignore[valid-type]
    description: Text(2000) | None = None  # type: ignore[valid-type]
    location: Text(200) | None = None  # type: ignore[valid-type]


class ErrorOut(BaseModel):
    detail: str
    error: str
    state: str | None = None
    version: int | None = None


ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut},
          409: {"model": ErrorOut}, 422: {"model": ErrorOut}}


# --- plumbing ---------------------------------------------------------------------------------


def _db(request: Request, write: bool = False):  # noqa: ANN202
    return session_scope(request.app.state.db_url, write=write)


def api_user(request: Request,
             creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> AppUser:
    with _db(request) as s:
        user = auth.token_user(s, creds.credentials if creds else None)
    if user is None:
        raise HTTPException(401, "需要有效的 API 令牌（Authorization: Bearer ...）。",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


User = Annotated[AppUser, Depends(api_user)]


def hazard_out(hazard: Hazard, viewer: AppUser | None, enterprise_name: str | None = None) -> HazardOut:
    """Every hazard in every reply goes through here: the reporter as this viewer may see it."""
    fields = {k: getattr(hazard, k) for k in HazardOut.model_fields if hasattr(hazard, k)}
    fields["reported_by"] = confidential.reporter_of(viewer, hazard)
    return HazardOut(**fields, enterprise_name=enterprise_name, overdue=ledger.is_overdue(hazard),
                     days_overdue=ledger.days_overdue(hazard))


def evidence_out(e: Evidence) -> EvidenceOut:
    return EvidenceOut(id=e.id, cycle=e.cycle, filename=e.filename, sha256=e.sha256, size=e.size,
                       uploaded_by=e.uploaded_by, uploaded_at=e.uploaded_at, url=f"/api/v1/evidence/{e.id}")


def _act(request: Request, user: AppUser, ref: str, action: str, data: dict[str, Any]) -> Any:
    """Run an action; a conflict answers 409 with the hazard's current state and version."""
    try:
        with _db(request, write=True) as s:
            actor = s.get(AppUser, user.id)
            result = services.perform(s, actor, ref, action, data)
            if isinstance(result, Hazard):
                return hazard_out(result, actor)
            if isinstance(result, Evidence):
                return evidence_out(result)
            if isinstance(result, Extension):
                return ExtensionOut(**result.model_dump())
            return result
    except (ConflictError, InvalidTransition) as exc:
        # Someone acted first (or the state never allowed it): say so with the hazard as it is now.
        with _db(request) as s:
            current = services.visible_hazard(s, user, ref)
        return JSONResponse({"detail": str(exc), "error": "conflict", "state": current.state,
                             "version": current.version}, status_code=409)


# --- routes -----------------------------------------------------------------------------------------


@router.get("/me", response_model=UserOut, responses=ERRORS, summary="当前令牌的用户")
def me(user: User) -> UserOut:
    return UserOut(**{k: getattr(user, k) for k in UserOut.model_fields})


@router.get("/queue", response_model=list[QueueSectionOut], responses=ERRORS, summary="我的待办")
def my_queue(request: Request, user: User) -> list[QueueSectionOut]:
    with _db(request) as s:
        sections = services.queue(s, user)
    return [QueueSectionOut(key=sec.key, title=sec.title, total=sec.total,
                            items=[hazard_out(i["hazard"], user, i["enterprise"]) for i in sec.items if "hazard" in i],
                            reports=[i["report"].code for i in sec.items if "report" in i]) for sec in sections]


@router.get("/hazards", response_model=HazardPage, responses=ERRORS, summary="隐患台账（按权限过滤）")
def list_hazards(
    request: Request, user: User,
    state: StateName | None = None, region: Annotated[str | None, Query(max_length=32)] = None,
    industry: Annotated[str | None, Query(max_length=32)] = None, channel: Channel | None = None,
    department: Annotated[str | None, Query(max_length=32, description="监管部门（代码）")] = None,
    level: Level | None = None, overdue: bool = False, q: Annotated[str | None, Query(max_length=60)] = None,
    sort: Literal["code", "found", "deadline", "state", "level"] = "found", desc: bool = True,
    page: Annotated[int, Query(ge=1, le=100000)] = 1, per: Annotated[int, Query(ge=1, le=200)] = 20,
) -> HazardPage:
    for value in (region, industry, q, department):
        if value and "\x00" in value:
            raise ValidationError("参数不能包含 NUL 字符。")
    lq = services.ListQuery(state=state, region=region, industry=industry, channel=channel, level=level,
                            overdue=overdue, q=q, sort=sort, desc=desc, page=page, per=per, department=department)
    with _db(request) as s:
        r = services.list_hazards(s, user, lq)
    return HazardPage(total=r.total, page=r.page, pages=r.pages, per=r.per, counts=r.counts, overdue=r.overdue,
                      items=[hazard_out(h, user, name) for h, name in r.items])


class CandidateOut(BaseModel):
    hazard_id: int
    code: str | None
    title: str
    location: str | None
    state: str
    state_name: str
    channel: str
    score: float
    merge_command: str


class ReportedOut(HazardOut):
    # On intake: similar hazards at the same enterprise the reporter may see (issue 6), with the
    # command a regulator runs to merge the new one into it; empty when there are none.
    duplicate_candidates: list[CandidateOut] = []


@router.post("/hazards", response_model=ReportedOut, status_code=201, responses=ERRORS, summary="上报隐患")
def report(request: Request, user: User, body: ReportIn) -> ReportedOut:
    ref = body.enterprise.strip()
    if ref.isdigit() and services.small_int(ref) is None:  # '²' or a number too big for an id column
        raise NotFound(f"没有企业 {ref[:40]}。")
    with _db(request, write=True) as s:
        actor = s.get(AppUser, user.id)
        hazard = ledger.report(s, actor, enterprise=ref, title=body.title,
                               channel=body.channel, description=body.description, location=body.location)
        out = hazard_out(hazard, actor)
        similar = merge.intake_candidates(s, hazard, actor)
        return ReportedOut(**out.model_dump(), duplicate_candidates=[CandidateOut(**c) for c in similar])


@router.get("/hazards/{ref}", response_model=HazardDetailOut, responses=ERRORS, summary="隐患详情")
def get_hazard(request: Request, user: User, ref: Ref) -> HazardDetailOut:
    with _db(request) as s:
        hazard = services.visible_hazard(s, user, ref)
        d = services.detail(s, user, hazard)
        out = hazard_out(hazard, user, d["enterprise"].name if d["enterprise"] else None)
        return HazardDetailOut(
            hazard=out, plans=[PlanOut(**p.model_dump()) for p in d["plans"]],
            evidence=[evidence_out(e) for e in d["evidence"]],
            extensions=[ExtensionOut(**x.model_dump()) for x in d["extensions"]], allowed_actions=d["actions"])


@router.get("/hazards/{ref}/audit", response_model=list[AuditOut], responses=ERRORS, summary="审计记录")
def hazard_audit(request: Request, user: User, ref: Ref) -> list[AuditOut]:
    with _db(request) as s:
        hazard = services.visible_hazard(s, user, ref)
        return [AuditOut(**{k: e[k] for k in AuditOut.model_fields}) for e in services.audit_trail(s, user, hazard)]


@router.get("/evidence/{evidence_id}", responses={**ERRORS, 200: {"content": {"application/octet-stream": {}}}},
            summary="下载证明材料", response_class=Response)
def evidence_file(request: Request, user: User,
                  evidence_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]) -> Response:
    from hazardloop.web.pages import evidence_response

    with _db(request) as s:
        evidence, _ = services.visible_evidence(s, user, evidence_id)
    return evidence_response(evidence)


@router.post("/hazards/{ref}/confirm", response_model=HazardOut, responses=ERRORS, summary="确认挂牌")
def confirm(request: Request, user: User, ref: Ref, body: ConfirmIn) -> Any:
    return _act(request, user, ref, "confirm", body.model_dump())


@router.post("/hazards/{ref}/dismiss", response_model=HazardOut, responses=ERRORS, summary="排除")
def dismiss(request: Request, user: User, ref: Ref, body: ReasonIn) -> Any:
    return _act(request, user, ref, "dismiss", body.model_dump())


@router.post("/hazards/{ref}/plan", response_model=HazardOut, responses=ERRORS, summary="提交整改方案（五落实）")
def plan(request: Request, user: User, ref: Ref, body: PlanIn) -> Any:
    return _act(request, user, ref, "plan", body.model_dump())


@router.post("/hazards/{ref}/evidence", response_model=EvidenceOut, status_code=201, responses=ERRORS,
             summary="上传整改证明材料")
async def upload_evidence(request: Request, user: User, ref: Ref, file: Annotated[UploadFile, File()]) -> Any:
    from hazardloop.web.pages import _store_upload

    def run() -> Any:
        with _db(request) as s:
            services.visible_hazard(s, user, ref)
        tmp, name = _store_upload(file)
        try:
            return _act(request, user, ref, "evidence", {"path": tmp, "filename": name})
        finally:
            tmp.unlink(missing_ok=True)

    return await run_in_threadpool(run)


@router.post("/hazards/{ref}/submit", response_model=HazardOut, responses=ERRORS, summary="提交整改完成")
def submit(request: Request, user: User, ref: Ref, body: VersionIn) -> Any:
    return _act(request, user, ref, "submit", body.model_dump())


@router.post("/hazards/{ref}/approve", response_model=HazardOut, responses=ERRORS,
             summary="审核销号（可附密码，记录为已重新验证）")
def approve(request: Request, user: User, ref: Ref, body: ApproveIn) -> Any:
    data = body.model_dump(exclude={"password"})
    with _db(request) as s:
        may = services.may(s, user, services.visible_hazard(s, user, ref), "approve")
    if body.password is not None and may:
        # The guard first: a password sent by someone who may not approve (a fuzzer, a wrong role)
        # never counts toward the real user's lock-out; the action below gives the refusal.
        result = auth.attempt(request.app.state.db_url, body.password, user_id=user.id, sign_in=False)
        if result.user is None:
            return JSONResponse({"detail": "重新验证密码失败：" + (result.message or auth.FAILED), "error": "forbidden"},
                                status_code=403)
    data["reauthenticated"] = body.password is not None and may
    return _act(request, user, ref, "approve", data)


@router.post("/hazards/{ref}/reject", response_model=HazardOut, responses=ERRORS, summary="驳回整改")
def reject(request: Request, user: User, ref: Ref, body: RejectIn) -> Any:
    return _act(request, user, ref, "reject", body.model_dump())


@router.post("/hazards/{ref}/extensions", response_model=ExtensionOut, status_code=201, responses=ERRORS,
             summary="申请延期")
def request_extension(request: Request, user: User, ref: Ref, body: ExtensionIn) -> Any:
    return _act(request, user, ref, "request_extension", body.model_dump())


@router.post("/hazards/{ref}/extensions/decide", response_model=ExtensionOut, responses=ERRORS, summary="审批延期")
def decide_extension(request: Request, user: User, ref: Ref, body: DecideIn) -> Any:
    return _act(request, user, ref, "decide_extension", body.model_dump())


@router.patch("/hazards/{ref}", response_model=HazardOut, responses=ERRORS, summary="修改隐患信息")
def edit(request: Request, user: User, ref: Ref, body: EditIn) -> Any:
    return _act(request, user, ref, "edit", body.model_dump())


def error_json(exc: HazardLoopError) -> JSONResponse:
    return JSONResponse({"detail": str(exc), "error": kind_of(exc)}, status_code=status_of(exc))

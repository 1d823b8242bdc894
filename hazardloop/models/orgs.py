"""Enterprises and users from a YAML file (`hazardloop org load`).

Every record is validated first; nothing is written unless all pass.  Loading
is an upsert keyed by 统一社会信用代码 (enterprises) and username (users).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, select

from hazardloop.models import audit
from hazardloop.config.labels import resolve
from hazardloop.errors import ValidationError
from hazardloop.models.tables import AppUser, Department, Enterprise, Industry, Region

# GB 32100-2015: 统一社会信用代码 alphabet (no I, O, S, V, Z) and check-digit weights.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
PRIVILEGED_ROLES = ("committee", "system")


def credit_check_char(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """None if valid, else the reason in Chinese."""
    if not isinstance(code, str) or len(code) != 18:
        return "统一社会信用代码应为 18 位"
    code = code.upper()
    bad = [c for c in code if c not in CREDIT_ALPHABET]
    if bad:
        return f"统一社会信用代码含非法字符 {''.join(bad)}"
    expected = credit_check_char(code[:17])
    if code[17] != expected:
        return f"统一社会信用代码校验位错误（应为 {expected}）"
    return None


def make_credit_code(seed17: str) -> str:
    """A valid code from 17 characters (used by the demo's generated enterprises)."""
    return seed17 + credit_check_char(seed17)


def _person(value: Any) -> tuple[str | None, str | None]:
    if isinstance(value, dict):
        return value.get("name"), (str(value["phone"]) if value.get("phone") else None)
    return (str(value) if value else None), None


# What a person types in an enterprise record (a form on the console, or one entry of the file).
PEOPLE = (("principal", "主要负责人"), ("controller", "实际控制人"), ("safety_manager", "安全管理人员"))
_PHONE = re.compile(r"^[0-9+\-() ]{3,32}$")
_CONTACT_KEY = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


@dataclass
class Change:
    kind: str  # enterprise | user
    key: str  # 统一社会信用代码 or username
    name: str
    action: str  # add | update | same (labels.ORG_CHANGES)
    fields: list[str] = field(default_factory=list)  # what an update changes (labels.ORG_FIELDS)
    privileged: bool = False  # a user who would get (or keep) a role that administers others


@dataclass
class OrgPlan:
    """What loading a file would do, checked against the database: every problem ("enterprises
    第 N 条：…"), and every record with what it adds or changes.  Nothing is written by planning."""

    problems: list[str]
    changes: list[Change]
    enterprises: list[dict[str, Any]] = field(default_factory=list, repr=False)
    users: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems


def _folded(rows: Any) -> dict[str, str]:
    """{code or Chinese name, folded: code}: a file or a form may name a region or industry either way."""
    out: dict[str, str] = {}
    for code, name in rows:
        out[_fold(name)] = code
        out[_fold(code)] = code
    return out


def _fold(text: Any) -> str:
    import unicodedata

    return "".join(unicodedata.normalize("NFKC", str(text)).split()).lower()


def check_enterprise(raw: dict[str, Any], where: str, regions: dict[str, str], industries: dict[str, str]
                     ) -> tuple[dict[str, Any], list[str]]:
    """One enterprise record (as in the file: people as a name or {name, phone}) ⇒ its row and problems."""
    problems: list[str] = []
    code = str(raw.get("credit_code", "") or "").strip().upper()
    for key, label in (("name", "企业名称"), ("region", "所属镇街区"), ("industry", "行业领域")):
        if not str(raw.get(key) or "").strip():
            problems.append(f"{where}：缺少{label}（{key}）")
    if (p := credit_code_problem(code)) is not None:
        problems.append(f"{where}（{raw.get('name', '')}）：{p}")
    region = regions.get(_fold(raw["region"])) if raw.get("region") else None
    if raw.get("region") and region is None:
        problems.append(f"{where}：未知镇街区 {raw['region']}")
    industry = industries.get(_fold(raw["industry"])) if raw.get("industry") else None
    if raw.get("industry") and industry is None:
        problems.append(f"{where}：未知行业 {raw['industry']}")
    row: dict[str, Any] = dict(name=str(raw.get("name", "") or "").strip(), credit_code=code, region_code=region,
                               industry_code=industry, address=str(raw["address"]).strip() if raw.get("address") else None)
    if len(row["name"]) > 200 or len(row["address"] or "") > 200:
        problems.append(f"{where}：企业名称和地址各不超过 200 个字符")
    for key, label in PEOPLE:
        person, phone = _person(raw.get(key))
        person = person.strip() if isinstance(person, str) else person
        if key != "safety_manager" and not person:
            problems.append(f"{where}：缺少{label}（{key}）")
        if person is not None and (not isinstance(person, str) or len(person) > 64):
            problems.append(f"{where}：{label}姓名应为不超过 64 个字符的文字")
        if phone and not _PHONE.match(phone):
            problems.append(f"{where}：{label}电话 {phone} 不像电话号码")
        row[key], row[f"{key}_phone"] = person or None, phone
    contacts = raw.get("contacts") or {}
    if not isinstance(contacts, dict) or not all(isinstance(k, str) and _CONTACT_KEY.match(k) and isinstance(
            v, (str, int, dict)) for k, v in contacts.items()):
        problems.append(f"{where}：contacts 应为“键: 值”的映射（键为小写英文，如 email、principal_email）")
        contacts = {}
    row["contacts"] = contacts
    return row, problems


def plan_orgs(session: Session, doc: Any, source: str = "文件", *, allow_privileged: bool = True) -> OrgPlan:
    """Check a parsed org document (the `org load` format) against the database.

    allow_privileged=False (the console, unless its box is ticked): a user who would be created
    with, or changed to, a role that administers others (committee, system) is a problem."""
    if not isinstance(doc, dict):
        return OrgPlan([f"{source} 的顶层应是包含 enterprises 和 users 的映射。"], [])
    enterprises = doc.get("enterprises") or []
    users = doc.get("users") or []
    problems: list[str] = []
    if not isinstance(enterprises, list) or not isinstance(users, list):
        return OrgPlan([f"{source}：enterprises 和 users 都应是列表。"], [])
    regions = _folded(session.exec(select(Region.code, Region.name)).all())
    industries = _folded(session.exec(select(Industry.code, Industry.name)).all())
    departments = _folded(session.exec(select(Department.code, Department.name)).all())
    known = {e.credit_code: e for e in session.exec(select(Enterprise)).all()}

    changes: list[Change] = []
    ent_rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, raw in enumerate(enterprises, 1):
        where = f"enterprises 第 {i} 条"
        if not isinstance(raw, dict):
            problems.append(f"{where}：应为映射")
            continue
        row, found = check_enterprise(raw, where, regions, industries)
        problems += found
        if row["credit_code"] in seen:
            problems.append(f"{where}：统一社会信用代码 {row['credit_code']} 在文件中重复")
        seen.add(row["credit_code"])
        ent_rows.append(row)
        existing = known.get(row["credit_code"])
        diff = [k for k, v in row.items() if existing is not None and getattr(existing, k) != v]
        changes.append(Change("enterprise", row["credit_code"], row["name"],
                              "add" if existing is None else "update" if diff else "same", diff))
    file_codes = {r["credit_code"] for r in ent_rows}
    known_users = {u.username: u for u in session.exec(select(AppUser)).all()}
    user_rows: list[dict[str, Any]] = []
    for i, raw in enumerate(users, 1):
        where = f"users 第 {i} 条"
        if not isinstance(raw, dict):
            problems.append(f"{where}：应为映射")
            continue
        for key, label in (("username", "用户名"), ("name", "姓名"), ("role", "角色")):
            if not raw.get(key):
                problems.append(f"{where}：缺少{label}（{key}）")
        for key, label, most in (("username", "用户名", 64), ("name", "姓名", 64), ("phone", "电话", 32),
                                 ("email", "电子邮箱", 128)):
            value = raw.get(key)
            if value is not None and not (isinstance(value, (str, int)) and 0 < len(str(value)) <= most):
                problems.append(f"{where}：{label}应为不超过 {most} 个字符的文字")
        if any(c.isspace() for c in str(raw.get("username") or "")):
            problems.append(f"{where}：用户名不能含空白")
        role = raw.get("role")
        if role is not None and not isinstance(role, str):
            problems.append(f"{where}：角色应为文字")
            role = None
        if role:
            try:  # a person may write the role's Chinese name (市安委办) as well as its code
                role = resolve("role", role, "角色")
            except ValidationError as exc:
                problems.append(f"{where}：{exc}")
                role = None
        ent_code = str(raw.get("enterprise", "") or "").strip().upper() or None
        if role == "enterprise" and not ent_code:
            problems.append(f"{where}：企业用户须写明所属企业（enterprise: 统一社会信用代码）")
        if ent_code and ent_code not in file_codes | set(known):
            problems.append(f"{where}：所属企业 {ent_code} 不存在")
        department = departments.get(_fold(raw["department"])) if raw.get("department") else None
        region = regions.get(_fold(raw["region"])) if raw.get("region") else None
        if role == "supervisor" and department is None:
            problems.append(f"{where}：行业监管部门用户须写明有效的 department")
        if role == "township" and region is None:
            problems.append(f"{where}：镇街区用户须写明有效的 region")
        if raw.get("department") and department is None:
            problems.append(f"{where}：未知部门 {raw['department']}")
        row = dict(username=str(raw.get("username", "")).strip(), name=str(raw.get("name") or ""), role=role,
                   enterprise_code=ent_code, department_code=department, region_code=region,
                   phone=str(raw["phone"]) if raw.get("phone") else None,
                   email=str(raw["email"]) if raw.get("email") else None)
        user_rows.append(row)
        existing_user = known_users.get(row["username"])
        compare = {k: v for k, v in row.items() if k != "enterprise_code"}
        diff = [k for k, v in compare.items() if existing_user is not None and getattr(existing_user, k) != v]
        privileged = role in PRIVILEGED_ROLES
        if privileged and not allow_privileged and (existing_user is None or existing_user.role != role):
            problems.append(f"{where}：{row['username']} 将成为{'市安委办' if role == 'committee' else '系统'}账户"
                            "（可管理全部用户和数据），须明确确认（页面勾选确认框，命令行加 --privileged）后才能导入")
        changes.append(Change("user", row["username"], str(row["name"] or ""),
                              "add" if existing_user is None else "update" if diff else "same", diff, privileged))
    return OrgPlan(problems, changes, ent_rows, user_rows)


def read_orgs(text: str, source: str = "文件") -> Any:
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValidationError(f"{source} 不是合法的 YAML：{exc}") from exc


def apply_orgs(session: Session, plan: OrgPlan, actor: str = "system") -> dict[str, int]:
    """Write a plan that has no problems (one transaction: the caller commits or rolls back)."""
    if plan.problems:
        raise ValidationError("组织数据有误，未导入任何记录：\n" + "\n".join(f"  - {p}" for p in plan.problems))
    added = {"enterprises": 0, "users": 0}
    for row in plan.enterprises:
        existing = session.exec(select(Enterprise).where(Enterprise.credit_code == row["credit_code"])).first()
        if existing is None:
            session.add(Enterprise(**row))
        elif any(getattr(existing, k) != v for k, v in row.items()):
            for k, v in row.items():
                setattr(existing, k, v)
        else:
            continue
        added["enterprises"] += 1
        audit.append(session, actor=actor, action="enterprise_upsert", after={"credit_code": row["credit_code"],
                                                                             "name": row["name"]})
    session.flush()
    for row in (dict(r) for r in plan.users):
        code = row.pop("enterprise_code")
        if code:
            row["enterprise_id"] = session.exec(select(Enterprise.id).where(Enterprise.credit_code == code)).one()
        existing = session.exec(select(AppUser).where(AppUser.username == row["username"])).first()
        if existing is None:
            session.add(AppUser(**row))
        elif any(getattr(existing, k) != v for k, v in row.items()):
            for k, v in row.items():
                setattr(existing, k, v)
        else:
            continue
        added["users"] += 1
        audit.append(session, actor=actor, action="user_upsert", after={"username": row["username"],
                                                                       "role": row["role"]})
    session.flush()
    return added


def load_orgs(session: Session, path: str | Path, actor: str = "system", *,
              allow_privileged: bool = True) -> dict[str, int]:
    """`hazardloop org load FILE`: check every record, then write all of them or none.

    The CLI passes allow_privileged only with --privileged, as the console's box (plan_orgs)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ValidationError(f"文件不存在：{path}") from exc
    return apply_orgs(session, plan_orgs(session, read_orgs(text, str(path)), str(path),
                                         allow_privileged=allow_privileged), actor)


def enterprise_form(ent: Enterprise) -> dict[str, Any]:
    """An enterprise as the record check_enterprise reads (what the console's edit form shows)."""
    return {"name": ent.name, "credit_code": ent.credit_code, "region": ent.region_code, "industry": ent.industry_code,
            "address": ent.address or "", "contacts": dict(ent.contacts or {}),
            **{key: {"name": getattr(ent, key) or "", "phone": getattr(ent, f"{key}_phone") or ""}
               for key, _ in PEOPLE}}


def enterprise_fingerprint(ent: Enterprise) -> str:
    """What the edit page showed, as a short digest: a save made from an older page is refused."""
    import hashlib
    import json

    text = json.dumps(enterprise_form(ent), ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def update_enterprise(session: Session, enterprise_id: int, record: dict[str, Any], actor: str,
                      seen: str | None = None) -> tuple[Enterprise, list[str]]:
    """Edit one enterprise and its people (the console's 企业 page): the same checks as a file's
    entry; the 统一社会信用代码 may change only to one no other enterprise has.  Audited with what
    changed (before and after).  Returns (enterprise, changed fields); nothing written on a problem.

    `seen`: enterprise_fingerprint of the record the editor started from.  Two clerks who opened
    the same page: the second save would silently undo the first, so it is refused (the row is
    locked while it is compared and written)."""
    from hazardloop.errors import ConflictError, NotFound

    ent = session.get(Enterprise, enterprise_id, with_for_update=True)
    if ent is None:
        raise NotFound(f"没有编号为 {enterprise_id} 的企业。")
    if seen is not None and enterprise_fingerprint(ent) != seen:
        raise ConflictError(f"{ent.name}的信息在您打开本页之后已被他人修改，本次未保存；请重新打开页面，核对后再修改。")
    regions = _folded(session.exec(select(Region.code, Region.name)).all())
    industries = _folded(session.exec(select(Industry.code, Industry.name)).all())
    row, problems = check_enterprise(record, ent.name, regions, industries)
    other = session.exec(select(Enterprise.id).where(Enterprise.credit_code == row["credit_code"],
                                                     Enterprise.id != ent.id)).first()
    if other is not None:
        problems.append(f"{ent.name}：统一社会信用代码 {row['credit_code']} 已属于另一家企业")
    if problems:
        raise ValidationError("企业信息有误，未保存：" + "；".join(p.split("：", 1)[-1] for p in problems) + "。")
    changed = [k for k, v in row.items() if getattr(ent, k) != v]
    if changed:
        before = {k: getattr(ent, k) for k in changed}
        for k in changed:
            setattr(ent, k, row[k])
        session.add(ent)
        session.flush()
        audit.append(session, actor=actor, action="enterprise_edited", before={"enterprise_id": ent.id, **before},
                     after={"enterprise_id": ent.id, **{k: row[k] for k in changed}})
    return ent, changed

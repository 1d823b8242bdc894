"""Enterprises and users from a YAML file (`hazardloop org load`).

Every record is validated first; nothing is written unless all pass.  Loading
is an upsert keyed by 统一社会信用代码 (enterprises) and username (users).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, select

from hazardloop.models import audit
from hazardloop.errors import ValidationError
from hazardloop.models.tables import AppUser, Department, Enterprise, Industry, Region

# GB 32100-2015: 统一社会信用代码 alphabet (no I, O, S, V, Z) and check-digit weights.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ROLES = ("enterprise", "inspector", "public", "township", "supervisor", "committee", "system")


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


def load_orgs(session: Session, path: str | Path, actor: str = "system") -> dict[str, int]:
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ValidationError(f"文件不存在：{path}") from exc
    except yaml.YAMLError as exc:
        raise ValidationError(f"{path} 不是合法的 YAML：{exc}") from exc
    if not isinstance(doc, dict):
        raise ValidationError(f"{path} 的顶层应是包含 enterprises 和 users 的映射。")
    enterprises = doc.get("enterprises") or []
    users = doc.get("users") or []
    regions = {r.code for r in session.exec(select(Region)).all()}
    industries = {i.code for i in session.exec(select(Industry)).all()}
    departments = {d.code for d in session.exec(select(Department)).all()}
    known_codes = {e.credit_code for e in session.exec(select(Enterprise)).all()}

    problems: list[str] = []
    ent_rows: list[dict[str, Any]] = []
    for i, raw in enumerate(enterprises, 1):
        where = f"enterprises 第 {i} 条"
        if not isinstance(raw, dict):
            problems.append(f"{where}：应为映射")
            continue
        code = str(raw.get("credit_code", "")).strip().upper()
        for field, label in (("name", "企业名称"), ("region", "所属镇街区"), ("industry", "行业领域")):
            if not raw.get(field):
                problems.append(f"{where}：缺少{label}（{field}）")
        if (p := credit_code_problem(code)) is not None:
            problems.append(f"{where}（{raw.get('name', '')}）：{p}")
        if raw.get("region") and raw["region"] not in regions:
            problems.append(f"{where}：未知镇街区 {raw['region']}")
        if raw.get("industry") and raw["industry"] not in industries:
            problems.append(f"{where}：未知行业 {raw['industry']}")
        principal, principal_phone = _person(raw.get("principal"))
        controller, controller_phone = _person(raw.get("controller"))
        manager, manager_phone = _person(raw.get("safety_manager"))
        if not principal:
            problems.append(f"{where}：缺少主要负责人（principal）")
        if not controller:
            problems.append(f"{where}：缺少实际控制人（controller）")
        ent_rows.append(dict(
            name=str(raw.get("name", "")).strip(), credit_code=code, region_code=raw.get("region"),
            industry_code=raw.get("industry"), address=raw.get("address"), principal=principal,
            principal_phone=principal_phone, controller=controller, controller_phone=controller_phone,
            safety_manager=manager, safety_manager_phone=manager_phone, contacts=raw.get("contacts") or {},
        ))
    file_codes = {r["credit_code"] for r in ent_rows}
    user_rows: list[dict[str, Any]] = []
    for i, raw in enumerate(users, 1):
        where = f"users 第 {i} 条"
        if not isinstance(raw, dict):
            problems.append(f"{where}：应为映射")
            continue
        for field, label in (("username", "用户名"), ("name", "姓名"), ("role", "角色")):
            if not raw.get(field):
                problems.append(f"{where}：缺少{label}（{field}）")
        role = raw.get("role")
        if role and role not in ROLES:
            problems.append(f"{where}：未知角色 {role}（可用：{'、'.join(ROLES)}）")
        ent_code = str(raw.get("enterprise", "") or "").strip().upper() or None
        if role == "enterprise" and not ent_code:
            problems.append(f"{where}：企业用户须写明所属企业（enterprise: 统一社会信用代码）")
        if ent_code and ent_code not in file_codes | known_codes:
            problems.append(f"{where}：所属企业 {ent_code} 不存在")
        if role == "supervisor" and raw.get("department") not in departments:
            problems.append(f"{where}：行业监管部门用户须写明有效的 department")
        if role == "township" and raw.get("region") not in regions:
            problems.append(f"{where}：镇街区用户须写明有效的 region")
        if raw.get("department") and raw["department"] not in departments:
            problems.append(f"{where}：未知部门 {raw['department']}")
        user_rows.append(dict(
            username=str(raw.get("username", "")).strip(), name=raw.get("name"), role=role,
            enterprise_code=ent_code, department_code=raw.get("department"), region_code=raw.get("region"),
            phone=str(raw["phone"]) if raw.get("phone") else None, email=raw.get("email"),
        ))
    if problems:
        raise ValidationError("组织数据有误，未导入任何记录：\n" + "\n".join(f"  - {p}" for p in problems))

    added = {"enterprises": 0, "users": 0}
    for row in ent_rows:
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
    for row in user_rows:
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

"""Reference rows by what a person types: a region, department or industry by its code or its
Chinese name; a 公文 number typed with any of the bracket pairs people use.

The CLI resolves every such option through here, so `--region 石横镇` and `--region shiheng`
select the same rows, and an unknown value is refused with the accepted values listed (never
an empty result).
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select
from sqlmodel import Session

from hazardloop.errors import ValidationError
from hazardloop.models.tables import Department, Industry, Region

KINDS = {"region": (Region, "镇街区"), "department": (Department, "部门"), "industry": (Industry, "行业")}


def _key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


def choices(session: Session, kind: str) -> list[tuple[str, str]]:
    """(code, name) of every row of `kind`, in code order."""
    model, _ = KINDS[kind]
    return [(c, n) for c, n in session.execute(select(model.code, model.name).order_by(model.code)).all()]


def resolve(session: Session, kind: str, text: str | None) -> str | None:
    """The code of the region / department / industry typed as `text` (code or name; a name may
    be given without its last character's suffix only when that is unambiguous).  None stays None."""
    if text is None:
        return None
    rows = choices(session, kind)
    wanted = _key(str(text))
    for code, name in rows:
        if wanted in (_key(code), _key(name)):
            return code
    # "应急局" for "市应急管理局" is not guessed; a unique prefix/infix of the name is accepted.
    partial = [code for code, name in rows if wanted and wanted in _key(name)]
    if len(partial) == 1:
        return partial[0]
    _, what = KINDS[kind]
    listed = "、".join(f"{name}（{code}）" for code, name in rows)
    raise ValidationError(f"不认识的{what}「{text}」；可用：{listed}")


def name_map(session: Session, kind: str) -> dict[str, str]:
    return dict(choices(session, kind))


# 文号: 肥安办函〔2026〕12号 — people type 〔〕, [], (), （）, 【】 or ［］ for the year's brackets.
_YEAR = re.compile(r"^(?P<prefix>.*?)[〔\[(（【［]\s*(?P<year>\d{4})\s*[〕\])）】］]\s*(?P<seq>\d+)\s*号?$")


def document_number(text: str) -> str:
    """The stored form of a 文号 (〔〕 brackets, no spaces), whatever brackets it was typed with."""
    raw = "".join(str(text).split())
    m = _YEAR.match(raw)
    if not m:
        return raw
    return f"{m['prefix']}〔{m['year']}〕{int(m['seq'])}号"


def department_name(row: object, code: str | None) -> str:
    """The Chinese name of department `code`, read through the session `row` belongs to (for messages
    written where no session is passed, e.g. the guards); the code itself when there is none."""
    from sqlalchemy.orm import object_session

    if not code:
        return "（未指定部门）"
    session = object_session(row)
    dept = session.get(Department, code) if session is not None else None
    return dept.name if dept is not None else code

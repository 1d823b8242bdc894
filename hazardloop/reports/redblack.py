"""The red and black list (红黑榜) of enterprises for a month, by the rules in config/redblack.yaml.

Black: any black rule hit (each hit named with its figures).  Red: every red
rule met and not black.  Everything is evaluated as of the month's last day
(Shanghai) from the audit trail and the inspections recorded by then, so a
past month's lists can be reproduced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import inspect, text
from sqlmodel import Session, select

from hazardloop.config.calendar import month_bounds
from hazardloop.errors import ValidationError
from hazardloop.models.tables import Enterprise, Region
from hazardloop.reports import inspections, stats

CONFIG_FILE = Path(__file__).resolve().parent.parent / "config" / "redblack.yaml"
BLACK_RULES = {"repeated_rejections", "missed_inspections", "escalated"}
RED_RULES = {"all_closed_on_time", "inspections_done"}
STEP_COLUMNS = ("kind", "step", "step_kind")  # matched against the rule's steps (any of them)


@dataclass
class Entry:
    enterprise_id: int
    enterprise: str
    region: str
    reasons: list[str] = field(default_factory=list)


@dataclass
class RedBlack:
    month: str
    as_of: date
    red: list[Entry]
    black: list[Entry]
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"month": self.month, "as_of": self.as_of, "red": [asdict(e) for e in self.red],
                "black": [asdict(e) for e in self.black], "notes": self.notes}


def load_rules(path: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    return _load(str(path or CONFIG_FILE))


@lru_cache(maxsize=8)
def _load(path: str) -> dict[str, list[dict[str, Any]]]:
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    out: dict[str, list[dict[str, Any]]] = {}
    for side, known in (("black", BLACK_RULES), ("red", RED_RULES)):
        rules = raw.get(side) or []
        if not isinstance(rules, list):
            raise ValidationError(f"{path}：{side} 必须是规则列表。")
        for i, rule in enumerate(rules, 1):
            if not isinstance(rule, dict) or rule.get("rule") not in known:
                raise ValidationError(f"{path}：{side} 第 {i} 条规则类型未知（可用：{'、'.join(sorted(known))}）。")
            if not str(rule.get("name") or "").strip():
                raise ValidationError(f"{path}：{side} 第 {i} 条规则缺少 name（榜单上写的理由）。")
        out[side] = rules
    return out


def months_back(day: date, months: int) -> date:
    """The first day of the month `months` months before `day`'s month, plus one (a window of `months` months)."""
    index = day.year * 12 + day.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def _rejections(session: Session, since: date, as_of: date) -> dict[int, int]:
    conn = session.connection()
    sql = text("""SELECT h.enterprise_id, COUNT(*) FROM audit_event e JOIN hazard h ON h.id = e.hazard_id
                  WHERE e.action = 'reject' AND e.ts > :a AND e.ts <= :t GROUP BY h.enterprise_id""")
    params = {"a": stats.bind_time(conn, stats.cutoff(since - timedelta(days=1))),
              "t": stats.bind_time(conn, stats.cutoff(as_of))}
    return {int(e): int(n) for e, n in conn.execute(sql, params).all()}


def _escalated(session: Session, steps: list[str], since: date, as_of: date) -> tuple[dict[int, int] | None, str]:
    """Escalation steps of the named kinds/steps in effect within the window, per enterprise."""
    conn = session.connection()
    where, note = stats.escalation_filter(conn)
    if where is None:
        return None, "“约谈或曝光”规则未计入：" + note
    cols = {c["name"] for c in inspect(conn).get_columns("escalation_step")}
    step_cols = [c for c in STEP_COLUMNS if c in cols]
    if not step_cols:
        return None, "escalation_step 表缺少步骤列：“约谈或曝光”规则未计入。"
    names = ", ".join(f":s{i}" for i in range(len(steps)))
    match = " OR ".join(f"x.{c} IN ({names})" for c in step_cols)
    params: dict[str, Any] = {f"s{i}": s for i, s in enumerate(steps)}
    params["t"] = stats.bind_time(conn, stats.cutoff(as_of))
    time_col = next((c for c in stats.ESCALATION_TIME_COLUMNS if c in cols), None)
    window = ""
    if time_col:
        window = f"AND x.{time_col} > :a"
        params["a"] = stats.bind_time(conn, stats.cutoff(since - timedelta(days=1)))
    sql = text(f"""SELECT h.enterprise_id, COUNT(*) FROM escalation_step x JOIN hazard h ON h.id = x.hazard_id
                   WHERE ({match}) AND {where} {window} GROUP BY h.enterprise_id""")
    return {int(e): int(n) for e, n in conn.execute(sql, params).all()}, note


def compute(session: Session, month: str, rules: dict[str, list[dict[str, Any]]] | None = None,
            inspection_config: inspections.InspectionConfig | None = None) -> RedBlack:
    rules = rules or load_rules()
    _, as_of = month_bounds(month)
    notes: list[str] = []
    regions = {r.code: r.name for r in session.exec(select(Region)).all()}
    ents = session.exec(select(Enterprise).order_by(Enterprise.id)).all()
    black: dict[int, list[str]] = {}
    red_ok: dict[int, list[str | None]] = {e.id: [] for e in ents}  # None: a red rule not met
    closure = stats.enterprise_closure(session, as_of)

    memo: dict[int, dict[int, list[inspections.Gap]]] = {}

    def gaps_since(window: int) -> dict[int, list[inspections.Gap]]:
        # The black and the red rule usually ask for the same window: walk the periods once.
        if window not in memo:
            out: dict[int, list[inspections.Gap]] = {}
            for g in inspections.missing(session, as_of, since=months_back(as_of, window), config=inspection_config):
                out.setdefault(g.enterprise_id, []).append(g)
            memo[window] = out
        return memo[window]

    for rule in rules.get("black", []):
        window = int(rule.get("window_months", 12))
        since = months_back(as_of, window)
        if rule["rule"] == "repeated_rejections":
            threshold = int(rule.get("threshold", 2))
            for eid, n in _rejections(session, since, as_of).items():
                if n >= threshold:
                    black.setdefault(eid, []).append(f"{rule['name']}（近{window}个月驳回 {n} 次）")
        elif rule["rule"] == "missed_inspections":
            threshold = int(rule.get("threshold", 1))
            for eid, gaps in gaps_since(window).items():
                if len(gaps) >= threshold:
                    black.setdefault(eid, []).append(
                        f"{rule['name']}（{'、'.join(g.period_name for g in gaps)}）")
        elif rule["rule"] == "escalated":
            counts, note = _escalated(session, list(rule.get("steps") or []), since, as_of)
            if note:
                notes.append(note)
            for eid, n in (counts or {}).items():
                black.setdefault(eid, []).append(f"{rule['name']}（{n} 次）")

    for rule in rules.get("red", []):
        if rule["rule"] == "all_closed_on_time":
            least = int(rule.get("min_hazards", 1))
            for e in ents:
                n, on_time = closure.get(e.id, (0, 0))
                if n >= least and on_time == n:
                    red_ok[e.id].append(f"{rule['name']}（{n} 条）")
                else:
                    red_ok[e.id].append(None)  # type: ignore[arg-type]  (a red rule not met)
        elif rule["rule"] == "inspections_done":
            gaps = gaps_since(int(rule.get("window_months", 12)))
            for e in ents:
                red_ok[e.id].append(rule["name"] if e.id not in gaps else None)  # type: ignore[arg-type]

    by_id = {e.id: e for e in ents}
    black_list = [Entry(eid, by_id[eid].name, regions.get(by_id[eid].region_code, ""), reasons)
                  for eid, reasons in sorted(black.items()) if eid in by_id]
    red_list = [Entry(e.id, e.name, regions.get(e.region_code, ""), [r for r in red_ok[e.id] if r])
                for e in ents
                if rules.get("red") and e.id not in black and all(r is not None for r in red_ok[e.id])]
    return RedBlack(month, as_of, red_list, black_list, notes)

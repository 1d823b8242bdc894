"""The action-plan dispatch policy (config/plans.yaml): the monthly report day, the sub-plan
filing date and the plan-work ladder 督促提醒 → 函告 → 通报 → 约谈 → 曝光 → 追责问责移交.

Found and read like the other ladders' files (config.policyfile: $HAZARDLOOP_PLANS_POLICY,
$HAZARDLOOP_HOME/plans.yaml, else the packaged default); a bad file is refused with its
line and the reason (PlansPolicyError; callers above models turn it into a ValidationError).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from hazardloop.config import labels, policyfile

DEFAULT_FILE = Path(__file__).with_name("plans.yaml")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_MMDD = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,15}$")


class PlansPolicyError(ValueError):
    """A plans policy file that cannot be used; str() names the file, the line and the reason."""


@dataclass(frozen=True)
class PlanStep:
    code: str
    name: str
    kind: str
    doc_type: str
    approval: bool = False


@dataclass(frozen=True)
class PlansPolicy:
    start: str
    report_day: int
    filing_due: str  # MM-DD
    consecutive: int
    steps: tuple[PlanStep, ...]
    source: str = ""
    filing_remind: int = 3  # working days before filing_due a unit not yet filed is reminded (0: never)

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "report_day": self.report_day, "filing_due": self.filing_due,
                "filing_remind": self.filing_remind, "consecutive": self.consecutive,
                "steps": [asdict(s) for s in self.steps]}

    @cached_property
    def version(self) -> str:
        body = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()

    def filing_due_on(self, year: int) -> date:
        month, day = (int(x) for x in self.filing_due.split("-"))
        return date(year, month, day)

    def report_due_on(self, month: str) -> date:
        y, m = (int(x) for x in month.split("-"))
        return date(y, m, self.report_day)

    def step(self, code: str) -> PlanStep:
        for s in self.steps:
            if s.code == code:
                return s
        raise KeyError(code)

    def steps_due(self, streak: int) -> tuple[PlanStep, ...]:
        if streak < self.consecutive:
            return ()
        return self.steps[: streak - self.consecutive + 1]


def parse_policy(text: str, source: str = "<text>") -> PlansPolicy:
    chk = policyfile.LineChecker(source, "计划调度规则文件", PlansPolicyError)
    root = chk.compose(text)
    top = chk.mapping(root, "文件顶层", {"start", "report_day", "filing_due", "filing_remind", "consecutive", "steps"})
    chk.need(root, top, ("start", "report_day", "filing_due", "consecutive", "steps"), "文件")

    def scalar(key: str) -> Any:
        return chk.value(top[key][1], key)

    start = str(scalar("start") or "")
    if not _MONTH.match(start):
        chk.fail(top["start"][1], f"start 应为月份 YYYY-MM，收到 {start!r}。")
    day = scalar("report_day")
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 28:
        chk.fail(top["report_day"][1], f"report_day 应为 1–28 之间的整数（每月都有的日子），收到 {day!r}。")
    due = str(scalar("filing_due") or "")
    if not _MMDD.match(due):
        chk.fail(top["filing_due"][1], f"filing_due 应为 MM-DD，收到 {due!r}。")
    # Optional, so a local plans.yaml written before the key existed keeps working (default 3).
    remind = scalar("filing_remind") if "filing_remind" in top else 3
    if isinstance(remind, bool) or not isinstance(remind, int) or not 0 <= remind <= 20:
        chk.fail(top["filing_remind"][1], f"filing_remind 应为 0–20 之间的整数（报送期限前几个工作日提醒，0 为不提醒），"
                                          f"收到 {remind!r}。")
    consecutive = scalar("consecutive")
    if isinstance(consecutive, bool) or not isinstance(consecutive, int) or not 1 <= consecutive <= 12:
        chk.fail(top["consecutive"][1], f"consecutive 应为 1–12 之间的整数，收到 {consecutive!r}。")
    node = top["steps"][1]
    if not hasattr(node, "value") or not isinstance(node.value, list) or not node.value:
        chk.fail(node, "steps 应为非空列表。")
    steps: list[PlanStep] = []
    for item in node.value:
        m = chk.mapping(item, "督办步骤", {"code", "name", "kind", "doc_type", "approval"})
        chk.need(item, m, ("code", "name", "kind", "doc_type"), "督办步骤")
        code = str(chk.value(m["code"][1], "code") or "")
        if not _CODE.match(code) or any(s.code == code for s in steps):
            chk.fail(m["code"][1], f"步骤代码 {code!r} 重复或不合规（小写字母、数字、下划线）。")
        kind = str(chk.value(m["kind"][1], "kind") or "")
        if kind not in labels.PLAN_STEP_KINDS:
            chk.fail(m["kind"][1], f"kind {kind!r} 未知；可用：{'、'.join(labels.PLAN_STEP_KINDS)}。")
        name = str(chk.value(m["name"][1], "name") or "").strip()
        if not name:
            chk.fail(m["name"][1], "name 不能为空。")
        doc_type = str(chk.value(m["doc_type"][1], "doc_type") or "")
        if not re.match(r"^[\u4e00-\u9fff]{1,4}$", doc_type):
            chk.fail(m["doc_type"][1], f"doc_type {doc_type!r} 应为 1–4 个汉字。")
        approval = chk.value(m["approval"][1], "approval") if "approval" in m else False
        if not isinstance(approval, bool):
            chk.fail(m["approval"][1], f"approval 应为 true 或 false，收到 {approval!r}。")
        steps.append(PlanStep(code, name, kind, doc_type, approval))
    return PlansPolicy(start, day, due, consecutive, tuple(steps), source, remind)


def policy_path(path: str | Path | None = None) -> Path:
    return policyfile.policy_path(path, "HAZARDLOOP_PLANS_POLICY", "plans.yaml", DEFAULT_FILE)


def load_policy(path: str | Path | None = None) -> PlansPolicy:
    p = policy_path(path)
    return parse_policy(policyfile.read(p, "计划调度规则文件", PlansPolicyError), str(p))

"""The lagging-unit policy (落后单位督办): monthly thresholds for regions and departments
and the unit ladder 函告 → 通报 → 约谈 → 曝光.

The file (default: config/lagging.yaml next to this module; overridden by
$HAZARDLOOP_LAGGING_POLICY or $HAZARDLOOP_HOME/lagging.yaml) is checked at load;
a bad file is refused with its line number and the reason in Chinese
(LaggingPolicyError; config may not import models, so callers in reports/ turn it
into a ValidationError for the CLI).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from hazardloop.config import labels, policyfile

DEFAULT_FILE = Path(__file__).with_name("lagging.yaml")
TEMPLATES = policyfile.DOCUMENT_TEMPLATES

# metric -> (Chinese name, unit, direction allowed: "max" or "min")
METRICS = {
    "overdue_share": ("逾期隐患占未销号隐患比例", "%", "max"),
    "closure_rate": ("已确认隐患整改销号率", "%", "min"),
    "stock_open": ("2023年及以前存量隐患未销号数", "项", "max"),
}
UNIT_KINDS = labels.UNIT_KINDS
STEP_KINDS = labels.LAG_STEP_KINDS
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,15}$")


class LaggingPolicyError(ValueError):
    """A lagging policy file that cannot be used; str() names the file, the line and the reason."""


@dataclass(frozen=True)
class Threshold:
    metric: str
    op: str  # "max": the value may not exceed limit; "min": it may not fall below
    limit: float
    from_month: str | None = None  # 'YYYY-MM': counted from that month on

    @property
    def name(self) -> str:
        return METRICS[self.metric][0]

    @property
    def unit(self) -> str:
        return METRICS[self.metric][1]

    def applies(self, month: str) -> bool:
        return self.from_month is None or month >= self.from_month

    def missed(self, value: float | None) -> bool:
        """None means "not applicable" (no base to compute a share on): never missed."""
        if value is None:
            return False
        return value > self.limit if self.op == "max" else value < self.limit

    def describe(self) -> str:
        return f"{self.name}{'≤' if self.op == 'max' else '≥'}{_num(self.limit)}{self.unit}"


@dataclass(frozen=True)
class LagStep:
    code: str
    name: str
    kind: str
    template: str
    doc_type: str
    approval: bool = False


@dataclass(frozen=True)
class LaggingPolicy:
    start: str
    consecutive: int
    units: tuple[str, ...]
    thresholds: tuple[Threshold, ...]
    steps: tuple[LagStep, ...]
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "consecutive": self.consecutive, "units": list(self.units),
                "thresholds": [asdict(t) for t in self.thresholds], "steps": [asdict(s) for s in self.steps]}

    @cached_property
    def version(self) -> str:
        body = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()

    def step(self, code: str) -> LagStep:
        for s in self.steps:
            if s.code == code:
                return s
        raise KeyError(code)

    def steps_due(self, streak: int) -> tuple[LagStep, ...]:
        """Every ladder step due after `streak` consecutive missed months (the first at
        `consecutive`, one more each further month; a missed run catches up)."""
        if streak < self.consecutive:
            return ()
        return self.steps[: streak - self.consecutive + 1]


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class _Checker(policyfile.LineChecker):
    def __init__(self, source: str) -> None:
        super().__init__(source, "落后单位督办规则文件", LaggingPolicyError)

    def text(self, node: yaml.Node, what: str) -> str:
        v = self.value(node, what)
        if v is None or isinstance(v, bool) or not str(v).strip():
            self.fail(node, f"{what}不能为空。")
        return str(v).strip()

    def integer(self, node: yaml.Node, what: str, low: int, high: int) -> int:
        v = self.value(node, what)
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(node, f"{what}应为整数，收到 {node.value!r}。")
        if not low <= v <= high:
            self.fail(node, f"{what}应在 {low}–{high} 之间，收到 {v}。")
        return v

    def number(self, node: yaml.Node, what: str) -> float:
        v = self.value(node, what)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            self.fail(node, f"{what}应为不小于 0 的数，收到 {node.value!r}。")
        return float(v)

    def month(self, node: yaml.Node, what: str) -> str:
        v = str(self.value(node, what) or "").strip()
        if not _MONTH.match(v):
            self.fail(node, f"{what}应为月份 YYYY-MM，收到 {node.value!r}。")
        return v


def parse_policy(text: str, source: str = "<text>") -> LaggingPolicy:
    chk = _Checker(source)
    root = chk.compose(text)
    top = chk.mapping(root, "文件顶层", {"start", "consecutive", "units", "thresholds", "steps"})
    chk.need(root, top, ("start", "consecutive", "thresholds", "steps"), "文件")
    start = chk.month(top["start"][1], "start")
    consecutive = chk.integer(top["consecutive"][1], "consecutive（连续未达标月数）", 1, 24)

    units: list[str] = list(UNIT_KINDS)
    if "units" in top:
        node = top["units"][1]
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            chk.fail(node, "units 应为非空列表，如 [region, department]。")
        units = []
        for item in node.value:
            u = chk.text(item, "units")
            if u not in UNIT_KINDS or u in units:
                chk.fail(item, f"单位类别 {u!r} 未知或重复；可用：{'、'.join(UNIT_KINDS)}。")
            units.append(u)

    node = top["thresholds"][1]
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        chk.fail(node, "thresholds 应为非空列表。")
    thresholds: list[Threshold] = []
    for item in node.value:
        m = chk.mapping(item, "考核指标", {"metric", "max", "min", "from"})
        chk.need(item, m, ("metric",), "考核指标")
        metric = chk.text(m["metric"][1], "metric")
        if metric not in METRICS:
            chk.fail(m["metric"][1], f"指标 {metric!r} 未知；可用：{'、'.join(METRICS)}。")
        if any(t.metric == metric for t in thresholds):
            chk.fail(m["metric"][1], f"指标 {metric} 重复。")
        direction = METRICS[metric][2]
        other = "min" if direction == "max" else "max"
        if other in m:
            chk.fail(m[other][0], f"指标 {metric} 只能给出 {direction}（{'上限' if direction == 'max' else '下限'}），"
                                  f"不能给出 {other}。")
        if direction not in m:
            chk.fail(item, f"指标 {metric} 缺少 {direction}。")
        limit = chk.number(m[direction][1], direction)
        if METRICS[metric][1] == "%" and limit > 100:
            chk.fail(m[direction][1], f"{direction} 是百分比，应在 0–100 之间，收到 {_num(limit)}。")
        frm = chk.month(m["from"][1], "from") if "from" in m else None
        thresholds.append(Threshold(metric, direction, limit, frm))

    node = top["steps"][1]
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        chk.fail(node, "steps 应为非空列表。")
    steps: list[LagStep] = []
    for item in node.value:
        m = chk.mapping(item, "督办步骤", {"code", "name", "kind", "template", "doc_type", "approval"})
        chk.need(item, m, ("code", "name", "kind", "template", "doc_type"), "督办步骤")
        code = chk.text(m["code"][1], "code")
        if not _CODE.match(code) or any(s.code == code for s in steps):
            chk.fail(m["code"][1], f"步骤代码 {code!r} 重复或不合规（小写字母、数字、下划线）。")
        kind = chk.text(m["kind"][1], "kind")
        if kind not in STEP_KINDS:
            chk.fail(m["kind"][1], f"kind {kind!r} 未知；可用：{'、'.join(STEP_KINDS)}。")
        template = chk.text(m["template"][1], "template")
        if not re.match(r"^doc_lag_[a-z0-9_]+$", template) or not (TEMPLATES / f"{template}.html.j2").is_file() \
                or not (TEMPLATES / f"{template}.txt.j2").is_file():
            chk.fail(m["template"][1], f"公文模板 {template!r} 不存在（应有 escalation/templates/"
                                       f"{template}.html.j2 和 .txt.j2，名称以 doc_lag_ 开头）。")
        doc_type = chk.text(m["doc_type"][1], "doc_type")
        if len(doc_type) > 4 or not re.match(r"^[\u4e00-\u9fff]+$", doc_type):
            chk.fail(m["doc_type"][1], f"doc_type {doc_type!r} 应为 1–4 个汉字。")
        approval = False
        if "approval" in m:
            approval = chk.value(m["approval"][1], "approval")
            if not isinstance(approval, bool):
                chk.fail(m["approval"][1], f"approval 应为 true 或 false，收到 {m['approval'][1].value!r}。")
        steps.append(LagStep(code, chk.text(m["name"][1], "name"), kind, template, doc_type, approval))
    for i, s in enumerate(steps[:-1]):
        if s.approval:
            chk.fail(node.value[i], f"须审批的步骤 {s.code} 只能是阶梯的最后一步（审批前不能升级）。")
    return LaggingPolicy(start, consecutive, tuple(units), tuple(thresholds), tuple(steps), source)


def policy_path(path: str | Path | None = None) -> Path:
    return policyfile.policy_path(path, "HAZARDLOOP_LAGGING_POLICY", "lagging.yaml", DEFAULT_FILE)


def load_policy(path: str | Path | None = None) -> LaggingPolicy:
    p = policy_path(path)
    return parse_policy(policyfile.read(p, "落后单位督办规则文件", LaggingPolicyError), str(p))


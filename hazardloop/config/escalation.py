"""The escalation policy (督查督办阶梯): loaded from a YAML file and checked.

The file (default: config/escalation.yaml next to this module; overridden by
$HAZARDLOOP_ESCALATION_POLICY or $HAZARDLOOP_HOME/escalation.yaml) lists the
ladder steps and the stage timeouts.  A bad file is refused at load with its
line number and the reason (PolicyError, Chinese message).

A policy has a version: the SHA-256 of its canonical JSON.  A deadline cycle
stores the version (and the policy body) when it starts, so a later edit of the
file changes only cycles that start afterwards.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml

from hazardloop.config import labels, policyfile

DEFAULT_FILE = Path(__file__).with_name("escalation.yaml")
TEMPLATES = policyfile.DOCUMENT_TEMPLATES

KINDS = {k: v for k, v in labels.ESCALATION_KINDS.items() if k != "timeout"}  # a policy step's kinds
# Must equal notifications.recipients.RECIPIENT_ROLES (a test checks it; config may not import upwards).
ROLES = ("principal", "controller", "safety_manager", "township", "department", "committee")
STAGES = labels.STAGES
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class PolicyError(ValueError):
    """A policy file that cannot be used; str() names the file, the line and the reason."""


@dataclass(frozen=True)
class Step:
    code: str
    name: str
    offset: int  # working days from the deadline (negative: before it)
    kind: str
    template: str
    recipients: tuple[str, ...]
    copy: tuple[str, ...] = ()
    doc_type: str | None = None  # 发文字 in the 文号; None: no document (a reminder)
    approval: bool = False  # takes effect only after the committee office approves

    @property
    def has_document(self) -> bool:
        return self.doc_type is not None


# Kinds a stage-timeout step may be: a reminder (no document), a letter (提示函, 督办函), or the
# referral for enforcement (立案查处建议) -- "查出后拒不整改 … 参照事故调查处理" (¶13).
TIMEOUT_KINDS = {"reminder": "提醒", "letter": "函告", "referral": "立案查处建议"}
_TIMEOUT_CODE = re.compile(r"^[a-z][a-z0-9_]{0,15}$")


@dataclass(frozen=True)
class TimeoutStep:
    """One rung of a stage's own ladder: fires `workdays` working days after the hazard entered it."""

    code: str  # the row's step code: timeout_<state> for the first rung, timeout_<state>_<code> after
    name: str
    workdays: int
    kind: str = "reminder"
    recipients: tuple[str, ...] = ()
    copy: tuple[str, ...] = ()
    doc_type: str | None = None

    @property
    def has_document(self) -> bool:
        return self.doc_type is not None


@dataclass(frozen=True)
class StageTimeout:
    """A stage (found: not judged; listed: no plan) and its ladder, reminder → letters → referral."""

    state: str
    workdays: int  # of the first rung (kept: older snapshots and callers read it)
    name: str
    recipients: tuple[str, ...]
    steps: tuple[TimeoutStep, ...] = ()

    @property
    def code(self) -> str:
        return f"timeout_{self.state}"

    @property
    def ladder(self) -> tuple[TimeoutStep, ...]:
        """Every rung, the first being the reminder (name, workdays, recipients above)."""
        first = TimeoutStep(self.code, self.name, self.workdays, "reminder", self.recipients)
        return (first, *self.steps)


@dataclass(frozen=True)
class Policy:
    steps: tuple[Step, ...]
    stage_timeouts: tuple[StageTimeout, ...] = ()
    source: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"steps": [asdict(s) for s in self.steps],
                "stage_timeouts": [asdict(t) for t in self.stage_timeouts]}

    @cached_property
    def version(self) -> str:
        body = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()

    def step(self, code: str) -> Step:
        for s in self.steps:
            if s.code == code:
                return s
        raise KeyError(code)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "snapshot") -> Policy:
        steps = tuple(Step(**{**s, "recipients": tuple(s["recipients"]), "copy": tuple(s.get("copy", ()))})
                      for s in data["steps"])
        timeouts = tuple(StageTimeout(**{**t, "recipients": tuple(t["recipients"]), "steps": tuple(
            TimeoutStep(**{**x, "recipients": tuple(x["recipients"]), "copy": tuple(x.get("copy", ()))})
            for x in t.get("steps", ()))}) for t in data.get("stage_timeouts", ()))
        return cls(steps, timeouts, source)


# --- loading with line numbers ---------------------------------------------------------


class _Checker(policyfile.LineChecker):
    def __init__(self, source: str) -> None:
        super().__init__(source, "督办规则文件", PolicyError)

    def scalar(self, node: yaml.Node, what: str, kind: type) -> Any:
        value = self.value(node, what)
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            self.fail(node, f"{what}应为整数，收到 {node.value!r}。")
        if kind is bool and not isinstance(value, bool):
            self.fail(node, f"{what}应为 true 或 false，收到 {node.value!r}。")
        if kind is str and (value is None or not str(value).strip()):
            self.fail(node, f"{what}不能为空。")
        return str(value).strip() if kind is str else value

    def roles(self, node: yaml.Node, what: str, required: bool = True) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{what}应为角色列表，如 [principal, controller]。")
        out = []
        for item in node.value:
            role = self.scalar(item, what, str)
            if role not in ROLES:
                self.fail(item, f"{what}中的角色 {role!r} 未知；可用：{'、'.join(ROLES)}。")
            out.append(role)
        if required and not out:
            self.fail(node, f"{what}不能为空。")
        return tuple(out)


_STEP_KEYS = {"code", "name", "offset", "kind", "template", "recipients", "copy", "doc_type", "approval"}


def parse_policy(text: str, source: str = "<text>") -> Policy:
    """Check and build a policy; the same text is parsed once per process (the sweep and every
    new deadline load the policy in force)."""
    return _parse_cached(text, source)


@lru_cache(maxsize=16)
def _parse_cached(text: str, source: str) -> Policy:
    chk = _Checker(source)
    root = chk.compose(text)
    top = chk.mapping(root, "文件顶层")
    for key, (knode, _v) in top.items():
        if key not in ("steps", "stage_timeouts"):
            chk.fail(knode, f"未知的顶层键 {key!r}；可用：steps、stage_timeouts。")
    if "steps" not in top:
        chk.fail(root, "缺少 steps（督办阶梯）。")
    steps_node = top["steps"][1]
    if not isinstance(steps_node, yaml.SequenceNode) or not steps_node.value:
        chk.fail(steps_node, "steps 应为非空列表。")
    steps: list[Step] = []
    for item in steps_node.value:
        m = chk.mapping(item, "督办步骤")
        for key, (knode, _v) in m.items():
            if key not in _STEP_KEYS:
                chk.fail(knode, f"督办步骤中未知的键 {key!r}；可用：{'、'.join(sorted(_STEP_KEYS))}。")
        for key in ("code", "name", "offset", "kind", "template", "recipients"):
            if key not in m:
                chk.fail(item, f"督办步骤缺少 {key}。")
        code = chk.scalar(m["code"][1], "code", str)
        if not _CODE.match(code):
            chk.fail(m["code"][1], f"步骤代码 {code!r} 只能由小写字母、数字和下划线组成。")
        if code.startswith("timeout_") or any(s.code == code for s in steps):
            chk.fail(m["code"][1], f"步骤代码 {code!r} 重复或被保留。")
        offset = chk.scalar(m["offset"][1], "offset", int)
        if steps and offset <= steps[-1].offset:
            chk.fail(m["offset"][1], f"步骤 {code} 的 offset {offset} 必须大于上一步 {steps[-1].code} 的 "
                                     f"{steps[-1].offset}（按时间先后排列）。")
        if abs(offset) > 250:
            chk.fail(m["offset"][1], f"offset {offset} 超出范围（±250 个工作日）。")
        kind = chk.scalar(m["kind"][1], "kind", str)
        if kind not in KINDS:
            chk.fail(m["kind"][1], f"kind {kind!r} 未知；可用：{'、'.join(KINDS)}。")
        template = chk.scalar(m["template"][1], "template", str)
        if not re.match(r"^doc_[a-z0-9_]+$", template) or not (TEMPLATES / f"{template}.html.j2").is_file() \
                or not (TEMPLATES / f"{template}.txt.j2").is_file():
            chk.fail(m["template"][1], f"公文模板 {template!r} 不存在（应有 escalation/templates/"
                                       f"{template}.html.j2 和 .txt.j2）。")
        doc_type = chk.scalar(m["doc_type"][1], "doc_type", str) if "doc_type" in m else None
        if kind != "reminder" and doc_type is None:
            chk.fail(item, f"步骤 {code}（{kind}）须给出 doc_type（文号中的发文字，如 函）。")
        if doc_type is not None and (len(doc_type) > 4 or not re.match(r"^[\u4e00-\u9fff]+$", doc_type)):
            chk.fail(m["doc_type"][1], f"doc_type {doc_type!r} 应为 1–4 个汉字。")
        approval = chk.scalar(m["approval"][1], "approval", bool) if "approval" in m else False
        if approval and doc_type is None:
            chk.fail(m["approval"][1], "需要审批的步骤必须出具公文（给出 doc_type）。")
        steps.append(Step(
            code=code, name=chk.scalar(m["name"][1], "name", str), offset=offset, kind=kind, template=template,
            recipients=chk.roles(m["recipients"][1], "recipients"),
            copy=chk.roles(m["copy"][1], "copy", required=False) if "copy" in m else (),
            doc_type=doc_type, approval=approval,
        ))
    timeouts: list[StageTimeout] = []
    if "stage_timeouts" in top:
        node = top["stage_timeouts"][1]
        if not isinstance(node, yaml.SequenceNode):
            chk.fail(node, "stage_timeouts 应为列表。")
        for item in node.value:
            m = chk.mapping(item, "环节超时")
            for key, (knode, _v) in m.items():
                if key not in ("state", "workdays", "name", "recipients", "then"):
                    chk.fail(knode, f"环节超时中未知的键 {key!r}；可用：state、workdays、name、recipients、then。")
            for key in ("state", "workdays", "name", "recipients"):
                if key not in m:
                    chk.fail(item, f"环节超时缺少 {key}。")
            state = chk.scalar(m["state"][1], "state", str)
            if state not in STAGES:
                chk.fail(m["state"][1], f"state {state!r} 不支持；可用：{'、'.join(STAGES)}。")
            if any(t.state == state for t in timeouts):
                chk.fail(m["state"][1], f"环节 {state} 重复。")
            days = chk.scalar(m["workdays"][1], "workdays", int)
            if not 1 <= days <= 250:
                chk.fail(m["workdays"][1], f"workdays 应在 1–250 之间，收到 {days}。")
            rungs = _timeout_steps(chk, state, days, m["then"][1]) if "then" in m else ()
            timeouts.append(StageTimeout(state, days, chk.scalar(m["name"][1], "name", str),
                                         chk.roles(m["recipients"][1], "recipients"), rungs))
    return Policy(tuple(steps), tuple(timeouts), source)


_RUNG_KEYS = {"code", "name", "workdays", "kind", "recipients", "copy", "doc_type"}


def _timeout_steps(chk: _Checker, state: str, first: int, node: yaml.Node) -> tuple[TimeoutStep, ...]:
    """The rungs after a stage's reminder (`then:`), each later than the one before."""
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        chk.fail(node, "then 应为非空列表（提醒之后的各级措施）。")
    out: list[TimeoutStep] = []
    last = first
    for item in node.value:
        m = chk.mapping(item, "环节超时措施", _RUNG_KEYS)
        chk.need(item, m, ("code", "name", "workdays", "kind", "recipients"), "环节超时措施")
        code = chk.scalar(m["code"][1], "code", str)
        if not _TIMEOUT_CODE.match(code) or any(x.code.endswith(f"_{code}") for x in out):
            chk.fail(m["code"][1], f"措施代码 {code!r} 应为 1–16 位小写字母、数字、下划线，且不重复。")
        days = chk.scalar(m["workdays"][1], "workdays", int)
        if not last < days <= 250:
            chk.fail(m["workdays"][1], f"措施 {code} 的 workdays {days} 必须大于上一级的 {last}（且不超过 250）。")
        kind = chk.scalar(m["kind"][1], "kind", str)
        if kind not in TIMEOUT_KINDS:
            chk.fail(m["kind"][1], f"kind {kind!r} 未知；可用：{'、'.join(TIMEOUT_KINDS)}。")
        doc_type = chk.scalar(m["doc_type"][1], "doc_type", str) if "doc_type" in m else None
        if kind != "reminder" and doc_type is None:
            chk.fail(item, f"措施 {code}（{kind}）须给出 doc_type（文号中的发文字，如 函）。")
        if doc_type is not None and (len(doc_type) > 4 or not re.match(r"^[\u4e00-\u9fff]+$", doc_type)):
            chk.fail(m["doc_type"][1], f"doc_type {doc_type!r} 应为 1–4 个汉字。")
        out.append(TimeoutStep(f"timeout_{state}_{code}", chk.scalar(m["name"][1], "name", str), days, kind,
                               chk.roles(m["recipients"][1], "recipients"),
                               chk.roles(m["copy"][1], "copy", required=False) if "copy" in m else (), doc_type))
        last = days
    return tuple(out)


def policy_path(path: str | Path | None = None) -> Path:
    return policyfile.policy_path(path, "HAZARDLOOP_ESCALATION_POLICY", "escalation.yaml", DEFAULT_FILE)


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy in force: read and checked every time (files are small; edits take effect at once)."""
    p = policy_path(path)
    return parse_policy(policyfile.read(p, "督办规则文件", PolicyError), str(p))

"""The five special campaigns (五项整治, policy ¶26–30): their checklists, inventory fields and
the problems' short ladder, from config/campaigns.yaml.

The file in force is the packaged campaigns.yaml, or $HAZARDLOOP_CAMPAIGNS, or
$HAZARDLOOP_HOME/campaigns.yaml (policyfile.policy_path), so the committee office edits
its own copy.  It is checked at load; a bad file is refused with its line and the reason
in Chinese (CampaignConfigError; config may not import models, callers turn it into a
ValidationError).

Each checklist item keeps the provenance mark written as its line's trailing comment
(原文¶N / 公开文本 / 重构): `Item.source` holds it, and `Item.to_check` flags the items the
office must still check against the original documents (重构, 未核).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from hazardloop.config import policyfile

DEFAULT_FILE = Path(__file__).with_name("campaigns.yaml")
LABEL = "专项整治配置文件"
FIELD_TYPES = {"text": "文本", "date": "日期", "int": "整数", "choice": "选项"}
STEP_KINDS = ("reminder", "letter")
STEP_TARGETS = ("responsible", "township", "department", "committee")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_PREFIX = re.compile(r"^[A-Z]{2,6}$")
_CAMPAIGN_KEYS = {"code", "name", "paragraph", "document", "related_documents", "text_summary", "scope_note",
                  "object_kind", "fields", "items", "code_prefix", "key", "title_field"}
_FIELD_KEYS = {"code", "label", "type", "required", "choices", "multiple"}
_ITEM_KEYS = {"no", "aspect", "text"}
_STEP_KEYS = {"code", "name", "kind", "offset", "to", "doc_type"}


class CampaignConfigError(ValueError):
    """A campaigns file that cannot be used; str() names the file, the line and the reason."""


@dataclass(frozen=True)
class FieldDef:
    code: str
    label: str
    type: str
    required: bool
    choices: tuple[str, ...] = ()
    multiple: bool = False


@dataclass(frozen=True)
class Item:
    no: int
    text: str
    aspect: str | None = None
    source: str = ""  # the line's provenance comment: 原文¶27 / 公开文本 / 重构（13号令） ...

    @property
    def to_check(self) -> bool:
        """Reconstructed or unverified: the office must check it against the original."""
        return any(w in self.source for w in ("重构", "未核", "他市")) or not self.source


@dataclass(frozen=True)
class Campaign:
    code: str
    name: str
    paragraph: int
    document: str
    summary: str
    object_kind: str
    object_name: str
    code_prefix: str
    key: tuple[str, ...]
    title_field: str
    fields: tuple[FieldDef, ...]
    items: tuple[Item, ...]

    def field(self, code: str) -> FieldDef:
        for f in self.fields:
            if f.code == code:
                return f
        raise KeyError(code)

    def item(self, no: int) -> Item:
        for it in self.items:
            if it.no == no:
                return it
        raise KeyError(no)

    @property
    def field_codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.fields)


@dataclass(frozen=True)
class ProblemStep:
    code: str
    name: str
    kind: str  # reminder: a notice; letter: a numbered 公文 (文号 of doc_type)
    offset: int  # working days from the deadline (negative: before it)
    to: tuple[str, ...]
    doc_type: str | None = None


@dataclass(frozen=True)
class CampaignConfig:
    campaigns: tuple[Campaign, ...]
    default_days: int
    steps: tuple[ProblemStep, ...]
    source: str = ""
    by_code: dict[str, Campaign] = field(default_factory=dict, compare=False)

    def get(self, code: str) -> Campaign:
        try:
            return self.by_code[code]
        except KeyError:
            names = "、".join(f"{c.code}（{c.name}）" for c in self.campaigns)
            raise CampaignConfigError(f"没有专项整治 {code}；可用：{names}。") from None

    def by_prefix(self, prefix: str) -> Campaign | None:
        return next((c for c in self.campaigns if c.code_prefix == prefix), None)


class _Checker(policyfile.LineChecker):
    def __init__(self, source: str) -> None:
        super().__init__(source, LABEL, CampaignConfigError)

    def text(self, node: yaml.Node, what: str, *, required: bool = True) -> str:
        value = self.value(node, what)
        if value is None or not str(value).strip():
            if required:
                self.fail(node, f"{what}不能为空。")
            return ""
        return str(value).strip()

    def seq(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{what}应为列表。")
        return list(node.value)


def _comment(lines: list[str], node: yaml.Node) -> str:
    """The trailing comment on the line where `node` ends (its provenance mark)."""
    line = lines[node.end_mark.line] if node.end_mark.line < len(lines) else ""
    # The comment starts at the first '#' after the node's closing brace.
    rest = line[node.end_mark.column:] if node.end_mark.line == node.start_mark.line else line
    _, hash_, comment = rest.partition("#")
    return comment.strip() if hash_ else ""


def parse(text: str, source: str = "") -> CampaignConfig:
    c = _Checker(source)
    root = c.compose(text)
    lines = text.splitlines()
    top = c.mapping(root, "文件顶层", {"campaigns", "problem_rules"})
    c.need(root, top, ("campaigns", "problem_rules"), "文件顶层")
    rules = c.mapping(top["problem_rules"][1], "problem_rules", {"default_days", "steps"})
    c.need(top["problem_rules"][1], rules, ("default_days", "steps"), "problem_rules")
    days = c.value(rules["default_days"][1], "default_days")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365:
        c.fail(rules["default_days"][1], f"default_days 应为 1–365 之间的整数，收到 {days!r}。")
    steps: list[ProblemStep] = []
    for node in c.seq(rules["steps"][1], "problem_rules.steps"):
        m = c.mapping(node, "督办步骤", _STEP_KEYS)
        c.need(node, m, ("code", "name", "kind", "offset", "to"), "督办步骤")
        code = c.text(m["code"][1], "步骤代码")
        if not _CODE.match(code):
            c.fail(m["code"][1], f"步骤代码 {code!r} 应为小写英文字母、数字和下划线。")
        if code in {s.code for s in steps}:
            c.fail(m["code"][1], f"步骤代码 {code} 重复。")
        kind = c.text(m["kind"][1], "步骤类别")
        if kind not in STEP_KINDS:
            c.fail(m["kind"][1], f"步骤类别应为 {'、'.join(STEP_KINDS)} 之一，收到 {kind!r}。")
        offset = c.value(m["offset"][1], "offset")
        if not isinstance(offset, int) or isinstance(offset, bool) or not -30 <= offset <= 120:
            c.fail(m["offset"][1], f"offset 应为 -30–120 之间的整数（工作日），收到 {offset!r}。")
        if steps and offset <= steps[-1].offset:
            c.fail(m["offset"][1], "各步骤的 offset 应逐级增大。")
        to = tuple(str(c.text(n, "通知对象")) for n in c.seq(m["to"][1], "to"))
        bad = [t for t in to if t not in STEP_TARGETS]
        if bad or not to:
            c.fail(m["to"][1], f"通知对象应为 {'、'.join(STEP_TARGETS)} 中的一个或多个，收到 {'、'.join(bad) or '空'}。")
        doc_type = c.text(m["doc_type"][1], "doc_type") if "doc_type" in m else None
        if kind == "letter" and not doc_type:
            c.fail(node, "函件类步骤（letter）须有 doc_type（文号中的发文字，如 督）。")
        steps.append(ProblemStep(code, c.text(m["name"][1], "步骤名称"), kind, offset, to, doc_type))

    campaigns: list[Campaign] = []
    for node in c.seq(top["campaigns"][1], "campaigns"):
        m = c.mapping(node, "专项整治", _CAMPAIGN_KEYS)
        c.need(node, m, ("code", "name", "paragraph", "object_kind", "fields", "items", "code_prefix", "key",
                         "title_field"), "专项整治")
        code = c.text(m["code"][1], "专项整治代码")
        if not _CODE.match(code):
            c.fail(m["code"][1], f"专项整治代码 {code!r} 应为小写英文字母、数字和下划线。")
        if code in {x.code for x in campaigns}:
            c.fail(m["code"][1], f"专项整治代码 {code} 重复。")
        para = c.value(m["paragraph"][1], "paragraph")
        if not isinstance(para, int) or isinstance(para, bool) or not 1 <= para <= 30:
            c.fail(m["paragraph"][1], f"paragraph 应为实施方案的段落号 1–30，收到 {para!r}。")
        prefix = c.text(m["code_prefix"][1], "赋码前缀")
        if not _PREFIX.match(prefix):
            c.fail(m["code_prefix"][1], f"赋码前缀 {prefix!r} 应为 2–6 个大写英文字母。")
        if prefix in {x.code_prefix for x in campaigns}:
            c.fail(m["code_prefix"][1], f"赋码前缀 {prefix} 已被另一项专项整治使用。")
        kind = c.mapping(m["object_kind"][1], "object_kind", {"code", "name"})
        c.need(m["object_kind"][1], kind, ("code", "name"), "object_kind")
        fields: list[FieldDef] = []
        for fnode in c.seq(m["fields"][1], "fields"):
            f = c.mapping(fnode, "台账字段", _FIELD_KEYS)
            c.need(fnode, f, ("code", "label", "type", "required"), "台账字段")
            fcode = c.text(f["code"][1], "字段代码")
            if not _CODE.match(fcode):
                c.fail(f["code"][1], f"字段代码 {fcode!r} 应为小写英文字母、数字和下划线。")
            if fcode in {x.code for x in fields}:
                c.fail(f["code"][1], f"字段代码 {fcode} 重复。")
            ftype = c.text(f["type"][1], "字段类型")
            if ftype not in FIELD_TYPES:
                c.fail(f["type"][1], f"字段类型应为 {'、'.join(FIELD_TYPES)} 之一，收到 {ftype!r}。")
            req = c.value(f["required"][1], "required")
            if not isinstance(req, bool):
                c.fail(f["required"][1], f"required 应为 true 或 false，收到 {req!r}。")
            multiple = c.value(f["multiple"][1], "multiple") if "multiple" in f else False
            if not isinstance(multiple, bool):
                c.fail(f["multiple"][1], f"multiple 应为 true 或 false，收到 {multiple!r}。")
            choices: tuple[str, ...] = ()
            if ftype == "choice":
                if "choices" not in f:
                    c.fail(fnode, f"选项字段 {fcode} 缺少 choices。")
                choices = tuple(c.text(n, "选项") for n in c.seq(f["choices"][1], "choices"))
                if len(set(choices)) != len(choices) or not choices:
                    c.fail(f["choices"][1], f"字段 {fcode} 的选项为空或有重复。")
            elif "choices" in f:
                c.fail(f["choices"][1], f"只有 choice 类型的字段可以有 choices（{fcode} 是 {ftype}）。")
            fields.append(FieldDef(fcode, c.text(f["label"][1], "字段名称"), ftype, req, choices, multiple))
        codes = {f.code for f in fields}
        if "region" not in codes:
            c.fail(m["fields"][1], "台账字段中须有 region（所属镇街区）：底数和统计按镇街区计。")
        key = tuple(c.text(n, "识别字段") for n in c.seq(m["key"][1], "key"))
        unknown = [k for k in key if k not in codes]
        if not key or unknown:
            c.fail(m["key"][1], f"key 应列出本项台账字段中的识别字段，未知：{'、'.join(unknown) or '（空）'}。")
        title = c.text(m["title_field"][1], "title_field")
        if title not in codes:
            c.fail(m["title_field"][1], f"title_field {title} 不是本项台账字段。")
        items: list[Item] = []
        for inode in c.seq(m["items"][1], "items"):
            it = c.mapping(inode, "整治重点", _ITEM_KEYS)
            c.need(inode, it, ("no", "text"), "整治重点")
            no = c.value(it["no"][1], "序号")
            if not isinstance(no, int) or isinstance(no, bool):
                c.fail(it["no"][1], f"整治重点序号应为整数（请写成 \"no\": 1，不加引号的 no 会被读成 false），收到 {no!r}。")
            if no != len(items) + 1:
                c.fail(it["no"][1], f"整治重点应从 1 起连续编号，此处应为 {len(items) + 1}，收到 {no}。")
            aspect = c.text(it["aspect"][1], "aspect") if "aspect" in it else None
            items.append(Item(no, c.text(it["text"][1], "整治重点内容"), aspect, _comment(lines, inode)))
        if not items:
            c.fail(m["items"][1], "整治重点清单不能为空。")
        campaigns.append(Campaign(
            code=code, name=c.text(m["name"][1], "专项整治名称"), paragraph=para,
            document=c.text(m["document"][1], "document", required=False) if "document" in m else "",
            summary=c.text(m["text_summary"][1], "text_summary", required=False) if "text_summary" in m else "",
            object_kind=c.text(kind["code"][1], "对象类别代码"), object_name=c.text(kind["name"][1], "对象类别名称"),
            code_prefix=prefix, key=key, title_field=title, fields=tuple(fields), items=tuple(items)))
    if not campaigns:
        c.fail(top["campaigns"][1], "至少应有一项专项整治。")
    return CampaignConfig(tuple(campaigns), days, tuple(steps), source,
                          by_code={x.code: x for x in campaigns})


def load(path: str | Path | None = None) -> CampaignConfig:
    """The campaigns file in force (cached per path and modification time)."""
    p = policyfile.policy_path(path, "HAZARDLOOP_CAMPAIGNS", "campaigns.yaml", DEFAULT_FILE)
    try:
        mtime = p.stat().st_mtime_ns
    except OSError:
        mtime = 0
    return _load(str(p), mtime)


@lru_cache(maxsize=8)
def _load(path: str, mtime: int) -> CampaignConfig:
    text = policyfile.read(Path(path), LABEL, CampaignConfigError)
    return parse(text, path)


def describe(cfg: CampaignConfig) -> dict[str, Any]:
    """For --json and the docs: every campaign with its items and their provenance."""
    return {"default_days": cfg.default_days,
            "steps": [s.__dict__ for s in cfg.steps],
            "campaigns": [{"code": x.code, "name": x.name, "paragraph": x.paragraph, "document": x.document,
                           "object_kind": x.object_kind, "object_name": x.object_name, "code_prefix": x.code_prefix,
                           "fields": [f.__dict__ for f in x.fields],
                           "items": [{"no": i.no, "aspect": i.aspect, "text": i.text, "source": i.source,
                                      "to_check": i.to_check} for i in x.items]} for x in cfg.campaigns]}

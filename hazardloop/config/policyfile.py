"""Policy files in YAML, refused with the line at fault ("第 N 行：原因").

What the escalation ladder (escalation.yaml) and the lagging-unit ladder
(lagging.yaml) share: where the file in force is found, reading it, composing it
into nodes that keep their line numbers, and checking those nodes.  Each policy
names itself (`label`, e.g. 督办规则文件) and its own error class.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

# The 公文 templates a ladder's steps may name (rendered by hazardloop.escalation.documents).
DOCUMENT_TEMPLATES = Path(__file__).resolve().parent.parent / "escalation" / "templates"


def policy_path(path: str | Path | None, env: str, filename: str, default: Path) -> Path:
    """The file given, else the one named by the environment variable, else `filename` in the
    data directory when there is one, else the packaged default."""
    if path:
        return Path(path)
    named = os.environ.get(env)
    if named:
        return Path(named)
    from hazardloop.config.settings import get_settings

    local = get_settings().data_dir / filename
    return local if local.is_file() else default


def read(path: Path, label: str, error: type[Exception]) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"无法读取{label} {path}：{exc.strerror}") from None


class LineChecker:
    """Checks on composed YAML nodes; every refusal names the node's line."""

    def __init__(self, source: str, label: str, error: type[Exception]) -> None:
        self.source, self.label, self.error = source, label, error

    def fail(self, node: yaml.Node | None, reason: str) -> None:
        line = f"第 {node.start_mark.line + 1} 行：" if node is not None else ""
        raise self.error(f"{self.label} {self.source} {line}{reason}")

    def compose(self, text: str) -> yaml.Node:
        """The document's root node; a YAML syntax error or an empty file is refused."""
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = f"第 {mark.line + 1} 行：" if mark else ""
            raise self.error(f"{self.label} {self.source} {line}YAML 格式错误（{exc.problem}）。") from None
        if root is None:
            raise self.error(f"{self.label} {self.source} 是空的。")
        return root

    def mapping(self, node: yaml.Node, what: str, allowed: set[str] | None = None
                ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what}应为键值映射。")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            if key.value in out:
                self.fail(key, f"{what}中键 {key.value} 重复。")
            if allowed is not None and key.value not in allowed:
                self.fail(key, f"{what}中未知的键 {key.value!r}；可用：{'、'.join(sorted(allowed))}。")
            out[key.value] = (key, value)
        return out

    def need(self, node: yaml.Node, m: dict, keys: tuple[str, ...], what: str) -> None:
        for key in keys:
            if key not in m:
                self.fail(node, f"{what}缺少 {key}。")

    def value(self, node: yaml.Node, what: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, f"{what}应为单个值。")
        return yaml.safe_load(yaml.serialize(node))

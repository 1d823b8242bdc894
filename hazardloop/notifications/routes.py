"""Routing config: which channels (Apprise tags) reach a recipient, and the URL of each.

The config (hazardloop/config/routes.yaml, or $HAZARDLOOP_ROUTES, or
$HAZARDLOOP_HOME/routes.yaml) names channels with a URL template.  Two kinds of
placeholder: `${ENV}` is read from the environment only when a message is sent
(secrets never reach the database, the logs or an error message), `{email}`-style
fields come from the recipient and are stored on the outbox row as its address.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from hazardloop.config.settings import get_settings
from hazardloop.errors import ValidationError

PACKAGED = Path(__file__).resolve().parent.parent / "config" / "routes.yaml"
ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
FIELD_RE = re.compile(r"\{(email|phone|name|username|key|home)\}")
CONTACT_FIELDS = ("email", "phone")
DEFAULT_POLICY: dict[str, Any] = {
    "max_attempts": 6, "backoff_seconds": 60, "backoff_max_seconds": 3600, "jitter": 0.25,
    "lease_seconds": 300, "batch_size": 100, "send_timeout": 30, "digest": False,
}
UNDELIVERABLE = "none"  # the channel of a row kept for a person with no reachable channel


@dataclass(frozen=True)
class Channel:
    tag: str
    url: str
    needs: str | None = None
    requires_env: tuple[str, ...] = ()

    def enabled(self) -> bool:
        return all(os.environ.get(name) for name in self.requires_env)


@dataclass
class Routes:
    path: Path
    policy: dict[str, Any]
    channels: dict[str, Channel]
    roles: dict[str, dict[str, Any]]
    people: dict[str, dict[str, Any]]
    events: dict[str, list[str]]
    env_names: set[str] = field(default_factory=set)

    # --- who is reached how -------------------------------------------------

    def person_rule(self, recipient_key: str, username: str | None, role: str, name: str) -> dict[str, Any]:
        for k in (username, recipient_key, f"{role}:{name}"):
            if k and k in self.people:
                return self.people[k]
        return {}

    def role_rule(self, role: str) -> dict[str, Any]:
        return self.roles.get(role) or self.roles.get("*") or {}

    def targets(self, recipient: Any) -> list[tuple[str, str | None]]:
        """(channel tag, address) for each enabled channel the recipient can be reached on."""
        person = self.person_rule(recipient_key(recipient), recipient.username, recipient.role, recipient.name)
        tags = list(person.get("channels") or ([] if person.get("urls") else self.role_rule(recipient.role)
                                                .get("channels", [])))
        out: list[tuple[str, str | None]] = []
        for tag in (person.get("urls") or {}):
            out.append((tag, None))
        for tag in tags:
            ch = self.channels.get(tag)
            if ch is None or not ch.enabled() or any(t == tag for t, _ in out):
                continue
            address = getattr(recipient, ch.needs) if ch.needs else None
            if ch.needs and not address:
                continue
            out.append((tag, address))
        return out

    def digest_for(self, recipient_key_: str, role: str, name: str) -> bool:
        person = self.person_rule(recipient_key_, None, role, name)
        if "digest" in person:
            return bool(person["digest"])
        rule = self.role_rule(role)
        return bool(rule.get("digest", self.policy["digest"]))

    # --- the URL, at send time ----------------------------------------------

    def template_for(self, channel: str, recipient_key_: str, role: str, name: str) -> str:
        person = self.person_rule(recipient_key_, None, role, name)
        url = (person.get("urls") or {}).get(channel)
        if url:
            return url
        ch = self.channels.get(channel)
        if ch is None:
            raise ValidationError(f"路由配置中没有渠道 {channel}（{self.path}）。")
        return ch.url

    def target(self, channel: str, *, recipient_key_: str, role: str, name: str, address: str | None) -> str:
        """The URL with the recipient's fields filled in and ${ENV} still unexpanded
        (this string identifies a destination and is safe to show and to group by)."""
        template = self.template_for(channel, recipient_key_, role, name)
        values = {"email": address or "", "phone": address or "", "name": name, "username": recipient_key_,
                  "key": recipient_key_, "home": _home() if "{home}" in template else ""}

        def fill(m: re.Match[str]) -> str:
            value = values[m.group(1)]
            return value if m.group(1) == "home" else quote(value, safe="@+")
        return FIELD_RE.sub(fill, template)

    def expand(self, target: str) -> str:
        """Put the environment's values in: the real URL, never stored or logged."""
        def env(m: re.Match[str]) -> str:
            value = os.environ.get(m.group(1))
            if value is None or value == "":
                if m.group(2) is not None:
                    return m.group(2)
                raise ValidationError(f"环境变量 {m.group(1)} 未设置（路由配置 {self.path} 需要它）。")
            return value
        return ENV_RE.sub(env, target)

    def secrets(self) -> list[str]:
        """The values of every environment variable the config refers to (for scrubbing)."""
        values = [os.environ.get(n) for n in self.env_names]
        return sorted({v for v in values if v and len(v) >= 3}, key=len, reverse=True)

    def scrub(self, text: str | None) -> str | None:
        if not text:
            return text
        for secret in self.secrets():
            text = text.replace(secret, "***").replace(quote(secret, safe=""), "***")
        return text


def _home() -> str:
    return str(get_settings().data_dir)


def recipient_key(recipient: Any) -> str:
    """A person's stable identity: the username, else role:name@enterprise."""
    if recipient.username:
        return recipient.username
    ent = getattr(recipient, "enterprise_id", None)
    return f"{recipient.role}:{recipient.name}" + (f"@e{ent}" if ent else "")


def routes_path() -> Path:
    env = os.environ.get("HAZARDLOOP_ROUTES")
    if env:
        return Path(env)
    home = get_settings().data_dir / "routes.yaml"
    return home if home.is_file() else PACKAGED


_cache: dict[tuple[str, float], Routes] = {}


def load_routes(path: str | Path | None = None) -> Routes:
    """Parse and check the routing config (cached by path and modification time)."""
    p = Path(path) if path else routes_path()
    try:
        stamp = p.stat().st_mtime
    except FileNotFoundError as exc:
        raise ValidationError(f"路由配置文件不存在：{p}") from exc
    cached = _cache.get((str(p), stamp))
    if cached is not None:
        return cached
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValidationError(f"路由配置 {p} 不是合法的 YAML：{exc}") from exc
    routes = parse_routes(doc, p)
    _cache.clear()
    _cache[(str(p), stamp)] = routes
    return routes


def parse_routes(doc: dict[str, Any], path: Path) -> Routes:
    if not isinstance(doc, dict):
        raise ValidationError(f"路由配置 {path} 的顶层应是映射。")
    problems: list[str] = []
    policy = dict(DEFAULT_POLICY)
    for k, v in (doc.get("policy") or {}).items():
        if k not in DEFAULT_POLICY:
            problems.append(f"policy.{k} 不是已知的设置（可用：{'、'.join(DEFAULT_POLICY)}）")
        else:
            policy[k] = v
    channels: dict[str, Channel] = {}
    for tag, raw in (doc.get("channels") or {}).items():
        if not isinstance(raw, dict) or not raw.get("url"):
            problems.append(f"channels.{tag} 缺少 url")
            continue
        if tag == UNDELIVERABLE:
            problems.append(f"渠道名 {UNDELIVERABLE} 保留给无法送达的通知")
        needs = raw.get("needs")
        if needs is not None and needs not in CONTACT_FIELDS:
            problems.append(f"channels.{tag}.needs 应为 {' / '.join(CONTACT_FIELDS)}")
        channels[tag] = Channel(tag, str(raw["url"]), needs, tuple(raw.get("requires_env") or ()))
    roles = {str(k): (v or {}) for k, v in (doc.get("roles") or {}).items()}
    people = {str(k): (v or {}) for k, v in (doc.get("people") or {}).items()}
    for where, rules in (("roles", roles), ("people", people)):
        for k, rule in rules.items():
            for tag in rule.get("channels") or []:
                if tag not in channels:
                    problems.append(f"{where}.{k} 引用了未定义的渠道 {tag}")
    events = {str(k): list(v or []) for k, v in (doc.get("events") or {}).items()}
    if problems:
        raise ValidationError(f"路由配置 {path} 有误：" + "；".join(problems))
    env_names: set[str] = set()
    for text in [c.url for c in channels.values()] + [u for p in people.values() for u in (p.get("urls") or {}).values()]:
        env_names.update(m.group(1) for m in ENV_RE.finditer(text))
    return Routes(path, policy, channels, roles, people, events, env_names)

"""Encryption at rest for a public reporter's identity (Fernet).

The key never lives in the database.  It comes from, in order:
  1. HAZARDLOOP_FERNET_KEY — one key, or several separated by commas (the first
     encrypts, all decrypt: key rotation via MultiFernet);
  2. HAZARDLOOP_FERNET_KEY_FILE — a file holding such a line;
  3. $HAZARDLOOP_HOME/secrets/fernet.key — created (mode 0600) on first use.
Losing the key makes stored identities unreadable; back it up apart from the database.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from hazardloop.config.private import private_dir
from hazardloop.config.settings import get_settings


class KeyError_(Exception):
    """The key is missing or malformed (message in Chinese)."""


def key_file() -> Path:
    explicit = os.environ.get("HAZARDLOOP_FERNET_KEY_FILE")
    if explicit:
        return Path(explicit)
    return get_settings().data_dir / "secrets" / "fernet.key"


def _keys() -> list[bytes]:
    raw = os.environ.get("HAZARDLOOP_FERNET_KEY")
    if not raw:
        path = key_file()
        if not path.exists():
            if os.environ.get("HAZARDLOOP_FERNET_KEY_FILE"):
                raise KeyError_(f"举报人信息加密密钥文件不存在：{path}")
            private_dir(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key() + b"\n")
        raw = path.read_text(encoding="ascii").strip()
    keys = [k.strip().encode() for k in raw.split(",") if k.strip()]
    if not keys:
        raise KeyError_("举报人信息加密密钥为空。")
    return keys


def cipher() -> MultiFernet:
    try:
        return MultiFernet([Fernet(k) for k in _keys()])
    except ValueError as exc:
        raise KeyError_("举报人信息加密密钥格式错误（应为 Fernet 密钥：32 字节 urlsafe-base64）。") from exc


def encrypt(text: str | None) -> str | None:
    if text is None or not str(text).strip():
        return None
    return cipher().encrypt(str(text).strip().encode("utf-8")).decode("ascii")


def decrypt(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return cipher().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise KeyError_("无法解密举报人信息：当前密钥与加密时的密钥不符。") from exc

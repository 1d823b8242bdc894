"""The audit chain anchored outside the database.

The hash chain (models/audit.py) proves the trail consistent, not genuine: anyone who can
write to the database can rewrite an event and recompute every later hash, delete the
last events and move the head, or append a forged event with a correct SHA-256.  Two
things held outside the database close that:

- a key (HMAC-SHA256) that never lives in the database: every event carries
  `mac = HMAC(key, "seq:hash")`, so a forged or rewritten event cannot carry a valid
  one without the key;
- signed checkpoints: `hazardloop audit checkpoint` (and the scheduled flow) appends one
  line per checkpoint — the head's seq and hash, signed, chained to the previous
  checkpoint — to an append-only file; a tail deleted from the database is then
  missing against the checkpoint that saw it.

Locations (environment, read on each call so one process can serve several homes):
- HAZARDLOOP_AUDIT_KEY_FILE, default <data dir>/secrets/audit.key (created 0600 in a
  0700 directory on first use).  Put it elsewhere (another mount, a secrets volume)
  so a copy of the data directory does not carry it;
- HAZARDLOOP_AUDIT_ANCHOR_DIR, default <data dir>/anchors; the file is
  checkpoints.jsonl, opened O_APPEND only.  For real protection it belongs where the
  database's operator cannot rewrite it (another host's mount, `chattr +a`, a WORM bucket).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hazardloop.config.clock import utcnow
from hazardloop.config.private import private_dir as _private_dir
from hazardloop.config.settings import get_settings
from hazardloop.errors import ValidationError

CHECKPOINT_FILE = "checkpoints.jsonl"
_KEYS: dict[tuple[str, float], bytes] = {}


def key_file() -> Path:
    explicit = os.environ.get("HAZARDLOOP_AUDIT_KEY_FILE")
    return Path(explicit) if explicit else get_settings().data_dir / "secrets" / "audit.key"


def anchor_dir() -> Path:
    explicit = os.environ.get("HAZARDLOOP_AUDIT_ANCHOR_DIR")
    return Path(explicit) if explicit else get_settings().data_dir / "anchors"


def private_dir(path: Path) -> Path:
    """The key's and the checkpoints' directory: created 0700; an existing one of ours tightened."""
    return _private_dir(path, tighten=True)


def audit_key() -> bytes:
    """The HMAC key; created on first use unless a key file was named explicitly."""
    path = key_file()
    if not path.exists():
        if os.environ.get("HAZARDLOOP_AUDIT_KEY_FILE"):
            raise ValidationError(f"审计签名密钥文件不存在：{path}")
        private_dir(path.parent)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
    stamp = (str(path), path.stat().st_mtime)
    key = _KEYS.get(stamp)
    if key is None:
        raw = path.read_text(encoding="ascii").strip()
        if len(raw) < 32:
            raise ValidationError(f"审计签名密钥太短（至少 32 个字符）：{path}")
        key = _KEYS[stamp] = raw.encode()
    return key


def event_mac(seq: int, hash_: str, key: bytes | None = None) -> str:
    return hmac.new(key or audit_key(), f"{seq}:{hash_}".encode(), hashlib.sha256).hexdigest()


# --- checkpoints -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    ts: str
    prev: str  # the previous checkpoint's mac ("" for the first)
    mac: str

    def body(self) -> bytes:
        return json.dumps({"seq": self.seq, "hash": self.hash, "ts": self.ts, "prev": self.prev},
                          sort_keys=True, separators=(",", ":")).encode()


def checkpoint_path() -> Path:
    return anchor_dir() / CHECKPOINT_FILE


def _sign(body: bytes, key: bytes) -> str:
    return hmac.new(key, b"checkpoint:" + body, hashlib.sha256).hexdigest()


def read_checkpoints(path: Path | None = None) -> list[dict[str, Any]]:
    """The file's lines as dicts (a malformed line is kept as {"line": n, "bad": text})."""
    path = path or checkpoint_path()
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            if not isinstance(doc, dict):
                raise ValueError
            out.append(doc | {"line": n})
        except ValueError:
            out.append({"line": n, "bad": line[:80]})
    return out


def write_checkpoint(seq: int, hash_: str, path: Path | None = None) -> Checkpoint:
    """Append one signed checkpoint of the head (seq, hash).  The file is only ever appended to."""
    path = path or checkpoint_path()
    private_dir(path.parent)
    key = audit_key()
    lines = read_checkpoints(path)
    prev = str(lines[-1].get("mac", "")) if lines else ""
    cp = Checkpoint(seq, hash_, utcnow().isoformat(timespec="seconds"), prev, "")
    cp = Checkpoint(cp.seq, cp.hash, cp.ts, cp.prev, _sign(cp.body(), key))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"seq": cp.seq, "hash": cp.hash, "ts": cp.ts, "prev": cp.prev, "mac": cp.mac},
                            sort_keys=True, separators=(",", ":")) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return cp


def valid_checkpoints(path: Path | None = None) -> tuple[list[Checkpoint], str | None]:
    """The checkpoints whose signatures and chain hold, and the first problem with the file (Chinese)."""
    key = audit_key()
    good: list[Checkpoint] = []
    prev = ""
    for doc in read_checkpoints(path):
        if "bad" in doc:
            return good, f"检查点文件第 {doc['line']} 行格式错误"
        try:
            cp = Checkpoint(int(doc["seq"]), str(doc["hash"]), str(doc["ts"]), str(doc["prev"]), str(doc["mac"]))
        except (KeyError, TypeError, ValueError):
            return good, f"检查点文件第 {doc['line']} 行缺少字段"
        if not hmac.compare_digest(_sign(cp.body(), key), cp.mac):
            return good, f"检查点文件第 {doc['line']} 行签名无效（被改写，或密钥不符）"
        if cp.prev != prev:
            return good, f"检查点文件第 {doc['line']} 行与上一个检查点不衔接（检查点被删除或插入）"
        if good and cp.seq < good[-1].seq:
            return good, f"检查点文件第 {doc['line']} 行的序号倒退"
        good.append(cp)
        prev = cp.mac
    return good, None

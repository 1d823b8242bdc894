"""`file://DIR` — our Apprise custom plugin: each message becomes one file in DIR.

The demo and a new installation see real deliveries with no mail server.  The
file is named by the message's idempotency key (the X-Idempotency-Key header
the dispatcher puts on the URL), written to a temporary name and renamed, so a
message delivered twice leaves one file: this receiver deduplicates.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from apprise.decorators import notify

from hazardloop.config import clock
from hazardloop.config.private import FILE_MODE, private_dir

SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def directory(meta: dict[str, Any]) -> Path:
    # Apprise reads file:///var/x as host "var" + path "/x"; put it back together.
    host = meta.get("host") or ""
    path = meta.get("fullpath") or ""
    return Path("/" + host + path if host else path or ".")


@notify(on="file", name="HazardLoop 文件投递")
def deliver_file(body: str, title: str, notify_type: Any = None, meta: dict | None = None, *args: Any,
                 **kwargs: Any) -> bool:
    meta = meta or {}
    qsd = meta.get("qsd") or {}
    key = qsd.get("+x-idempotency-key") or qsd.get("+X-Idempotency-Key") or uuid.uuid4().hex
    folder = directory(meta)
    private_dir(folder)  # notices name people and hazards: 0700 directories, 0600 files
    name = SAFE.sub("_", str(key))[:120] + ".json"
    target = folder / name
    tmp = folder / f".{name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps({"title": title, "body": body, "key": key,
                             "written_at": clock.utcnow().isoformat()}, ensure_ascii=False, indent=1))
    tmp.replace(target)  # atomic: a reader sees the whole message or none
    return True

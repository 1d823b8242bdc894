"""Private files (issue 13): the data directory, the SQLite file, evidence, outbox files and keys
are readable by the account that runs HazardLoop only; keys may live outside the data directory."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlmodel import Session

from hazardloop.config import secrecy
from hazardloop.config.settings import get_settings
from hazardloop.models.db import forget_engine, get_engine, write_engine
from hazardloop.models.migrate import init_database
from hazardloop.models.orgs import load_orgs
from hazardloop.notifications.filechannel import deliver_file
from hazardloop.states import ledger
from hazardloop.web import auth
from tests.conftest import ORG_FILE
from tests.helpers import evidence_file, rectifying


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_evidence_outbox_and_keys_are_private(tmp_path, monkeypatch):
    monkeypatch.setenv("HAZARDLOOP_FERNET_KEY_FILE", "")
    monkeypatch.delenv("HAZARDLOOP_FERNET_KEY", raising=False)
    home = get_settings().data_dir
    url = f"sqlite:///{home / 'hazardloop.sqlite'}"
    try:
        init_database(get_engine(url))
        with Session(write_engine(url), expire_on_commit=False) as s:
            load_orgs(s, ORG_FILE)
            s.commit()
            hid = rectifying(s)
            ev = ledger.add_evidence(s, ledger.get_user(s, "hd_safety"), hid, evidence_file(tmp_path))
            s.commit()
    finally:
        forget_engine(url)
    assert mode(home) == 0o700
    for f in home.glob("hazardloop.sqlite*"):
        assert mode(f) == 0o600, f
    stored = Path(ev.stored_path)
    assert mode(stored) == 0o600 and mode(stored.parent) == 0o700 and mode(get_settings().evidence_dir) == 0o700
    outbox = tmp_path / "outbox"
    assert deliver_file("正文", "标题", meta={"fullpath": str(outbox), "qsd": {"+x-idempotency-key": "k1"}})
    assert mode(outbox) == 0o700 and mode(outbox / "k1.json") == 0o600
    secrecy.encrypt("张三")
    assert mode(secrecy.key_file()) == 0o600 and mode(secrecy.key_file().parent) == 0o700
    auth.load_secret_key()
    assert mode(auth.secret_key_path()) == 0o600


def test_keys_can_live_outside_the_data_directory(tmp_path, monkeypatch):
    vault = tmp_path / "vault"
    monkeypatch.setenv("HAZARDLOOP_SECRET_KEY_FILE", str(vault / "secret_key"))
    monkeypatch.delenv("HAZARDLOOP_SECRET_KEY", raising=False)
    key = auth.load_secret_key()
    assert (vault / "secret_key").read_text().strip() == key and mode(vault / "secret_key") == 0o600
    assert not (get_settings().data_dir / "secret_key").exists()

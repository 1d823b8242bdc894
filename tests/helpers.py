"""Small builders shared by the tests: walk a hazard along its lifecycle."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlmodel import Session

from hazardloop.config import clock
from hazardloop.states import ledger

ENT_HD = "91370983MA3C0001AY"  # 恒达化工 (chemical, 应急局, 石横镇)


def future(days: int = 30) -> date:
    return clock.today() + timedelta(days=days)


def evidence_file(tmp_path: Path, name: str = "photo.jpg", content: bytes = b"\xff\xd8 evidence") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def reported(s: Session, title: str = "液氨储罐区未设置泄漏报警装置") -> int:
    h = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise=ENT_HD, title=title, channel="inspection",
                      location="储罐区")
    s.commit()
    return h.id


def listed(s: Session, **kw) -> int:
    hid = reported(s, **kw)
    ledger.confirm(s, ledger.get_user(s, "sup_yingji"), hid, basis_code="CHEM121", basis_clause="第十三条",
                   level="city")
    s.commit()
    return hid


def rectifying(s: Session, days: int = 30, **kw) -> int:
    hid = listed(s, **kw)
    ledger.plan(s, ledger.get_user(s, "hd_safety"), hid, responsible_person="孙立新", measures="加装泄漏报警并联锁",
                funds="80000", deadline=future(days), emergency_plan="液氨泄漏专项应急预案")
    s.commit()
    return hid


def reviewed(s: Session, tmp_path: Path, **kw) -> int:
    hid = rectifying(s, **kw)
    ledger.submit(s, ledger.get_user(s, "hd_safety"), hid, evidence=[evidence_file(tmp_path)])
    s.commit()
    return hid


def cli_runner(url: str, capsys, monkeypatch):  # noqa: ANN001, ANN201
    """Run `hazardloop --db URL ...` in-process as a user would; returns (exit code, stdout, stderr)."""
    import sys

    from hazardloop.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["hazardloop", "--db", url, *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run

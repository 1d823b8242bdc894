"""The command line, run in-process through main() as a user would type it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ORG_FILE
from tests.helpers import cli_runner, future


@pytest.fixture
def cli(db, capsys, monkeypatch):
    run = cli_runner(db.url, capsys, monkeypatch)
    run("init")
    code, out, err = run("org", "load", str(ORG_FILE), "--privileged")
    assert code == 0, err
    return run


def test_init_twice_changes_nothing(cli):
    code, out, _ = cli("init", "--json")
    assert code == 0
    assert set(json.loads(out)["changed"].values()) == {0}


def test_full_walk_with_json_and_audit(cli, tmp_path):
    code, out, err = cli("hazard", "report", "--actor", "inspector1", "--enterprise", "91370983MA3C0001AY",
                         "--title", "液氨储罐区未设置泄漏报警", "--channel", "inspection", "--json")
    assert code == 0, err
    hid = str(json.loads(out)["id"])
    assert cli("hazard", "confirm", hid, "--actor", "sup_yingji", "--basis", "CHEM121", "--clause", "第十条",
               "--level", "city")[0] == 0
    assert cli("hazard", "plan", hid, "--actor", "hd_safety", "--responsible", "孙立新", "--measures", "加装报警",
               "--funds", "50000", "--deadline", future(20).isoformat(), "--emergency-plan", "专项预案")[0] == 0
    proof = tmp_path / "done.jpg"
    proof.write_bytes(b"jpeg")
    assert cli("hazard", "submit", hid, "--actor", "hd_safety", "--evidence", str(proof))[0] == 0
    code, out, err = cli("hazard", "approve", hid, "--actor", "sup_yingji", "--json")
    assert code == 0, err and json.loads(out)["state"] == "closed"
    code, out, _ = cli("hazard", "show", hid, "--json")
    shown = json.loads(out)
    assert shown["state"] == "closed" and len(shown["evidence"]) == 1
    assert [e["action"] for e in shown["audit"]] == ["report", "confirm", "start_rectification", "evidence",
                                                     "submit", "approve"]
    code, out, _ = cli("hazard", "list", "--state", "closed", "--json")
    assert [h["id"] for h in json.loads(out)] == [int(hid)]
    code, out, _ = cli("audit", "log", "--hazard", hid, "--actor", "sup_yingji", "--json")
    assert [e["action"] for e in json.loads(out)] == ["confirm", "approve"]
    code, out, _ = cli("audit", "verify", "--json")
    assert code == 0 and json.loads(out)["ok"] is True


def test_refusal_exits_1_in_chinese_without_traceback(cli):
    code, out, err = cli("hazard", "report", "--actor", "inspector1", "--enterprise", "91370983MA3C0001AY",
                         "--title", "隐患", "--channel", "inspection", "--json")
    hid = str(json.loads(out)["id"])
    code, out, err = cli("hazard", "approve", hid, "--actor", "sup_yingji")
    assert code == 1
    assert "已发现" in err and "确认挂牌" in err and "Traceback" not in err + out
    assert "found" not in err and "confirm" not in err  # the names a person reads, not the codes
    code, _, err = cli("hazard", "confirm", hid, "--actor", "hd_safety", "--basis", "CHEM121", "--clause", "x",
                       "--level", "city")
    assert code == 1 and "行业监管部门或市安委办" in err


def test_bad_usage_exits_2(cli):
    code, _, err = cli("hazard", "plan", "1", "--actor", "hd_safety", "--deadline", "明天")
    assert code == 2 and "YYYY-MM-DD" in err
    code, _, _ = cli("hazard", "frobnicate")
    assert code == 2


def test_org_load_rejects_bad_credit_code_and_writes_nothing(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("enterprises:\n  - {name: 坏企业, credit_code: 91370983MA3C0001A0, region: xincheng,"
                   " industry: machinery, principal: 甲, controller: 乙}\n"
                   "users:\n  - {username: nobody, name: 某, role: wizard}\n", encoding="utf-8")
    code, _, err = cli("org", "load", str(bad))
    assert code == 1 and "校验位错误" in err and "不认识的角色「wizard」" in err
    code, out, _ = cli("hazard", "report", "--actor", "nobody", "--enterprise", "坏企业", "--title", "x",
                       "--channel", "inspection")
    assert code == 1  # neither the enterprise nor the user exists


def test_org_load_creates_a_committee_account_only_with_privileged(cli, tmp_path):
    f = tmp_path / "office.yaml"
    f.write_text("enterprises: []\nusers:\n  - {username: office9, name: 新科员, role: 市安委办, department: anweiban}\n"
                 "  - {username: inspector9, name: 新检查员, role: inspector, department: yingji}\n", encoding="utf-8")
    code, _, err = cli("org", "load", str(f))
    assert code == 1 and "office9 将成为市安委办账户" in err and "--privileged" in err
    code, out, _ = cli("user", "list", "--json")
    assert "inspector9" not in out and "office9" not in out  # the whole file refused, nothing half-written
    code, out, err = cli("org", "load", str(f), "--privileged", "--json")
    assert code == 0, err
    assert json.loads(out)["users"] == 2


def test_audit_verify_exits_1_when_tampered(cli, db):
    from sqlalchemy import text

    cli("hazard", "report", "--actor", "inspector1", "--enterprise", "91370983MA3C0001AY", "--title", "隐患",
        "--channel", "inspection")
    with db.engine.begin() as conn:
        if db.kind == "sqlite":
            conn.execute(text("DROP TRIGGER audit_event_no_update"))
        else:
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_change"))
        last = conn.execute(text("SELECT max(seq) FROM audit_event")).scalar()
        conn.execute(text("UPDATE audit_event SET actor = 'someone_else' WHERE seq = :s"), {"s": last})
    code, out, _ = cli("audit", "verify")
    assert code == 1 and f"第 {last} 条" in out


def test_module_entry_point_runs(tmp_path):
    """`python -m hazardloop` works from a fresh process (what `make demo` relies on)."""
    result = subprocess.run([sys.executable, "-m", "hazardloop", "diagram"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent.parent, timeout=60)
    assert result.returncode == 0 and "stateDiagram-v2" in result.stdout and "reviewed --> closed" in result.stdout


def test_lifecycle_doc_matches_the_machine():
    """docs/lifecycle.md is generated from the machine; regenerate it when the machine changes."""
    from hazardloop.states.machine import mermaid

    doc = (Path(__file__).resolve().parent.parent / "docs" / "lifecycle.md").read_text(encoding="utf-8")
    assert mermaid() in doc

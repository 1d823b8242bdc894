"""A clerk's command line (issue 15): Chinese in, Chinese out, readable at 80 columns, quick to start.

Every command runs through the real entry point (hazardloop.cli.main) with Chinese arguments; the
output is read at 80 and at 200 columns (COLUMNS, which the CLI reads at each print).
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len

from hazardloop.config import labels
from hazardloop.errors import ValidationError
from tests.helpers import ENT_HD, cli_runner, evidence_file, future, rectifying, reported

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(org, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    return cli_runner(org.url, capsys, monkeypatch)


def _widest(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


# --- Chinese in -----------------------------------------------------------------------------------

def test_labels_resolve_takes_code_or_name_and_lists_the_accepted_values():
    assert labels.resolve("state", "整改中") == "rectifying"
    assert labels.resolve("state", " RECTIFYING ") == "rectifying"
    assert labels.resolve("level", "市级") == "city"
    assert labels.resolve("channel", "群众举报查实") == "public_report"
    assert labels.resolve("state", None) is None
    with pytest.raises(ValidationError, match="整改中（rectifying）"):
        labels.resolve("state", "整改")


def test_state_region_and_level_by_chinese_name_select_the_same_rows_as_codes(cli, org):
    with org.session() as s:
        hid = rectifying(s)
    code, by_name, err = cli("hazard", "list", "--state", "整改中", "--region", "石横镇", "--level", "市级",
                             "--json")
    assert code == 0, err
    assert [h["id"] for h in json.loads(by_name)] == [hid]
    assert json.loads(cli("hazard", "list", "--state", "rectifying", "--region", "shiheng", "--json")[1]) \
        == json.loads(by_name)
    code, out, _ = cli("hazard", "list", "--region", "新城街道", "--json")  # another region: empty, and exit 0
    assert code == 0 and json.loads(out) == []
    # a part of one name is enough when it names only one (石横 → 石横镇)
    assert json.loads(cli("hazard", "list", "--region", "石横", "--json")[1]) == json.loads(by_name)


@pytest.mark.parametrize("args, listed", [
    (("hazard", "list", "--state", "整改"), "整改中（rectifying）"),
    (("hazard", "list", "--level", "县级"), "市级（city）"),
    (("ledger", "export", "--actor", "office1", "--out", "x.xlsx", "--region", "火星镇"), "石横镇（shiheng）"),
    (("user", "add", "u9", "--role", "局长"), "行业监管部门（supervisor）"),
])
def test_unknown_values_are_refused_in_chinese_with_the_accepted_values_exit_2(cli, args, listed):
    code, out, err = cli(*args)
    assert code == 2, (out, err)
    assert "不认识的" in err and listed in err
    assert "用法：" in err and "Usage" not in err and out == ""


def test_inspection_record_takes_hazards_by_code(cli, org):
    with org.session() as s:
        hid = rectifying(s)
        code_ = s.get(__import__("hazardloop.models.tables", fromlist=["Hazard"]).Hazard, hid).code
    code, out, err = cli("inspection", "record", "--actor", "sup_yingji", "--enterprise", ENT_HD,
                         "--date", future(-1).isoformat(), "--hazard", code_, "--json")
    assert code == 0, err
    assert json.loads(out)["hazard_ids"] == [hid]
    code, _, err = cli("inspection", "record", "--actor", "sup_yingji", "--enterprise", ENT_HD,
                       "--date", future(-1).isoformat(), "--hazard", "YH-2026-999999")
    assert code == 1 and "没有编号为 YH-2026-999999 的隐患" in err


@pytest.mark.parametrize("args, message", [
    (("inspection", "record", "--enterprise", ENT_HD, "--date", "2026-01-01"), "缺少选项 --actor"),
    (("hazard", "show"), "缺少参数 HAZARD"),
    (("hazard", "list", "--limit", "很多"), "--limit 的值无效：应为整数"),
    (("hazard", "list", "--bogus"), "没有选项 --bogus"),
    (("hazrd", "list"), "没有命令「hazrd」；是不是要用「hazard」"),
    (("hazard", "show", "1", "2"), "多余的参数：2"),
])
def test_parser_errors_are_in_chinese(cli, args, message):
    code, out, err = cli(*args)
    assert code == 2
    assert message in err
    assert not re.search(r"Usage|Missing|Error|No such|Try ", err), err


def test_help_is_in_chinese(cli):
    code, out, _ = cli("hazard", "list", "--help")
    assert code == 0
    assert "用法：" in out and "选项" in out and "显示本帮助并退出" in out
    assert "Usage" not in out and "Show this message" not in out


def test_document_number_with_any_brackets():
    from hazardloop.models.lookup import document_number

    for typed in ("肥安办函〔2026〕12号", "肥安办函[2026]12号", "肥安办函(2026)12号", "肥安办函（2026）12号",
                  " 肥安办函 [2026] 12 号"):
        assert document_number(typed) == "肥安办函〔2026〕12号"


# --- Chinese out, 80 columns ----------------------------------------------------------------------

def _walk(org, tmp_path) -> str:
    from hazardloop.models.tables import Hazard
    from hazardloop.states import ledger

    with org.session() as s:
        hid = rectifying(s, title="液氨储罐区未设置泄漏报警装置且未与紧急切断装置联锁")
        ledger.request_extension(s, ledger.get_user(s, "hd_safety"), hid, deadline=future(60), reason="设备到货延迟")
        s.commit()
        ledger.submit(s, ledger.get_user(s, "hd_safety"), hid, evidence=[evidence_file(tmp_path)])
        s.commit()
        return s.get(Hazard, hid).code


@pytest.mark.parametrize("columns", ["80", "200"])
def test_hazard_show_is_chinese_with_plans_evidence_extensions(cli, org, tmp_path, monkeypatch, columns):
    code_ = _walk(org, tmp_path)
    monkeypatch.setenv("COLUMNS", columns)
    code, out, err = cli("hazard", "show", code_)
    assert code == 0, err
    for word in ("整改方案", "孙立新", "整改材料", "photo.jpg", "延期申请", "设备到货延迟", "待审批",
                 "审计记录", "提交整改方案", "待审核", "督导检查", "市级", "石横镇"):
        assert word in out, word
    for english in ("state_name", "region_code", "start_rectification", "rectifying", "inspection", "city",
                    "None", "True", "False"):
        assert english not in out, english
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", out)  # times to the minute, Shanghai
    assert "+00:00" not in out and "UTC" not in out
    assert code_ in out
    assert _widest(out) <= int(columns)


@pytest.mark.parametrize("columns", ["80", "200"])
def test_hazard_list_fits_and_keeps_codes_whole(cli, org, monkeypatch, columns):
    with org.session() as s:
        for i in range(3):
            rectifying(s, title=f"液氨储罐区未设置泄漏报警装置且未与紧急切断装置联锁{i}")
    monkeypatch.setenv("COLUMNS", columns)
    code, out, err = cli("hazard", "list", "--limit", "2")
    assert code == 0, err
    assert _widest(out) <= int(columns)
    assert len(re.findall(r"YH-\d{4}-\d{6}", out)) == 2  # whole codes, never "YH-202…"
    assert "显示 2 / 共 3" in out and "--offset 2" in out
    assert "整改中" in out and "rectifying" not in out
    if columns == "200":
        assert "督导检查" in out  # the secondary 渠道 column is there when it fits
    code, wide, _ = cli("hazard", "list", "--wide")
    assert code == 0 and "督导检查" in wide and "显示 3 / 共 3" in wide


def test_audit_log_shows_actions_and_states_in_chinese(cli, org):
    with org.session() as s:
        rectifying(s)
    code, out, _ = cli("audit", "log", "--wide")
    assert code == 0
    assert "提交整改方案" in out and "已挂牌→整改中" in out
    assert "start_rectification" not in out and "rectifying" not in out


# --- quick start ----------------------------------------------------------------------------------

def _modules_after(org, *lines: list[str]) -> list[str]:
    """Run these command lines in one fresh process; the modules they loaded."""
    probe = f"""
import sys
from hazardloop.cli import main
for argv in {[["hazardloop", "--db", org.url, *line] for line in lines]!r}:
    sys.argv = argv
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, (argv, exc.code)
print(sorted(sys.modules), file=sys.stderr)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=180,
                         env={**os.environ, "COLUMNS": "80"})
    assert out.returncode == 0, out.stderr
    return ast.literal_eval(out.stderr.strip().splitlines()[-1])


HEAVY = ("openpyxl", "numpy", "matplotlib", "apprise", "jinja2", "prefect", "alembic")


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in HEAVY
            or m.startswith(("hazardloop.notifications", "hazardloop.escalation", "hazardloop.intake"))]


def test_a_query_imports_only_what_it_uses(org):
    """`hazard list` and `hazard show` with --json load no openpyxl, numpy, matplotlib, notification stack,
    Jinja2, prefect or alembic, and neither rich (nothing to draw), the holidays calendars (no working
    day is counted), nor any table module but the hazard's own (issue 15: a script calls the CLI
    hundreds of times)."""
    from hazardloop.models import TABLE_MODULES

    with org.session() as s:
        code = ledger_code(s, rectifying(s))
    loaded = _modules_after(org, ["hazard", "list", "--state", "整改中", "--json"], ["hazard", "list", "--json"],
                            ["hazard", "show", code, "--json"])
    assert _heavy(loaded) == []
    assert [m for m in loaded if m.split(".")[0] in ("rich", "holidays", "yaml")] == []
    assert [m for m in loaded if m.startswith("hazardloop.models.") and m.split(".")[2] in TABLE_MODULES] \
        == ["hazardloop.models.tables"]
    assert "hazardloop.cli.audit" in loaded  # show prints the trail with the audit group's helper...
    assert not [m for m in loaded if m.startswith("hazardloop.cli.") and m.split(".")[2] not in (
        "hazard", "audit", "output", "parser")]  # ...and no other group's module is imported


def test_help_imports_none_of_the_heavy_modules_and_lists_every_command(org):
    loaded = _modules_after(org, ["--help"], ["hazard", "--help"])
    assert _heavy(loaded) == []
    assert "hazardloop.config.campaigns" not in loaded  # a group's own machinery waits for its commands


def test_the_help_page_lists_every_group_and_command(cli):
    """The root help page is built from the groups' names and help alone (their commands are not turned
    into click parameters for it); it still lists each of them."""
    from hazardloop.cli import GROUPS

    code, out, _ = cli("--help")
    assert code == 0
    for word in (w for words in GROUPS.values() for w in words):
        assert re.search(rf"│ {re.escape(word)} ", out), word
    assert "隐患：上报、确认、整改、审核销号、查询" in out  # the hazard group's help, from its module
    code, _, err = cli("hazrd", "list")
    assert code == 2 and "没有命令「hazrd」；是不是要用「hazard」" in err


def test_every_table_module_is_loaded_by_load_all_and_finds_its_foreign_keys():
    """Importing hazardloop.models registers no table (a CLI call imports the table modules it uses):
    load_all() must name every module that defines one, and a module whose foreign key points into
    another module's table must import that module (SQLAlchemy resolves the key when it sorts a flush)."""
    from hazardloop.models import TABLE_MODULES

    models = ROOT / "hazardloop" / "models"
    tables_of: dict[str, set[str]] = {}
    keys_of: dict[str, set[str]] = {}
    imports_of: dict[str, set[str]] = {}
    for path in models.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(k.arg == "table" for k in node.keywords):
                name = next((n.value.value for n in node.body if isinstance(n, ast.Assign)
                             and getattr(n.targets[0], "id", "") == "__tablename__"), node.name.lower())
                tables_of.setdefault(path.stem, set()).add(name)
            if isinstance(node, ast.keyword) and node.arg == "foreign_key":
                keys_of.setdefault(path.stem, set()).add(node.value.value.split(".")[0])
            if isinstance(node, ast.ImportFrom) and node.module == "hazardloop.models":
                imports_of.setdefault(path.stem, set()).update(a.name for a in node.names)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hazardloop.models."):
                imports_of.setdefault(path.stem, set()).add(node.module.split(".")[2])
    assert set(tables_of) == set(TABLE_MODULES)
    module_of = {t: m for m, ts in tables_of.items() for t in ts}
    for module, keys in keys_of.items():
        for table in keys:
            assert module_of[table] in {module, "tables"} | imports_of.get(module, set()), (module, table)


# --- refusals name states and actions ----------------------------------------------------------------

def test_a_wrong_state_refusal_names_states_and_actions_in_chinese(cli, org, tmp_path):
    """A trigger the state does not allow is refused with the names from config/labels.py, never the
    codes (rectifying, approve, extend …): the hazard found by its Chinese state name, refused at 80 columns."""
    with org.session() as s:
        rectifying(s)
    code, out, err = cli("hazard", "list", "--state", "整改中", "--region", "石横镇", "--json")
    assert code == 0, err
    (hazard,) = json.loads(out)
    code, out, err = cli("hazard", "approve", hazard["code"], "--actor", "sup_yingji", "--reason", "现场复核到位")
    assert code == 1 and out == ""
    assert "隐患当前状态为“整改中”，不能执行“审核销号”；此状态允许：延期、提交整改完成。" in err
    assert re.findall(r"[a-z_]{2,}", err) == [], err  # no state or trigger code
    assert len(err.strip().splitlines()) == 1  # one whole line, however wide (greppable)
    # a found hazard: 导入历史销号 is the ledger import's own step, never offered to a person
    from hazardloop.models.tables import Hazard

    with org.session() as s:
        found = s.get(Hazard, reported(s, "配电室无应急照明")).code
    code, out, err = cli("hazard", "approve", found, "--actor", "sup_yingji", "--reason", "现场复核到位")
    assert code == 1 and "隐患当前状态为“已发现”，不能执行“审核销号”；此状态允许：" in err, err
    assert "确认挂牌" in err and "导入历史销号" not in err, err
    # the public report's machine: the same refusal, its own names
    code, out, err = cli("report", "submit", "--actor", "citizen1", "--content", "恒达化工液氨储罐区无泄漏报警",
                         "--enterprise", ENT_HD, "--via", "电话", "--json")
    assert code == 0, err
    jb = json.loads(out)["code"]
    code, _, err = cli("report", "verify", jb, "--actor", "sup_yingji", "--verdict", "属实", "--note", "现场核实")
    assert code == 1
    assert "举报当前状态为“已收到”，不能执行“核查结论”；此状态允许：受理、不予受理。" in err, err
    assert re.findall(r"[a-z_]{2,}", err) == [], err


def test_a_decided_extension_is_named_by_its_status_in_chinese(cli, org):
    with org.session() as s:
        hid = rectifying(s)
        code = ledger_code(s, hid)
    code_, out, err = cli("hazard", "extend", code, "--actor", "hd_safety", "--reason", "设备到货延迟",
                          "--deadline", future(60).isoformat(), "--json")
    assert code_ == 0, err
    ext = json.loads(out)["id"]
    assert cli("hazard", "extension", "approve", str(ext), "--actor", "sup_yingji", "--reason", "同意")[0] == 0
    code_, _, err = cli("hazard", "extension", "approve", str(ext), "--actor", "sup_yingji", "--reason", "同意")
    assert code_ == 1 and f"延期申请 {ext} 已处理（已批准）" in err and "approved" not in err


# --- typer's internals stay in one module ----------------------------------------------------------

def test_only_the_parser_module_reaches_into_typer_and_nothing_imports_click():
    """typer ≥ 0.26 runs on its own copy of click (typer._click), which it asks nobody to use; the CLI
    needs it to word parser errors and help in Chinese.  Only hazardloop/cli/parser.py may import it
    (or typer.rich_utils); `click` itself is another library whose exceptions typer never raises."""
    offenders = []
    for path in (ROOT / "hazardloop").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
                     if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                private = name.startswith(("typer._", "typer.rich_utils")) or name.split(".")[0] == "click"
                if private and path.relative_to(ROOT).as_posix() != "hazardloop/cli/parser.py":
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_the_parser_module_names_the_errors_typer_raises():
    """Against typer's public behaviour: the classes cli/parser.py takes from typer's vendored click are
    the ones a typer app raises, and their words come out in Chinese."""
    import typer

    from hazardloop.cli import parser

    app = typer.Typer()
    sub = typer.Typer(no_args_is_help=True)
    app.add_typer(sub, name="group")

    @sub.command("run")
    def run(count: int = typer.Option(..., "--count", help="次数")) -> None:
        pass

    @sub.command("other")
    def other() -> None:
        pass

    def error(*args: str) -> Exception:
        with pytest.raises(parser.ClickError) as caught:
            app(args=list(args), prog_name="t", standalone_mode=False)
        return caught.value

    assert isinstance(error("group"), parser.NoArgsIsHelpError)
    for args, words in ((("group", "run"), "缺少选项 --count（次数）"), (("group", "run", "--count", "x"), "应为整数"),
                        (("group", "run", "--bogus"), "没有选项 --bogus"), (("group", "rnu"), "没有命令「rnu」"),
                        (("group", "run", "--count", "1", "extra"), "多余的参数：extra")):
        exc = error(*args)
        assert isinstance(exc, parser.UsageError) and exc.exit_code == 2, args
        assert words in parser.click_message(exc), (args, parser.click_message(exc))


def test_a_group_without_its_command_prints_the_chinese_help_exit_2(cli):
    code, out, err = cli("hazard")
    assert code == 2
    assert "用法：hazardloop hazard [选项] 命令 [参数]..." in out and "显示本帮助并退出" in out
    assert "Usage" not in out + err and "Show this message" not in out


def test_bootstrap_handlers_resolve_on_first_event_and_equal_their_function():
    from hazardloop.bootstrap import HANDLERS
    from hazardloop.notifications.notices import on_event

    assert HANDLERS[0] == on_event and HANDLERS[0].resolve() is on_event


# --- the lists a clerk needs, and the show pages --------------------------------------------------

def test_new_lists_take_chinese_filters_and_fit_80_columns(cli, org):
    from hazardloop.states import ledger

    with org.session() as s:
        hid = rectifying(s)
        ledger.request_extension(s, ledger.get_user(s, "hd_safety"), hid, deadline=future(60), reason="设备到货延迟")
        s.commit()
    code, out, err = cli("hazard", "extension", "list", "--region", "石横镇")
    assert code == 0, err
    assert "设备到货延迟" in out and "YH-" in out and _widest(out) <= 80
    assert json.loads(cli("hazard", "extension", "list", "--status", "已批准", "--json")[1]) == []
    code, out, err = cli("user", "list", "--role", "行业监管部门", "--department", "市应急管理局")
    assert code == 0, err
    assert "sup_yingji" in out and "sup_zhujian" not in out and "行业监管部门" in out and _widest(out) <= 80
    code, out, err = cli("org", "enterprises", "--region", "石横镇", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["total"] == 1 and data["enterprises"][0]["credit_code"] == ENT_HD
    assert data["enterprises"][0]["open_hazards"] == 1
    code, out, _ = cli("org", "enterprises")
    assert code == 0 and "显示 3 / 共 3" in out and _widest(out) <= 80 and ENT_HD in out


def test_report_and_outbox_show_speak_chinese(cli, org):
    with org.session() as s:
        rectifying(s)  # listing and plan notices in the outbox
    code, out, err = cli("report", "submit", "--actor", "citizen1", "--content", "恒达化工液氨储罐区无泄漏报警",
                         "--enterprise", ENT_HD, "--via", "电话", "--json")
    assert code == 0, err
    jb = json.loads(out)["code"]
    assert cli("report", "accept", jb, "--actor", "office1")[0] == 0
    code, out, err = cli("report", "show", jb, "--actor", "office1")
    assert code == 0, err
    for word in ("已受理", "电话", "肥城市恒达化工有限公司", "市应急管理局", "核查期限", "匿名"):
        assert word in out, word
    for english in ("state_name", "received_via", "department_code", "yingji", "phone"):
        assert english not in out, english
    code, out, err = cli("outbox", "show", "1")
    assert code == 0, err
    assert "隐患记到企业名下" in out and "安全管理人员" in out and "YH-" in out and "待发送" in out
    for english in ("recipient_role", "reported", "safety_manager", "status_name", "created_at"):
        assert english not in out.split("幂等键")[0], english


def test_ref_tables_in_chinese(cli):
    code, out, _ = cli("ref", "行业")
    assert code == 0
    assert "代码" in out and "化工和危险化学品" in out and "市应急管理局" in out and "是" in out
    assert "True" not in out and "department_code" not in out and "high_risk" not in out
    code, out, _ = cli("ref", "判定标准", "--wide")
    assert code == 0 and "适用行业" in out and "['" not in out


def test_serve_and_web_on_a_busy_port_are_a_chinese_error(cli):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        for args, option in ((("serve", "--web-port", port), "--web-port"), (("web", "--port", port), "--port")):
            code, out, err = cli(*args)
            assert code == 1
            assert f"端口 {port} 已被占用" in err and option in err and "Traceback" not in err


# --- inspection missing: filters, and the same answer as the plain definition ---------------------

def test_inspection_missing_filters_by_region_industry_month(cli, org):
    from datetime import date

    from hazardloop.config import clock
    from hazardloop.reports import inspections

    with clock.frozen(date(2026, 11, 20)):
        code, out, err = cli("inspection", "missing", "--region", "石横镇", "--json")
        assert code == 0, err
        missed = json.loads(out)["missed"]
        assert missed and {g["enterprise"] for g in missed} == {"肥城市恒达化工有限公司"}
        code, out, _ = cli("inspection", "missing", "--industry", "机械", "--month", "2025-05", "--json")
        assert {(g["enterprise"], g["period"]) for g in json.loads(out)["missed"]} == {
            ("肥城市鑫源机械制造有限公司", "2025-Q2")}
        code, out, _ = cli("inspection", "missing", "--region", "石横镇", "--limit", "3")
        assert code == 0 and "显示 3 / 共" in out and _widest(out) <= 80
        # the fast lookup gives what the definition says: every ended period with no inspection dated in it
        assert cli("inspection", "record", "--actor", "hd_safety", "--enterprise", ENT_HD, "--date", "2025-05-06")[0] == 0
        with org.session() as s:
            fast = {(g.enterprise_id, g.period) for g in inspections.missing(s)}
            cfg = inspections.load_config()
            done = [(r["enterprise_id"], r["inspected_on"]) for r in inspections.list_inspections(s)]
            plain = set()
            for eid, monthly in inspections._monthly_map(s).items():
                for p in inspections.periods_between(cfg.start, clock.today(), monthly):
                    if p.end <= clock.today() and not any(e == eid and p.start <= d <= p.end for e, d in done):
                        plain.add((eid, p.label))
        assert fast == plain and len(fast) > 10


# --- the demo -------------------------------------------------------------------------------------

@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_demo_has_reports_behind_public_report_hazards_and_inspections(db):
    from datetime import date

    from rich.console import Console
    from sqlmodel import Session, select

    from hazardloop.demo import run_demo
    from hazardloop.models import audit
    from hazardloop.models.inspections import PrincipalInspection
    from hazardloop.models.intake import PublicReport
    from hazardloop.models.tables import Hazard

    run_demo(db.engine, reset=False, n_enterprises=20, n_hazards=40, seed=7, console=Console(record=True, width=120),
             today=date(2026, 11, 29), sweeps=False)
    with Session(db.engine) as s:
        public = s.exec(select(Hazard).where(Hazard.channel == "public_report")).all()
        linked = {r.hazard_id for r in s.exec(select(PublicReport)).all()}
        assert public and {h.id for h in public} <= linked
        assert all(r.verdict == "true" and r.received_at < h.found_at.replace(tzinfo=r.received_at.tzinfo)
                   for r in s.exec(select(PublicReport)).all() for h in public if h.id == r.hazard_id)
        inspected = s.exec(select(PrincipalInspection)).all()
        assert len({i.enterprise_id for i in inspected}) >= 15  # most enterprises' principals lead inspections
        assert max(i.inspected_on for i in inspected) < date(2026, 11, 29)
        assert audit.verify(s).ok


def test_a_refused_regulator_is_told_department_names_not_codes(cli, org):
    from tests.helpers import reported

    with org.session() as s:
        hid = reported(s)
    code, _, err = cli("hazard", "confirm", str(hid), "--actor", "sup_zhujian", "--basis", "CHEM121",
                       "--clause", "第十条", "--level", "市级")
    assert code == 1
    assert "市住房和城乡建设局" in err and "zhujian" not in err and "yingji" not in err


def ledger_code(s, hazard_id: int) -> str:  # noqa: ANN001
    from hazardloop.models.tables import Hazard

    return s.get(Hazard, hazard_id).code

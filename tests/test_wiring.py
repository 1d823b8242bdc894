"""The application is wired in one place (hazardloop.bootstrap), never by importing a module.

In a fresh process: importing any entry point subscribes nothing; bootstrap() subscribes every
handler once however often it is called; a process that only calls bootstrap and the ledger writes
the outbox rows and the escalation cycle of a hazard change.  And the package keeps its layers:
no module imports a higher layer, and no import cycle exists (module-level or inside functions).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hazardloop"


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("module", ["hazardloop.cli", "hazardloop.web.app", "hazardloop.flows.dispatch",
                                    "hazardloop.notifications", "hazardloop.escalation.hazards",
                                    "hazardloop.demo", "hazardloop.web.escalation"])
def test_importing_an_entry_point_subscribes_nothing(module):
    code = (f"import {module}\n"
            "from hazardloop.states import events\n"
            "print(len(events._listeners))\n")
    assert int(_run(code)) == 0


def test_bootstrap_twice_subscribes_each_handler_once():
    code = ("from hazardloop.bootstrap import HANDLERS, bootstrap\n"
            "from hazardloop.states import events\n"
            "bootstrap(); bootstrap()\n"
            "print(len(events._listeners), len(HANDLERS), len(set(map(id, events._listeners))))\n")
    listeners, handlers, distinct = map(int, _run(code).split())
    assert listeners == handlers == distinct >= 2


def test_bootstrap_and_ledger_alone_write_outbox_rows_and_the_escalation_cycle(tmp_path):
    """Only hazardloop.bootstrap and the ledger are imported: the plan that starts rectification
    queues its notices and opens the hazard's escalation cycle in the same transaction."""
    db = tmp_path / "wired.sqlite"
    code = f"""
import sys
from datetime import date, timedelta
from hazardloop.bootstrap import bootstrap
from hazardloop.config import clock
from hazardloop.models.db import session_scope, get_engine
from hazardloop.models.migrate import init_database
from hazardloop.models.orgs import load_orgs
from hazardloop.states import ledger
from sqlalchemy import text
url = "sqlite:///{db}"
init_database(get_engine(url))
with session_scope(url) as s:
    load_orgs(s, "{ROOT / 'tests' / 'data' / 'org.yaml'}")
bootstrap()
assert not any(m.startswith(("hazardloop.cli", "hazardloop.web", "hazardloop.flows")) for m in sys.modules)
with session_scope(url) as s:
    h = ledger.report(s, ledger.get_user(s, "inspector1"), enterprise="91370983MA3C0001AY",
                      title="液氨储罐区未设泄漏报警", channel="inspection")
    ledger.confirm(s, ledger.get_user(s, "sup_yingji"), h.id, basis_code="CHEM121", basis_clause="第十条", level="city")
    ledger.plan(s, ledger.get_user(s, "hd_safety"), h.id, responsible_person="孙立新", measures="加装报警并联锁",
                funds="80000", deadline=clock.today() + timedelta(days=30), emergency_plan="液氨泄漏专项预案")
    hid = h.id
with session_scope(url) as s:
    outbox = s.execute(text("select count(*) from notification where hazard_id = :h"), {{"h": hid}}).scalar()
    cycles = s.execute(text("select count(*) from escalation_cycle where hazard_id = :h"), {{"h": hid}}).scalar()
print(outbox, cycles)
"""
    outbox, cycles = map(int, _run(code).split())
    assert outbox > 0  # the listing's notices to the principal and the actual controller, at least
    assert cycles == 1


# --- layers ----------------------------------------------------------------------------------------

# Lowest first.  config and the error types are the floor; bootstrap is the composition root above all
# but the entry points that call it.  intake, reports, plans and campaigns are peers.
PEERS = ("intake", "reports", "plans", "campaigns")
LAYERS = [("errors",), ("config",), ("models",), ("states",), ("notifications",), ("escalation",), PEERS,
          ("bootstrap",), ("demo", "flows"), ("web", "cli", "__main__")]
RANK = {name: i for i, group in enumerate(LAYERS) for name in group}


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    modules = {_module_of(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        out: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name and t != "hazardloop":
                    out.add(t)
        graph[name] = out
    return graph


def _layer(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_no_module_imports_a_higher_layer():
    graph = _imports()
    assert len(graph) > 50
    upward = [f"{m} → {t}" for m, targets in graph.items() for t in targets
              if RANK.get(_layer(t), -1) > RANK.get(_layer(m), -1)
              and not (_layer(m) in PEERS and _layer(t) in PEERS)]
    assert upward == []


def test_no_import_cycle():
    graph = _imports()
    seen: dict[str, int] = {}  # 1 on the stack, 2 done
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        seen[node] = 1
        stack.append(node)
        for t in sorted(graph.get(node, ())):
            if seen.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in seen:
                visit(t, stack)
        stack.pop()
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node, [])
    # A package's __init__ assembling its own submodules (cli) is not a cycle unless a submodule imports it.
    assert cycles == [], "\n".join(" → ".join(c) for c in cycles)


def test_the_command_line_table_names_what_each_group_registers():
    """cli.GROUPS says which words each module puts on the command line (a command imports only its
    own module): it must list every module and exactly the words its register() adds."""
    import typer

    from hazardloop import cli

    modules = {p.stem for p in (PACKAGE / "cli").glob("*.py")} - {"__init__", "output", "parser"}
    assert set(cli.GROUPS) == modules
    for name, words in cli.GROUPS.items():
        app = cli.build([name])
        registered = {g.name for g in app.registered_groups} | {
            c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands}
        assert registered == set(words), name
    full = cli.app
    assert isinstance(full, typer.Typer)
    assert {g.name for g in full.registered_groups} | {c.name for c in full.registered_commands} == {
        w for words in cli.GROUPS.values() for w in words}

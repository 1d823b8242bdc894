"""The `hazardloop` command line (typer).  Thin: parse, call a plain function, print.

One module per command group; this module assembles them (the list below is the whole
command line) and wires the application (bootstrap) before any command runs.

Exit codes: 0 done; 1 refused (a guard, a conflict, bad data) with the reason in
Chinese; 2 bad usage.  No traceback is printed for a refused action.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from sqlalchemy.exc import OperationalError

from hazardloop.bootstrap import bootstrap
from hazardloop.cli import (audit, bulletin, document, escalation, hazard, inspection, lagging, ledger, org, outbox,
                            report, serve, setup, stats, user, web)
from hazardloop.cli import deploy as deploy_group
from hazardloop.cli.output import STATE, fail
from hazardloop.errors import HazardLoopError

app = typer.Typer(help="HazardLoop 重大事故隐患闭环管理", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)

# The order is the order of `hazardloop --help`.
GROUPS = (setup, org, hazard, audit, outbox, user, web, report, ledger, stats, inspection, bulletin, escalation,
          serve, document, lagging, deploy_group)
for _group in GROUPS:
    _group.register(app)


@app.callback()
def _root(db: Annotated[Optional[str], typer.Option("--db", help="数据库 URL（默认 HAZARDLOOP_DATABASE_URL 或 $HAZARDLOOP_HOME/hazardloop.sqlite）")] = None) -> None:
    bootstrap()  # every command runs with the application wired (notices, escalation cycles)
    if db:
        STATE["db"] = db


def main() -> None:
    # `--db URL` may stand anywhere on the line (as the examples put it): hoist it to the root.
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg == "--db" and i + 1 < len(argv):
            argv = ["--db", argv[i + 1], *argv[:i], *argv[i + 2:]]
            break
        if arg.startswith("--db="):
            argv = [arg, *argv[:i], *argv[i + 1:]]
            break
    try:
        app(args=argv, prog_name="hazardloop")
    except HazardLoopError as exc:
        fail(exc)
    except OperationalError as exc:
        fail(f"数据库操作失败：{exc.orig}")

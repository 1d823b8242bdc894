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
from hazardloop.cli import parser
from hazardloop.cli.output import STATE, fail
from hazardloop.errors import HazardLoopError

# The command groups, in the order of `hazardloop --help`, and the words each puts on the command
# line.  A command imports only its own group's module: a query never loads the campaign, plan or
# Excel machinery (issue 15, start-up time).  tests/test_cli_clerk.py checks that this table names
# exactly what each module registers.
GROUPS: dict[str, tuple[str, ...]] = {
    "setup": ("init", "ref", "diagram", "demo"), "org": ("org",), "hazard": ("hazard",), "audit": ("audit",),
    "outbox": ("outbox",), "user": ("user",), "web": ("web",), "report": ("report",), "ledger": ("ledger",),
    "stats": ("stats", "redblack"), "inspection": ("inspection",), "bulletin": ("bulletin",),
    "escalation": ("sweep", "escalation"), "serve": ("serve",), "document": ("document",), "lagging": ("lagging",),
    "interview": ("interview",), "plan": ("plan",), "campaign": ("campaign",), "deploy": ("deploy",),
}
_MODULE_OF = {word: module for module, words in GROUPS.items() for word in words}


def _root(db: Annotated[Optional[str], typer.Option("--db", help="数据库 URL（默认 HAZARDLOOP_DATABASE_URL 或 $HAZARDLOOP_HOME/hazardloop.sqlite）")] = None) -> None:
    bootstrap()  # every command runs with the application wired (notices, escalation cycles)
    if db:
        STATE["db"] = db


def build(modules: tuple[str, ...] | list[str] = tuple(GROUPS)) -> typer.Typer:
    """A command line with these groups registered (all of them by default)."""
    from importlib import import_module

    one = typer.Typer(help="HazardLoop 重大事故隐患闭环管理", no_args_is_help=True,
                      pretty_exceptions_enable=False, add_completion=False)
    one.callback()(_root)
    for name in modules:
        import_module(f"hazardloop.cli.{name}").register(one)
    return one


_full: typer.Typer | None = None


def full_app() -> typer.Typer:
    global _full
    if _full is None:
        _full = build()
    return _full


def __getattr__(name: str):  # noqa: ANN202
    # `from hazardloop.cli import app` (tests, CliRunner) gets the whole command line, built on first use.
    if name == "app":
        return full_app()
    raise AttributeError(name)


def _app_for(argv: list[str]) -> typer.Typer:
    """The command line to run `argv`: the root with only the group or command it names.  typer turns
    every function signature into click parameters when it runs an app; doing that for one group, not
    all of them, is most of a quick command's start-up (issue 15).  Help and errors without a known
    command use the whole app, its groups' commands left out (_names_only)."""
    rest = argv[2:] if argv[:1] == ["--db"] else argv[1:] if argv and argv[0].startswith("--db=") else argv
    if not rest or rest[0].startswith("-") or rest[0] not in _MODULE_OF:
        return _names_only()
    word = rest[0]
    app = build([_MODULE_OF[word]])
    groups = [g for g in app.registered_groups if g.name == word]
    commands = [c for c in app.registered_commands
                if (c.name or c.callback.__name__.replace("_", "-")) == word]
    if not groups and not commands:
        return full_app()
    one = typer.Typer(help=app.info.help, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
    one.callback()(_root)
    one.registered_groups, one.registered_commands = [_only(g, rest[1:]) for g in groups], commands
    return one


def _names_only() -> typer.Typer:
    """The whole command line without the groups' own commands, for a line that names no command (the
    help page, a mistyped command): it lists every group and command by name and help, and typer does
    not turn the groups' 130 function signatures into click parameters for it (issue 15)."""
    import copy

    app = full_app()
    one = typer.Typer(help=app.info.help, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
    one.callback()(_root)
    one.registered_commands = app.registered_commands
    for group in app.registered_groups:
        bare = copy.copy(group.typer_instance)
        bare.registered_commands, bare.registered_groups = [], []
        clone = copy.copy(group)
        clone.typer_instance = bare
        one.registered_groups.append(clone)
    return one


def _only(group, rest: list[str]):  # noqa: ANN001, ANN202
    """The group with only the command `rest` names (`hazard list` builds list, not all twenty)."""
    import copy

    if not rest or rest[0].startswith("-"):
        return group
    inst = group.typer_instance
    cmds = [c for c in inst.registered_commands if (c.name or c.callback.__name__.replace("_", "-")) == rest[0]]
    subs = [g for g in inst.registered_groups if g.name == rest[0]]
    if not cmds and not subs:
        return group
    trimmed = copy.copy(inst)
    trimmed.registered_commands, trimmed.registered_groups = cmds, [_only(g, rest[1:]) for g in subs]
    clone = copy.copy(group)
    clone.typer_instance = trimmed
    return clone


def _shows_help(argv: list[str]) -> bool:
    """Whether this line prints a help page: --help, or only group names (a group without its command)."""
    if any(a in ("--help", "-h") for a in argv):
        return True
    rest = argv[2:] if argv[:1] == ["--db"] else argv[1:] if argv and argv[0].startswith("--db=") else argv
    if not rest:
        return True
    if rest[0] not in _MODULE_OF:
        return False
    node = build([_MODULE_OF[rest[0]]])
    for word in rest:
        groups = {g.name: g.typer_instance for g in node.registered_groups}
        if word not in groups:
            return False
        node = groups[word]
    return True


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
    if _shows_help(argv):
        parser.chinese_help()
    try:
        # standalone_mode=False: the parser's errors come here, to be told in Chinese (parser.usage_error).
        code = _app_for(argv)(args=argv, prog_name="hazardloop", standalone_mode=False)
    except parser.NoArgsIsHelpError as exc:
        parser.chinese_help()
        typer.echo(exc.ctx.get_help())  # typer's rich help prints itself and returns ""
        raise SystemExit(2) from None
    except parser.UsageError as exc:
        parser.usage_error(exc)
    except typer.Abort:
        fail("已取消。")
    except parser.ClickError as exc:
        fail(parser.click_message(exc), exc.exit_code)
    except HazardLoopError as exc:
        fail(exc)
    except OperationalError as exc:
        fail(f"数据库操作失败：{exc.orig}")
    # As click's standalone mode did: the process always ends through SystemExit (callers rely on it).
    raise SystemExit(code if isinstance(code, int) else 0)

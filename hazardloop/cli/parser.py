"""Parser and usage errors, and the help page's own words, in Chinese (issue 15).

The one module that reaches into typer's internals.  Since 0.26 typer carries its own copy of
click (`typer._click`) and exports only `BadParameter`, `Abort`, `Exit` and `TyperException`
(the base of click's exceptions); its maintainers ask that `typer._click` not be used
(fastapi/typer discussions #1816, #1832), and a `click` installed beside it is another
library whose exceptions typer never raises.  What this module needs and typer does not
offer: which usage error it got (a missing or unknown option, a group called without its
command) to word it in Chinese, and the help page's words (`Usage:`, `--help`'s text,
the panel titles in `typer.rich_utils`).  So: typer is pinned in pyproject.toml, nothing
else imports `typer._click` or `typer.rich_utils` (tests/test_wiring.py checks it), and
tests/test_cli_clerk.py checks the public behaviour through the real entry point.
"""

from __future__ import annotations

import re
from typing import Any

import typer
from typer._click import core as _core
from typer._click import exceptions as _exceptions
from typer._click.formatting import HelpFormatter as _HelpFormatter

from hazardloop.cli.output import err_console

UsageError = _exceptions.UsageError  # a parser error: exit 2
NoArgsIsHelpError = _exceptions.NoArgsIsHelpError  # a group without its command: print its help
ClickError = typer.TyperException  # public: the base of every error the parser raises

# click words its errors in English; main() runs the app with standalone_mode=False, catches them
# and tells them here: the usage line, the error, where the help is.  Exit 2, as click does.
_CLICK_MESSAGES = (
    (r"^'?(.*?)'? is not a valid integer(?: range)?\.?$", "「{0}」不是整数"),
    (r"^'?(.*?)'? is not a valid float(?: range)?\.?$", "「{0}」不是数字"),
    (r"^'?(.*?)'? is not a valid boolean\.?$", "「{0}」不是是/否值"),
    (r"^'?(.*?)'? is not one of (.*)\.$", "「{0}」不是可用的值之一：{1}"),
    (r"^(?:File|Path|Directory) '?(.*?)'? does not exist\.?$", "路径「{0}」不存在"),
    (r"^No such command '?(.*?)'?\.(?: Did you mean '?(.*?)'?\?)?$", "没有命令「{0}」{1}"),
    (r"^Got unexpected extra argument(?:s|\(s\))? \((.*)\)$", "多余的参数：{0}"),
    (r"^Input should be a valid integer.*$", "应为整数"),
    (r"^Input should be a valid number.*$", "应为数字"),
    (r"^Input should be a valid boolean.*$", "应为是/否值"),
    (r"^Option '?(.*?)'? requires an argument\.$", "选项 {0} 需要一个值"),
    (r"^Option '?(.*?)'? requires (\d+) arguments\.$", "选项 {0} 需要 {1} 个值"),
    (r"^Option '?(.*?)'? does not take a value\.$", "选项 {0} 不带值"),
    (r"^Missing command\.$", "缺少子命令"),
)


def click_message(exc: Exception) -> str:
    """The Chinese text of a parser error (our own BadParameter messages are Chinese already)."""
    if isinstance(exc, _exceptions.NoSuchOption):
        text = f"没有选项 {exc.option_name}"
        if exc.possibilities:
            text += "；是不是要用：" + "、".join(sorted(exc.possibilities))
        return text
    if isinstance(exc, _exceptions.MissingParameter) and exc.param is not None:
        p = exc.param
        if getattr(p, "param_type_name", "") == "option":
            helptext = f"（{p.help}）" if p.help else ""
            return f"缺少选项 {'/'.join(p.opts)}{helptext}"
        helptext = f"（{p.help}）" if getattr(p, "help", None) else ""
        return f"缺少参数 {(p.metavar or p.name or '').upper()}{helptext}"
    message = exc.message if hasattr(exc, "message") else str(exc)
    for pattern, chinese in _CLICK_MESSAGES:
        m = re.match(pattern, message.strip())
        if m:
            groups = [g or "" for g in m.groups()]
            if "没有命令" in chinese and groups[1]:
                groups[1] = f"；是不是要用「{groups[1]}」"
            message = chinese.format(*groups)
            break
    if isinstance(exc, typer.BadParameter):
        hint = exc.param_hint
        if hint is None and exc.param is not None:
            hint = "/".join(getattr(exc.param, "opts", ())) or (exc.param.name or "").upper()
        if isinstance(hint, (list, tuple)):
            hint = "/".join(hint)
        return f"{hint} 的值无效：{message}" if hint else message
    return message


def _chinese_usage(text: str) -> str:
    return (text.replace("Usage:", "用法：").replace("[OPTIONS]", "[选项]").replace("COMMAND [ARGS]...", "命令 [参数]...")
            .strip())


def usage_error(exc: Any) -> None:
    """Print a parser error in Chinese on stderr and exit 2."""
    chinese_help()  # the usage line's own words
    ctx = exc.ctx
    if ctx is not None:
        err_console.print(_chinese_usage(ctx.get_usage()), highlight=False, markup=False)
    err_console.print(f"[bold red]错误：[/]{click_message(exc)}", highlight=False)
    if ctx is not None:
        err_console.print(f"帮助：{ctx.command_path} --help", highlight=False, markup=False)
    raise SystemExit(2)


def chinese_help() -> None:
    """The help pages' own words in Chinese (only when help is shown: typer.rich_utils is not cheap)."""
    from typer import rich_utils

    rich_utils.ARGUMENTS_PANEL_TITLE = "参数"
    rich_utils.OPTIONS_PANEL_TITLE = "选项"
    rich_utils.COMMANDS_PANEL_TITLE = "命令"
    rich_utils.ERRORS_PANEL_TITLE = "错误"
    rich_utils.DEFAULT_STRING = "[默认：{}]"
    rich_utils.REQUIRED_LONG_STRING = "[必填]"
    rich_utils.RICH_HELP = "帮助：[blue]{command_path} {help_option}[/]"

    class Formatter(_HelpFormatter):
        def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
            super().write_usage(prog, _chinese_usage(args), "用法：" if prefix is None else prefix)

    _core.Context.formatter_class = Formatter
    if not getattr(_core.Command.get_help_option, "_chinese", False):
        original = _core.Command.get_help_option

        def get_help_option(self: Any, ctx: Any) -> Any:
            opt = original(self, ctx)
            if opt is not None:
                opt.help = "显示本帮助并退出"
            return opt

        get_help_option._chinese = True  # type: ignore[attr-defined]
        _core.Command.get_help_option = get_help_option  # type: ignore[method-assign]

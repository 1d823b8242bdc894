"""`hazardloop org`: enterprises and users from a YAML file."""

from __future__ import annotations

from pathlib import Path

import typer

from hazardloop.cli.output import Json, console, print_json, unit_of_work

org_app = typer.Typer(help="企业与用户", no_args_is_help=True)


@org_app.command("load")
def org_load(file: Path, json_out: Json = False) -> None:
    """从 YAML 文件导入企业和用户（格式见 README）。"""
    from hazardloop.models.orgs import load_orgs

    with unit_of_work() as session:
        added = load_orgs(session, file)
    if json_out:
        print_json(added)
    else:
        console.print(f"已导入：企业 {added['enterprises']} 家，用户 {added['users']} 人（新增或更新）。")


def register(app: typer.Typer) -> None:
    app.add_typer(org_app, name="org")

"""Roles and the hazard vocabulary shared by the machine, the CLI and the pages."""

from __future__ import annotations

from enum import StrEnum

from hazardloop.config import labels


class Role(StrEnum):
    enterprise = "enterprise"  # 企业安全管理人员: reports, plans and submits for its own enterprise
    inspector = "inspector"  # 督导检查人员
    public = "public"  # 群众
    township = "township"  # 镇街区 officer (属地)
    supervisor = "supervisor"  # 行业监管部门
    committee = "committee"  # 市安委办
    system = "system"  # the engine's own flows (sweeps, dispatch)


ROLE_NAMES = {Role(code): name for code, name in labels.ROLES.items()}

STATE_NAMES = labels.STATES

TRIGGER_NAMES = labels.TRIGGERS

# The dismissal reason a merge writes; only a hazard dismissed with it (and its live merge record) may reopen.
MERGED_PREFIX = "重复隐患，已合并至 "

CHANNELS = labels.CHANNELS

LEVELS = labels.LEVELS

# Which reporting channel each role may use.
REPORT_CHANNELS = {
    Role.enterprise: {"self_inspection"},
    Role.inspector: {"inspection"},
    Role.public: {"public_report"},
    Role.township: {"inspection"},
    Role.supervisor: {"inspection", "assigned", "public_report"},  # records hazards from reports it verified
    Role.committee: {"inspection", "assigned", "public_report"},
}

PLAN_PARTS = labels.PLAN_PARTS


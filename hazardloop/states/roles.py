"""Roles and the hazard vocabulary shared by the machine, the CLI and the pages."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    enterprise = "enterprise"  # 企业安全管理人员: reports, plans and submits for its own enterprise
    inspector = "inspector"  # 督导检查人员
    public = "public"  # 群众
    township = "township"  # 镇街区 officer (属地)
    supervisor = "supervisor"  # 行业监管部门
    committee = "committee"  # 市安委办
    system = "system"  # the engine's own flows (sweeps, dispatch)


ROLE_NAMES = {
    Role.enterprise: "企业安全管理人员",
    Role.inspector: "督导检查人员",
    Role.public: "群众",
    Role.township: "镇街区工作人员",
    Role.supervisor: "行业监管部门",
    Role.committee: "市安委办",
    Role.system: "系统",
}

STATE_NAMES = {
    "found": "已发现",
    "listed": "已挂牌",
    "rectifying": "整改中",
    "reviewed": "待审核",
    "closed": "已销号",
    "dismissed": "已排除",
}

TRIGGER_NAMES = {
    "confirm": "确认挂牌",
    "dismiss": "排除",
    "start_rectification": "提交整改方案",
    "extend": "延期",
    "submit": "提交整改完成",
    "approve": "审核销号",
    "reject": "驳回",
    "reopen": "撤销合并恢复",
    "close_imported": "导入历史销号",
}

# The dismissal reason a merge writes; only a hazard dismissed with it (and its live merge record) may reopen.
MERGED_PREFIX = "重复隐患，已合并至 "

CHANNELS = {
    "self_inspection": "企业自查",
    "inspection": "督导检查",
    "public_report": "群众举报查实",
    "assigned": "上级交办",
}

LEVELS = {"city": "市级", "taian": "泰安市级", "province": "省级"}

# Which reporting channel each role may use.
REPORT_CHANNELS = {
    Role.enterprise: {"self_inspection"},
    Role.inspector: {"inspection"},
    Role.public: {"public_report"},
    Role.township: {"inspection"},
    Role.supervisor: {"inspection", "assigned", "public_report"},  # records hazards from reports it verified
    Role.committee: {"inspection", "assigned", "public_report"},
}

PLAN_PARTS = {
    "responsible_person": "责任人",
    "measures": "措施",
    "funds": "资金",
    "deadline": "时限",
    "emergency_plan": "预案",
}

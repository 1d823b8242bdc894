"""The one table of Chinese labels: every word a person reads for a stored code.

Storage and --json keep the English codes; the CLI, the web pages, the Excel sheets
and the documents take the names from here, so a wording change is one edit and no
screen shows a code.  `label(table, code)` falls back to the code itself, so a new
code is visible (and a test can find it) rather than blank.
"""

from __future__ import annotations

ROLES = {
    "enterprise": "企业安全管理人员",
    "inspector": "督导检查人员",
    "public": "群众",
    "township": "镇街区工作人员",
    "supervisor": "行业监管部门",
    "committee": "市安委办",
    "system": "系统",
}

# The hazard card's states and the triggers of its machine.
STATES = {
    "found": "已发现",
    "listed": "已挂牌",
    "rectifying": "整改中",
    "reviewed": "待审核",
    "closed": "已销号",
    "dismissed": "已排除",
}
TRIGGERS = {
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

CHANNELS = {
    "self_inspection": "企业自查",
    "inspection": "督导检查",
    "public_report": "群众举报查实",
    "assigned": "上级交办",
}

LEVELS = {"city": "市级", "taian": "泰安市级", "province": "省级"}

PLAN_PARTS = {
    "responsible_person": "责任人",
    "measures": "措施",
    "funds": "资金",
    "deadline": "时限",
    "emergency_plan": "预案",
}

# Public reports (举报): their own machine.
REPORT_STATES = {
    "received": "已收到", "accepted": "已受理", "not_accepted": "不予受理", "verifying": "核查中",
    "verified": "已核查", "feedback_given": "已反馈", "reward_decided": "奖励已核定", "paid": "奖励已兑付",
}
REPORT_TRIGGERS = {
    "accept": "受理", "decline": "不予受理", "start_verification": "开始核查", "extend_verification": "延长核查期限",
    "verify": "核查结论", "give_feedback": "反馈举报人", "decide_reward": "核定奖励", "pay": "兑付奖励",
}
VERDICTS = {"true": "属实", "partly": "部分属实", "false": "不属实"}

# Escalation (督查督办): kinds of step, the default steps' names (a policy file may name its
# own; these are for codes shown without their policy), the status of a step row, the stages
# a hazard can be stuck in, the kinds of lagging unit.
ESCALATION_KINDS = {"reminder": "提醒", "letter": "函告", "bulletin": "通报", "interview": "约谈", "exposure": "曝光",
                    "timeout": "环节超时提醒"}
ESCALATION_STEPS = {
    "reminder": "到期提醒", "notice_letter": "提示函", "warning_letter": "警示函", "supervision_letter": "督办函",
    "bulletin": "通报", "interview": "约谈会", "exposure": "曝光",
    "found_timeout": "未判定超时提醒", "listed_timeout": "未提交整改方案超时提醒",
    "letter": "函告",
}
STEP_STATUS = {"issued": "已发出", "proposed": "待审批", "approved": "已批准并发出", "declined": "不予批准"}
STAGES = {"found": "已发现（未判定）", "listed": "已挂牌（未提交整改方案）"}
UNIT_KINDS = {"region": "镇街区", "department": "行业监管部门"}
LAG_STEP_KINDS = {"letter": "函告", "bulletin": "通报", "interview": "约谈", "exposure": "曝光"}

# Every audit action, as the trail shows it.  The machine's triggers are actions too.
AUDIT_ACTIONS = {
    **TRIGGERS,
    "report": "上报隐患",
    "reject": "驳回整改",
    "extend": "批准延期",
    "evidence": "上传整改材料",
    "extension_requested": "申请延期",
    "extension_denied": "不批准延期",
    "edit": "修改隐患信息",
    "merge": "合并重复隐患",
    "unmerge": "撤销合并",
    "enterprise_upsert": "登记企业",
    "user_upsert": "登记用户",
    "ledger_import": "导入明细表",
    "ledger_export": "导出明细表",
    "inspection_recorded": "记录主要负责人带队检查",
    "bulletin_issued": "签发月通报",
    "escalation_issued": "出具督办措施",
    "escalation_proposed": "提请审批督办措施",
    "escalation_approved": "批准曝光",
    "escalation_declined": "不予批准曝光",
    "stage_timeout": "环节超时提醒",
    "lag_evaluated": "落后单位月度考核",
    "lag_step_issued": "落后单位督办",
    "lag_step_proposed": "提请审批落后单位曝光",
    "lag_step_approved": "批准曝光落后单位",
    "lag_step_declined": "不予批准曝光落后单位",
    "report_submit": "登记举报",
    "report_accept": "受理",
    "report_decline": "不予受理",
    "report_start_verification": "开始核查",
    "report_extend_verification": "延长核查期限",
    "report_verify": "核查结论",
    "report_link": "关联隐患",
    "report_give_feedback": "反馈举报人",
    "report_decide_reward": "核定奖励",
    "report_pay": "兑付奖励",
    "report_identity_read": "查看举报人身份",
    "report_sweep": "举报核查期限检查",
}

# --- the clerk's command line (issue 15): codes a person may type as Chinese -------------------
OUTBOX_STATUS = {"pending": "待发送", "sending": "发送中", "retry": "待重试", "sent": "已发送", "dead": "死信",
                 "undeliverable": "无法送达"}
REPORT_VIA = {"platform": "平台", "phone": "电话", "letter": "信件", "visit": "来访"}
REWARD_RULES = {"shandong": "山东省规则（鲁应急发〔2021〕3号）", "national": "国家规则（安监总财〔2018〕19号）"}
REWARD_KINDS = {"major": "重大隐患或违法行为", "ordinary": "一般隐患"}
STATS_BY = {"region": "镇街区", "industry": "行业", "channel": "渠道", "level": "督办级别", "state": "状态"}
EXTENSION_STATUS = {"pending": "待审批", "approved": "已批准", "denied": "不予批准"}
# The outbox: what a notice is about, to whom, by which channel.
NOTICE_EVENTS = {
    "reported": "隐患记到企业名下", "listed": "挂牌督办通知", "plan_accepted": "整改方案已受理",
    "extension_requested": "延期申请待审批", "extension_decided": "延期审批结果", "rejected": "整改被驳回",
    "closed": "已销号", "submitted": "整改完成待审核", "dismissed": "已排除", "reopened": "撤销合并恢复",
    "closed_imported": "导入历史销号", "escalation": "督办措施", "inspection_reminder": "带队检查提醒",
    "bulletin": "月通报", "lag_escalation": "落后单位督办", "lag_proposed": "落后单位曝光待审批",
    "stage_timeout": "环节超时提醒", "escalation_proposed": "曝光待审批", "digest": "汇总通知",
}
RECIPIENT_ROLES = {"principal": "主要负责人", "controller": "实际控制人", "safety_manager": "安全管理人员",
                   "township": "镇街区", "department": "行业监管部门", "committee": "市安委办", "reporter": "举报人"}
DELIVERY_CHANNELS = {"email": "电子邮件", "sms": "短信", "file": "文件", "dingtalk": "钉钉", "wecom": "企业微信",
                     "webhook": "Webhook"}
DELIVERY_RESULTS = {"SUCCESS": "成功", "FAILURE": "失败", "success": "成功", "failure": "失败"}
# What a person reads for a field of a record (hazard show, report show, outbox show).
FIELDS = {
    "code": "编号", "title": "隐患名称", "description": "描述", "location": "部位", "channel": "发现渠道",
    "state": "状态", "enterprise": "企业", "region": "镇街区", "industry": "行业", "basis": "判定依据",
    "level": "督办级别", "supervising_department": "督办部门", "deadline": "整改时限", "days_overdue": "逾期天数",
    "cycle": "督办周期", "reported_by": "上报人", "confirmed_by": "确认人", "submitted_by": "提交人",
    "closed_by": "销号人", "created_at": "登记时间", "updated_at": "更新时间", "version": "版本",
}

TABLES: dict[str, dict[str, str]] = {
    "role": ROLES, "state": STATES, "trigger": TRIGGERS, "channel": CHANNELS, "level": LEVELS,
    "plan_part": PLAN_PARTS, "report_state": REPORT_STATES, "report_trigger": REPORT_TRIGGERS,
    "verdict": VERDICTS, "escalation_kind": ESCALATION_KINDS, "escalation_step": ESCALATION_STEPS,
    "step_status": STEP_STATUS, "stage": STAGES, "unit_kind": UNIT_KINDS, "lag_step_kind": LAG_STEP_KINDS,
    "audit_action": AUDIT_ACTIONS,
    "outbox_status": OUTBOX_STATUS, "report_via": REPORT_VIA, "reward_rule": REWARD_RULES,
    "reward_kind": REWARD_KINDS, "stats_by": STATS_BY, "extension_status": EXTENSION_STATUS, "field": FIELDS,
    "notice_event": NOTICE_EVENTS, "recipient_role": RECIPIENT_ROLES, "delivery_channel": DELIVERY_CHANNELS,
    "delivery_result": DELIVERY_RESULTS,
}


def label(table: str, code: str | None) -> str:
    """The Chinese name of `code` in `table` (the code itself when unknown; '' for None)."""
    if code is None:
        return ""
    return TABLES[table].get(str(code), str(code))


def _key(text: str) -> str:
    # Typed names come with stray spaces, full-width letters or brackets; compare them folded.
    import unicodedata

    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


def resolve(table: str, text: str | None, what: str = "取值") -> str | None:
    """The code for `text` in `table`: the code itself or its Chinese name (case, width and spaces
    ignored).  None stays None.  Unknown: ValidationError naming every accepted value."""
    if text is None:
        return None
    names = TABLES[table]
    wanted = _key(str(text))
    for code, name in names.items():
        if wanted in (_key(code), _key(name)):
            return code
    from hazardloop.errors import ValidationError

    raise ValidationError(f"不认识的{what}「{text}」；可用：{accepted(table)}")


def accepted(table: str) -> str:
    """'整改中（rectifying）、…' — every value of `table` a person may type."""
    return "、".join(f"{name}（{code}）" for code, name in TABLES[table].items())

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
    "review_imported": "导入销号送审",
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
    "user_sign_in_opened": "开通登录账户",
    "enterprise_edited": "修改企业信息",
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
    "plan_loaded": "载入行动计划",
    "plan_task_added": "新增计划任务",
    "plan_submit_plan": "报送子方案",
    "plan_approve_plan": "审核备案子方案",
    "plan_return_plan": "退回子方案",
    "task_start": "任务开始推进",
    "task_report_done": "任务报告完成",
    "task_verify": "任务核验办结",
    "task_return_task": "任务退回",
    "task_monthly_report": "月调度报送",
    "task_evidence": "上传任务佐证材料",
    "plan_lag_evaluated": "计划任务月度考核",
    "plan_step_issued": "计划任务督办",
    "plan_step_proposed": "提请审批计划任务督办",
    "plan_step_approved": "批准计划任务督办",
    "plan_step_declined": "不予批准计划任务督办",
    "quarterly_issued": "签发季度会商研判报告",
    "quarterly_concluded": "记录会商结论和措施",
    "plan_reminded": "提醒报送月调度",
    "plan_filing_reminded": "提醒报送子方案",
}

# Ledger import (issue 16): how a closed hazard was closed, and the holding values the office resolves.
CLOSE_KINDS = {"imported": "导入销号", "reviewed": "审核销号"}
INTAKE_ACTIONS = {"holding_resolved": "确认待定的镇街区或行业", "query_code_issued": "生成举报查询码",
                  "report_status_read": "举报人查询办理情况"}
AUDIT_ACTIONS.update(INTAKE_ACTIONS)
# Issue 14 (escalation a regulator can sign): withdrawn proposals, forced future runs, stage-timeout
# ladder, 约谈会 records, 集中曝光 通告, basis overrides, the calendar file.
STEP_STATUS["withdrawn"] = "已撤回（周期结束）"
STEP_STATUS["skipped"] = "过期未发"  # a catch-up 到期提醒 after its deadline
AUDIT_ACTIONS.update({
    "escalation_withdrawn": "撤回督办待审批事项",
    "escalation_skipped": "跳过已过期的到期提醒",
    "lag_step_withdrawn": "撤回落后单位待审批事项",
    "future_run_forced": "强制按未来日期执行",
    "basis_override": "判定依据与行业不符（市安委办认可）",
    "interview_recorded": "记录约谈会",
    "interview_commitment_checked": "约谈承诺事项核验",
    "notice_issued": "签发集中曝光/挂牌通告",
    "calendar_missing_warned": "提醒补录次年节假日安排",
})
INTERVIEW_OUTCOMES = {"held": "已召开", "not_held": "未召开（企业未到会）", "postponed": "延期召开"}
COMMITMENT_STATUS = {"open": "未到期", "met": "已兑现", "missed": "逾期未兑现"}
# Special campaigns (五项整治, issue 19): check results, the problems' (问题隐患) machine, their ladder.
CHECK_RESULTS = {"met": "符合", "not_met": "不符合", "na": "不适用"}
PROBLEM_STATES = {"found": "已发现", "rectifying": "整改中", "rectified": "已整改待验收", "closed": "已验收销号",
                  "raised": "已升级为重大事故隐患"}
PROBLEM_TRIGGERS = {"assign": "交办整改", "rectify": "报告整改完成", "verify": "验收销号", "reject": "验收不通过",
                    "raise_major": "升级为重大事故隐患"}
PROBLEM_STEPS = {"reminder": "到期提醒", "overdue_notice": "逾期催办", "supervision": "问题隐患督办通知"}
AUDIT_ACTIONS.update({
    "campaign_object_add": "登记专项整治台账对象", "campaign_object_edit": "修改专项整治台账对象",
    "campaign_import": "导入专项整治台账", "campaign_baseline": "设定专项整治底数",
    "campaign_check": "专项整治检查", "problem_found": "发现问题隐患", "problem_assign": "交办问题隐患整改",
    "problem_evidence": "上传问题隐患整改照片", "problem_rectify": "报告问题隐患整改完成",
    "problem_verify": "验收问题隐患销号", "problem_reject": "问题隐患验收不通过",
    "problem_raise_major": "问题隐患升级为重大事故隐患", "problem_step_issued": "问题隐患督办",
})
# --- the action-plan loop (issue 18: plans, tasks, 月调度, plan-work ladder, 季度会商研判) ---
TASK_STATES = {
    "not_started": "未开始",
    "in_progress": "推进中",
    "reported": "已报完成",
    "verified": "已核验办结",
    "returned": "已退回",
}
TASK_TRIGGERS = {
    "start": "开始推进",
    "report_done": "报告完成",
    "verify": "核验办结",
    "return_task": "退回",
}
FILING_STATES = {
    "draft": "未报送",
    "submitted": "已报送待审核",
    "approved": "已审核备案",
    "returned": "已退回修改",
}
FILING_TRIGGERS = {
    "submit_plan": "报送子方案",
    "approve_plan": "审核备案",
    "return_plan": "退回修改",
}
PLAN_UNIT_KINDS = {"department": "部门单位", "region": "镇街区"}
PLAN_STEP_KINDS = {
    "reminder": "督促提醒",
    "letter": "函告",
    "bulletin": "通报",
    "interview": "约谈",
    "exposure": "曝光",
    "referral": "追责问责移交",
}
PLAN_PROBLEMS = {
    "overdue_task": "任务逾期未完成",
    "missing_report": "未按时报送月调度",
    "late_report": "月调度报送迟于规定日",
    "filing_missing": "子方案未按期报送备案",
}
TASK_SOURCES = {"reference": "三年行动方案", "yaml": "计划文件", "excel": "任务分工表", "review": "季度会商研判"}
# --- the clerk's command line (issue 15): codes a person may type as Chinese -------------------
OUTBOX_STATUS = {"pending": "待发送", "sending": "发送中", "retry": "待重试", "sent": "已发送", "dead": "死信",
                 "undeliverable": "无法送达"}
REPORT_VIA = {"platform": "平台", "phone": "电话", "letter": "信件", "visit": "来访"}
# How a reporter asked to receive the feedback and the reward decision (the outbox channel of the same name).
FEEDBACK_CHANNELS = {"sms": "短信", "email": "电子邮件"}
REWARD_RULES = {"shandong": "山东省规则（鲁应急发〔2021〕3号）", "national": "国家规则（安监总财〔2018〕19号）"}
REWARD_KINDS = {"major": "重大隐患或违法行为", "ordinary": "一般隐患"}
STATS_BY = {"region": "镇街区", "industry": "行业", "channel": "渠道", "level": "督办级别", "state": "状态",
            "department": "监管部门"}
EXTENSION_STATUS = {"pending": "待审批", "approved": "已批准", "denied": "不予批准"}
# The outbox: what a notice is about, to whom, by which channel.
NOTICE_EVENTS = {
    "reported": "隐患记到企业名下", "listed": "挂牌督办通知", "plan_accepted": "整改方案已受理",
    "extension_requested": "延期申请待审批", "extension_decided": "延期审批结果", "rejected": "整改被驳回",
    "closed": "已销号", "submitted": "整改完成待审核", "dismissed": "已排除", "reopened": "撤销合并恢复",
    "closed_imported": "导入历史销号", "escalation": "督办措施", "inspection_reminder": "带队检查提醒",
    "bulletin": "月通报", "lag_escalation": "落后单位督办", "lag_proposed": "落后单位曝光待审批",
    "stage_timeout": "环节超时提醒", "escalation_proposed": "曝光待审批", "digest": "汇总通知",
    "plan_report_due": "提醒报送月调度", "plan_filing_due": "提醒报送子方案", "plan_escalation": "计划任务督办",
    "plan_proposed": "计划任务督办待审批",
    "reporter_feedback": "举报办理结果反馈", "reporter_reward": "举报奖励决定",
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

# What loading an org file (or editing an enterprise) does to a record, and the fields it changes.
ORG_CHANGES = {"add": "新增", "update": "更新", "same": "不变"}
ORG_FIELDS = {
    "name": "名称", "credit_code": "统一社会信用代码", "region_code": "镇街区", "industry_code": "行业领域",
    "address": "地址", "principal": "主要负责人", "principal_phone": "主要负责人电话", "controller": "实际控制人",
    "controller_phone": "实际控制人电话", "safety_manager": "安全管理人员", "safety_manager_phone": "安全管理人员电话",
    "contacts": "其他联系方式", "username": "用户名", "role": "角色", "enterprise_id": "所属企业",
    "department_code": "部门", "phone": "电话", "email": "电子邮箱",
}

TABLES: dict[str, dict[str, str]] = {
    "role": ROLES, "state": STATES, "trigger": TRIGGERS, "channel": CHANNELS, "level": LEVELS,
    "plan_part": PLAN_PARTS, "report_state": REPORT_STATES, "report_trigger": REPORT_TRIGGERS,
    "verdict": VERDICTS, "escalation_kind": ESCALATION_KINDS, "escalation_step": ESCALATION_STEPS,
    "step_status": STEP_STATUS, "stage": STAGES, "unit_kind": UNIT_KINDS, "lag_step_kind": LAG_STEP_KINDS,
    "audit_action": AUDIT_ACTIONS,
    "close_kind": CLOSE_KINDS,
    "interview_outcome": INTERVIEW_OUTCOMES, "commitment_status": COMMITMENT_STATUS,
    "check_result": CHECK_RESULTS, "problem_state": PROBLEM_STATES, "problem_trigger": PROBLEM_TRIGGERS,
    "problem_step": PROBLEM_STEPS,
    "task_state": TASK_STATES, "task_trigger": TASK_TRIGGERS, "filing_state": FILING_STATES,
    "filing_trigger": FILING_TRIGGERS, "plan_unit_kind": PLAN_UNIT_KINDS, "plan_step_kind": PLAN_STEP_KINDS,
    "plan_problem": PLAN_PROBLEMS, "task_source": TASK_SOURCES,
    "outbox_status": OUTBOX_STATUS, "report_via": REPORT_VIA, "feedback_channel": FEEDBACK_CHANNELS,
    "reward_rule": REWARD_RULES,
    "reward_kind": REWARD_KINDS, "stats_by": STATS_BY, "extension_status": EXTENSION_STATUS, "field": FIELDS,
    "notice_event": NOTICE_EVENTS, "recipient_role": RECIPIENT_ROLES, "delivery_channel": DELIVERY_CHANNELS,
    "delivery_result": DELIVERY_RESULTS, "org_change": ORG_CHANGES, "org_field": ORG_FIELDS,
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

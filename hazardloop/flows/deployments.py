"""The deployments `hazardloop serve` runs; other features add theirs with `register`.

    from hazardloop.flows.deployments import register

    @register
    def _mine():
        return [my_flow.to_deployment(name="...", schedules=[Cron("0 9 * * *", timezone=TZ)])]

Schedules are in Asia/Shanghai.  Cron cannot know China's make-up workdays (调休),
so the escalation flows run every day at their hour and skip non-working days
themselves (hazardloop.config.calendar).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TZ = "Asia/Shanghai"

DeploymentFactory = Callable[[], list[Any]]
_factories: list[DeploymentFactory] = []


def register(factory: DeploymentFactory) -> DeploymentFactory:
    if factory not in _factories:
        _factories.append(factory)
    return factory


@register
def escalation_deployments() -> list[Any]:
    from prefect.schedules import Cron

    from hazardloop.flows.escalation import escalation_sweep_flow, stage_timeout_flow

    return [
        escalation_sweep_flow.to_deployment(
            name="daily-escalation-sweep", schedules=[Cron("0 8 * * *", timezone=TZ)],
            description="每日 08:00（北京时间，工作日）督办扫描：逾期隐患按督办阶梯出具函件、通报、约谈通知。",
            tags=["hazardloop", "escalation"]),
        stage_timeout_flow.to_deployment(
            name="stage-timeout-check", schedules=[Cron("30 8 * * *", timezone=TZ)],
            description="每日 08:30（工作日）环节超时提醒：未判定、未提交整改方案超时。",
            tags=["hazardloop", "escalation"]),
    ]


@register
def dispatch_deployments() -> list[Any]:
    from hazardloop.flows.dispatch import deployments

    return deployments()


@register
def inspection_deployments() -> list[Any]:
    from hazardloop.flows.inspections import deployments

    return deployments()


@register
def lagging_deployments() -> list[Any]:
    from hazardloop.flows.lagging import deployments

    return deployments()


@register
def bulletin_deployments() -> list[Any]:
    from hazardloop.flows.bulletin import deployments

    return deployments()


@register
def campaign_deployments() -> list[Any]:
    from hazardloop.flows.campaigns import deployments

    return deployments()


@register
def plan_deployments() -> list[Any]:
    from hazardloop.flows.plans import deployments

    return deployments()


@register
def audit_deployments() -> list[Any]:
    from hazardloop.flows.audit import deployments

    return deployments()


def all_deployments() -> list[Any]:
    """Every registered deployment (RunnerDeployment objects), in registration order."""
    return [d for factory in _factories for d in factory()]

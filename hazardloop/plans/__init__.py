"""The annual action plans (年度行动计划) and their tasks: loading (YAML, Excel task-division
sheets), sub-plan filing, the task lifecycle, monthly reports (月调度), the 挂图作战 chart."""

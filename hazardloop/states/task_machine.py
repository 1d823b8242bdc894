"""The action-plan task lifecycle and the sub-plan filing, two machines built like the
hazard's and the public report's (states.lifecycle).

Task:
    not_started ─start─▶ in_progress ─report_done─▶ reported ─verify─▶ verified
         └──────────report_done──────────────────▲      │ return_task (reason)
                                  returned ───report_done┘◀──────┘

"overdue" is not a state: a task is overdue when its deadline has passed and it is
neither reported done nor verified (plans.tasks.is_overdue).

Filing (子方案审核备案):
    draft ─submit_plan─▶ submitted ─approve_plan─▶ approved
                             │ return_plan (reason)
                             ▼
                          returned ─submit_plan─▶ submitted
"""

from __future__ import annotations

from hazardloop.config import labels
from hazardloop.states import plan_guards
from hazardloop.states.lifecycle import Lifecycle

TASK_STATES = ["not_started", "in_progress", "reported", "verified", "returned"]
TASK_TERMINAL = {"verified"}
OPEN_STATES = ("not_started", "in_progress", "returned")  # the lead unit still owes the work
TASK_TRANSITIONS = [
    {"trigger": "start", "source": "not_started", "dest": "in_progress"},
    {"trigger": "report_done", "source": "not_started", "dest": "reported"},
    {"trigger": "report_done", "source": "in_progress", "dest": "reported"},
    {"trigger": "report_done", "source": "returned", "dest": "reported"},
    {"trigger": "verify", "source": "reported", "dest": "verified"},
    {"trigger": "return_task", "source": "reported", "dest": "returned"},
]

FILING_STATES = ["draft", "submitted", "approved", "returned"]
FILING_TRANSITIONS = [
    {"trigger": "submit_plan", "source": "draft", "dest": "submitted"},
    {"trigger": "submit_plan", "source": "returned", "dest": "submitted"},
    {"trigger": "approve_plan", "source": "submitted", "dest": "approved"},
    {"trigger": "return_plan", "source": "submitted", "dest": "returned"},
]

TASK = Lifecycle(
    noun="任务", states=TASK_STATES, initial="not_started", terminal=TASK_TERMINAL, transitions=TASK_TRANSITIONS,
    guards=plan_guards.TASK_GUARDS, state_names=labels.TASK_STATES, trigger_names=labels.TASK_TRIGGERS,
    none_allowed="无（已办结）", guard_prefix="task_guard",
)
FILING = Lifecycle(
    noun="子方案", states=FILING_STATES, initial="draft", terminal={"approved"}, transitions=FILING_TRANSITIONS,
    guards=plan_guards.FILING_GUARDS, state_names=labels.FILING_STATES, trigger_names=labels.FILING_TRIGGERS,
    none_allowed="无（已审核备案）", guard_prefix="filing_guard",
)
MACHINE = TASK.machine
fire = TASK.fire
fire_filing = FILING.fire
mermaid = TASK.mermaid

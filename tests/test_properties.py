"""Property-based test of the hazard ledger (hypothesis stateful).

Random sequences of actions — report, confirm, dismiss, plan, evidence, submit,
approve, reject, extension request and decision, edit — by random people from
tests/data/org.yaml (wrong roles, wrong enterprises, the submitter trying to
approve included), each action its own unit of work through states.ledger.

After every action:
- a refused action raised a HazardLoopError subclass and changed nothing (no
  audit event, no row); an accepted one wrote exactly the audit events it should;
- the audit chain verifies;
- each hazard's state is the replay of its audited transitions;
- every closed hazard went through review and was approved by someone other
  than the person who submitted it.

Every example starts from a fresh database with the org file loaded.  SQLite
runs the bigger budget; PostgreSQL a smaller one.
"""

from __future__ import annotations

import itertools
import shutil
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from hazardloop.config import clock
from hazardloop.models import audit
from hazardloop.models.db import forget_engine, get_engine, session_scope, write_engine
from hazardloop.errors import HazardLoopError
from hazardloop.models.orgs import load_orgs
from hazardloop.models.tables import (
    AppUser,
    AuditEvent,
    AuditHead,
    Enterprise,
    Evidence,
    Extension,
    Hazard,
    RectificationPlan,
)
from hazardloop.intake import merge as merging
from hazardloop.models.intake import HazardMerge
from hazardloop.states import ledger
from hazardloop.states.machine import TRANSITIONS, replay
from hazardloop.states.roles import LEVELS
from tests.conftest import ORG_FILE, _empty_pg

TRIGGERS = {t["trigger"] for t in TRANSITIONS}
USERS = ["hd_safety", "hd_staff", "xy_safety", "inspector1", "citizen1", "town_shiheng", "sup_yingji",
         "sup_yingji2", "sup_zhujian", "office1", "office2"]
ENTERPRISES = {  # credit code -> its own staff in the org file (泰和 has none: nobody can plan for it)
    "91370983MA3C0001AY": ["hd_safety", "hd_staff"],  # 恒达化工, chemical, 应急局
    "91370983MA3C0002B3": ["xy_safety"],  # 鑫源机械, machinery, 应急局
    "91370983MA3C0003C7": [],  # 泰和建筑, construction, 住建局
}
# 恒达 most often: it has two staff (one may submit, the other not), 泰和 none.
ENTERPRISE_MIX = ["91370983MA3C0001AY"] * 3 + ["91370983MA3C0002B3"] * 2 + ["91370983MA3C0003C7"]
REGULATORS = {"yingji": ["sup_yingji", "sup_yingji2", "office1", "office2"],
              "zhujian": ["sup_zhujian", "office1", "office2"]}
BASIS = {"chemical": "CHEM121", "machinery": "MEM10", "construction": "CONSTR2"}
REPORTERS = {"self_inspection": None, "inspection": "inspector1", "public_report": "citizen1",
             "assigned": "office1"}
TITLES = ["液氨储罐区未设置泄漏报警装置", "粉尘除尘系统未设置锁气卸灰装置", "脚手架未按方案搭设", "", "   "]
VALID_TITLES = TITLES[:3] * 3 + TITLES[3:]
PLAN_PARTS = ["responsible_person", "measures", "funds", "emergency_plan"]

# who=None means "someone who plausibly may do this" (so hazards do get through their
# lifecycle); otherwise any user from the org file, right or wrong.
# Valid values are listed more than once: most attempts should be plausible, so
# that hazards move along and the wrong ones are the exception worth refusing.
who_st = st.one_of(st.none(), st.sampled_from(USERS))
pick_st = st.integers(min_value=0, max_value=7)
days_st = st.one_of(st.integers(min_value=1, max_value=90), st.integers(min_value=-3, max_value=0))
reason_st = st.sampled_from(["现场核查已整改到位", "设备到货延迟", "资料不全", "", None])


def _day(days: int | None) -> date | None:
    return None if days is None else clock.today() + timedelta(days=days)


class World:
    """One fresh database per example (SQLite: a copy of a template file; PostgreSQL:
    emptied and reloaded)."""

    def __init__(self, db, tmp_path: Path) -> None:  # noqa: ANN001
        self.db, self.tmp = db, tmp_path
        self.counter = itertools.count()
        self.url = db.url
        if db.kind == "sqlite":
            with db.session() as s:
                load_orgs(s, ORG_FILE)
                s.commit()
            forget_engine(db.url)  # closes the connections: the file is complete on its own
            self.template = tmp_path / "org-template.sqlite"
            shutil.copyfile(Path(db.engine.url.database), self.template)
        self.totals: Counter = Counter()  # what the examples did, over the whole run
        self.evidence = []
        for i, content in enumerate((b"photo of the fixed alarm", b"acceptance report")):
            path = tmp_path / f"evidence{i}.jpg"
            path.write_bytes(content)
            self.evidence.append(path)

    def fresh(self) -> str:
        if self.db.kind == "sqlite":
            path = self.tmp / f"example{next(self.counter)}.sqlite"
            shutil.copyfile(self.template, path)
            self.url = f"sqlite:///{path}"
        else:
            _empty_pg(get_engine(self.url))
            with session_scope(self.url) as s:
                load_orgs(s, ORG_FILE)
        return self.url

    def done(self) -> None:
        if self.db.kind == "sqlite":
            forget_engine(self.url)
            path = Path(make_url(self.url).database)
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)


REFUSED = object()


class LedgerMachine(RuleBasedStateMachine):
    world: World  # set by the test before the machine runs

    hazards = Bundle("hazards")
    extensions = Bundle("extensions")
    merges = Bundle("merges")

    def __init__(self) -> None:
        super().__init__()
        self.url = self.world.fresh()
        self.stats: Counter = Counter()
        with self._read() as s:
            self.people = {u.username: (u.role, u.enterprise_id, u.department_code)
                           for u in s.exec(select(AppUser)).all()}
            self.enterprise_ids = {e.credit_code: e.id for e in s.exec(select(Enterprise)).all()}

    def teardown(self) -> None:
        self.world.totals.update(self.stats)
        self.world.done()

    # --- plumbing -------------------------------------------------------------

    def _read(self) -> Session:
        return Session(get_engine(self.url), expire_on_commit=False)

    def _fingerprint(self) -> tuple:
        """Everything an action could change."""
        with self._read() as s:
            head = s.get(AuditHead, 1)
            return (
                head.seq, head.hash, s.exec(select(func.count()).select_from(AuditEvent)).one(),
                tuple(s.exec(select(Hazard.id, Hazard.state, Hazard.version, Hazard.cycle, Hazard.deadline,
                                    Hazard.title, Hazard.description, Hazard.location).order_by(Hazard.id)).all()),
                s.exec(select(func.count()).select_from(RectificationPlan)).one(),
                s.exec(select(func.count()).select_from(Evidence)).one(),
                tuple(s.exec(select(Extension.id, Extension.status).order_by(Extension.id)).all()),
            )

    def _hazard(self, hid: int) -> Hazard:
        with self._read() as s:
            return s.get(Hazard, hid)

    def _act(self, name: str, fn, expect: list[str], may: bool = True):  # noqa: ANN001, ANN202
        """One action as one unit of work.  Refused: HazardLoopError and nothing changed.
        Accepted: exactly the audit events `expect` were appended, and the actor was
        one the rules allow (`may`, worked out here independently of states.guards)."""
        before = self._fingerprint()
        with Session(write_engine(self.url), expire_on_commit=False) as s:
            try:
                result = fn(s)
                s.commit()
            except HazardLoopError as exc:
                s.rollback()
                assert str(exc), "a refusal must say why"
                after = self._fingerprint()
                assert after == before, f"refused {name} changed something: {exc}"
                self.stats[f"{name} refused ({type(exc).__name__})"] += 1
                return REFUSED
        assert may, f"{name} was accepted from someone the rules do not allow"
        self.stats[f"{name} ok"] += 1
        with self._read() as s:
            new = s.exec(select(AuditEvent.action).where(AuditEvent.seq > before[0])
                         .order_by(AuditEvent.seq)).all()
        assert list(new) == expect, f"{name} wrote {new}, expected {expect}"
        return result

    # An independent reading of the role rules (the text, not states.guards).
    def _regulates(self, username: str, hazard: Hazard) -> bool:
        role, _ent, dept = self.people[username]
        return role == "committee" or (role == "supervisor" and dept == hazard.supervising_department)

    def _staff_of(self, username: str, hazard: Hazard) -> bool:
        role, ent, _dept = self.people[username]
        return role == "enterprise" and ent == hazard.enterprise_id

    def _regulator(self, hazard: Hazard, who: str | None, pick: int) -> str:
        if who is not None:
            return who
        options = REGULATORS.get(hazard.supervising_department or "", ["office1"])
        return options[pick % len(options)]

    def _staff(self, hazard: Hazard, who: str | None, pick: int) -> str:
        if who is not None:
            return who
        with self._read() as s:
            code = s.get(Enterprise, hazard.enterprise_id).credit_code
        options = ENTERPRISES[code] or ["hd_safety"]
        return options[pick % len(options)]

    # --- rules ------------------------------------------------------------------

    @rule(target=hazards, who=who_st, pick=pick_st, enterprise=st.sampled_from(ENTERPRISE_MIX),
          channel=st.sampled_from(sorted(REPORTERS)), title=st.sampled_from(VALID_TITLES))
    def report(self, who, pick, enterprise, channel, title):  # noqa: ANN001, ANN201
        if who is None:
            who = REPORTERS[channel]
            if who is None:  # self-inspection: the enterprise's own staff (泰和 has none: refused)
                staff = ENTERPRISES[enterprise] or ["xy_safety"]
                who = staff[pick % len(staff)]
        h = self._act("report", lambda s: ledger.report(s, ledger.get_user(s, who), enterprise=enterprise,
                                                        title=title, channel=channel, location="厂区"),
                      ["report"], may=self.people[who][0] != "enterprise"
                      or self.people[who][1] == self.enterprise_ids[enterprise])
        return multiple() if h is REFUSED else h.id

    @rule(hid=hazards, who=who_st, pick=pick_st, basis=st.sampled_from(["right"] * 6 + [None, "NOPE", "GAS4"]),
          clause=st.sampled_from(["第十三条"] * 6 + [None]), level=st.sampled_from([*LEVELS] * 2 + [None, "county"]))
    def confirm(self, hid, who, pick, basis, clause, level):  # noqa: ANN001, ANN201
        h = self._hazard(hid)
        actor = self._regulator(h, who, pick)
        code = BASIS.get(h.industry_code) if basis == "right" else basis
        self._act("confirm", lambda s: ledger.confirm(s, ledger.get_user(s, actor), hid, basis_code=code,
                                                      basis_clause=clause, level=level), ["confirm"],
                  may=self._regulates(actor, h))

    @rule(hid=hazards, who=who_st, pick=pick_st, reason=reason_st)
    def dismiss(self, hid, who, pick, reason):  # noqa: ANN001, ANN201
        h = self._hazard(hid)
        actor = self._regulator(h, who, pick)
        self._act("dismiss", lambda s: ledger.dismiss(s, ledger.get_user(s, actor), hid, reason=reason),
                  ["dismiss"], may=self._regulates(actor, h))

    @rule(hid=hazards, who=who_st, pick=pick_st, days=days_st,
          missing=st.one_of(st.none(), st.none(), st.sampled_from(PLAN_PARTS)))
    def plan(self, hid, who, pick, days, missing):  # noqa: ANN001, ANN201
        h = self._hazard(hid)
        actor = self._staff(h, who, pick)
        parts = {"responsible_person": "孙立新", "measures": "加装泄漏报警并联锁", "funds": "80000",
                 "emergency_plan": "专项应急预案"}
        if missing:
            parts[missing] = " "
        self._act("plan", lambda s: ledger.plan(s, ledger.get_user(s, actor), hid, deadline=_day(days), **parts),
                  ["start_rectification"], may=self._staff_of(actor, h))

    @rule(hid=hazards, who=who_st, pick=pick_st, which=st.integers(0, 1))
    def add_evidence(self, hid, who, pick, which):  # noqa: ANN001, ANN201
        h = self._hazard(hid)
        actor = self._staff(h, who, pick)
        self._act("evidence", lambda s: ledger.add_evidence(s, ledger.get_user(s, actor), hid,
                                                            self.world.evidence[which]), ["evidence"],
                  may=self._staff_of(actor, h))

    @rule(hid=hazards, who=who_st, pick=pick_st, with_file=st.booleans())
    def submit(self, hid, who, pick, with_file):  # noqa: ANN001, ANN201
        h = self._hazard(hid)
        actor = self._staff(h, who, pick)
        files = [self.world.evidence[0]] if with_file else []
        self._act("submit", lambda s: ledger.submit(s, ledger.get_user(s, actor), hid, evidence=files),
                  ["evidence"] * len(files) + ["submit"], may=self._staff_of(actor, h))

    @rule(hid=hazards, who=who_st, pick=pick_st, reason=reason_st)
    def approve(self, hid, who, pick, reason):  # noqa: ANN001, ANN201
        h = self._hazard(hid)
        actor = self._regulator(h, who, pick)
        self._act("approve", lambda s: ledger.approve(s, ledger.get_user(s, actor), hid, reason=reason),
                  ["approve"], may=self._regulates(actor, h) and actor != h.submitted_by)

    @rule(hid=hazards)
    def submitter_approves(self, hid):  # noqa: ANN001, ANN201
        h = self._hazard(hid)
        if h.state != "reviewed" or not h.submitted_by:
            return
        result = self._act("submitter approves", lambda s: ledger.approve(
            s, ledger.get_user(s, h.submitted_by), hid), ["approve"], may=False)
        assert result is REFUSED, f"{h.submitted_by} approved their own submission of {h.code}"

    @rule(hid=hazards, who=who_st, pick=pick_st, reason=reason_st,
          days=st.one_of(st.none(), days_st))
    def reject(self, hid, who, pick, reason, days):  # noqa: ANN001, ANN201
        h = self._hazard(hid)
        actor = self._regulator(h, who, pick)
        self._act("reject", lambda s: ledger.reject(s, ledger.get_user(s, actor), hid, reason=reason,
                                                    deadline=_day(days)), ["reject"], may=self._regulates(actor, h))

    @rule(target=extensions, hid=hazards, who=who_st, pick=pick_st, days=days_st, reason=reason_st)
    def request_extension(self, hid, who, pick, days, reason):  # noqa: ANN001, ANN201
        h = self._hazard(hid)
        actor = self._staff(h, who, pick)
        ext = self._act("extension request", lambda s: ledger.request_extension(
            s, ledger.get_user(s, actor), hid, deadline=_day(days), reason=reason), ["extension_requested"],
            may=self._staff_of(actor, h))
        return multiple() if ext is REFUSED else ext.id

    @rule(ext=extensions, who=who_st, pick=pick_st, grant=st.booleans(), reason=reason_st)
    def decide_extension(self, ext, who, pick, grant, reason):  # noqa: ANN001, ANN201
        with self._read() as s:
            hid = s.get(Extension, ext).hazard_id
        h = self._hazard(hid)
        actor = self._regulator(h, who, pick)
        self._act("extension decision", lambda s: ledger.decide_extension(
            s, ledger.get_user(s, actor), ext, approve=grant, reason=reason),
            ["extend" if grant else "extension_denied"], may=self._regulates(actor, h))

    @rule(hid=hazards, who=who_st, pick=pick_st, field=st.sampled_from(["title", "description", "location", "state"]),
          value=st.sampled_from(["储罐区", "更正后的描述", "closed"]))
    def edit(self, hid, who, pick, field, value):  # noqa: ANN001, ANN201
        h = self._hazard(hid)
        actor = who if who is not None else (h.reported_by if pick % 2 else self._regulator(h, None, pick))
        changes = getattr(h, field, None) != value
        self._act("edit", lambda s: ledger.edit(s, ledger.get_user(s, actor), hid, **{field: value}),
                  ["edit"] if changes else [],
                  may=self._regulates(actor, h) or (h.state == "found" and actor == h.reported_by))

    @rule(target=merges, kept=hazards, dup=hazards, who=who_st, pick=pick_st)
    def merge(self, kept, dup, who, pick):  # noqa: ANN001, ANN201
        k = self._hazard(kept)
        if pick:  # mostly a plausible duplicate: another found hazard at the same enterprise
            with self._read() as s:
                dup = s.exec(select(Hazard.id).where(Hazard.enterprise_id == k.enterprise_id, Hazard.id != kept,
                                                     Hazard.state == "found").order_by(Hazard.id)).first() or dup
        d = self._hazard(dup)
        actor = self._regulator(d, who, pick)
        may = (kept != dup and k.enterprise_id == d.enterprise_id and d.state == "found" and k.state != "dismissed"
               and self._regulates(actor, k) and self._regulates(actor, d))
        rec = self._act("merge", lambda s: merging.merge(s, ledger.get_user(s, actor), kept, dup),
                        ["dismiss", "merge"], may=may)
        return multiple() if rec is REFUSED else rec.id

    @rule(mid=merges, who=who_st, pick=pick_st)
    def unmerge(self, mid, who, pick):  # noqa: ANN001, ANN201
        with self._read() as s:
            rec = s.get(HazardMerge, mid)
        k, d = self._hazard(rec.kept_id), self._hazard(rec.merged_id)
        actor = self._regulator(d, who, pick)
        may = rec.undone_at is None and self._regulates(actor, k) and self._regulates(actor, d)
        self._act("unmerge", lambda s: merging.unmerge(s, ledger.get_user(s, actor), mid),
                  ["reopen", "unmerge"], may=may)

    @rule(hid=hazards, who=who_st, pick=pick_st)
    def reopen_without_merge(self, hid, who, pick):  # noqa: ANN001, ANN201
        """reopen outside an unmerge (no merge record) is refused for anyone, whatever the state."""
        h = self._hazard(hid)
        actor = self._regulator(h, who, pick)
        self._act("bare reopen", lambda s: ledger._transition(  # noqa: SLF001
            s, ledger.get_hazard(s, hid), "reopen", ledger.get_user(s, actor), {}, {"dismissed_reason": None}),
            ["reopen"], may=False)

    @rule(hid=hazards, pick=pick_st, days=st.integers(min_value=1, max_value=90),
          steps=st.integers(min_value=1, max_value=4))
    def advance(self, hid, pick, days, steps):  # noqa: ANN001, ANN201
        """The next plausible steps for this hazard, by proper actors with valid data
        (so that within a short run hazards do reach review and close-out)."""
        self._advance(hid, pick, days, steps)

    @rule(hid=hazards, pick=pick_st, days=st.integers(min_value=1, max_value=90),
          steps=st.integers(min_value=1, max_value=4))
    def advance_again(self, hid, pick, days, steps):  # noqa: ANN001, ANN201
        """Same as advance: a second rule makes progress twice as likely as any one action."""
        self._advance(hid, pick, days, steps)

    def _advance(self, hid: int, pick: int, days: int, steps: int) -> None:
        for _ in range(steps):
            state = self._hazard(hid).state
            if state == "found":
                if pick == 0:
                    self.dismiss(hid, None, pick, "经核查不构成重大事故隐患")
                else:
                    self.confirm(hid, None, pick, "right", "第十三条", "city")
            elif state == "listed":
                self.plan(hid, None, pick, days, None)
            elif state == "rectifying":
                with self._read() as s:
                    pending = s.exec(select(Extension.id).where(Extension.hazard_id == hid,
                                                                Extension.status == "pending")).first()
                if pending is not None:
                    self.decide_extension(pending, None, pick, pick % 2 == 1, "同意延期" if pick % 3 else None)
                elif pick < 2:
                    self.request_extension(hid, None, pick, days + 30, "设备到货延迟")
                else:
                    self.submit(hid, None, pick, True)
            elif state == "reviewed":
                self.submitter_approves(hid)
                if pick < 2:
                    self.reject(hid, None, pick, "报警装置未联锁", days)
                else:
                    self.approve(hid, None, pick, "现场核查已整改到位")
            else:
                return

    # --- invariants -----------------------------------------------------------------

    @invariant()
    def ledger_is_consistent(self) -> None:
        with self._read() as s:
            result = audit.verify(s)
            events = s.exec(select(AuditEvent).where(AuditEvent.hazard_id.is_not(None))
                            .order_by(AuditEvent.seq)).all()
            hazards = s.exec(select(Hazard)).all()
        # The chain verifies.
        assert result.ok, result.message()
        trail: dict[int, list[AuditEvent]] = {}
        for e in events:
            trail.setdefault(e.hazard_id, []).append(e)
        for h in hazards:
            mine = trail.get(h.id, [])
            assert mine and mine[0].action == "report", f"{h.code} has no report event"
            # The state is the replay of the audited transitions.
            transitions = [e for e in mine if e.action in TRIGGERS]
            assert h.state == replay([e.action for e in transitions]), (h.code, h.state, [e.action for e in mine])
            if h.state == "closed":
                # Reviewed first: the approve came straight after a submit ...
                assert [e.action for e in transitions[-2:]] == ["submit", "approve"], [e.action for e in mine]
                submit_event, approve_event = transitions[-2:]
                # ... by someone other than the submitter, who is the one the row names.
                assert approve_event.actor != submit_event.actor, (h.code, approve_event.actor)
                assert h.closed_by == approve_event.actor and h.submitted_by == submit_event.actor


def _run(db, tmp_path, max_examples: int, steps: int) -> Counter:  # noqa: ANN001
    world = LedgerMachine.world = World(db, tmp_path)
    run_state_machine_as_test(LedgerMachine, settings=settings(
        max_examples=max_examples, stateful_step_count=steps, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    ))
    print(f"\n{db.kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(world.totals.items())))
    return world.totals


def test_ledger_properties(db, tmp_path):
    if db.kind == "sqlite":
        _run(db, tmp_path, max_examples=25, steps=30)
    else:
        _run(db, tmp_path, max_examples=6, steps=20)


def test_machine_reaches_closed_and_refuses_the_submitter(db, tmp_path):
    """The property test is only as good as the paths it explores: one scripted run
    through the same machine shows a hazard gets closed and the submitter is refused."""
    LedgerMachine.world = World(db, tmp_path)
    m = LedgerMachine()
    try:
        hid = m.report(who=None, pick=0, enterprise="91370983MA3C0001AY", channel="inspection", title=TITLES[0])
        m.confirm(hid=hid, who=None, pick=0, basis="right", clause="第十三条", level="city")
        m.plan(hid=hid, who=None, pick=0, days=30, missing=None)
        m.submit(hid=hid, who=None, pick=0, with_file=True)
        assert m._hazard(hid).state == "reviewed"
        m.submitter_approves(hid=hid)
        assert m.stats["submitter approves refused (PermissionDenied)"] == 1
        m.approve(hid=hid, who=None, pick=1, reason="整改到位")
        assert m._hazard(hid).state == "closed"
        m.ledger_is_consistent()
    finally:
        m.teardown()

"""Duplicate hazards: candidates on intake, merge keeping every source, channel counts, undo."""

from __future__ import annotations

import pytest
from sqlmodel import select

from hazardloop.config import clock
from hazardloop.intake import merge as merging
from hazardloop.models import audit
from hazardloop.errors import ValidationError
from hazardloop.models.intake import HazardMerge
from hazardloop.models.tables import AuditEvent, Hazard
from hazardloop.reports import stats
from hazardloop.states import ledger
from hazardloop.states import machine
from hazardloop.states.errors import InvalidTransition, MissingData, PermissionDenied
from hazardloop.states.machine import TRANSITIONS, replay
from tests.fixtures_intake import _fresh_rules, verified  # noqa: F401
from tests.helpers import ENT_HD, listed

ENT_XY = "91370983MA3C0002B3"


def _report(s, title, *, channel="inspection", user="inspector1", enterprise=ENT_HD, location="储罐区"):
    h = ledger.report(s, ledger.get_user(s, user), enterprise=enterprise, title=title, channel=channel,
                      location=location)
    s.commit()
    return h


def test_similarity_tolerates_full_width_and_punctuation():
    assert merging.similarity("液氨储罐区未设置泄漏报警装置！", "液氨储罐区 未设置泄漏报警装置") == 1.0
    assert merging.similarity("ＡＢＣ液氨罐", "abc液氨罐") == 1.0
    assert merging.similarity("配电室无应急照明", "液氨储罐区未设置泄漏报警装置") < 0.4


def test_candidates_same_enterprise_similar_text(org):
    with org.session() as s:
        a = _report(s, "液氨储罐区未设置泄漏报警装置")
        _report(s, "配电室应急照明损坏", location="配电室")
        _report(s, "液氨储罐区未设置泄漏报警装置", enterprise=ENT_XY, user="office1")  # other enterprise
        b = _report(s, "储罐区液氨泄漏报警装置未设置", user="office1", channel="assigned")
        cands = merging.candidates_for(s, b.id)
        assert [c.hazard.id for c in cands] == [a.id]
        assert cands[0].score >= merging.THRESHOLD


def test_verified_report_shows_candidates(org):
    with org.session() as s:
        hid = listed(s)
        rid = verified(s)  # same tank-area alarm problem, reported by the public, creates a new hazard
        from hazardloop.models.intake import PublicReport

        new = s.get(PublicReport, rid).hazard_id
        assert new != hid
        assert hid in [c.hazard.id for c in merging.candidates_for(s, new)]


def test_merge_keeps_every_source_counts_stay_true_and_undo(org):
    with org.session() as s:
        kept_id = listed(s)
        rid = verified(s)
        from hazardloop.models.intake import PublicReport

        dup_id = s.get(PublicReport, rid).hazard_id
        assert merging.channel_counts(s) == {"self_inspection": 0, "inspection": 1, "public_report": 1,
                                             "assigned": 0, "total": 2}
        rec = merging.merge(s, ledger.get_user(s, "sup_yingji"), kept_id, dup_id, reason="同一储罐区报警问题")
        s.commit()
        dup, kept = s.get(Hazard, dup_id), s.get(Hazard, kept_id)
        assert dup.state == "dismissed" and kept.code in dup.dismissed_reason
        assert merging.channels_of(s, kept) == ["inspection", "public_report"]
        assert merging.channel_counts(s) == {"self_inspection": 0, "inspection": 1, "public_report": 1,
                                             "assigned": 0, "total": 1}
        refs = [x["ref"] for x in merging.sources_of(s, kept)]
        assert dup.code in refs and s.get(PublicReport, rid).code in refs
        merge_events = s.exec(select(AuditEvent).where(AuditEvent.action == "merge")).all()
        assert merge_events and merge_events[0].after["merged"] == dup.code
        # undo
        merging.unmerge(s, ledger.get_user(s, "office1"), rec.id, reason="核实为两处不同储罐")
        s.commit()
        assert s.get(Hazard, dup_id).state == "found" and s.get(Hazard, dup_id).dismissed_reason is None
        assert merging.channels_of(s, s.get(Hazard, kept_id)) == ["inspection"]
        assert merging.channels_of(s, s.get(Hazard, dup_id)) == ["public_report"]
        assert merging.channel_counts(s)["total"] == 2
        assert s.get(HazardMerge, rec.id).undone_by == "office1"
        # the duplicate came back through the machine: dismiss (merge) then reopen (unmerge), and replay agrees
        trail = [e.action for e in s.exec(select(AuditEvent).where(AuditEvent.hazard_id == dup_id)
                                          .order_by(AuditEvent.seq)).all()]
        assert trail[-2:] == ["dismiss", "reopen"]
        triggers = {t["trigger"] for t in TRANSITIONS}
        assert replay([a for a in trail if a in triggers]) == "found" == s.get(Hazard, dup_id).state
        # statistics from the trail: the duplicate is open again, not dismissed
        total = stats.compute(s, clock.today(), "region").total
        assert (total.found, total.dismissed, total.open) == (2, 0, 2)
        with pytest.raises(ValidationError, match="已于"):
            merging.unmerge(s, ledger.get_user(s, "office1"), rec.id)
        s.rollback()
        # merge again after undo works, and the chain is intact
        merging.merge(s, ledger.get_user(s, "office1"), kept_id, dup_id)
        s.commit()
        assert merging.channel_counts(s)["total"] == 1
        assert audit.verify(s).ok


def test_merge_guards(org):
    with org.session() as s:
        a = listed(s)
        b = listed(s, title="液氨储罐区泄漏报警装置缺失")
        with pytest.raises(MissingData, match="尚未确认"):
            merging.merge(s, ledger.get_user(s, "office1"), a, b)
        s.rollback()
        c = _report(s, "液氨储罐区报警装置缺失")
        with pytest.raises(PermissionDenied, match="监管部门"):
            merging.merge(s, ledger.get_user(s, "sup_zhujian"), a, c.id)
        s.rollback()
        other = _report(s, "冲压设备无防护", enterprise=ENT_XY, user="office1")
        with pytest.raises(MissingData, match="同一企业"):
            merging.merge(s, ledger.get_user(s, "office1"), a, other.id)
        s.rollback()
        with pytest.raises(MissingData, match="它自己"):
            merging.merge(s, ledger.get_user(s, "office1"), c.id, c.id)
        s.rollback()
        assert s.get(Hazard, c.id).state == "found"


def test_cli_merge_unmerge_and_channels(org):
    from typer.testing import CliRunner

    from hazardloop.cli import app

    runner = CliRunner()
    with org.session() as s:
        a = _report(s, "液氨储罐区未设置泄漏报警装置").code
        b = _report(s, "液氨储罐区泄漏报警装置未设置", user="office1", channel="assigned").code
    res = runner.invoke(app, ["--db", org.url, "hazard", "similar", b, "--json"])
    assert res.exit_code == 0 and a in res.output
    res = runner.invoke(app, ["--db", org.url, "hazard", "merge", a, b, "--actor", "office1", "--reason", "重复"])
    assert res.exit_code == 0 and "合并记录 1" in res.output
    res = runner.invoke(app, ["--db", org.url, "hazard", "channels", "--json"])
    assert '"total": 1' in res.output and '"assigned": 1' in res.output and '"inspection": 1' in res.output
    res = runner.invoke(app, ["--db", org.url, "hazard", "unmerge", "1", "--actor", "office1"])
    assert res.exit_code == 0
    res = runner.invoke(app, ["--db", org.url, "hazard", "channels", "--json"])
    assert '"total": 2' in res.output


def test_reopen_only_undoes_a_merge_never_a_judgement(org):
    """dismiss stays final for a regulator's judgement: reopen is refused, naming the state and
    what it allows, even with a dismissal reason that imitates a merge's."""
    with org.session() as s:
        judged = _report(s, "液氨储罐区未设置泄漏报警装置")
        ledger.dismiss(s, ledger.get_user(s, "sup_yingji"), judged.id, reason="经核查不构成重大事故隐患")
        s.commit()
        h = s.get(Hazard, judged.id)
        with pytest.raises(InvalidTransition) as err:
            machine.fire(h, "reopen", ledger.get_user(s, "office1"), {})
        msg = str(err.value)
        assert "已排除" in msg and "撤销合并恢复" in msg and "此状态允许：无" in msg
        assert "dismissed" not in msg and "reopen" not in msg  # names, never codes
        assert "经监管部门判定排除是最终结论" in msg
        assert machine.allowed_for(h) == [] and not machine.check(h, "reopen", ledger.get_user(s, "office1"))
        s.rollback()
        # a regulator typing a merge-like reason is still no merge: without the live merge record, refused
        forged = _report(s, "配电室无应急照明", location="配电室")
        ledger.dismiss(s, ledger.get_user(s, "office1"), forged.id, reason=f"{merging.MERGED_PREFIX}{judged.code}")
        s.commit()
        with pytest.raises(MissingData, match="撤销合并"):
            machine.fire(s.get(Hazard, forged.id), "reopen", ledger.get_user(s, "office1"), {})
        s.rollback()
        assert s.get(Hazard, forged.id).state == "dismissed" and s.get(Hazard, judged.id).state == "dismissed"


def test_unmerge_guard_is_the_machine_guard(org):
    """Who may unmerge is decided by guards.reopen: a regulator of both hazards; a refusal changes nothing."""
    with org.session() as s:
        a = _report(s, "液氨储罐区未设置泄漏报警装置")
        b = _report(s, "液氨储罐区泄漏报警装置未设置", user="office1", channel="assigned")
        rec = merging.merge(s, ledger.get_user(s, "office1"), a.id, b.id)
        s.commit()
        n = len(s.exec(select(AuditEvent)).all())
        for user, error, text in (("sup_zhujian", PermissionDenied, "撤销合并需要"),
                                  ("hd_safety", PermissionDenied, "撤销合并需要"),
                                  ("inspector1", PermissionDenied, "撤销合并需要")):
            with pytest.raises(error, match=text):
                merging.unmerge(s, ledger.get_user(s, user), rec.id)
            s.rollback()
        assert s.get(Hazard, b.id).state == "dismissed" and s.get(HazardMerge, rec.id).undone_at is None
        assert len(s.exec(select(AuditEvent)).all()) == n
        assert merging.channels_of(s, s.get(Hazard, a.id)) == ["inspection", "assigned"]
        merging.unmerge(s, ledger.get_user(s, "sup_yingji"), rec.id, reason="两处不同")
        s.commit()
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "reopen")).one()
        assert ev.actor == "sup_yingji" and ev.before["state"] == "dismissed" and ev.after["state"] == "found"
        assert ev.after["merge_id"] == rec.id and ev.reason == "两处不同"
        assert audit.verify(s).ok


def test_cli_hazard_report_shows_duplicate_candidates(org, capsys, monkeypatch):
    """`hazard report` lists the similar hazards at the same enterprise (code, state, similarity and the
    real merge command); nothing extra when there are none; the reporter sees only what it may view."""
    import json

    from tests.helpers import cli_runner

    cli = cli_runner(org.url, capsys, monkeypatch)
    code, out, err = cli("hazard", "report", "--actor", "inspector1", "--enterprise", ENT_HD, "--title",
                         "液氨储罐区未设置泄漏报警装置", "--channel", "inspection", "--location", "储罐区")
    assert code == 0, err
    assert out.count("\n") == 1 and "相似" not in out  # first of its kind: just the usual line
    with org.session() as s:
        first = s.exec(select(Hazard)).one().code
    code, out, err = cli("hazard", "report", "--actor", "office1", "--enterprise", ENT_HD, "--title",
                         "储罐区液氨泄漏报警装置未设置", "--channel", "assigned", "--location", "储罐区")
    assert code == 0, err
    with org.session() as s:
        second = s.exec(select(Hazard).where(Hazard.code != first)).one().code
    assert "同一企业有相似的隐患（可能重复）" in out and f"{first}  已发现  相似度 " in out
    command = f"hazardloop hazard merge {first} {second} --actor office1"
    assert command in out
    # JSON: the same candidates, with their score
    code, out, err = cli("hazard", "report", "--actor", "office1", "--enterprise", ENT_HD, "--title",
                         "液氨储罐区泄漏报警装置缺失", "--channel", "assigned", "--location", "储罐区", "--json")
    data = json.loads(out)
    assert code == 0 and {d["code"] for d in data["duplicate_candidates"]} == {first, second}
    assert all(d["score"] >= merging.THRESHOLD and d["state"] == "found" and d["merge_command"].startswith(
        "hazardloop hazard merge ") for d in data["duplicate_candidates"])
    # an inspector sees only the candidate it reported itself, and no actor name is made up for it
    code, out, err = cli("hazard", "report", "--actor", "inspector1", "--enterprise", ENT_HD, "--title",
                         "液氨储罐区未设泄漏报警装置", "--channel", "inspection", "--location", "储罐区", "--json")
    cands = json.loads(out)["duplicate_candidates"]
    assert [d["code"] for d in cands] == [first] and cands[0]["merge_command"].endswith("--actor <监管人员用户名>")
    # another enterprise: nothing
    code, out, err = cli("hazard", "report", "--actor", "office1", "--enterprise", ENT_XY, "--title",
                         "液氨储罐区未设置泄漏报警装置", "--channel", "assigned")
    assert code == 0 and "相似" not in out
    # the printed command is the real one
    code, out, err = cli(*command.split()[1:])
    assert code == 0, err
    with org.session() as s:
        assert ledger.get_hazard(s, second).state == "dismissed"

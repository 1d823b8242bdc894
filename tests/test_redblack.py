"""The red and black list: each reason named, evaluated as of the month's end."""

from __future__ import annotations

import json
import sys
from datetime import date

import pytest

from hazardloop.errors import ValidationError
from hazardloop.reports import inspections as insp
from hazardloop.reports import redblack as rb
from tests.fixtures_stats import ledger_sept  # noqa: F401  (fixture)

CFG = insp.InspectionConfig(start=date(2024, 1, 1), remind_days=10)


def _names(entries) -> dict[str, list[str]]:  # noqa: ANN001
    return {e.enterprise: e.reasons for e in entries}


def test_september_lists_with_reasons(ledger_sept):
    with ledger_sept.session(write=False) as s:
        result = rb.compute(s, "2024-09", inspection_config=CFG)
    black, red = _names(result.black), _names(result.red)
    assert black["肥城市恒达化工有限公司"] == ["整改多次被驳回（近12个月驳回 3 次）"]
    assert black["肥城市鑫源机械制造有限公司"] == ["未按期开展主要负责人带队检查（2024年第2季度、2024年第3季度）"]
    assert black["肥城市泰和建筑工程有限公司"][0].startswith("未按期开展主要负责人带队检查（2024年1月、2024年2月")
    assert red == {"肥城市安泰食品有限公司": ["隐患全部按期整改销号（1 条）", "主要负责人带队检查全部按期开展"]}
    assert result.notes == []  # the escalation table exists (no step issued yet): nothing to caveat


def test_a_past_month_is_evaluated_as_it_stood(ledger_sept):
    with ledger_sept.session(write=False) as s:
        june = rb.compute(s, "2024-06", inspection_config=CFG)
    # End of June: HD had one rejection (H2) and both its hazards closed on time; H6 and its two
    # rejections came in September.  XY missed its second quarter (ended 06-30).
    assert _names(june.red) == {
        "肥城市恒达化工有限公司": ["隐患全部按期整改销号（2 条）", "主要负责人带队检查全部按期开展"],
        "肥城市安泰食品有限公司": ["隐患全部按期整改销号（1 条）", "主要负责人带队检查全部按期开展"]}
    assert list(_names(june.black)) == ["肥城市鑫源机械制造有限公司", "肥城市泰和建筑工程有限公司"]


def test_bad_rules_are_refused(tmp_path):
    bad = tmp_path / "rb.yaml"
    bad.write_text("black:\n  - {rule: too_many_parrots, name: 鹦鹉}\n", encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        rb.load_rules(bad)
    assert "第 1 条规则类型未知" in str(err.value)
    bad.write_text("red:\n  - {rule: inspections_done}\n", encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        rb.load_rules(bad)
    assert "缺少 name" in str(err.value)


def test_cli_redblack(ledger_sept, capsys, monkeypatch):
    from hazardloop import cli as cli_mod

    monkeypatch.setattr(sys, "argv", ["hazardloop", "--db", ledger_sept.url, "redblack", "--month", "2024-09", "--json"])
    with pytest.raises(SystemExit) as exc:
        cli_mod.main()
    assert exc.value.code == 0
    data = json.loads(capsys.readouterr().out)
    assert [e["enterprise"] for e in data["red"]] == ["肥城市安泰食品有限公司"]
    assert len(data["black"]) == 3
    monkeypatch.setattr(sys, "argv", ["hazardloop", "--db", ledger_sept.url, "redblack", "--month", "2024-13"])
    with pytest.raises(SystemExit) as exc:
        cli_mod.main()
    assert exc.value.code == 2


def test_black_for_a_hazard_at_interview_when_the_ladder_exists(ledger_sept):
    from tests.test_stats import drop_escalation_table, make_escalation_table

    make_escalation_table(ledger_sept, [
        (6, "interview", "interview", "issued", "2024-09-25 02:00:00", None),  # HD's H6 summoned
        (4, "exposure", "exposure", "proposed", "2024-09-25 02:00:00", None),  # not in effect
    ])
    try:
        with ledger_sept.session(write=False) as s:
            result = rb.compute(s, "2024-09", inspection_config=CFG)
            august = rb.compute(s, "2024-08", inspection_config=CFG)
    finally:
        drop_escalation_table(ledger_sept)
    assert _names(result.black)["肥城市恒达化工有限公司"] == ["整改多次被驳回（近12个月驳回 3 次）", "隐患被约谈或曝光（1 次）"]
    assert "隐患被约谈或曝光" not in "".join(_names(result.black)["肥城市泰和建筑工程有限公司"])
    assert "肥城市恒达化工有限公司" not in _names(august.black) and result.notes == []

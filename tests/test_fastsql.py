"""The hot path's driver-level statements (models/fastsql.py) and the ledger's use of them.

They must read and write exactly what SQLAlchemy's own execution would: the same
converted values (aware UTC datetimes, JSON), the same session objects, and no
second UPDATE left for the session's flush."""

from __future__ import annotations

from datetime import timezone

from sqlalchemy import event, select
from sqlalchemy.orm.util import identity_key

from hazardloop.models.fastsql import Prepared
from hazardloop.models.tables import AuditEvent, Hazard
from hazardloop.states import ledger
from tests.helpers import future, listed, rectifying, reported


def test_prepared_query_reads_what_core_reads(org):
    with org.session() as s:
        hid = rectifying(s)
        s.commit()
    table = Hazard.__table__
    stmt = table.select().where(table.c.id == hid)
    with org.session(write=False) as s:
        conn = s.connection()
        core = dict(conn.execute(stmt).mappings().one())
        fast = Prepared(stmt).first(conn)
    assert fast == core
    assert fast["deadline"].tzinfo is not None and fast["deadline"].utcoffset() == timezone.utc.utcoffset(None)
    assert fast["state"] == "rectifying" and fast["cycle"] == 1


def test_prepared_json_and_missing_row(org):
    with org.session() as s:
        hid = listed(s)
        s.commit()
    events = AuditEvent.__table__
    stmt = events.select().where(events.c.hazard_id == hid, events.c.action == "confirm")
    with org.session(write=False) as s:
        conn = s.connection()
        fast = Prepared(stmt).first(conn)
        core = dict(conn.execute(stmt).mappings().one())
        assert fast == core and fast["after"]["state"] == "listed"  # JSON decoded, as Core decodes it
        assert Prepared(events.select().where(events.c.seq == -1)).first(conn) is None


def test_loaded_hazard_is_the_sessions_object(org):
    with org.session() as s:
        hid = listed(s)
        s.commit()
    with org.session() as s:
        first = ledger.get_hazard(s, hid)
        assert ledger.get_hazard(s, hid) is first  # the identity map, as session.get would
        assert ledger.get_hazard(s, first.code) is first
        assert s.identity_map.get(identity_key(Hazard, hid)) is first
        assert s.get(Hazard, hid) is first
        assert not s.dirty and not s.new


def test_transition_leaves_nothing_for_the_flush(org):
    """The version-checked UPDATE is written once; the commit's flush writes no second one."""
    with org.session() as s:
        hid = listed(s)
        s.commit()
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:  # noqa: ANN001, ANN002
        statements.append(statement)

    with org.session(write=False) as s:
        version = s.get(Hazard, hid).version
    with org.session() as s:
        hazard = ledger.plan(s, org.user(s, "hd_safety"), hid, responsible_person="孙立新", measures="加装报警",
                             funds="5000", deadline=future(20), emergency_plan="专项预案")
        assert hazard.state == "rectifying" and hazard.version == version + 1
        assert not s.dirty
        event.listen(org.engine, "before_cursor_execute", seen)
        try:
            s.commit()
        finally:
            event.remove(org.engine, "before_cursor_execute", seen)
    assert not [q for q in statements if q.lstrip().upper().startswith("UPDATE HAZARD")], statements
    with org.session(write=False) as s:
        row = s.execute(select(Hazard.state, Hazard.version, Hazard.cycle).where(Hazard.id == hid)).one()
    assert tuple(row) == ("rectifying", version + 1, 1)


def test_edit_after_a_transition_in_one_session(org):
    """An ORM change after the fast UPDATE flushes against the new version, not a stale one."""
    with org.session() as s:
        hid = reported(s)
        version = s.get(Hazard, hid).version
    with org.session() as s:
        sup = org.user(s, "sup_yingji")
        ledger.dismiss(s, sup, hid, reason="重复上报")
        ledger.edit(s, sup, hid, title="改过的名称")
        s.commit()
    with org.session(write=False) as s:
        h = s.get(Hazard, hid)
        assert (h.state, h.title, h.version) == ("dismissed", "改过的名称", version + 2)


def test_unwritten_edit_before_a_transition_is_kept(org):
    """An attribute set on the hazard and not yet flushed survives the transition: the fast
    UPDATE marks the whole object as loaded, so the edit must be written before it."""
    with org.session() as s:
        hid = listed(s)
        version = s.get(Hazard, hid).version
    with org.session() as s:
        hazard = ledger.get_hazard(s, hid)
        hazard.location = "二号罐区东侧"  # plain ORM edit, not flushed
        ledger.plan(s, org.user(s, "hd_safety"), hid, responsible_person="孙立新", measures="加装报警",
                    funds="5000", deadline=future(20), emergency_plan="专项预案")
        assert hazard.__pydantic_fields_set__ >= {"deadline", "cycle"}  # as setattr would record
        s.commit()
    with org.session(write=False) as s:
        h = s.get(Hazard, hid)
        assert (h.state, h.location, h.cycle, h.version) == ("rectifying", "二号罐区东侧", 1, version + 2)


def test_json_columns_keep_chinese_as_utf8(org):
    """The audit event's JSON is stored as readable UTF-8 (not \\uXXXX escapes) and reads back equal."""
    with org.session() as s:
        hid = listed(s)
    text_of = 'CAST("after" AS TEXT)' if org.kind == "pg" else '"after"'
    with org.session(write=False) as s:
        conn = s.connection()
        stored = conn.exec_driver_sql(
            f"SELECT {text_of} FROM audit_event WHERE hazard_id = {hid} AND action = 'confirm'").scalar_one()
        decoded = conn.execute(select(AuditEvent.after).where(AuditEvent.hazard_id == hid,
                                                              AuditEvent.action == "confirm")).scalar_one()
    assert "第十三条" in stored and "\\u" not in stored
    assert decoded["basis_clause"] == "第十三条"

"""Create or upgrade the schema through Alembic (idempotent)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to every head (feature branches of migrations coexist)."""
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")


def init_database(engine: Engine) -> dict[str, int]:
    """Create or upgrade the schema and load the reference data; idempotent."""
    from sqlmodel import Session

    from hazardloop.models.reference import load_reference

    upgrade(engine)
    with Session(engine) as session:
        changed = load_reference(session)
        session.commit()
    return changed


def reset_database(engine: Engine) -> None:
    """Drop everything HazardLoop created (demo --reset)."""
    from sqlalchemy import text

    from hazardloop.models import load_all

    metadata = load_all()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_change ON audit_event"))
        metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP FUNCTION IF EXISTS audit_event_append_only()"))
            conn.execute(text("DROP FUNCTION IF EXISTS audit_event_continues_chain()"))  # migration 0010

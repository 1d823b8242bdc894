"""Alembic environment: runs against the engine HazardLoop would use."""

from alembic import context

from hazardloop.models import load_all
from hazardloop.models.db import get_engine

config = context.config
target_metadata = load_all()  # every table on the metadata


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    with get_engine(config.get_main_option("sqlalchemy.url") or None).connect() as connection:
        _run(connection)


def _run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite can't ALTER most things
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()

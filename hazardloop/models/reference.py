"""Reference data (regions, departments, industries, standards) from config/reference/*.yaml.

Loading is an upsert: running it twice changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlmodel import Session, SQLModel

from hazardloop.models.tables import Department, Industry, Region, Standard

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "config" / "reference"

# Order matters: industries point at departments.
FILES: list[tuple[str, type[SQLModel], str]] = [
    ("regions.yaml", Region, "code"),
    ("departments.yaml", Department, "code"),
    ("industries.yaml", Industry, "code"),
    ("standards.yaml", Standard, "code"),
]


def read(name: str) -> list[dict]:
    with (REFERENCE_DIR / name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh) or []


def load_reference(session: Session) -> dict[str, int]:
    """Upsert every reference row; returns how many rows were added or changed per table."""
    changed: dict[str, int] = {}
    for filename, model, key in FILES:
        count = 0
        for row in read(filename):
            if model is Industry:
                row = {k: v for k, v in row.items() if k != "department"} | {"department_code": row["department"]}
            existing = session.get(model, row[key])
            if existing is None:
                session.add(model(**row))
                count += 1
            elif any(getattr(existing, k) != v for k, v in row.items()):
                for k, v in row.items():
                    setattr(existing, k, v)
                count += 1
        session.flush()
        changed[model.__tablename__] = count
    return changed

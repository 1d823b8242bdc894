"""Schemathesis against the /api/v1 OpenAPI schema: no generated input gets a 500,
on SQLite and on PostgreSQL (which refuses NUL characters and out-of-range integers).

Each operation's Hypothesis strategy is driven from an ordinary test (schemathesis'
lazy pytest fixture loader does not work with this pytest), so the `web` fixture and
its two databases apply as everywhere else."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.fixtures_web import web  # noqa: F401
from tests.helpers import listed, reported, reviewed

EXAMPLES = 15
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


# Issue 13: the whole API, as a regulator (most paths open), an enterprise and the office (the
# report paths, identity door included); fewer examples for the second and third to stay bounded.
ROLES = [("sup_yingji", EXAMPLES), ("hd_safety", 5), ("office1", 5)]


@pytest.mark.parametrize("username,examples", ROLES, ids=[r for r, _ in ROLES])
def test_api_never_answers_500(web, tmp_path, username, examples, monkeypatch):  # noqa: F811
    from cryptography.fernet import Fernet

    monkeypatch.setenv("HAZARDLOOP_FERNET_KEY", Fernet.generate_key().decode())
    with web.db.session() as s:
        reported(s)
        listed(s)
        reviewed(s, tmp_path)
    headers = {"Authorization": f"Bearer {web.token(username)}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", web.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25  # hazards, reports, escalation: the whole API
    seen: dict[str, set[int]] = {}
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"

        @given(case=operation.as_strategy())
        @settings(SETTINGS, max_examples=examples)
        def run(case):  # noqa: ANN001
            response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
            seen.setdefault(label, set()).add(response.status_code)

        run()
    assert all(code < 500 for codes in seen.values() for code in codes)
    assert len(seen) == len(operations)
    # The generator reached past validation somewhere (not only 401/422 everywhere).
    assert any(code in (200, 201) for codes in seen.values() for code in codes), seen


def test_openapi_schema_lists_the_operations(web):  # noqa: F811
    spec = web.client().get("/api/v1/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/hazards", "/api/v1/hazards/{ref}", "/api/v1/hazards/{ref}/approve",
                 "/api/v1/hazards/{ref}/evidence", "/api/v1/evidence/{evidence_id}", "/api/v1/queue"):
        assert path in paths, path
    assert not any(p.startswith(("/login", "/hazards", "/queue")) for p in paths)  # pages are not API
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_odd_ids_are_not_found_not_errors(web):  # noqa: F811
    """Regressions the fuzzer found or could find: unicode digits and ids beyond 32 bits."""
    api = web.api("office1")
    for ref in ("²", "٣", "99999999999", "0", "YH-\u00b2"):
        assert api.get(f"/api/v1/hazards/{ref}").status_code == 404, ref
    for ent in ("²", "99999999999999999999"):
        r = api.post("/api/v1/hazards", json={"enterprise": ent, "title": "x", "channel": "assigned"})
        assert r.status_code == 404, (ent, r.text)
    assert api.get("/api/v1/evidence/99999999999").status_code == 422
    page = web.login("office1")
    assert page.get("/hazards/²").status_code == 404
    assert page.get("/evidence/²").status_code == 404
    assert page.get("/hazards?page=²").status_code == 200

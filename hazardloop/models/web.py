"""Sign-in data for the web console and the API, kept beside (not inside) app_user.

A credential holds the argon2 hash and the lock-out counters of one person; an
API token is stored only as its SHA-256, so a leaked database leaks no token.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hazardloop.config.clock import utcnow


class WebCredential(SQLModel, table=True):
    __tablename__ = "web_credential"

    user_id: int = Field(primary_key=True, foreign_key="app_user.id", sa_column_kwargs={"autoincrement": False})
    password_hash: str = Field(max_length=255)
    failed_attempts: int = 0
    locked_until: datetime | None = None
    disabled: bool = False
    # Bumped by passwd/disable: every session signed with an older epoch is void.
    session_epoch: int = 1
    changed_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None


class ApiToken(SQLModel, table=True):
    __tablename__ = "web_api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    name: str = Field(max_length=64)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked: bool = False


class RevokedSession(SQLModel, table=True):
    """A signed-out session (its random id from the cookie), refused by every web worker until
    the cookie would have expired anyway; expired rows are swept at each sign-out."""

    __tablename__ = "web_session_revoked"

    sid: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    expires_at: datetime = Field(index=True)

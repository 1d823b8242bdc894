"""Passwords, lock-out, sessions, CSRF and API tokens.

- Passwords: argon2id (argon2-cffi defaults), stored in web_credential.
- Lock-out: MAX_FAILURES wrong passwords in a row lock the account for LOCK_MINUTES;
  a re-authentication (close-out) counts like a sign-in.
- Sessions: a cookie signed with itsdangerous (HMAC) holding the user id, the
  credential's session epoch and the CSRF token; it expires after SESSION_MAX_AGE
  (checked on the signature's timestamp, not only the cookie's Max-Age).
  passwd/disable bump the epoch, which voids every open session at once; sign-out
  records the session as revoked in the database (web_session_revoked), so the old
  cookie is refused by every worker process, not only forgotten by the browser.
- Password changes revoke the user's API tokens too (unless --keep-tokens).
- Password checks run outside any write transaction (attempt()).
- API tokens: random, shown once, stored as SHA-256.
- The secret key: HAZARDLOOP_SECRET_KEY, else <data dir>/secret_key created 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete
from sqlmodel import Session, select

from hazardloop.config import clock
from hazardloop.config.private import private_dir
from hazardloop.config.settings import get_settings
from hazardloop.errors import ValidationError
from hazardloop.models.tables import AppUser
from hazardloop.models.web import ApiToken, RevokedSession, WebCredential

SESSION_COOKIE = "hl_session"
LOGIN_COOKIE = "hl_login"  # carries the sign-in form's CSRF token before there is a session
SESSION_MAX_AGE = 8 * 3600
MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 8

_hasher = PasswordHasher()
# Verified against when the username is unknown, so a miss costs the same time as a hit.
_DUMMY_HASH = _hasher.hash("hazardloop-dummy-password")


# --- the secret key -----------------------------------------------------------


def secret_key_path() -> Path:
    """HAZARDLOOP_SECRET_KEY_FILE, else <data dir>/secret_key: the key may live apart from the data."""
    explicit = os.environ.get("HAZARDLOOP_SECRET_KEY_FILE")
    return Path(explicit) if explicit else get_settings().data_dir / "secret_key"


def load_secret_key() -> str:
    env = os.environ.get("HAZARDLOOP_SECRET_KEY")
    if env:
        if len(env) < 16:
            raise ValidationError("HAZARDLOOP_SECRET_KEY 太短（至少 16 个字符）。")
        return env
    path = secret_key_path()
    private_dir(path.parent, tighten=not os.environ.get("HAZARDLOOP_SECRET_KEY_FILE"))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


# --- passwords ------------------------------------------------------------------


def check_password_policy(password: str | None) -> str:
    if password is None or len(password) < MIN_PASSWORD:
        raise ValidationError(f"密码至少 {MIN_PASSWORD} 个字符。")
    if len(password) > 256:
        raise ValidationError("密码不能超过 256 个字符。")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password_policy(password))


def _verify(hash_: str, password: str) -> bool:
    try:
        return _hasher.verify(hash_, password)
    except (VerificationError, InvalidHashError):
        return False


def credential(session: Session, user: AppUser) -> WebCredential | None:
    return session.get(WebCredential, user.id)


def revoke_tokens(session: Session, user: AppUser) -> int:
    tokens = session.exec(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked == False)).all()  # noqa: E712
    for token in tokens:
        token.revoked = True
    return len(tokens)


def set_password(session: Session, user: AppUser, password: str, *, keep_tokens: bool = False) -> WebCredential:
    """Create or replace the sign-in of a user; unlocks and voids open sessions.

    API tokens are revoked too unless keep_tokens: a password is changed because it may be
    known to someone else, and a token issued to that someone must not outlive it
    (`hazardloop user passwd --keep-tokens` keeps them, e.g. a system account's integration)."""
    hashed = hash_password(password)
    if not keep_tokens:
        revoke_tokens(session, user)
    cred = credential(session, user)
    if cred is None:
        cred = WebCredential(user_id=user.id, password_hash=hashed)
        session.add(cred)
    else:
        cred.password_hash = hashed
        cred.session_epoch += 1
        cred.failed_attempts = 0
        cred.locked_until = None
        cred.disabled = False
        cred.changed_at = clock.utcnow()
    session.flush()
    return cred


def disable(session: Session, user: AppUser) -> None:
    cred = credential(session, user)
    if cred is None:
        cred = WebCredential(user_id=user.id, password_hash="!", disabled=True)
        session.add(cred)
    cred.disabled = True
    cred.session_epoch += 1
    for token in session.exec(select(ApiToken).where(ApiToken.user_id == user.id)).all():
        token.revoked = True
    session.flush()


def password_matches(session: Session, user: AppUser, password: str) -> bool:
    """Without side effects (demo account listing)."""
    cred = credential(session, user)
    return cred is not None and not cred.disabled and _verify(cred.password_hash, password)


@dataclass
class SignIn:
    user: AppUser | None
    message: str | None = None  # Chinese, when refused


FAILED = "用户名或密码错误。"


def _locked_message(cred: WebCredential) -> str:
    until = clock.to_local(cred.locked_until).strftime("%H:%M")  # type: ignore[arg-type]
    return f"连续 {MAX_FAILURES} 次密码错误，账户已锁定，请于 {until} 后再试或联系管理员重置密码。"


def _check(session: Session, user: AppUser | None, password: str) -> SignIn:
    """One password attempt, counted.  The caller commits (also on failure: the count must stick)."""
    cred = credential(session, user) if user is not None else None
    if user is None or cred is None or cred.disabled or not user.active:
        _verify(_DUMMY_HASH, password or "x")
        return SignIn(None, FAILED)
    now = clock.utcnow()
    if cred.locked_until is not None and cred.locked_until > now:
        return SignIn(None, _locked_message(cred))
    if not _verify(cred.password_hash, password or ""):
        cred.failed_attempts += 1
        if cred.failed_attempts >= MAX_FAILURES:
            cred.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            cred.failed_attempts = 0
            session.flush()
            return SignIn(None, _locked_message(cred))
        session.flush()
        return SignIn(None, FAILED)
    cred.failed_attempts = 0
    cred.locked_until = None
    if _hasher.check_needs_rehash(cred.password_hash):
        cred.password_hash = _hasher.hash(password)
    session.flush()
    return SignIn(user)


def attempt(db_url: str | None, password: str, *, username: str | None = None, user_id: int | None = None,
            sign_in: bool = True) -> SignIn:
    """One password attempt, counted, without holding the database's write lock while argon2 runs.

    Read the credential (a read-only unit of work), verify the hash with no transaction open,
    then write only the counters in a short write transaction.  An unknown user, a disabled or
    locked account writes nothing at all, so bogus sign-ins cannot queue up writers behind them
    (40 of them had slowed a concurrent write from 36 ms to 2.5 s on SQLite)."""
    from hazardloop.models.db import session_scope

    with session_scope(db_url, write=False) as s:
        if user_id is not None:
            user = s.get(AppUser, user_id)
        else:
            user = s.exec(select(AppUser).where(AppUser.username == (username or "").strip()[:64])).first()
        cred = credential(s, user) if user is not None else None
        snapshot = None if cred is None else (cred.password_hash, cred.disabled, cred.locked_until)
    if user is None or snapshot is None or snapshot[1] or not user.active:
        _verify(_DUMMY_HASH, password or "x")
        return SignIn(None, FAILED)
    hashed, _disabled, locked_until = snapshot
    now = clock.utcnow()
    if locked_until is not None and locked_until > now:
        return SignIn(None, _locked_message(cred))  # type: ignore[arg-type]
    ok = _verify(hashed, password or "")
    rehashed = _hasher.hash(password) if ok and _hasher.check_needs_rehash(hashed) else None
    with session_scope(db_url, write=True) as s:
        cred = s.get(WebCredential, user.id)
        if cred is None or cred.password_hash != hashed or cred.disabled:
            return SignIn(None, FAILED)  # changed while we hashed: this attempt no longer counts
        if not ok:
            cred.failed_attempts += 1
            if cred.failed_attempts >= MAX_FAILURES:
                cred.locked_until = now + timedelta(minutes=LOCK_MINUTES)
                cred.failed_attempts = 0
                s.flush()
                return SignIn(None, _locked_message(cred))
            return SignIn(None, FAILED)
        if cred.failed_attempts or cred.locked_until is not None:
            cred.failed_attempts = 0
            cred.locked_until = None
        if rehashed:
            cred.password_hash = rehashed
        if sign_in:
            cred.last_login_at = now
        s.flush()
        return SignIn(user)


def authenticate(session: Session, username: str, password: str) -> SignIn:
    user = session.exec(select(AppUser).where(AppUser.username == (username or "").strip())).first()
    result = _check(session, user, password)
    if result.user is not None:
        credential(session, result.user).last_login_at = clock.utcnow()  # type: ignore[union-attr]
    return result


def reauthenticate(session: Session, user: AppUser, password: str) -> SignIn:
    """The password again before a close-out (销号); failures count toward lock-out."""
    return _check(session, user, password)


# --- sessions and CSRF -------------------------------------------------------------


@dataclass
class SessionData:
    user_id: int
    epoch: int
    csrf: str


class SessionCodec:
    def __init__(self, secret: str, max_age: int = SESSION_MAX_AGE) -> None:
        self.max_age = max_age
        self._session = URLSafeTimedSerializer(secret, salt="hazardloop.session")
        self._login = URLSafeTimedSerializer(secret, salt="hazardloop.login")

    def dumps(self, data: SessionData) -> str:
        return self._session.dumps({"u": data.user_id, "e": data.epoch, "c": data.csrf})

    def loads(self, value: str | None) -> SessionData | None:
        if not value:
            return None
        try:
            raw = self._session.loads(value, max_age=self.max_age)
            return SessionData(int(raw["u"]), int(raw["e"]), str(raw["c"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None

    def login_token(self) -> tuple[str, str]:
        """(csrf token for the form, signed cookie value holding it)."""
        token = secrets.token_urlsafe(24)
        return token, self._login.dumps(token)

    def login_cookie_token(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return str(self._login.loads(value, max_age=3600))
        except BadSignature:
            return None


def session_id(data: SessionData) -> str:
    """The server-side name of a session: a hash of its random CSRF token (the token itself is
    never stored, so a database reader cannot forge a form post)."""
    return hashlib.sha256(b"session:" + data.csrf.encode()).hexdigest()


def revoke_session(session: Session, data: SessionData, max_age: int = SESSION_MAX_AGE) -> None:
    """Sign-out: this cookie is refused by every worker from now on (not only by the browser
    that deletes it).  Kept until it would have expired anyway; expired rows are swept here."""
    now = clock.utcnow()
    session.execute(delete(RevokedSession).where(RevokedSession.expires_at < now))
    if session.get(RevokedSession, session_id(data)) is None:
        session.add(RevokedSession(sid=session_id(data), user_id=data.user_id,
                                   expires_at=now + timedelta(seconds=max_age)))
    session.flush()


def new_session(cred: WebCredential) -> SessionData:
    return SessionData(cred.user_id, cred.session_epoch, secrets.token_urlsafe(24))


def session_user(session: Session, data: SessionData | None) -> AppUser | None:
    """The signed-in user, or None if the session was voided (passwd, disable, deactivated)."""
    if data is None:
        return None
    # One statement for every page view (user, credential, sign-out), not three round trips.
    signed_out = select(RevokedSession.sid).where(RevokedSession.sid == session_id(data)).exists()
    row = session.exec(select(AppUser).join(WebCredential, WebCredential.user_id == AppUser.id)
                       .where(AppUser.id == data.user_id, AppUser.active == True,  # noqa: E712
                              WebCredential.disabled == False,  # noqa: E712
                              WebCredential.session_epoch == data.epoch, ~signed_out)).first()
    return row


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


# --- API tokens -------------------------------------------------------------------


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(session: Session, user: AppUser, name: str = "api") -> str:
    raw = "hl_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name[:64], token_hash=_token_hash(raw)))
    session.flush()
    return raw


def token_user(session: Session, raw: str | None) -> AppUser | None:
    if not raw or len(raw) > 200:
        return None
    # One statement (every API call makes it): a live token of an active user whose sign-in, if
    # any, is not disabled.
    return session.exec(
        select(AppUser).join(ApiToken, ApiToken.user_id == AppUser.id)
        .outerjoin(WebCredential, WebCredential.user_id == AppUser.id)
        .where(ApiToken.token_hash == _token_hash(raw), ApiToken.revoked == False,  # noqa: E712
               AppUser.active == True,  # noqa: E712
               (WebCredential.user_id == None) | (WebCredential.disabled == False))  # noqa: E711, E712
    ).first()


def live_tokens(session: Session, user: AppUser) -> list[ApiToken]:
    """The user's tokens that still open the API (never their secret: only the hash is kept)."""
    return list(session.exec(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked == False)  # noqa: E712
                             .order_by(ApiToken.id)).all())


def revoke_token(session: Session, user: AppUser, token_id: int) -> ApiToken:
    """Revoke one of the user's tokens (`hazardloop user revoke`, 管理 on the console)."""
    from hazardloop.errors import NotFound

    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(f"{user.username} 没有编号为 {token_id} 的 API 令牌。")
    if token.revoked:
        raise ValidationError(f"API 令牌 {token_id}（{token.name}）已作废。")
    token.revoked = True
    session.flush()
    return token


# --- accounts -------------------------------------------------------------------------

# Roles that administer others (管理 is the committee office's): a sign-in for one is created
# only when the caller says so explicitly (`user add --privileged`, a ticked box on the console).
PRIVILEGED_ROLES = frozenset({"committee"})
_BAD_USERNAME = set("/\\?#%&\"'<>")


def add_user(session: Session, username: str, password: str, *, name: str | None = None, role: str | None = None,
             enterprise: str | int | None = None, department: str | None = None, region: str | None = None,
             privileged: bool = False, actor: str = "system") -> tuple[AppUser, bool]:
    """Give a person a sign-in, creating the person when the username is new (`hazardloop user add`,
    管理 → 新建用户).  Role, department and region may be typed as codes or Chinese names; an
    enterprise user needs an enterprise, a supervisor a department, a township officer a region.
    Everything is checked before anything is written.  Returns (user, created)."""
    from hazardloop.config import labels
    from hazardloop.errors import NotFound
    from hazardloop.models import audit
    from hazardloop.models.lookup import resolve
    from hazardloop.states import ledger

    username = (username or "").strip()
    if not username or len(username) > 64 or any(c.isspace() or not c.isprintable() or c in _BAD_USERNAME
                                                  for c in username):
        raise ValidationError("用户名须为 1–64 个字符，不含空白和 / \\ ? # % & \" ' < >。")
    check_password_policy(password)
    user = session.exec(select(AppUser).where(AppUser.username == username)).first()
    created = user is None
    if user is None:
        name = (name or "").strip()
        if not name or not role:
            raise ValidationError("新建用户需要姓名和角色。")
        if len(name) > 64:
            raise ValidationError("姓名不能超过 64 个字符。")
        role = labels.resolve("role", role, "角色")
        if role == "system":
            raise ValidationError("系统账户不能在这里创建。")
        try:
            ent_id = ledger.get_enterprise(session, enterprise).id if enterprise not in (None, "") else None
        except NotFound as exc:  # a typed name that matches nothing: bad input here, not a missing page
            raise ValidationError(str(exc)) from None
        department = resolve(session, "department", department or None)
        region = resolve(session, "region", region or None)
        if role == "enterprise" and ent_id is None:
            raise ValidationError("企业用户须指定所属企业。")
        if role == "supervisor" and not department:
            raise ValidationError("行业监管部门用户须指定部门。")
        if role == "township" and not region:
            raise ValidationError("镇街区用户须指定镇街区。")
        user = AppUser(username=username, name=name, role=role, enterprise_id=ent_id if role == "enterprise" else None,
                       department_code=department, region_code=region)
    else:
        cred = credential(session, user)
        if cred is not None and not cred.disabled:
            raise ValidationError(f"用户 {username} 已有登录账户；改密码请用“设置新密码”（hazardloop user passwd）。")
        if user.role == "system":
            raise ValidationError("系统账户不能在这里开通登录。")
    if user.role in PRIVILEGED_ROLES and not privileged:
        raise ValidationError(f"{labels.label('role', user.role)}账户可管理全部用户和数据：须明确确认才能开通"
                              "（命令行 --privileged，网页勾选“确认开通管理权限账户”）。")
    if created:
        session.add(user)
        session.flush()
    set_password(session, user, password)
    audit.append(session, actor=actor, action="user_sign_in_opened", after={
        "username": user.username, "role": user.role, "created": created})
    return user, created

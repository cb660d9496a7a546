"""People who use the review app: accounts, roles, server-side sessions and
the limit on sign-in attempts (SECURITY.md cases 20, 21, 23).

Passwords are hashed with werkzeug.security (scrypt). A session is a random
token: the browser's signed cookie holds it, this table holds its hash, and
signing out deletes the row, so a copied cookie is dead after logout.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import sqlite_utils
from werkzeug.security import check_password_hash, generate_password_hash

from answer_bank.db import transaction
from answer_bank.store import utcnow
from questionnaire.review_db import ROLES

# What each role may do. Higher roles include the lower ones' rights, except
# that approving is its own right (an editor cannot approve).
CAPABILITIES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "editor": frozenset({"read", "review", "propose"}),
    "approver": frozenset({"read", "review", "propose", "approve"}),
    "admin": frozenset({"read", "review", "propose", "approve", "admin"}),
}

MIN_PASSWORD_LENGTH = 10
SESSION_IDLE_SECONDS = 8 * 3600
SESSION_MAX_SECONDS = 24 * 3600
# Sign-in limits: failures counted per account name and per client address
# within a sliding window.
LOGIN_WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 20

# Checked against when the name is unknown, so a wrong name costs as much
# time as a wrong password (no user enumeration by timing).
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


class UserError(Exception):
    """An account operation a person asked for that cannot be done (message says why)."""


class UserNotFound(UserError):
    pass


@dataclass
class User:
    id: int
    name: str
    role: str
    active: bool
    created_at: str
    created_by: str

    def can(self, capability: str) -> bool:
        return self.active and capability in CAPABILITIES.get(self.role, frozenset())


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def _failure_key(name: str | None) -> str:
    """The login_failures key of a user name (as typed: case and spaces ignored)."""
    return f"name:{(name or '').strip().lower()}"


def _change_key(user_id: int) -> str:
    """The login_failures key of wrong current passwords on the change-password form."""
    return f"change:{int(user_id)}"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 80 or any(c.isspace() or not c.isprintable() for c in name):
        raise UserError("a user name is 1 to 80 printable characters without spaces")
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def _check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    return password


class Users:
    """All reads and writes of accounts and sessions."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db

    # ---- accounts ------------------------------------------------------

    def _user(self, where: str, params: list) -> User | None:
        row = self.db.execute(
            f"SELECT id, name, role, active, created_at, created_by FROM users WHERE {where}", params
        ).fetchone()
        if row is None:
            return None
        return User(row[0], row[1], row[2], bool(row[3]), row[4], row[5])

    def get(self, user_id: int) -> User:
        """Raises UserNotFound."""
        user = self._user("id = ?", [user_id])
        if user is None:
            raise UserNotFound(f"no user with id {user_id}")
        return user

    def by_name(self, name: str) -> User | None:
        return self._user("name = ?", [name])

    def list(self) -> list[User]:
        rows = self.db.execute(
            "SELECT id, name, role, active, created_at, created_by FROM users ORDER BY name"
        ).fetchall()
        return [User(r[0], r[1], r[2], bool(r[3]), r[4], r[5]) for r in rows]

    def count_admins(self) -> int:
        return self.db.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active = 1").fetchone()[0]

    def add(self, name: str, role: str, password: str, *, created_by: str) -> User:
        """Raises UserError (bad name, role or password; name taken)."""
        name, role, password = _check_name(name), _check_role(role), _check_password(password)
        now = utcnow()
        with transaction(self.db):
            if self.by_name(name) is not None:
                raise UserError(f"a user named {name!r} already exists")
            self.db.execute(
                "INSERT INTO users (name, role, password_hash, active, created_at, created_by, password_changed_at) "
                "VALUES (?, ?, ?, 1, ?, ?, ?)",
                [name, role, generate_password_hash(password), now, created_by, now],
            )
        return self.by_name(name)

    def set_role(self, user_id: int, role: str) -> User:
        role = _check_role(role)
        with transaction(self.db):
            user = self.get(user_id)
            if user.role == "admin" and role != "admin" and user.active and self.count_admins() <= 1:
                raise UserError("this is the last admin; make another admin first")
            self.db.execute("UPDATE users SET role = ? WHERE id = ?", [role, user_id])
        return self.get(user_id)

    def set_active(self, user_id: int, active: bool) -> User:
        with transaction(self.db):
            user = self.get(user_id)
            if not active and user.role == "admin" and user.active and self.count_admins() <= 1:
                raise UserError("this is the last admin; make another admin first")
            self.db.execute("UPDATE users SET active = ? WHERE id = ?", [int(active), user_id])
            if not active:
                self.db.execute("DELETE FROM user_sessions WHERE user_id = ?", [user_id])
        return self.get(user_id)

    def set_password(self, user_id: int, password: str) -> None:
        """Also ends every session of that user."""
        password = _check_password(password)
        with transaction(self.db):
            self.get(user_id)
            self.db.execute(
                "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
                [generate_password_hash(password), utcnow(), user_id],
            )
            self.db.execute("DELETE FROM user_sessions WHERE user_id = ?", [user_id])

    def ensure_first_admin(self, name: str = "admin") -> str | None:
        """Create an admin with a generated password when there is no user at all.
        Returns the password (to show once), or None when users exist."""
        if self.db.execute("SELECT count(*) FROM users").fetchone()[0]:
            return None
        password = generate_password()
        try:
            self.add(name, "admin", password, created_by="aimsq-serve")
        except UserError:  # another process created it first
            return None
        return password

    # ---- signing in ----------------------------------------------------

    def authenticate(self, name: str, password: str) -> User | None:
        """The active user with this name and password, else None (same cost either way)."""
        row = self.db.execute(
            "SELECT id, password_hash, active FROM users WHERE name = ?", [(name or "").strip()]
        ).fetchone()
        stored = row[1] if row else _DUMMY_HASH
        ok = check_password_hash(stored, password or "")
        if not ok or row is None or not row[2]:
            return None
        return self.get(row[0])

    def login_wait_seconds(self, name: str, address: str, now: float | None = None) -> int:
        """How long sign-in stays blocked for this name or address (0: allowed)."""
        return self._wait_seconds(((_failure_key(name), MAX_FAILURES_PER_NAME),
                                   (f"addr:{address}", MAX_FAILURES_PER_ADDRESS)), now)

    def password_change_wait_seconds(self, user_id: int, now: float | None = None) -> int:
        """How long changing this user's password stays blocked after wrong
        current passwords (0: allowed). Its own count, so a signed-in session
        cannot guess the password faster than the sign-in page allows."""
        return self._wait_seconds(((_change_key(user_id), MAX_FAILURES_PER_NAME),), now)

    def record_password_change_failure(self, user_id: int) -> None:
        now = time.time()
        with transaction(self.db):
            self.db.execute("INSERT INTO login_failures (key, at) VALUES (?, ?)", [_change_key(user_id), now])
            self.db.execute("DELETE FROM login_failures WHERE at < ?", [now - LOGIN_WINDOW_SECONDS])

    def clear_password_change_failures(self, user_id: int) -> None:
        with transaction(self.db):
            self.db.execute("DELETE FROM login_failures WHERE key = ?", [_change_key(user_id)])

    def _wait_seconds(self, keys: tuple[tuple[str, int], ...], now: float | None) -> int:
        now = time.time() if now is None else now
        since = now - LOGIN_WINDOW_SECONDS
        waits = [0]
        for key, limit in keys:
            rows = self.db.execute(
                "SELECT at FROM login_failures WHERE key = ? AND at > ? ORDER BY at DESC LIMIT ?",
                [key, since, limit],
            ).fetchall()
            if len(rows) >= limit:
                # Blocked until the oldest of the last `limit` failures leaves the window.
                waits.append(int(rows[-1][0] + LOGIN_WINDOW_SECONDS - now) + 1)
        return max(waits)

    def record_login_failure(self, name: str, address: str) -> None:
        now = time.time()
        with transaction(self.db):
            self.db.conn.executemany(
                "INSERT INTO login_failures (key, at) VALUES (?, ?)",
                [(_failure_key(name), now), (f"addr:{address}", now)],
            )
            self.db.execute("DELETE FROM login_failures WHERE at < ?", [now - LOGIN_WINDOW_SECONDS])

    def clear_login_failures(self, name: str) -> None:
        with transaction(self.db):
            self.db.execute("DELETE FROM login_failures WHERE key = ?", [_failure_key(name)])

    # ---- sessions ------------------------------------------------------

    def start_session(self, user_id: int) -> str:
        """A new session token for this user (the caller puts it in a fresh cookie)."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with transaction(self.db):
            self.db.execute(
                "INSERT INTO user_sessions (token_hash, user_id, created_at, last_seen) VALUES (?, ?, ?, ?)",
                [_token_hash(token), user_id, now, now],
            )
            # Housekeeping: sessions nobody used for a day are gone anyway.
            self.db.execute("DELETE FROM user_sessions WHERE last_seen < ?", [now - SESSION_MAX_SECONDS])
        return token

    def session_user(self, token: str | None) -> User | None:
        """The signed-in user for a session token, or None when it ended or expired."""
        if not token or not isinstance(token, str):
            return None
        now = time.time()
        row = self.db.execute(
            "SELECT user_id, created_at, last_seen FROM user_sessions WHERE token_hash = ?", [_token_hash(token)]
        ).fetchone()
        if row is None:
            return None
        user_id, created_at, last_seen = row
        if now - last_seen > SESSION_IDLE_SECONDS or now - created_at > SESSION_MAX_SECONDS:
            self.end_session(token)
            return None
        if now - last_seen > 60:  # touch at most once a minute: reads stay reads
            with transaction(self.db):
                self.db.execute("UPDATE user_sessions SET last_seen = ? WHERE token_hash = ?", [now, _token_hash(token)])
        user = self._user("id = ?", [user_id])
        return user if user is not None and user.active else None

    def end_session(self, token: str | None) -> None:
        if not token or not isinstance(token, str):
            return
        with transaction(self.db):
            self.db.execute("DELETE FROM user_sessions WHERE token_hash = ?", [_token_hash(token)])

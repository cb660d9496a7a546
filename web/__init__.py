"""The aimsq review web app (Flask).

`create_app(test_config=None)` builds it: defaults, then the environment
(`AIMSQ_*`, read by aimsq_settings), then `config.py` in the instance folder
(unless a test config is passed), then the given mapping. Settings:

| key | default | what |
| --- | --- | --- |
| AIMSQ_DB | $AIMSQ_DB, else instance/aimsq.db | the bank (and review) database |
| AIMSQ_FILES_DIR | $AIMSQ_FILES_DIR, else `files/` beside the database | uploaded and exported files, under generated names |
| SECRET_KEY | $AIMSQ_SECRET_KEY, else a key kept in `secret_key` beside the database | signs the session cookie |
| MAX_CONTENT_LENGTH | $AIMSQ_MAX_UPLOAD_MB (50) MB | the largest upload; larger ones get a 413 page |
| AIMSQ_REVIEW_PAGE_SIZE | $AIMSQ_REVIEW_PAGE_SIZE (100) | questions per review page |
| AIMSQ_PROXY_COUNT | $AIMSQ_PROXY_COUNT (0) | reverse proxies in front whose X-Forwarded-* headers are trusted (for TLS detection) |
| AIMSQ_EMBEDDER | None (the bundled model) | an embedder object (tests inject a fake) |
| AIMSQ_AUTOFILL_INLINE | False | propose answers inside the request instead of a background thread (tests) |
| SESSION_COOKIE_SECURE | False | always mark the cookie Secure; it is also Secure whenever the request came over TLS |
"""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, redirect, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

import aimsq_settings
from ingest.cells import CELL_LIMIT
from ingest.guard import Limits

csrf = CSRFProtect()


def _secret_key(db_path: str) -> str:
    """A random key kept beside the database, so sessions survive a restart."""
    env = aimsq_settings.secret_key()
    if env:
        return env
    if db_path == ":memory:":
        return secrets.token_hex(32)
    key_file = Path(db_path).parent / "secret_key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return key_file.read_text().strip()


class RowIdConverter(IntegerConverter):
    """`<int:...>` in a URL: at most SQLite's largest integer, so an id out of
    range is a 404 like any other missing one, never a 500 (SECURITY.md 36)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["int"] = RowIdConverter
    app.config.from_mapping(
        AIMSQ_DB=aimsq_settings.db_path() or os.path.join(app.instance_path, "aimsq.db"),
        AIMSQ_FILES_DIR=aimsq_settings.files_dir(),
        # One setting for the CLI and the app (ingest.guard reads and checks it).
        MAX_CONTENT_LENGTH=Limits.from_env().max_upload_bytes,
        AIMSQ_REVIEW_PAGE_SIZE=aimsq_settings.review_page_size(),
        AIMSQ_PROXY_COUNT=aimsq_settings.proxy_count(),
        AIMSQ_EMBEDDER=None,
        AIMSQ_AUTOFILL_INLINE=False,
        SESSION_COOKIE_NAME="aimsq_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=24),
        # The token lives as long as the (server-side limited) session: a
        # reviewer who leaves the page open for an hour can still act.
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=True,
        TEMPLATES_AUTO_RELOAD=False,
    )
    if test_config is None or not test_config.get("TESTING"):
        app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.from_mapping(test_config)
    db_path = str(app.config["AIMSQ_DB"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(db_path)
    if not app.config["AIMSQ_FILES_DIR"]:
        app.config["AIMSQ_FILES_DIR"] = str(Path(db_path).resolve().parent / "files")
    Path(app.config["AIMSQ_FILES_DIR"]).mkdir(parents=True, exist_ok=True)

    from web import errors, security, services

    security.init_app(app)
    csrf.init_app(app)
    services.init_app(app)
    errors.init_app(app)
    # Templates cap an answer's text box at what a spreadsheet cell holds.
    app.jinja_env.globals["CELL_LIMIT"] = CELL_LIMIT

    from web.admin import bp as admin_bp
    from web.auth import bp as auth_bp
    from web.bank import bp as bank_bp
    from web.curation import bp as curation_bp
    from web.questionnaires import bp as questionnaires_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(questionnaires_bp)
    app.register_blueprint(bank_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(curation_bp)

    @app.get("/")
    @security.requires("read")
    def index():
        return redirect(url_for("questionnaires.index"))

    return app

"""Who may do what, and the HTTP-level defences (SECURITY.md 19-22).

Every view declares the capability it needs with `@requires(...)`; a view
that declares none is refused to everyone, so a route cannot be forgotten.
The signed-in user comes from a server-side session row (see
`questionnaire.users`); the cookie holds only its random token.
"""
from __future__ import annotations

from typing import Callable
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, flash, g, has_request_context, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from web.services import get_users

PUBLIC = "public"
PUBLIC_ENDPOINTS = {"static"}

CSP = (
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)


def requires(capability: str) -> Callable:
    """Declare what a view needs: 'public', 'read', 'review', 'propose', 'approve' or 'admin'."""

    def decorate(view):
        view.required_capability = capability
        return view

    return decorate


def required_capability(endpoint: str | None) -> str | None:
    if endpoint in PUBLIC_ENDPOINTS:
        return PUBLIC
    view = current_app.view_functions.get(endpoint or "")
    return getattr(view, "required_capability", None)


class SessionInterface(SecureCookieSessionInterface):
    """The signed cookie, marked Secure whenever the request came over TLS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config["SESSION_COOKIE_SECURE"]:
            return True
        return bool(has_request_context() and request.is_secure)


def load_user() -> None:
    # Static files need no user: no database connection for them.
    g.user = None if request.endpoint in PUBLIC_ENDPOINTS else get_users().session_user(session.get("sid"))


def check_access():
    if request.endpoint is None:  # 404 / 405: let routing answer
        return None
    capability = required_capability(request.endpoint)
    if capability == PUBLIC:
        return None
    if capability is None:
        abort(403)
    if g.user is None:
        if request.method == "GET" and not _wants_json():
            flash("Sign in to continue.", "info")
            return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
        abort(401)
    if not g.user.can(capability):
        abort(403)
    return None


def _wants_json() -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def set_headers(response):
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    if request.endpoint != "static":
        # Pages show customers' questionnaires: never keep them in a shared cache.
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    if app.config["AIMSQ_PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = int(app.config["AIMSQ_PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    app.before_request(load_user)
    app.before_request(check_access)
    app.after_request(set_headers)

    @app.context_processor
    def inject_user():
        user = g.get("user")
        return {"current_user": user, "can": (lambda cap: bool(user and user.can(cap)))}


MAX_NEXT_CHARS = 2000


def safe_next(target: str | None) -> str | None:
    r"""`target` when it is a path on this site, else None (SECURITY.md 32).

    Browsers drop tabs and newlines from a URL and read a backslash as a slash,
    so "/\t/evil.example" or "/\\evil.example" would leave the site: any
    control character, whitespace other than a space, or backslash refuses
    the target outright rather than being cleaned up."""
    if not target or not isinstance(target, str) or len(target) > MAX_NEXT_CHARS:
        return None
    if "\\" in target or any(not c.isprintable() for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return target


def redirect_back(default: str):
    """Redirect to a same-site path given in the form or query (`next`), else `default`."""
    target = safe_next(request.form.get("next") or request.args.get("next"))
    return redirect(target or default)

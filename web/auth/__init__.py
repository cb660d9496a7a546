"""Signing in and out, and changing one's own password."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import TooManyRequests

from web.auth.forms import LoginForm, LogoutForm, PasswordForm
from web.security import PUBLIC, redirect_back, requires
from web.services import get_users

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@requires(PUBLIC)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        users = get_users()
        address = request.remote_addr or "unknown"
        wait = users.login_wait_seconds(form.name.data, address)
        if wait:
            minutes = max(1, (wait + 59) // 60)
            raise TooManyRequests(
                f"Too many failed sign-in attempts for this account or address. Try again in {minutes} minute(s)."
            )
        user = users.authenticate(form.name.data, form.password.data)
        if user is None:
            users.record_login_failure(form.name.data, address)
            flash("Wrong user name or password.", "error")
            return render_template("auth/login.html", form=form), 401
        users.clear_login_failures(form.name.data)
        old = session.get("sid")
        if old:
            users.end_session(old)
        # A fresh session: nothing from before signing in is carried over.
        session.clear()
        session["sid"] = users.start_session(user.id)
        return redirect_back(url_for("questionnaires.index"))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@requires("read")
def logout():
    if not LogoutForm().validate_on_submit():
        abort(400)
    get_users().end_session(session.get("sid"))
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@requires("read")
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        users = get_users()
        wait = users.password_change_wait_seconds(g.user.id)
        if wait:
            minutes = max(1, (wait + 59) // 60)
            raise TooManyRequests(
                f"Too many wrong current passwords. Try again in {minutes} minute(s), or ask an admin to reset it."
            )
        if users.authenticate(g.user.name, form.current.data) is None:
            users.record_password_change_failure(g.user.id)
            flash("The current password is wrong.", "error")
            return render_template("auth/password.html", form=form), 400
        users.clear_password_change_failures(g.user.id)
        users.set_password(g.user.id, form.new.data)  # also ends every session
        session.clear()
        session["sid"] = users.start_session(g.user.id)
        flash("Password changed. Other sessions of yours were signed out.", "info")
        return redirect(url_for("questionnaires.index"))
    return render_template("auth/password.html", form=form)

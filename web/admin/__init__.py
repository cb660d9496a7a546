"""Accounts: admins add users, change roles, deactivate and reset passwords.
A generated password is shown once, in the response, never stored in the
(signed, not encrypted) session cookie."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for

from questionnaire.users import generate_password
from web.admin.forms import AddUserForm, RoleForm
from web.forms import ButtonForm
from web.security import requires
from web.services import get_users

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _page(add_form=None, shown_password=None, status=200):
    return render_template(
        "admin/users.html", users=get_users().list(), add_form=add_form or AddUserForm(),
        role_form=RoleForm(), button_form=ButtonForm(), shown_password=shown_password,
    ), status


@bp.get("/users")
@requires("admin")
def users():
    return _page()


@bp.post("/users")
@requires("admin")
def add_user():
    form = AddUserForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    password = form.password.data or generate_password()
    user = get_users().add(form.name.data, form.role.data, password, created_by=g.user.name)
    flash(f"User {user.name} ({user.role}) created.", "info")
    return _page(shown_password=(user.name, password) if not form.password.data else None)


@bp.post("/users/<int:user_id>/role")
@requires("admin")
def set_role(user_id: int):
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    user = get_users().set_role(user_id, form.role.data)
    flash(f"{user.name} is now {user.role}.", "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/deactivate")
@requires("admin")
def deactivate(user_id: int):
    if not ButtonForm().validate_on_submit():
        abort(400)
    user = get_users().set_active(user_id, False)
    flash(f"{user.name} can no longer sign in; their sessions ended.", "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/activate")
@requires("admin")
def activate(user_id: int):
    if not ButtonForm().validate_on_submit():
        abort(400)
    user = get_users().set_active(user_id, True)
    flash(f"{user.name} can sign in again.", "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/password")
@requires("admin")
def reset_password(user_id: int):
    if not ButtonForm().validate_on_submit():
        abort(400)
    users = get_users()
    user = users.get(user_id)
    password = generate_password()
    users.set_password(user_id, password)
    flash(f"New password for {user.name}; their sessions ended.", "info")
    return _page(shown_password=(user.name, password))

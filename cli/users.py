"""`aimsq user ...`: accounts of the review web app.

A password is prompted (hidden, twice) or, with --generate or when there is
no terminal, generated and shown once.
"""
from __future__ import annotations

import sys

import click

from cli.core import cli_user
from questionnaire.review_db import ROLES


def _users(ctx: click.Context):
    from questionnaire import review_db
    from questionnaire.users import Users

    root = ctx.find_root()
    if "users" not in root.obj:
        root.obj["users"] = Users(review_db.connect(root.obj["db_path"]))
    return root.obj["users"]


def _user_errors(fn):
    """UserError -> one clear line (the group handles bank and OS errors)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from questionnaire.users import UserError

        try:
            return fn(*args, **kwargs)
        except UserError as e:
            raise click.ClickException(str(e)) from None

    return wrapper


def _named_user(users, name: str):
    u = users.by_name(name)
    if u is None:
        raise click.ClickException(f"no user named {name!r}")
    return u


def _new_password(generate: bool) -> tuple[str, bool]:
    from questionnaire.users import MIN_PASSWORD_LENGTH, generate_password

    if generate or not sys.stdin.isatty():
        return generate_password(), True
    password = click.prompt(f"Password (at least {MIN_PASSWORD_LENGTH} characters)", hide_input=True,
                            confirmation_prompt=True)
    return password, False


@click.group()
def user():
    """Manage the web app's users (viewer, editor, approver, admin)."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="editor", show_default=True)
@click.option("--generate", is_flag=True, help="Generate a password and show it once instead of prompting.")
@click.pass_context
@_user_errors
def user_add(ctx: click.Context, name: str, role: str, generate: bool):
    """Add a user. The password is prompted, or generated and shown once."""
    password, generated = _new_password(generate)
    u = _users(ctx).add(name, role, password, created_by=cli_user())
    click.echo(f"User {u.name} ({u.role}) added.")
    if generated:
        click.echo(f"Password (shown once): {password}")


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context):
    """List users."""
    for u in _users(ctx).list():
        click.echo(f"{u.name:<24} {u.role:<9} {'active' if u.active else 'inactive':<9} created {u.created_at} by {u.created_by}")


@user.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@click.pass_context
@_user_errors
def user_set_role(ctx: click.Context, name: str, role: str):
    """Change a user's role."""
    users = _users(ctx)
    u = _named_user(users, name)
    u = users.set_role(u.id, role)
    click.echo(f"{u.name} is now {u.role}.")


@user.command("password")
@click.argument("name")
@click.option("--generate", is_flag=True, help="Generate a password and show it once instead of prompting.")
@click.pass_context
@_user_errors
def user_password(ctx: click.Context, name: str, generate: bool):
    """Set a new password for a user (ends their sessions)."""
    users = _users(ctx)
    u = _named_user(users, name)
    password, generated = _new_password(generate)
    users.set_password(u.id, password)
    click.echo(f"Password of {u.name} changed; their sessions ended.")
    if generated:
        click.echo(f"Password (shown once): {password}")


@user.command("deactivate")
@click.argument("name")
@click.pass_context
@_user_errors
def user_deactivate(ctx: click.Context, name: str):
    """Stop a user from signing in (ends their sessions)."""
    users = _users(ctx)
    u = _named_user(users, name)
    users.set_active(u.id, False)
    click.echo(f"{u.name} can no longer sign in.")


def ensure_first_admin(db_path: str) -> str | None:
    """For `aimsq serve`: create user `admin` with a generated password when
    the app has no user at all; returns that password (to print once)."""
    from questionnaire import review_db
    from questionnaire.users import Users

    db = review_db.connect(db_path)
    try:
        return Users(db).ensure_first_admin()
    finally:
        db.conn.close()

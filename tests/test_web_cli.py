"""`aimsq user ...` and the first admin that `aimsq serve` creates."""
from __future__ import annotations

from click.testing import CliRunner

from cli import main


def test_user_add_generates_a_password_shown_once(tmp_path):
    db = str(tmp_path / "a.db")
    r = CliRunner().invoke(main, ["--db", db, "user", "add", "sam", "--role", "approver"], input="")
    assert r.exit_code == 0, r.output
    password = r.output.split("Password (shown once): ")[1].strip()
    from questionnaire import review_db
    from questionnaire.users import Users

    users = Users(review_db.connect(db))
    assert users.authenticate("sam", password).role == "approver"
    r = CliRunner().invoke(main, ["--db", db, "user", "list"])
    assert "sam" in r.output and "approver" in r.output and password not in r.output


def test_user_errors_are_one_line(tmp_path):
    db = str(tmp_path / "a.db")
    runner = CliRunner()
    runner.invoke(main, ["--db", db, "user", "add", "sam", "--generate"])
    r = runner.invoke(main, ["--db", db, "user", "add", "sam", "--generate"])
    assert r.exit_code != 0 and "already exists" in r.output and "Traceback" not in r.output
    r = runner.invoke(main, ["--db", db, "user", "set-role", "nobody", "admin"])
    assert r.exit_code != 0 and "no user named" in r.output


def test_first_admin_only_when_there_is_no_user(tmp_path):
    from cli.users import ensure_first_admin

    db = str(tmp_path / "a.db")
    password = ensure_first_admin(db)
    assert password and len(password) >= 10
    assert ensure_first_admin(db) is None
    from questionnaire import review_db
    from questionnaire.users import Users

    assert Users(review_db.connect(db)).authenticate("admin", password).role == "admin"


def test_last_admin_cannot_be_demoted(tmp_path):
    from cli.users import ensure_first_admin

    db = str(tmp_path / "a.db")
    ensure_first_admin(db)
    r = CliRunner().invoke(main, ["--db", db, "user", "set-role", "admin", "viewer"])
    assert r.exit_code != 0 and "last admin" in r.output

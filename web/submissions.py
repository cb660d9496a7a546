"""What a view does with a posted form it cannot apply, the same on every
page: an invalid form is a 400 naming the problem, and a change saved by
someone else first is shown beside the person's own (the entry's history).

Shared by the bank and curation blueprints, so neither imports the other.
"""
from __future__ import annotations

from typing import Callable

from flask import abort, flash, redirect, url_for
from flask_wtf import FlaskForm

from answer_bank.curation import CurationError, SelfApproval
from answer_bank.model import BankEntry
from answer_bank.store import VersionConflict


def form_error(form: FlaskForm) -> str:
    return "; ".join(f"{name}: {', '.join(errs)}" for name, errs in form.errors.items()) or "incomplete form"


def valid_or_400(form: FlaskForm) -> None:
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400, "The form expired or did not come from this site (missing or invalid security token). "
                       "Reload the page and try again.")
        abort(400, form_error(form))


def show_conflict(e: VersionConflict, ext_id: str, seen: int | None):
    """Tell the person someone else saved first, and show them that change."""
    flash(f"{e} Their change is shown below.", "error")
    return redirect(url_for("curation.history", ext_id=ext_id, **{"from": seen or e.expected_version,
                                                                   "to": e.current.version}))


def change_entry(ext_id: str, seen: int | None, change: Callable[[], BankEntry], done: Callable[[BankEntry], str],
                 back: str, refused: tuple[type[Exception], ...] = (CurationError,)):
    """One change to a bank entry posted from a page, then back to `back`:
    a newer version than the page showed is a conflict (the history with
    both), approving your own change is refused (403), another refusal
    (`refused`) is flashed, and success flashes `done(entry)`."""
    try:
        entry = change()
    except SelfApproval as e:
        abort(403, str(e))
    except VersionConflict as e:
        return show_conflict(e, ext_id, seen)
    except refused as e:
        flash(str(e), "error")
    else:
        flash(done(entry), "info")
    return redirect(back)

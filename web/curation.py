"""Trust-team curation pages: an entry's history with diffs and restore, bulk
approval, what is due for review, duplicate and conflict findings with merge
and dismiss, framework coverage with its chart, the response pack, and the
figures of past questionnaires.

Viewers read every page (and may download a pack); approvers approve,
restore, retire, merge, dismiss and confirm reviews, never approving their
own change. The work is done by `answer_bank` and `questionnaire.figures`;
errors a person can fix are flashed, conflicts show the other change.
"""
from __future__ import annotations

import datetime as dt

from flask import (Blueprint, Response, abort, flash, g, redirect, render_template, request,
                   url_for)
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from answer_bank import checks, curation, review_cycle
from answer_bank.coverage import FRAMEWORKS, coverage, coverage_svg, load_framework
from answer_bank.curation_db import get_setting, set_setting
from answer_bank.pack import PackError, build_pack
from answer_bank.store import BankError, VersionConflict
from questionnaire.figures import most_edited_entries, questionnaire_figures, totals
from web.security import requires
from web.services import get_bank, get_db, matcher
from web.submissions import change_entry, form_error, show_conflict, valid_or_400

bp = Blueprint("curation", __name__, url_prefix="/curation")

FRAMEWORK_CHOICES = [SelectChoice(key, key) for key in FRAMEWORKS]
PACK_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# ---- forms ------------------------------------------------------------------


class VersionedForm(FlaskForm):
    """A button on an entry, with the version the page showed (a stale page is a conflict)."""

    base_version = IntegerField(validators=[Optional()])


class RestoreForm(VersionedForm):
    version = IntegerField(validators=[InputRequired(), NumberRange(min=1)])


class RetireForm(VersionedForm):
    reason = StringField("Why it is retired", validators=[DataRequired(), Length(max=2000)])


class MergeForm(FlaskForm):
    keep = HiddenField(validators=[DataRequired()])
    away = HiddenField(validators=[DataRequired()])
    keep_version = IntegerField(validators=[Optional()])
    away_version = IntegerField(validators=[Optional()])


class DismissForm(FlaskForm):
    kind = HiddenField(validators=[DataRequired()])
    a = HiddenField(validators=[DataRequired()])
    b = HiddenField(validators=[DataRequired()])
    note = StringField("Why this is fine", validators=[Length(max=2000)])


class BulkApproveForm(FlaskForm):
    """The entries come as repeated `entry` fields (checkboxes)."""


class OrganisationForm(FlaskForm):
    organisation = StringField("Organisation on the cover", validators=[DataRequired(), Length(max=200)])


class PackForm(FlaskForm):
    """A download (GET): nothing changes, so no CSRF token."""

    class Meta:
        csrf = False

    framework = SelectField("Framework", choices=FRAMEWORK_CHOICES, default="iso42001")
    format = SelectField("Format", choices=[SelectChoice("docx", "Word (.docx)"), SelectChoice("xlsx", "Excel (.xlsx)")], default="docx")
    org = StringField("Organisation", validators=[Length(max=200)])


# ---- helpers ------------------------------------------------------------------


def _framework_arg() -> str:
    framework = request.args.get("framework") or "iso42001"
    if framework not in FRAMEWORKS:
        abort(404, f"unknown framework {framework!r}; use one of {', '.join(FRAMEWORKS)}")
    return framework


def diff_html(segments: list[tuple[str, str]]) -> Markup:
    """Word diff as <del>/<ins>, every piece of text escaped."""
    tags = {"equal": "{}", "delete": "<del>{}</del>", "insert": "<ins>{}</ins>"}
    return Markup("".join(Markup(tags[op]).format(text) for op, text in segments))


# ---- overview -------------------------------------------------------------------


@bp.get("/")
@requires("read")
def index():
    bank = get_bank()
    due = review_cycle.due_entries(bank)
    reports = {key: coverage(bank, key) for key in FRAMEWORKS}
    return render_template(
        "curation/index.html", due=due, overdue=sum(1 for i in due if i.state == "overdue"),
        reports=reports, drafts=bank.count("draft"), revision=bank.revision(),
    )


# ---- history, diff, restore, approve, retire ----------------------------------------


@bp.get("/entry/<path:ext_id>")
@requires("read")
def history(ext_id: str):
    bank = get_bank()
    entry = bank.get_entry(ext_id)
    versions = bank.versions(ext_id)
    latest = versions[-1]["version"]
    to_v = request.args.get("to", type=int) or latest
    from_v = request.args.get("from", type=int) or max(to_v - 1, 1)
    try:
        diff = curation.diff_versions(bank, ext_id, from_v, to_v)
    except curation.VersionNotFound as e:
        flash(str(e), "error")
        diff = curation.diff_versions(bank, ext_id, max(latest - 1, 1), latest)
    own_change = entry.status == "draft" and bool(curation.own_unapproved_versions(bank, entry, g.user.name))
    return render_template(
        "curation/history.html", entry=entry, versions=list(reversed(versions)), diff=diff, diff_html=diff_html,
        audit=bank.audit(ext_id, limit=100), own_change=own_change, form=VersionedForm(),
        restore_form=RestoreForm(), retire_form=RetireForm(),
    )


@bp.post("/entry/<path:ext_id>/restore")
@requires("approve")
def restore(ext_id: str):
    form = RestoreForm()
    valid_or_400(form)
    return change_entry(
        ext_id, form.base_version.data,
        lambda: curation.restore_version(get_bank(), ext_id, form.version.data, user=g.user.name,
                                         expected_version=form.base_version.data),
        lambda entry: f"Version {form.version.data} of {ext_id} restored as version {entry.version} ({entry.status})."
        + (" Another approver approves it before it answers questionnaires." if entry.status == "draft" else ""),
        url_for("curation.history", ext_id=ext_id))


@bp.post("/entry/<path:ext_id>/approve")
@requires("approve")
def approve(ext_id: str):
    form = VersionedForm()
    valid_or_400(form)
    return change_entry(
        ext_id, form.base_version.data,
        lambda: curation.approve(get_bank(), ext_id, user=g.user.name, expected_version=form.base_version.data),
        lambda entry: f"{ext_id} is approved (version {entry.version}); next review by {entry.review_by}.",
        url_for("curation.history", ext_id=ext_id))


@bp.post("/entry/<path:ext_id>/retire")
@requires("approve")
def retire(ext_id: str):
    form = RetireForm()
    if not form.validate_on_submit():
        flash("Give a reason for retiring the entry.", "error")
        return redirect(url_for("curation.history", ext_id=ext_id))
    return change_entry(
        ext_id, form.base_version.data,
        lambda: curation.retire(get_bank(), ext_id, form.reason.data, user=g.user.name,
                                expected_version=form.base_version.data),
        lambda entry: f"{ext_id} is retired; it no longer answers questionnaires.",
        url_for("curation.history", ext_id=ext_id))



@bp.get("/drafts")
@requires("read")
def drafts():
    """One approval queue: the drafts are on the Approvals page."""
    return redirect(url_for("bank.approvals") + "#drafts")


@bp.post("/drafts/approve")
@requires("approve")
def approve_drafts():
    form = BulkApproveForm()
    valid_or_400(form)
    chosen = [x for x in request.form.getlist("entry") if x][:5000]
    if not chosen:
        flash("Tick the drafts to approve.", "error")
        return redirect(url_for("bank.approvals"))
    try:
        approved = curation.approve_many(get_bank(), chosen, user=g.user.name)
    except curation.BulkApprovalRefused as e:
        flash(str(e), "error")
    except BankError as e:  # an entry that vanished meanwhile
        flash(f"Nothing approved: {e}", "error")
    else:
        flash(f"{len(approved)} entries approved in one step.", "info")
    return redirect(url_for("bank.approvals"))


# ---- review cycles ---------------------------------------------------------------


@bp.get("/due")
@requires("read")
def due():
    days = min(max(request.args.get("days", review_cycle.DUE_WITHIN_DAYS, type=int), 0), 3660)
    bank = get_bank()
    items = review_cycle.due_entries(bank, within_days=days)
    return render_template(
        "curation/due.html", groups=review_cycle.due_by_owner(items), days=days, items=items,
        overdue=sum(1 for i in items if i.state == "overdue"), rules=review_cycle.review_rules(bank),
        default_days=review_cycle.default_days(bank), form=VersionedForm(),
    )


@bp.post("/entry/<path:ext_id>/reviewed")
@requires("approve")
def reviewed(ext_id: str):
    form = VersionedForm()
    valid_or_400(form)
    return change_entry(
        ext_id, form.base_version.data,
        lambda: review_cycle.mark_reviewed(get_bank(), ext_id, user=g.user.name,
                                           expected_version=form.base_version.data),
        lambda entry: f"{ext_id} confirmed; next review by {entry.review_by}.",
        url_for("curation.due"), refused=(review_cycle.ReviewRuleError,))


# ---- checks -------------------------------------------------------------------------


@bp.get("/checks")
@requires("read")
def findings():
    found = checks.find_findings(get_bank(), matcher().embedder())
    return render_template("curation/checks.html", findings=found, merge_form=MergeForm(),
                           dismiss_form=DismissForm())


@bp.post("/checks/merge")
@requires("approve")
def merge():
    form = MergeForm()
    valid_or_400(form)
    expected = {k: v for k, v in ((form.keep.data, form.keep_version.data), (form.away.data, form.away_version.data))
                if v is not None}
    try:
        entry = checks.merge(get_bank(), form.keep.data, form.away.data, user=g.user.name, expected_versions=expected)
    except curation.SelfApproval as e:
        abort(403, str(e))
    except VersionConflict as e:
        return show_conflict(e, e.current.ext_id, expected.get(e.current.ext_id))
    except BankError as e:
        flash(str(e), "error")
    else:
        flash(f"{form.away.data} merged into {form.keep.data} (now version {entry.version}); "
              f"{form.away.data} is retired and both histories are kept.", "info")
    return redirect(url_for("curation.findings"))


@bp.post("/checks/dismiss")
@requires("approve")
def dismiss():
    form = DismissForm()
    valid_or_400(form)
    try:
        checks.dismiss(get_bank(), form.kind.data, form.a.data, form.b.data, user=g.user.name, note=form.note.data)
    except BankError as e:
        flash(str(e), "error")
    else:
        flash(f"The {form.kind.data} finding {form.a.data} / {form.b.data} is dismissed and will not be shown again.",
              "info")
    return redirect(url_for("curation.findings"))


# ---- coverage and pack ------------------------------------------------------------------


@bp.get("/coverage")
@requires("read")
def coverage_page():
    framework = _framework_arg()
    bank = get_bank()
    report = coverage(bank, framework)
    return render_template(
        "curation/coverage.html", report=report, framework=framework, frameworks=FRAMEWORKS,
        svg=Markup(coverage_svg(framework, report=report)),  # built from escaped text only
        pack_form=PackForm(framework=framework, org=get_setting(bank, "organisation") or ""),
    )


@bp.get("/coverage.svg")
@requires("read")
def coverage_chart():
    framework = _framework_arg()
    return Response(coverage_svg(framework, get_bank()), mimetype="image/svg+xml")


@bp.get("/pack")
@requires("read")
def pack():
    bank = get_bank()
    organisation = get_setting(bank, "organisation") or ""
    form = PackForm(request.args, org=organisation)
    if "framework" not in request.args:
        return render_template("curation/pack.html", form=form, org_form=OrganisationForm(organisation=organisation))
    if not form.validate():
        abort(400, form_error(form))
    name = " ".join((form.org.data or organisation).split())
    if not name:  # the form's own words, not the command line's
        flash("Type the organisation's name in the Organisation field: it is printed on the cover"
              + (", or save it below for every pack." if g.user.can("approve") else "."), "error")
        return redirect(url_for("curation.pack"))
    try:
        data, info = build_pack(bank, form.framework.data, form.format.data, organisation=name)
    except PackError as e:
        flash(str(e), "error")
        return redirect(url_for("curation.pack"))
    name = f"{load_framework(info.framework).key}-response-pack-{info.date}.{form.format.data}"
    return Response(data, mimetype=PACK_TYPES[form.format.data],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/settings/organisation")
@requires("approve")
def organisation():
    form = OrganisationForm()
    if not form.validate_on_submit():
        flash("Give the organisation's name.", "error")
    else:
        set_setting(get_bank(), "organisation", form.organisation.data, user=g.user.name)
        flash(f"Packs now name {form.organisation.data} on the cover.", "info")
    return redirect(url_for("curation.pack"))


# ---- figures ---------------------------------------------------------------------------


@bp.get("/figures")
@requires("read")
def figures():
    db = get_db()
    rows = questionnaire_figures(db)
    return render_template("curation/figures.html", rows=rows, totals=totals(rows),
                           edited=most_edited_entries(db, limit=20), today=dt.date.today())

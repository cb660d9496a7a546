"""Questionnaires: upload, check what was detected, propose answers with
visible progress, review, export the customer's own file filled."""
from __future__ import annotations

import functools
import io
import os
import re
import time
import unicodedata

from flask import (Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request,
                   send_file, url_for)
from markupsafe import Markup, escape

from answer_bank.tiers import TIER_THRESHOLDS, TIERS
from ingest.errors import IngestError
from ingest.model import IngestHints
from questionnaire.learning import draft_entry_id, learn, learn_accepted
from questionnaire.review import REVIEW_STATUSES, ReviewError, job_owner, new_id
from questionnaire.review_export import (ANSWERED, EXPORT_OUTCOMES, PENDING, answer_fills, export_outcomes,
                                         review_summary_csv)
from web.forms import ButtonForm
from web.questionnaires.forms import ExportForm, LayoutForm, ReviewActionForm, UploadForm
from web.security import redirect_back, requires
from web.services import files_dir, get_bank, get_store, run_autofill, stored_file

bp = Blueprint("questionnaires", __name__, url_prefix="/q")

EXTENSIONS = {"xlsx": "xlsx", "csv": "csv", "docx": "docx"}
MAX_PER_PAGE = 500


def _read(data: bytes, filename: str, hints: IngestHints):
    from ingest import read_questionnaire

    return read_questionnaire(io.BytesIO(data), filename, hints)


def _write(data: bytes, filename: str, fills):
    """(filled copy, ExportReport)."""
    from ingest import write_answers_report

    return write_answers_report(data, filename, fills)


def _get_questionnaire(qn_id: str):
    return get_store().get(qn_id)  # QuestionnaireNotFound -> 404


@bp.get("/")
@requires("read")
def index():
    store = get_store()
    archived = request.args.get("archived") == "1"
    return render_template("questionnaires/index.html", questionnaires=store.list(archived=archived),
                           archived=archived, archived_count=store.count_archived(), status_words=QN_STATUS_WORDS)


@bp.post("/<qn_id>/archive")
@requires("admin")
def archive(qn_id: str):
    """Archive a questionnaire (out of the list, kept) or bring it back."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    qn = _get_questionnaire(qn_id)
    back = request.form.get("archive") != "0"
    get_store().set_archived(qn_id, back, user=g.user.name)
    flash(f"{qn.customer} ({qn.filename}) " + ("is archived: it left the list; the Archived link shows it again."
                                                if back else "is back in the list."), "info")
    return redirect(url_for("questionnaires.index"))


@bp.route("/<qn_id>/delete", methods=["GET", "POST"])
@requires("admin")
def delete(qn_id: str):
    """Delete a questionnaire for good: its questions, answers, exports and
    stored files. GET asks; POST (CSRF) deletes. The audit trail stays."""
    qn = _get_questionnaire(qn_id)
    form = ButtonForm()
    if request.method == "GET":
        return render_template("questionnaires/delete.html", qn=qn, form=form,
                               exports=get_store().latest_export(qn_id) is not None)
    if not form.validate_on_submit():
        abort(400)
    files = get_store().delete_questionnaire(qn_id, user=g.user.name)
    for name in files:
        (files_dir() / name).unlink(missing_ok=True)
    flash(f"{qn.customer} ({qn.filename}) is deleted: {qn.total} questions and the stored files. "
          "The audit trail keeps who deleted it and when.", "info")
    return redirect(url_for("questionnaires.index"))


@bp.route("/new", methods=["GET", "POST"])
@requires("review")
def upload():
    form = UploadForm()
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read()
        filename = display_filename(upload.filename)
        try:
            result = _read(data, filename, IngestHints())
        except IngestError as e:
            form.file.errors.append(page_text(str(e)))
            return render_template("questionnaires/upload.html", form=form), 400
        qn_id = new_id()
        stored_name = f"{qn_id}.upload"
        _save_file(stored_name, data)
        try:
            get_store().create_questionnaire(
                customer=form.customer.data.strip(), due_date=form.due_date.data.isoformat() if form.due_date.data else None,
                owner=g.user.name, filename=filename, fmt=result.format, stored_name=stored_name, size=len(data),
                hints=IngestHints(), result=result, qn_id=qn_id,
            )
        except BaseException:
            (files_dir() / stored_name).unlink(missing_ok=True)
            raise
        flash(f"{filename}: {len(result.questions)} questions found. Check the layout, then propose answers.", "info")
        return redirect(url_for("questionnaires.detail", qn_id=qn_id))
    status = 400 if request.method == "POST" else 200
    return render_template("questionnaires/upload.html", form=form), status


def _save_file(name: str, data: bytes) -> None:
    path = files_dir() / name
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@bp.get("/<qn_id>")
@requires("read")
def detail(qn_id: str):
    qn = _get_questionnaire(qn_id)
    if qn.status in ("review", "exported"):
        return redirect(url_for("questionnaires.review", qn_id=qn_id))
    if qn.status == "matching":
        return redirect(url_for("questionnaires.progress", qn_id=qn_id))
    form = LayoutForm(data=_layout_defaults(qn.hints, qn.layout))
    sheet_rows = _sheet_rows(qn.layout)
    form.sheet_choice.data = "1" if sheet_rows else ""  # the ticked sheets are posted (hidden_tag renders it)
    return render_template(
        "questionnaires/detail.html", qn=qn, preview=get_store().questions(qn_id, limit=25), form=form,
        button_form=ButtonForm(), sheets=_sheet_names(qn.layout), sheet_rows=sheet_rows,
        warnings=[page_text(w) for w in qn.warnings or []],
    )


# What the command line calls its options, in the words of the layout page.
_PAGE_WORDS = (
    (re.compile(r"\(use --sheet NAME to read one\)"), "(tick it under Sheets to read it)"),
    (re.compile(r"with --sheet, --question-col and --answer-col"),
     "with the sheet choice and the column fields under Correct the layout"),
    (re.compile(r"--sheet(?: NAME)?"), "the sheet choice"),
    (re.compile(r"(?:pass |give one with |with )?--question-col(?: / | and )--answer-col"),
     "the Question column and Answer column fields"),
    (re.compile(r"--question-col"), "the Question column field"),
    (re.compile(r"(?:give one with |use )?--answer-col"), "the Answer column field"),
    (re.compile(r"--comment-col"), "the Comment column field"),
)


def page_text(message: str) -> str:
    """An ingest message with its command-line option names put in the page's words."""
    for pattern, words in _PAGE_WORDS:
        message = pattern.sub(words, message)
    return message


def _sheet_rows(layout: dict) -> list[dict]:
    """One row per sheet of a workbook: read (with what was found) or not (with why)."""
    if not isinstance(layout, dict) or not isinstance(layout.get("sheets"), dict):
        return []
    rows = []
    for name, info in layout["sheets"].items():
        info = info if isinstance(info, dict) else {}
        rows.append({"name": str(name), "read": True, "questions": info.get("questions"),
                     "columns": {k: info.get(k) for k in ("ref_col", "question_col", "answer_col", "comment_col")},
                     "mirrors": info.get("mirrors") or 0, "not_writable": info.get("not_writable") or 0})
    for s in layout.get("skipped") or []:
        if isinstance(s, dict) and s.get("sheet"):
            rows.append({"name": str(s["sheet"]), "read": False, "reason": s.get("reason"),
                         "questions": s.get("questions") or 0})
    return rows


def _layout_defaults(hints: dict, layout: dict) -> dict:
    """The correction form starts from the person's hints, else from what was
    detected (when one sheet / table holds the questions)."""
    keys = ("sheet", "question_col", "answer_col", "comment_col")
    detected: dict = {}
    sheets = layout.get("sheets") if isinstance(layout, dict) else None
    if isinstance(sheets, dict) and len(sheets) == 1:
        (name, info), = sheets.items()
        detected = {"sheet": name, **(info if isinstance(info, dict) else {})}
    elif isinstance(layout, dict):
        detected = layout
    return {k: hints.get(k) or (str(detected[k]) if detected.get(k) is not None else None) for k in keys}


def _sheet_names(layout: dict) -> list[str]:
    sheets = layout.get("sheets") if isinstance(layout, dict) else None
    if isinstance(sheets, dict):
        return [str(k) for k in sheets]
    names = []
    for s in sheets or []:
        if isinstance(s, str):
            names.append(s)
        elif isinstance(s, dict) and s.get("name"):
            names.append(str(s["name"]))
    return names


@bp.post("/<qn_id>/layout")
@requires("review")
def correct_layout(qn_id: str):
    qn = _get_questionnaire(qn_id)
    form = LayoutForm()
    if not form.validate_on_submit():
        abort(400)
    hints = IngestHints(
        sheet=(form.sheet.data or "").strip() or None, question_col=(form.question_col.data or "").strip() or None,
        answer_col=(form.answer_col.data or "").strip() or None, comment_col=(form.comment_col.data or "").strip() or None,
    )
    if form.sheet_choice.data:
        chosen = [s for s in (form.sheets.data or []) if s.strip()]
        if not chosen:
            flash("Tick at least one sheet to read.", "error")
            return redirect(url_for("questionnaires.detail", qn_id=qn_id))
        read_now = _sheet_names(qn.layout)
        if qn.hints.get("sheets") or qn.hints.get("sheet") or set(chosen) != set(read_now):
            hints.sheets = chosen
    data = stored_file(qn.stored_name).read_bytes()
    try:
        result = _read(data, qn.filename, hints)
    except IngestError as e:
        flash(f"That layout does not work: {page_text(str(e))}", "error")
        return redirect(url_for("questionnaires.detail", qn_id=qn_id))
    get_store().redetect(qn_id, hints, result, user=g.user.name)
    flash(f"Layout corrected: {len(result.questions)} questions found.", "info")
    return redirect(url_for("questionnaires.detail", qn_id=qn_id))


@bp.post("/<qn_id>/autofill")
@requires("review")
def start_autofill(qn_id: str):
    if not ButtonForm().validate_on_submit():
        abort(400)
    store = get_store()
    qn = _get_questionnaire(qn_id)
    if qn.status == "matching":
        # A worker of any server process that still holds the job's lease is
        # never restarted (start_matching refuses below); one whose lease ran
        # out is gone, and its job is taken over.
        store.release_expired_job(qn_id, error="proposing answers was interrupted; start it again",
                                  rematch=bool(qn.reviewed))
        qn = _get_questionnaire(qn_id)
    owner = job_owner()
    if qn.status in ("review", "exported"):  # reviewed questions keep their decisions
        store.start_rematch(qn_id, user=g.user.name, owner=owner)
        run_autofill(qn_id, owner, only_pending=True)
    else:
        store.start_matching(qn_id, user=g.user.name, owner=owner)
        run_autofill(qn_id, owner)
    return redirect(url_for("questionnaires.progress", qn_id=qn_id))


@bp.get("/<qn_id>/progress")
@requires("read")
def progress(qn_id: str):
    qn = _get_questionnaire(qn_id)
    if qn.status in ("review", "exported"):
        return redirect(url_for("questionnaires.review", qn_id=qn_id))
    return render_template("questionnaires/progress.html", qn=qn, button_form=ButtonForm(),
                           interrupted=qn.status == "matching" and not get_store().job_is_live(qn_id))


@bp.get("/<qn_id>/progress.json")
@requires("read")
def progress_json(qn_id: str):
    qn = _get_questionnaire(qn_id)
    return jsonify({
        "status": qn.status, "done": qn.progress_done, "total": qn.progress_total, "error": qn.error,
        "review_url": url_for("questionnaires.review", qn_id=qn_id),
    })


QN_STATUS_WORDS = {"detected": "layout to check", "matching": "proposing answers", "review": "in review",
                   "exported": "exported", "failed": "proposing failed"}
STATUS_WORDS = {"pending": "to review", "accepted": "accepted", "edited": "edited",
                "needs_expert": "needs expert", "blank": "left blank"}


def live_counts(counts: dict) -> dict[str, int]:
    """The review page's counters by their data-count name, for in-place updates."""
    out = {f"tier-{t}": n for t, n in counts["by_tier"].items()}
    out.update({f"status-{s}": n for s, n in counts["by_status"].items()})
    out.update({"pending-high": counts["pending_high"], "pending-medium": counts["pending_medium"],
                "reviewed": counts["reviewed"], "total": counts["total"]})
    return out


def _bank_changed_since_matching(qn_id: str) -> str | None:
    """When the bank's answers changed (not just learned wordings) after this
    questionnaire's answers were last proposed: that time, else None."""
    matched = get_store().last_matched_at(qn_id)
    changed = get_bank().last_content_change_at()
    return changed if matched and changed and changed >= matched else None  # times have seconds only


def row_context(qn_id: str) -> dict:
    """What every question row needs, computed once per page instead of per row."""
    from flask_wtf.csrf import generate_csrf

    return {
        "token": generate_csrf(),
        "act_prefix": url_for("questionnaires.act", qn_id=qn_id, question_id=0)[:-1],
        "entry_prefix": url_for("bank.entry", ext_id="x")[:-1],
        # approvers may mark two terms as not the same from a declined proposal
        "distinct_url": url_for("bank.glossary_distinct_add") if g.user.can("approve") else None,
    }


def _review_filters() -> dict:
    tier = request.values.get("tier") or ""
    status = request.values.get("status") or ""
    return {
        "tier": tier if tier in TIERS else "",
        "status": status if status in REVIEW_STATUSES or status == "reviewed" else "",
        "find": " ".join((request.values.get("find") or "").split())[:200],
    }


@bp.get("/<qn_id>/review")
@requires("read")
def review(qn_id: str):
    store = get_store()
    qn = _get_questionnaire(qn_id)
    if qn.status not in ("review", "exported"):
        return redirect(url_for("questionnaires.detail", qn_id=qn_id))
    filters = _review_filters()
    per = min(MAX_PER_PAGE, max(10, request.args.get("per", current_app.config["AIMSQ_REVIEW_PAGE_SIZE"], type=int)))
    find = filters["find"] or None
    shown = store.count(qn_id, tier=filters["tier"] or None, status=filters["status"] or None, text=find)
    pages = max(1, -(-shown // per))
    page = min(pages, max(1, request.args.get("page", 1, type=int)))
    questions = store.questions(qn_id, tier=filters["tier"] or None, status=filters["status"] or None,
                                offset=(page - 1) * per, limit=per, text=find)
    here = url_for("questionnaires.review", qn_id=qn_id, page=page, per=per, **{k: v for k, v in filters.items() if v})
    bank_changed = _bank_changed_since_matching(qn_id)
    batch = request.args.get("taught", type=int)
    taught_batch = (batch, store.learned_batch(qn_id, batch)) if batch else None
    return render_template(
        "questionnaires/review.html", qn=qn, questions=questions, counts=store.counts(qn_id), filters=filters,
        page=page, pages=pages, per=per, shown=shown, here=here, button_form=ButtonForm(),
        bank_changed=bank_changed, taught_batch=taught_batch, first_shown=min(shown, (page - 1) * per + 1), last_shown=min(shown, page * per), status_words=STATUS_WORDS,
        editable=g.user.can("review"), export=store.latest_export(qn_id), tiers=TIERS, statuses=REVIEW_STATUSES,
        **row_context(qn_id),
    )


@bp.post("/<qn_id>/questions/<int:question_id>")
@requires("review")
def act(qn_id: str, question_id: int):
    form = ReviewActionForm()
    if not form.validate_on_submit():
        raise ReviewError("the review action is incomplete: " + "; ".join(
            f"{k}: {', '.join(v)}" for k, v in form.errors.items()))
    store = get_store()
    qn = _get_questionnaire(qn_id)
    action, _, candidate = form.action.data.partition(":")
    q = store.question(question_id, qn_id)
    if action == "pick" and form.confirmed.data != "1" and weak_pick(q, q.candidate(candidate)):
        return _confirm_weak_pick(qn, q, q.candidate(candidate), form)
    draft = draft_entry_id(qn, q) if action == "edit" else None
    # Without a version in the form, the one just read: `q` is then exactly
    # the state this action replaces (learning needs it to undo an accept).
    seen = form.version.data if form.version.data is not None else q.version
    updated = store.review(
        question_id, action, user=g.user.name, expected_version=seen, qn_id=qn_id,
        candidate=candidate or None, short_answer=form.short_answer.data, narrative=form.narrative.data,
        note=form.note.data, draft_entry=draft,
    )
    taught: list[tuple[str, str]] = []
    learned = learn(get_bank(), qn, updated, user=g.user.name, before=q, taught=taught)
    taught_rows = [{"entry": ext_id, "text": text} for ext_id, text in taught]
    if request.headers.get("X-Requested-With") == "fetch":
        counts = store.counts(qn_id)
        next_url = (request.form.get("next") or "").split("#", 1)[0]
        html = render_template("questionnaires/_question.html", q=updated, qn=qn, editable=True,
                               next_url=next_url, taught=taught_rows, **row_context(qn_id))
        return jsonify({"ok": True, "html": html, "version": updated.version, "status": updated.status,
                        "reviewed": counts["reviewed"], "total": counts["total"], "learned": learned,
                        "taught": taught_rows, "counts": live_counts(counts)})
    flash(f"Question {updated.label}: {STATUS_WORDS[updated.status]}." + (f" ({_learned_words(learned)})" if learned else "")
          + (" Undo the question (u) to take the wording back, or remove it on the entry's page." if taught else ""),
          "info")
    return redirect_back(url_for("questionnaires.review", qn_id=qn_id) + f"#q-{question_id}")


def _confirm_weak_pick(qn, q, candidate: dict, form: ReviewActionForm):
    """Ask once before a weak alternative answers the question and teaches
    the bank this wording (in place for the page's script, else a page)."""
    message = (f"{candidate['id']} scored only {float(candidate.get('score') or 0):.2f} for this question. Using it "
               f"answers the question with that entry and teaches the bank that {candidate['id']} answers questions "
               f"asked this way, so they will match it with more confidence next time.")
    if request.headers.get("X-Requested-With") == "fetch":
        return jsonify({"ok": False, "confirm": message, "candidate": candidate["id"], "version": q.version})
    return render_template("questionnaires/confirm_pick.html", qn=qn, q=q, candidate=candidate, message=message,
                           form=form, next_url=_local_path(request.form.get("next")))


def _local_path(url: str | None) -> str:
    """A path on this site, or "" (never a link elsewhere)."""
    url = url or ""
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else ""


@bp.post("/<qn_id>/bulk-accept")
@requires("review")
def bulk_accept(qn_id: str):
    if not ButtonForm().validate_on_submit():
        abort(400)
    _get_questionnaire(qn_id)
    tier = request.form.get("tier") or "high"
    store = get_store()
    accepted = store.bulk_accept(qn_id, user=g.user.name, tier=tier)
    taught: list[tuple[str, str]] = []
    learned = learn_accepted(get_bank(), accepted, user=g.user.name, taught=taught)  # one transaction for the batch
    flash(f"Accepted {len(accepted)} {tier}-tier answers; {learned} new wording{'s' if learned != 1 else ''} "
          "learned by the bank.", "info")
    if taught:  # the review page offers the undo of exactly these wordings
        batch = store.record_learned(qn_id, taught, user=g.user.name, note=f"bulk accept of the {tier} tier")
        return redirect(url_for("questionnaires.review", qn_id=qn_id, taught=batch))
    return redirect_back(url_for("questionnaires.review", qn_id=qn_id))


@bp.post("/<qn_id>/unlearn")
@requires("review")
def unlearn_batch(qn_id: str):
    """Undo what a bulk accept taught the bank: its new wordings leave their
    entries (audited); the accepted answers stay."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    _get_questionnaire(qn_id)
    pairs = get_store().learned_batch(qn_id, request.form.get("batch", type=int) or 0)
    removed = get_bank().remove_learned_variants(pairs, user=g.user.name) if pairs else []
    flash(f"The bank forgot {len(removed)} wording{'s' if len(removed) != 1 else ''} it had learned from that bulk "
          "accept; the accepted answers stay.", "info")
    return redirect(url_for("questionnaires.review", qn_id=qn_id))


def _learned_words(learned: str) -> str:
    return learned.replace("the wording was added to", "the bank learned this wording for").replace(
        "the wording was removed from", "the bank forgot this wording for")


@bp.post("/<qn_id>/propose-again")
@requires("review")
def propose_again(qn_id: str):
    """Match the questions nobody reviewed yet against the bank as it is now
    (after new or changed answers); reviewed questions keep their decision."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    store = get_store()
    _get_questionnaire(qn_id)
    owner = job_owner()
    n = store.start_rematch(qn_id, user=g.user.name, owner=owner)
    if not n:
        flash("Every question is reviewed already: nothing to propose again.", "info")
        return redirect(url_for("questionnaires.review", qn_id=qn_id))
    run_autofill(qn_id, owner, only_pending=True)
    return redirect(url_for("questionnaires.progress", qn_id=qn_id))


def _pending(counts: dict) -> int:
    return sum(counts["by_status"].get(s, 0) for s in PENDING)


@bp.get("/<qn_id>/export")
@requires("review")
def confirm_export(qn_id: str):
    """The warning before exporting while questions are still pending (nothing changes here)."""
    store = get_store()
    qn = _get_questionnaire(qn_id)
    if qn.status not in ("review", "exported"):
        return redirect(url_for("questionnaires.detail", qn_id=qn_id))
    counts = store.counts(qn_id)
    waiting = [q for q in store.questions(qn_id, status="pending")] + store.questions(qn_id, status="needs_expert")
    waiting.sort(key=lambda q: q.position)
    answered = sum(counts["by_status"].get(s, 0) for s in ANSWERED)
    return render_template("questionnaires/confirm_export.html", qn=qn, counts=counts, pending=_pending(counts),
                           answered=answered, waiting=waiting[:MAX_PER_PAGE], links=_review_links(qn_id),
                           form=ExportForm(confirm="1"))


@bp.post("/<qn_id>/export")
@requires("review")
def export(qn_id: str):
    form = ExportForm()
    if not form.validate_on_submit():
        abort(400)
    store = get_store()
    qn = _get_questionnaire(qn_id)
    if qn.status not in ("review", "exported"):
        raise ReviewError("propose and review answers before exporting")
    if _pending(store.counts(qn_id)) and form.confirm.data != "1":
        return redirect(url_for("questionnaires.confirm_export", qn_id=qn_id))
    questions = store.questions(qn_id)
    fills = answer_fills(questions)
    try:
        filled, report = _write(stored_file(qn.stored_name).read_bytes(), qn.filename, fills)
    except IngestError as e:
        flash(f"The export failed: {page_text(str(e))}", "error")
        return redirect(url_for("questionnaires.review", qn_id=qn_id))
    outcomes = export_outcomes(questions, report)
    stamp = f"{int(time.time() * 1000)}"
    export_name, summary_name = f"{qn_id}-{stamp}.export", f"{qn_id}-{stamp}.summary.csv"
    _save_file(export_name, filled)
    _save_file(summary_name, review_summary_csv(qn, questions, exported_by=g.user.name, outcomes=outcomes))
    store.record_export(qn_id, stored_name=export_name, summary_name=summary_name, user=g.user.name,
                        answered=outcomes["written"], blank=len(questions) - outcomes["written"], report=outcomes)
    flash(f"Exported: {export_totals(outcomes)}.", "info")
    return redirect(url_for("questionnaires.exported", qn_id=qn_id))


def export_totals(outcomes: dict) -> str:
    """ "3 answers written, 1 kept, 3 skipped, 0 pending" """
    written = outcomes["written"]
    return (f"{written} answer{'s' if written != 1 else ''} written, {outcomes['kept']} kept, "
            f"{outcomes['skipped']} skipped, {outcomes['pending']} pending")


def _last_export(qn_id: str):
    """The questionnaire and its latest export; 404 when there is none yet."""
    qn = _get_questionnaire(qn_id)
    record = get_store().latest_export(qn_id)
    if record is None:
        abort(404, "Nothing was exported yet.")
    return qn, record


@bp.get("/<qn_id>/exported")
@requires("read")
def exported(qn_id: str):
    """What the last export did with every question, and what to do next."""
    qn, record = _last_export(qn_id)
    outcomes = record.report
    groups = {k: [r for r in outcomes["questions"] if r["outcome"] == k] for k in EXPORT_OUTCOMES} if outcomes else {}
    return render_template("questionnaires/exported.html", qn=qn, export=record, outcomes=outcomes, groups=groups,
                           totals=export_totals(outcomes) if outcomes else None, links=_review_links(qn_id),
                           editable=g.user.can("review"))


def _review_links(qn_id: str) -> dict[int, str]:
    """question id -> its row on the (unfiltered) review page."""
    per = current_app.config["AIMSQ_REVIEW_PAGE_SIZE"]
    per = min(MAX_PER_PAGE, max(10, int(per)))
    ids = get_store().question_ids(qn_id)
    return {qid: url_for("questionnaires.review", qn_id=qn_id, page=i // per + 1, per=per) + f"#q-{qid}"
            for i, qid in enumerate(ids)}


@bp.app_template_filter("readable_time")
def readable_time(value: str | None) -> str:
    """ "2026-12-06T00:08:43+00:00" -> "6 Dec 2026, 00:08 UTC" (stored times are UTC)."""
    import datetime as dt

    if not value:
        return ""
    try:
        t = dt.datetime.fromisoformat(value).astimezone(dt.timezone.utc)
    except ValueError:
        return value
    return f"{t.day} {t:%b %Y, %H:%M} UTC"


@bp.app_template_filter("local_time")
def local_time(value: str | None):
    """A stored UTC time as <time datetime=…>: readable without script
    ("6 Dec 2026, 00:08 UTC"), shown in the reader's own locale and time zone
    by app.js (Intl.DateTimeFormat)."""
    text = readable_time(value)
    if not text:
        return ""
    return Markup('<time datetime="{}">{}</time>').format(escape(value), text)


@bp.app_template_filter("answer_place")
def answer_place(answer_at: dict | None) -> str:
    """Where an answer goes, in words ("Sheet1!D2", "table 1, row 3, column 3",
    "after paragraph 12"; a checkbox answer: "a box per option")."""
    from ingest.fill import where
    from questionnaire.review_model import locator_from_json

    loc = locator_from_json(answer_at)
    if loc is None:
        return ""
    if loc.sheet is None and loc.table is None and loc.paragraph is None and loc.row is None and loc.marks:
        return "a box per option: " + ", ".join(opt for opt, _ in loc.marks)
    text = where(loc)
    return text + (" (a box per option)" if loc.marks else "")


@bp.app_template_filter("local_date")
def local_date(value: str | None):
    """A date ("2031-06-30") as <time>: "30 Jun 2031" without script, the
    reader's locale with it (app.js)."""
    import datetime as dt

    if not value:
        return ""
    try:
        d = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return value
    return Markup('<time datetime="{}" data-date="1">{}</time>').format(escape(d.isoformat()), f"{d.day} {d:%b %Y}")


# ---- why a row shows what it shows -----------------------------------------

# Using an alternative scored below this (ranking's low tier), or any
# alternative of a low / none tier question, asks once before the bank learns
# the wording: a weak pick taught as a wording makes the next questionnaire's
# match look confident.
WEAK_SCORE = dict(TIER_THRESHOLDS)["low"]


def weak_pick(q, candidate: dict | None) -> bool:
    return candidate is not None and (q.tier in ("low", "none", None) or float(candidate.get("score") or 0) < WEAK_SCORE)

_TIER_WORDS = {
    "high": "Confident match ({c}): the bank entry answers this question; accepting it is usually safe.",
    "medium": "Probable match ({c}): check that the answer fits before accepting.",
    "low": "Weak match ({c}): not sure enough to propose an answer; the closest entries are only suggestions.",
    "none": "Nothing in the bank resembles this question: write the answer, or ask an expert.",
}


@bp.app_template_filter("matched_question")
def matched_question(candidate: dict) -> str:
    """The bank question a candidate was matched on, for the review row (the
    one place that decides it): the wording the matcher found closest — the
    entry's question, a variant or a learned wording — else the entry's question."""
    return candidate.get("matched") or candidate.get("question") or ""


_WORD = re.compile(r"[A-Za-z0-9]+")


@functools.lru_cache(maxsize=1024)
def _terms(text: str) -> frozenset[str]:
    """The matcher's terms of a text (a row compares the customer's question with up to five bank wordings)."""
    from answer_bank.ranking import tokenize

    return frozenset(tokenize(text))


def _unshared_words(text: str, other: str) -> list[tuple[re.Match, str]]:
    """Each word of `text` whose term (the matcher's stem) `other` does not
    have, with that term; stop words never count."""
    from answer_bank.ranking import tokenize_many

    words = list(_WORD.finditer(text))
    have = _terms(other)
    return [(m, t[0]) for m, t in zip(words, tokenize_many([m.group() for m in words])) if t and t[0] not in have]


@bp.app_template_filter("marked_differences")
def marked_differences(text: str, question: str | None) -> Markup:
    """`text` (a matched bank question) escaped, with each word the customer's
    question does not have in <mark class="differs">. A reviewer sees at a
    glance where a near-identical wording differs ("Is <mark>security</mark>
    awareness training mandatory?" for a question about privacy training)."""
    text = text or ""
    out, last = [], 0
    for m, _ in _unshared_words(text, question or ""):
        out += [escape(text[last:m.start()]), Markup('<mark class="differs">'), escape(m.group()), Markup("</mark>")]
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


@bp.app_template_filter("one_word_swap")
def one_word_swap(text: str, question: str | None) -> tuple[str, str] | None:
    """(the question's word, the bank wording's word) when the two differ in
    exactly one term each way, as "Is privacy awareness training…" and "Is
    security awareness training…"; else None. The review offers approvers to
    keep such a pair apart."""
    text, question = text or "", question or ""
    asked = {term: m.group() for m, term in reversed(_unshared_words(question, text))}
    bank = {term: m.group() for m, term in reversed(_unshared_words(text, question))}
    if len(asked) == 1 and len(bank) == 1:
        return next(iter(asked.values())), next(iter(bank.values()))
    return None


@bp.app_template_filter("why_words")
def why_words(q) -> str:
    """Why the row shows this tier and proposal, in words (from the stored
    tier, confidence and the matcher's reasons)."""
    tier = q.tier or "none"
    confidence = q.confidence if q.confidence is not None else q.score
    words = [_TIER_WORDS.get(tier, _TIER_WORDS["none"]).format(
        c=f"confidence {confidence:.2f}" if confidence is not None else "no score")]
    if tier == "none" and q.candidates:
        words[0] = f"Very weak match (confidence {confidence:.2f}): the closest entries are only suggestions."
    for reason in q.reasons or []:
        if reason.startswith("confidence ") or reason.startswith("not sure enough") or reason.startswith("no bank entry"):
            continue  # said above in words
        words.append(reason[:1].upper() + reason[1:] + ("" if reason.endswith(".") else "."))
    return " ".join(words)


@bp.get("/<qn_id>/download")
@requires("read")
def download(qn_id: str):
    qn, record = _last_export(qn_id)
    stem, ext = download_stem(qn.filename), EXTENSIONS.get(qn.format, "bin")
    return send_file(stored_file(record.stored_name), as_attachment=True,
                     download_name=f"{stem}-answered.{ext}", mimetype=_mimetype(ext), max_age=0)


@bp.get("/<qn_id>/summary")
@requires("read")
def summary(qn_id: str):
    qn, record = _last_export(qn_id)
    return send_file(stored_file(record.summary_name), as_attachment=True,
                     download_name=f"{download_stem(qn.filename)}-review-summary.csv", mimetype="text/csv", max_age=0)


def _mimetype(ext: str) -> str:
    return {
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "csv": "text/csv",
    }.get(ext, "application/octet-stream")


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def display_filename(name: str | None) -> str:
    """The uploaded file's own name, for showing only: no folders, no control
    characters, at most 200 characters. Never used as a path."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "questionnaire"


def download_stem(filename: str) -> str:
    """A name to offer for downloads: the upload's stem with characters that
    file systems refuse replaced; the browser gets it RFC 6266-encoded."""
    stem = display_filename(filename).rsplit(".", 1)[0]
    stem = _UNSAFE.sub("_", stem).strip(" ._") or "questionnaire"
    if stem.lower() in _RESERVED:
        stem = f"{stem}_"
    return stem[:120]

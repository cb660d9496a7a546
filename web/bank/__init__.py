"""The answer bank: list and search it with the matcher, open an entry,
propose changes (editors) and approve them (approvers, never their own).
The bank's glossary (terms that mean the same, and terms that are not the
same) is shown to everyone who reads the bank and changed by approvers: like
approving, a change takes effect in matching at once.

Approving a draft goes through `answer_bank.curation.approve`, like the
curation pages and `aimsq bank approve`: one four-eyes rule everywhere."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

import aimsq_settings
from answer_bank import curation
from answer_bank.adapter import MIN_ANCHORS
from answer_bank.embeddings import ModelNotFound
from answer_bank.model import STATUSES, BankEntry, Evidence
from answer_bank.store import EntryNotFound, GlossaryError
from questionnaire.learning import learned_wordings, remove_wording
from web.bank.forms import (DecisionForm, EntryForm, GlossaryDistinctForm, GlossaryForm, GlossaryImportForm,
                            GlossaryRemoveForm)
from web.security import redirect_back, requires
from web.services import get_bank, get_store, matcher
from web.submissions import change_entry, valid_or_400

bp = Blueprint("bank", __name__, url_prefix="/bank")

PAGE_SIZE = 100
MAX_PAGE = 10**9  # keeps the row offset within SQLite's integers (any larger page is past the end)


@bp.get("/")
@requires("read")
def index():
    bank = get_bank()
    question = (request.args.get("q") or "").strip()[:2000]
    status = request.args.get("status") or ""
    if status and status not in STATUSES:
        status = ""
    text = (request.args.get("filter") or "").strip()[:200]
    page = max(1, request.args.get("page", 1, type=int))
    match = None
    adapter = None
    if question:
        try:
            match = matcher().match_many([question], top_k=5)[0]
            learned, examples = matcher().adapter_state()
            adapter = {"learned": learned, "examples": examples, "on": aimsq_settings.bank_adapter(),
                       "needs": MIN_ANCHORS}
        except ModelNotFound as e:
            flash(f"Search is unavailable: {e}", "error")
    entries, total = bank.page_entries(status=status or None, text=text or None,
                                       offset=(min(page, MAX_PAGE) - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:  # however large: a 404 that says how many pages there are (SECURITY.md 36)
        abort(404, f"There is no page {page if page <= MAX_PAGE else 'that large'} of the bank list: it has "
                   f"{pages} page{'s' if pages > 1 else ''} with these filters.")
    return render_template(
        "bank/index.html", question=question, match=match, adapter=adapter, entries=entries, total=total, page=page,
        pages=pages, status=status, text=text, statuses=STATUSES,
        counts={s: bank.count(s) for s in STATUSES},
        glossary=bank.glossary(), glossary_groups=bank.glossary_groups(), glossary_form=GlossaryForm(),
        glossary_remove_form=GlossaryRemoveForm(), glossary_audit=bank.glossary_audit(limit=20),
        glossary_distinct=bank.glossary_distinct(), glossary_distinct_form=GlossaryDistinctForm(),
        glossary_import_form=GlossaryImportForm(),
    )


@bp.post("/glossary/add")
@requires("approve")
def glossary_add():
    return _glossary_change(GlossaryForm(), get_bank().add_glossary_pair, lambda pair: (
        f"Glossary: “{pair.term}” now means the same as “{pair.equivalent}” when questions are matched."))


@bp.post("/glossary/remove")
@requires("approve")
def glossary_remove():
    return _glossary_change(GlossaryRemoveForm(), get_bank().remove_glossary, lambda removed: (
        "; ".join(f"{p} removed from the glossary" for p in removed) + "."))


@bp.post("/glossary/distinct/add")
@requires("approve")
def glossary_distinct_add():
    return _glossary_change(GlossaryDistinctForm(), get_bank().add_glossary_distinct, lambda pair: (
        f"Glossary: “{pair.term}” is not the same as “{pair.equivalent}”: a question about one is no longer "
        "answered by an entry about the other."))


@bp.post("/glossary/distinct/remove")
@requires("approve")
def glossary_distinct_remove():
    return _glossary_change(GlossaryRemoveForm(), get_bank().remove_glossary_distinct, lambda removed: (
        "; ".join(f"{p} removed from the glossary" for p in removed) + "."))


@bp.post("/glossary/import")
@requires("approve")
def glossary_import():
    """Add the pairs of an uploaded glossary file that the bank lacks (answer_bank.glossary_file)."""
    from answer_bank.glossary_file import import_glossary

    form = GlossaryImportForm()
    valid_or_400(form)
    upload = form.file.data
    try:
        flash(import_glossary(get_bank(), upload.read(), upload.filename or "the file", user=g.user.name) + ".", "info")
    except GlossaryError as e:
        flash(str(e), "error")
    return redirect(url_for("bank.index", _anchor="glossary"))


def _glossary_change(form, change, done):
    """Add or remove glossary terms from the posted form (term, equivalent):
    a refusal is flashed, success flashes `done(result)`; back to the page the
    form came from (`next`, same site only) or to the glossary."""
    valid_or_400(form)
    try:
        result = change(form.term.data, form.equivalent.data, user=g.user.name)
    except GlossaryError as e:
        flash(str(e), "error")
    else:
        flash(done(result), "info")
    # back where the form came from (a review row sends `next`), else the glossary
    return redirect_back(url_for("bank.index", _anchor="glossary"))


@bp.get("/entry/<path:ext_id>")
@requires("read")
def entry(ext_id: str):
    bank = get_bank()
    e = bank.get_entry(ext_id)
    return render_template(
        "bank/entry.html", entry=e, versions=list(reversed(bank.versions(ext_id))), audit=bank.audit(ext_id, limit=50),
        proposals=get_store().proposals(status=None, ext_id=ext_id),
        decision_form=DecisionForm(ext_id=ext_id, base_version=str(e.version)),
        own=e.status == "draft" and _own_change(e), learned=learned_wordings(bank, ext_id),
        button_form=DecisionForm(),
    )


@bp.post("/entry/<path:ext_id>/learned/remove")
@requires("propose")
def remove_learned(ext_id: str):
    """Take a wording the bank learned from a review back (audited); the
    reviews that accepted it keep their answers."""
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400, "The form expired or did not come from this site; reload the page and try again.")
    bank = get_bank()
    bank.get_entry(ext_id)  # 404 when there is no such entry
    text = (request.form.get("text") or "").strip()[:40000]
    removed = remove_wording(bank, ext_id, text, user=g.user.name) if text else False
    message = (f"The bank no longer matches this wording to {ext_id}; the answers already accepted stay."
               if removed else f"{ext_id} had not learned this wording (it may have been removed already).")
    if request.headers.get("X-Requested-With") == "fetch":
        return {"ok": True, "removed": removed, "message": message}
    flash(message, "info" if removed else "error")
    return redirect_back(url_for("bank.entry", ext_id=ext_id) + "#learned")


def _own_change(e: BankEntry) -> bool:
    """Did the signed-in person write a version of `e` since it was last
    approved? Then they may not approve it (the curation module's rule)."""
    return bool(curation.own_unapproved_versions(get_bank(), e, g.user.name))


def _entry_from_form(form: EntryForm, ext_id: str, base: BankEntry | None) -> BankEntry:
    def split(text: str, sep: str) -> list[str]:
        return [p.strip() for p in (text or "").split(sep) if p.strip()]

    evidence = []
    for line in split(form.evidence.data, "\n"):
        title, _, ref = line.partition("|")
        evidence.append(Evidence(title.strip(), ref.strip() or None))
    return BankEntry(
        ext_id=ext_id, question=" ".join(form.question.data.split()), answer=form.answer.data.strip(),
        short_answer=form.short_answer.data or None, variants=split(form.variants.data, "\n"),
        evidence=evidence, frameworks=split(form.frameworks.data, ";"), tags=split(form.tags.data, ";"),
        owner=base.owner if base else None, status=base.status if base else "draft",
        review_by=form.review_by.data.isoformat() if form.review_by.data else None,
        source=base.source if base else "proposed in the review app",
    )


def _fill_form(form: EntryForm, e: BankEntry) -> None:
    form.question.data = e.question
    form.answer.data = e.answer
    form.short_answer.data = e.short_answer or ""
    form.variants.data = "\n".join(e.variants)
    form.evidence.data = "\n".join(f"{ev.title} | {ev.ref}" if ev.ref else ev.title for ev in e.evidence)
    form.frameworks.data = "; ".join(e.frameworks)
    form.tags.data = "; ".join(e.tags)
    form.review_by.data = dt.date.fromisoformat(e.review_by) if e.review_by else None
    form.base_version.data = str(e.version)


@bp.route("/entry/<path:ext_id>/propose", methods=["GET", "POST"])
@requires("propose")
def propose(ext_id: str):
    """Propose a change to an entry. A draft is changed in place (it is not
    answering anyone yet); an approved entry keeps answering until an approver
    takes the proposal."""
    bank = get_bank()
    current = bank.get_entry(ext_id)
    form = EntryForm()
    if request.method == "GET":
        _fill_form(form, current)
    if form.validate_on_submit():
        proposed = _entry_from_form(form, ext_id, current)
        base_version = int(form.base_version.data or current.version)
        if current.status == "draft":
            bank.save_entry(proposed, user=g.user.name, expected_version=base_version,
                            note=form.note.data or "edited draft")
            flash(f"Draft {ext_id} saved; an approver can approve it.", "info")
        else:
            content = proposed.content() | {"status": current.status}
            get_store().propose(ext_id, base_version=base_version, content=content, note=form.note.data or None,
                                user=g.user.name)
            flash(f"Your change to {ext_id} was sent to the approvers.", "info")
        return redirect(url_for("bank.entry", ext_id=ext_id))
    if form.base_version.errors:  # a hidden field: the page itself was not this app's
        abort(400, "The form does not say which version of the entry it changes. Reload the entry and edit again.")
    return render_template("bank/propose.html", form=form, entry=current)


@bp.route("/new", methods=["GET", "POST"])
@requires("propose")
def new():
    form = EntryForm()
    if form.validate_on_submit():
        ext_id = (form.ext_id.data or "").strip() or f"new-{dt.datetime.now(dt.timezone.utc):%Y%m%d%H%M%S}"
        try:
            get_bank().get_entry(ext_id)
        except EntryNotFound:
            pass
        else:
            form.ext_id.errors.append("an entry with this id exists")
            return render_template("bank/propose.html", form=form, entry=None), 400
        entry = _entry_from_form(form, ext_id, None)
        get_bank().save_entry(entry, user=g.user.name, note=form.note.data or "proposed")
        flash(f"Draft entry {ext_id} created; an approver can approve it.", "info")
        return redirect(url_for("bank.entry", ext_id=ext_id))
    return render_template("bank/propose.html", form=form, entry=None)


@bp.get("/approvals")
@requires("read")
def approvals():
    """The one approval queue: drafts (one by one, or ticked and approved in
    one step) and proposed changes. Everyone reads it; approvers act."""
    bank = get_bank()
    drafts = bank.list_entries(status="draft")
    proposals = get_store().proposals(status="pending")
    current = {}
    for p in proposals:
        try:
            current[p.ext_id] = bank.get_entry(p.ext_id)
        except EntryNotFound:
            current[p.ext_id] = None
    return render_template(
        "bank/approvals.html", drafts=drafts, proposals=proposals, current=current, form=DecisionForm(),
        own_draft={d.ext_id: _own_change(d) for d in drafts}, me=g.user.name.lower(),
    )


@bp.post("/drafts/approve")
@requires("approve")
def approve_draft():
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    ext_id = form.ext_id.data or ""
    seen = int(form.base_version.data) if (form.base_version.data or "").isdigit() else None
    return change_entry(
        ext_id, seen, lambda: curation.approve(get_bank(), ext_id, user=g.user.name, expected_version=seen),
        lambda e: f"{e.ext_id} is approved and answers questionnaires from now on; next review by {e.review_by}.",
        url_for("bank.approvals"), refused=(curation.NotADraft,))


@bp.post("/drafts/reject")
@requires("approve")
def reject_draft():
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    bank = get_bank()
    e = bank.get_entry(form.ext_id.data or "")
    if e.status != "draft":
        flash(f"{e.ext_id} is {e.status}, not a draft.", "error")
    else:
        # The one retire path (curation pages, `aimsq bank retire`): the reason on record.
        curation.retire(bank, e.ext_id, form.note.data or "rejected by an approver", user=g.user.name,
                        expected_version=e.version)
        flash(f"Draft {e.ext_id} was rejected (retired).", "info")
    return redirect(url_for("bank.approvals"))


@bp.post("/proposals/<int:proposal_id>/approve")
@requires("approve")
def approve_proposal(proposal_id: int):
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    store, bank = get_store(), get_bank()
    p = store.proposal(proposal_id)
    if p.status != "pending":
        flash(f"This change was already {p.status}.", "error")
        return redirect(url_for("bank.approvals"))
    if p.proposed_by.lower() == g.user.name.lower():
        abort(403, "You proposed this change; another approver must approve it.")
    c = p.content
    entry = BankEntry(
        ext_id=p.ext_id, question=c["question"], answer=c["answer"], short_answer=c.get("short_answer"),
        variants=c.get("variants") or [], evidence=[Evidence(e["title"], e.get("ref")) for e in c.get("evidence") or []],
        frameworks=c.get("frameworks") or [], tags=c.get("tags") or [], owner=c.get("owner"),
        status=c.get("status") or "approved", review_by=c.get("review_by"), source=c.get("source"),
        retired_reason=c.get("retired_reason"),
    )
    # One transaction: the change and the decision. VersionConflict (409) when
    # the entry moved on since the proposal; nothing is written then.
    store.decide_proposal(
        proposal_id, approved=True, user=g.user.name, note=form.note.data or None,
        apply=lambda: bank.write_entry(entry, user=g.user.name, expected_version=p.base_version,
                                       note=f"proposed by {p.proposed_by}" + (f": {p.note}" if p.note else "")),
    )
    flash(f"The change to {p.ext_id} is approved.", "info")
    return redirect(url_for("bank.approvals"))


@bp.post("/proposals/<int:proposal_id>/reject")
@requires("approve")
def reject_proposal(proposal_id: int):
    form = DecisionForm()
    if not form.validate_on_submit():
        abort(400)
    get_store().decide_proposal(proposal_id, approved=False, user=g.user.name, note=form.note.data or None)
    flash("The change was rejected.", "info")
    return redirect(url_for("bank.approvals"))

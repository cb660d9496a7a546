"""Learning from review (questionnaire/learning.py): a bulk accept records its
wordings in one transaction; undoing an accept removes the wording it taught,
unless another accepted review still relies on it. Through the module and
through the web app's test client; the embedder is the FAKE one from conftest."""
from __future__ import annotations

import pytest

from answer_bank.model import BankEntry
from answer_bank.store import Bank
from questionnaire import learning
from tests.web_helpers import client_as, csrf_token, make_xlsx, starter_questions, store_of, uploaded_and_matched


def _bank(app) -> Bank:
    return Bank(store_of(app).db)


def _force_tier(app, qn_id: str, tier: str = "high") -> None:
    store_of(app).db.execute(
        "UPDATE review_questions SET tier = ?, proposed = json_extract(candidates, '$[0].id') "
        "WHERE questionnaire_id = ? AND json_array_length(candidates) > 0", [tier, qn_id])


def _act(c, qn_id, q, action, **fields):
    token = csrf_token(c, f"/q/{qn_id}/review")
    data = {"csrf_token": token, "version": q.version, "action": action, **fields}
    r = c.post(f"/q/{qn_id}/questions/{q.id}", data=data, headers={"X-Requested-With": "fetch"})
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r.json


def _learned(bank: Bank, ext_id: str) -> list[str]:
    return bank.get_entry(ext_id).learned_variants


def _audit(bank: Bank, action: str) -> list[dict]:
    return [a for a in bank.audit(limit=10_000) if a["action"] == action]


def _reworded(n: int, offset: int = 0) -> list[tuple[str, str]]:
    """Customer wording a little different from the bank's canonical questions."""
    return [(ref, "Please tell us: " + text) for ref, text in starter_questions(n, offset)]


class Statements:
    """Records the SQL a connection runs (sqlite3's trace callback)."""

    def __init__(self, conn):
        self.conn, self.sql = conn, []

    def __enter__(self):
        self.conn.set_trace_callback(self.sql.append)
        return self

    def __exit__(self, *exc):
        self.conn.set_trace_callback(None)

    def count(self, prefix: str) -> int:
        return sum(1 for s in self.sql if s.lstrip().upper().startswith(prefix))


# ---- the module -------------------------------------------------------------------


def test_learn_variants_writes_a_batch_in_one_transaction(app):
    bank = _bank(app)
    a, b = bank.get_entry("AIMS-GOV-001"), bank.get_entry("AIMS-GOV-002")
    revision = bank.revision()
    pairs = [
        (a.ext_id, "How is AI  governed at your company?"),   # new (whitespace is collapsed)
        (a.ext_id, "How is AI governed at your company?"),    # the same again: once
        (b.ext_id, "Who owns AI risk?"),                      # new
        (b.ext_id, b.question),                               # already known: skipped
        ("NO-SUCH-ENTRY", "Anything?"),                       # gone: skipped, the rest still learned
    ]
    with Statements(bank.db.conn) as trace:
        added = learning.learn_variants(bank, pairs, user="eddie")
    assert added == [(a.ext_id, "How is AI governed at your company?"), (b.ext_id, "Who owns AI risk?")]
    assert trace.count("BEGIN") == 1 and trace.count("COMMIT") == 1
    assert bank.revision() == revision + 1
    assert _learned(bank, a.ext_id) == ["How is AI governed at your company?"]
    assert _learned(bank, b.ext_id) == ["Who owns AI risk?"]
    rows = bank.db.execute("SELECT origin, created_by FROM entry_variants WHERE text IN (?, ?)",
                           ["How is AI governed at your company?", "Who owns AI risk?"]).fetchall()
    assert rows == [("review", "eddie"), ("review", "eddie")]
    audit = _audit(bank, "learn_variant")
    assert sorted((x["ext_id"], x["detail"], x["user"]) for x in audit) == [
        (a.ext_id, "How is AI governed at your company?", "eddie"), (b.ext_id, "Who owns AI risk?", "eddie")]
    assert all(x["before"] is None and x["after"] is None for x in audit)
    # Nothing new: no transaction writes anything, the revision stays.
    assert learning.learn_variants(bank, pairs, user="eddie") == []
    assert bank.revision() == revision + 1


def test_learn_variants_is_all_or_nothing(app, monkeypatch):
    bank = _bank(app)
    calls = []

    def failing_audit(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(self, *args, **kwargs)

    real = Bank.record_event
    monkeypatch.setattr(Bank, "record_event", failing_audit)
    revision = bank.revision()
    with pytest.raises(RuntimeError):
        learning.learn_variants(bank, [("AIMS-GOV-001", "First wording?"), ("AIMS-GOV-002", "Second wording?")],
                                user="eddie")
    assert _learned(bank, "AIMS-GOV-001") == [] and _learned(bank, "AIMS-GOV-002") == []
    assert _audit(bank, "learn_variant") == [] and bank.revision() == revision


def test_forget_variants_never_touches_curated_wording(app):
    bank = _bank(app)
    bank.save_entry(BankEntry("CUR-1", "Do you encrypt backups?", "Yes.", variants=["Are backups encrypted?"],
                              status="approved"), user="april")
    learning.learn_variants(bank, [("CUR-1", "Backups encrypted at rest?")], user="eddie")
    revision = bank.revision()
    assert learning.forget_variants(bank, [("CUR-1", "Are backups encrypted?"), ("CUR-1", "Do you encrypt backups?")],
                                    user="eddie") == []
    assert bank.revision() == revision
    assert learning.forget_variants(bank, [("CUR-1", "Backups  encrypted at rest?")], user="eddie") == [
        ("CUR-1", "Backups encrypted at rest?")]
    entry = bank.get_entry("CUR-1")
    assert entry.variants == ["Are backups encrypted?"] and entry.learned_variants == []
    assert bank.revision() == revision + 1
    (row,) = _audit(bank, "unlearn_variant")
    assert (row["ext_id"], row["detail"], row["user"]) == ("CUR-1", "Backups encrypted at rest?", "eddie")


# ---- through the app ------------------------------------------------------------------


def test_bulk_accept_learns_the_whole_batch_in_one_transaction(app):
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx(_reworded(8)), "q.xlsx")
    _force_tier(app, qn_id)
    store, bank = store_of(app), _bank(app)
    expected = store.counts(qn_id)["pending_high"]
    assert expected > 1
    revision = bank.revision()
    token = csrf_token(c, f"/q/{qn_id}/review")
    r = c.post(f"/q/{qn_id}/bulk-accept", data={"csrf_token": token, "tier": "high"})
    assert r.status_code == 302
    accepted = [q for q in store.questions(qn_id) if q.status == "accepted"]
    assert len(accepted) == expected
    pairs = {(q.entry_ext_id, q.text) for q in accepted}
    learned = {(x["ext_id"], x["detail"]) for x in _audit(bank, "learn_variant")}
    assert learned == pairs  # one audit row per learned wording
    for ext_id, text in pairs:
        assert text in _learned(bank, ext_id)
    assert bank.revision() == revision + 1  # the batch bumps the revision once
    page = c.get(f"/q/{qn_id}/review").get_data(as_text=True)
    assert f"{len(pairs)} new wordings learned by the bank" in page


def test_bulk_accept_learning_uses_a_single_transaction(app, monkeypatch):
    """The learning step of a bulk accept opens exactly one write transaction."""
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx(_reworded(6)), "q.xlsx")
    _force_tier(app, qn_id)
    seen = []
    real = learning.learn_variants

    def counting(bank, pairs, *, user, asked=()):
        pairs = list(pairs)
        with Statements(bank.db.conn) as trace:
            out = real(bank, pairs, user=user, asked=asked)
        seen.append((len(pairs), trace.count("BEGIN"), len(out)))
        return out

    monkeypatch.setattr(learning, "learn_variants", counting)
    token = csrf_token(c, f"/q/{qn_id}/review")
    c.post(f"/q/{qn_id}/bulk-accept", data={"csrf_token": token, "tier": "high"})
    ((n_pairs, begins, n_added),) = seen  # called once for the whole batch
    assert n_pairs > 1 and begins == 1 and n_added == n_pairs


def test_undo_of_an_accept_removes_the_wording_it_taught(app):
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx(_reworded(3)), "q.xlsx")
    _force_tier(app, qn_id)
    store, bank = store_of(app), _bank(app)
    q = next(q for q in store.questions(qn_id) if q.proposed)
    body = _act(c, qn_id, q, "accept")
    assert body["learned"] == f"the wording was added to {q.proposed}"
    assert q.text in _learned(bank, q.proposed)
    revision = bank.revision()
    body = _act(c, qn_id, store.question(q.id), "reset")
    assert body["status"] == "pending" and body["learned"] == f"the wording was removed from {q.proposed}"
    assert q.text not in _learned(bank, q.proposed)
    assert bank.revision() == revision + 1
    (row,) = _audit(bank, "unlearn_variant")
    assert (row["ext_id"], row["detail"], row["user"]) == (q.proposed, q.text, "eddie")
    # Undoing a decision that taught nothing removes nothing.
    _act(c, qn_id, store.question(q.id), "blank")
    _act(c, qn_id, store.question(q.id), "reset")
    assert len(_audit(bank, "unlearn_variant")) == 1


def test_undo_keeps_a_wording_another_accepted_review_relies_on(app):
    c = client_as(app, "editor")
    other = client_as(app, "eddie2")
    questions = _reworded(2)
    qn_a = uploaded_and_matched(app, c, make_xlsx(questions), "a.xlsx")
    qn_b = uploaded_and_matched(app, other, make_xlsx(questions), "b.xlsx")
    for qn_id in (qn_a, qn_b):
        _force_tier(app, qn_id)
    store, bank = store_of(app), _bank(app)
    qa = next(q for q in store.questions(qn_a) if q.proposed)
    qb = next(q for q in store.questions(qn_b) if q.text == qa.text)
    assert qb.proposed == qa.proposed
    ext_id = qa.proposed
    _act(c, qn_a, qa, "accept")
    assert _act(other, qn_b, qb, "accept")["learned"] is None  # already learned from A
    # A's reviewer undoes: B's accepted review still relies on the wording.
    assert _act(c, qn_a, store.question(qa.id), "reset")["learned"] is None
    assert qa.text in _learned(bank, ext_id)
    # B's reviewer changes their mind too: now nothing relies on it.
    assert _act(other, qn_b, store.question(qb.id), "reset")["learned"] == f"the wording was removed from {ext_id}"
    assert qa.text not in _learned(bank, ext_id)
    assert [(x["ext_id"], x["user"]) for x in _audit(bank, "unlearn_variant")] == [(ext_id, "eddie2")]


def test_picking_another_entry_moves_the_learned_wording(app):
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx(_reworded(3)), "q.xlsx")
    _force_tier(app, qn_id)
    store, bank = store_of(app), _bank(app)
    q = next(q for q in store.questions(qn_id) if q.proposed and q.alternatives)
    _act(c, qn_id, q, "accept")
    alt = q.alternatives[0]["id"]
    body = _act(c, qn_id, store.question(q.id), f"pick:{alt}", confirmed="1")
    assert body["learned"] == f"the wording was removed from {q.proposed}; the wording was added to {alt}"
    assert q.text not in _learned(bank, q.proposed) and q.text in _learned(bank, alt)


def test_an_action_without_a_version_still_undoes_the_learning(app):
    """A plain client posting no version: the question as read is the state replaced."""
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx(_reworded(2)), "q.xlsx")
    _force_tier(app, qn_id)
    store, bank = store_of(app), _bank(app)
    q = next(q for q in store.questions(qn_id) if q.proposed)
    _act(c, qn_id, q, "accept")
    token = csrf_token(c, f"/q/{qn_id}/review")
    r = c.post(f"/q/{qn_id}/questions/{q.id}", data={"csrf_token": token, "action": "blank"})
    assert r.status_code == 302
    assert store.question(q.id).status == "blank" and q.text not in _learned(bank, q.proposed)

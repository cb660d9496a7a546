"""questionnaire.figures: per-questionnaire shares, time to export, most edited entries.
The matcher runs on the FAKE embedder from conftest."""
from __future__ import annotations

import datetime as dt

import pytest

from answer_bank.matching import Matcher
from answer_bank.model import BankEntry
from answer_bank.store import Bank
from ingest.model import IngestHints, IngestResult, Locator, Question
from questionnaire import review_db
from questionnaire.figures import QuestionnaireFigures, most_edited_entries, questionnaire_figures, totals
from questionnaire.review import ReviewStore, autofill

BANK = [
    BankEntry("ENC", "Do you encrypt customer data at rest?", "Yes, AES-256.", short_answer="Yes", status="approved"),
    BankEntry("TRAIN", "Do you use customer data to train your models?", "No.", short_answer="No", status="approved"),
    BankEntry("SSO", "Do you support single sign-on for customer users?", "Yes, SAML.", short_answer="Yes",
              status="approved"),
]


def questionnaire(store: ReviewStore, customer: str, texts: list[str]) -> str:
    result = IngestResult("xlsx", [Question(t, Locator(sheet="Q", cell=f"C{n}")) for n, t in enumerate(texts, 2)])
    return store.create_questionnaire(customer=customer, due_date=None, owner="eddie", filename="q.xlsx", fmt="xlsx",
                                      stored_name="x", size=1, hints=IngestHints(), result=result)


@pytest.fixture
def store(tmp_path, fake_embedder):
    db = review_db.connect(tmp_path / "aimsq.db")
    Bank(db).import_entries(BANK, user="ana", keep_status=True)
    store = ReviewStore(db)
    matcher = Matcher(Bank(db), fake_embedder)
    texts = ["Do you encrypt customer data at rest?", "Do you use customer data to train your models?",
             "Do you support single sign-on for customer users?", "What is your favourite colour?"]
    for customer in ("Acme", "Globex"):
        qn_id = questionnaire(store, customer, texts)
        store.start_matching(qn_id, user="eddie")
        autofill(store, qn_id, matcher.match_many)
    return store


def by_customer(store):
    return {f.customer: f for f in questionnaire_figures(store.db)}


def test_shares_of_automatic_and_edited_answers(store):
    acme = next(q for q in store.list() if q.customer == "Acme")
    qs = {q.text: q for q in store.questions(acme.id)}
    enc, train, sso = (qs[t] for t in list(qs)[:3])
    assert enc.proposed == "ENC" and train.proposed == "TRAIN"
    store.review(enc.id, "accept", user="eddie", expected_version=enc.version)
    store.review(train.id, "edit", user="eddie", expected_version=train.version, narrative="No, never.")
    other = next(c["id"] for c in sso.candidates if c["id"] != sso.proposed)
    store.review(sso.id, "pick", user="eddie", expected_version=sso.version, candidate=other)
    figures = by_customer(store)
    acme_f = figures["Acme"]
    assert (acme_f.total, acme_f.automatic, acme_f.edited, acme_f.picked, acme_f.pending) == (4, 1, 1, 1, 1)
    assert (acme_f.share_automatic, acme_f.share_edited) == (0.25, 0.25)
    assert figures["Globex"].automatic == 0 and figures["Globex"].pending == 4
    assert totals(list(figures.values()))["share_edited"] == 1 / 8


def test_time_from_upload_to_export(store):
    acme = next(q for q in store.list() if q.customer == "Acme")
    assert by_customer(store)["Acme"].hours_to_export is None
    store.record_export(acme.id, stored_name="out.xlsx", summary_name="s.csv", user="eddie", answered=0, blank=4)
    hours = by_customer(store)["Acme"].hours_to_export
    assert hours is not None and 0 <= hours < 0.1
    f = QuestionnaireFigures("x", "C", "exported", "2026-01-01T09:00:00+00:00", "2026-01-02T10:30:00+00:00",
                             10, 5, 0, 2, 0, 3)
    assert f.hours_to_export == 25.5 and f.to_json()["share_automatic"] == 0.5
    assert totals([f])["median_hours_to_export"] == 25.5


def test_most_edited_entries_come_first(store):
    for qn in store.list():
        for q in store.questions(qn.id):
            if q.proposed == "TRAIN" or (q.proposed == "ENC" and qn.customer == "Acme"):
                store.review(q.id, "edit", user="eddie", expected_version=q.version, narrative="Rewritten.")
    edited = most_edited_entries(store.db)
    assert [(e.ext_id, e.edits, e.questionnaires) for e in edited] == [("TRAIN", 2, 2), ("ENC", 1, 1)]
    assert dt.datetime.fromisoformat(edited[0].last_edited_at)

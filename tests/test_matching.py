"""The matcher over a real SQLite bank (fake embedder for the unit tests,
the real bundled model in the integration test at the end)."""
from __future__ import annotations

import pytest

from answer_bank.matching import Matcher
from answer_bank.model import BankEntry

ENTRIES = [
    ("ENC-1", "Do you encrypt customer data at rest?", ["Is stored customer data encrypted?"]),
    ("TRAIN-1", "Do you use customer data to train your AI models?", ["Is client data used for model training?"]),
    ("MFA-1", "Do you enforce multi-factor authentication for employees?", []),
    ("RET-1", "How long do you retain customer data after contract termination?", []),
]


@pytest.fixture
def filled(bank):
    for ext_id, question, variants in ENTRIES:
        bank.save_entry(BankEntry(ext_id, question, f"Answer for {ext_id}.", short_answer="Yes",
                                  variants=variants, status="approved"), user="ana")
    return bank


def test_a_known_question_is_answered_with_its_entry(filled, fake_embedder):
    result = Matcher(filled, fake_embedder).match("Do you encrypt customer data at rest?")
    assert result.answer is not None and result.answer.ext_id == "ENC-1"
    assert result.tier in ("high", "medium")
    assert result.candidates[0].entry.ext_id == "ENC-1"


def test_an_unrelated_question_gets_no_answer(filled, fake_embedder):
    result = Matcher(filled, fake_embedder).match("What is the capital city of Mongolia?")
    assert result.answer is None and result.tier in ("low", "none")


def test_only_approved_entries_answer(filled, fake_embedder):
    filled.save_entry(BankEntry("BB-1", "Do you run a public bug bounty programme?", "Yes.", status="draft"), user="ana")
    result = Matcher(filled, fake_embedder).match("Do you run a public bug bounty programme?")
    assert all(c.entry.ext_id != "BB-1" for c in result.candidates)


def test_an_overdue_entry_is_never_high(filled, fake_embedder):
    entry = filled.get_entry("ENC-1")
    entry.review_by = "2020-01-01"
    filled.save_entry(entry, user="ana")
    result = Matcher(filled, fake_embedder).match("Do you encrypt customer data at rest?")
    assert result.candidates[0].entry.ext_id == "ENC-1"
    assert result.tier != "high"
    assert any("past its review-by date (2020-01-01)" in r for r in result.reasons)


def test_the_index_follows_bank_changes(filled, fake_embedder):
    matcher = Matcher(filled, fake_embedder)
    question = "Do you run a public bug bounty programme?"
    assert all(c.entry.ext_id != "BB-1" for c in matcher.match(question).candidates)
    filled.save_entry(BankEntry("BB-1", question, "Yes.", status="approved"), user="ana")
    assert matcher.match(question).candidates[0].entry.ext_id == "BB-1"


def test_bank_texts_are_embedded_once_across_matchers(filled, fake_embedder):
    first = Matcher(filled, fake_embedder)
    assert first.refresh() == sum(1 + len(v) for _, _, v in ENTRIES)
    first.match("first question about encryption")
    before = fake_embedder.texts_embedded
    second = Matcher(filled, fake_embedder)
    assert second.refresh() == 0  # bank vectors came from the database
    second.match("first question about encryption")
    assert fake_embedder.texts_embedded == before + 1  # only the question


def test_an_empty_bank_says_so(bank, fake_embedder):
    result = Matcher(bank, fake_embedder).match("Anything?")
    assert result.tier == "none" and result.answer is None and result.candidates == []
    assert "no approved entries" in result.reasons[0]


def test_learned_variants_make_a_customer_wording_match(filled, fake_embedder):
    matcher = Matcher(filled, fake_embedder)
    wording = "Pls confirm tenant datasets never feed ML fitting"
    filled.add_learned_variant("TRAIN-1", wording, user="sam")
    result = matcher.match(wording)
    assert result.answer is not None and result.answer.ext_id == "TRAIN-1"


@pytest.mark.model
def test_the_real_model_matches_paraphrases_and_abstains_on_strangers(filled):
    matcher = Matcher(filled)  # the bundled all-MiniLM-L6-v2
    results = matcher.match_many([
        "Are client datasets ever used to fine-tune or train your machine learning models?",
        "Is MFA required for all staff accounts?",
        "Describe your office recycling programme and the brand of coffee in the kitchen.",
    ])
    assert results[0].candidates[0].entry.ext_id == "TRAIN-1"
    assert results[1].candidates[0].entry.ext_id == "MFA-1"
    assert results[2].answer is None


class _ThreadSafeFake:
    """FAKE embedder (tests/conftest.py's bag of words) that says it may run on
    a thread of its own, and records the thread of every call."""

    thread_safe = True

    def __init__(self, inner, fail_on: str | None = None):
        self.inner, self.model_id, self.fail_on, self.threads = inner, inner.model_id, fail_on, []

    def embed(self, texts):
        import threading

        self.threads.append(threading.current_thread().name)
        if self.fail_on and self.fail_on in texts:
            raise RuntimeError("the encoder broke")
        return self.inner.embed(texts)


QUESTIONS = [q for _, q, v in ENTRIES for q in (q, *v)] + [
    "What is the capital city of Mongolia?", "Do you retain client data after termination?",
    "Is MFA enforced for staff?", "Do you train models on client data?"]


def test_a_batch_of_questions_is_encoded_while_the_index_is_built_with_the_same_results(filled, fake_embedder):
    plain = Matcher(filled, fake_embedder).match_many(QUESTIONS)
    threaded_embedder = _ThreadSafeFake(fake_embedder)
    threaded = Matcher(filled, threaded_embedder).match_many(QUESTIONS)
    assert any(name.startswith("aimsq-prefetch") for name in threaded_embedder.threads)
    assert [(r.answer and r.answer.ext_id, r.tier, [(c.entry.ext_id, c.score) for c in r.candidates])
            for r in threaded] == [(r.answer and r.answer.ext_id, r.tier, [(c.entry.ext_id, c.score)
                                                                           for c in r.candidates]) for r in plain]
    few = _ThreadSafeFake(fake_embedder)
    Matcher(filled, few).match_many(QUESTIONS[:2])  # a search box's question or two: no thread
    assert not any(name.startswith("aimsq-prefetch") for name in few.threads)


def test_an_encoder_error_on_the_prefetch_thread_reaches_the_caller(filled, fake_embedder):
    broken = _ThreadSafeFake(fake_embedder, fail_on=QUESTIONS[-1])
    with pytest.raises(RuntimeError, match="the encoder broke"):
        Matcher(filled, broken).match_many(QUESTIONS)

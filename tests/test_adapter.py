"""The bank adapter (answer_bank/adapter.py): a linear map of the vector space
fitted on the bank's own texts. Unit, CLI and web tests use synthetic vectors
or the FAKE bag-of-words embedder (conftest) and say so; one test
(`test_the_bank_teaches_the_matcher_its_own_wordings`) uses the real bundled
model and the starter bank."""
from __future__ import annotations

import numpy as np
import pytest

from answer_bank import adapter as A
from answer_bank.model import BankEntry


def _synthetic(n_entries=30, per_entry=4, dim=24, seed=0):
    """Entries whose examples share a hidden direction the questions lack
    (synthetic vectors, no model): the map has to learn it."""
    rng = np.random.default_rng(seed)
    canon = rng.normal(size=(n_entries, dim))
    topic = rng.normal(size=(n_entries, dim))  # what each entry's answers talk about
    anchors, labels = [], []
    for i in range(n_entries):
        for _ in range(per_entry):
            anchors.append(0.4 * canon[i] + topic[i] + 0.3 * rng.normal(size=dim))
            labels.append(i)
    norm = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    return norm(np.asarray(anchors)).astype(np.float32), np.asarray(labels), norm(canon).astype(np.float32), topic


def _top1(W, queries, labels, canon):
    q, c = A.apply_adapter(W, queries), A.apply_adapter(W, canon)
    return float(np.mean(np.argmax(q @ c.T, axis=1) == labels))


def test_the_gradient_is_the_derivative_of_the_loss():
    anchors, labels, canon, _ = _synthetic(n_entries=6, per_entry=3, dim=5)
    D = np.random.default_rng(1).normal(size=(5, 5)) * 0.1
    _, grad = A.loss_and_grad(D, anchors.astype(np.float64), labels, canon.astype(np.float64))
    numeric = np.zeros_like(D)
    for i in range(5):
        for j in range(5):
            step = np.zeros_like(D)
            step[i, j] = 1e-6
            numeric[i, j] = (A.loss_and_grad(D + step, anchors.astype(np.float64), labels, canon)[0]
                             - A.loss_and_grad(D - step, anchors.astype(np.float64), labels, canon)[0]) / 2e-6
    assert np.allclose(grad, numeric, atol=1e-6)


def test_the_map_brings_new_wordings_to_their_entry():
    anchors, labels, canon, topic = _synthetic()
    W = A.fit_adapter(anchors, labels, canon)
    assert W is not None and W.shape == (24, 24)
    # New questions about each entry's topic, never seen by the fit.
    rng = np.random.default_rng(3)
    fresh_labels = np.repeat(np.arange(len(canon)), 2)
    q = np.asarray([0.4 * canon[i] + topic[i] + 0.3 * rng.normal(size=24) for i in fresh_labels])
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    assert _top1(W, q, fresh_labels, canon) > _top1(None, q, fresh_labels, canon) + 0.2


def test_too_little_to_learn_from_gives_no_map():
    anchors, labels, canon, _ = _synthetic(n_entries=30, per_entry=1)
    assert A.fit_adapter(anchors[:5], labels[:5], canon) is None  # 5 examples
    assert A.fit_adapter(anchors, labels, canon[:5]) is None  # 5 entries
    assert A.fit_adapter(anchors[:30], np.zeros(30, int), canon) is None  # one entry only


def test_the_fit_is_deterministic_and_large_banks_are_sampled(monkeypatch):
    anchors, labels, canon, _ = _synthetic()
    assert np.array_equal(A.fit_adapter(anchors, labels, canon), A.fit_adapter(anchors, labels, canon))
    monkeypatch.setattr(A, "MAX_ENTRIES", 12)
    monkeypatch.setattr(A, "MAX_ANCHORS", 25)
    seen = []
    real = A.loss_and_grad
    monkeypatch.setattr(A, "loss_and_grad", lambda D, a, lab, c, *k: seen.append((len(a), len(c))) or real(D, a, lab, c, *k))
    W = A.fit_adapter(anchors, labels, canon, steps=3)
    assert W is not None and seen[0] == (25, 12)


def test_a_fit_that_goes_wrong_gives_no_map(monkeypatch):
    anchors, labels, canon, _ = _synthetic()
    monkeypatch.setattr(A, "loss_and_grad", lambda D, *a: (float("nan"), np.full_like(D, np.nan)))
    assert A.fit_adapter(anchors, labels, canon, steps=2) is None


def test_applying_the_map_keeps_vectors_unit_length_and_empty_ones_empty():
    W = np.eye(4, dtype=np.float32) + 0.5
    vecs = np.asarray([[1, 0, 0, 0], [0, 0, 0, 0], [0.6, 0.8, 0, 0]], np.float32)
    out = A.apply_adapter(W, vecs)
    assert np.allclose(np.linalg.norm(out[[0, 2]], axis=1), 1.0) and not out[1].any()
    assert A.apply_adapter(None, vecs) is vecs


# ---- in the matcher (real SQLite bank, FAKE embedder) ------------------------------


def _bank_with_examples(bank, n=14):
    for i in range(n):
        bank.save_entry(BankEntry(f"E-{i}", f"Question number {i} about topic{i} and area{i}?",
                                  f"Yes. We handle topic{i} with tool{i}, process{i} and owner{i} every year.",
                                  short_answer="Yes", variants=[f"How is area{i} handled?", f"Tell us about tool{i}."],
                                  status="approved"), user="ana")
    return bank


def test_the_matcher_fits_the_map_once_and_keeps_it_in_the_bank(bank, fake_embedder, monkeypatch):
    from answer_bank.matching import Matcher

    _bank_with_examples(bank)
    fits = []
    real = A.fit_adapter
    monkeypatch.setattr(A, "fit_adapter", lambda *a, **k: fits.append(1) or real(*a, **k))
    first = Matcher(bank, fake_embedder).match("How does tool3 work for you?")
    assert len(fits) == 1
    again = Matcher(bank, fake_embedder).match("How does tool3 work for you?")  # a new process, same bank
    assert len(fits) == 1, "the map is read from the bank, not fitted again"
    assert again.candidates[0].entry.ext_id == first.candidates[0].entry.ext_id == "E-3"
    assert again.confidence == pytest.approx(first.confidence)
    # The bank changes: the map is fitted again, and only the newest is kept.
    bank.save_entry(BankEntry("E-99", "Do you have a brand new practice?", "Yes. A new practice with several "
                              "steps, owners and a yearly review of it.", variants=["New practice?"],
                              status="approved"), user="ana")
    Matcher(bank, fake_embedder).match("How does tool3 work for you?")
    assert len(fits) == 2
    rows = bank.db.execute("SELECT COUNT(*) FROM embeddings WHERE model_id LIKE '%#adapter'").fetchone()[0]
    assert rows == 1


def test_a_bank_without_examples_matches_as_before(bank, fake_embedder):
    from answer_bank.matching import Matcher

    for i in range(12):  # no variants, placeholder answers: nothing to learn from
        bank.save_entry(BankEntry(f"P-{i}", f"Placeholder question {i} on subject{i}?", "Approved answer.",
                                  status="approved"), user="ana")
    matcher = Matcher(bank, fake_embedder)
    result = matcher.match("subject4 placeholder question?")
    assert matcher._ranker.adapter_matrix is None
    assert result.candidates[0].entry.ext_id == "P-4"


def test_the_cli_says_whether_the_bank_has_an_adapter(run, tmp_path):
    """FAKE embedder (the `run` fixture)."""
    result = run("init", "--demo")
    assert result.exit_code == 0
    assert "bank adapter fitted on" in result.output and "wordings and answers" in result.output
    bank_file = tmp_path / "few.csv"
    bank_file.write_text("id,question,answer\nA-1,Do you encrypt data at rest?,Yes.\nA-2,Do you use MFA?,Yes.\n")
    other = run("--db", str(tmp_path / "other.db"), "bank", "import", str(bank_file), "--approve")
    assert "no bank adapter (0 wordings and answers; it needs at least 20" in other.output


# ---- the real model ------------------------------------------------------------------


@pytest.mark.model
def test_the_bank_teaches_the_matcher_its_own_wordings():
    """Real model, starter bank: a third of the entries' curated wordings are
    taken out and asked as questions. Fitted on the rest of the bank (its
    other wordings and its answers), the map puts the right entry first more
    often than the model alone (docs/matching.md: 0.591 -> 0.674 on this fold)."""
    from answer_bank.embeddings import embedder_from_env
    from answer_bank.ranking import Ranker
    from answer_bank.starter import starter_entries

    embedder = embedder_from_env()
    entries = starter_entries()
    bank_texts, queries, gold = [], [], []
    for i, e in enumerate(entries):
        texts = [e.question]
        for j, v in enumerate(e.variants):
            if (i + j) % 3 == 0:
                queries.append(v)
                gold.append(i)
            else:
                texts.append(v)
        bank_texts.append(texts)
    answers = [e.answer for e in entries]

    def top1(adapter):
        ranker = Ranker(bank_texts, embedder.embed, extra_texts=answers, adapter=adapter)
        ranked = ranker.rank(queries, top_k=1, sequential=False)
        return float(np.mean([r.candidates[0][0] == g for r, g in zip(ranked, gold)])), ranker

    plain, _ = top1(None)
    adapted, ranker = top1(A.fit_adapter)
    assert ranker.adapter_matrix is not None and len(queries) > 100
    assert adapted >= plain + 0.04, (plain, adapted)


# ---- the web app (FAKE embedder, starter bank: tests/web_helpers.py) ----------------


def test_the_bank_search_says_what_matching_learned_from_the_bank(app, tmp_path, template_db, monkeypatch):
    from tests.web_helpers import client_as, new_app

    page = client_as(app, "viewer").get("/bank/?q=Do+you+train+on+customer+data").get_data(as_text=True)
    assert "Matching has learned this bank" in page and "terms from" in page
    # A bank with too little to learn from says so (the map kept in the bank removed first).
    (tmp_path / "few").mkdir()
    few = new_app(template_db, tmp_path / "few")
    from answer_bank.store import Bank

    bank = Bank.open(few.config["AIMSQ_DB"])
    bank.db.execute("DELETE FROM embeddings WHERE model_id LIKE '%#adapter'")
    bank.close()
    monkeypatch.setattr(A, "MIN_ANCHORS", 10**6)
    page = client_as(few, "viewer").get("/bank/?q=Do+you+train+on+customer+data").get_data(as_text=True)
    assert "Matching has not learned this bank" in page
    monkeypatch.undo()
    monkeypatch.setenv("AIMSQ_BANK_ADAPTER", "off")
    (tmp_path / "off").mkdir()
    other = new_app(template_db, tmp_path / "off")
    page = client_as(other, "viewer").get("/bank/?q=Do+you+train+on+customer+data").get_data(as_text=True)
    assert "Matching has learned" not in page and "has not learned" not in page


def test_a_large_bank_with_a_map_ranks_as_the_exact_search(fake_embedder, monkeypatch):
    """FAKE embedder: the two-stage search of a large bank (PCA first stage,
    exact rescoring) agrees with the exact one when the bank has a map, and
    the confidence reads the same model cosines either way."""
    from answer_bank import ranking

    rng = np.random.default_rng(5)
    words = "access backup encryption incident model training data retention vendor audit policy risk".split()
    bank = [[" ".join(rng.choice(words, 6)) + f" control {i}?", f"How is control {i} run?"] for i in range(300)]
    answers = [f"Yes. Control {i} is run by team {i % 7} with tool {i % 11} and reviewed each quarter." for i in range(300)]
    questions = [bank[i][0] for i in range(0, 300, 37)] + [f"Tell me how control {i} is run" for i in (3, 150, 299)]
    exact = ranking.Ranker(bank, fake_embedder.embed, extra_texts=answers, adapter=A.fit_adapter)
    assert exact.adapter_matrix is not None
    want = exact.rank(questions, top_k=3, sequential=False)
    monkeypatch.setattr(ranking, "EXACT_LIMIT", 100)
    monkeypatch.setattr(ranking, "RESCORE", 50)
    large = ranking.Ranker(bank, fake_embedder.embed, extra_texts=answers, adapter=A.fit_adapter)
    assert large.coarse is not None
    got = large.rank(questions, top_k=3, sequential=False)
    assert [r.candidates[0][0] for r in got] == [r.candidates[0][0] for r in want]
    assert [r.features["dense"] for r in got] == pytest.approx([r.features["dense"] for r in want], abs=1e-5)

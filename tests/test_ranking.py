"""Ranking and calibration core (answer_bank.ranking), pure functions over texts.

Every test here uses the FAKE embedder from conftest.py (a hashed bag of
words, not a language model): it is deterministic and instant, and texts that
share words get similar vectors. The real model is exercised by
tests/test_matching.py and measured by bench/matching_experiments.py.
"""
from __future__ import annotations

import numpy as np
import pytest

from answer_bank import ranking
from answer_bank.ranking import ANSWER_TIERS, Glossary, Ranker, tier_for, tokenize
from answer_bank.starter import starter_glossary

STARTER_GLOSSARY = Glossary(starter_glossary())

BANK = [
    ["Do you encrypt customer data at rest?", "Is stored customer data encrypted?"],
    ["Do you use customer data to train your AI models?", "Is client data used for model training?"],
    ["Do you enforce multi-factor authentication for employees?"],
    ["How long do you retain customer data after contract termination?"],
    ["Do you have a documented incident response plan?"],
    ["Is your organisation certified to ISO/IEC 42001?"],
]


@pytest.fixture
def ranker(fake_embedder):
    return Ranker(BANK, fake_embedder.embed)


@pytest.mark.parametrize("question, entry", [
    ("Do you encrypt customer data at rest?", 0),  # the canonical question itself
    ("Is stored customer data encrypted?", 0),  # a variant
    ("Is customer data encrypted at rest in your systems?", 0),  # a paraphrase
    ("Will our data be used to train your AI models?", 1),
    ("Is MFA required for employees?", 2),  # the acronym of the bank's wording
    ("Do you have an incident response plan?", 4),
])
def test_a_known_or_paraphrased_question_ranks_its_entry_first(ranker, question, entry):
    result = ranker.rank([question], sequential=False)[0]
    assert result.candidates[0][0] == entry


def test_an_exact_question_is_answered(ranker):
    result = ranker.rank(["Do you encrypt customer data at rest?"])[0]
    assert tier_for(result.confidence) in ANSWER_TIERS


@pytest.mark.parametrize("question", [
    "What is the capital city of Mongolia?",
    "Please list your office opening hours on public holidays.",
])
def test_an_unrelated_question_gets_no_answer(ranker, question):
    result = ranker.rank([question], sequential=False)[0]
    assert tier_for(result.confidence) in ("low", "none")
    assert tier_for(result.confidence) not in ANSWER_TIERS


@pytest.mark.parametrize("top_k, expected", [(1, 1), (3, 3), (50, len(BANK))])
def test_top_k_is_honoured(ranker, top_k, expected):
    result = ranker.rank(["Do you encrypt customer data?"], top_k=top_k)[0]
    assert len(result.candidates) == expected
    assert len({e for e, _ in result.candidates}) == expected


def test_scores_are_in_unit_range_sorted_and_the_first_is_the_confidence(ranker):
    questions = ["Do you encrypt customer data?", "Who owns AI risk?", "Is MFA enforced?", "xyzzy"]
    for result in ranker.rank(questions, top_k=len(BANK)):
        scores = [s for _, s in result.candidates]
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert scores == sorted(scores, reverse=True)
        assert scores[0] == pytest.approx(result.confidence)
        assert 0.0 <= result.confidence <= 1.0
        assert {"p_top", "dense", "coverage"} <= set(result.features)


def test_an_empty_bank_returns_nothing_and_tier_none(fake_embedder):
    result = Ranker([], fake_embedder.embed).rank(["Do you encrypt customer data?"])[0]
    assert result.candidates == []
    assert tier_for(result.confidence) == "none"


def test_no_queries_give_no_results(ranker):
    assert ranker.rank([]) == []


def test_tier_for_is_monotonic():
    order = ["none", "low", "medium", "high"]
    grid = np.linspace(0.0, 1.0, 201)
    ranks = [order.index(tier_for(float(c))) for c in grid]
    assert ranks == sorted(ranks)
    assert tier_for(0.0) == "none" and tier_for(1.0) == "high"
    assert set(ANSWER_TIERS) == {"high", "medium"}


def test_the_bank_is_embedded_in_one_call(fake_embedder):
    answers = ["We encrypt all customer data at rest with AES-256 keys held in a managed key service."] + [None] * 5
    ranker = Ranker(BANK, fake_embedder.embed, extra_texts=answers)
    assert fake_embedder.calls == 1
    assert fake_embedder.texts_embedded == sum(len(e) for e in BANK) + 1  # texts and the one long answer
    ranker.rank(["a", "b", "c"])
    assert fake_embedder.calls == 2


def test_short_or_placeholder_answers_change_nothing(fake_embedder):
    question = ["Is customer data encrypted at rest in your systems?"]
    plain = Ranker(BANK, fake_embedder.embed).rank(question, top_k=6)[0]
    placeholders = [f"Approved answer for E-{i}." for i in range(len(BANK))]
    with_answers = Ranker(BANK, fake_embedder.embed, extra_texts=placeholders).rank(question, top_k=6)[0]
    assert with_answers.candidates == plain.candidates


def test_a_substantial_answer_helps_find_its_entry(fake_embedder):
    bank = [["Describe your data protection measures."], ["Describe your security programme."]]
    answers = ["Customer documents are encrypted with AES-256 at rest and TLS 1.3 in transit; keys rotate yearly.",
               "Our security programme follows ISO 27001 with an annual external audit and quarterly reviews."]
    question = ["Which TLS version and key rotation do you use?"]
    without = Ranker(bank, fake_embedder.embed).rank(question, sequential=False)[0]
    with_answers = Ranker(bank, fake_embedder.embed, extra_texts=answers).rank(question, sequential=False)[0]
    assert with_answers.candidates[0][0] == 0
    assert with_answers.candidates[0][1] >= without.candidates[0][1] or without.candidates[0][0] != 0


def test_excluded_entries_are_never_returned(ranker):
    result = ranker.rank(["Do you encrypt customer data at rest?"], top_k=6, exclude=[[0]])[0]
    assert 0 not in [e for e, _ in result.candidates]
    assert tier_for(result.confidence) not in ANSWER_TIERS  # the question's own entry is gone


def test_a_follow_up_question_takes_context_from_the_one_before(fake_embedder):
    bank = [["Backup policy. Establish backup policies and procedures. Review and update them annually."],
            ["Access policy. Establish access control policies and procedures. Review and update them annually."]]
    ranker = Ranker(bank + BANK, fake_embedder.embed)
    for first, expected in (("Are backup policies established?", 0), ("Are access control policies established?", 1)):
        follow_up = ranker.rank([first, "Are the policies reviewed and updated annually?"])[1]
        assert follow_up.candidates[0][0] == expected


def test_a_lead_in_question_takes_context_from_the_one_after(fake_embedder):
    # "Are the policies reviewed and updated annually?" asked *before* the
    # question that names the topic: the next question decides between the two.
    bank = [["Backup policy. Establish backup policies and procedures. Review and update them annually."],
            ["Access policy. Establish access control policies and procedures. Review and update them annually."]]
    ranker = Ranker(bank + BANK, fake_embedder.embed)
    for then, expected in (("Are backup policies established?", 0), ("Are access control policies established?", 1)):
        lead_in = ranker.rank(["Are the policies reviewed and updated annually?", then])[0]
        assert lead_in.candidates[0][0] == expected
        alone = ranker.rank(["Are the policies reviewed and updated annually?", then], sequential=False)[0]
        assert alone.features == ranker.rank(["Are the policies reviewed and updated annually?"],
                                             sequential=False)[0].features


def test_next_question_context_crosses_block_boundaries(fake_embedder):
    bank = [["Backup policy. Establish backup policies and procedures. Review and update them annually."],
            ["Access policy. Establish access control policies and procedures. Review and update them annually."]]
    questions = ["Do you encrypt customer data at rest?"] * 3 + [
        "Are the policies reviewed and updated annually?", "Are access control policies established?"]
    small_blocks = Ranker(bank + BANK, fake_embedder.embed, block_size=4).rank(questions, top_k=3)
    one_block = Ranker(bank + BANK, fake_embedder.embed, block_size=64).rank(questions, top_k=3)
    assert [r.candidates for r in small_blocks] == [r.candidates for r in one_block]
    assert small_blocks[3].candidates[0][0] == 1


def test_examples_in_brackets_stay_with_their_sentence():
    text = "Do you support MFA? (e.g., Duo, Google Authenticator, OTP)"
    assert ranking.sentence_chunks(text) == []  # one question with its examples, not two units
    spec = "Backup policy. Establish backup policies. Review them annually."
    assert len(ranking.sentence_chunks(spec)) == 3


@pytest.mark.parametrize("a, b", [
    ("Multi-Factor Authentication", "MFA"),
    ("single sign-on", "SSO"),
    ("penetration testing", "pen tests"),
    ("sub-processors", "third parties"),
    ("retained annually", "retain every year"),
    ("If you don't support SSO", "If you do not support SSO"),
    ("the vendor's policy", "the vendor policy"),
    ("human-in-the-loop checks", "human oversight checks"),
])
def test_domain_phrases_and_stems_tokenize_alike(a, b):
    # The domain terms come from the starter glossary, as a bank made by `aimsq init --demo` has them.
    assert tokenize(a, STARTER_GLOSSARY) == tokenize(b, STARTER_GLOSSARY)


def test_without_a_glossary_domain_terms_stay_apart():
    assert tokenize("MFA") != tokenize("multi-factor authentication")
    assert tokenize("Do you use a subprocessor?") != tokenize("Do you use a third party?")


def test_a_glossary_term_covers_word_endings_and_the_longest_term_wins():
    g = Glossary([["cloud-based", "hosted"], ["data", "information"], ["customer data", "tenant records"]])
    assert tokenize("Is the service cloud based?", g) == tokenize("Is the service hosted?", g)
    assert tokenize("Are your services hosted?", g) == tokenize("Are your services Cloud-Based?", g)
    # "customer data" is one term: it is not read as "customer" + "data" = "information"
    assert tokenize("Where is customer data kept?", g) == tokenize("Where are tenant records kept?", g)
    assert tokenize("Where is customer data kept?", g) != tokenize("Where is customer information kept?", g)


def test_groups_whose_terms_share_stems_are_one_group():
    g = Glossary([["delete", "erase"], ["deletion", "purge"]])  # "delete" and "deletion" have one stem
    assert tokenize("purge", g) == tokenize("erase", g)


def test_the_glossary_makes_a_question_match_on_both_sides(fake_embedder):
    """A bank text says "hosted", the question says "cloud-based": only the
    glossary links them. The FAKE embedder (bag of words) sees no link, and the
    two entries differ in that one word, so without the glossary they tie."""
    bank = [["Is the platform hosted in the EU?"], ["Is the platform audited in the EU?"]]
    question = ["Is the platform cloud-based in the EU?"]
    plain = Ranker(bank, fake_embedder.embed)
    linked = Ranker(bank, fake_embedder.embed, glossary=Glossary([["hosted", "cloud-based"]]))
    qvecs = fake_embedder.embed(question)
    lexical = plain.signals(qvecs, [tokenize(question[0])])["lexical"][0]
    assert lexical[0] == lexical[1]
    lexical = linked.signals(qvecs, [tokenize(question[0], linked.glossary)])["lexical"][0]
    assert lexical[0] > lexical[1]
    without, with_glossary = plain.rank(question, top_k=2)[0], linked.rank(question, top_k=2)[0]
    assert with_glossary.candidates[0][0] == 0
    assert with_glossary.features["coverage"] == 1.0 > without.features["coverage"]


def test_stop_words_and_question_boilerplate_are_not_tokens():
    assert tokenize("Do you have a policy?") == ["polici"]


def test_the_two_stage_search_of_a_large_bank_agrees_with_the_exact_one(fake_embedder, monkeypatch):
    rng = np.random.default_rng(3)
    words = "access backup encryption incident model training data retention vendor audit policy risk".split()
    bank = [[" ".join(rng.choice(words, 6)) + f" control {i}?"] for i in range(600)]
    bank += [list(e) for e in BANK]
    questions = [e[0] for e in BANK] + [bank[i][0] for i in range(0, 600, 97)]
    exact = Ranker(bank, fake_embedder.embed).rank(questions, top_k=3, sequential=False)
    monkeypatch.setattr(ranking, "EXACT_LIMIT", 100)
    monkeypatch.setattr(ranking, "RESCORE", 50)
    large = Ranker(bank, fake_embedder.embed)
    assert large.coarse is not None
    approx = large.rank(questions, top_k=3, sequential=False)
    assert [r.candidates[0][0] for r in approx] == [r.candidates[0][0] for r in exact]


# Learned wordings (customer questions accepted in review) come after the curated
# texts; curated_counts says where they start.
SIBLINGS = [
    ["Is the disaster response plan reviewed and updated?"],
    ["Is the disaster response plan exercised regularly?"],
    *BANK,
]
LEARNED = "Is the disaster response plan exercised and tested annually or after significant changes to the organisation?"
SIBLING_QUESTION = "Is the disaster response plan updated annually or when significant changes occur?"


def _with_learned(fake_embedder, weighed: bool):
    entries = [list(e) for e in SIBLINGS]
    entries[1].append(LEARNED)
    counts = [len(e) for e in SIBLINGS] if weighed else None
    return Ranker(entries, fake_embedder.embed, curated_counts=counts)


def test_a_repeated_learned_wording_matches_its_entry(fake_embedder):
    result = _with_learned(fake_embedder, weighed=True).rank([LEARNED], sequential=False)[0]
    assert result.candidates[0][0] == 1
    plain = _with_learned(fake_embedder, weighed=False).rank([LEARNED], sequential=False)[0]
    assert result.features["dense"] == pytest.approx(plain.features["dense"])  # counted in full


def test_a_learned_wording_does_not_pull_a_sibling_question(fake_embedder):
    before = Ranker(SIBLINGS, fake_embedder.embed).rank([SIBLING_QUESTION], sequential=False)[0]
    assert before.candidates[0][0] == 0
    plain = _with_learned(fake_embedder, weighed=False).rank([SIBLING_QUESTION], sequential=False)[0]
    assert plain.candidates[0][0] == 1  # as a plain variant, the learned wording pulls it
    weighed = _with_learned(fake_embedder, weighed=True).rank([SIBLING_QUESTION], sequential=False)[0]
    assert weighed.candidates[0][0] == 0


def test_curated_counts_covering_every_text_change_nothing(fake_embedder):
    questions = [LEARNED, SIBLING_QUESTION, "Do you encrypt customer data?"]
    entries = [list(e) for e in SIBLINGS]
    entries[1].append(LEARNED)
    a = Ranker(entries, fake_embedder.embed).rank(questions, top_k=4)
    b = Ranker(entries, fake_embedder.embed, curated_counts=[len(e) for e in entries]).rank(questions, top_k=4)
    assert [r.candidates for r in a] == [r.candidates for r in b]


def test_a_learned_wording_that_repeats_a_curated_one_stays_curated(fake_embedder):
    entries = [list(e) for e in SIBLINGS]
    entries[0].append("Is stored customer data encrypted?")  # learned, but also a curated variant of entry 2
    entries[2].append("Is  stored customer data encrypted? ")  # learned copy of its own curated variant
    rk = Ranker(entries, fake_embedder.embed, curated_counts=[len(e) for e in SIBLINGS])
    assert rk.learned.sum() == 1
    assert rk.owner[np.flatnonzero(rk.learned)[0]] == 0


def test_learned_wordings_in_the_two_stage_search_of_a_large_bank(fake_embedder, monkeypatch):
    rng = np.random.default_rng(5)
    words = "access backup encryption incident model training data retention vendor audit policy risk".split()
    bank = [[" ".join(rng.choice(words, 6)) + f" control {i}?"] for i in range(300)] + [list(e) for e in SIBLINGS]
    counts = [len(e) for e in bank]
    bank[301].append(LEARNED)
    questions = [LEARNED, SIBLING_QUESTION]
    exact = Ranker(bank, fake_embedder.embed, curated_counts=counts).rank(questions, top_k=3, sequential=False)
    monkeypatch.setattr(ranking, "EXACT_LIMIT", 100)
    monkeypatch.setattr(ranking, "RESCORE", 50)
    large = Ranker(bank, fake_embedder.embed, curated_counts=counts)
    assert large.coarse is not None
    approx = large.rank(questions, top_k=3, sequential=False)
    assert [r.candidates[0][0] for r in approx] == [r.candidates[0][0] for r in exact] == [301, 300]


def test_a_long_item_that_asks_a_bank_question_is_contained_in_full(fake_embedder):
    """A checklist item that asks the bank's question and adds context covers
    the whole entry, though the entry covers little of the item: containment
    (whichever side is covered more) is full either way round."""
    long_item = ("Do you have a documented incident response plan? Describe how it is tested, who owns it "
                 "and how often tabletop exercises are held with the executive team.")
    short_paraphrase = "Is there an incident response plan?"
    rk = Ranker(BANK, fake_embedder.embed)
    long_r, short_r = rk.rank([long_item, short_paraphrase], top_k=1, sequential=False)
    assert long_r.candidates[0][0] == short_r.candidates[0][0] == 4
    assert long_r.features["coverage"] < 0.6 < long_r.features["entry_coverage"] == 1.0
    assert long_r.features["containment"] == 1.0
    assert short_r.features["entry_coverage"] < 1.0 == short_r.features["coverage"]
    assert short_r.features["containment"] == 1.0


def test_the_confidence_counts_containment_from_either_side():
    question_covered = {"p_top": 0.6, "dense": 0.7, "answer": 0.26, "coverage": 1.0, "entry_coverage": 0.3,
                        "containment": 1.0}
    entry_covered = {**question_covered, "coverage": 0.3, "entry_coverage": 1.0}
    half = {**question_covered, "coverage": 0.5, "entry_coverage": 0.5, "containment": 0.5}
    assert ranking.confidence(question_covered) == ranking.confidence(entry_covered) > ranking.confidence(half)

"""Questions, not strings: repeats of last year's questionnaire, provenance,
Yes/No polarity and the suggestions a reviewer reads.

Real SQLite banks; the FAKE bag-of-words embedder from conftest in the unit
tests; the real bundled model and the real completed CAIQ in the round trip
at the end (skipped when ../shared is absent).
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from answer_bank.matching import Matcher, QuestionIn
from answer_bank.model import BankEntry
from answer_bank.polarity import inverts, polarity
from tests.conftest import shared_path

REVIEWED = "Are the policies and procedures reviewed and updated at least annually?"
FAMILY = "caiq-2025.xlsx"


def _entry(ext_id, question, answer, *, short="Yes", ref=None, section=None, family=FAMILY, variants=()):
    return BankEntry(ext_id, question, answer, short_answer=short, variants=list(variants), status="approved",
                     origin_family=family if ref or section else None, origin_ref=ref, origin_section=section)


@pytest.fixture
def last_year(bank):
    """A bank imported from last year's questionnaire: the same follow-up
    question under several controls, told apart only by ref and section."""
    entries = [
        _entry("q:AUD-01.1", "Are audit and assurance policies established and maintained?", "Yes, since 2019.",
               ref="AUD-01.1", section="Audit & Assurance"),
        _entry("q:AUD-01.2", REVIEWED, "Audit policies are reviewed every January.",
               ref="AUD-01.2", section="Audit & Assurance"),
        _entry("q:BCR-01.1", "Are business continuity policies established and maintained?", "Yes, the BCP.",
               ref="BCR-01.1", section="Business Continuity"),
        _entry("q:BCR-01.2", REVIEWED, "The BCP is reviewed after each annual exercise.",
               ref="BCR-01.2", section="Business Continuity"),
        _entry("q:CEK-01.1", "Are cryptography and key management policies established and maintained?",
               "Yes, the crypto standard.", ref="CEK-01.1", section="Cryptography"),
        _entry("q:CEK-01.2", REVIEWED, "The crypto standard is reviewed each March.",
               ref="CEK-01.2", section="Cryptography"),
        _entry("AI-1", "Can your AI take actions on its own?", "No. The assistant only drafts text for a person.",
               short="No"),
        _entry("ENC-1", "Do you encrypt customer data at rest?", "Yes: AES-256 on every volume.",
               variants=["Is stored customer data encrypted?"]),
    ]
    bank.import_entries(entries, approve=True)
    return bank


def test_an_identical_question_is_high_whatever_its_wording_shape(last_year, fake_embedder):
    result = Matcher(last_year, fake_embedder).match("  do you ENCRYPT customer data at rest  ")
    assert (result.tier, result.answer.ext_id, result.repeat) == ("high", "ENC-1", "text")
    assert result.confidence >= 0.9 and result.candidates[0].score == result.confidence
    assert any("word for word" in r for r in result.reasons)


def test_a_curated_variant_repeated_is_high_and_shown_as_the_matched_text(last_year, fake_embedder):
    result = Matcher(last_year, fake_embedder).match("Is stored customer data encrypted?")
    assert (result.tier, result.answer.ext_id) == ("high", "ENC-1")
    assert result.candidates[0].matched == "Is stored customer data encrypted?"


def test_a_text_several_entries_share_is_decided_by_ref(last_year, fake_embedder):
    matcher = Matcher(last_year, fake_embedder)
    questionnaire = [
        QuestionIn("Are audit and assurance policies established and maintained?", ref="AUD-01.1"),
        QuestionIn(REVIEWED, ref="AUD-01.2"),
        QuestionIn("Are business continuity policies established and maintained?", ref="BCR-01.1"),
        QuestionIn(REVIEWED, ref="BCR-01.2"),
        QuestionIn(REVIEWED, ref="CEK-01.2"),
    ]
    results = matcher.match_many(questionnaire)
    assert [r.answer.ext_id for r in results] == ["q:AUD-01.1", "q:AUD-01.2", "q:BCR-01.1", "q:BCR-01.2",
                                                  "q:CEK-01.2"]
    assert all(r.tier == "high" for r in results)


def test_a_shared_text_without_ref_is_decided_by_section_or_not_at_all(last_year, fake_embedder):
    matcher = Matcher(last_year, fake_embedder)
    by_section = matcher.match_many([QuestionIn(REVIEWED, section="Cryptography")])[0]
    assert (by_section.answer.ext_id, by_section.tier, by_section.repeat) == ("q:CEK-01.2", "high", "text")
    bare = matcher.match(REVIEWED)  # three entries hold it: no certainty
    assert bare.repeat is None and bare.tier != "high"


def test_same_ref_with_nearly_the_same_text_is_high(last_year, fake_embedder):
    matcher = Matcher(last_year, fake_embedder)
    edited = "Are audit and assurance policies established, and maintained?!"  # punctuation only: a text repeat
    reworded = "Are the audit and assurance policies established and maintained?"  # a word added
    results = matcher.match_many([QuestionIn(edited, ref="AUD-01.1"), QuestionIn(reworded, ref="AUD-01.1"),
                                  QuestionIn(REVIEWED, ref="BCR-01.2")])
    assert [(r.answer.ext_id, r.repeat) for r in results[:2]] == [("q:AUD-01.1", "text"), ("q:AUD-01.1", "ref")]
    assert results[1].tier == "high"


def test_same_ref_with_a_different_question_is_not_a_repeat(last_year, fake_embedder):
    result = Matcher(last_year, fake_embedder).match_many(
        [QuestionIn("Do you run an external audit programme with a certified firm every year?", ref="AUD-01.1")])[0]
    assert result.repeat is None


def test_learned_wordings_keep_where_they_were_asked_and_repeat(last_year, fake_embedder):
    wording = "Is the continuity plan itself re-examined yearly?"
    added = last_year.add_learned_variants([("q:BCR-01.2", wording)], user="rev",
                                           origins={("q:BCR-01.2", wording): ("review 1", "BC-7", "Continuity")})
    assert added == [("q:BCR-01.2", wording)]
    entry = last_year.get_entry("q:BCR-01.2")
    assert entry.learned_origins == {wording: ("review 1", "BC-7", "Continuity")}
    result = Matcher(last_year, fake_embedder).match(wording)
    assert (result.answer.ext_id, result.tier, result.repeat) == ("q:BCR-01.2", "high", "text")


def test_provenance_survives_export_and_import(last_year, tmp_path):
    from answer_bank.io import read_entries, write_entries

    path = tmp_path / "bank.csv"
    with open(path, "wb") as fp:
        write_entries(last_year.list_entries(), fp, "csv")
    again = {e.ext_id: e for e in read_entries(open(path, "rb"), "csv")}
    assert (again["q:BCR-01.2"].origin_family, again["q:BCR-01.2"].origin_ref,
            again["q:BCR-01.2"].origin_section) == (FAMILY, "BCR-01.2", "Business Continuity")


# ---- polarity -------------------------------------------------------------


@pytest.mark.parametrize("question, entry_question, short, expected", [
    ("Do you limit LLM privileges?", "Can your AI take actions on its own?", "No", True),
    ("Is customer data not used for training?", "Do you use customer data to train models?", "No", True),
    ("Don't you keep prompts?", "Do you keep prompts?", "Yes", True),
    ("Is data encrypted at rest?", "Do you encrypt customer data at rest?", "Yes", False),
    ("Do you prevent prompt injection?", "Do you have controls that prevent prompt injection?", "Yes", False),
    ("Do you limit LLM privileges?", "Can your AI take actions on its own?", "N/A", False),
    ("Do you limit LLM privileges?", "Can your AI take actions on its own?", None, False),
])
def test_a_yes_no_answer_inverts_when_the_questions_ask_opposite_ways(question, entry_question, short, expected):
    assert inverts(question, entry_question, short) is expected


def test_polarity_counts_negations_and_restricting_verbs():
    assert polarity("Do you log access?") == 0
    assert polarity("Do you restrict access?") == 1
    assert polarity("Is access never left without review?") == 0  # two negations


def test_the_matcher_withholds_a_short_answer_that_would_invert_the_truth(last_year, fake_embedder):
    result = Matcher(last_year, fake_embedder).match("Do you limit the actions your AI can take on its own?")
    assert result.candidates[0].entry.ext_id == "AI-1"
    assert result.withhold_short_answer and result.tier != "high"
    assert any("asks the other way round" in r for r in result.reasons)
    assert result.to_json()["short_answer_withheld"] is True


def test_autofill_writes_only_the_narrative_when_the_short_answer_is_withheld():
    from questionnaire.autofill import autofill

    entry = BankEntry("AI-1", "Can your AI take actions on its own?", "No. It only drafts text for a person.",
                      short_answer="No", status="approved")

    class OneResult:  # FAKE matcher result: the decision under test is autofill's
        tier, answer, score, confidence, withhold_short_answer, reasons = "medium", entry, 0.8, 0.8, True, []
        candidates = []

    class Matcher1:  # FAKE matcher: one answer for every question
        def match_many(self, questions, top_k=5):
            assert all(hasattr(q, "ref") for q in questions)  # it gets questions, not strings
            return [OneResult() for _ in questions]

    csv_bytes = b"ref,question,answer,comment\nL-1,Do you limit LLM privileges?,,\n"
    report = autofill(csv_bytes, "q.csv", Matcher1())
    outcome = report.outcomes[0]
    assert outcome.status == "written"
    assert any("only the narrative answer was written" in n for n in outcome.notes)
    written = b"\n".join(report.output.splitlines())
    assert b"It only drafts text for a person." in written and b",No," not in written


# ---- suggestions ----------------------------------------------------------


def test_json_matches_carry_the_matched_bank_text(last_year, fake_embedder):
    result = Matcher(last_year, fake_embedder).match("How do you store customer data encrypted?")
    out = result.to_json("x")
    assert set(out) >= {"qid", "answer", "tier", "matches"}
    assert all(set(m) == {"id", "score", "matched"} for m in out["matches"])
    assert len(result.suggestions) == 3
    enc = next(c for c in result.candidates if c.entry.ext_id == "ENC-1")
    assert enc.matched in ("Do you encrypt customer data at rest?", "Is stored customer data encrypted?")


def test_the_cli_reads_a_section_column_to_tell_repeats_apart(tmp_path, fake_embedder):
    from cli import main

    db = str(tmp_path / "cli.db")
    bank_csv = tmp_path / "bank.csv"
    bank_csv.write_text(
        "id,question,answer,origin_family,origin_ref,origin_section\n"
        f"A-2,{REVIEWED},Audit policy reviewed in January.,last.xlsx,A-2,Audit\n"
        f"B-2,{REVIEWED},Continuity plan reviewed in June.,last.xlsx,B-2,Continuity\n"
        "C-1,Do you encrypt customer data at rest?,Yes: AES-256.,,,\n")
    questions = tmp_path / "q.csv"
    questions.write_text(f"qid,question,section\n1,{REVIEWED},Continuity\n2,{REVIEWED},Audit\n3,{REVIEWED},\n")
    runner = CliRunner()
    args = ["--db", db]
    assert runner.invoke(main, [*args, "bank", "import", str(bank_csv), "--approve"],
                         obj={"embedder": fake_embedder}).exit_code == 0
    result = runner.invoke(main, [*args, "match", str(questions), "--json"], obj={"embedder": fake_embedder})
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(x["answer"], x["tier"]) for x in lines[:2]] == [("B-2", "high"), ("A-2", "high")]
    assert lines[0]["repeat"] == "text" and lines[2]["tier"] != "high"


# ---- last year's CAIQ, this year's blank (real model, real file) -----------


@pytest.mark.model
def test_last_years_caiq_answers_this_years_blank():
    from answer_bank.io import entry_from_mapping
    from answer_bank.store import Bank
    from ingest import read_questionnaire
    from questionnaire.autofill import autofill
    from cli.ingest import questionnaire_entries

    path = shared_path("corpus", "xlsx", "caiq-v4.0.3-completed.xlsx")
    data = path.read_bytes()
    rows = questionnaire_entries(read_questionnaire(data, path.name), path.name)
    by_id = {r["id"]: r for r in rows}
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        bank = Bank.open(Path(tmp) / "bank.db")
        bank.import_entries([entry_from_mapping(r) for r in rows], approve=True, source=path.name)
        # The blank: the same questions with their answers ignored (overwrite).
        report = autofill(data, path.name, Matcher(bank), overwrite=True)
        bank.close()
    assert len(report.outcomes) == 261
    # the copy already holds last year's answers, so a right answer is reported "kept" (same value), not "written"
    answered = ("written", "kept")
    right = [o for o in report.outcomes if o.status in answered and by_id[o.entry_id]["origin_ref"] == o.question.ref]
    assert len(right) >= 258
    identical = {(r["origin_ref"], " ".join(r["question"].split())) for r in rows}
    blank_identical = [o.question.ref for o in report.outcomes if o.status not in answered
                       and (o.question.ref, " ".join(o.question.text.split())) in identical]
    assert blank_identical == []


def test_review_rows_keep_ref_aware_proposals_matched_texts_and_a_withheld_yes_no(tmp_path, fake_embedder):
    from answer_bank.store import Bank
    from ingest.model import IngestHints, IngestResult, Locator, Question
    from questionnaire import review_db
    from questionnaire.review import ReviewStore, autofill

    db = review_db.connect(tmp_path / "aimsq.db")
    bank = Bank(db)
    bank.import_entries([
        _entry("A-2", REVIEWED, "Audit policy reviewed in January.", ref="A-2", section="Audit"),
        _entry("B-2", REVIEWED, "Continuity plan reviewed in June.", ref="B-2", section="Continuity"),
        _entry("AI-1", "Can your AI take actions on its own?", "No. It only drafts text for a person.", short="No"),
        _entry("ENC-1", "Do you encrypt customer data at rest?", "Yes: AES-256.",
               variants=["Is stored customer data encrypted?"]),
    ], approve=True)
    store = ReviewStore(db)
    asked = [Question(REVIEWED, Locator(sheet="Q", cell="C2"), ref="B-2", section="Continuity"),
             Question("Do you limit the actions your AI can take on its own?", Locator(sheet="Q", cell="C3")),
             Question("Is customer data stored encrypted?", Locator(sheet="Q", cell="C4"))]
    qn_id = store.create_questionnaire(customer="Acme", due_date=None, owner="eddie", filename="q.xlsx", fmt="xlsx",
                                       stored_name="x", size=1, hints=IngestHints(),
                                       result=IngestResult("xlsx", asked))
    store.start_matching(qn_id, user="eddie")
    autofill(store, qn_id, Matcher(bank, fake_embedder).match_many)
    reviewed, limited, stored = store.questions(qn_id)
    assert (reviewed.proposed, reviewed.tier) == ("B-2", "high")  # the ref decided between A-2 and B-2
    assert limited.candidates[0]["id"] == "AI-1"
    # Proposed at "medium" with its Yes/No withheld: accepting it writes the narrative only.
    from answer_bank.matching import Candidate, MatchResult

    ai = bank.get_entry("AI-1")
    store.store_matches(qn_id, [(limited.position, MatchResult(
        limited.text, "medium", ai, 0.8, 0.8, [Candidate(ai, 0.8, ai.question)], [], withhold_short_answer=True))], 3)
    limited = store.questions(qn_id)[1]
    assert limited.proposal["short_answer"] is None and limited.proposal["short_answer_withheld"]
    store.review(limited.id, "accept", user="eddie", expected_version=limited.version)
    limited = store.questions(qn_id)[1]
    assert (limited.short_answer, limited.narrative) == (None, "No. It only drafts text for a person.")
    assert all("matched" in c for c in stored.candidates)
    enc = next(c for c in stored.candidates if c["id"] == "ENC-1")
    assert enc["matched"] in ("Do you encrypt customer data at rest?", "Is stored customer data encrypted?")


def test_autofill_json_lists_suggestions_for_a_question_left_blank(last_year, fake_embedder):
    from questionnaire.autofill import autofill

    csv_bytes = b"ref,question,answer\nX-1,How is customer data kept encrypted in storage?,\n"
    report = autofill(csv_bytes, "q.csv", Matcher(last_year, fake_embedder), min_tier="high")
    out = report.to_json()["questions"][0]
    assert out["status"] == "blank"
    assert 1 <= len(out["suggestions"]) <= 3
    assert out["suggestions"][0]["id"] == "ENC-1"
    assert out["suggestions"][0]["matched"] in ("Do you encrypt customer data at rest?",
                                                "Is stored customer data encrypted?")

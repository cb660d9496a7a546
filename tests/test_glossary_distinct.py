"""Terms the trust team marks as NOT the same ("privacy" ≠ "security"):
the check itself (answer_bank.distinct), the stored pairs (a real SQLite
bank), `aimsq bank glossary distinct` (the FAKE embedder from conftest), the
bank page (Flask's test client, FAKE embedder via tests.web_helpers), and
the matcher with the real model: a near-identical question about the other
term is no longer answered."""
from __future__ import annotations

import json

import pytest

from answer_bank.distinct import Distinctions
from answer_bank.model import BankEntry
from answer_bank.store import Bank, GlossaryError
from tests.web_helpers import client_as, csrf_token, store_of

SECURITY_TRAINING = "Is security awareness training mandatory for all employees?"
PRIVACY_TRAINING = "Is privacy awareness training mandatory for all employees?"


# ---- the check -------------------------------------------------------------------


def test_a_question_about_one_term_conflicts_with_an_entry_about_only_the_other():
    d = Distinctions([("privacy", "security")])
    assert d.conflict(PRIVACY_TRAINING, [SECURITY_TRAINING]) == ("privacy", "security")
    assert d.conflict(SECURITY_TRAINING, [PRIVACY_TRAINING]) == ("security", "privacy")  # either way round


@pytest.mark.parametrize("question, entry_texts", [
    (SECURITY_TRAINING, [SECURITY_TRAINING]),  # same term on both sides
    (PRIVACY_TRAINING, ["Is awareness training mandatory for all employees?"]),  # the entry names neither
    ("Do your security and privacy teams train all employees?", [SECURITY_TRAINING]),  # the question names both
    (PRIVACY_TRAINING, [SECURITY_TRAINING, "Privacy and security awareness training"]),  # a wording names both
    ("Is awareness training mandatory?", [SECURITY_TRAINING]),  # the question names neither
])
def test_no_conflict_when_the_question_or_the_entry_names_both_or_neither(question, entry_texts):
    assert Distinctions([("privacy", "security")]).conflict(question, entry_texts) is None


def test_terms_match_by_word_stems_and_through_the_glossary():
    d = Distinctions([("penetration test", "vulnerability scan")], groups=[["penetration test", "pen test"]])
    assert d.conflict("How often are pen tests performed?", ["How often do you run vulnerability scanning?"]) == (
        "penetration test", "vulnerability scan")
    assert d.conflict("How often are penetration tests performed?",
                      ["How often is a pen test performed?"]) is None  # the same term, by the glossary
    assert Distinctions([]).conflict(PRIVACY_TRAINING, [SECURITY_TRAINING]) is None
    assert len(Distinctions([("", "security"), ("privacy", "security")])) == 1  # a term without words is ignored


# ---- stored pairs ----------------------------------------------------------------


def test_pairs_are_stored_audited_and_removed(bank):
    before = bank.revision()
    pair = bank.add_glossary_distinct(" privacy ", "Security", user="tess")
    assert (pair.term, pair.equivalent, pair.kind) == ("privacy", "Security", "distinct")
    assert bank.revision() > before
    assert [(p.term, p.equivalent) for p in bank.glossary_distinct()] == [("privacy", "Security")]
    assert bank.glossary() == [] and bank.glossary_groups() == []  # not a "same" pair
    assert bank.glossary_audit()[0]["action"] == "glossary_distinct_add"
    assert bank.glossary_audit()[0]["detail"] == "privacy ≠ Security"
    removed = bank.remove_glossary_distinct("security", user="tess")
    assert [(p.term, p.equivalent) for p in removed] == [("privacy", "Security")]
    assert bank.glossary_distinct() == []
    assert [r["action"] for r in bank.glossary_audit()] == ["glossary_distinct_remove", "glossary_distinct_add"]


def test_a_pair_cannot_be_both_the_same_and_not_the_same(bank):
    bank.add_glossary_pair("staff", "employees", user="tess")
    bank.add_glossary_pair("employees", "workforce", user="tess")
    with pytest.raises(GlossaryError, match="mean the same .*through: employees, staff, workforce"):
        bank.add_glossary_distinct("staff", "workforce", user="tess")
    bank.add_glossary_distinct("privacy", "security", user="tess")
    with pytest.raises(GlossaryError, match="already in the glossary"):
        bank.add_glossary_distinct("Security", "privacy", user="tess")
    with pytest.raises(GlossaryError, match="is not the same as “security”.*remove-distinct"):
        bank.add_glossary_pair("privacy", "security", user="tess")
    bank.add_glossary_pair("data protection", "privacy", user="tess")
    with pytest.raises(GlossaryError, match="would make them mean the same"):  # through a group
        bank.add_glossary_pair("data protection", "security", user="tess")
    # The starter glossary never overrides a "not the same" pair.
    assert bank.add_glossary_pairs([("security", "privacy"), ("SSO", "single sign-on")], user="t") == [
        ("SSO", "single sign-on")]
    assert [(p.term, p.equivalent) for p in bank.glossary_distinct()] == [("privacy", "security")]
    with pytest.raises(GlossaryError, match="“staff” is not in the glossary as not the same as another term"):
        bank.remove_glossary_distinct("staff", user="tess")


def test_removing_one_kind_leaves_the_other(bank):
    bank.add_glossary_pair("cloud-based", "hosted", user="tess")
    bank.add_glossary_distinct("hosted", "on-premises", user="tess")
    bank.remove_glossary("hosted", user="tess")
    assert bank.glossary() == [] and len(bank.glossary_distinct()) == 1
    with pytest.raises(GlossaryError, match="“hosted” ≠ “cloud-based” is not in the glossary"):
        bank.remove_glossary_distinct("hosted", "cloud-based", user="tess")


# ---- the command line --------------------------------------------------------------


def test_cli_marks_lists_and_removes_pairs(run):
    assert run("bank", "glossary", "distinct", "privacy", "security", user="tess").output == (
        "Glossary: “privacy” ≠ “security”\n")
    run("bank", "glossary", "add", "SSO", "single sign-on")
    listed = run("bank", "glossary", "list")
    assert "privacy ≠ security    (added by tess," in listed.output
    assert "1 pairs in 1 groups; 1 pairs not the same" in listed.stderr
    out = json.loads(run("bank", "glossary", "list", "--json").stdout)
    assert [(p["term"], p["other"]) for p in out["distinct"]] == [("privacy", "security")]
    assert [(p["term"], p["equivalent"]) for p in out["pairs"]] == [("SSO", "single sign-on")]
    refused = run("bank", "glossary", "add", "privacy", "security")
    assert refused.exit_code == 1 and "remove-distinct" in refused.stderr and "Traceback" not in refused.output
    assert run("bank", "glossary", "remove-distinct", "security").output == "Removed “privacy” ≠ “security”\n"
    missing = run("bank", "glossary", "remove-distinct", "security")
    assert missing.exit_code == 1 and "not in the glossary" in missing.stderr
    assert "NOT the same" in run("bank", "glossary", "distinct", "--help").output


# ---- the bank page ------------------------------------------------------------------


def test_approvers_mark_terms_on_the_bank_page_and_viewers_read_them(app):
    c = client_as(app, "approver")
    r = c.post("/bank/glossary/distinct/add",
               data={"csrf_token": csrf_token(c, "/bank/"), "term": "privacy", "equivalent": "<b>security</b>"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/bank/#glossary")
    bank = Bank(store_of(app).db)
    assert [(p.term, p.equivalent) for p in bank.glossary_distinct()] == [("privacy", "<b>security</b>")]
    html = c.get("/bank/").get_data(as_text=True)
    assert "is not the same as “&lt;b&gt;security&lt;/b&gt;”" in html  # the flash, escaped
    assert "Mark as not the same" in html and "Remove privacy ≠ &lt;b&gt;security&lt;/b&gt;" in html
    viewer = client_as(app, "viewer").get("/bank/").get_data(as_text=True)
    assert "<td>privacy</td><td>&lt;b&gt;security&lt;/b&gt;</td>" in viewer and "Mark as not the same" not in viewer
    assert "added privacy ≠ &lt;b&gt;security&lt;/b&gt;" in viewer  # the latest changes
    r = c.post("/bank/glossary/distinct/remove",
               data={"csrf_token": csrf_token(c, "/bank/"), "term": "privacy", "equivalent": "<b>security</b>"})
    assert r.status_code == 302 and bank.glossary_distinct() == []


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_viewers_and_editors_cannot_mark_terms(app, role):
    c = client_as(app, role)
    r = c.post("/bank/glossary/distinct/add",
               data={"csrf_token": csrf_token(c, "/bank/"), "term": "privacy", "equivalent": "security"})
    assert r.status_code == 403
    assert Bank(store_of(app).db).glossary_distinct() == []


# ---- the matcher, real model ----------------------------------------------------------


@pytest.mark.model
def test_a_near_identical_question_about_the_other_term_is_no_longer_answered(tmp_path):
    from answer_bank.embeddings import embedder_from_env
    from answer_bank.matching import Matcher

    bank = Bank.open(tmp_path / "bank.db")
    texts = [SECURITY_TRAINING, "Do you have a documented information security policy?",
             "Does your organization have a data privacy policy?", "Do you encrypt customer data at rest?",
             "Do you run penetration tests at least annually?", "Is multi-factor authentication enforced?"]
    bank.import_entries([BankEntry(ext_id=f"E-{i}", question=q, answer=f"Yes. Approved answer {i}.",
                                   short_answer="Yes") for i, q in enumerate(texts)], approve=True)
    matcher = Matcher(bank, embedder_from_env())
    before = matcher.match_many([PRIVACY_TRAINING, SECURITY_TRAINING])
    assert before[0].tier in ("high", "medium") and before[0].answer.ext_id == "E-0"  # the model alone answers

    bank.add_glossary_distinct("privacy", "security", user="tess")
    privacy, security = matcher.match_many([PRIVACY_TRAINING, SECURITY_TRAINING])
    assert privacy.answer is None and privacy.tier == "low"
    assert privacy.candidates[0].entry.ext_id == "E-0"  # still shown as a suggestion
    assert any("asks about “privacy” and entry E-0 about “security”" in r for r in privacy.reasons)
    assert security.answer is not None and security.answer.ext_id == "E-0"  # the entry's own question
    bank.close()


def test_match_says_which_pair_kept_an_answer_back(run):
    """`aimsq match` (FAKE embedder): the JSON names the pair, and -q prints
    the suggestion and the reason instead of an answer."""
    bank = Bank.open(run.db)
    bank.import_entries([BankEntry(ext_id="SEC-1", question=SECURITY_TRAINING, answer="Yes, every year.",
                                   short_answer="Yes"),
                         BankEntry(ext_id="ENC-1", question="Do you encrypt customer data at rest?",
                                   answer="Yes, AES-256.", short_answer="Yes")], approve=True)
    bank.close()
    before = json.loads(run("match", "--json", "-q", PRIVACY_TRAINING).stdout)
    assert before["answer"] == "SEC-1" and "kept_apart" not in before
    run("bank", "glossary", "distinct", "privacy", "security", user="tess")
    after = json.loads(run("match", "--json", "-q", PRIVACY_TRAINING).stdout)
    assert after["answer"] is None and after["tier"] == "low" and after["matches"][0]["id"] == "SEC-1"
    assert after["kept_apart"] == {"question": "privacy", "entry": "security"}
    text = run("match", "-q", PRIVACY_TRAINING).output.splitlines()
    assert text[0].split()[1:3] == ["low", "—"]
    assert text[1].split()[:2] == ["sugg", "SEC-1"]
    assert any("asks about “privacy” and entry SEC-1 about “security”" in line for line in text)


# ---- moving a glossary between banks -----------------------------------------------


def test_a_glossary_moves_to_another_bank_with_list_json_and_import(run, tmp_path):
    run("bank", "glossary", "add", "cloud-based", "hosted", user="tess")
    run("bank", "glossary", "distinct", "privacy", "security")
    exported = tmp_path / "glossary.json"
    exported.write_text(run("bank", "glossary", "list", "--json").stdout, encoding="utf-8-sig")  # a BOM too
    other = str(tmp_path / "other.db")
    run("--db", other, "init")
    run("--db", other, "bank", "glossary", "add", "hosted", "cloud-based")  # already there: skipped
    out = run("--db", other, "bank", "glossary", "import", str(exported))
    assert out.exit_code == 0
    assert out.output == ("Glossary import from glossary.json: 0 pairs added, 1 \"not the same\" pairs added, "
                          "1 skipped (already there, contradicting the glossary, or empty)\n")
    listed = json.loads(run("--db", other, "bank", "glossary", "list", "--json").stdout)
    assert [(p["term"], p["other"]) for p in listed["distinct"]] == [("privacy", "security")]
    assert listed["groups"] == [["cloud-based", "hosted"]]
    actions = [r["action"] for r in Bank.open(other).glossary_audit()]
    assert actions.count("glossary_distinct_add") == 1  # audited like a pair added by hand


def test_a_csv_glossary_is_imported_and_contradictions_are_skipped(run, tmp_path):
    run("bank", "glossary", "distinct", "privacy", "security", user="tess")
    csv_file = tmp_path / "terms.csv"
    csv_file.write_text("Term,Equivalent,Kind\nMFA,multi-factor authentication,\ndata protection,privacy,same\n"
                        "data protection,security,same\nAI,security,distinct\n,empty,same\n", encoding="utf-8")
    out = run("bank", "glossary", "import", str(csv_file))
    assert out.exit_code == 0 and "2 pairs added, 1 \"not the same\" pairs added, 2 skipped" in out.output
    bank = Bank.open(run.db)
    # "data protection" = "security" would join privacy and security through "data protection" = "privacy"
    assert sorted(bank.glossary_groups()) == [["MFA", "multi-factor authentication"], ["data protection", "privacy"]]
    assert sorted((p.term, p.equivalent) for p in bank.glossary_distinct()) == [("AI", "security"),
                                                                                 ("privacy", "security")]


@pytest.mark.parametrize("content, message", [
    ('{"pairs": [{"term": "a"}]}', "is not a glossary: expected the JSON of `aimsq bank glossary list --json`"),
    ('{"pairs": [{"term": 1, "equivalent": 2}]}', "is not a glossary"),
    ("term;meaning\nMFA;multi-factor\n", "has the columns term, meaning: expected"),
    ("term,equivalent,kind\nMFA,multi-factor,synonym\n", "row 2: kind is 'synonym'; use same or distinct"),
])
def test_a_bad_glossary_file_is_one_line_and_changes_nothing(run, tmp_path, content, message):
    bad = tmp_path / "bad.txt"
    bad.write_text(content, encoding="utf-8")
    out = run("bank", "glossary", "import", str(bad))
    assert out.exit_code == 1 and message in out.stderr and "Traceback" not in out.output
    assert len(out.stderr.strip().splitlines()) == 1
    assert json.loads(run("bank", "glossary", "list", "--json").stdout) == {"pairs": [], "groups": [], "distinct": []}


def test_approvers_import_a_glossary_file_on_the_bank_page(app):
    import io

    c = client_as(app, "approver")
    csv_bytes = "term,equivalent,kind\ncloud-based,hosted,same\nprivacy,security,distinct\n".encode()
    r = c.post("/bank/glossary/import", data={"csrf_token": csrf_token(c, "/bank/"),
                                               "file": (io.BytesIO(csv_bytes), "terms.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 302 and r.headers["Location"].endswith("/bank/#glossary")
    bank = Bank(store_of(app).db)
    assert ["cloud-based", "hosted"] in bank.glossary_groups()
    assert [(p.term, p.equivalent) for p in bank.glossary_distinct()] == [("privacy", "security")]
    page = c.get("/bank/").get_data(as_text=True)
    assert "Glossary import from terms.csv: 1 pairs added, 1 &#34;not the same&#34; pairs added" in page
    # a bad file: one message, nothing changed
    r = c.post("/bank/glossary/import", data={"csrf_token": csrf_token(c, "/bank/"),
                                               "file": (io.BytesIO(b"a;b\n1;2\n"), "bad.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 302 and "bad.csv has the columns" in c.get("/bank/").get_data(as_text=True)
    assert len(bank.glossary_distinct()) == 1
    # editors cannot import
    e = client_as(app, "editor")
    r = e.post("/bank/glossary/import", data={"csrf_token": csrf_token(e, "/bank/"),
                                               "file": (io.BytesIO(csv_bytes), "terms.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 403

"""Where a matched bank question differs from the customer's question, the
review row marks the bank wording's words the question does not have
(web.questionnaires.marked_differences); the row test runs over HTTP with the
FAKE embedder from conftest (via tests.web_helpers)."""
from __future__ import annotations

import html
import re

from markupsafe import Markup

from answer_bank.store import Bank
from tests.web_helpers import client_as, csrf_token, make_xlsx, starter_questions, store_of, uploaded_and_matched
from web.questionnaires import marked_differences, one_word_swap


def test_the_one_word_a_near_identical_wording_swaps_is_marked():
    out = marked_differences("Is security awareness training mandatory for all employees?",
                             "Is privacy awareness training mandatory for all employees?")
    assert isinstance(out, Markup)
    assert str(out) == 'Is <mark class="differs">security</mark> awareness training mandatory for all employees?'


def test_word_endings_and_stop_words_are_not_differences():
    assert str(marked_differences("Do you encrypt backups?", "Are backups encrypted?")) == "Do you encrypt backups?"


def test_the_text_is_escaped():
    out = str(marked_differences("Do you <b>log</b> & alert?", "Do you log?"))
    assert out == ('Do you &lt;<mark class="differs">b</mark>&gt;log&lt;/<mark class="differs">b</mark>&gt; &amp; '
                   '<mark class="differs">alert</mark>?')
    assert str(marked_differences("", "anything")) == ""


def test_a_review_row_marks_where_the_bank_wording_differs(app):
    ref, question = starter_questions(1)[0]
    assert "documented AI policy" in question
    asked = question.replace("AI policy", "privacy policy")
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx([(ref, asked)]), "q.xlsx")
    q = store_of(app).questions(qn_id)[0]
    page = c.get(f"/q/{qn_id}/review").get_data(as_text=True)
    row = re.search(rf'<article[^>]*id="q-{q.id}".*?</article>', page, re.S).group(0)
    assert 'documented <mark class="differs">AI</mark> policy' in row
    assert '<mark class="differs">privacy</mark>' not in row  # the customer's own words are not marked


def _declined_privacy_row(app, role):
    """A questionnaire asking the starter bank's "documented AI policy" as
    "documented privacy policy", its proposal declined (needs expert) by `role`."""
    ref, question = starter_questions(1)[0]
    c = client_as(app, role)
    qn_id = uploaded_and_matched(app, c, make_xlsx([(ref, question.replace("AI policy", "privacy policy"))]), "q.xlsx")
    q = store_of(app).questions(qn_id)[0]
    assert q.proposal and q.proposal["id"] == "AIMS-GOV-001"
    page = f"/q/{qn_id}/review"
    r = c.post(f"/q/{qn_id}/questions/{q.id}", data={"csrf_token": csrf_token(c, page), "version": q.version,
                                                     "action": "needs_expert", "next": page})
    assert r.status_code == 302
    html = c.get(page).get_data(as_text=True)
    return c, qn_id, q, re.search(rf'<article[^>]*id="q-{q.id}".*?</article>', html, re.S).group(0)


def test_an_approver_keeps_the_two_words_of_a_declined_proposal_apart(app):
    c, qn_id, q, row = _declined_privacy_row(app, "approver")
    assert "Keep “privacy” and “AI” apart in future matches" in row
    form = re.search(r'<form class="inline keep-apart".*?</form>', row, re.S).group(0)
    fields = {k: html.unescape(v) for k, v in re.findall(r'name="([a-z_]+)" value="([^"]*)"', form)}
    r = c.post("/bank/glossary/distinct/add", data=fields)
    assert r.status_code == 302
    assert f"/q/{qn_id}/review?" in r.headers["Location"] and r.headers["Location"].endswith(f"#q-{q.id}")
    assert [(p.term, p.equivalent) for p in Bank(store_of(app).db).glossary_distinct()] == [("privacy", "AI")]
    assert "a question about one is no longer answered by an entry about the other" in c.get(
        f"/q/{qn_id}/review").get_data(as_text=True)


def test_the_offer_is_for_approvers_and_declined_proposals_only(app):
    row = _declined_privacy_row(app, "editor")[3]
    assert "keep-apart" not in row  # an editor cannot change the glossary
    assert one_word_swap("Does your organisation have a documented AI policy?",
                         "Does your organisation have a documented privacy policy?") == ("privacy", "AI")
    assert one_word_swap("Do you encrypt backups?", "Are backups encrypted?") is None  # no difference
    assert one_word_swap("Is security awareness training mandatory?", "Is privacy training mandatory?") is None


def test_a_glossary_form_never_sends_the_user_off_site(app):
    c = client_as(app, "approver")
    r = c.post("/bank/glossary/distinct/add", data={"csrf_token": csrf_token(c, "/bank/"), "term": "privacy",
                                                    "equivalent": "security", "next": "//evil.example/x"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/bank/#glossary")

"""Where a matched bank question differs from the customer's question, the
review row marks the bank wording's words the question does not have
(web.questionnaires.marked_differences); the row test runs over HTTP with the
FAKE embedder from conftest (via tests.web_helpers)."""
from __future__ import annotations

import re

from markupsafe import Markup

from tests.web_helpers import client_as, make_xlsx, starter_questions, store_of, uploaded_and_matched
from web.questionnaires import marked_differences


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

"""The review screen a trust team works in (issue 11), over HTTP with the
FAKE embedder from conftest (bag of words): each row says why (the matched
bank question, the reason in words), the counts an action changes come back
with it, a weak alternative asks once before the bank learns its wording,
every learned wording is shown with its undo and listed on the entry's page
(who, when, which questionnaire) with a remove button, pending questions can
be proposed again after the bank changed, and admins archive or delete
questionnaires. The browser side is in tests/test_browser.py."""
from __future__ import annotations

import re

from answer_bank.store import Bank
from tests.web_helpers import client_as, csrf_token, make_xlsx, starter_questions, store_of, uploaded_and_matched


def _bank(app) -> Bank:
    return Bank(store_of(app).db)


def _post(c, path, page, **data):
    token = csrf_token(c, page)
    return c.post(path, data={"csrf_token": token, **data})


def _act(c, qn_id, q, action, **fields):
    token = csrf_token(c, f"/q/{qn_id}/review")
    data = {"csrf_token": token, "version": q.version, "action": action, **fields}
    return c.post(f"/q/{qn_id}/questions/{q.id}", data=data, headers={"X-Requested-With": "fetch"})


def _set(app, qn_id, sql, params=()):
    store_of(app).db.execute(f"UPDATE review_questions SET {sql} WHERE questionnaire_id = ?", [*params, qn_id])


def test_a_row_says_what_was_matched_and_why(app):
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx(starter_questions(4)), "q.xlsx")
    store = store_of(app)
    q = next(q for q in store.questions(qn_id) if q.proposed)
    page = c.get(f"/q/{qn_id}/review").get_data(as_text=True)
    row = re.search(rf'<article[^>]*id="q-{q.id}".*?</article>', page, re.S).group(0)
    assert "Matched bank question" in row and q.proposal["question"] in row
    assert "match (confidence" in row  # the reason in words
    # alternatives are folded: a closed <details>
    assert re.search(r'<details class="alts">', row) and "<details class=\"alts\" open" not in row
    assert "Questions 1–4 of 4." in page
    # a low-tier row says in words that nothing is proposed, not "confidence 0.57 → low"
    _set(app, qn_id, "tier = 'low', confidence = 0.57, proposed = NULL, "
         "reasons = '[\"confidence 0.57 → low\", \"not sure enough to answer: shown as a suggestion only\"]'")
    page = c.get(f"/q/{qn_id}/review").get_data(as_text=True)
    assert "Weak match (confidence 0.57): not sure enough to propose an answer" in page
    assert "→" not in page


def test_counts_come_back_with_every_action(app):
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx(starter_questions(4)), "q.xlsx")
    q = store_of(app).questions(qn_id)[0]
    body = _act(c, qn_id, q, "edit", narrative="Written by the reviewer.").json
    assert body["ok"] and body["counts"]["status-edited"] == 1 and body["counts"]["status-pending"] == 3
    assert body["counts"]["reviewed"] == 1 and body["counts"]["total"] == 4
    page = c.get(f"/q/{qn_id}/review").get_data(as_text=True)
    assert re.search(r'data-count="status-edited">1<', page)


def test_a_weak_alternative_asks_once_and_the_learning_can_be_undone(app):
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx([("Q-1", "Do you keep a register of AI systems?")]), "q.xlsx")
    store, bank = store_of(app), _bank(app)
    q = store.questions(qn_id)[0]
    _set(app, qn_id, "tier = 'none', proposed = NULL")
    q = store.question(q.id)
    alt = q.alternatives[0]
    body = _act(c, qn_id, q, f"pick:{alt['id']}").json
    assert body["ok"] is False and f"{alt['id']} scored only" in body["confirm"]
    assert store.question(q.id).status == "pending" and q.text not in bank.get_entry(alt["id"]).learned_variants
    # without the page's script: a page that asks, then the same POST confirmed
    token = csrf_token(c, f"/q/{qn_id}/review")
    r = c.post(f"/q/{qn_id}/questions/{q.id}", data={"csrf_token": token, "version": q.version,
                                                     "action": f"pick:{alt['id']}", "next": f"/q/{qn_id}/review"})
    assert r.status_code == 200 and "Use it anyway" in r.get_data(as_text=True)
    body = _act(c, qn_id, q, f"pick:{alt['id']}", confirmed="1").json
    assert body["status"] == "accepted" and body["taught"] == [{"entry": alt["id"], "text": q.text}]
    assert "The bank learned this wording for" in body["html"] and "Undo the learning" in body["html"]
    assert q.text in bank.get_entry(alt["id"]).learned_variants
    # the entry's page: the wording, who, when, from which questionnaire, and a remove button
    entry_page = c.get(f"/bank/entry/{alt['id']}").get_data(as_text=True)
    table = re.search(r'id="learned-wordings".*?</table>', entry_page, re.S).group(0)
    assert q.text in table and "eddie" in table and "Acme Bank" in table and "<time datetime=" in table
    # undo the learning (the review's button posts here): audited, the answer stays
    r = c.post(f"/bank/entry/{alt['id']}/learned/remove", headers={"X-Requested-With": "fetch"},
               data={"csrf_token": csrf_token(c, f"/bank/entry/{alt['id']}"), "text": q.text})
    assert r.json["removed"] and "no longer matches this wording" in r.json["message"]
    assert q.text not in bank.get_entry(alt["id"]).learned_variants
    assert store.question(q.id).status == "accepted"
    assert [a["detail"] for a in bank.audit(alt["id"]) if a["action"] == "unlearn_variant"] == [q.text]
    # a viewer cannot remove wordings
    viewer = client_as(app, "viewer")
    r = viewer.post(f"/bank/entry/{alt['id']}/learned/remove",
                    data={"csrf_token": csrf_token(viewer, f"/bank/entry/{alt['id']}"), "text": q.text})
    assert r.status_code == 403


def test_propose_again_rematches_only_the_questions_not_reviewed(app):
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx(starter_questions(3)), "q.xlsx")
    store = store_of(app)
    first, second, third = store.questions(qn_id)
    assert "The answer bank changed" not in c.get(f"/q/{qn_id}/review").get_data(as_text=True)
    assert _act(c, qn_id, first, "edit", narrative="Our own answer.").json["ok"]  # a draft entry: the bank changed
    page = c.get(f"/q/{qn_id}/review").get_data(as_text=True)
    assert "The answer bank changed" in page and 'id="propose-again"' in page
    # pretend the bank did not know anything when the answers were proposed
    _set(app, qn_id, "tier = 'none', proposed = NULL, candidates = '[]', score = 0")
    r = _post(c, f"/q/{qn_id}/propose-again", f"/q/{qn_id}/review")
    assert r.status_code == 302 and "/progress" in r.headers["Location"]
    first, second, third = store.questions(qn_id)
    assert first.status == "edited" and first.narrative == "Our own answer." and first.candidates == []
    assert second.candidates and third.candidates  # matched again against the bank as it is now
    assert store.get(qn_id).status == "review"
    assert any(a["action"] == "propose_again" for a in store.actions(qn_id))


def test_admin_archives_and_deletes_a_questionnaire(app):
    editor = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, editor, make_xlsx(starter_questions(2)), "Bad upload.xlsx")
    store = store_of(app)
    stored = store.get(qn_id).stored_name
    files = app.config["AIMSQ_FILES_DIR"]
    import os

    assert os.path.exists(os.path.join(files, stored))
    # editors may not
    assert _post(editor, f"/q/{qn_id}/archive", "/q/new").status_code == 403
    admin = client_as(app, "admin")
    assert _post(admin, f"/q/{qn_id}/archive", "/q/new", archive="1").status_code == 302
    listing = re.search(r'id="questionnaire-list".*?</table>', admin.get("/q/").get_data(as_text=True), re.S).group(0)
    assert "Bad upload.xlsx" not in listing and "Archived (1)" in admin.get("/q/").get_data(as_text=True)
    assert "Bad upload.xlsx" in admin.get("/q/?archived=1").get_data(as_text=True)
    page = admin.get(f"/q/{qn_id}/delete").get_data(as_text=True)
    assert "Delete for good" in page and store.get(qn_id)  # asking changes nothing
    assert _post(admin, f"/q/{qn_id}/delete", f"/q/{qn_id}/delete").status_code == 302
    assert admin.get(f"/q/{qn_id}/review").status_code == 404
    assert not os.path.exists(os.path.join(files, stored))
    kinds = [a["action"] for a in store.actions(qn_id)]
    assert kinds[:2] == ["delete", "archive"]  # newest first; the trail stays


def test_pages_speak_the_app_s_words(app):
    """No duplicate element ids, no Python values, no raw ISO times and no
    command-line flags on the pages of the flow (upload → review → export)."""
    c = client_as(app, "admin")
    qn_id = uploaded_and_matched(app, c, make_xlsx(starter_questions(3)), "q.xlsx")
    q = store_of(app).questions(qn_id)[0]
    _act(c, qn_id, q, "edit", narrative="Written here.")
    _post(c, f"/q/{qn_id}/export", f"/q/{qn_id}/review", confirm="1")
    from tests.web_helpers import qn_id_from, upload

    detected = qn_id_from(upload(c, make_xlsx(starter_questions(2)), "layout.xlsx"))
    pages = ["/q/", "/q/new", f"/q/{detected}", f"/q/{qn_id}/review", f"/q/{qn_id}/exported", f"/q/{qn_id}/export", f"/q/{qn_id}/delete",
             "/bank/approvals", f"/bank/entry/{q.proposed or 'AIMS-GOV-001'}", "/curation/pack"]
    for path in pages:
        r = c.get(path)
        assert r.status_code == 200, path
        html = r.get_data(as_text=True)
        ids = re.findall(r'\sid="([^"]+)"', html)
        assert len(ids) == len(set(ids)), (path, sorted({i for i in ids if ids.count(i) > 1}))
        body = re.search(r"<main.*</main>", html, re.S).group(0)
        text = re.sub(r"<[^>]+>", " ", body)
        assert not re.search(r"\bNone\b|\bTrue\b|\bFalse\b|\s--\w", text), (path, re.findall(r".{40}(?:None|True|False|\s--\w).{20}", text))
        assert not re.search(r"\d{4}-\d\d-\d\dT\d\d", text), path  # times are shown as times


def test_a_bulk_accept_says_what_it_taught_and_can_take_it_back(app):
    c = client_as(app, "editor")
    qs = [(ref, "Please tell us: " + text) for ref, text in starter_questions(5)]
    qn_id = uploaded_and_matched(app, c, make_xlsx(qs), "q.xlsx")
    _set(app, qn_id, "tier = 'high', proposed = json_extract(candidates, '$[0].id')")
    store, bank = store_of(app), _bank(app)
    r = _post(c, f"/q/{qn_id}/bulk-accept", f"/q/{qn_id}/review", tier="high")
    assert r.status_code == 302 and "taught=" in r.headers["Location"]
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    accepted = [q for q in store.questions(qn_id) if q.status == "accepted"]
    assert accepted and f"The bank learned {len(accepted)} wording" in page and 'id="undo-bulk-learning"' in page
    assert all(q.text in page for q in accepted)
    batch = re.search(r'name="batch" value="(\d+)"', page).group(1)
    r = _post(c, f"/q/{qn_id}/unlearn", f"/q/{qn_id}/review", batch=batch)
    assert r.status_code == 302
    assert all(q.text not in bank.get_entry(q.entry_ext_id).learned_variants for q in accepted)
    assert all(q.status == "accepted" for q in store.questions(qn_id))  # the answers stay
    assert len([a for a in bank.audit() if a["action"] == "unlearn_variant"]) == len(accepted)
    assert f"The bank forgot {len(accepted)} wording" in c.get(f"/q/{qn_id}/review").get_data(as_text=True)
    # another questionnaire's batch id does nothing here
    other = uploaded_and_matched(app, c, make_xlsx(starter_questions(1)), "other.xlsx")
    bank.add_learned_variants([(accepted[0].entry_ext_id, accepted[0].text)], user="eddie")
    assert _post(c, f"/q/{other}/unlearn", f"/q/{other}/review", batch=batch).status_code == 302
    assert "The bank forgot 0 wordings" in c.get(f"/q/{other}/review").get_data(as_text=True)
    assert accepted[0].text in bank.get_entry(accepted[0].entry_ext_id).learned_variants


def test_find_a_question_by_its_words_or_reference(app):
    c = client_as(app, "editor")
    qs = starter_questions(6)
    qn_id = uploaded_and_matched(app, c, make_xlsx(qs), "q.xlsx")
    word = max(qs[3][1].split(), key=len).strip("?").upper()  # a word of the fourth question, another case
    page = c.get(f"/q/{qn_id}/review?find={word}").get_data(as_text=True)
    rows = re.findall(r'<article class="q ', page)
    assert 1 <= len(rows) < 6 and qs[3][1] in page and "matching the filters" in page
    assert f'value="{word}"' in page  # the box keeps what was typed
    page = c.get(f"/q/{qn_id}/review?find=Q-2").get_data(as_text=True)
    assert len(re.findall(r'<article class="q ', page)) == 1 and qs[1][1] in page
    page = c.get(f"/q/{qn_id}/review?find=%25").get_data(as_text=True)  # % is a plain character
    assert "No question matches these filters." in page

"""The glossary on the bank page (web/bank) with Flask's test client: every
role reads it, approvers add and remove pairs (audited), editors and viewers
cannot, CSRF is required, a refused pair is explained. The embedder is the
FAKE one from conftest (via tests.web_helpers)."""
from __future__ import annotations

import pytest

from answer_bank.store import Bank
from tests.web_helpers import ROLE_USERS, client_as, csrf_token, store_of


def bank_of(app) -> Bank:
    return Bank(store_of(app).db)


def post(c, url, data):
    return c.post(url, data={"csrf_token": csrf_token(c, "/bank/"), **data})


@pytest.mark.parametrize("role", ["viewer", "editor", "approver", "admin"])
def test_every_role_reads_the_glossary_on_the_bank_page(app, role):
    bank_of(app).add_glossary_pair("cloud-based", "<b>hosted</b>", user="tess")
    html = client_as(app, role).get("/bank/").get_data(as_text=True)
    assert 'id="glossary"' in html and "cloud-based" in html
    assert "&lt;b&gt;hosted&lt;/b&gt;" in html and "<b>hosted</b>" not in html
    assert "1 pairs in 1 groups" in html
    assert "tess: added cloud-based = &lt;b&gt;hosted&lt;/b&gt;" in html  # the latest changes
    can_change = role in ("approver", "admin")
    assert ("Add to the glossary" in html) is can_change
    assert (">Remove</button>" in html) is can_change


@pytest.mark.parametrize("role", ["approver", "admin"])
def test_approvers_add_a_pair(app, role):
    c = client_as(app, role)
    r = post(c, "/bank/glossary/add", {"term": "cloud-based", "equivalent": "hosted"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/bank/#glossary")
    bank = bank_of(app)
    assert [(p.term, p.equivalent, p.created_by) for p in bank.glossary()] == [
        ("cloud-based", "hosted", ROLE_USERS[role])]
    assert bank.glossary_audit()[0]["action"] == "glossary_add"
    assert "now means the same as" in c.get("/bank/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["approver", "admin"])
def test_approvers_remove_a_pair(app, role):
    bank_of(app).add_glossary_pair("cloud-based", "hosted", user="tess")
    c = client_as(app, role)
    r = post(c, "/bank/glossary/remove", {"term": "cloud-based", "equivalent": "hosted"})
    assert r.status_code == 302
    bank = bank_of(app)
    assert bank.glossary() == []
    row = bank.glossary_audit()[0]
    assert (row["action"], row["user"]) == ("glossary_remove", ROLE_USERS[role])
    assert "removed from the glossary" in c.get("/bank/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_viewers_and_editors_cannot_change_the_glossary(app, role):
    bank_of(app).add_glossary_pair("cloud-based", "hosted", user="tess")
    c = client_as(app, role)
    assert post(c, "/bank/glossary/add", {"term": "MFA", "equivalent": "2FA"}).status_code == 403
    assert post(c, "/bank/glossary/remove", {"term": "cloud-based", "equivalent": "hosted"}).status_code == 403
    assert [(p.term, p.equivalent) for p in bank_of(app).glossary()] == [("cloud-based", "hosted")]


def test_anonymous_visitors_cannot_change_the_glossary(app):
    c = app.test_client()
    r = c.post("/bank/glossary/add", data={"term": "MFA", "equivalent": "2FA"})
    assert r.status_code == 401
    assert bank_of(app).glossary() == []


@pytest.mark.parametrize("url", ["/bank/glossary/add", "/bank/glossary/remove"])
def test_a_post_without_a_csrf_token_fails(app, url):
    bank_of(app).add_glossary_pair("cloud-based", "hosted", user="tess")
    c = client_as(app, "approver")
    r = c.post(url, data={"term": "cloud-based", "equivalent": "hosted"})
    assert r.status_code == 400
    assert "security token" in r.get_data(as_text=True)
    assert len(bank_of(app).glossary()) == 1


@pytest.mark.parametrize("data, message", [
    ({"term": "hosted", "equivalent": "Cloud Based"}, "is already in the glossary"),
    ({"term": "SSO", "equivalent": "sso"}, "are the same term"),
    ({"term": "--", "equivalent": "hosted"}, "at least one letter or digit"),
])
def test_a_refused_pair_is_explained_and_nothing_changes(app, data, message):
    bank_of(app).add_glossary_pair("cloud-based", "hosted", user="tess")
    revision = bank_of(app).revision()
    c = client_as(app, "approver")
    r = post(c, "/bank/glossary/add", data)
    assert r.status_code == 302
    assert message in c.get("/bank/").get_data(as_text=True)
    assert len(bank_of(app).glossary()) == 1 and bank_of(app).revision() == revision


def test_an_empty_field_is_a_400_naming_it(app):
    c = client_as(app, "approver")
    r = post(c, "/bank/glossary/add", {"term": "hosted", "equivalent": ""})
    assert r.status_code == 400
    assert "give the term it means the same as" in r.get_data(as_text=True)


def test_removing_a_pair_that_is_gone_is_explained(app):
    c = client_as(app, "approver")
    post(c, "/bank/glossary/remove", {"term": "cloud-based", "equivalent": "hosted"})
    assert "is not in the glossary" in c.get("/bank/").get_data(as_text=True)

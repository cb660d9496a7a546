"""The glossary on the bank page in a real browser (headless Chromium driven by
Playwright, the app served by waitress with the REAL bundled model, as in
tests/test_browser.py): an approver adds a pair, sees it, removes it; marks two
terms as not the same, sees them, removes them."""
from __future__ import annotations

import pytest

from tests.conftest import signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.model]

PASSWORD = "browser-glossary-password"


@pytest.fixture(scope="module")
def approver_page(server):
    from questionnaire import review_db
    from questionnaire.users import Users

    db = review_db.connect(server["db"])
    Users(db).add("april", "approver", PASSWORD, created_by="test")
    db.conn.close()
    with signed_in_page(server, "april", PASSWORD) as pg:
        yield pg


def test_an_approver_adds_and_removes_a_glossary_pair(approver_page, server):
    pg = approver_page
    pg.goto(server["url"] + "/bank/")
    glossary = pg.locator("#glossary")
    assert "The glossary is empty." in glossary.inner_text()
    pg.fill("form[aria-label='Add to the glossary'] input[name=term]", "cloud-based")
    pg.fill("form[aria-label='Add to the glossary'] input[name=equivalent]", "hosted")
    pg.click("#glossary button:has-text('Add to the glossary')")
    pg.wait_for_selector("#glossary table.glossary")
    assert "now means the same as" in pg.inner_text("body")
    row = pg.locator("#glossary table.glossary tbody tr")
    assert row.count() == 1
    assert "cloud-based" in row.inner_text() and "hosted" in row.inner_text() and "april" in row.inner_text()
    pg.click("#glossary button[aria-label='Remove cloud-based = hosted']")
    pg.wait_for_selector("#glossary table.glossary", state="detached")
    assert "removed from the glossary" in pg.inner_text("body")
    assert "The glossary is empty." in pg.locator("#glossary").inner_text()
    # as in tests/test_browser.py: no script or style blocked by the Content Security Policy
    assert not [e for e in pg.console_errors if "Content Security Policy" in e], pg.console_errors


def test_an_approver_marks_two_terms_as_not_the_same(approver_page, server):
    pg = approver_page
    pg.goto(server["url"] + "/bank/")
    assert "No terms are marked as not the same." in pg.locator("#glossary").inner_text()
    form = "form[aria-label='Mark two terms as not the same']"
    pg.fill(f"{form} input[name=term]", "privacy")
    pg.fill(f"{form} input[name=equivalent]", "security")
    pg.click(f"{form} button")
    pg.wait_for_selector("#glossary table.glossary-distinct")
    assert "a question about one is no longer answered by an entry about the other" in pg.inner_text("body")
    row = pg.locator("#glossary table.glossary-distinct tbody tr")
    assert row.count() == 1 and "privacy" in row.inner_text() and "security" in row.inner_text()
    pg.click("#glossary button[aria-label='Remove privacy ≠ security']")
    pg.wait_for_selector("#glossary table.glossary-distinct", state="detached")
    assert "“privacy” ≠ “security” removed from the glossary." in pg.inner_text("body")
    assert not [e for e in pg.console_errors if "Content Security Policy" in e], pg.console_errors

"""End to end in a real browser: headless Chromium from Debian's packages,
driven by Playwright (no browser download), against the app served by
waitress on 127.0.0.1, with the REAL bundled embedding model.

Sign in, upload an XLSX and a DOCX built here, correct a column, propose
answers (progress bar), bulk accept, edit one answer, use the keyboard,
export, download, and check the downloaded files' answer cells. A screenshot
of the review page is kept in test-artifacts/.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.conftest import BROWSER_PASSWORD, signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.model]

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PASSWORD = BROWSER_PASSWORD


@pytest.fixture(scope="module")
def page(server):
    with signed_in_page(server, "eddie", accept_downloads=True) as pg:
        yield pg


def _questions(n: int, offset: int = 0):
    from answer_bank.starter import starter_entries

    return [(f"AI-{i + 1}", e.question) for i, e in enumerate(starter_entries()[offset : offset + n])]


def _xlsx(questions) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Vendor AI"
    ws.append(["ID", "Question", "Guidance for the assessor", "Supplier response"])
    for ref, text in questions:
        ws.append([ref, text, "Assessor use only", None])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _docx(questions) -> bytes:
    import docx

    doc = docx.Document()
    doc.add_heading("AI supplier questionnaire", level=1)
    table = doc.add_table(rows=1, cols=3)
    for cell, title in zip(table.rows[0].cells, ["No.", "Question", "Response"]):
        cell.text = title
    for ref, text in questions:
        row = table.add_row()
        row.cells[0].text, row.cells[1].text = ref, text
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _upload(pg, server, data: bytes, name: str, mime: str, customer: str):
    pg.goto(server["url"] + "/q/new")
    pg.set_input_files("input[name=file]", files=[{"name": name, "mimeType": mime, "buffer": data}])
    pg.fill("input[name=customer]", customer)
    pg.fill("input[name=due_date]", "2031-06-30")
    pg.click("main button[type=submit]")
    pg.wait_for_selector("#question-count")


def _propose(pg):
    pg.click("#start-autofill")
    pg.wait_for_url("**/review**", timeout=180_000)
    pg.wait_for_selector("#questions")


def _download(pg, selector: str, tmp_path: Path) -> Path:
    with pg.expect_download() as info:
        pg.click(selector)
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    return target


def _export(pg):
    """Export; when questions are still open the app asks first, and this confirms."""
    pg.click("#export")
    pg.wait_for_selector("#download-filled, #confirm-export")
    if pg.locator("#confirm-export").count():
        pg.click("#confirm-export")
        pg.wait_for_selector("#download-filled")


def test_xlsx_review_flow(page, server, tmp_path):
    pg = page
    questions = _questions(8)
    _upload(pg, server, _xlsx(questions), "Vendor AI questionnaire.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Northwind Bank")
    assert pg.inner_text("#question-count") == "8"
    # Correct a column: the customer wants the answers in D.
    pg.fill("input[name=answer_col]", "D")
    pg.fill("input[name=question_col]", "B")
    pg.click("#layout-form button[type=submit]")
    pg.wait_for_selector("#question-count")
    assert pg.inner_text("#question-count") == "8"
    assert "Vendor AI!D2" in pg.inner_text("table.list")
    _propose(pg)
    total = int(pg.inner_text("#counter-total"))
    assert total == 8 and pg.inner_text("#counter-reviewed") == "0"
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "review-page.png"), full_page=True)
    # Bulk accept: the high tier, else (a calibration with no high tier here) the medium one.
    if pg.is_enabled("#bulk-accept"):
        pg.click("#bulk-accept")
    else:
        pg.click("#bulk-accept-medium")
    pg.wait_for_selector("#counter-reviewed")
    accepted = int(pg.inner_text("#counter-reviewed"))
    assert accepted >= 1
    # Edit one answer in place (the page's script posts it and swaps the row).
    row = pg.locator("article.q").first
    row.locator("details.edit summary").click()
    row.locator("select[name=short_answer]").select_option("")
    row.locator("textarea[name=narrative]").fill("Edited in the browser test: yes, with human review.")
    row.locator("button.save").click()
    try:
        pg.wait_for_selector("article.q.st-edited", timeout=20_000)
    except Exception:
        print("MSG", pg.locator("article.q .msg").all_inner_texts(), pg.console_errors)
        raise
    edited_id = pg.locator("article.q.st-edited").first.get_attribute("data-id")
    # Keyboard: focus a pending row and leave it blank with "b".
    pending = pg.locator("article.q.st-pending")
    if pending.count():
        pending.first.click(position={"x": 5, "y": 5})
        pg.keyboard.press("b")
        pg.wait_for_function("document.querySelectorAll('article.q.st-blank').length >= 1")
    pg.screenshot(path=str(ARTIFACTS / "review-page-after.png"), full_page=True)
    # Export and download.
    _export(pg)
    filled = _download(pg, "#download-filled", tmp_path)
    assert filled.name == "Vendor AI questionnaire-answered.xlsx"
    summary = _download(pg, "#download-summary", tmp_path)
    import openpyxl

    ws = openpyxl.load_workbook(filled)["Vendor AI"]
    from tests.web_helpers import store_of

    store = store_of(server["app"])
    qn = [q for q in store.list() if q.customer == "Northwind Bank"][0]
    rows = {q.id: q for q in store.questions(qn.id)}
    edited = rows[int(edited_id)]
    assert edited.answer_at["cell"].startswith("D")
    assert ws[edited.answer_at["cell"]].value == "Edited in the browser test: yes, with human review."
    for q in rows.values():
        value = ws[q.answer_at["cell"]].value
        if q.status == "accepted":
            assert value and q.narrative.split(".")[0] in value
        elif q.status in ("pending", "blank", "needs_expert"):
            assert value in (None, "")
        assert ws["C" + q.answer_at["cell"][1:]].value == "Assessor use only"  # nothing else touched
    text = summary.read_text(encoding="utf-8-sig")
    assert "eddie" in text and "edited" in text
    assert not [e for e in pg.console_errors if "Content Security Policy" in e]


def test_docx_review_flow(page, server, tmp_path):
    pg = page
    questions = _questions(4, offset=20)
    _upload(pg, server, _docx(questions), "Fragebogen KI.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Contoso GmbH")
    assert pg.inner_text("#question-count") == "4"
    _propose(pg)
    # Accept the first proposal with the keyboard ("a"), or use the first alternative ("1").
    first = pg.locator("article.q").first
    first.click(position={"x": 5, "y": 5})
    pg.keyboard.press("a" if first.locator("button.accept").count() else "1")
    pg.wait_for_selector("article.q.st-accepted")
    _export(pg)
    filled = _download(pg, "#download-filled", tmp_path)
    assert filled.suffix == ".docx"
    import docx

    from tests.web_helpers import store_of

    store = store_of(server["app"])
    qn = [q for q in store.list() if q.customer == "Contoso GmbH"][0]
    accepted = [q for q in store.questions(qn.id) if q.status == "accepted"]
    assert accepted
    doc = docx.Document(str(filled))
    cells = [c.text for row in doc.tables[0].rows for c in row.cells]
    assert any(accepted[0].narrative.split(".")[0] in c for c in cells)


def test_export_warns_about_open_questions_then_lists_every_outcome(page, server, tmp_path):
    """A Yes/No dropdown that cannot take "Partial", and open questions: the
    app warns before exporting, then says what was written, skipped and why."""
    from openpyxl import Workbook
    from openpyxl.worksheet.datavalidation import DataValidation

    pg = page
    questions = _questions(4, offset=8)
    wb = Workbook()
    ws = wb.active
    ws.title = "Controls"
    ws.append(["ID", "Question", "Answer", "Comments"])
    for ref, text in questions:
        ws.append([ref, text, None, None])
    dv = DataValidation(type="list", formula1='"Yes,No"', allow_blank=True)
    ws.add_data_validation(dv)
    dv.add("C2:C5")
    buf = io.BytesIO()
    wb.save(buf)
    _upload(pg, server, buf.getvalue(), "Dropdown controls.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Fabrikam Ltd")
    _propose(pg)
    # "Partial" on the first question: the dropdown only allows Yes and No.
    row = pg.locator("article.q").first
    row.locator("details.edit summary").click()
    row.locator("select[name=short_answer]").select_option("Partial")
    row.locator("textarea[name=narrative]").fill("")
    row.locator("button.save").click()
    pg.wait_for_selector("article.q.st-edited")
    second = pg.locator("article.q").nth(1)
    second.locator("details.edit summary").click()
    second.locator("select[name=short_answer]").select_option("Yes")
    second.locator("textarea[name=narrative]").fill("Yes: every model change is reviewed by two people.")
    second.locator("button.save").click()
    pg.locator("article.q.st-edited").nth(1).wait_for()
    pg.click("#export")
    pg.wait_for_selector("#pending-warning")
    assert "2 of 4 questions are still open" in pg.inner_text("#pending-warning")
    assert pg.locator("#open-questions li").count() == 2
    pg.click("#confirm-export")
    pg.wait_for_selector("#export-totals")
    assert "1 answer written, 0 kept, 1 skipped, 2 pending" in pg.inner_text("#export-totals")
    skipped = pg.inner_text("#export-skipped")
    assert "'Partial'" in skipped and "Yes, No" in skipped
    assert "Controls!D3" in pg.inner_text("#export-written")
    assert pg.locator("#export-pending tbody tr").count() == 2
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "export-summary.png"), full_page=True)
    # a question's link leads back to its row in the review
    pg.locator("#export-skipped a").first.click()
    pg.wait_for_selector("#questions")
    assert "#q-" in pg.url
    filled = _download(pg, "#download-filled", tmp_path) if pg.locator("#download-filled").count() else None
    if filled is None:
        pg.go_back()
        filled = _download(pg, "#download-filled", tmp_path)
    import openpyxl

    cells = openpyxl.load_workbook(filled)["Controls"]
    assert (cells["C2"].value, cells["C3"].value) == (None, "Yes")
    assert not [e for e in pg.console_errors if "Content Security Policy" in e]


def test_workbook_sheets_listed_and_chosen(page, server):
    """A multi-tab vendor form: the layout page lists every sheet with what was
    found or why not; unticking a tab and detecting again drops its questions."""
    from tests.ingest_fixtures import hecvat_like

    pg = page
    _upload(pg, server, hecvat_like(), "vendor form.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Contoso University")
    assert pg.inner_text("#question-count") == "11"
    sheets = pg.inner_text("#sheets")
    assert "Institution Evaluation" in sheets and "not read: its answer cells are formulas" in sheets
    assert "--" not in pg.inner_text("main")
    assert pg.is_checked("input[name=sheets][value=Data]")
    assert not pg.is_checked("input[name=sheets][value='Institution Evaluation']")
    pg.uncheck("input[name=sheets][value=Data]")
    with pg.expect_navigation():
        pg.click("#layout-form button[type=submit]")
    pg.wait_for_selector("#question-count")
    assert pg.inner_text("#question-count") == "8"
    assert not pg.is_checked("input[name=sheets][value=Data]")
    assert "Data" in pg.inner_text("#sheets") and "not among the sheets chosen to read" in pg.inner_text("#sheets")


# ---- the review screen (issue 11) ------------------------------------------------


def _login(pg, server, name: str):
    pg.goto(server["url"] + "/login")
    pg.fill("input[name=name]", name)
    pg.fill("input[name=password]", PASSWORD)
    pg.click("main button[type=submit]")
    pg.wait_for_url("**/q/")


def _open(row):
    """Make a row the current one (a click on the line of an open row folds it)."""
    if "current" not in (row.get_attribute("class") or ""):
        row.locator("a.qline").click()


def test_review_rows_are_compact_and_say_why(page, server):
    """25 questions at 1280×800: the list fits in at most three screen heights
    with the current row open; the open row shows the matched bank question
    and the reason in words; the sticky bar leaves the rows visible."""
    pg = page
    pg.set_viewport_size({"width": 1280, "height": 800})
    questions = _questions(25, offset=30)
    _upload(pg, server, _xlsx(questions), "Twenty-five.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Tailspin Toys")
    _propose(pg)
    assert pg.locator("article.q").count() == 25
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "review-25-rows.png"), full_page=True)
    height = pg.evaluate("document.documentElement.scrollHeight")
    assert height <= 3 * 800, f"25 questions take {height} px at 1280x800"
    head = pg.evaluate("document.getElementById('review-head').offsetHeight")
    print(f"\n25 rows at 1280x800: page {height} px, sticky bar {head} px")
    assert head <= 120, f"the sticky bar is {head} px high"
    first = pg.locator("article.q").first
    assert "current" in first.get_attribute("class")
    body = first.locator(".qbody")
    assert body.is_visible() and pg.locator("article.q").nth(1).locator(".qbody").is_hidden()
    assert "why" in body.inner_text().lower() and "match" in first.locator(".why").inner_text()
    if first.locator(".proposal").count():
        assert "matched bank question" in first.locator(".proposal").inner_text().lower()
    # j moves: the next row opens, the first folds; the row is not hidden under the sticky bar
    for _ in range(12):
        pg.keyboard.press("j")
    row = pg.locator("article.q").nth(12)
    assert "current" in row.get_attribute("class")
    top = row.evaluate("r => r.getBoundingClientRect().top")
    assert top >= head - 2, f"the current row's top ({top}) is under the sticky bar ({head})"
    # alternatives are folded; "o" opens them
    alts = row.locator("details.alts")
    if alts.count():
        assert not alts.evaluate("d => d.open")
        pg.keyboard.press("o")
        assert alts.evaluate("d => d.open")
    pg.screenshot(path=str(ARTIFACTS / "review-25-rows-current.png"))
    # "/" finds a question by its words or reference
    pg.keyboard.press("Escape")
    pg.keyboard.press("/")
    assert pg.evaluate("document.activeElement.id") == "find"
    pg.keyboard.type("AI-7")
    pg.keyboard.press("Enter")
    pg.wait_for_selector("text=matching the filters")
    assert pg.locator("article.q").count() == 1 and pg.inner_text("article.q .ref") == "AI-7"


def test_live_counts_weak_pick_and_undo_learning(page, server):
    pg = page
    pg.set_viewport_size({"width": 1280, "height": 800})
    _upload(pg, server, _xlsx([("X-1", "Do you keep a register of AI systems in production?"),
                               ("X-2", "Is the canteen menu published weekly?")]),
            "Weak.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Litware")
    _propose(pg)
    # an edit: the "edited" filter count changes in place
    row = pg.locator("article.q").first
    row.click(position={"x": 5, "y": 5})
    pg.keyboard.press("e")
    row.locator("textarea[name=narrative]").fill("Yes: an inventory of every AI system, reviewed quarterly.")
    pg.keyboard.press("Control+Enter")
    pg.wait_for_selector("article.q.st-edited")
    assert pg.inner_text("[data-count=status-edited]") == "1"
    assert pg.inner_text("[data-count=status-pending]") == "1"
    # the canteen question has no good match: using its first alternative asks once
    from tests.web_helpers import store_of

    store = store_of(server["app"])
    qn = [q for q in store.list() if q.customer == "Litware"][0]
    store.db.execute("UPDATE review_questions SET tier = 'none', proposed = NULL WHERE questionnaire_id = ? "
                     "AND position = 2", [qn.id])
    pg.reload()
    second = pg.locator("article.q").nth(1)
    second.locator("a.qline").click()
    if not second.locator("button.pick").count():
        pytest.skip("no alternative for the canteen question in this bank")
    pg.keyboard.press("1")
    pg.wait_for_selector("article.q .msg.ask")
    assert "scored only" in second.locator(".msg").inner_text()
    assert "st-pending" in second.get_attribute("class")  # nothing happened yet
    pg.keyboard.press("1")  # the same key again confirms
    pg.wait_for_selector("#review-notice:not([hidden])")
    notice = pg.inner_text("#review-notice")
    assert "The bank learned this wording for" in notice
    assert pg.inner_text("[data-count=status-accepted]") == "1"
    entry = pg.locator("#review-notice a").first.inner_text()
    pg.click("#review-notice button.untaught")
    pg.locator("#review-notice", has_text="no longer matches").wait_for()
    from answer_bank.store import Bank

    assert "Is the canteen menu published weekly?" not in Bank(store.db).get_entry(entry).learned_variants
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "review-weak-pick.png"))
    # undo the pick, pick again (asked again, confirmed with Enter): the bank learns it again
    pg.reload()
    _open(pg.locator("article.q").nth(1))
    pg.keyboard.press("u")
    pg.locator("article.q.st-pending").first.wait_for()
    _open(pg.locator("article.q").nth(1))
    pg.keyboard.press("1")
    pg.wait_for_selector("article.q .msg.ask")
    pg.keyboard.press("Enter")
    pg.wait_for_selector("#review-notice:not([hidden])")
    # the entry's page lists the wording with who, when and where from, and removes it
    pg.goto(server["url"] + "/bank/entry/" + entry)
    learned = pg.locator("#learned-wordings tr", has_text="Is the canteen menu published weekly?")
    assert "eddie" in learned.inner_text() and "Litware" in learned.inner_text()
    pg.screenshot(path=str(ARTIFACTS / "entry-learned.png"), full_page=True)
    learned.locator("button.remove-learned").click()
    pg.wait_for_selector("text=no longer matches this wording")
    assert pg.locator("#learned-wordings tr", has_text="Is the canteen menu published weekly?").count() == 0


def test_propose_again_archive_and_delete(page, server):
    pg = page
    _upload(pg, server, _xlsx(_questions(3, offset=60)), "Again.py.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Wingtip")
    _propose(pg)
    pg.click("#propose-again")
    pg.wait_for_url("**/review**", timeout=180_000)
    pg.wait_for_selector("#questions")
    assert pg.locator("article.q").count() == 3
    # an admin archives it, then deletes it
    _login(pg, server, "adam")
    row = pg.locator("#questionnaire-list tr", has_text="Again.py.xlsx")
    row.locator("button.archive").click()
    pg.wait_for_selector("#show-archived")
    assert pg.locator("#questionnaire-list tr", has_text="Again.py.xlsx").count() == 0
    pg.click("#show-archived")
    pg.locator("#questionnaire-list tr", has_text="Again.py.xlsx").locator("a.delete").click()
    pg.click("#confirm-delete")
    pg.wait_for_url("**/q/")
    assert "is deleted" in pg.inner_text("main")
    assert pg.locator("#questionnaire-list tr", has_text="Again.py.xlsx").count() == 0
    _login(pg, server, "eddie")


def test_a_new_user_reviews_100_questions_and_exports(page, server, tmp_path):
    """Upload → review 100 questions → export, with only what the pages say:
    a how-to line, bulk accept of the high tier, the keyboard for the rest,
    the warning before exporting with open questions, the page after it."""
    from playwright.sync_api import expect

    pg = page
    pg.set_viewport_size({"width": 1280, "height": 800})
    # Most are the bank's own questions (they come back "high"); every fifth is
    # one the bank cannot answer, so some stay open for the keyboard.
    questions = [(ref, text if i % 5 else f"Is the staff canteen open on public holiday number {i}?")
                 for i, (ref, text) in enumerate(_questions(100, offset=70))]
    _upload(pg, server, _xlsx(questions), "Hundred.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Proseware")
    _propose(pg)
    assert "How to review" in pg.inner_text("#how-to")
    assert pg.inner_text("#shown") == "Questions 1–100 of 100."
    height = pg.evaluate("document.documentElement.scrollHeight")
    assert height <= 12 * 800, f"100 questions take {height} px"
    print(f"\n100 rows at 1280x800: page {height} px")
    if pg.is_enabled("#bulk-accept"):
        pg.click("#bulk-accept")
        pg.wait_for_selector("#questions")
    pending_before = int(pg.inner_text("[data-count=status-pending]"))
    # the keyboard for the next few: accept when there is a proposal, else leave blank
    _open(pg.locator("article.q.st-pending").first)
    for _ in range(min(5, pending_before)):
        row = pg.locator("article.q.current")
        weak = any(f"tier-{t}" in (row.get_attribute("class") or "") for t in ("low", "none"))
        key = "a" if row.locator("button.accept:not([disabled])").count() and not weak else "b"
        before = int(pg.inner_text("#counter-reviewed"))
        pg.keyboard.press(key)
        expect(pg.locator("#counter-reviewed")).to_have_text(str(before + 1))
        # the next open question becomes the current one
        while pg.locator("article.q.current.st-pending").count() == 0 and pg.locator("article.q.st-pending").count():
            pg.keyboard.press("j")
    assert int(pg.inner_text("[data-count=status-pending]")) == pending_before - min(5, pending_before)
    _export(pg)
    totals = pg.inner_text("#export-totals")  # the page after the export
    assert "written" in totals and "pending" in totals
    assert "What to do next" in pg.inner_text("#next-steps")
    filled = _download(pg, "#download-filled", tmp_path)
    assert filled.name == "Hundred-answered.xlsx"


def test_one_approval_queue_and_local_dates(page, server):
    """The edited answers became drafts: one Approvals page (top menu and
    Curation lead there), where an admin ticks drafts and approves them; times
    are shown in the browser's locale, not as ISO text."""
    from answer_bank.model import BankEntry
    from answer_bank.store import Bank

    bank = Bank.open(server["db"])
    bank.save_entry(BankEntry("DRAFT-BROWSER-1", "Do you label AI-generated content?", "Yes, always."), user="eddie")
    bank.close()
    pg = page
    _login(pg, server, "adam")
    assert pg.locator("header.top nav a", has_text="Approvals").count() == 1
    pg.goto(server["url"] + "/curation/")
    pg.locator("nav.cur-nav a", has_text="Approvals").click()
    pg.wait_for_selector("#drafts")
    assert pg.url.split("#")[0].endswith("/bank/approvals")
    boxes = pg.locator("input[type=checkbox][form=bulk-approve]")
    assert boxes.count() >= 1
    times = pg.locator("#drafts time")
    assert times.count() and "T" not in times.first.inner_text() and times.first.get_attribute("data-local") == "1"
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "approvals.png"), full_page=True)
    pg.click("#tick-all")
    n = boxes.count()
    pg.locator("#bulk-approve button[type=submit]").click()
    pg.wait_for_selector("#drafts")
    assert f"{n} entries approved in one step" in pg.inner_text("main")
    _login(pg, server, "eddie")


def test_a_one_word_difference_from_the_bank_wording_is_highlighted(page, server):
    """The bank's "documented AI policy", asked as "documented privacy policy":
    the open row highlights "AI" in the matched bank question, with the
    stylesheet's colour (not blocked by the Content Security Policy)."""
    pg = page
    (ref, question), = _questions(1)
    assert "AI policy" in question
    _upload(pg, server, _xlsx([(ref, question.replace("AI policy", "privacy policy"))]), "Privacy.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Northwind")
    _propose(pg)
    row = pg.locator("article.q").first
    marks = row.locator("mark.differs")
    assert marks.count() >= 1 and marks.first.inner_text() == "AI"
    assert marks.first.is_visible()
    colour = marks.first.evaluate("m => getComputedStyle(m).backgroundColor")
    assert colour == "rgb(255, 241, 184)", colour
    ARTIFACTS.mkdir(exist_ok=True)
    row.screenshot(path=str(ARTIFACTS / "review-row-differs.png"))
    assert not [e for e in pg.console_errors if "Content Security Policy" in e], pg.console_errors

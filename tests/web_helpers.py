"""Helpers for the web app's tests: a bank with the starter entries, one user
per role, signing in, CSRF tokens, and small XLSX / DOCX questionnaires built
in code. The fixtures (`template_db`, `app`, `client`) live in conftest.py. The embedder here is the FAKE one from conftest (bag of words);
only tests/test_browser.py runs the real model."""
from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

from tests.conftest import FakeEmbedder

PASSWORD = "correct-horse-battery"
ROLE_USERS = {"viewer": "vera", "editor": "eddie", "approver": "april", "admin": "adam"}

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def starter_questions(n: int, offset: int = 0) -> list[tuple[str, str]]:
    """(ref, question) pairs taken from the starter bank's canonical questions."""
    from answer_bank.starter import starter_entries

    entries = starter_entries()[offset : offset + n]
    return [(f"Q-{i + 1}", e.question) for i, e in enumerate(entries)]


def make_xlsx(questions: list[tuple[str, str]], extra_sheet: bool = True) -> bytes:
    """A vendor questionnaire: ID | Question | Answer | Comments, with a header row."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Questionnaire"
    ws.append(["ID", "Question", "Answer", "Comments"])
    for ref, text in questions:
        ws.append([ref, text, None, None])
    if extra_sheet:
        info = wb.create_sheet("Instructions")
        info["A1"] = "Answer every question in column C."
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def make_docx(questions: list[tuple[str, str]]) -> bytes:
    """A Word questionnaire: one table, No. | Question | Response."""
    import docx

    doc = docx.Document()
    doc.add_heading("Vendor AI assessment", level=1)
    doc.add_paragraph("Please answer each question in the Response column.")
    table = doc.add_table(rows=1, cols=3)
    table.rows[0].cells[0].text = "No."
    table.rows[0].cells[1].text = "Question"
    table.rows[0].cells[2].text = "Response"
    for ref, text in questions:
        row = table.add_row()
        row.cells[0].text = ref
        row.cells[1].text = text
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def csrf_token(client, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    m = _TOKEN.search(html)
    assert m, f"no CSRF token on {path}"
    return m.group(1) or m.group(2)


def login(client, name: str, password: str = PASSWORD):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token})


def build_template_db(path: Path) -> Path:
    """A database with the starter bank (approved) and one user per role
    (the `template_db` fixture in conftest builds it once per session)."""
    from answer_bank.starter import starter_entries
    from answer_bank.store import Bank
    from questionnaire import review_db
    from questionnaire.users import Users

    bank = Bank.open(path)
    bank.import_entries(starter_entries(), approve=True, user="starter")
    # The FAKE embedder's vectors and the bank adapter fitted on them, kept in
    # the template as a running app would keep them: each test's copy starts warm.
    from answer_bank.matching import Matcher

    Matcher(bank, FakeEmbedder()).refresh()
    bank.close()
    db = review_db.connect(path)
    users = Users(db)
    for role, name in ROLE_USERS.items():
        users.add(name, role, PASSWORD, created_by="test")
    users.add("april2", "approver", PASSWORD, created_by="test")
    users.add("eddie2", "editor", PASSWORD, created_by="test")
    # Tests sign in hundreds of times: a cheap hash here (test data only);
    # the app itself always hashes with werkzeug's default (scrypt).
    from werkzeug.security import generate_password_hash

    db.execute("UPDATE users SET password_hash = ?", [generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")])
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return path


def new_app(template_db: Path, tmp_path: Path, **config):
    from web import create_app

    db = tmp_path / "aimsq.db"
    shutil.copy(template_db, db)
    settings = {
        "TESTING": True, "AIMSQ_DB": str(db), "SECRET_KEY": "test-secret",
        "AIMSQ_EMBEDDER": FakeEmbedder(), "AIMSQ_AUTOFILL_INLINE": True,
    }
    settings.update(config)
    return create_app(settings)


def client_as(app, role_or_name: str):
    c = app.test_client()
    name = ROLE_USERS.get(role_or_name, role_or_name)
    r = login(c, name)
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return c


def upload(c, data: bytes, filename: str, customer: str = "Acme Bank", due: str = "2031-03-31"):
    token = csrf_token(c, "/q/new")
    return c.post("/q/new", data={"csrf_token": token, "customer": customer, "due_date": due,
                                  "file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def qn_id_from(response) -> str:
    m = re.search(r"/q/([0-9a-f]{32})", response.headers.get("Location", ""))
    assert m, response.headers.get("Location")
    return m.group(1)


def uploaded_and_matched(app, c, data: bytes, filename: str) -> str:
    """Upload, propose answers (inline in tests), return the questionnaire id."""
    r = upload(c, data, filename)
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    qn_id = qn_id_from(r)
    token = csrf_token(c, f"/q/{qn_id}")
    r = c.post(f"/q/{qn_id}/autofill", data={"csrf_token": token})
    assert r.status_code == 302
    with app.app_context():
        from web.services import get_store

        assert get_store().get(qn_id).status == "review"
    return qn_id


def store_of(app):
    from questionnaire import review_db
    from questionnaire.review import ReviewStore

    return ReviewStore(review_db.connect(app.config["AIMSQ_DB"]))

"""SECURITY.md case 20 (and the GET half of 19): every route x every role.

Each route's required capability is declared on its view; this test walks
the app's URL map, so a new route is covered without editing the test. The
embedder is the FAKE one from conftest."""
from __future__ import annotations

import hashlib
import shutil

import pytest

from questionnaire.users import CAPABILITIES
from tests.web_helpers import (client_as, csrf_token, make_xlsx, new_app, starter_questions, store_of,
                               uploaded_and_matched)

ROLES = [None, "viewer", "editor", "approver", "admin"]


@pytest.fixture(scope="module")
def scene(template_db, tmp_path_factory):
    """A database with one questionnaire under review (exported once), a
    pending proposal and a draft entry; copied for each request that writes."""
    work = tmp_path_factory.mktemp("scene")
    app = new_app(template_db, work)
    editor = client_as(app, "eddie2")
    qn_id = uploaded_and_matched(app, editor, make_xlsx(starter_questions(4)), "scene.xlsx")
    store = store_of(app)
    token = csrf_token(editor, f"/q/{qn_id}/review")
    assert editor.post(f"/q/{qn_id}/export", data={"csrf_token": token, "confirm": "1"}).status_code == 302
    from answer_bank.model import BankEntry
    from answer_bank.store import Bank

    bank = Bank(store.db)
    entry = bank.list_entries(status="approved")[0]
    proposal_id = store.propose(entry.ext_id, base_version=entry.version, content=entry.content(), note="n",
                                user="eddie2")
    bank.save_entry(BankEntry(ext_id="DRAFT-1", question="Draft question?", answer="Draft answer.", status="draft"),
                    user="eddie2")
    from questionnaire.users import Users

    ids = {
        "qn_id": qn_id, "question_id": store.questions(qn_id)[0].id, "ext_id": entry.ext_id,
        "proposal_id": proposal_id, "user_id": Users(store.db).by_name("eddie2").id,
    }
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.db.conn.close()
    return {"db": work / "aimsq.db", "files": work / "files", "ids": ids, "app": app}


def _routes(app):
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule, method))
    return out


def _url(rule, ids) -> str:
    values = {arg: ids[arg] for arg in rule.arguments}
    return rule.build(values)[1] if rule.arguments else rule.rule


def _fresh_app(scene, tmp_path, n):
    where = tmp_path / f"copy{n}"
    where.mkdir()
    shutil.copy(scene["db"], where / "aimsq.db")
    shutil.copytree(scene["files"], where / "files")
    from tests.conftest import FakeEmbedder
    from web import create_app

    return create_app({"TESTING": True, "AIMSQ_DB": str(where / "aimsq.db"), "SECRET_KEY": "test-secret",
                       "AIMSQ_EMBEDDER": FakeEmbedder(), "AIMSQ_AUTOFILL_INLINE": True})


def test_every_route_declares_a_capability(scene):
    app = scene["app"]
    missing = [r.rule for r, _ in _routes(app) if getattr(app.view_functions[r.endpoint], "required_capability", None) is None]
    assert missing == []


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
def test_route_role_matrix(scene, tmp_path, role):
    failures = []
    checked = 0
    # One app (a copy of the scene) per role: requests that are refused change
    # nothing, and those that succeed only touch the scene's throwaway objects.
    app = _fresh_app(scene, tmp_path, 0)
    c = None
    for rule, method in _routes(app):
        capability = app.view_functions[rule.endpoint].required_capability
        allowed = capability == "public" or (role is not None and capability in CAPABILITIES[role])
        if c is None or rule.endpoint == "auth.login":
            c = client_as(app, role) if role else app.test_client()
        url = _url(rule, scene["ids"])
        if method == "GET":
            r = c.get(url)
        else:
            token = csrf_token(c, "/login") if role is None else csrf_token(c, "/q/")
            r = c.post(url, data={"csrf_token": token, "ext_id": scene["ids"]["ext_id"], "role": "viewer",
                                  "tier": "high", "action": "blank"})
        checked += 1
        if allowed:
            ok = r.status_code not in (401, 403)
        elif role is None:
            ok = (r.status_code == 302 and "/login" in r.headers["Location"]) if method == "GET" else r.status_code == 401
        else:
            ok = r.status_code == 403
        if not ok:
            failures.append(f"{method} {url} as {role or 'anonymous'} (needs {capability}): {r.status_code}")
        if rule.endpoint in ("auth.logout", "auth.login"):
            c = None  # signed out (or in again): start the next request from a fresh sign-in
    assert checked > 20
    assert failures == []


def _state_digest(db_path) -> str:
    """Everything a person would call state; sessions, sign-in failures and
    the embedding cache are bookkeeping."""
    import sqlite3

    conn = sqlite3.connect(db_path)
    h = hashlib.sha256()
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for t in tables:
        if t in ("user_sessions", "login_failures", "embeddings") or t.startswith("sqlite_") or "_fts" in t:
            continue
        for row in conn.execute(f'SELECT * FROM "{t}" ORDER BY 1'):
            h.update(repr(row).encode())
    conn.close()
    return h.hexdigest()


def test_no_state_change_on_get(scene, tmp_path):
    app = _fresh_app(scene, tmp_path, 0)
    c = client_as(app, "admin")
    before = _state_digest(app.config["AIMSQ_DB"])
    gets = [r for r, m in _routes(app) if m == "GET"]
    for rule in gets:
        c.get(_url(rule, scene["ids"]))
        c.get(_url(rule, scene["ids"]) + "?q=Do+you+train+on+customer+data&tier=high&status=pending&page=2")
    assert _state_digest(app.config["AIMSQ_DB"]) == before

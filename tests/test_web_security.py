"""SECURITY.md cases 17, 19, 21, 22 and 23 against the app (Flask test client;
the embedder is the FAKE one). Case 18 is in test_web_review.py (hostile file
names), case 20 in test_web_roles.py (every route x every role)."""
from __future__ import annotations

import io

import pytest

from tests.web_helpers import (PASSWORD, client_as, csrf_token, login, make_xlsx, new_app, starter_questions,
                               store_of, upload)


# ---- 17: upload size limit ------------------------------------------------


def test_upload_over_the_limit_gets_a_friendly_413(template_db, tmp_path):
    app = new_app(template_db, tmp_path, MAX_CONTENT_LENGTH=64 * 1024)
    c = client_as(app, "editor")
    big = b"x" * (200 * 1024)
    token = csrf_token(c, "/q/new")
    r = c.post("/q/new", data={"csrf_token": token, "customer": "Acme", "file": (io.BytesIO(big), "big.xlsx")},
               content_type="multipart/form-data")
    assert r.status_code == 413
    page = r.get_data(as_text=True)
    assert "larger than the limit of 64 KB" in page
    assert "Traceback" not in page and "<html" in page
    assert store_of(app).list() == []


# ---- 19: CSRF on every state change, none on GET ----------------------------


def test_post_without_csrf_token_is_400(app):
    c = client_as(app, "admin")
    for path, data in [("/q/new", {"customer": "x"}), ("/logout", {}), ("/admin/users", {"name": "mallory", "role": "admin"}),
                       ("/bank/drafts/approve", {"ext_id": "x"})]:
        r = c.post(path, data=data)
        assert r.status_code == 400, path
        assert "security token" in r.get_data(as_text=True)
    from questionnaire import review_db
    from questionnaire.users import Users

    assert Users(review_db.connect(app.config["AIMSQ_DB"])).by_name("mallory") is None
    r = c.post("/admin/users", data={"name": "mallory", "role": "admin", "csrf_token": "forged"})
    assert r.status_code == 400


def test_login_itself_needs_csrf(client):
    r = client.post("/login", data={"name": "adam", "password": PASSWORD})
    assert r.status_code == 400


def test_logout_by_get_is_not_possible(app):
    c = client_as(app, "viewer")
    assert c.get("/logout").status_code == 405
    assert c.get("/q/").status_code == 200  # still signed in


# ---- 21: session cookie and server-side sessions ---------------------------


def _session_cookie(response) -> str:
    cookies = [v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("aimsq_session=")]
    assert cookies, "no session cookie set"
    return cookies[-1]


def test_session_cookie_flags(app):
    c = app.test_client()
    r = login(c, "vera")
    cookie = _session_cookie(r)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    tls = app.test_client()
    token = csrf_token(tls, "https://localhost/login")
    r = tls.post("https://localhost/login", data={"name": "vera", "password": PASSWORD, "csrf_token": token},
                 headers={"Referer": "https://localhost/login"})
    assert r.status_code == 302
    assert "Secure" in _session_cookie(r)
    assert "max-age" in tls.get("https://localhost/q/").headers.get("Strict-Transport-Security", "")


def test_new_session_on_login_and_logout_ends_it_server_side(app):
    c = app.test_client()
    c.get("/login")
    before = c.get_cookie("aimsq_session")
    login(c, "vera")
    after = c.get_cookie("aimsq_session")
    assert after is not None and (before is None or before.value != after.value)
    stolen = after.value
    assert c.get("/q/").status_code == 200
    token = csrf_token(c, "/q/")
    assert c.post("/logout", data={"csrf_token": token}).status_code == 302
    # Replaying the cookie from before logout does not get back in.
    thief = app.test_client()
    thief.set_cookie("aimsq_session", stolen)
    r = thief.get("/q/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_two_logins_get_different_sessions(app):
    a, b = client_as(app, "vera"), client_as(app, "vera")
    assert a.get_cookie("aimsq_session").value != b.get_cookie("aimsq_session").value
    token = csrf_token(a, "/q/")
    a.post("/logout", data={"csrf_token": token})
    assert b.get("/q/").status_code == 200  # only that session ended


def test_deactivated_user_is_signed_out(app):
    victim = client_as(app, "eddie")
    admin = client_as(app, "admin")
    from questionnaire import review_db
    from questionnaire.users import Users

    uid = Users(review_db.connect(app.config["AIMSQ_DB"])).by_name("eddie").id
    token = csrf_token(admin, "/admin/users")
    assert admin.post(f"/admin/users/{uid}/deactivate", data={"csrf_token": token}).status_code == 302
    assert victim.get("/q/").status_code == 302
    assert login(app.test_client(), "eddie").status_code == 401


# ---- 22: headers and error pages ------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/q/", "/nope", "/static/app.css"])
def test_security_headers(app, path):
    c = client_as(app, "viewer")
    r = c.get(path)
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"


def test_pages_use_no_inline_script_or_style(app):
    c = client_as(app, "admin")
    editor = client_as(app, "editor")
    upload(editor, make_xlsx(starter_questions(3)), "q.xlsx")
    qn = store_of(app).list()[0]
    for path in ["/login", "/q/", f"/q/{qn.id}", "/bank/", "/bank/approvals", "/admin/users", "/q/new"]:
        html = c.get(path).get_data(as_text=True)
        assert "<script>" not in html and " style=" not in html and "<style" not in html, path
        assert "onclick=" not in html and "javascript:" not in html, path
        assert "http://" not in html.replace("http://localhost", "") and "https://" not in html, path  # no CDN


def test_error_pages_have_no_stack_trace(template_db, tmp_path):
    app = new_app(template_db, tmp_path)
    from web.security import requires

    @app.get("/boom")
    @requires("read")
    def boom():
        raise RuntimeError("secret internals /etc/passwd")

    c = client_as(app, "viewer")
    r = c.get("/boom")
    page = r.get_data(as_text=True)
    assert r.status_code == 500
    assert "Traceback" not in page and "secret internals" not in page and "RuntimeError" not in page
    assert "unexpected error" in page
    r = c.get("/boom", headers={"X-Requested-With": "fetch"})
    assert r.status_code == 500 and "secret" not in r.get_data(as_text=True)
    r = c.get("/q/" + "0" * 32)
    assert r.status_code == 404 and "Traceback" not in r.get_data(as_text=True)


# ---- 23: login attempts limited -------------------------------------------


def test_login_attempts_are_limited(app):
    c = app.test_client()
    for _ in range(5):
        assert login(c, "vera", "wrong password!").status_code == 401
    # Even the right password is refused while the account is locked.
    r = login(c, "vera")
    assert r.status_code == 429 and "Too many failed sign-in attempts" in r.get_data(as_text=True)
    # Other accounts are not locked by one account's failures.
    assert login(app.test_client(), "eddie").status_code == 302


def test_login_attempts_limited_per_address(app):
    c = app.test_client()
    for n in range(20):
        login(c, f"nobody{n}", "wrong password!")
    assert login(c, "eddie").status_code == 429


def test_unknown_and_wrong_password_look_the_same(app):
    a = login(app.test_client(), "nobody-at-all", "whatever-password").get_data(as_text=True)
    b = login(app.test_client(), "vera", "whatever-password").get_data(as_text=True)
    assert "Wrong user name or password." in a and "Wrong user name or password." in b


# ---- 32: redirect targets ---------------------------------------------------

HOSTILE_NEXT = [
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "//evil.example", "/\\evil.example",
    "\\\\evil.example", "https://evil.example/", "javascript:alert(1)", " //evil.example", "/\x00/evil.example",
    "http:/evil.example", "\t//evil.example",
]


def _login_with_next(c, target: str):
    token = csrf_token(c, "/login")
    return c.post("/login", query_string={"next": target},
                  data={"name": "vera", "password": PASSWORD, "csrf_token": token})


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_sign_in_never_redirects_off_site(app, target):
    r = _login_with_next(app.test_client(), target)
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    location = r.headers["Location"]
    assert location == "/q/", f"{target!r} -> {location!r}"


def test_sign_in_keeps_a_same_site_next(app):
    r = _login_with_next(app.test_client(), "/bank/?status=draft&page=2")
    assert r.headers["Location"] == "/bank/?status=draft&page=2"


@pytest.mark.parametrize("target", ["/\t/evil.example", "//evil.example", "/\\evil.example", "/\n/evil"])
def test_review_action_next_stays_on_site(app, target):
    from tests.web_helpers import uploaded_and_matched

    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx(starter_questions(2)), "q.xlsx")
    q = store_of(app).questions(qn_id)[0]
    token = csrf_token(c, f"/q/{qn_id}/review")
    r = c.post(f"/q/{qn_id}/questions/{q.id}", data={
        "csrf_token": token, "action": "blank", "version": q.version, "next": target})
    assert r.status_code == 302
    assert r.headers["Location"] == f"/q/{qn_id}/review#q-{q.id}"
    r = c.post(f"/q/{qn_id}/bulk-accept", data={"csrf_token": token, "tier": "high", "next": target})
    assert r.status_code == 302 and r.headers["Location"] == f"/q/{qn_id}/review"


# ---- 36: numbers out of range, every password check limited -----------------------

HUGE = "9" * 30


def test_a_bank_page_past_the_end_is_not_found_and_says_how_many_there_are(app):
    c = client_as(app, "viewer")
    for page in (HUGE, "99999999999999999999999", "1000000001", "12"):
        r = c.get(f"/bank/?page={page}")
        assert r.status_code == 404, page
        text = r.get_data(as_text=True)
        assert "There is no page" in text and "it has 2 pages" in text  # the 172 starter entries
    for page in ("-" + HUGE, "0", "abc", "1"):  # not a page number: the first page
        r = c.get(f"/bank/?page={page}")
        assert r.status_code == 200 and "AIMS-" in r.get_data(as_text=True), page


@pytest.mark.parametrize("url", [
    f"/bank/proposals/{HUGE}/approve", f"/bank/proposals/{HUGE}/reject", f"/admin/users/{HUGE}/role",
    f"/admin/users/{HUGE}/deactivate", f"/admin/users/{HUGE}/activate", f"/admin/users/{HUGE}/password",
    "/bank/proposals/9223372036854775808/approve",
])
def test_ids_out_of_range_in_urls_are_not_found(app, url):
    c = client_as(app, "admin")
    token = csrf_token(c, "/admin/users")
    r = c.post(url, data={"csrf_token": token, "role": "viewer", "password": "long enough password"})
    assert r.status_code == 404, r.status_code
    assert "Traceback" not in r.get_data(as_text=True)


def test_a_review_action_on_a_question_out_of_range_is_not_found(app):
    from tests.web_helpers import uploaded_and_matched

    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx(starter_questions(2)), "q.xlsx")
    token = csrf_token(c, f"/q/{qn_id}/review")
    r = c.post(f"/q/{qn_id}/questions/{HUGE}", data={"csrf_token": token, "action": "blank"})
    assert r.status_code == 404


@pytest.mark.parametrize("version", [HUGE, "abc", "-1"])
def test_a_proposal_with_a_bad_version_is_refused_and_nothing_is_stored(app, version):
    c = client_as(app, "editor")
    token = csrf_token(c, "/bank/entry/AIMS-GOV-001/propose")
    r = c.post("/bank/entry/AIMS-GOV-001/propose", data={
        "csrf_token": token, "question": "Who owns AI governance?", "answer": "The board.", "base_version": version})
    assert r.status_code == 400 and "Reload the entry" in r.get_data(as_text=True)
    assert store_of(app).proposals(status=None, ext_id="AIMS-GOV-001") == []


def test_the_last_net_turns_an_oversized_number_into_a_400(template_db, tmp_path):
    app = new_app(template_db, tmp_path)
    from web.security import requires

    @app.get("/lookup/<n>")
    @requires("read")
    def lookup(n):
        from web.services import get_db

        return str(get_db().execute("SELECT ?", [int(n)]).fetchone())

    r = client_as(app, "viewer").get(f"/lookup/{HUGE}")
    assert r.status_code == 400 and "out of range" in r.get_data(as_text=True)


def _change_password(c, current):
    token = csrf_token(c, "/account/password")
    return c.post("/account/password", data={"csrf_token": token, "current": current,
                                              "new": "a brand new password", "confirm": "a brand new password"})


def test_change_password_attempts_are_limited(app):
    c = client_as(app, "viewer")
    for _ in range(5):
        assert _change_password(c, "wrong password!").status_code == 400
    # Even the right current password is refused while it is locked.
    r = _change_password(c, PASSWORD)
    assert r.status_code == 429 and "Too many wrong current passwords" in r.get_data(as_text=True)
    # Nothing changed: the old password still signs in, the new one does not.
    assert login(app.test_client(), "vera").status_code == 302
    assert login(app.test_client(), "vera", "a brand new password").status_code == 401
    # Another user's form is not locked by vera's failures.
    assert _change_password(client_as(app, "editor"), PASSWORD).status_code == 302

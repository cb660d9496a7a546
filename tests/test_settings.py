"""aimsq_settings: every AIMSQ_* variable is read there and nowhere else, and
each one, set in the environment, changes what the CLI or the web app does.

Real SQLite, the real CLI and app; the web tests use the FAKE embedder of
tests/web_helpers.py, and only the AIMSQ_ENCODER test loads the real model.
"""
from __future__ import annotations

import ast
import os
import re

import pytest
from click.testing import CliRunner

import aimsq_settings
from answer_bank.store import Bank
from cli import main
from tests.conftest import REPO
from tests.web_helpers import client_as, make_xlsx, new_app, starter_questions, upload, uploaded_and_matched


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Each test starts with no AIMSQ_* variable set (the developer's shell may have some)."""
    for name in list(os.environ):
        if name.startswith("AIMSQ_"):
            monkeypatch.delenv(name)


def run(*args, **kwargs):
    return CliRunner().invoke(main, list(args), **kwargs)


# ---- one module reads them ---------------------------------------------------------


def _environment_reads(tree: ast.AST):
    """(line, what) for every os.environ / os.getenv use that names AIMSQ_* or a non-literal key."""
    for node in ast.walk(tree):
        target = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Attribute) and owner.attr == "environ" or (
                    isinstance(owner, ast.Name) and owner.id == "environ"):
                target = node.args[0] if node.args else None
            elif node.func.attr == "getenv":
                target = node.args[0] if node.args else None
            else:
                continue
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "environ":
            target = node.slice
        else:
            continue
        if not (isinstance(target, ast.Constant) and isinstance(target.value, str)) or target.value.startswith("AIMSQ_"):
            yield node.lineno, ast.unparse(node)


def test_no_module_but_the_settings_module_reads_an_aimsq_variable():
    offenders = []
    for package in ("cli", "web", "questionnaire", "answer_bank", "ingest"):
        for path in sorted((REPO / package).rglob("*.py")):
            for line, what in _environment_reads(ast.parse(path.read_text(encoding="utf-8"))):
                offenders.append(f"{path.relative_to(REPO)}:{line}: {what}")
    assert not offenders, "read AIMSQ_* through aimsq_settings instead:\n" + "\n".join(offenders)


def test_the_environment_check_sees_a_read():
    tree = ast.parse('import os\nos.environ.get("AIMSQ_X")\nos.getenv(name)\nos.environ["AIMSQ_Y"] = "1"\n'
                     'os.environ.setdefault("HF_HUB_OFFLINE", "1")\n')
    assert [line for line, _ in _environment_reads(tree)] == [2, 3, 4]


def test_every_setting_has_a_reader_and_a_line_of_documentation():
    assert set(aimsq_settings.SETTINGS) == {
        "AIMSQ_DB", "AIMSQ_MODEL", "AIMSQ_ENCODER", "AIMSQ_USER", "AIMSQ_DEBUG", "AIMSQ_MAX_UPLOAD_MB",
        "AIMSQ_SECRET_KEY", "AIMSQ_FILES_DIR", "AIMSQ_REVIEW_PAGE_SIZE", "AIMSQ_PROXY_COUNT", "AIMSQ_CACHE_DIR",
        "AIMSQ_BANK_ADAPTER"}
    assert all(len(doc) > 20 for doc in aimsq_settings.SETTINGS.values())


@pytest.mark.parametrize("name, reader", [
    ("AIMSQ_REVIEW_PAGE_SIZE", aimsq_settings.review_page_size),
    ("AIMSQ_PROXY_COUNT", aimsq_settings.proxy_count),
])
@pytest.mark.parametrize("value", ["abc", "1.5", "-1"])
def test_a_number_setting_that_is_no_number_is_named(name, reader, value):
    with pytest.raises(aimsq_settings.SettingError, match=f"{name} must be a whole number.*{re.escape(repr(value))}"):
        reader({name: value})


def test_an_empty_variable_counts_as_unset():
    assert aimsq_settings.db_path({"AIMSQ_DB": ""}) is None
    assert aimsq_settings.review_page_size({"AIMSQ_REVIEW_PAGE_SIZE": ""}) == 100
    assert aimsq_settings.debug({"AIMSQ_DEBUG": ""}) is False


# ---- each setting, observed ---------------------------------------------------------


def test_aimsq_db_is_the_cli_bank_and_the_app_database(tmp_path, monkeypatch):
    db = tmp_path / "from-env.db"
    monkeypatch.setenv("AIMSQ_DB", str(db))
    result = run("init")
    assert result.exit_code == 0 and f"Bank ready at {db}" in result.output
    assert db.exists()
    other = tmp_path / "option.db"
    assert f"Bank ready at {other}" in run("--db", str(other), "init").output  # the option wins

    from web import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x"})
    assert app.config["AIMSQ_DB"] == str(db)
    assert app.config["AIMSQ_FILES_DIR"] == str((tmp_path / "files").resolve())


def test_aimsq_model_is_the_model_directory_and_model_overrides_it(tmp_path, monkeypatch):
    db = str(tmp_path / "bank.db")
    assert run("--db", db, "init").exit_code == 0
    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    monkeypatch.setenv("AIMSQ_MODEL", str(not_a_model))
    result = run("--db", db, "match", "-q", "Do you encrypt data at rest?")
    assert result.exit_code == 1
    assert f"{not_a_model} is not a sentence-transformers model directory" in result.output

    other = tmp_path / "other"
    other.mkdir()
    result = run("--db", db, "--model", str(other), "match", "-q", "Do you encrypt data at rest?")
    assert result.exit_code == 1 and f"{other} is not a sentence-transformers model directory" in result.output
    assert os.environ["AIMSQ_MODEL"] == str(not_a_model)  # --model is a value, not a change to the environment

    from answer_bank.embeddings import embedder_from_env

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    monkeypatch.setenv("AIMSQ_MODEL", str(model))
    assert embedder_from_env().model_id.startswith(f"local:{model.resolve()}@")  # @ the digest of its files


@pytest.mark.model
@pytest.mark.parametrize("value, runs_in", [(None, "NumpyBertEncoder"), ("auto", "NumpyBertEncoder"),
                                            ("torch", "SentenceTransformer")])
def test_aimsq_encoder_chooses_what_runs_the_model(monkeypatch, value, runs_in):
    from answer_bank.embeddings import SentenceTransformerEmbedder

    if value:
        monkeypatch.setenv("AIMSQ_ENCODER", value)
    embedder = SentenceTransformerEmbedder()
    vectors = embedder.embed(["Do you encrypt data at rest?"])
    assert vectors.shape == (1, 384)
    assert type(embedder._model).__name__ == runs_in


def test_aimsq_user_is_the_audit_trails_user(tmp_path, monkeypatch):
    db = str(tmp_path / "bank.db")
    monkeypatch.setenv("USER", "shell-user")
    monkeypatch.setenv("AIMSQ_USER", "tess")
    assert run("--db", db, "bank", "glossary", "add", "cloud-based", "hosted").exit_code == 0
    monkeypatch.delenv("AIMSQ_USER")
    assert run("--db", db, "bank", "glossary", "add", "SSO", "single sign-on").exit_code == 0
    bank = Bank.open(db)
    assert sorted(r["user"] for r in bank.glossary_audit()) == ["shell-user", "tess"]
    bank.close()


def test_aimsq_debug_shows_the_traceback_of_an_unexpected_error(tmp_path, monkeypatch):
    db = tmp_path / "not-sqlite.db"
    db.write_bytes(b"this is no database " * 100)
    result = run("--db", str(db), "bank", "list")
    assert result.exit_code == 1
    assert "unexpected error (DatabaseError: file is not a database); set AIMSQ_DEBUG=1 for details" in result.output
    monkeypatch.setenv("AIMSQ_DEBUG", "1")
    result = run("--db", str(db), "bank", "list")
    assert type(result.exception).__name__ == "DatabaseError"  # raised, so Python prints the traceback


def test_aimsq_max_upload_mb_refuses_a_larger_file_in_the_cli_and_the_app(tmp_path, monkeypatch, template_db):
    csv_path = tmp_path / "questions.csv"
    rows = [f"Q-{i},Do you keep audit logs for system number {i} for at least one year?" for i in range(400)]
    csv_path.write_text("ID,Question,Answer\n" + "\n".join(f"{r}," for r in rows) + "\n")
    size = csv_path.stat().st_size
    assert 20_000 < size < 40_000
    assert run("ingest", str(csv_path)).exit_code == 0
    monkeypatch.setenv("AIMSQ_MAX_UPLOAD_MB", "0.01")  # 10 KB
    result = run("ingest", str(csv_path))
    assert result.exit_code == 1 and "questions.csv" in result.output and "larger" in result.output

    app = new_app(template_db, tmp_path)
    assert app.config["MAX_CONTENT_LENGTH"] == 10485
    r = upload(client_as(app, "editor"), csv_path.read_bytes(), "questions.csv")
    assert r.status_code == 413


def test_aimsq_secret_key_signs_the_session(tmp_path, monkeypatch):
    from web import create_app

    db = tmp_path / "aimsq.db"
    monkeypatch.setenv("AIMSQ_SECRET_KEY", "from-the-environment")
    app = create_app({"TESTING": True, "AIMSQ_DB": str(db)})
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()
    monkeypatch.delenv("AIMSQ_SECRET_KEY")
    app = create_app({"TESTING": True, "AIMSQ_DB": str(db)})
    assert app.config["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip() != "from-the-environment"


def test_aimsq_files_dir_is_where_uploads_land(tmp_path, monkeypatch, template_db):
    files = tmp_path / "elsewhere" / "uploads"
    monkeypatch.setenv("AIMSQ_FILES_DIR", str(files))
    app = new_app(template_db, tmp_path)
    data = make_xlsx(starter_questions(3))
    r = upload(client_as(app, "editor"), data, "vendor.xlsx")
    assert r.status_code == 302
    assert [p.read_bytes() for p in files.iterdir()] == [data]
    assert not (tmp_path / "files").exists() or not any((tmp_path / "files").iterdir())


@pytest.mark.parametrize("value, first_page", [(None, 12), ("10", 10)])
def test_aimsq_review_page_size_is_questions_per_review_page(tmp_path, monkeypatch, template_db, value, first_page):
    if value:
        monkeypatch.setenv("AIMSQ_REVIEW_PAGE_SIZE", value)
    app = new_app(template_db, tmp_path)
    c = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, c, make_xlsx(starter_questions(12)), "vendor.xlsx")
    page = c.get(f"/q/{qn_id}/review").get_data(as_text=True)
    assert len(re.findall(r'<article class="q ', page)) == first_page


def test_a_review_page_size_that_is_no_number_stops_the_app_with_its_name(tmp_path, monkeypatch, template_db):
    monkeypatch.setenv("AIMSQ_REVIEW_PAGE_SIZE", "lots")
    with pytest.raises(aimsq_settings.SettingError, match="AIMSQ_REVIEW_PAGE_SIZE"):
        new_app(template_db, tmp_path)


@pytest.mark.parametrize("count, secure", [(None, False), ("1", True)])
def test_aimsq_proxy_count_trusts_the_proxys_https_header(tmp_path, monkeypatch, template_db, count, secure):
    if count:
        monkeypatch.setenv("AIMSQ_PROXY_COUNT", count)
    app = new_app(template_db, tmp_path)
    r = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 200
    assert ("Strict-Transport-Security" in r.headers) is secure


def test_a_bad_setting_is_one_line_in_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("AIMSQ_PROXY_COUNT", "two")
    monkeypatch.setattr("waitress.serve", lambda *a, **k: pytest.fail("must not serve"))
    result = run("--db", str(tmp_path / "bank.db"), "serve")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: AIMSQ_PROXY_COUNT must be a whole number of at least 0, not 'two'")


def test_aimsq_cache_dir_holds_the_model_digests(tmp_path, monkeypatch):
    """A model directory with a large weights file: its digest is remembered
    in AIMSQ_CACHE_DIR (and not in the default place)."""
    from answer_bank.embeddings import model_digest

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"hidden_size": 8}')
    (model / "model.safetensors").write_bytes(bytes(range(256)) * 8192)  # 2 MB: over the cached size
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("AIMSQ_CACHE_DIR", str(tmp_path / "mine"))
    first = model_digest(model)
    assert (tmp_path / "mine" / "model-digests.json").exists()
    assert not (tmp_path / "xdg").exists()
    monkeypatch.delenv("AIMSQ_CACHE_DIR")
    assert model_digest(model) == first
    assert (tmp_path / "xdg" / "aimsq" / "model-digests.json").exists()


@pytest.mark.parametrize("value, fitted", [(None, True), ("on", True), ("OFF", False)])
def test_aimsq_bank_adapter_switches_the_bank_map(bank, fake_embedder, monkeypatch, value, fitted):
    """FAKE embedder; a bank with variants and real answers gets a map unless the setting is off."""
    from answer_bank.matching import Matcher
    from answer_bank.model import BankEntry

    if value:
        monkeypatch.setenv("AIMSQ_BANK_ADAPTER", value)
    for i in range(12):
        bank.save_entry(BankEntry(f"E-{i}", f"Question {i} about subject{i}?", f"Yes. Subject{i} is run by "
                                  f"team{i} with tool{i} and checked every year by owner{i}.",
                                  variants=[f"Subject{i}?", f"Tell us about tool{i}."], status="approved"), user="ana")
    matcher = Matcher(bank, fake_embedder)
    assert matcher.match("subject3 tool3").candidates[0].entry.ext_id == "E-3"
    assert (matcher._ranker.adapter_matrix is not None) is fitted


def test_aimsq_bank_adapter_of_another_value_is_named(bank, fake_embedder, monkeypatch):
    monkeypatch.setenv("AIMSQ_BANK_ADAPTER", "maybe")
    with pytest.raises(aimsq_settings.SettingError, match="AIMSQ_BANK_ADAPTER must be on or off, not 'maybe'"):
        aimsq_settings.bank_adapter()

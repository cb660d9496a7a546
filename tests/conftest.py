"""Shared fixtures. Fakes here are for unit tests only and say so."""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


class FakeEmbedder:
    """FAKE embedder for unit tests: a hashed bag of lower-cased words, L2-normalised.
    Deterministic and instant; texts sharing words get similar vectors. Counts
    how many texts it embedded so tests can check the cache."""

    model_id = "fake-bag-of-words"
    dim = 256

    def __init__(self):
        self.calls = 0
        self.texts_embedded = 0

    def embed(self, texts):
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                h = int(hashlib.md5(word.encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            if norm:
                out[i] /= norm
        return out


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


@pytest.fixture
def bank(tmp_path):
    from answer_bank.store import Bank

    b = Bank.open(tmp_path / "bank.db")
    yield b
    b.close()


# ---- the web app (helpers in tests/web_helpers.py) -------------------------------


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    """A database with the starter bank (approved) and one user per role,
    built once and copied per test."""
    from tests.web_helpers import build_template_db

    return build_template_db(tmp_path_factory.mktemp("template") / "aimsq.db")


@pytest.fixture
def app(template_db, tmp_path):
    """The review app on a copy of `template_db`, with the FAKE embedder and inline autofill."""
    from tests.web_helpers import new_app

    return new_app(template_db, tmp_path)


@pytest.fixture
def client(app):
    return app.test_client()


# ---- the command line -------------------------------------------------------------


@pytest.fixture
def run(tmp_path, fake_embedder, monkeypatch):
    """`aimsq` on a fresh database in tmp_path with the FAKE embedder:
    `run("bank", "list", input=..., user="ana")` returns click's Result
    (`user` sets AIMSQ_USER from then on); `run.db` is the database's path."""
    from click.testing import CliRunner

    from cli import main

    db = str(tmp_path / "cli.db")

    def invoke(*args, input=None, user=None):
        if user is not None:
            monkeypatch.setenv("AIMSQ_USER", user)
        return CliRunner().invoke(main, ["--db", db, *args], obj={"embedder": fake_embedder}, input=input,
                                  catch_exceptions=False)

    invoke.db = db
    return invoke


# ---- the browser tests ------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_PASSWORD = "browser-test-password"


def need_browser() -> None:
    """Skip (fail on CI) when headless Chromium or Playwright is missing."""
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium, or run .ci/install-browser.sh)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is missing (pip install -e '.[test]')"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test cannot run on CI: {reason}")
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app served by waitress on a free port with the REAL bundled model,
    the starter bank, and "eddie" (editor) and "adam" (admin) with BROWSER_PASSWORD."""
    need_browser()
    from waitress import create_server

    from answer_bank.starter import starter_entries
    from answer_bank.store import Bank
    from questionnaire import review_db
    from questionnaire.users import Users
    from web import create_app

    db_path = tmp_path_factory.mktemp("browser") / "aimsq.db"
    bank = Bank.open(db_path)
    bank.import_entries(starter_entries(), approve=True, user="starter")
    bank.close()
    db = review_db.connect(db_path)
    Users(db).add("eddie", "editor", BROWSER_PASSWORD, created_by="test")
    Users(db).add("adam", "admin", BROWSER_PASSWORD, created_by="test")
    db.conn.close()
    app = create_app({"AIMSQ_DB": str(db_path), "SECRET_KEY": "browser-test"})
    port = _free_port()
    srv = create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{port}", "app": app, "db": db_path}
    srv.close()
    thread.join(timeout=5)


@contextlib.contextmanager
def signed_in_page(server, name: str, password: str = BROWSER_PASSWORD, **context_options):
    """A headless Chromium page signed in to `server` as `name`, at 1280x900;
    `page.console_errors` collects the console's errors."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        errors: list[str] = []
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.goto(server["url"] + "/")
        pg.fill("input[name=name]", name)
        pg.fill("input[name=password]", password)
        pg.click("main button[type=submit]")
        pg.wait_for_url("**/q/")
        pg.console_errors = errors
        yield pg
        context.close()
        browser.close()


def shared_path(*parts: str) -> Path:
    """A path under ../shared, skipping the test when it is absent (fresh clone)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available (../shared is absent)")
    return path


# ---- small real models for the encoder tests (built offline) ----------------


@pytest.fixture(scope="session")
def raw_bert(tmp_path_factory):
    """A tiny random BERT (hidden 32, 2 layers, 64 positions) with the bundled
    model's tokenizer: a real model in a configuration of the test's choosing."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch = pytest.importorskip("torch")
    from transformers import AutoTokenizer, BertConfig, BertModel

    from answer_bank.embeddings import default_model_path

    out = tmp_path_factory.mktemp("raw-bert")
    torch.manual_seed(7)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(str(default_model_path())).save_pretrained(out)
    return out


@pytest.fixture
def save_st(raw_bert):
    """save_st(out, pooling_mode, max_seq_length): the tiny BERT saved as a
    sentence-transformers model, in the installed version's format."""
    return lambda out, pooling_mode="mean", max_seq_length=None: _save_st(raw_bert, out, pooling_mode, max_seq_length)


def _save_st(raw, out, pooling_mode="mean", max_seq_length=None):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(str(raw), max_seq_length=max_seq_length)
    SentenceTransformer(modules=[transformer, Pooling(32, pooling_mode=pooling_mode), Normalize()],
                        device="cpu").save(str(out))
    return out

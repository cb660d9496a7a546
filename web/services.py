"""What the views use: the database of this request, the shared matcher, the
background autofill, and the folder of stored files.

A request opens its own connection (kept on `g`, closed at teardown); the
matcher keeps one private connection and serves one caller at a time, since
the model and its index are shared by all threads of the process.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from flask import Flask, current_app, g

from answer_bank.curation_db import ensure_schema
from answer_bank.db import connect as connect_bank
from answer_bank.store import Bank
from questionnaire import review_db
from questionnaire.review import JOB_LEASE_SECONDS, ReviewStore, autofill
from questionnaire.users import Users

log = logging.getLogger(__name__)


def get_db():
    if "db" not in g:
        g.db = review_db.connect(current_app.config["AIMSQ_DB"])
    return g.db


def get_bank() -> Bank:
    if "bank" not in g:
        g.bank = Bank(get_db(), current_app.config["AIMSQ_DB"])
    return g.bank


def get_store() -> ReviewStore:
    if "review_store" not in g:
        g.review_store = ReviewStore(get_db())
    return g.review_store


def get_users() -> Users:
    if "users" not in g:
        g.users = Users(get_db())
    return g.users


def close_db(_exc=None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.conn.close()


class MatchService:
    """One matcher per app, opened on first use (after any fork)."""

    def __init__(self, db_path: str, embedder=None):
        self.db_path = db_path
        self._embedder = embedder
        self._lock = threading.Lock()
        self._embedder_lock = threading.Lock()
        self._matcher = None

    def embedder(self):
        """The app's embedder: the injected one (tests), else the bundled model,
        loaded once per process and shared by the matcher and the curation checks."""
        with self._embedder_lock:
            if self._embedder is None:
                from answer_bank.embeddings import embedder_from_env

                self._embedder = embedder_from_env()
            return self._embedder

    def match_many(self, texts: list[str], top_k: int = 5):
        with self._lock:
            if self._matcher is None:
                from answer_bank.matching import Matcher

                self._matcher = Matcher(Bank.open(self.db_path), self.embedder())
            return self._matcher.match_many(list(texts), top_k=top_k)


    def adapter_state(self) -> tuple[bool, int]:
        """The matcher's bank adapter (answer_bank/adapter.py): fitted or
        not, and on how many of the bank's texts."""
        with self._lock:
            if self._matcher is None:
                return False, 0
            return self._matcher.adapter_state()

    def warm_in_background(self) -> threading.Thread:
        """Load the model and build the bank's index now, not on the first
        search: the first index of a new bank embeds every entry (a minute on
        a small machine; cached in the database after that)."""

        def warm():
            try:
                self.match_many(["warm-up"], top_k=1)
            except Exception:  # noqa: BLE001 - a search will report the problem to a person
                log.exception("warming the matcher failed")

        thread = threading.Thread(target=warm, name="aimsq-warm-up", daemon=True)
        thread.start()
        return thread


def matcher() -> MatchService:
    return current_app.extensions["aimsq_matcher"]


def files_dir() -> Path:
    return Path(current_app.config["AIMSQ_FILES_DIR"])


def stored_file(name: str) -> Path:
    """A stored file by its generated name (never a name a user typed)."""
    path = files_dir() / name
    if path.parent != files_dir() or not path.is_file():
        raise FileNotFoundError(name)
    return path


def run_autofill(qn_id: str, owner: str, *, only_pending: bool = False) -> None:
    """Propose answers for a questionnaire whose matching `owner` started
    (`ReviewStore.start_matching`): in a background thread (the page polls
    the progress), or inline in tests. While the thread works, a heartbeat
    renews the job's lease in the database, so no other server process
    restarts it; if this process dies, the lease runs out and one may."""
    app = current_app._get_current_object()
    service = matcher()
    db_path = app.config["AIMSQ_DB"]
    done = threading.Event()

    def work():
        db = review_db.connect(db_path)
        try:
            autofill(ReviewStore(db), qn_id, lambda texts: service.match_many(texts, top_k=4),
                     only_pending=only_pending, owner=owner)
        except Exception:  # noqa: BLE001 - recorded on the questionnaire; the thread must not die loudly
            log.exception("autofill of %s failed", qn_id)
        finally:
            done.set()
            db.conn.close()

    def heartbeat():
        db = review_db.connect(db_path)
        try:
            store = ReviewStore(db)
            while not done.wait(JOB_LEASE_SECONDS / 4):
                if not store.renew_lease(qn_id, owner):
                    break
        except Exception:  # noqa: BLE001 - the lease then runs out; the job itself goes on
            log.exception("renewing the lease of %s failed", qn_id)
        finally:
            db.conn.close()

    if app.config["AIMSQ_AUTOFILL_INLINE"]:
        work()
    else:
        threading.Thread(target=heartbeat, name=f"lease-{qn_id[:8]}", daemon=True).start()
        threading.Thread(target=work, name=f"autofill-{qn_id[:8]}", daemon=True).start()


def prepare_curation_schema(db_path: str) -> None:
    """Bring the curation tables up to date before the first request, so
    that no GET ever changes the database schema."""
    db = connect_bank(db_path)
    try:
        ensure_schema(db)
    finally:
        db.conn.close()


def init_app(app: Flask) -> None:
    prepare_curation_schema(app.config["AIMSQ_DB"])
    app.extensions["aimsq_matcher"] = MatchService(app.config["AIMSQ_DB"], app.config["AIMSQ_EMBEDDER"])
    app.teardown_appcontext(close_db)

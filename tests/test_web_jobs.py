"""Background autofill under several server processes: the job's owner and
lease live in the database, so a second app on the same database file never
restarts a job another worker is running, and takes over one whose worker is
gone (its lease ran out). Real SQLite, two `create_app` on one file; the
embedder is the FAKE one from conftest."""
from __future__ import annotations

import os
import threading

import pytest

from questionnaire import review_db
from questionnaire.review import JobLost, ReviewStore
from tests.web_helpers import (FakeEmbedder, client_as, csrf_token, make_xlsx, new_app, qn_id_from,
                               starter_questions, upload)


def _second_app(first):
    """Another server process's app: its own create_app on the same database file."""
    from web import create_app

    return create_app({"TESTING": True, "AIMSQ_DB": first.config["AIMSQ_DB"], "SECRET_KEY": "test-secret",
                       "AIMSQ_EMBEDDER": FakeEmbedder(), "AIMSQ_AUTOFILL_INLINE": True})


def _store(app) -> ReviewStore:
    return ReviewStore(review_db.connect(app.config["AIMSQ_DB"]))


def _uploaded(app) -> str:
    c = client_as(app, "editor")
    return qn_id_from(upload(c, make_xlsx(starter_questions(6)), "vendor.xlsx"))


def test_a_second_process_does_not_restart_a_running_job(template_db, tmp_path):
    first = new_app(template_db, tmp_path, AIMSQ_AUTOFILL_INLINE=False)
    second = _second_app(first)
    qn_id = _uploaded(first)
    service = first.extensions["aimsq_matcher"]
    release, entered = threading.Event(), threading.Event()
    real = service.match_many

    def blocked(texts, top_k=5):  # the first process's worker, busy matching
        entered.set()
        assert release.wait(60)
        return real(texts, top_k=top_k)

    service.match_many = blocked
    one = client_as(first, "editor")
    r = one.post(f"/q/{qn_id}/autofill", data={"csrf_token": csrf_token(one, f"/q/{qn_id}")})
    assert r.status_code == 302
    assert entered.wait(60)
    owner = _store(first).job_owner_of(qn_id)
    assert owner.split(":")[1] == str(os.getpid()) and _store(second).job_is_live(qn_id)
    try:
        two = client_as(second, "editor")
        page = two.get(f"/q/{qn_id}/progress").get_data(as_text=True)
        assert "interrupted" not in page and "Start again" not in page
        r = two.post(f"/q/{qn_id}/autofill", data={"csrf_token": csrf_token(two, f"/q/{qn_id}/progress")})
        assert r.status_code == 400
        assert "being proposed for this questionnaire already" in r.get_data(as_text=True)
        store = _store(second)
        assert store.get(qn_id).status == "matching" and store.job_owner_of(qn_id) == owner
    finally:
        release.set()
    for t in threading.enumerate():
        if t.name.startswith(("autofill-", "lease-")):
            t.join(60)
    qn = _store(first).get(qn_id)
    assert qn.status == "review" and qn.progress_done == 6
    assert not _store(first).job_is_live(qn_id)


def test_a_second_process_takes_over_a_job_whose_worker_is_gone(template_db, tmp_path):
    first = new_app(template_db, tmp_path)
    second = _second_app(first)
    qn_id = _uploaded(first)
    # A worker that started the job and died: its lease has run out.
    _store(first).start_matching(qn_id, user="eddie", owner="gone-host:1:dead", lease_seconds=0)
    two = client_as(second, "editor")
    page = two.get(f"/q/{qn_id}/progress").get_data(as_text=True)
    assert "This run was interrupted" in page and "Start again" in page
    r = two.post(f"/q/{qn_id}/autofill", data={"csrf_token": csrf_token(two, f"/q/{qn_id}/progress")})
    assert r.status_code == 302
    store = _store(second)
    qn = store.get(qn_id)
    assert qn.status == "review" and qn.progress_done == 6
    assert store.job_owner_of(qn_id) != "gone-host:1:dead"
    assert sum(q.proposed is not None for q in store.questions(qn_id)) >= 5
    # Were the old worker only slow, not gone, it can no longer write.
    with pytest.raises(JobLost):
        store.store_matches(qn_id, [], 0, owner="gone-host:1:dead")
    assert store.finish_matching(qn_id, error="late", owner="gone-host:1:dead") is False
    assert store.get(qn_id).status == "review" and store.get(qn_id).error is None


def test_inline_autofill_leaves_no_live_job(template_db, tmp_path):
    app = new_app(template_db, tmp_path)  # AIMSQ_AUTOFILL_INLINE
    qn_id = _uploaded(app)
    c = client_as(app, "editor")
    c.post(f"/q/{qn_id}/autofill", data={"csrf_token": csrf_token(c, f"/q/{qn_id}")})
    store = _store(app)
    assert store.get(qn_id).status == "review" and not store.job_is_live(qn_id)
    assert store.job_owner_of(qn_id).startswith(f"{os.uname().nodename}:{os.getpid()}:")


def test_the_heartbeat_keeps_the_job_and_only_its_owner_renews_it(template_db, tmp_path):
    app = new_app(template_db, tmp_path)
    qn_id = _uploaded(app)
    store = _store(app)
    store.start_matching(qn_id, user="eddie", owner="host:1:me", lease_seconds=0)
    assert not store.job_is_live(qn_id)  # expired: another worker may take it over
    assert store.renew_lease(qn_id, "host:1:me")  # the worker's heartbeat
    assert store.job_is_live(qn_id)
    assert not store.renew_lease(qn_id, "host:2:other")
    assert store.release_expired_job(qn_id, error="interrupted", rematch=False) is False  # live: left alone
    assert store.get(qn_id).status == "matching"
    assert store.finish_matching(qn_id, owner="host:1:me") and not store.job_is_live(qn_id)
    assert not store.renew_lease(qn_id, "host:1:me")  # finished: nothing to renew

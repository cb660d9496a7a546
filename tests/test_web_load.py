"""A bounded load test: the app served by waitress (a subprocess on
127.0.0.1, a free port), 4 clients x 250 review actions on the same
questions, so they collide. No 5xx, no lost update (each question's final
version is 1 + the successful writes to it), and the audit rows equal the
successful writes. The embedder is the FAKE one (tests/conftest.py).

The test asserts the work done (every action answered, none lost), never how
long it took; bench/web_load_bench.py runs the same load and prints the
wall time and the latencies."""
from __future__ import annotations

import http.cookiejar
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from tests.web_helpers import (PASSWORD, client_as, make_xlsx, new_app, starter_questions, store_of,
                               uploaded_and_matched)

CLIENTS = 4
ACTIONS_PER_CLIENT = 250
QUESTIONS = 30
REPO = Path(__file__).resolve().parents[1]

SERVER = """
import sys
sys.path.insert(0, {repo!r})
from waitress import serve
from tests.conftest import FakeEmbedder
from web import create_app
app = create_app({{"AIMSQ_DB": {db!r}, "SECRET_KEY": "load-test", "AIMSQ_EMBEDDER": FakeEmbedder()}})
serve(app, host="127.0.0.1", port={port}, threads=8, ident="aimsq-load")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """A signed-in browser stand-in: cookies, the CSRF token, JSON actions."""

    def __init__(self, base: str, name: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.get("/login")[1]
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        status, _ = self.post("/login", {"name": name, "password": PASSWORD, "csrf_token": token})
        assert status == 200, status  # followed the redirect to the questionnaires
        self.token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', self.get("/q/")[1]).group(1)

    def _open(self, req) -> tuple[int, str]:
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def get(self, path):
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path, data, headers=None):
        body = urllib.parse.urlencode(data).encode()
        return self._open(urllib.request.Request(self.base + path, data=body, headers=headers or {}, method="POST"))


def start_server(template_db, tmp_path) -> tuple[dict, subprocess.Popen]:
    """A questionnaire of QUESTIONS matched questions, served by waitress in a
    subprocess; ({base, qn_id, questions, app}, the process). Raises
    RuntimeError when the server does not come up (30 polls of its port)."""
    app = new_app(template_db, tmp_path)
    editor = client_as(app, "editor")
    qn_id = uploaded_and_matched(app, editor, make_xlsx(starter_questions(QUESTIONS)), "load.xlsx")
    store = store_of(app)
    questions = store.questions(qn_id)
    store.db.conn.close()
    port = _free_port()
    script = SERVER.format(repo=str(REPO), db=app.config["AIMSQ_DB"], port=port)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for _ in range(150):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("the server did not start: " + proc.stdout.read().decode()[-2000:])
    if proc.poll() is not None:
        raise RuntimeError("the server did not start: " + proc.stdout.read().decode()[-2000:])
    return {"base": f"http://127.0.0.1:{port}", "qn_id": qn_id, "questions": questions, "app": app}, proc


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def served(template_db, tmp_path):
    try:
        served, proc = start_server(template_db, tmp_path)
    except RuntimeError as e:
        pytest.fail(str(e))
    yield served
    stop_server(proc)


def run_load(base: str, qn_id: str, questions) -> list[dict]:
    """CLIENTS signed-in clients, ACTIONS_PER_CLIENT random review actions each
    on the same questions; one dict per request (client, question, status,
    ms, action)."""
    names = ["eddie", "eddie2", "april", "april2"]
    results: list[dict] = []
    lock = threading.Lock()

    def work(n: int):
        rnd = random.Random(n)
        client = Client(base, names[n])
        versions = {q.id: q.version for q in questions}
        for i in range(ACTIONS_PER_CLIENT):
            q = rnd.choice(questions)
            choice = rnd.random()
            data = {"csrf_token": client.token, "version": versions[q.id]}
            if choice < 0.35 and q.proposed:
                data["action"] = "accept"
            elif choice < 0.5 and q.alternatives:
                data.update(action="pick:" + q.alternatives[0]["id"], confirmed="1")  # a weak one asks first
            elif choice < 0.65:
                data.update(action="edit", narrative=f"answer {n}-{i}", short_answer=rnd.choice(["", "Yes", "No"]))
            elif choice < 0.8:
                data.update(action="needs_expert", note=f"note {n}-{i}")
            elif choice < 0.9:
                data["action"] = "blank"
            else:
                data["action"] = "reset"
            t0 = time.perf_counter()
            status, body = client.post(f"/q/{qn_id}/questions/{q.id}", data, {"X-Requested-With": "fetch"})
            elapsed = time.perf_counter() - t0
            payload = json.loads(body) if body.startswith("{") else {}
            if status == 200:
                versions[q.id] = payload["version"]
            elif status == 409:
                versions[q.id] = payload["version"]
            with lock:
                results.append({"client": n, "question": q.id, "status": status, "ms": elapsed * 1000,
                                "action": data["action"].split(":")[0]})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_four_clients_250_actions_each(served):
    base, qn_id, questions = served["base"], served["qn_id"], served["questions"]
    results = run_load(base, qn_id, questions)
    statuses = Counter(r["status"] for r in results)
    ok = [r for r in results if r["status"] == 200]
    assert len(results) == CLIENTS * ACTIONS_PER_CLIENT, "a client stopped early (see its exception above)"
    assert not [r for r in results if r["status"] >= 500]
    assert set(statuses) <= {200, 409}, statuses
    store = store_of(served["app"])
    audit = store.actions(qn_id, review_only=True)
    assert len(audit) == len(ok)
    per_question = Counter(r["question"] for r in ok)
    for q in store.questions(qn_id):
        assert q.version == 1 + per_question[q.id], f"question {q.id}: a write was lost or doubled"
    # The audit's last row per question is the question's state now.
    latest = {}
    for row in reversed(audit):
        latest[row["question_id"]] = json.loads(row["after"])
    for q in store.questions(qn_id):
        if q.id in latest:
            assert latest[q.id]["status"] == q.status and latest[q.id]["version"] == q.version

"""Benchmarks of the review web app (`make bench` runs this; prints, asserts nothing).

1. Speed: the review page of a 500-question questionnaire (server time, the
   Flask app in process, real bundled model for the proposals), at the
   default page size and with all 500 on one page; then review actions
   (accept / edit / needs expert / blank), median and p95 server time.
   Targets (issue 4): page <= 1 s, action <= 200 ms.
2. Learning from review: on each matching set in ../shared/bench/sets, the
   questions are split in two halves (even / odd rows). Questionnaire A is
   reviewed by a simulated reviewer who accepts the right entry when the
   matcher offers it (proposal or alternative), through the same code as the
   web app (questionnaire.review + questionnaire.learning). Then:
   - "next questionnaire, other questions": half B, matched before and after;
   - "next questionnaire, same wording": A's questions asked again (another
     customer using the same template), before and after.
"""
from __future__ import annotations

import io
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from common import SETS, read_csv, score_results  # noqa: E402

PASSWORD = "bench-password-123"


# ---- 1. speed ---------------------------------------------------------------


def _xlsx(questions: list[str]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Questionnaire"
    ws.append(["ID", "Question", "Answer", "Comments"])
    for i, q in enumerate(questions, start=1):
        ws.append([f"Q-{i}", q, None, None])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _bench_questions(n: int) -> list[str]:
    """500 questions: the starter bank's phrasings and, when present, real
    questionnaire questions from the shared sets (a realistic mix of hits and misses)."""
    from answer_bank.starter import starter_entries

    pool = []
    for e in starter_entries():
        pool.append(e.question)
        pool.extend(e.variants)
    for name in ("hecvat-v3-v4-dev", "caiq-ccm"):
        path = SETS / name / "questions.csv"
        if path.exists():
            pool.extend(r["question"] for r in read_csv(path))
    rnd = random.Random(7)
    rnd.shuffle(pool)
    out = list(dict.fromkeys(pool))[:n]
    while len(out) < n:
        out.append(f"Additional question {len(out)}: {rnd.choice(pool)}")
    return out


def _token(html: str) -> str:
    import re

    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def speed() -> None:
    from answer_bank.starter import starter_entries
    from answer_bank.store import Bank
    from questionnaire import review_db
    from questionnaire.users import Users
    from web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "aimsq.db"
        bank = Bank.open(db_path)
        bank.import_entries(starter_entries(), approve=True, user="bench")
        bank.close()
        db = review_db.connect(db_path)
        Users(db).add("bench", "editor", PASSWORD, created_by="bench")
        db.conn.close()
        app = create_app({"AIMSQ_DB": str(db_path), "SECRET_KEY": "bench", "AIMSQ_AUTOFILL_INLINE": True})
        c = app.test_client()
        c.post("/login", data={"name": "bench", "password": PASSWORD, "csrf_token": _token(c.get("/login").text)})
        token = _token(c.get("/q/new").text)
        t0 = time.perf_counter()
        r = c.post("/q/new", data={"csrf_token": token, "customer": "Bench", "file": (io.BytesIO(_xlsx(_bench_questions(500))), "bench.xlsx")},
                   content_type="multipart/form-data")
        qn_id = r.headers["Location"].rstrip("/").split("/")[-1]
        t_upload = time.perf_counter() - t0
        t0 = time.perf_counter()
        c.post(f"/q/{qn_id}/autofill", data={"csrf_token": token})
        t_autofill = time.perf_counter() - t0
        print(f"500-question XLSX: upload + detection {t_upload * 1000:.0f} ms; "
              f"proposing answers (real model, incl. loading it) {t_autofill:.1f} s")
        for per in (100, 500):
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                r = c.get(f"/q/{qn_id}/review?per={per}")
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200
            print(f"review page, {per} questions shown of 500: median {statistics.median(times) * 1000:.0f} ms, "
                  f"max {max(times) * 1000:.0f} ms, {len(r.data) / 1024:.0f} KiB  (target <= 1000 ms)")
        from questionnaire.review import ReviewStore

        store = ReviewStore(review_db.connect(db_path))
        questions = store.questions(qn_id)
        rnd = random.Random(1)
        times_by_action: dict[str, list[float]] = {}
        for q in rnd.sample(questions, 120):
            q = store.question(q.id)
            if q.proposed and rnd.random() < 0.4:
                data = {"action": "accept"}
            elif rnd.random() < 0.4:
                data = {"action": "edit", "narrative": "Edited answer for the bench.", "short_answer": "Yes"}
            elif rnd.random() < 0.5:
                data = {"action": "needs_expert", "note": "bench"}
            else:
                data = {"action": "blank"}
            data.update(csrf_token=token, version=q.version)
            t0 = time.perf_counter()
            r = c.post(f"/q/{qn_id}/questions/{q.id}", data=data, headers={"X-Requested-With": "fetch"})
            times_by_action.setdefault(data["action"], []).append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text[:300]
        every = sorted(t for ts in times_by_action.values() for t in ts)
        print(f"review action (with learning): median {statistics.median(every) * 1000:.0f} ms, "
              f"p95 {every[int(len(every) * 0.95)] * 1000:.0f} ms over {len(every)}  (target <= 200 ms)")
        for action, ts in sorted(times_by_action.items()):
            print(f"  {action:<13} n={len(ts):<3} median {statistics.median(ts) * 1000:.0f} ms, max {max(ts) * 1000:.0f} ms")
        token = _token(c.get(f"/q/{qn_id}/review").text)
        t0 = time.perf_counter()
        c.post(f"/q/{qn_id}/bulk-accept", data={"csrf_token": token, "tier": "high"})
        t_bulk = time.perf_counter() - t0
        accepted = store.counts(qn_id)["by_status"]["accepted"]
        print(f"bulk accept of the high tier: {t_bulk * 1000:.0f} ms ({accepted} accepted in all)")
        t0 = time.perf_counter()
        c.post(f"/q/{qn_id}/export", data={"csrf_token": token})
        print(f"export of the filled XLSX + summary: {(time.perf_counter() - t0) * 1000:.0f} ms")
        store.db.conn.close()


# ---- 2. learning from review ------------------------------------------------


def _score(matcher, rows: list[dict]) -> dict[str, float]:
    results = matcher.match_many([r["question"] for r in rows], top_k=5)
    s = score_results(rows, results)
    return {"top1": s["top1"], "accuracy": s["accuracy"], "answered": s["answered"], "wrong": s["wrong_share"]}


def _fmt(s: dict[str, float]) -> str:
    return (f"top-1 {s['top1']:.3f}  accuracy {s['accuracy']:.3f}  answered {s['answered']:.2f}  "
            f"wrong {s['wrong'] * 100:.1f} %")


def learning() -> None:
    from answer_bank.embeddings import embedder_from_env
    from answer_bank.io import read_entries
    from answer_bank.matching import Matcher
    from answer_bank.store import Bank
    from ingest.model import IngestHints, IngestResult, Locator, Question
    from questionnaire import review_db
    from questionnaire.learning import learn
    from questionnaire.review import ReviewStore, autofill

    sets = [p for p in sorted(SETS.glob("*")) if (p / "bank.csv").exists()] if SETS.exists() else []
    if not sets:
        print(f"learning bench skipped: no sets under {SETS}")
        return
    embedder = embedder_from_env()
    for set_dir in sets:
        rows = read_csv(set_dir / "questions.csv")
        half_a, half_b = rows[0::2], rows[1::2]
        with tempfile.TemporaryDirectory() as tmp:
            db_path = Path(tmp) / "aimsq.db"
            bank = Bank(review_db.connect(db_path), str(db_path))
            with open(set_dir / "bank.csv", "rb") as fp:
                bank.import_entries(read_entries(fp, "csv"), approve=True, user="bench")
            matcher = Matcher(bank, embedder)
            before_b, before_a = _score(matcher, half_b), _score(matcher, half_a)
            # Questionnaire A goes through review as in the web app.
            store = ReviewStore(bank.db)
            questions = [Question(text=r["question"], answer_at=Locator(row=i + 2, column="answer"), ref=r["qid"])
                         for i, r in enumerate(half_a)]
            qn_id = store.create_questionnaire(customer="A", due_date=None, owner="bench", filename="a.csv", fmt="csv",
                                               stored_name="none", size=0, hints=IngestHints(),
                                               result=IngestResult("csv", questions))
            store.start_matching(qn_id, user="bench")
            autofill(store, qn_id, lambda texts: matcher.match_many(texts, top_k=4))
            qn = store.get(qn_id)
            accepted = 0
            for q, row in zip(store.questions(qn_id), half_a):
                expected = set(row["expected"].split("|"))
                if q.proposed in expected:
                    q = store.review(q.id, "accept", user="reviewer", expected_version=q.version)
                else:
                    pick = next((c["id"] for c in q.candidates if c["id"] in expected), None)
                    if pick is None:
                        continue  # the reviewer writes or leaves it blank: nothing to learn from
                    q = store.review(q.id, "pick", user="reviewer", expected_version=q.version, candidate=pick)
                learn(bank, qn, q, user="reviewer")
                accepted += 1
            after_b, after_a = _score(matcher, half_b), _score(matcher, half_a)
            print(f"\n{set_dir.name}: questionnaire A = {len(half_a)} questions, {accepted} accepted matches fed back")
            print(f"  next questionnaire, other questions (half B, {len(half_b)}):")
            print(f"    before  {_fmt(before_b)}")
            print(f"    after   {_fmt(after_b)}")
            print("  next questionnaire, same wording (half A again):")
            print(f"    before  {_fmt(before_a)}")
            print(f"    after   {_fmt(after_a)}")
            bank.db.conn.close()


if __name__ == "__main__":
    which = sys.argv[1:] or ["speed", "learning"]
    if "speed" in which:
        print("== review app speed")
        speed()
    if "learning" in which:
        print("\n== learning from review")
        learning()

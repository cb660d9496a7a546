"""Curation on the starter AIMS bank: how long coverage, the check, the pack
and a backup take, and what the check finds (clean bank, planted re-phrasings).

Prints numbers; asserts nothing. Uses the real bundled model for the check.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from answer_bank.backup import backup  # noqa: E402
from answer_bank.checks import find_findings  # noqa: E402
from answer_bank.coverage import FRAMEWORKS, coverage, coverage_svg  # noqa: E402
from answer_bank.embeddings import CachedEmbedder, embedder_from_env  # noqa: E402
from answer_bank.model import BankEntry  # noqa: E402
from answer_bank.pack import build_pack  # noqa: E402
from answer_bank.starter import starter_entries  # noqa: E402
from answer_bank.store import Bank  # noqa: E402

# (kind, starter entry it re-asks, question, answer, short answer). The first
# nine are the plants of tests/test_checks.py; the "hard" ones change most
# words or use abbreviations.
PLANTS = [
    ("duplicate", "AIMS-DAT-006", "Is customer data used to train or improve your AI models?", "No. Never.", "No"),
    ("duplicate", "AIMS-ISEC-001", "Is all customer data encrypted at rest?", "Yes, with AES-256.", "Yes"),
    ("duplicate", "AIMS-FAIR-001", "Do you test your AI models for bias and fairness?", "Yes.", "Yes"),
    ("duplicate", "AIMS-TP-002", "Who are your subprocessors and how do you notify customers of changes?", "See portal.", None),
    ("conflict", "AIMS-DAT-006", "Do you use customer data to train your AI models?", "Yes, to improve them.", "Yes"),
    ("conflict", "AIMS-ISEC-010", "How are your backups managed and protected?", "Retained for 90 days.", None),
    ("conflict", "AIMS-PRV-004", "Do you log the prompts and document text sent to your AI models, and for how long?",
     "Yes. Kept for 90 days.", "Yes"),
    ("conflict", "AIMS-ISEC-007", "Do you hold ISO/IEC 27001 certification?", "No. Working towards it.", "No"),
    ("conflict", "AIMS-PRV-001", "How long do you retain customer documents and AI outputs?", "Two years.", None),
    ("hard", "AIMS-SEC-002", "Do you carry out red teaming or adversarial testing of your AI models?", "Yes.", "Yes"),
    ("hard", "AIMS-ISEC-006", "Do you perform penetration tests by an independent firm?", "Yes.", "Yes"),
    ("hard", "AIMS-INC-001", "Do you have an AI incident response process?", "Yes.", "Yes"),
    ("hard", "AIMS-ISEC-004", "Is SSO supported for customer users?", "Yes.", "Yes"),
    ("hard", "AIMS-DEV-009", "Do you provide model cards for your AI models?", "Yes.", "Yes"),
    ("hard", "AIMS-ISEC-005", "Do your employees have to use MFA?", "Yes.", "Yes"),
]


def timed(label: str, fn, repeat: int = 1):
    best, result = None, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    print(f"  {label:<48} {best * 1000:9.1f} ms")
    return result


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bank = Bank.open(tmp / "bank.db")
        bank.import_entries(starter_entries(), approve=True, user="bench")
        print(f"starter bank: {bank.count()} entries")

        print("coverage")
        for key in FRAMEWORKS:
            report = timed(f"coverage {key}", lambda key=key: coverage(bank, key), repeat=3)
            print(f"    {report.summary()}")
        timed("coverage_svg iso42001", lambda: coverage_svg("iso42001", bank), repeat=3)

        print("pack (iso42001)")
        for fmt in ("docx", "xlsx"):
            data, info = timed(f"pack {fmt}", lambda fmt=fmt: build_pack(bank, "iso42001", fmt, organisation="Bench Ltd."))
            print(f"    {len(data):,} bytes, {info.entries} answers")

        print("backup")
        timed("backup (SQLite backup API)", lambda: backup(tmp / "bank.db", tmp / f"b-{time.time_ns()}.db"))

        print("check (real model)")
        raw = timed("load the model", lambda: _loaded(embedder_from_env()))
        cached = CachedEmbedder(raw, bank)
        clean = timed("check, cold (embeds every question text)", lambda: find_findings(bank, cached))
        timed("check, warm (vectors cached in the bank)", lambda: find_findings(bank, cached), repeat=3)
        print(f"    clean starter bank: {len(clean)} findings")
        for f in clean:
            print(f"      {f.kind} {f.a.ext_id} / {f.b.ext_id} {f.similarity:.3f} {f.overlap:.2f}")

        backup(tmp / "bank.db", tmp / "planted.db")  # never a file copy of a live WAL database
        planted = Bank.open(tmp / "planted.db")
        planted.import_entries([BankEntry(f"PLANT-{n}", q, a, short_answer=s, status="approved")
                                for n, (_, _, q, a, s) in enumerate(PLANTS)], user="bench", keep_status=True)
        found = {frozenset((f.a.ext_id, f.b.ext_id)): f.kind
                 for f in find_findings(planted, CachedEmbedder(raw, planted))}
        for group in ("duplicate", "conflict", "hard"):
            rows = [(n, target) for n, (kind, target, *_) in enumerate(PLANTS) if kind == group]
            hits = sum(1 for n, target in rows
                       if found.get(frozenset((target, f"PLANT-{n}"))) in ((group,) if group != "hard" else KINDS))
            print(f"    planted {group:<9}: {hits} of {len(rows)} found")
        extra = [k for k in found if not any(k == frozenset((t, f"PLANT-{n}")) for n, (_, t, *_) in enumerate(PLANTS))]
        print(f"    other findings after planting: {len(extra)}")
    return 0


KINDS = ("duplicate", "conflict")


def _loaded(embedder):
    embedder.embed(["warm up"])
    return embedder


if __name__ == "__main__":
    raise SystemExit(main())

"""Time and memory of every hostile input (`make bench` runs this; prints, asserts nothing).

The files are the table of tests/hostile_inputs.py (built in code, ~10 s to
build). For each: how long until the user has a message, reading in process
(`read_questionnaire`, and the bank reader `read_entries` as `bank import
--format` uses it, in the case's format), through the web upload (Flask test client, the
server side of one POST), and as a whole `aimsq ingest` process (imports
included); then the peak of traced Python memory while reading it. Target
(SECURITY.md, issue 13): a clear message within 5 s each, memory bounded.
Numbers are from the machine it runs on; on a shared machine they vary.
"""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PASSWORD = "bench-password-123"


def _outcome(read) -> str:
    from answer_bank.io import BankFileError
    from ingest.errors import IngestError

    try:
        read()
    except (IngestError, BankFileError) as e:
        return type(e).__name__
    return "read"


def _web_client(tmp: Path):
    from answer_bank.store import Bank
    from questionnaire import review_db
    from questionnaire.users import Users
    from web import create_app

    db_path = tmp / "aimsq.db"
    Bank.open(db_path).close()
    db = review_db.connect(db_path)
    Users(db).add("bench", "editor", PASSWORD, created_by="bench")
    db.conn.close()
    app = create_app({"AIMSQ_DB": str(db_path), "SECRET_KEY": "bench"})
    c = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', c.get("/login").text).group(1)
    c.post("/login", data={"name": "bench", "password": PASSWORD, "csrf_token": token})
    return c


def _web_upload(c, data: bytes, filename: str) -> tuple[float, int]:
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', c.get("/q/new").text).group(1)
    start = time.perf_counter()
    r = c.post("/q/new", data={"csrf_token": token, "customer": "Bench", "file": (io.BytesIO(data), filename)},
               content_type="multipart/form-data")
    return time.perf_counter() - start, r.status_code


def main() -> None:
    from answer_bank.io import read_entries
    from ingest import read_questionnaire
    from tests.hostile_inputs import CASES

    start = time.perf_counter()
    built = [(case, case.data()) for case in CASES]
    print(f"hostile inputs: {len(built)} files built in {time.perf_counter() - start:.1f} s")
    print(f"{'case':4} {'input':38} {'size':>8} {'ingest':>8} {'bank':>8} {'web':>8} {'CLI':>8} "
          f"{'peak MB':>8}  outcome")
    aimsq = Path(sys.executable).with_name("aimsq")
    slowest = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        client = _web_client(tmp_path)
        for case, data in built:
            def ingest():
                return read_questionnaire(io.BytesIO(data), case.filename)

            def bank():
                return read_entries(io.BytesIO(data), case.bank_format)

            t0 = time.perf_counter()
            outcome = _outcome(ingest)
            t_ingest = time.perf_counter() - t0
            t0 = time.perf_counter()
            bank_outcome = _outcome(bank)
            t_bank = time.perf_counter() - t0
            t_web, status = _web_upload(client, data, case.filename)
            path = tmp_path / case.filename
            path.write_bytes(data)
            t_cli = float("nan")
            if aimsq.exists():
                t0 = time.perf_counter()
                subprocess.run([str(aimsq), "--db", str(tmp_path / "cli.db"), "ingest", str(path)],
                               capture_output=True, check=False)
                t_cli = time.perf_counter() - t0
            tracemalloc.start()
            _outcome(ingest)
            _outcome(bank)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            slowest = max(slowest, t_ingest, t_bank, t_web, t_cli if t_cli == t_cli else 0.0)
            print(f"{case.case:4} {case.name[:38]:38} {len(data) / 1e6:6.2f}MB {t_ingest:7.2f}s {t_bank:7.2f}s "
                  f"{t_web:7.2f}s {t_cli:7.2f}s {peak / 1048576:8.1f}  {outcome}; bank {bank_outcome}; web {status}",
                  flush=True)
    print(f"hostile inputs: slowest {slowest:.2f} s (target < 5 s each; CLI = whole process incl. imports)")


if __name__ == "__main__":
    main()

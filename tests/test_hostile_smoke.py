"""The hostile-input smoke run: every file of tests/hostile_inputs.py is fed to
`aimsq ingest`, to `aimsq bank import` and to the web upload (Flask test
client; the embedder is the FAKE one), and must give a clear message that
names the problem (no traceback, no "unexpected error"), write nothing to the
bank, and stay within bounded memory. Time is not asserted here (no timed
asserts in tests): bench/hostile_bench.py prints it (`make bench`).

To add a case, append it to `CASES` in tests/hostile_inputs.py.
"""
from __future__ import annotations

import html
import io
import re
import tracemalloc

import pytest
from click.testing import CliRunner

from tests.hostile_inputs import CASES, Hostile
from tests.web_helpers import client_as, new_app, store_of, upload

MEMORY_BOUND = 128 * 1024 * 1024  # bytes traced while reading one file (the largest input is 8 MB)
BAD_SIGNS = ("Traceback", "unexpected error", "File \"")  # a stack trace or the CLI's last-resort message


def _ids(cases: list[Hostile]) -> list[str]:
    return [f"{c.case}:{c.name}" for c in cases]


def _clear(message: str, words: str) -> None:
    assert message.strip(), "no message at all"
    for sign in BAD_SIGNS:
        assert sign not in message, message[:2000]
    assert re.search(words, message, re.IGNORECASE), message[:2000]


def _bank_state(path) -> tuple[int, int]:
    from answer_bank.store import Bank

    bank = Bank.open(path)
    try:
        return bank.revision(), bank.count()
    finally:
        bank.close()


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory):
    """A bank with a few entries, made once; every import below must leave it as it is."""
    from cli import main

    folder = tmp_path_factory.mktemp("hostile-cli")
    db = folder / "bank.db"
    good = folder / "good.csv"
    good.write_text("id,question,answer,status\nENC-1,Do you encrypt data at rest?,Yes.,draft\n"
                    "MFA-1,Do you enforce MFA?,Yes.,draft\n")
    for args in (["init"], ["bank", "import", str(good)]):
        result = CliRunner().invoke(main, ["--db", str(db), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return db


@pytest.fixture(scope="module")
def web_app(template_db, tmp_path_factory):
    return new_app(template_db, tmp_path_factory.mktemp("hostile-web"))


def _cli(db, *args):
    from cli import main

    return CliRunner().invoke(main, ["--db", str(db), *args], catch_exceptions=False)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_cli_ingest(case: Hostile, tmp_path, cli_db):
    path = tmp_path / case.filename
    path.write_bytes(case.data())
    before = _bank_state(cli_db)
    result = _cli(cli_db, "ingest", str(path))
    if case.outcome == "read":
        assert result.exit_code == 0, result.output
        assert re.search(case.words, result.output), result.output
    else:
        assert result.exit_code != 0
        _clear(result.output, case.words)
    assert _bank_state(cli_db) == before


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_cli_bank_import(case: Hostile, tmp_path, cli_db):
    # --format as the case says: the bank reader sees every file, whatever its name says
    path = tmp_path / case.filename
    path.write_bytes(case.data())
    before = _bank_state(cli_db)
    result = _cli(cli_db, "bank", "import", "--format", case.bank_format, str(path))
    assert result.exit_code != 0, result.output
    _clear(result.output, case.bank_message)
    assert _bank_state(cli_db) == before


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_web_upload(case: Hostile, web_app):
    c = client_as(web_app, "editor")
    before = _bank_state(web_app.config["AIMSQ_DB"])
    known = {q.id for q in store_of(web_app).list()}
    r = upload(c, case.data(), case.filename)
    if case.outcome == "read":
        assert r.status_code == 302, r.get_data(as_text=True)[:2000]
        page = html.unescape(c.get(r.headers["Location"]).get_data(as_text=True))
        assert re.search(case.words, page)
    else:
        assert r.status_code in (400, 413, 422), r.status_code
        page = html.unescape(r.get_data(as_text=True))
        assert "Traceback" not in page and "unexpected error" not in page
        assert re.search(case.words, page, re.IGNORECASE), page[:3000]
        assert {q.id for q in store_of(web_app).list()} == known  # no questionnaire stored
    assert _bank_state(web_app.config["AIMSQ_DB"]) == before


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_memory_is_bounded(case: Hostile):
    from answer_bank.io import BankFileError, read_entries
    from ingest import read_questionnaire
    from ingest.errors import IngestError

    data = case.data()
    tracemalloc.start()
    try:
        for read in (lambda: read_questionnaire(io.BytesIO(data), case.filename),
                     lambda: read_entries(io.BytesIO(data), "xlsx")):
            try:
                read()
            except (IngestError, BankFileError):
                pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{peak / 1048576:.0f} MB"

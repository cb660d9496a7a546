"""Last year's completed CAIQ answers this year's blank CAIQ: the export writes
into the answer and comment columns and nowhere else, and its report counts
exactly the cells that changed. Real file, real bank, real model; skips
without ../shared.

The count answered is not asserted (matching improves independently); the
invariants are.
"""
from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner

from ingest import read_questionnaire
from ingest.guard import Limits
from ingest.xlsx_package import _Package
from ingest.xlsx_refs import split_cell
from ingest.xlsx_write import _rezip, patch_sheet_xml
from cli import main
from tests.conftest import shared_path
from tests.ingest_fixtures import xlsx_cell_values

pytestmark = [pytest.mark.corpus, pytest.mark.filterwarnings("ignore::UserWarning")]


def _blank_copy(data: bytes, cells: set[tuple[str, str]]) -> bytes:
    """The workbook with `cells` emptied, through the exporter's own sheet patching."""
    pkg = _Package(data, Limits.from_env())
    replaced = {}
    for info in pkg.sheets:
        mine = {split_cell(c): "" for s, c in cells if s == info.name}
        if mine:
            replaced[info.part], _ = patch_sheet_xml(pkg.read(info.part), mine, sheet=info.name)
    return _rezip(pkg.zf, replaced, set())


def test_caiq_autofill_changes_only_answer_and_comment_cells(tmp_path):
    src = shared_path("corpus", "xlsx", "caiq-v4.0.3-completed.xlsx")
    completed = src.read_bytes()
    questions = read_questionnaire(io.BytesIO(completed), src.name).questions
    answer_cells = {(q.answer_at.sheet, q.answer_at.cell) for q in questions}
    answer_cells |= {(q.comment_at.sheet, q.comment_at.cell) for q in questions if q.comment_at}
    db = tmp_path / "bank.db"
    imported = CliRunner().invoke(main, ["--db", str(db), "bank", "import-questionnaire", str(src), "--approve"])
    assert imported.exit_code == 0, imported.output

    blank = tmp_path / "caiq-this-year.xlsx"
    blank.write_bytes(_blank_copy(completed, answer_cells))
    before = xlsx_cell_values(blank.read_bytes())
    assert not answer_cells & set(before)  # the copy really is blank where answers go
    assert not read_questionnaire(io.BytesIO(blank.read_bytes()), blank.name).questions[0].existing_answer

    out = tmp_path / "caiq-answered.xlsx"
    result = CliRunner().invoke(main, ["--db", str(db), "autofill", str(blank), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    after = xlsx_cell_values(out.read_bytes())

    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed, "the bank made from the same questionnaire answered nothing"
    assert changed <= answer_cells, sorted(changed - answer_cells)[:10]
    assert report["cells_written"] == len(changed)
    reported = {w for q in report["questions"] for w in q["where"]}
    assert reported == {f"{s}!{c}" for s, c in changed}
    assert report["written"] == sum(1 for q in report["questions"] if q["outcome"] == "written")
    assert report["written"] + report["kept"] + report["skipped"] == len(report["questions"]) == len(questions)
    for q in report["questions"]:
        assert (q["outcome"] == "written") == bool(q["where"])
        if q["outcome"] != "written":
            assert q["reason"], q
    # every written answer is one the customer's dropdown allows
    options = {(q.answer_at.sheet, q.answer_at.cell): q.options for q in questions}
    for key in changed:
        if options.get(key):
            assert after[key] in options[key], (key, after[key])


CORPUS_FILES = [("xlsx", n) for n in ("caiq-v4.0.3-completed.xlsx", "hecvat-4.12-completed-vendor.xlsx",
                                      "hecvat-full-v3.06.xlsx", "hecvat-triage-v2.10.xlsx", "supply-chain-risk-es.xlsx")]
CORPUS_FILES += [("docx", n) for n in ("esg-supplier-questionnaire-excerpt-yes-no.docx", "ico-dpia-template.docx",
                                       "nist-sp800-171-ssp-template.docx")]


@pytest.mark.parametrize("kind, name", CORPUS_FILES)
def test_every_real_file_reports_exactly_the_places_that_changed(kind, name):
    """Answer every question of a real form (a third "Partial", which many
    dropdowns refuse): the report's count of changed places equals a diff of
    the output against the input, and in a workbook nothing outside the
    questions' answer, comment and mark cells changes."""
    from ingest import write_answers_report
    from ingest.fill import where
    from ingest.model import AnswerFill
    from tests.test_export_roundtrip import docx_changed_places

    data = shared_path("corpus", kind, name).read_bytes()
    questions = read_questionnaire(io.BytesIO(data), name).questions
    fills = [AnswerFill(q, "Partial" if i % 3 == 0 else "Yes", f"Answer {i} from the bank.")
             for i, q in enumerate(questions)]
    out, report = write_answers_report(data, name, fills)
    assert [r.question for r in report.questions] == questions
    for r in report.questions:
        assert (r.outcome == "written") == bool(r.changes) and (r.outcome == "written" or r.reason)
    if kind == "docx":
        assert docx_changed_places(data, out) == report.cells_written
        return
    before, after = xlsx_cell_values(data), xlsx_cell_values(out)
    changed = {f"{s}!{c}" for s, c in set(before) | set(after) if before.get((s, c)) != after.get((s, c))}
    assert changed == {where(w.at) for r in report.questions for w in r.changes}
    assert len(changed) == report.cells_written
    places = set()
    for q in questions:
        places |= {where(loc) for loc in (q.answer_at, q.comment_at) if loc is not None}
        places |= {where(loc) for _, loc in q.answer_at.marks or ()}
    assert changed <= places

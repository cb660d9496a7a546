"""Every Word file in ../shared/corpus/docx: question counts, hand-checked samples, round trips.

The expected values were counted by opening each file (python-docx and the raw
XML), not by running the reader. The corpus is never copied into the repo;
these tests skip when ../shared is absent.
"""
from __future__ import annotations

import io
import zipfile
from collections import Counter
from pathlib import Path

import docx
import pytest

from ingest.docx_format import read_docx, write_docx
from ingest.fill import plan_fill
from ingest.model import AnswerFill, Locator

pytestmark = pytest.mark.corpus

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
DOCX = CORPUS / "docx"
ESG = "esg-supplier-questionnaire-excerpt-yes-no.docx"
ICO = "ico-dpia-template.docx"
NIST = "nist-sp800-171-ssp-template.docx"
ASVS = "owasp-asvs-4.0.3-en.docx"

_cache: dict[str, tuple[bytes, object]] = {}


def load(name: str):
    """(bytes, IngestResult) of one corpus file, read once per session."""
    path = DOCX / name
    if not path.exists():
        pytest.skip(f"{path} is not available (../shared is absent)")
    if name not in _cache:
        data = path.read_bytes()
        _cache[name] = (data, read_docx(data))
    return _cache[name]


def test_every_corpus_docx_is_covered():
    if not DOCX.exists():
        pytest.skip("../shared/corpus is absent")
    assert sorted(p.name for p in DOCX.glob("*.docx")) == sorted([ESG, ICO, NIST, ASVS])


# ---- ESG supplier questionnaire: one table, Yes / No columns ----------------------------------


def test_esg_yes_no_table():
    _, result = load(ESG)
    qs = result.questions
    assert len(qs) == 8
    assert [q.ref for q in qs] == [f"2.{n}" for n in range(14, 22)]
    assert {q.section for q in qs} == {"Social and Ethical Responsibilities (continued)"}
    assert all(q.answer_kind == "yes_no_na" and q.options == ["Yes", "No"] for q in qs)
    for row, q in enumerate(qs, start=1):
        assert dict(q.answer_at.marks) == {"Yes": Locator(table=0, row=row, col=4), "No": Locator(table=0, row=row, col=5)}
        assert q.comment_at is None and q.existing_answer is None
    assert qs[1].text == (
        "How does your company make sure that workers below the legal minimum age are not hired both "
        "directly or via agencies or contractors?"
    )
    assert qs[7].text == "Does your company have a formal policy for non-discrimination?"


# ---- ICO sample DPIA template: 2x1 prompt/answer tables, forms, a risk table, sign-off --------------


def test_ico_dpia_template():
    _, result = load(ICO)
    qs = result.questions
    assert len(qs) == 26
    at = [q.answer_at for q in qs]
    # controller details: the answer beside each label
    assert [(q.text, q.answer_at) for q in qs[:3]] == [
        ("Name of controller", Locator(table=0, row=0, col=1)),
        ("Subject/title of DPO", Locator(table=0, row=1, col=1)),
        ("Name of controller contact /DPO (delete as appropriate)", Locator(table=0, row=2, col=1)),
    ]
    # steps 1-4: seven 2x1 tables, prompt above an empty answer cell
    assert at[3:10] == [Locator(table=t, row=1, col=0) for t in range(1, 8)]
    assert qs[3].text.startswith("Explain broadly what project aims to achieve")
    assert qs[3].section == "Step 1: Identify the need for a DPIA"
    assert qs[9].section == "Step 4: Assess necessity and proportionality"
    # step 5: the risk table, one question per column, hints become the options
    assert at[10:14] == [Locator(table=8, row=1, col=c) for c in range(4)]
    assert qs[11].text == "Likelihood of harm"
    assert (qs[11].answer_kind, qs[11].options) == ("choice", ["Remote", "Possible", "Probable"])
    assert qs[13].options == ["Low", "Medium", "High"]
    # step 6: under a merged title row
    assert at[14:19] == [Locator(table=9, row=2, col=c) for c in range(5)]
    assert qs[18].text.endswith(": Measure approved")
    assert (qs[18].answer_kind, qs[18].options) == ("yes_no_na", ["Yes", "No"])
    # step 7: sign-off; the Notes column is guidance, "Comments:" rows are comment places
    sign_off = [(q.text, q.answer_at, q.comment_at) for q in qs[19:]]
    assert sign_off == [
        ("Measures approved by:", Locator(table=10, row=1, col=1), None),
        ("Residual risks approved by:", Locator(table=10, row=2, col=1), None),
        ("DPO advice provided:", Locator(table=10, row=3, col=1), None),
        ("Summary of DPO advice:", Locator(table=10, row=4, col=0, insert_after=True), None),
        ("DPO advice accepted or overruled by:", Locator(table=10, row=5, col=1),
         Locator(table=10, row=6, col=0, insert_after=True)),
        ("Consultation responses reviewed by:", Locator(table=10, row=7, col=1),
         Locator(table=10, row=8, col=0, insert_after=True)),
        ("This DPIA will kept under review by:", Locator(table=10, row=9, col=1), None),
    ]
    assert all(q.existing_answer is None for q in qs)


# ---- NIST SP 800-171 SSP template: numbered requirements with checkbox tables ------------------------


def test_nist_ssp_requirements():
    _, result = load(NIST)
    qs = result.questions
    assert len(qs) == 138
    reqs = [q for q in qs if q.ref and q.ref.startswith("3.")]
    assert len(reqs) == 110
    # the numbers come from Word's numbering, not the text: the 14 families of SP 800-171 r2
    families = Counter(q.ref.rsplit(".", 1)[0] for q in reqs)
    assert families == {"3.1": 22, "3.2": 3, "3.3": 9, "3.4": 9, "3.5": 11, "3.6": 3, "3.7": 6, "3.8": 9,
                        "3.9": 2, "3.10": 6, "3.11": 3, "3.12": 4, "3.13": 16, "3.14": 7}
    options = ["Implemented", "Planned to be Implemented", "Not Applicable"]
    for table, q in enumerate(reqs, start=5):
        assert (q.answer_kind, q.options) == ("choice", options)
        assert dict(q.answer_at.marks) == {opt: Locator(table=table, row=0, col=c) for c, opt in enumerate(options)}
        assert q.comment_at == Locator(table=table, row=1, col=0, insert_after=True)
    first, last = reqs[0], reqs[-1]
    assert first.ref == "3.1.1" and first.text.startswith("Limit system access to authorized users")
    assert first.section == "3.1. Access Control"
    assert (last.ref, last.text) == ("3.14.7", "Identify unauthorized use of organizational systems.")
    q3131 = next(q for q in reqs if q.ref == "3.13.1")
    assert q3131.section == "3.13. System and Communications Protection"  # the template has no 3.13 heading


def test_nist_ssp_system_identification():
    _, result = load(NIST)
    qs = result.questions
    head = [(q.ref, q.text[:40], q.answer_at.to_json()) for q in qs[:2]]
    assert head == [
        ("1.1", "System Name/Title: [State the name of th", {"paragraph": 3, "insert_after": True}),
        ("1.1.2", "System Unique Identifier: [Insert the Sy", {"paragraph": 7, "insert_after": True}),
    ]
    tables = [q for q in qs if q.answer_at.table is not None and q.answer_at.table < 5]
    assert len(tables) == 20
    assert [q.text for q in tables[:3]] == [
        "Responsible Organization: Name", "Responsible Organization: Address", "Responsible Organization: Phone"]
    assert tables[0].answer_at == Locator(table=0, row=0, col=1)
    assert tables[-2:][0].text == "Number of Users" and tables[-1].answer_at == Locator(table=4, row=1, col=1)
    topology = next(q for q in qs if q.text.startswith("Include a detailed topology narrative"))
    assert topology.answer_at.to_json() == {"paragraph": 30, "insert_after": True}  # after its placeholder
    ownership = next(q for q in qs if q.text.startswith("Hardware and Software Maintenance"))
    assert (ownership.ref, ownership.answer_kind) == ("2.3", "yes_no_na")
    assert any("Table 115" in w and "register" in w for w in result.warnings)


# ---- OWASP ASVS: a standard, not a questionnaire -------------------------------------------------------


def test_asvs_is_a_standard():
    _, result = load(ASVS)
    assert result.kind == "standard"
    assert result.questions == []
    (warning,) = [w for w in result.warnings if "standard" in w]
    assert "L1, L2, L3" in warning and "1.1.1 Verify the use of a secure software development lifecycle" in warning
    count = int(warning.split("questionnaire: ")[1].split(" requirements")[0])
    assert count >= 286


# ---- round trips ------------------------------------------------------------------------------------------


def fills_for(result) -> list[AnswerFill]:
    fills = []
    for i, q in enumerate(result.questions):
        short = q.options[i % len(q.options)] if q.options else ("No" if q.answer_kind == "yes_no_na" else None)
        fills.append(AnswerFill(q, short, f"=Answer {i}: line one\nline two"))
    return fills


def places(q) -> set[tuple[int, int, int]]:
    out = set()
    for loc in [q.answer_at, q.comment_at, *[loc for _, loc in q.answer_at.marks or ()]]:
        if loc is not None and loc.table is not None:
            out.add((loc.table, loc.row, loc.col))
    return out


def shape(document):
    return [[[(tc.grid_span, tc.vMerge) for tc in tr.tc_lst] for tr in t._tbl.tr_lst] for t in document.tables]


@pytest.mark.parametrize("name", [ESG, ICO, NIST, ASVS])
def test_round_trip(name):
    data, result = load(name)
    fills = fills_for(result)
    out = write_docx(data, fills)
    with zipfile.ZipFile(io.BytesIO(data)) as a, zipfile.ZipFile(io.BytesIO(out)) as b:
        assert a.namelist() == b.namelist()
        changed = [n for n in a.namelist() if a.read(n) != b.read(n)]
    assert changed == ([] if not fills else ["word/document.xml"])
    before, after = docx.Document(io.BytesIO(data)), docx.Document(io.BytesIO(out))
    assert shape(before) == shape(after)
    # every cell that is not an answer place keeps its text
    answer_tcs = {before.tables[t].cell(r, c)._tc for q in result.questions for t, r, c in places(q)}
    for t, (ta, tb) in enumerate(zip(before.tables, after.tables)):
        for r, (ra, rb) in enumerate(zip(ta.rows, tb.rows)):
            for c, (ca, cb) in enumerate(zip(ra.cells, rb.cells)):
                if ca._tc not in answer_tcs:
                    assert ca.text == cb.text, (t, r, c)
    # body paragraphs: the same, plus one inserted answer paragraph per question without answer space
    inserted = sum(1 for q in result.questions if q.answer_at.paragraph is not None and q.answer_at.insert_after)
    texts_before = [p.text for p in before.paragraphs]
    texts_after = [p.text for p in after.paragraphs]
    assert len(texts_after) == len(texts_before) + inserted
    assert [t for t in texts_after if "=Answer " not in t] == texts_before
    # read again: the same questions, each with the answer that was written
    again = read_docx(out)
    assert [(q.ref, q.text) for q in again.questions] == [(q.ref, q.text) for q in result.questions]
    for old, new, fill in zip(result.questions, again.questions, fills):
        if not old.answer_at.insert_after or old.answer_at.table is not None:
            assert new.answer_at == old.answer_at
        written = {w.role: w.value for w in plan_fill(fill)[0]}
        # a mark reads back as the option it marks; text reads back as written
        expected = fill.short_answer if "mark" in written else written.get("answer")
        assert new.existing_answer == expected, old.text
        assert new.existing_comment == written.get("comment"), old.text
    # filling the filled copy again replaces the answers: nothing is added twice
    twice = write_docx(out, fills_for(again))
    assert len(docx.Document(io.BytesIO(twice)).paragraphs) == len(texts_after)
    assert shape(docx.Document(io.BytesIO(twice))) == shape(before)

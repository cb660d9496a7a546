"""SECURITY.md cases 14-16: fill a copy, reopen it, and prove nothing else changed."""
from __future__ import annotations

import io
import re
import zipfile

import openpyxl
import pytest
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.datavalidation import DataValidation

from ingest import read_questionnaire, write_answers, write_answers_report
from ingest.errors import ExportError
from ingest.model import AnswerFill
from tests.ingest_fixtures import openpyxl_workbook, xlsx_cell_values

X14_EXT = (
    '<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" '
    'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
    '<x14:dataValidations count="1" xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
    '<x14:dataValidation type="list" allowBlank="1" showErrorMessage="1"><x14:formula1><xm:f>Lists!$A$1:$A$3</xm:f>'
    "</x14:formula1><xm:sqref>D4:D9</xm:sqref></x14:dataValidation></x14:dataValidations></ext></extLst>"
)
FORMULA_LIKE = ["=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tleading tab", "\rleading CR"]


def _rich_workbook() -> bytes:
    def build(wb):
        ws = wb.active
        ws.title = "Questionnaire"
        ws["A1"] = "Vendor Security Questionnaire"
        ws["A1"].font = Font(bold=True, size=14)
        ws.merge_cells("A1:E1")
        ws["A2"] = "Answer every question. Explain any No in the comments."
        ws.merge_cells("A2:E2")
        ws.append(["ID", "Question", "Answer", "Ownership", "Comments", "Check"])
        thin = Side(style="thin")
        for i in range(1, 7):
            r = 3 + i
            ws.cell(r, 1, f"SEC-{i:02d}")
            ws.cell(r, 2, f"Is security control number {i} documented and reviewed?")
            ws.cell(r, 2).alignment = Alignment(wrap_text=True, vertical="top")
            ws.cell(r, 3).fill = PatternFill("solid", fgColor="FFF2CC")
            ws.cell(r, 3).border = Border(left=thin, right=thin, top=thin, bottom=thin)
            ws.cell(r, 5).alignment = Alignment(wrap_text=True)
            ws.cell(r, 6, f"=LEN(C{r})")
        ws["C5"] = "No"  # an existing answer the fill replaces
        ws["E10"] = "Untouched note below the table"
        ws.cell(10, 5).number_format = "@"
        dv = DataValidation(type="list", formula1='"Yes,No,N/A"', allow_blank=True)
        ws.add_data_validation(dv)
        dv.add("C4:C9")
        ws.conditional_formatting.add("C4:C9", CellIsRule(operator="equal", formula=['"No"'], fill=PatternFill("solid", fgColor="FFC7CE")))
        ws.column_dimensions["B"].width = 60
        ws.column_dimensions["E"].width = 45
        ws.column_dimensions["F"].hidden = True
        ws.row_dimensions[8].hidden = True
        ws.freeze_panes = "A4"
        lists = wb.create_sheet("Lists")
        for i, v in enumerate(["CSP-owned", "Shared", "Customer-owned"], start=1):
            lists.cell(i, 1, v)
        lists.sheet_state = "hidden"
        score = wb.create_sheet("Scoring")
        score["A1"] = "Score"
        score["B1"] = '=COUNTIF(Questionnaire!C4:C9,"Yes")'

    data = openpyxl_workbook(build)
    # add the x14 validation openpyxl cannot write (and would drop on save)
    z = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zo:
        for info in z.infolist():
            body = z.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(b"</worksheet>", X14_EXT.encode() + b"</worksheet>")
            zo.writestr(info, body)
    return out.getvalue()


@pytest.fixture(scope="module")
def original():
    return _rich_workbook()


@pytest.fixture(scope="module")
def filled(original):
    result = read_questionnaire(io.BytesIO(original), "rich.xlsx")
    assert [q.ref for q in result.questions] == [f"SEC-{i:02d}" for i in range(1, 7)]
    fills = [AnswerFill(q, ["Yes", "N/A", "No", "Partial", "Yes", "No"][i], FORMULA_LIKE[i])
             for i, q in enumerate(result.questions)]
    return result, write_answers(original, "rich.xlsx", fills)


def _answer_cells(result) -> set[tuple[str, str]]:
    cells = set()
    for q in result.questions:
        cells.add((q.answer_at.sheet, q.answer_at.cell))
        if q.comment_at:
            cells.add((q.comment_at.sheet, q.comment_at.cell))
    return cells


def test_answers_are_where_they_belong(filled):
    result, out = filled
    ws = openpyxl.load_workbook(io.BytesIO(out))["Questionnaire"]
    assert [ws[f"C{r}"].value for r in range(4, 10)] == ["Yes", "N/A", "No", None, "Yes", "No"]  # no "Partial" option
    assert [ws[f"E{r}"].value for r in range(4, 10)][:5] == FORMULA_LIKE[:5]
    assert ws["E9"].value in (FORMULA_LIKE[5], "_x000D_leading CR")  # openpyxl may leave Excel's escape as is
    again = read_questionnaire(io.BytesIO(out), "filled.xlsx")
    assert [q.existing_comment for q in again.questions] == [t.strip() for t in FORMULA_LIKE]
    assert [q.existing_answer for q in again.questions] == ["Yes", "N/A", "No", None, "Yes", "No"]


def test_formula_like_answers_are_strings_without_f_elements(filled):
    result, out = filled
    sheet = zipfile.ZipFile(io.BytesIO(out)).read("xl/worksheets/sheet1.xml")
    for r in range(4, 10):
        cell = re.search(rb'<c r="E%d"[^>]*>.*?</c>' % r, sheet).group(0)
        assert b"<f>" not in cell and b't="inlineStr"' in cell
    ws = openpyxl.load_workbook(io.BytesIO(out))["Questionnaire"]
    assert ws["E4"].data_type == "s" and ws["E4"].value == FORMULA_LIKE[0]


def test_nothing_else_changed_cell_by_cell_and_style_by_style(original, filled):
    result, out = filled
    targets = _answer_cells(result)
    a = openpyxl.load_workbook(io.BytesIO(original))
    b = openpyxl.load_workbook(io.BytesIO(out))
    assert a.sheetnames == b.sheetnames
    for wa in a.worksheets:
        wb_ = b[wa.title]
        assert wa.sheet_state == wb_.sheet_state
        assert sorted(map(str, wa.merged_cells.ranges)) == sorted(map(str, wb_.merged_cells.ranges))
        assert [(str(d.sqref), d.formula1, d.type) for d in wa.data_validations.dataValidation] == \
               [(str(d.sqref), d.formula1, d.type) for d in wb_.data_validations.dataValidation]
        assert [(str(r.sqref), [x.formula for x in r.rules]) for r in wa.conditional_formatting] == \
               [(str(r.sqref), [x.formula for x in r.rules]) for r in wb_.conditional_formatting]
        assert {k: (v.width, v.hidden) for k, v in wa.column_dimensions.items()} == \
               {k: (v.width, v.hidden) for k, v in wb_.column_dimensions.items()}
        assert {k: v.hidden for k, v in wa.row_dimensions.items()} == {k: v.hidden for k, v in wb_.row_dimensions.items()}
        assert wa.freeze_panes == wb_.freeze_panes
        coords = {c.coordinate for row in wa.iter_rows() for c in row} | {c.coordinate for row in wb_.iter_rows() for c in row}
        for coord in coords:
            ca, cb = wa[coord], wb_[coord]
            assert ca.style_id == cb.style_id, coord  # answer cells keep their style too
            assert ca.number_format == cb.number_format
            if (wa.title, coord) not in targets:
                assert ca.value == cb.value, coord


def test_x14_validation_and_other_parts_byte_identical(original, filled):
    _, out = filled
    za, zb = zipfile.ZipFile(io.BytesIO(original)), zipfile.ZipFile(io.BytesIO(out))
    assert za.namelist() == zb.namelist()
    changed = [n for n in za.namelist() if za.read(n) != zb.read(n)]
    assert set(changed) <= {"xl/worksheets/sheet1.xml", "xl/workbook.xml"}
    assert X14_EXT.encode() in zb.read("xl/worksheets/sheet1.xml")
    wa, wb_ = za.read("xl/workbook.xml"), zb.read("xl/workbook.xml")
    # at most: recalculate on opening (results that depend on the answers); nothing else
    assert wb_ == wa or wb_.replace(b' fullCalcOnLoad="1"', b"") == wa.replace(b' fullCalcOnLoad="1"', b"")


def test_untouched_cells_are_byte_identical_in_the_sheet_xml(original, filled):
    result, out = filled
    targets = {cell for _, cell in _answer_cells(result)}
    pattern = rb'<c r="([A-Z]+\d+)"[^>]*?(?:/>|>.*?</c>)'
    before = {m.group(1).decode(): m.group(0) for m in re.finditer(pattern, zipfile.ZipFile(io.BytesIO(original)).read("xl/worksheets/sheet1.xml"))}
    after = {m.group(1).decode(): m.group(0) for m in re.finditer(pattern, zipfile.ZipFile(io.BytesIO(out)).read("xl/worksheets/sheet1.xml"))}
    for coord, xml in before.items():
        if coord not in targets:
            assert after[coord] == xml, coord
    assert set(after) - set(before) <= targets


def test_written_option_is_one_the_dropdown_accepts(filled):
    result, out = filled
    for q in read_questionnaire(io.BytesIO(out), "filled.xlsx").questions:
        if q.existing_answer is not None:
            assert q.existing_answer in q.options


def test_too_long_answer_fails_naming_the_question_and_writes_nothing(original):
    result = read_questionnaire(io.BytesIO(original), "rich.xlsx")
    fills = [AnswerFill(result.questions[0], "Yes", "short"), AnswerFill(result.questions[2], "No", "y" * 33_000)]
    with pytest.raises(ExportError, match="SEC-03"):
        write_answers(original, "rich.xlsx", fills)


def test_csv_round_trip_changes_only_answer_fields():
    original = ('ID,Question,Answer,Comments,Owner\r\n"1.1","Do you encrypt, at rest?",,,alice\r\n'
                '1.2,"Multi\nline?",,,"bob ""the admin"""\r\n1.3,Do you log?,Yes,already,carol\r\n').encode("utf-8")
    result = read_questionnaire(io.BytesIO(original), "q.csv")
    fills = [AnswerFill(result.questions[0], "Yes", "=cmd"), AnswerFill(result.questions[1], "No", None)]
    out = write_answers(original, "q.csv", fills)
    import csv

    before = list(csv.reader(io.StringIO(original.decode(), newline="")))
    after = list(csv.reader(io.StringIO(out.decode(), newline="")))
    assert after[1][2:4] == ["Yes", "'=cmd"] and after[2][2] == "No"
    for rb, ra in zip(before, after):
        for j, (x, y) in enumerate(zip(rb, ra)):
            if j not in (2, 3):
                assert x == y
    assert after[3] == before[3]
    assert out.count(b"\r\n") == original.count(b"\r\n")


# ---- the export report is the truth: "written" = the cells that changed --------------------


def _changed(before: dict, after: dict) -> set:
    return {k for k in set(before) | set(after) if before.get(k) != after.get(k)}


def _where_changed(report) -> set[str]:
    from ingest.fill import where

    return {where(w.at) for q in report.questions for w in q.changes}


def _report_workbook() -> bytes:
    def build(wb):
        ws = wb.active
        ws.title = "Q"
        ws.append(["ID", "Question", "Answer", "Comments"])
        for i in range(1, 8):
            ws.append([f"R-{i}", f"Is control number {i} in place and reviewed?"])
        ws["C5"], ws["D5"] = "Yes", "Reviewed every year."  # R-4 already holds the answer the fill brings
        ws["C6"] = '=IF(A6="","","Yes")'  # R-5's answer cell is computed
        dv = DataValidation(type="list", formula1='"Yes,No"', allow_blank=True)
        ws.add_data_validation(dv)
        dv.add("C2:C8")
        wb.create_sheet("Score")["A1"] = '=COUNTIF(Q!C2:C8,"Yes")'

    return openpyxl_workbook(build)


def test_xlsx_report_counts_exactly_the_cells_that_changed():
    data = _report_workbook()
    qs = {q.ref: q for q in read_questionnaire(io.BytesIO(data), "r.xlsx").questions}
    assert qs["R-1"].options == ["Yes", "No"]
    qs["R-6"].not_writable = "the answer cell mirrors another sheet"
    fills = [
        AnswerFill(qs["R-1"], "Yes", "Encrypted at rest."),        # written: answer + comment
        AnswerFill(qs["R-2"], "Partial", "Only in production."),   # comment written, "Partial" is not an option
        AnswerFill(qs["R-3"], "Partial", None),                    # nothing the dropdown allows: skipped
        AnswerFill(qs["R-4"], "Yes", "Reviewed every year."),      # already there: kept
        AnswerFill(qs["R-5"], "Yes", None),                        # formula cell: skipped
        AnswerFill(qs["R-6"], "No", None),                         # not writable: skipped with the reader's reason
        AnswerFill(qs["R-7"], "No", "Planned for next quarter."),  # written
    ]
    out, report = write_answers_report(data, "r.xlsx", fills)
    outcome = {r.question.ref: r for r in report.questions}
    assert [r.question.ref for r in report.questions] == [f.question.ref for f in fills]
    assert {k: r.outcome for k, r in outcome.items()} == {
        "R-1": "written", "R-2": "written", "R-3": "skipped", "R-4": "kept", "R-5": "skipped",
        "R-6": "skipped", "R-7": "written"}
    assert "'Partial'" in outcome["R-3"].reason and "Yes, No" in outcome["R-3"].reason
    assert any("'Partial'" in n and "Yes, No" in n for n in outcome["R-2"].notes)
    assert "is a formula" in outcome["R-5"].reason
    assert outcome["R-6"].reason == "the answer cell mirrors another sheet"
    assert [(w.at.cell, w.value) for w in outcome["R-1"].changes] == [("C2", "Yes"), ("D2", "Encrypted at rest.")]
    before, after = xlsx_cell_values(data), xlsx_cell_values(out)
    changed = _changed(before, after)
    assert len(changed) == report.cells_written == 5
    assert {f"{s}!{c}" for s, c in changed} == _where_changed(report)
    assert after[("Q", "C6")] == before[("Q", "C6")] and after[("Score", "A1")] == before[("Score", "A1")]
    assert (len(report.written), len(report.kept), len(report.skipped)) == (3, 1, 3)
    # write_answers is the same copy without the report
    assert xlsx_cell_values(write_answers(data, "r.xlsx", fills)) == after


def test_xlsx_two_questions_with_one_cell_are_not_both_counted():
    data = _report_workbook()
    q1, q2 = read_questionnaire(io.BytesIO(data), "r.xlsx").questions[:2]
    q2.answer_at, q2.comment_at = q1.answer_at, None
    out, report = write_answers_report(data, "r.xlsx", [AnswerFill(q1, "Yes", None), AnswerFill(q2, "No", None)])
    assert [r.outcome for r in report.questions] == ["written", "skipped"]
    assert "R-1" in report.questions[1].reason
    assert len(_changed(xlsx_cell_values(data), xlsx_cell_values(out))) == report.cells_written == 1


def _csv_fields(data: bytes) -> dict[tuple[int, int], str]:
    import csv

    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    return {(r, c): v for r, row in enumerate(rows, 1) for c, v in enumerate(row) if v}


def test_csv_report_counts_exactly_the_fields_that_changed():
    data = ("ID,Question,Answer,Comments\r\n"
            "C-1,Do you encrypt backups?,,\r\n"
            "C-2,Do you run a bug bounty?,No,Not yet.\r\n"
            "C-3,Do you review access quarterly?,,\r\n"
            "C-4,Describe your incident response.,,\r\n").encode()
    qs = {q.ref: q for q in read_questionnaire(io.BytesIO(data), "c.csv").questions}
    qs["C-3"].not_writable = "the answer column is computed by the customer's tool"
    fills = [AnswerFill(qs["C-1"], "Yes", "AES-256."), AnswerFill(qs["C-2"], "No", "Not yet."),
             AnswerFill(qs["C-3"], "Yes", None), AnswerFill(qs["C-4"], None, "=Paged within 15 minutes.")]
    out, report = write_answers_report(data, "c.csv", fills)
    assert [r.outcome for r in report.questions] == ["written", "kept", "skipped", "written"]
    assert report.questions[2].reason == "the answer column is computed by the customer's tool"
    changed = _changed(_csv_fields(data), _csv_fields(out))
    assert len(changed) == report.cells_written == 3
    # only kept questions: the file comes back byte for byte
    same, report = write_answers_report(data, "c.csv", fills[1:3])
    assert same == data and report.cells_written == 0


def _docx_places(data: bytes) -> tuple[list, list]:
    """(body paragraphs, every table cell once even when merged), each as its
    text and the state of its checkboxes (form fields and content controls)."""
    import docx
    from docx.oxml.ns import qn
    from docx.table import _Cell
    from docx.text.paragraph import Paragraph

    w14 = "{http://schemas.microsoft.com/office/word/2010/wordml}checked"
    box_tags = {qn("w:checked"), qn("w:default"), w14}

    def state(el, text):
        return text, tuple(x.get(qn("w:val")) or x.get(w14[:-7] + "val") for x in el.iter() if x.tag in box_tags)

    d = docx.Document(io.BytesIO(data))
    cells = [state(tc, _Cell(tc, table).text) for table in d.tables for tr in table._tbl.tr_lst for tc in tr.tc_lst]
    paras = [state(p, Paragraph(p, d).text) for p in d.element.body.iterchildren(qn("w:p"))]
    return paras, cells


def docx_changed_places(before: bytes, after: bytes) -> int:
    """How many places differ: table cells by position (the writer never adds or
    removes cells), body paragraphs aligned (an inserted answer paragraph is one)."""
    import difflib

    (p1, c1), (p2, c2) = _docx_places(before), _docx_places(after)
    assert len(c1) == len(c2)
    changed = sum(1 for a, b in zip(c1, c2) if a != b)
    ops = difflib.SequenceMatcher(None, p1, p2, autojunk=False).get_opcodes()
    return changed + sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def test_docx_report_counts_exactly_the_cells_that_changed():
    import docx

    d = docx.Document()
    d.add_heading("Security", level=1)
    t = d.add_table(rows=4, cols=4)
    for cell, text in zip(t.rows[0].cells, ["ID", "Question", "Response", "Comments"]):
        cell.text = text
    for row, (ref, question) in zip(t.rows[1:], [("D-1", "Do you encrypt customer data at rest?"),
                                                 ("D-2", "Do you run annual penetration tests?"),
                                                 ("D-3", "Describe your vulnerability management process.")]):
        row.cells[0].text, row.cells[1].text = ref, question
    t.cell(2, 2).text = "Yes"
    t.cell(2, 3).text = "Every spring, by an outside firm."
    buf = io.BytesIO()
    d.save(buf)
    data = buf.getvalue()
    qs = {q.ref: q for q in read_questionnaire(io.BytesIO(data), "d.docx").questions}
    qs["D-3"].not_writable = "the response cell is locked"
    fills = [AnswerFill(qs["D-1"], "Yes", "AES-256 on every volume."),
             AnswerFill(qs["D-2"], "Yes", "Every spring, by an outside firm."),
             AnswerFill(qs["D-3"], None, "Weekly scans.")]
    out, report = write_answers_report(data, "d.docx", fills)
    assert [r.outcome for r in report.questions] == ["written", "kept", "skipped"]
    assert report.questions[2].reason == "the response cell is locked"
    assert [w.value for w in report.questions[0].changes] == ["Yes", "AES-256 on every volume."]
    assert docx_changed_places(data, out) == report.cells_written == 2


@pytest.mark.parametrize("doc", ["yes_no_doc", "checkbox_doc"])
def test_docx_marks_count_every_place_that_changed(doc):
    """Marking "No" where "Yes" (or nothing) was marked: the new mark and the
    cleared one are two places; the same mark again is kept."""
    import tests.test_ingest_docx as fixtures

    data = getattr(fixtures, doc)()
    qs = [q for q in read_questionnaire(io.BytesIO(data), "m.docx").questions if q.answer_at.marks]
    assert len(qs) >= 2
    yes = [AnswerFill(q, "Yes", None) for q in qs]
    first, report1 = write_answers_report(data, "m.docx", yes)
    assert docx_changed_places(data, first) == report1.cells_written
    no = [AnswerFill(q, "No", None) for q in read_questionnaire(io.BytesIO(first), "m.docx").questions
          if q.answer_at.marks]
    second, report2 = write_answers_report(first, "m.docx", no)
    assert docx_changed_places(first, second) == report2.cells_written
    assert any(len(r.changes) == 2 for r in report2.questions)  # one box checked, one cleared
    again, report3 = write_answers_report(second, "m.docx", no)
    assert report3.cells_written == 0 and docx_changed_places(second, again) == 0
    assert {r.outcome for r in report3.questions} <= {"kept", "skipped"}

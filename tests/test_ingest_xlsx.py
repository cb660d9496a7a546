"""ingest.xlsx_format and its xlsx_* modules: finding questions in workbooks built here, and the sheet patcher."""
from __future__ import annotations

import io
import re
import zipfile

import openpyxl
import pytest
from openpyxl.cell.cell import MergedCell

from ingest import read_questionnaire, write_answers, write_answers_report
from ingest.errors import ExportError, IngestError
from ingest.model import AnswerFill, IngestHints
from ingest.xlsx_refs import col_index, col_letter, split_cell
from ingest.xlsx_write import excel_text, patch_sheet_xml
from tests.ingest_fixtures import YES_NO, hecvat_like, openpyxl_workbook, sheet_xml, simple_questionnaire, xlsx_package


def read(data: bytes, name: str = "q.xlsx", **hints):
    return read_questionnaire(io.BytesIO(data), name, IngestHints(**hints) if hints else None)


def test_simple_table_roles_and_locators():
    result = read(simple_questionnaire(3))
    assert result.format == "xlsx"
    q = result.questions[0]
    assert (q.ref, q.text) == ("Q-01", "Do you encrypt data category 1 at rest?")
    assert q.answer_at.to_json() == {"sheet": "Questions", "cell": "C2"}
    assert q.comment_at.to_json() == {"sheet": "Questions", "cell": "D2"}
    assert q.answer_kind == "yes_no_na" and q.options == ["Yes", "No", "N/A"]
    assert result.layout["sheets"]["Questions"]["answer_col"] == "C"


def test_x14_validation_options_are_read():
    result = read(simple_questionnaire(3, x14=True))
    assert result.questions[0].options == ["Yes", "No", "N/A"]


def test_list_sources_range_defined_names_and_quoted_sheet():
    rows = {1: {1: "Ref", 2: "Question", 3: "Response", 4: "Ownership", 5: "Evidence"}}
    for r in range(2, 6):
        rows[r] = {1: f"{r - 1}.1", 2: f"Is process {r} approved by management?"}
    lists = {1: {1: "Yes", 2: "CSP-owned"}, 2: {1: "No", 2: "Shared"}, 3: {1: "Not Applicable"}}
    main = sheet_xml(rows, validations=[("C2:C3", "yesno"), ("C4", "'Vendor''s Lists'!$A$1:$A$3")],
                     x14_validations=[("C5", "localname")])
    data = xlsx_package(
        [("Assessment", main), ("Vendor's Lists", sheet_xml(lists))],
        states={"Vendor's Lists": "hidden"},
        defined_names=[("yesno", "'Vendor''s Lists'!$A$1:$A$2", None), ("localname", "'Vendor''s Lists'!$A$1:$A$3", 0),
                       ("localname", "#REF!", None)],
    )
    qs = read(data).questions
    assert qs[0].options == ["Yes", "No"]
    assert qs[2].options == ["Yes", "No", "Not Applicable"]
    assert qs[3].options == ["Yes", "No", "Not Applicable"]  # the sheet-local name wins over the global #REF!
    assert qs[0].comment_at.cell == "E2"  # "Evidence" is where narrative goes; Ownership is not a comment


def test_unresolvable_list_is_reported():
    rows = {1: {1: "ID", 2: "Question", 3: "Answer"}, 2: {1: "A-1", 2: "Do you patch monthly?"}}
    data = xlsx_package([("Q", sheet_xml(rows, validations=[("C2", "deleted")]))],
                        defined_names=[("deleted", "#REF!", None)])
    result = read(data)
    assert result.questions[0].options is None
    assert any("#REF!" in w for w in result.warnings)


def test_instruction_scoring_and_analyst_parts_are_skipped():
    intro = sheet_xml({1: {1: "Instructions"}, 2: {1: "Answer every question. Do you need help? Call us."}})
    rows = {1: {1: "Title of the assessment"}, 2: {1: "Read the instructions tab first; answer every row."},
            3: {1: "ID", 2: "Question", 3: "Vendor Answer", 4: "Vendor Comments", 5: "Analyst Notes", 6: "Score"}}
    for r in range(4, 8):
        rows[r] = {1: f"SEC-{r:02d}", 2: f"Do you review firewall rule set {r} yearly?", 6: 0}
    scoring = sheet_xml({1: {1: "ID", 2: "Question", 3: "Score"}, 2: {1: "SEC-04", 2: "Do you review firewall rule set 4 yearly?", 3: 5}})
    data = xlsx_package([("Instructions", intro), ("Vendor Response", sheet_xml(rows)), ("Scoring", scoring)])
    result = read(data)
    assert [q.ref for q in result.questions] == ["SEC-04", "SEC-05", "SEC-06", "SEC-07"]
    assert {q.answer_at.sheet for q in result.questions} == {"Vendor Response"}
    assert result.questions[0].answer_at.cell == "C4" and result.questions[0].comment_at.cell == "D4"


def test_section_header_rows_move_columns_and_name_sections():
    rows = {
        1: {1: "General"},
        2: {1: "GEN-01", 2: "Company name", 3: "Enter company name"},
        3: {1: "Access Control", 3: "Answers", 4: "Additional Information", 5: "Guidance"},
        4: {1: "These questions cover how people sign in."},
        5: {1: "AC-01", 2: "Do you support SSO?", 5: "Say which protocols."},
        6: {1: "AC-02", 2: "Do you enforce MFA for admins?"},
        7: {1: "Data Use", 3: "Summary Answers", 5: "Guidance"},
        8: {1: "DU-01", 2: "Describe how data flows through the system."},
    }
    data = xlsx_package([("Form", sheet_xml(rows, merges=["C3:C3", "C7:D7", "C8:D8"]))])
    qs = read(data).questions
    assert [(q.ref, q.section) for q in qs] == [
        ("GEN-01", "General"), ("AC-01", "Access Control"), ("AC-02", "Access Control"), ("DU-01", "Data Use")]
    assert qs[0].existing_answer is None  # "Enter company name" is sample text
    assert qs[1].comment_at.cell == "D5"
    assert qs[3].answer_at.cell == "C8" and qs[3].comment_at is None  # C8:D8 merged: no separate comment


def test_merged_question_cells_and_vertical_answer_merge():
    rows = {1: {1: "No.", 2: "Question", 4: "Answer"},
            2: {1: "1", 2: "Do you have an incident response plan?"},
            3: {1: "Section two: physical security"},
            4: {1: "2", 2: "Are visitors escorted at all times?"}}
    data = xlsx_package([("Q", sheet_xml(rows, merges=["B2:C2", "A3:D3", "B4:C4", "D4:D5"]))])
    qs = read(data).questions
    assert [q.text for q in qs] == ["Do you have an incident response plan?", "Are visitors escorted at all times?"]
    assert qs[1].answer_at.cell == "D4"
    assert qs[1].section == "Section two: physical security"


def test_formula_question_text_uses_cached_value():
    rows = {1: {1: "ID", 2: "Question", 3: "Answer"}, 2: {1: "DOCU-01", 2: "Have you undergone a SOC 2 audit?"}}
    data = xlsx_package([("Q", sheet_xml(rows, formulas={(2, 2): "VLOOKUP(A2,Questions!$B$3:$C$256,2,FALSE)"}))])
    assert read(data).questions[0].text == "Have you undergone a SOC 2 audit?"


def test_existing_answers_and_yes_no_column_without_dropdown():
    rows = {1: {1: "#", 2: "Requirement", 3: "Y/N", 4: "Comments"}}
    answers = ["Y", "N", "Y", "N/A"]
    for i, a in enumerate(answers, start=2):
        rows[i] = {1: str(i - 1), 2: f"The supplier must maintain control {i}.", 3: a, 4: f"note {i}"}
    qs = read(xlsx_package([("Q", sheet_xml(rows))])).questions
    assert [q.existing_answer for q in qs] == answers
    assert [q.existing_comment for q in qs] == [f"note {i}" for i in range(2, 6)]
    assert {q.answer_kind for q in qs} == {"yes_no_na"}


def test_table_without_ids_or_answer_header_guesses_with_warning():
    rows = {1: {1: "Security questions for suppliers"}}
    for r, text in enumerate(["Do you encrypt backups?", "How often do you test restores?", "Describe your SDLC."], start=3):
        rows[r] = {1: text}
    result = read(xlsx_package([("Sheet1", sheet_xml(rows))]))
    assert [q.text for q in result.questions] == ["Do you encrypt backups?", "How often do you test restores?", "Describe your SDLC."]
    assert result.questions[0].answer_at.cell == "B3"
    assert any("--answer-col" in w for w in result.warnings)


def test_hints_sheet_and_columns():
    rows = {1: {1: "Item", 2: "Text", 3: "Vendor", 4: "Reviewer", 5: "Remarks"}}
    for r in range(2, 5):
        rows[r] = {1: f"R{r}", 2: f"Do you do thing {r}?"}
    data = xlsx_package([("Main", sheet_xml({1: {1: "nothing here"}})), ("Hidden Q", sheet_xml(rows))],
                        states={"Hidden Q": "hidden"})
    assert read(data).questions == []
    result = read(data, sheet="hidden q", answer_col="D", comment_col="Remarks")
    assert [q.answer_at.cell for q in result.questions] == ["D2", "D3", "D4"]
    assert [q.comment_at.cell for q in result.questions] == ["E2", "E3", "E4"]
    assert all(q.hidden for q in result.questions)
    with pytest.raises(IngestError, match="no sheet named 'Nope'.*'Main'"):
        read(data, sheet="Nope")
    with pytest.raises(IngestError, match="--answer-col"):
        read(data, sheet="Hidden Q", answer_col="No such heading")


def test_question_col_hint_overrides_detection():
    rows = {1: {1: "ID", 2: "Control", 3: "Question", 4: "Answer"}}
    for r in range(2, 5):
        rows[r] = {1: f"C-{r}", 2: f"Describe how control {r} is tested in detail please?", 3: f"Is control {r} tested?"}
    result = read(xlsx_package([("Q", sheet_xml(rows))]), question_col="C")
    assert [q.text for q in result.questions] == [f"Is control {r} tested?" for r in range(2, 5)]


def test_shared_strings_rich_text_and_phonetic_runs():
    sst = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           "<si><t>ID</t></si><si><t>Question</t></si><si><t>Answer</t></si>"
           '<si><r><t>Do you </t></r><r><rPr><b/></rPr><t>encrypt</t></r><r><t xml:space="preserve"> data?</t></r>'
           "<rPh sb=\"0\" eb=\"1\"><t>ignored</t></rPh></si><si><t>Q_x000D_-1</t></si></sst>")
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>'
             '<row r="2"><c r="A2" t="s"><v>4</v></c><c r="B2" t="s"><v>3</v></c></row></sheetData></worksheet>')
    q = read(xlsx_package([("S", sheet)], shared_strings=sst)).questions[0]
    assert q.text == "Do you encrypt data?"


def test_openpyxl_made_workbook():
    def build(wb):
        ws = wb.active
        ws.title = "Supplier Questionnaire"
        ws.append(["Ref", "Question", "Response", "Comments"])
        for i in range(1, 6):
            ws.append([f"1.{i}", f"Does the supplier hold certification {i}?"])
        from openpyxl.worksheet.datavalidation import DataValidation

        dv = DataValidation(type="list", formula1='"Yes,No,Partial"')
        ws.add_data_validation(dv)
        dv.add("C2:C6")
        ws.row_dimensions[4].hidden = True

    result = read(openpyxl_workbook(build))
    assert len(result.questions) == 5
    assert result.questions[0].options == ["Yes", "No", "Partial"]
    assert [q.hidden for q in result.questions] == [False, False, True, False, False]


def test_no_questions_is_a_warning_not_an_error():
    result = read(xlsx_package([("Data", sheet_xml({1: {1: "Name", 2: "Value"}, 2: {1: "a", 2: 1}}))]))
    assert result.questions == [] and any("No questions" in w for w in result.warnings)


def test_answer_type_codes_defined_in_another_sheet():
    rows = {1: {1: "ref_id", 2: "name", 3: "questions", 4: "answer"}, 2: {2: "SECCIÓN UNO"}}
    for r in range(3, 7):
        rows[r] = {1: f"RG-{r:02d}", 3: f"¿Dispone el proveedor del control {r}?", 4: "RESP01" if r < 6 else "TEXTO"}
    answers = {1: {1: "id", 2: "question_type", 3: "question_choices"},
               2: {1: "RESP01", 2: "unique_choice", 3: "Si\nNo\nN/A"}, 3: {1: "TEXTO", 2: "text"}}
    result = read(xlsx_package([("preguntas", sheet_xml(rows)), ("answers", sheet_xml(answers))]))
    qs = result.questions
    assert len(qs) == 4 and qs[0].section == "SECCIÓN UNO"
    assert qs[0].options == ["Si", "No", "N/A"] and qs[0].existing_answer is None and qs[0].answer_kind == "yes_no_na"
    assert qs[3].options is None and qs[3].answer_kind == "text"


# ---- cell references and text escaping -----------------------------------------------------


@pytest.mark.parametrize("letters, index", [("A", 1), ("Z", 26), ("AA", 27), ("XFD", 16384)])
def test_column_letters(letters, index):
    assert col_index(letters) == index and col_letter(index) == letters


def test_split_cell():
    assert split_cell("$C$12") == (12, 3)
    with pytest.raises(ValueError):
        split_cell("12C")


def test_excel_text_escapes():
    assert excel_text("a_x0041_b\r\x07<&>") == "a_x005F_x0041_b_x000D__x0007_&lt;&amp;&gt;"


# ---- the sheet patcher ---------------------------------------------------------------------------


SHEET = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         b'<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
         b'<x:dimension ref="A1:C3"/><x:cols><x:col min="4" max="4" width="30" style="2" customWidth="1"/></x:cols>'
         b'<x:sheetData><x:row r="1" spans="1:3"><x:c r="A1" s="1"><x:v>42</x:v></x:c><x:c r="C1" s="1"/></x:row>'
         b'<x:row r="3"/>'
         b'<x:row r="5" spans="1:2"><x:c r="A5"><x:f>1+1</x:f><x:v>2</x:v></x:c><x:c r="B5"><x:v>7</x:v></x:c></x:row>'
         b"</x:sheetData><x:mergeCells count=\"1\"><x:mergeCell ref=\"A7:B7\"/></x:mergeCells></x:worksheet>")


def _cells(xml: bytes) -> dict[str, bytes]:
    return {m.group(1).decode(): m.group(0) for m in re.finditer(rb'<x:c r="([A-Z]+\d+)"[^>]*?(?:/>|>.*?</x:c>)', xml)}


def test_patch_existing_missing_and_new_cells_with_prefix():
    new, formula = patch_sheet_xml(SHEET, {(1, 3): "=SUM(A1)", (1, 2): "mid", (3, 1): "row3", (4, 2): "new row",
                                           (1, 4): "styled by column", (9, 1): "last"})
    assert not formula
    cells = _cells(new)
    assert cells["C1"] == b'<x:c r="C1" s="1" t="inlineStr"><x:is><x:t xml:space="preserve">=SUM(A1)</x:t></x:is></x:c>'
    assert b"<x:f>" not in cells["C1"]
    order = [m.group(1).decode() for m in re.finditer(rb'<x:c r="([A-Z]+\d+)"', new)]
    assert order == ["A1", "B1", "C1", "D1", "A3", "B4", "A5", "B5", "A9"]
    assert b's="2"' in cells["D1"]  # the column's style
    assert b'<x:row r="1" spans="1:4">' in new
    assert b'<x:dimension ref="A1:D9"/>' in new
    assert cells["A1"] in SHEET and cells["B5"] in SHEET  # untouched cells byte-identical
    assert b'<x:mergeCell ref="A7:B7"/>' in new
    ws = openpyxl.load_workbook(io.BytesIO(xlsx_package([("S", new.decode())]))).active
    assert ws["C1"].value == "=SUM(A1)" and ws["C1"].data_type == "s"
    assert ws["B4"].value == "new row" and ws["A9"].value == "last" and ws["A3"].value == "row3"


def test_patch_reports_replaced_formula_and_refuses_shared_master():
    _, formula = patch_sheet_xml(SHEET, {(5, 1): "answer"})
    assert formula
    shared = SHEET.replace(b"<x:f>1+1</x:f>", b'<x:f t="shared" ref="A5:A9" si="0">1+1</x:f>')
    with pytest.raises(ExportError, match="formula that other cells depend on"):
        patch_sheet_xml(shared, {(5, 1): "answer"})


def test_patch_empty_sheet_data():
    xml = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData/></worksheet>'
    new, _ = patch_sheet_xml(xml, {(2, 2): "x"})
    assert b'<sheetData><row r="2"><c r="B2" t="inlineStr">' in new


def test_write_maps_short_answers_to_dropdown_spelling():
    rows = {1: {1: "ID", 2: "Question", 3: "Answer", 4: "Notes"}}
    for r in range(2, 6):
        rows[r] = {1: f"Q{r}", 2: f"Is safeguard {r} in place?"}
    data = xlsx_package([("Q", sheet_xml(rows, validations=[("C2:C5", '"1) Yes,2) No,NA,Partially"')]))])
    qs = read(data).questions
    fills = [AnswerFill(qs[0], "Yes", "Because."), AnswerFill(qs[1], "N/A", None), AnswerFill(qs[2], "Partial", "Some."),
             AnswerFill(qs[3], "No", None)]
    ws = openpyxl.load_workbook(io.BytesIO(write_answers(data, "q.xlsx", fills)))["Q"]
    assert [ws[f"C{r}"].value for r in range(2, 6)] == ["1) Yes", "NA", "Partially", "2) No"]
    assert [ws[f"D{r}"].value for r in range(2, 6)] == ["Because.", None, "Some.", None]


def test_answer_over_excel_limit_fails_naming_the_question():
    data = simple_questionnaire(2, with_dv=False)
    q = read(data).questions[1]
    with pytest.raises(ExportError, match="Q-02.*32,767"):
        write_answers(data, "q.xlsx", [AnswerFill(q, None, "x" * 32_768)])


def test_write_unknown_sheet_fails_cleanly():
    data = simple_questionnaire(1)
    q = read(data).questions[0]
    q.answer_at = type(q.answer_at)(sheet="Gone", cell="C2")
    with pytest.raises(ExportError, match="no sheet 'Gone'"):
        write_answers(data, "q.xlsx", [AnswerFill(q, "Yes", None)])


def test_formula_answer_cell_is_skipped_and_other_answers_recalculate():
    rows = {1: {1: "ID", 2: "Question", 3: "Answer"}, 2: {1: "Q1", 2: "Do you log?", 3: "0"},
            3: {1: "Q2", 2: "Do you encrypt?"}}
    rows[2][5] = 1  # E2 keeps a formula, so the workbook is recalculated on opening
    data = xlsx_package([("Q", sheet_xml(rows, formulas={(2, 3): "IF(A2=\"\",0,0)", (2, 5): "LEN(C3)"}))],
                        calc_chain='<calcChain xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><c r="C2" i="1"/></calcChain>')
    q1, q2 = read(data).questions[:2]
    out, report = write_answers_report(data, "q.xlsx", [AnswerFill(q1, "Yes", None), AnswerFill(q2, "Yes", None)])
    assert [(r.outcome, r.question.ref) for r in report.questions] == [("skipped", "Q1"), ("written", "Q2")]
    assert "formula" in report.questions[0].reason and "Q!C2" in report.questions[0].reason
    assert report.cells_written == 1
    z = zipfile.ZipFile(io.BytesIO(out))
    assert "xl/calcChain.xml" in z.namelist()  # no formula was replaced, Excel's cache stays valid
    assert b'fullCalcOnLoad="1"' in z.read("xl/workbook.xml")
    ws = openpyxl.load_workbook(io.BytesIO(out))["Q"]
    assert ws["C2"].value == '=IF(A2="",0,0)' and ws["C3"].value == "Yes"
    # only the formula cell was asked for: the file comes back byte for byte
    out, report = write_answers_report(data, "q.xlsx", [AnswerFill(q1, "Yes", None)])
    assert out == data and report.cells_written == 0 and report.skipped


def test_yes_no_mark_columns():
    rows = {1: {1: "#", 2: "Question", 3: "Yes", 4: "No", 5: "N/A", 6: "Comments"},
            2: {1: "1", 2: "Do you run background checks?", 4: "x"},
            3: {1: "2", 2: "Do you have a CISO?"},
            4: {1: "3", 2: "Do you test your DR plan yearly?"}}
    data = xlsx_package([("Checklist", sheet_xml(rows))])
    qs = read(data).questions
    assert [q.ref for q in qs] == ["1", "2", "3"]
    q = qs[0]
    assert q.answer_kind == "yes_no_na" and q.options == ["Yes", "No", "N/A"]
    assert q.answer_at.to_json()["marks"] == {"Yes": {"sheet": "Checklist", "cell": "C2"},
                                              "No": {"sheet": "Checklist", "cell": "D2"},
                                              "N/A": {"sheet": "Checklist", "cell": "E2"}}
    assert q.existing_answer == "No" and q.comment_at.cell == "F2"
    out = write_answers(data, "c.xlsx", [AnswerFill(qs[0], "Yes", "Every hire."), AnswerFill(qs[2], "N/A", None)])
    ws = openpyxl.load_workbook(io.BytesIO(out))["Checklist"]
    assert [ws[c].value for c in ("C2", "D2", "E2", "F2")] == ["X", None, None, "Every hire."]  # the old mark is cleared
    assert [ws[c].value for c in ("C4", "D4", "E4")] == [None, None, "X"]
    assert read(out).questions[0].existing_answer == "Yes"


# ---- robustness: odd layouts and corrupted bytes never escape as anything but IngestError ----------------

_VOCAB = ["ID", "Question", "Answer", "Comments", "Yes", "No", "N/A", "A-1", "1.2.3", "Do you log?", "Describe it.",
          "Analyst Notes", "Section", "x", "", "=1+1", "Guidance", "No.", "Q1", "The vendor must comply.", "1", "2"]


@pytest.mark.parametrize("seed", range(12))
def test_random_layouts_never_crash(seed):
    import random

    rnd = random.Random(seed)
    rows = {r: {c: rnd.choice(_VOCAB) for c in range(1, rnd.randint(2, 7)) if rnd.random() < 0.7}
            for r in range(1, rnd.randint(2, 40))}
    rows = {r: {c: v for c, v in cells.items() if v} for r, cells in rows.items()}
    merges = []
    for _ in range(rnd.randint(0, 5)):
        r, c = rnd.randint(1, 30), rnd.randint(1, 5)
        merges.append(f"{col_letter(c)}{r}:{col_letter(c + rnd.randint(0, 2))}{r + rnd.randint(0, 2)}")
    data = xlsx_package([("S", sheet_xml(rows, merges=merges, validations=[("C1:C40", '"Yes,No"')]))])
    result = read(data)
    fills = [AnswerFill(q, rnd.choice(["Yes", "No", None]), rnd.choice(["n", None, "=x"])) for q in result.questions]
    out, report = write_answers_report(data, "q.xlsx", fills)
    # What was written is there when the copy is read again: by our reader
    # (it opens without error) and cell by cell by openpyxl, which keeps no
    # value under a merge's other cells (possible here: the merges may overlap).
    read(out)
    ws = openpyxl.load_workbook(io.BytesIO(out))["S"]
    for change in (w for q in report.questions for w in q.changes):
        cell = ws[change.at.cell]
        if not isinstance(cell, MergedCell):
            assert (cell.value if cell.value is not None else "") == change.value, (change.at.cell, change.role)


@pytest.mark.parametrize("seed", range(20))
def test_corrupted_bytes_raise_only_ingest_errors(seed):
    import random

    rnd = random.Random(seed)
    data = bytearray(simple_questionnaire(4))
    for _ in range(rnd.randint(1, 8)):
        data[rnd.randrange(len(data))] = rnd.randrange(256)
    try:
        read(bytes(data))
    except IngestError:
        pass


# ---- a workbook read as a whole: who each sheet is for --------------------------------------------
# Small workbooks in the shape of three families (a HECVAT-like multi-tab form with
# mirrors and an evaluation sheet, a CISA-like workbook with a lookup table, an
# OWASP-SAMM-like interview sheet with quality criteria under each question). The
# sheet names are varied on purpose: the decisions must not come from names.

def _formula_cells(data: bytes) -> set[tuple[str, str]]:
    from ingest.guard import Limits
    from ingest.xlsx_package import _Package
    from ingest.xlsx_refs import cell_name

    pkg = _Package(data, Limits())
    return {(s.name, cell_name(*k)) for s in pkg.sheets for k in pkg.sheet_data(s).formulas}


@pytest.mark.parametrize("names", [
    {},
    # the same workbook with names that say nothing: the decisions come from the cells
    {"start": "Hoja1", "tabs": ("Hoja2", "Hoja3"), "evaluation": "Hoja4", "backend": "Hoja5"},
    # an evaluation sheet that pulls the questions but not the answers; its only input is the override dropdown
    {"pulled_answers": False},
    {"start": "Hoja1", "tabs": ("Hoja2", "Hoja3"), "evaluation": "Hoja4", "backend": "Hoja5", "pulled_answers": False},
])
def test_multi_tab_form_is_read_as_a_whole(names):
    data = hecvat_like(**names)
    start = names.get("start", "START HERE")
    tabs = names.get("tabs", ("Company", "Data"))
    evaluation = names.get("evaluation", "Institution Evaluation")
    backend = names.get("backend", "(backend)")
    result = read(data)
    refs = [q.ref for q in result.questions]
    # each question once, where the vendor types it: the start sheet's general and
    # qualifying questions, each tab's own questions
    assert sorted(refs) == sorted(["GNRL-01", "GNRL-02", "GNRL-03", "REQU-01", "REQU-02", "COMP-01", "COMP-02", "COMP-03",
                                   "DATA-01", "DATA-02", "DATA-03"])
    by = {q.ref: q for q in result.questions}
    assert by["GNRL-01"].answer_at.to_json() == {"sheet": start, "cell": "C5"}
    assert by["REQU-01"].answer_at.to_json() == {"sheet": start, "cell": "C10"}
    assert by["REQU-01"].comment_at.to_json() == {"sheet": start, "cell": "D10"}
    assert by["COMP-01"].answer_at.to_json() == {"sheet": tabs[0], "cell": "C8"}
    assert by["DATA-02"].answer_at.to_json() == {"sheet": tabs[1], "cell": "C9"}
    assert by["DATA-02"].comment_at.to_json() == {"sheet": tabs[1], "cell": "D9"}
    assert by["GNRL-01"].existing_answer == "Acme Ltd" and by["DATA-02"].existing_answer == "Yes"
    formulas = _formula_cells(data)
    for q in result.questions:
        assert (q.answer_at.sheet, q.answer_at.cell) not in formulas
        assert q.comment_at is None or (q.comment_at.sheet, q.comment_at.cell) not in formulas
        assert q.not_writable is None
    skipped = {s.sheet: s.reason for s in result.skipped_sheets}
    assert set(skipped) == {evaluation, backend}
    assert "formula" in skipped[evaluation]
    assert ("for evaluation" in skipped[evaluation]) or ("receiving side" in skipped[evaluation])
    assert "hidden" in skipped[backend]
    out = result.to_json()
    assert {s["sheet"] for s in out["skipped_sheets"]} == {evaluation, backend}
    assert result.layout["sheets"][tabs[0]]["mirrors"] == 3


def test_formula_answer_cell_that_is_not_a_mirror_is_reported_not_writable():
    data = hecvat_like()
    result = read(data, sheet="Institution Evaluation")
    assert result.questions, "a sheet a person names is read"
    for q in result.questions:
        # the evaluation sheet's answer column shows the vendor's answers by formula
        assert q.answer_at.sheet == "Institution Evaluation"
    # its answers are mirrors of cells that are not read this time: not writable, with the reason
    reasons = [q.not_writable for q in result.questions]
    assert all(reasons) and all("formula" in r for r in reasons)
    assert result.to_json()["questions"][0]["not_writable"] == reasons[0]


def test_export_never_replaces_a_mirror_formula():
    data = hecvat_like()
    result = read(data)
    out = write_answers(data, "q.xlsx", [AnswerFill(q, "Yes", "Details.") for q in result.questions])
    assert _formula_cells(out) == _formula_cells(data)
    again = read(out)
    assert {q.ref: q.existing_answer for q in again.questions}["COMP-02"] == "Yes"


def cisa_like(lookup_formula: bool, headers: tuple[str, str, str] = ("ig_id", "ig_title", "ig_content")) -> bytes:
    """A supply-chain questionnaire with a lookup/metadata table other sheets use."""
    rows = {1: {1: "Control ID", 2: "Question", 3: "Response", 4: "Notes", 5: "Implementation group"}}
    formulas = {}
    for i in range(1, 6):
        rows[i + 1] = {1: f"SC-{i:02d}", 2: f"Does the supplier maintain a record of component {i} origins?"}
        if lookup_formula:
            rows[i + 1][5] = "Foundational"
            formulas[(i + 1, 5)] = f"VLOOKUP(\"IG{1 + i % 3}\",implementation_groups_content!$A$2:$B$4,2,0)"
    content = {1: dict(enumerate(headers, start=1))}
    for i, text in enumerate(["Organizations should keep an inventory of all suppliers and the products they provide.",
                              "Organizations must assess the security practices of every critical supplier each year.",
                              "Suppliers should notify the acquirer of any incident affecting delivered components."], start=2):
        content[i] = {1: f"IG{i - 1}", 2: ["Foundational", "Intermediate", "Advanced"][i - 2], 3: text}
    main = sheet_xml(rows, formulas=formulas, validations=[("C2:C6", YES_NO)])
    return xlsx_package([("supply_chain_questions", main), ("implementation_groups_content", sheet_xml(content))])


@pytest.mark.parametrize("lookup_formula, headers, why", [
    (True, ("ig_id", "ig_title", "ig_content"), "lookup table"),
    (False, ("ig_id", "ig_title", "ig_content"), "data table"),
    # plain headings, nothing refers to it: every row is filled while the questionnaire is open
    (False, ("Group", "Title", "Content"), "reference content"),
])
def test_lookup_or_data_sheet_is_not_read_as_questions(lookup_formula, headers, why):
    result = read(cisa_like(lookup_formula, headers))
    assert [q.ref for q in result.questions] == [f"SC-{i:02d}" for i in range(1, 6)]
    assert {q.answer_at.sheet for q in result.questions} == {"supply_chain_questions"}
    skipped = {s.sheet: s for s in result.skipped_sheets}
    assert "implementation_groups_content" in skipped
    assert why in skipped["implementation_groups_content"].reason


@pytest.mark.parametrize("criteria", ["labelled", "bare", "label column", "whole-column dropdown"])
def test_interview_sheet_quality_criteria_rows_are_not_questions(criteria):
    """OWASP-SAMM-like: each question has a dropdown answer, and under it rows that
    say what a good answer looks like."""
    options = '"No,Yes - for some,Yes - for most,Yes - for all"'
    rows = {1: {1: "Stream", 2: "Question", 3: "Answer", 4: "Interview notes"}}
    questions = ["Do you understand the enterprise-wide risk appetite for your applications?",
                 "Do you have a strategic plan for application security that you use to make decisions?",
                 "Do you review the application security strategy at regular intervals?",
                 "Do you use a set of metrics to measure the effectiveness of your security program?"]
    r = 2
    answer_cells = []
    for i, q in enumerate(questions):
        rows[r] = {1: f"Stream {'AB'[i % 2]}", 2: q}
        answer_cells.append(f"C{r}")
        r += 1
        if criteria == "labelled":
            rows[r] = {2: "Quality criteria:\nYou capture the risk appetite of leadership\nThe leadership vets the risks"}
            r += 1
        elif criteria == "label column":
            rows[r] = {1: "Quality criteria", 2: "You capture the risk appetite of your organization's executive leadership"}
            r += 1
        elif criteria == "whole-column dropdown":
            rows[r] = {2: "You capture the risk appetite of your organization's executive leadership"}
            rows[r + 1] = {2: "You document the main business and technical threats to your assets and data"}
            r += 2
        else:
            rows[r] = {2: "The plan is reviewed and updated by the security team and should reflect business priorities"}
            rows[r + 1] = {2: "The organization's leadership must approve the documented risk appetite each year"}
            r += 2
    validations = [(f"C2:C{r}" if criteria == "whole-column dropdown" else " ".join(answer_cells), options)]
    result = read(xlsx_package([("Interview", sheet_xml(rows, validations=validations))]))
    assert [q.text for q in result.questions] == questions
    assert [q.answer_at.cell for q in result.questions] == answer_cells


def test_control_sheet_guidance_rows_and_form_labels_are_not_questions():
    """An SSP-like control sheet: a requirement per control with a status dropdown and
    a guidance row under it, and a form header whose labels are not questions."""
    rows = {1: {2: "Name of the system and its environment"}, 2: {2: "Name of the system owner or sponsor"},
            4: {1: "Control ID", 2: "Requirement", 3: "Implementation Status", 4: "Implementation Details"}}
    r = 5
    answers = []
    for i, text in enumerate(["The organization must develop and document an access control policy.",
                              "The organization must review the access control policy every year.",
                              "The system must enforce approved authorizations for logical access."], start=1):
        rows[r] = {1: f"AC-{i}", 2: text}
        answers.append(f"C{r}")
        rows[r + 1] = {2: "Supplemental Guidance: the policy can be part of the general security policy and "
                          "should reflect applicable laws."}
        r += 2
    result = read(xlsx_package([("Controls", sheet_xml(rows, validations=[(
        " ".join(answers), '"Implemented,Partially implemented,Planned,Not applicable"')]))]))
    assert [q.ref for q in result.questions] == ["AC-1", "AC-2", "AC-3"]
    assert [q.answer_at.cell for q in result.questions] == answers
    assert [q.comment_at.cell for q in result.questions] == [a.replace("C", "D") for a in answers]


@pytest.mark.parametrize("text, is_label", [
    ("Name of the Data Protection Officer", True),
    ("List of sub-processors and their locations", True),
    ("Name the sub-processors you use for hosting", False),
    ("List all sub-processors you use", False),
])
def test_noun_labels_are_not_imperatives(text, is_label):
    from ingest.vocabulary import question_score

    assert (question_score(text) < 3) == is_label

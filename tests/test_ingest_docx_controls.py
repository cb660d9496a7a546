"""Control-implementation templates (SSP style) in Word: one question per control.

The fixtures are built here with python-docx in the layout of a system security
plan's control appendix: a heading per control ("AC-2 Account Management"), its
requirement statement, guidance, a summary table (responsible role, parameters,
implementation status and control origination as checkbox lists) and a table
asking how the control is implemented, with a row per part (Part a, Part b) or a
single answer cell.
"""
from __future__ import annotations

import copy
import io

import docx
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn

from ingest.docx_format import read_docx, write_docx
from ingest.model import AnswerFill, Locator
from tests.docx_fixtures import legacy_checkbox, member_map, run, sdt_checkbox, table_shape, to_bytes

W14 = 'xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml"'










def cell_paragraphs(cell, inners: list[str]) -> None:
    """Replace the cell's paragraphs with raw paragraph XML, one per item."""
    tc = cell._tc
    for p in list(tc.iterchildren(qn("w:p"))):
        tc.remove(p)
    for inner in inners:
        tc.append(parse_xml(f"<w:p {nsdecls('w')} {W14}>{inner}</w:p>"))


def repeat_header(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    trpr.append(parse_xml(f'<w:tblHeader {nsdecls("w")}/>'))


STATUS = ["Implemented", "Partially implemented", "Planned", "Alternative implementation", "Not applicable"]
ORIGIN = ["Service Provider Corporate", "Service Provider System Specific", "Configured by Customer",
          "Provided by Customer", "Shared", "Inherited from pre-existing authorization"]


def summary_table(document, cid: str, parameters: list[str], box: str = "glyph"):
    """The control summary: id | "Control Summary Information", then one full-width row per label."""
    rows = 1 + 1 + len(parameters) + 2
    t = document.add_table(rows=rows, cols=2)
    t.style = "Table Grid"
    t.cell(0, 0).text = cid
    t.cell(0, 1).text = "Control Summary Information"
    repeat_header(t.rows[0])
    labels = ["Responsible Role:", *[f"Parameter {p}:" for p in parameters]]
    for r, label in enumerate(labels, start=1):
        merged = t.cell(r, 0).merge(t.cell(r, 1))
        merged.text = label
    for r, (label, options) in enumerate(
            [("Implementation Status (check all that apply):", STATUS), ("Control Origination (check one):", ORIGIN)],
            start=1 + len(labels)):
        merged = t.cell(r, 0).merge(t.cell(r, 1))
        if box == "sdt":
            items = [sdt_checkbox() + run(" " + o) for o in options]
        elif box == "field":
            items = [legacy_checkbox(f"Check{r}{i}") + run(" " + o) for i, o in enumerate(options)]
        else:
            items = [run("☐ " + o) for o in options]
        cell_paragraphs(merged, [run(label), *items])
    return t


def solution_table(document, header: str, parts: list[str] | None, cols: int = 1, merge_header: bool = True):
    """The implementation table: a header row (merged unless told), then "Part x" | answer rows or one
    answer row (`cols` cells wide, not merged)."""
    if parts:
        t = document.add_table(rows=1 + len(parts), cols=2)
        for r, part in enumerate(parts, start=1):
            t.cell(r, 0).text = part
    else:
        t = document.add_table(rows=2, cols=cols)
    t.style = "Table Grid"
    head = t.cell(0, 0).merge(t.cell(0, len(t.columns) - 1)) if len(t.columns) > 1 and merge_header else t.cell(0, 0)
    head.text = header
    repeat_header(t.rows[0])
    return t


def control(document, heading: str, statement: list[str], guidance: list[str], cid: str, parameters: list[str],
            header: str, parts: list[str] | None, box: str = "glyph", repeated_header: bool = False, cols: int = 1):
    document.add_heading(heading, level=3)
    for text in statement:
        document.add_paragraph(text)
    for text in guidance:
        document.add_paragraph(text)
    document.add_paragraph()
    summary_table(document, cid, parameters, box)
    document.add_paragraph()
    t = solution_table(document, header, parts, cols, merge_header=cols == 1)
    if repeated_header:  # the header row typed again above the last part (a table split over two pages)
        last = t.rows[-1]._tr
        copy_ = copy.deepcopy(t.rows[0]._tr)
        last.addprevious(copy_)
    document.add_paragraph()


def ssp_doc() -> bytes:
    """Six controls in two families, in the style of a system security plan's control appendix."""
    d = docx.Document()
    d.add_heading("Appendix A: Security Controls", level=1)
    d.add_paragraph("Describe how each control is implemented in the tables that follow each control. "
                    "Check the implementation status and the origination of every control.")
    d.add_heading("Access Control (AC)", level=2)
    control(d, "AC-1 Policy and Procedures (L)(M)(H)",
            ["The organization:",
             "a. Develops, documents, and disseminates an access control policy to [Assignment: personnel];",
             "b. Reviews and updates the current access control policy [Assignment: frequency]."],
            ["AC-1 Additional Requirements and Guidance:",
             "Guidance: Review the policy at least every three years."],
            "AC-1", ["AC-1(a)", "AC-1(b)"], "AC-1 What is the solution and how is it implemented?",
            ["Part a", "Part b"])
    control(d, "AC-2 Account Management (L)(M)(H)",
            ["The organization defines and documents the types of system accounts allowed and reviews "
             "accounts for compliance with account management requirements."],
            [], "AC-2", ["AC-2(j)"], "AC-2 What is the solution and how is it implemented?", None, box="sdt")
    control(d, "AC-2 (1) Automated System Account Management (M)(H)",
            ["The organization employs automated mechanisms to support the management of system accounts."],
            ["Discussion: automated mechanisms include email or text messages to account managers."],
            "AC-2 (1)", [], "AC-2 (1) How is the control implemented?", None, box="field")
    d.add_heading("Audit and Accountability (AU)", level=2)
    control(d, "AU-2 Event Logging (L)(M)(H)",
            ["The organization:",
             "a. Identifies the types of events that the system is capable of logging;",
             "b. Coordinates the event logging function with other entities;",
             "c. Provides a rationale for why the event types are adequate;",
             "d. Test: reviews the event types [Assignment: frequency]."],
            [], "AU-2", ["AU-2(a)"], "AU-2 Control implementation description",
            ["Part a:", "Part b:", "Part c:"], repeated_header=True)
    control(d, "AU-3 Content of Audit Records", [], [], "AU-3", [],
            "AU-3 What is the solution and how is it implemented?", None, cols=2)
    d.add_heading("Configuration Management (CM)", level=2)
    control(d, "CM-7 (2) Prevent Program Execution (M)(H)",
            ["The information system prevents program execution in accordance with policies regarding "
             "software program usage and restrictions."],
            [], "CM-7 (2)", ["CM-7(2)"], "CM-7 (2) Describe how the solution is implemented.", ["Part 1", "Part 2"])
    return to_bytes(d)


def bold(document, text: str):
    p = document.add_paragraph()
    p.add_run(text).bold = True
    return p


def annex_doc() -> bytes:
    """Other spellings of the family: ISO-style ids in bold paragraphs (not headings), a combined table
    (summary rows and an "Implementation description" row beside its answer), an id given only in the
    table, and a header cell with no answer row."""
    d = docx.Document()
    d.add_heading("Organizational controls", level=1)
    # A.5.1: one table, summary rows then the implementation row with its answer beside it
    bold(d, "A.5.1 Policies for information security")
    d.add_paragraph("Information security policy shall be defined, approved by management and published.")
    d.add_paragraph("A.5.1 b) The policy shall be reviewed at planned intervals.")  # starts with the id too
    t = d.add_table(rows=4, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text = "Control owner:", ""
    cell_paragraphs(t.cell(1, 1), [sdt_checkbox() + run(" Implemented"), sdt_checkbox(True) + run(" Planned")])
    t.cell(1, 0).text = "Implementation status"
    t.cell(2, 0).text, t.cell(2, 1).text = "Control implementation description:", ""
    t.cell(3, 0).text, t.cell(3, 1).text = "", ""
    d.add_paragraph()
    # A.5.2: the id only in the summary table; the heading above has none
    bold(d, "Information security roles and responsibilities")
    d.add_paragraph("Note: roles are listed in the organisation chart.")
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text = "A.5.2", "Control Summary Information"
    t.cell(1, 0).merge(t.cell(1, 1)).text = "Responsible Role: CISO"
    t = d.add_table(rows=2, cols=1)
    t.cell(0, 0).text = "How is this requirement met?"
    d.add_paragraph()
    # A.5.3: the header is the last row: the answer goes under its text, in that cell
    bold(d, "A.5.3 Segregation of duties")
    t = d.add_table(rows=1, cols=1)
    t.cell(0, 0).text = "A.5.3 Describe how the control is implemented:"
    # A.5.4: the table's id is mistyped (the heading's wins); the parts are labels in full-width rows
    bold(d, "A.5.4 Contact with authorities")
    d.add_paragraph("The organization shall establish and maintain contact with relevant authorities.")
    t = d.add_table(rows=3, cols=1)
    t.cell(0, 0).text = "A.5.40 How does the organization meet this requirement?"
    t.cell(1, 0).text = "Part a:"
    t.cell(2, 0).text = "Part b:"
    d.add_paragraph()
    # A.5.5: the title is the summary table's first row; the solution table has no id
    t = d.add_table(rows=3, cols=2)
    t.cell(0, 0).merge(t.cell(0, 1)).text = "A.5.5 Information security in project management"
    t.cell(1, 0).merge(t.cell(1, 1)).text = "Responsible Role:"
    cell_paragraphs(t.cell(2, 0).merge(t.cell(2, 1)), [run("Implementation Status:"), run("☐ Implemented"),
                                                       run("☐ Planned")])
    d.add_paragraph()
    solution_table(d, "What is the solution and how is it implemented?", ["Part a", "Part b"])
    return to_bytes(d)


def record_doc() -> bytes:
    """One table per control holding the id, title and requirement as rows, under a numbered heading."""
    d = docx.Document()
    d.add_heading("3.1 Access Control", level=1)
    d.add_paragraph("Complete one table per requirement.")
    t = d.add_table(rows=5, cols=2)
    for r, (label, value) in enumerate([("Control ID", "AC-2"), ("Control Title", "Account Management (M)"),
                                        ("Requirement", "The organization manages system accounts."),
                                        ("Implementation Status", None),
                                        ("How is the control implemented?", "")]):
        t.cell(r, 0).text = label
        if value is None:
            cell_paragraphs(t.cell(r, 1), [sdt_checkbox() + run(" Implemented"), sdt_checkbox() + run(" Planned")])
        else:
            t.cell(r, 1).text = value
    d.add_paragraph()
    t = d.add_table(rows=4, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text = "Control", "3.1.2"
    t.cell(1, 0).text = "Requirement"
    t.cell(1, 1).text = "Limit system access to the types of transactions that authorized users may execute."
    t.cell(2, 0).merge(t.cell(2, 1)).text = "Implementation description:"
    t.cell(3, 0).merge(t.cell(3, 1))
    return to_bytes(d)


def questions_table_doc() -> bytes:
    """An ordinary questionnaire whose questions ask how things are implemented: not controls."""
    d = docx.Document()
    d.add_heading("3.1 Access control", level=2)
    t = d.add_table(rows=4, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text = "Question", "Answer"
    t.cell(1, 0).text = "How is multi-factor authentication implemented?"
    t.cell(2, 0).text = "How are privileged accounts reviewed and approved?"
    t.cell(3, 0).text = "Describe how the password policy is enforced."
    d.add_heading("3.2 Logging", level=2)
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text = "How is logging implemented?"
    t.cell(1, 0).text = "Who reviews the logs?"
    return to_bytes(d)


# ---- reading ------------------------------------------------------------------------------------------------


def test_one_question_per_control_answered_in_the_solution_cell():
    result = read_docx(ssp_doc())
    qs = result.questions
    assert [q.ref for q in qs] == ["AC-1", "AC-2", "AC-2(1)", "AU-2", "AU-3", "CM-7(2)"]
    assert [q.section for q in qs] == ["Access Control (AC)"] * 3 + ["Audit and Accountability (AU)"] * 2 + [
        "Configuration Management (CM)"]
    # title and requirement statement; the baseline marks and the guidance are left out
    assert qs[0].text == (
        "Policy and Procedures: The organization: a. Develops, documents, and disseminates an access control "
        "policy to [Assignment: personnel]; b. Reviews and updates the current access control policy "
        "[Assignment: frequency].")
    assert qs[2].text == ("Automated System Account Management: The organization employs automated mechanisms "
                          "to support the management of system accounts.")
    assert qs[3].text.endswith("adequate; d. Test: reviews the event types [Assignment: frequency].")
    assert qs[4].text == "Content of Audit Records"
    assert all("Guidance" not in q.text and "Discussion" not in q.text and "(M)" not in q.text for q in qs)
    # with part rows: the first part's answer cell; without: the single answer cell under the header
    assert [q.answer_at for q in qs] == [
        Locator(table=1, row=1, col=1), Locator(table=3, row=1, col=0), Locator(table=5, row=1, col=0),
        Locator(table=7, row=1, col=1), Locator(table=9, row=1, col=0), Locator(table=11, row=1, col=1)]
    assert qs[3].notes == ["the control has parts Part a, Part b, Part c; the answer is written in the Part a row"]
    assert qs[1].notes == []
    assert all(q.answer_kind == "text" and q.options is None and q.comment_at is None for q in qs)
    assert all(q.existing_answer is None for q in qs)
    # the summary rows (role, parameters, status, origination) are not questions
    assert not any(w in q.text for q in qs for w in ("Responsible Role", "Parameter", "Origination", "Part b"))
    assert result.layout["controls"] == 6
    assert set(result.layout["tables"].values()) == {"control summary", "control implementation"}
    assert result.kind == "questionnaire"


def test_other_spellings_of_the_control_layout():
    result = read_docx(annex_doc())
    qs = result.questions
    assert [q.ref for q in qs] == ["A.5.1", "A.5.2", "A.5.3", "A.5.4", "A.5.5"]
    assert {q.section for q in qs} == {"Organizational controls"}
    assert qs[0].text == ("Policies for information security: Information security policy shall be defined, "
                          "approved by management and published. A.5.1 b) The policy shall be reviewed at planned "
                          "intervals.")
    assert qs[0].answer_at == Locator(table=0, row=2, col=1)  # beside "Control implementation description:"
    assert qs[1].text == "Information security roles and responsibilities"  # the note is guidance
    assert qs[1].answer_at == Locator(table=2, row=1, col=0)
    assert qs[2].text == "Segregation of duties"
    assert qs[2].answer_at == Locator(table=3, row=0, col=0, insert_after=True)
    assert qs[3].text == ("Contact with authorities: The organization shall establish and maintain contact with "
                          "relevant authorities.")
    assert qs[3].answer_at == Locator(table=4, row=1, col=0, insert_after=True)  # under "Part a:"
    assert qs[3].notes == ["the control has parts Part a, Part b; the answer is written in the Part a row"]
    assert (qs[4].text, qs[4].answer_at) == (
        "Information security in project management", Locator(table=6, row=1, col=1))
    assert result.layout["tables"] == {0: "control implementation", 1: "control summary", 2: "control implementation",
                                       3: "control implementation", 4: "control implementation",
                                       5: "control summary", 6: "control implementation"}


def test_a_control_record_table_gives_the_id_title_and_requirement():
    qs = read_docx(record_doc()).questions
    assert [(q.ref, q.text, q.section, q.answer_at) for q in qs] == [
        ("AC-2", "Account Management: The organization manages system accounts.", "3.1 Access Control",
         Locator(table=0, row=4, col=1)),
        ("3.1.2", "Limit system access to the types of transactions that authorized users may execute.",
         "3.1 Access Control", Locator(table=1, row=3, col=0)),
    ]


def test_a_specific_implementation_prompt_stays_in_the_question_text():
    d = docx.Document()
    d.add_heading("Data protection", level=1)
    d.add_heading("Q1.2 Encryption", level=2)
    t = d.add_table(rows=2, cols=1)
    t.cell(0, 0).text = "How is encryption at rest implemented?"
    (q,) = read_docx(to_bytes(d)).questions
    assert (q.ref, q.text, q.section, q.answer_at) == (
        "Q1.2", "Encryption: How is encryption at rest implemented?", "Data protection", Locator(table=0, row=1, col=0))


def test_numbered_prompt_tables_read_as_before():
    """One 2x1 table per question, the number in the prompt: each prompt is its own question (the
    paragraph above the first table is no title)."""
    d = docx.Document()
    d.add_heading("Data protection", level=1)
    d.add_paragraph("Please answer every question.")
    for prompt in ["1.1 How is encryption at rest implemented?", "1.2 Describe how access reviews are achieved."]:
        t = d.add_table(rows=2, cols=1)
        t.cell(0, 0).text = prompt
        d.add_paragraph()
    qs = read_docx(to_bytes(d)).questions
    assert [(q.ref, q.text, q.section, q.answer_at) for q in qs] == [
        ("1.1", "How is encryption at rest implemented?", "Data protection", Locator(table=0, row=1, col=0)),
        ("1.2", "Describe how access reviews are achieved.", "Data protection", Locator(table=1, row=1, col=0))]


def test_questions_that_ask_how_something_is_implemented_stay_questions():
    qs = read_docx(questions_table_doc()).questions
    assert [q.text for q in qs] == [
        "How is multi-factor authentication implemented?", "How are privileged accounts reviewed and approved?",
        "Describe how the password policy is enforced.", "How is logging implemented?", "Who reviews the logs?"]
    assert all(q.ref is None or not q.ref.startswith("3.") for q in qs)


# ---- writing ------------------------------------------------------------------------------------------------


def cell_texts(document) -> dict[tuple[int, int, int], str]:
    """Every grid cell's text, merged cells once (at their first grid position)."""
    out = {}
    seen = set()
    for t, table in enumerate(document.tables):
        for r, row in enumerate(table.rows):
            for c, cell in enumerate(row.cells):
                if cell._tc not in seen:
                    seen.add(cell._tc)
                    out[(t, r, c)] = cell.text
    return out






def test_export_writes_each_answer_in_its_solution_cell_and_nothing_else():
    from ingest import write_answers

    for data in (ssp_doc(), annex_doc(), record_doc()):
        result = read_docx(data)
        fills = [AnswerFill(q, None, f"We do {q.ref}.\nSecond line") for q in result.questions]
        out = write_answers(data, "plan.docx", fills)
        a, b = member_map(data), member_map(out)
        assert list(a) == list(b) and [n for n in a if a[n] != b[n]] == ["word/document.xml"]
        before, after = docx.Document(io.BytesIO(data)), docx.Document(io.BytesIO(out))
        assert table_shape(before) == table_shape(after)
        assert [p.text for p in before.paragraphs] == [p.text for p in after.paragraphs]
        old, new = cell_texts(before), cell_texts(after)
        places = {(q.answer_at.table, q.answer_at.row, q.answer_at.col): q for q in result.questions}
        for key, text in old.items():
            if key not in places:
                assert new[key] == text, key
                continue
            q = places[key]
            expected = f"We do {q.ref}.\nSecond line"
            assert new[key] == (f"{text}\n{expected}" if q.answer_at.insert_after else expected), key
        # read again: the same controls, each with the answer written; filling again adds nothing
        again = read_docx(out)
        assert [(q.ref, q.text, q.answer_at) for q in again.questions] == [
            (q.ref, q.text, q.answer_at) for q in result.questions]
        assert [q.existing_answer for q in again.questions] == [f.narrative for f in fills]
        refill = [AnswerFill(q, None, f.narrative) for q, f in zip(again.questions, fills)]
        twice = write_answers(out, "plan.docx", refill)
        assert cell_texts(docx.Document(io.BytesIO(twice))) == new


def test_the_ssp_writes_leave_the_other_part_rows_and_the_summary_alone():
    data = ssp_doc()
    result = read_docx(data)
    au2 = next(q for q in result.questions if q.ref == "AU-2")
    out = write_docx(data, [AnswerFill(au2, None, "Events are logged centrally.")])
    table = docx.Document(io.BytesIO(out)).tables[7]
    assert [[c.text for c in row.cells] for row in table.rows] == [
        ["AU-2 Control implementation description"] * 2, ["Part a:", "Events are logged centrally."],
        ["Part b:", ""], ["AU-2 Control implementation description"] * 2, ["Part c:", ""]]


def test_an_answer_a_person_wrote_in_any_part_row_is_the_existing_answer():
    document = docx.Document(io.BytesIO(ssp_doc()))
    document.tables[7].cell(2, 1).text = "Coordinated with the SOC."
    document.tables[3].cell(1, 0).text = "Accounts are managed in the directory."
    qs = read_docx(to_bytes(document)).questions
    assert next(q for q in qs if q.ref == "AU-2").existing_answer == "Part b: Coordinated with the SOC."
    assert next(q for q in qs if q.ref == "AC-2").existing_answer == "Accounts are managed in the directory."
    assert next(q for q in qs if q.ref == "AC-1").existing_answer is None


def test_autofill_writes_matched_controls_in_their_solution_cells_only():
    """Through questionnaire.autofill with a FAKE matcher (keyword rules; unit test of the write path)."""
    from answer_bank.model import BankEntry
    from questionnaire.autofill import autofill
    from tests.ingest_fixtures import FakeMatcher

    accounts = BankEntry("IAM-1", "How are accounts managed?", "Accounts are provisioned from the HR system.")
    logging_ = BankEntry("LOG-1", "How are events logged?", "All events go to the central SIEM.", short_answer="Yes")
    matcher = FakeMatcher({"account management": ("high", accounts), "event logging": ("medium", logging_)})
    data = ssp_doc()
    report = autofill(data, "ssp.docx", matcher)
    status = {o.question.ref: o.status for o in report.outcomes}
    assert status == {"AC-1": "blank", "AC-2": "written", "AC-2(1)": "written", "AU-2": "written",
                      "AU-3": "blank", "CM-7(2)": "blank"}
    before, after = docx.Document(io.BytesIO(data)), docx.Document(io.BytesIO(report.output))
    old, new = cell_texts(before), cell_texts(after)
    written = {(3, 1, 0): "Accounts are provisioned from the HR system.",
               (5, 1, 0): "Accounts are provisioned from the HR system.",
               (7, 1, 1): "Yes. All events go to the central SIEM."}
    assert {k: v for k, v in new.items() if v != old[k]} == written
    assert [p.text for p in before.paragraphs] == [p.text for p in after.paragraphs]

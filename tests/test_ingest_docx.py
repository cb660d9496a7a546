"""DOCX questionnaires: every layout read, written back, and nothing else changed.

Every fixture is built here with python-docx, plus raw WordprocessingML where
python-docx has no API (numbering, legacy form fields, content controls).
"""
from __future__ import annotations

import io
import re
import zipfile

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.shared import Pt

from ingest.docx_format import MARKER_PREFIX, read_docx, write_docx
from ingest.errors import DamagedFile, ExportError, UnsafeFile, UnsupportedFormat
from ingest.model import AnswerFill, IngestHints, Locator

from tests.docx_fixtures import (
    to_bytes, reopen, xml_paragraph, run, append, set_cell_xml, add_numbering, member_map,
    assert_only_document_changed, assert_bookmarks_paired, table_shape, by_text, beside_doc,
    below_doc, small_tables_doc, yes_no_doc, numbered_doc, checkbox_doc, no_space_doc, standard_doc,
    hints_doc,
)


# ---- reading: one test per layout -------------------------------------------------------------


def test_answer_beside_the_label_and_header_columns():
    result = read_docx(beside_doc())
    assert result.format == "docx" and result.kind == "questionnaire"
    assert len(result.questions) == 6
    name = by_text(result, "Name")
    assert name.text == "Supplier contact: Name"  # the caption gives short labels their subject
    assert name.answer_at == Locator(table=0, row=0, col=1)
    assert name.section == "Company details"
    encrypt = by_text(result, "encrypt customer data")
    assert encrypt.ref == "SEC-1"
    assert encrypt.answer_at == Locator(table=1, row=1, col=2)
    assert encrypt.comment_at == Locator(table=1, row=1, col=3)
    assert encrypt.section == "Security"


def test_prompt_above_answer_cell():
    result = read_docx(below_doc())
    assert [q.answer_at for q in result.questions] == [Locator(table=0, row=1, col=0), Locator(table=1, row=1, col=0)]
    assert result.questions[1].text.startswith("Describe the nature of the processing")
    assert {q.section for q in result.questions} == {"Step 1: The project"}


def test_one_small_table_per_question_with_a_merged_answer_row():
    result = read_docx(small_tables_doc())
    assert [(q.ref, q.answer_at) for q in result.questions] == [
        ("1.1", Locator(table=0, row=1, col=0)),
        ("1.2", Locator(table=1, row=1, col=0)),
    ]
    assert result.questions[1].text == "How often are access rights reviewed?"


def test_yes_no_columns_are_marks():
    result = read_docx(yes_no_doc())
    assert len(result.questions) == 3
    q = result.questions[0]
    assert (q.ref, q.section, q.answer_kind, q.options) == ("2.1", "Ethics", "yes_no_na", ["Yes", "No", "N/A"])
    assert dict(q.answer_at.marks) == {
        "Yes": Locator(table=0, row=1, col=3),
        "No": Locator(table=0, row=1, col=4),
        "N/A": Locator(table=0, row=1, col=5),
    }
    assert q.comment_at == Locator(table=0, row=1, col=6)
    assert result.questions[1].existing_answer == "No"
    assert result.questions[0].existing_answer is None
    assert q.to_json()["answer_at"]["marks"]["No"] == {"table": 0, "row": 1, "col": 4}


def test_numbered_paragraphs_take_their_reference_from_word_numbering():
    result = read_docx(numbered_doc())
    got = [(q.ref, q.text) for q in result.questions]
    assert got == [
        ("1.1", "Do you have an approved information security policy?"),
        ("1.2", "Describe how the policy is reviewed and by whom."),
        ("2.1", "Is customer data encrypted at rest?"),
        ("a", "Which algorithms and key lengths are used?"),
        ("b", "Which key management system is used?"),
        ("5", "Do you carry cyber insurance?"),  # a second list over the same numbering, restarted at 5
    ]
    document = reopen(numbered_doc())
    for q in result.questions:
        assert q.answer_at.insert_after
        assert document.paragraphs[q.answer_at.paragraph].text == q.text


def test_checkboxes_legacy_fields_glyphs_and_content_controls():
    data = checkbox_doc()
    result = read_docx(data)
    texts = [q.text for q in result.questions]
    assert len(result.questions) == 4, texts
    screen = result.questions[0]
    assert screen.ref == "1.1"
    assert screen.answer_kind == "choice"
    assert screen.options == ["Implemented", "Planned to be Implemented", "Not Applicable"]
    assert dict(screen.answer_at.marks)["Planned to be Implemented"] == Locator(table=0, row=0, col=1)
    assert screen.comment_at == Locator(table=0, row=1, col=0, insert_after=True)
    mfa = result.questions[1]
    assert mfa.text == "Do you use multi-factor authentication?"
    assert (mfa.answer_kind, mfa.options) == ("yes_no_na", ["Yes", "No"])
    dpo = result.questions[2]
    assert dpo.text == "Have you appointed a data protection officer?"
    assert dpo.existing_answer == "No"
    paragraphs = [p.text for p in reopen(data).paragraphs]
    assert paragraphs[dict(dpo.answer_at.marks)["No"].paragraph] == "☒ No"
    pentest = result.questions[3]
    assert pentest.options == ["Yes", "No"]
    assert dict(pentest.answer_at.marks) == {"Yes": Locator(table=1, row=0, col=1), "No": Locator(table=1, row=0, col=1)}


def test_paragraphs_without_answer_space_get_an_inserted_paragraph():
    data = no_space_doc()
    result = read_docx(data)
    paragraphs = [p.text for p in reopen(data).paragraphs]
    got = [(q.text, paragraphs[q.answer_at.paragraph], q.answer_at.insert_after, q.answer_kind) for q in result.questions]
    assert got == [
        ("Do you have a documented incident response plan?", "Do you have a documented incident response plan?", True, "text"),
        ("Company registration number: [Enter the registration number]",
         "Company registration number: [Enter the registration number]", True, "text"),
        # the answer goes after the placeholder paragraph, which is left in place
        ("Describe the system boundary and its interconnections.",
         "[Insert a narrative and a diagram of the system boundary.]", True, "text"),
        ("Is all hardware owned by the organisation? [Yes/No - If no, explain:]",
         "Is all hardware owned by the organisation? [Yes/No - If no, explain:]", True, "yes_no_na"),
    ]
    assert result.questions[0].to_json()["answer_at"] == {"paragraph": 2, "insert_after": True}


def test_a_standard_is_reported_as_such_not_as_questions():
    result = read_docx(standard_doc())
    assert result.kind == "standard"
    assert result.questions == []
    (warning,) = [w for w in result.warnings if "standard" in w]
    assert "30 requirements" in warning and "L1, L2, L3" in warning and "Verify that" in warning


def test_hints_name_the_columns():
    plain = read_docx(hints_doc())
    hinted = read_docx(hints_doc(), IngestHints(question_col="statement", answer_col="Vendor position", comment_col="C"))
    assert [q.answer_at for q in hinted.questions] == [Locator(table=0, row=1, col=1), Locator(table=0, row=2, col=1)]
    assert [q.comment_at for q in hinted.questions] == [Locator(table=0, row=1, col=2), Locator(table=0, row=2, col=2)]
    assert hinted.questions[0].existing_answer == "Agreed"
    assert hinted.layout["tables"][0].startswith("header columns (from hints)")
    assert plain.layout["tables"][0] != hinted.layout["tables"][0]
    by_index = read_docx(hints_doc(), IngestHints(question_col="0", answer_col="1"))
    assert [q.answer_at.col for q in by_index.questions] == [1, 1]
    missing = read_docx(hints_doc(), IngestHints(question_col="Nope", sheet="Sheet1"))
    assert any("did not match" in w for w in missing.warnings)
    assert any("--sheet" in w for w in missing.warnings)


def test_existing_answers_are_read_from_a_filled_form():
    d = docx.Document()
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text = "Legal entity name:"
    t.cell(0, 1).text = "Acme Ltd"
    t.cell(1, 0).text = "Do you have an ISMS?"
    t.cell(1, 1).text = "Yes, certified to ISO 27001"
    t2 = d.add_table(rows=2, cols=1)
    t2.cell(0, 0).text = "Describe your backup strategy."
    t2.cell(1, 0).text = "Nightly encrypted backups to a second region."
    result = read_docx(to_bytes(d))
    assert [(q.text, q.existing_answer) for q in result.questions] == [
        ("Legal entity name:", "Acme Ltd"),
        ("Do you have an ISMS?", "Yes, certified to ISO 27001"),
        ("Describe your backup strategy.", "Nightly encrypted backups to a second region."),
    ]


def test_indices_match_python_docx_with_nested_tables_and_content_controls():
    d = docx.Document()
    d.add_paragraph("Intro")
    outer = d.add_table(rows=1, cols=1)
    outer.cell(0, 0).add_table(rows=1, cols=2)  # a nested table: not in document.tables
    sdt = parse_xml(f"<w:sdt {nsdecls('w')}><w:sdtContent>"
                    f"<w:p><w:r><w:t>Is this inside a content control?</w:t></w:r></w:p></w:sdtContent></w:sdt>")
    append(d, sdt)
    d.add_paragraph("Do you monitor privileged access?")
    d.add_paragraph("")
    t = d.add_table(rows=1, cols=2)
    t.cell(0, 0).text = "Contact email:"
    data = to_bytes(d)
    result = read_docx(data)
    document = reopen(data)
    q_par = by_text(result, "privileged access")
    assert document.paragraphs[q_par.answer_at.paragraph].text == "Do you monitor privileged access?"
    q_tab = by_text(result, "Contact email")
    assert q_tab.answer_at == Locator(table=1, row=0, col=1)
    assert document.tables[1].cell(0, 0).text == "Contact email:"
    assert any("nested" in w for w in result.warnings)
    assert any("content control" in w for w in result.warnings)


# ---- writing -----------------------------------------------------------------------------------


def fill_all(result, short=None, narrative="Answer"):
    return [AnswerFill(q, short, f"{narrative} {i}") for i, q in enumerate(result.questions)]


def test_write_text_answers_into_cells_keeps_format_and_everything_else():
    data = beside_doc()
    result = read_docx(data)
    fills = [AnswerFill(q, None, f"=SUM(A1:A{i}) +cmd|' /C calc'!A0 @x") for i, q in enumerate(result.questions)]
    out = write_docx(data, fills)
    assert_only_document_changed(data, out)
    before, after = reopen(data), reopen(out)
    assert table_shape(before) == table_shape(after)
    assert [p.text for p in before.paragraphs] == [p.text for p in after.paragraphs]
    assert after.tables[0].cell(1, 1).text == "=SUM(A1:A1) +cmd|' /C calc'!A0 @x"  # literal text
    assert after.tables[1].cell(2, 2).text.startswith("=SUM(A1:A4)")
    assert after.tables[1].cell(2, 1).text == "Do you run annual penetration tests?"
    run_ = after.tables[0].cell(1, 1).paragraphs[0].runs[0]
    assert run_.font.size == Pt(9) and run_.font.name == "Arial"
    xml = member_map(out)["word/document.xml"].decode()
    assert "instrText" not in xml and "fldSimple" not in xml
    declaration = member_map(data)["word/document.xml"].split(b"?>")[0]
    assert member_map(out)["word/document.xml"].split(b"?>")[0] == declaration
    again = read_docx(out)
    assert [q.existing_answer for q in again.questions] == [f.narrative for f in fills]
    assert [q.answer_at for q in again.questions] == [q.answer_at for q in result.questions]


def test_write_short_answer_and_comment_to_their_cells():
    data = beside_doc()
    result = read_docx(data)
    q = by_text(result, "encrypt customer data")
    out = write_docx(data, [AnswerFill(q, "Yes", "AES-256 with keys in an HSM.")])
    table = reopen(out).tables[1]
    assert table.cell(1, 2).text == "Yes"
    assert table.cell(1, 3).text == "AES-256 with keys in an HSM."
    again = by_text(read_docx(out), "encrypt customer data")
    assert (again.existing_answer, again.existing_comment) == ("Yes", "AES-256 with keys in an HSM.")


def test_write_below_and_merged_answer_rows():
    for build in (below_doc, small_tables_doc):
        data = build()
        result = read_docx(data)
        out = write_docx(data, fill_all(result, narrative="Line one\nline two"))
        after = reopen(out)
        for i, q in enumerate(result.questions):
            loc = q.answer_at
            assert after.tables[loc.table].cell(loc.row, loc.col).text == f"Line one\nline two {i}"
        assert table_shape(reopen(data)) == table_shape(after)
        assert_only_document_changed(data, out)


def test_write_yes_no_marks_in_the_right_column():
    data = yes_no_doc()
    result = read_docx(data)
    fills = [AnswerFill(result.questions[0], "no", "We do not."), AnswerFill(result.questions[1], "Yes", None),
             AnswerFill(result.questions[2], "Maybe", None)]
    out = write_docx(data, fills)
    table = reopen(out).tables[0]
    assert [table.cell(1, c).text for c in (3, 4, 5, 6)] == ["", "X", "", "We do not."]
    # the earlier "No" of 2.2 is cleared when the answer becomes "Yes"
    assert [table.cell(2, c).text for c in (3, 4, 5)] == ["X", "", ""]
    # an answer that is not an option marks nothing (the autofill report says why)
    assert [table.cell(3, c).text for c in (3, 4, 5)] == ["", "", ""]
    again = read_docx(out)
    assert [q.existing_answer for q in again.questions] == ["No", "Yes", None]
    assert table_shape(reopen(data)) == table_shape(reopen(out))


def test_write_checkboxes_and_details():
    data = checkbox_doc()
    result = read_docx(data)
    screen, mfa, dpo, pentest = result.questions
    fills = [AnswerFill(screen, "Planned to be Implemented", "Background checks start in Q3."),
             AnswerFill(mfa, "Yes", None), AnswerFill(dpo, "Yes", None), AnswerFill(pentest, "No", None)]
    out = write_docx(data, fills)
    xml = member_map(out)["word/document.xml"].decode()
    defaults = re.findall(r'<w:default w:val="(\d)"/>', xml)
    assert defaults == ["0", "1", "0"]
    after = reopen(out)
    texts = [p.text for p in after.paragraphs]
    assert "Do you use multi-factor authentication? ☒ Yes ☐ No" in texts
    assert texts[dict(dpo.answer_at.marks)["Yes"].paragraph] == "☒ Yes"
    assert texts[dict(dpo.answer_at.marks)["No"].paragraph] == "☐ No"
    details = after.tables[0].cell(1, 0)
    assert [p.text for p in details.paragraphs] == [
        "Implementation details. If “Not Applicable,” provide rationale.", "Background checks start in Q3."]
    assert details.paragraphs[1].runs[0].font.bold is None  # the red bold instruction is not copied
    assert re.findall(r'w14:checked w14:val="(\d)"', xml) == ["0", "1"]
    again = read_docx(out)
    assert [q.existing_answer for q in again.questions] == ["Planned to be Implemented", "Yes", "Yes", "No"]
    assert again.questions[0].existing_comment == "Background checks start in Q3."
    assert_only_document_changed(data, out)
    # filling the filled copy again: the details paragraph is replaced, not added to
    again_out = write_docx(out, [AnswerFill(read_docx(out).questions[0], "Implemented", "Done.")])
    assert_bookmarks_paired(again_out)
    details = reopen(again_out).tables[0].cell(1, 0)
    assert [p.text for p in details.paragraphs][1:] == ["Done."]


def test_write_inserted_paragraphs_and_fill_again_without_duplicates():
    data = no_space_doc()
    result = read_docx(data)
    fills = [AnswerFill(q, "No" if q.answer_kind == "yes_no_na" else None, f"Answer {i}")
             for i, q in enumerate(result.questions)]
    out = write_docx(data, fills)
    before, after = [p.text for p in reopen(data).paragraphs], [p.text for p in reopen(out).paragraphs]
    assert len(after) == len(before) + 4
    assert [t for t in after if not t.startswith(("Answer", "No. Answer"))] == before
    assert after[after.index("Do you have a documented incident response plan?") + 1] == "Answer 0"
    assert after[after.index("[Insert a narrative and a diagram of the system boundary.]") + 1] == "Answer 2"
    assert "No. Answer 3" in after
    reread = read_docx(out)
    assert [q.existing_answer for q in reread.questions] == ["Answer 0", "Answer 1", "Answer 2", "No. Answer 3"]
    assert [q.text for q in reread.questions] == [q.text for q in result.questions]
    # filling the filled copy again replaces the answers instead of adding more
    twice = write_docx(out, [AnswerFill(q, None, "Second") for q in reread.questions])
    assert_bookmarks_paired(out)
    assert_bookmarks_paired(twice)
    texts = [p.text for p in reopen(twice).paragraphs]
    assert len(texts) == len(after) and texts.count("Second") == 4
    xml = member_map(out)["word/document.xml"].decode()
    assert xml.count(f'w:name="{MARKER_PREFIX}') == 4
    heading_style = reopen(out).paragraphs[after.index("Answer 0")].style.name
    assert heading_style == "Normal"


def test_write_numbered_question_answers_are_not_numbered():
    data = numbered_doc()
    result = read_docx(data)
    out = write_docx(data, fill_all(result))
    reread = read_docx(out)
    assert [q.ref for q in reread.questions] == [q.ref for q in result.questions]
    document = reopen(out)
    answer = next(p for p in document.paragraphs if p.text == "Answer 0")
    assert answer._p.pPr is None or answer._p.pPr.numPr is None


def test_write_nothing_returns_the_file_unchanged():
    data = beside_doc()
    assert write_docx(data, []) == data
    result = read_docx(data)
    assert write_docx(data, [AnswerFill(result.questions[0], None, "  ")]) == data


@pytest.mark.parametrize("value", ["bell\x07", "nul\x00here", "form\x0cfeed"])
def test_control_characters_are_refused_with_the_question_named(value):
    data = beside_doc()
    q = read_docx(data).questions[3]
    with pytest.raises(ExportError, match="SEC-1"):
        write_docx(data, [AnswerFill(q, None, value)])


def test_a_locator_that_is_not_in_the_file_is_refused():
    data = below_doc()
    q = read_docx(data).questions[0]
    q.answer_at = Locator(table=9, row=0, col=0)
    with pytest.raises(ExportError, match="does not exist"):
        write_docx(data, [AnswerFill(q, None, "x")])


# ---- macros and hostile files -----------------------------------------------------------------------


def as_docm(data: bytes) -> bytes:
    members = member_map(data)
    members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
        b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        b"application/vnd.ms-word.document.macroEnabled.main+xml",
    ).replace(b"</Types>", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>')
    members["word/_rels/document.xml.rels"] = members["word/_rels/document.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
        b'Target="vbaProject.bin"/></Relationships>',
    )
    members["word/vbaProject.bin"] = b"\xd0\xcf\x11\xe0 fake VBA project: AutoOpen()"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return out.getvalue()


def test_docm_is_read_without_macros_and_written_as_docx():
    data = as_docm(below_doc())
    result = read_docx(data)
    assert len(result.questions) == 2
    assert any("macro" in w for w in result.warnings)
    out = write_docx(data, fill_all(result))
    members = member_map(out)
    assert "word/vbaProject.bin" not in members
    assert b"macroEnabled" not in members["[Content_Types].xml"]
    assert b"vbaProject" not in members["word/_rels/document.xml.rels"]
    assert reopen(out).tables[0].cell(1, 0).text == "Answer 0"


def test_docm_through_the_dispatcher_is_guarded_once_and_warned_once(monkeypatch):
    import ingest.docx_format
    import ingest.guard
    from ingest import read_questionnaire, write_answers

    calls = []
    real = ingest.guard.check_ooxml

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest.guard, "check_ooxml", counted)
    monkeypatch.setattr(ingest.docx_format, "check_ooxml", counted)
    data = as_docm(below_doc())
    result = read_questionnaire(data, "form.docm")
    assert len(calls) == 1
    assert len([w for w in result.warnings if "macro" in w]) == 1
    out = write_answers(data, "form.docm", fill_all(result))
    assert len(calls) == 2
    assert "word/vbaProject.bin" not in member_map(out)


def package_with_document(document_xml: bytes) -> bytes:
    members = member_map(below_doc())
    members["word/document.xml"] = document_xml
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return out.getvalue()


def test_a_huge_text_run_is_rejected_before_parsing():
    head = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {nsdecls("w")}><w:body><w:p><w:r><w:t>'
    body = head.encode() + b"A" * (41 * 1024 * 1024) + b"</w:t></w:r></w:p></w:body></w:document>"
    with pytest.raises(UnsafeFile):
        read_docx(package_with_document(body))


def test_deep_nesting_is_rejected_before_parsing():
    depth = 5000
    head = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {nsdecls("w")}><w:body>'
    nested = "<w:tbl><w:tr><w:tc>" * depth + "<w:p/>" + "</w:tc></w:tr></w:tbl>" * depth
    with pytest.raises(UnsafeFile, match="levels deep"):
        read_docx(package_with_document((head + nested + "</w:body></w:document>").encode()))


@pytest.mark.parametrize(
    "data, error",
    [
        (b"PK\x03\x04 truncated zip", DamagedFile),
        (b"not a document at all", DamagedFile),
    ],
)
def test_damaged_files_give_one_clear_error(data, error):
    with pytest.raises(error):
        read_docx(data)


def test_a_workbook_is_not_read_as_a_document():
    import openpyxl

    wb = openpyxl.Workbook()
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(UnsupportedFormat, match="Excel"):
        read_docx(buf.getvalue())


# ---- more layouts seen in the wild --------------------------------------------------------------------

DROPDOWN = (
    '<w:sdt><w:sdtPr><w:showingPlcHdr/><w:dropDownList>'
    '<w:listItem w:value="" w:displayText="Choose an item."/><w:listItem w:displayText="Yes" w:value="Y"/>'
    '<w:listItem w:displayText="No" w:value="N"/><w:listItem w:displayText="Not applicable" w:value="NA"/>'
    '</w:dropDownList></w:sdtPr><w:sdtContent><w:r><w:t>Choose an item.</w:t></w:r></w:sdtContent></w:sdt>'
)
TEXT_CONTROL = (
    '<w:sdt><w:sdtPr><w:showingPlcHdr/><w:text/></w:sdtPr><w:sdtContent><w:r><w:rPr>'
    '<w:rStyle w:val="PlaceholderText"/></w:rPr><w:t>Click or tap here to enter text.</w:t></w:r></w:sdtContent></w:sdt>'
)


def test_dropdown_content_controls_give_options_and_take_the_option():
    d = docx.Document()
    add_numbering(d, 96, {96: None}, [("decimal", "%1.")])
    t = d.add_table(rows=3, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text = "Question", "Answer"
    for r, text in ((1, "Do you have a CISO?"), (2, "Are backups encrypted?")):
        p = t.cell(r, 0).paragraphs[0]
        p.add_run(text)  # numbered by Word inside the cell: the reference is "1", "2"
        p._p.get_or_add_pPr().append(parse_xml(
            f'<w:numPr {nsdecls("w")}><w:ilvl w:val="0"/><w:numId w:val="96"/></w:numPr>'))
        set_cell_xml(t.cell(r, 1), DROPDOWN)
    data = to_bytes(d)
    result = read_docx(data)
    assert [(q.ref, q.answer_kind, q.options, q.existing_answer) for q in result.questions] == [
        ("1", "yes_no_na", ["Yes", "No", "Not applicable"], None),
        ("2", "yes_no_na", ["Yes", "No", "Not applicable"], None),
    ]
    out = write_docx(data, [AnswerFill(result.questions[0], "yes", None), AnswerFill(result.questions[1], "N/A", None)])
    xml = member_map(out)["word/document.xml"].decode()
    assert re.findall(r'w:lastValue="(\w+)"', xml) == ["Y", "NA"]
    assert "showingPlcHdr" not in xml and xml.count("<w:dropDownList") == 2  # the controls stay
    assert [q.existing_answer for q in read_docx(out).questions] == ["Yes", "Not applicable"]


def test_text_content_controls_beside_labels_are_filled_in_place():
    d = docx.Document()
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text, t.cell(1, 0).text = "Company name", "Primary contact"
    for r in (0, 1):
        set_cell_xml(t.cell(r, 1), TEXT_CONTROL)
    data = to_bytes(d)
    result = read_docx(data)
    assert [q.answer_at for q in result.questions] == [Locator(table=0, row=0, col=1), Locator(table=0, row=1, col=1)]
    out = write_docx(data, [AnswerFill(q, None, f"Value {i}") for i, q in enumerate(result.questions)])
    xml = member_map(out)["word/document.xml"].decode()
    assert xml.count("<w:sdt>") == 2 and "showingPlcHdr" not in xml and "PlaceholderText" not in xml
    assert [q.existing_answer for q in read_docx(out).questions] == ["Value 0", "Value 1"]


def test_header_table_with_section_rows_and_a_control_id_column():
    d = docx.Document()
    t = d.add_table(rows=5, cols=4)
    for cell, text in zip(t.rows[0].cells, ["Control", "Description", "Compliant (Yes/No)", "Evidence"]):
        cell.text = text
    t.cell(1, 0).merge(t.cell(1, 3)).text = "Access Control"
    t.cell(2, 0).text, t.cell(2, 1).text = "AC-1", "The organization develops an access control policy."
    t.cell(3, 0).merge(t.cell(3, 3)).text = "Audit"
    t.cell(4, 0).text, t.cell(4, 1).text = "AU-2", "The organization defines auditable events."
    result = read_docx(to_bytes(d))
    got = [(q.ref, q.section, q.text, q.answer_kind, q.answer_at, q.comment_at) for q in result.questions]
    assert got == [
        ("AC-1", "Access Control", "The organization develops an access control policy.", "yes_no_na",
         Locator(table=0, row=2, col=2), Locator(table=0, row=2, col=3)),
        ("AU-2", "Audit", "The organization defines auditable events.", "yes_no_na",
         Locator(table=0, row=4, col=2), Locator(table=0, row=4, col=3)),
    ]


def test_answer_box_table_and_response_label_paragraph():
    d = docx.Document()
    d.add_paragraph("Provide details of your vulnerability disclosure programme.")
    d.add_table(rows=1, cols=1)
    d.add_heading("3.1 Data encryption", level=2)
    d.add_paragraph("Explain how data is encrypted in transit.")
    d.add_paragraph("Response:")
    d.add_paragraph("Note: answers may be shared with our auditors.")
    data = to_bytes(d)
    box, label = read_docx(data).questions
    assert box.answer_at == Locator(table=0, row=0, col=0)
    assert (label.answer_at, label.section) == (Locator(paragraph=3), "3.1 Data encryption")
    out = write_docx(data, [AnswerFill(box, None, "security.txt and a bounty"), AnswerFill(label, None, "TLS 1.3")])
    document = reopen(out)
    assert document.tables[0].cell(0, 0).text == "security.txt and a bounty"
    assert [p.text for p in document.paragraphs] == [
        "Provide details of your vulnerability disclosure programme.", "3.1 Data encryption",
        "Explain how data is encrypted in transit.", "Response: TLS 1.3",
        "Note: answers may be shared with our auditors."]
    assert [q.existing_answer for q in read_docx(out).questions] == ["security.txt and a bounty", "TLS 1.3"]


def test_yes_no_columns_with_checkbox_glyphs():
    d = docx.Document()
    t = d.add_table(rows=3, cols=4)
    for cell, text in zip(t.rows[0].cells, ["Question", "Yes", "No", "N/A"]):
        cell.text = text
    for r, text in ((1, "Do you encrypt backups?"), (2, "Do you log admin actions?")):
        t.cell(r, 0).text = text
        for c in (1, 2, 3):
            t.cell(r, c).text = "☐"
    data = to_bytes(d)
    result = read_docx(data)
    out = write_docx(data, [AnswerFill(result.questions[0], "Yes", None), AnswerFill(result.questions[1], "n/a", None)])
    rows = [[c.text for c in row.cells] for row in reopen(out).tables[0].rows]
    assert rows[1:] == [["Do you encrypt backups?", "☒", "☐", "☐"], ["Do you log admin actions?", "☐", "☐", "☒"]]


def test_numbered_question_rows_with_merged_answer_rows_in_one_table():
    d = docx.Document()
    t = d.add_table(rows=5, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text = "No.", "Question"
    for r, (ref, text) in ((1, ("1", "Describe how you onboard new suppliers and assess their risk.")),
                           (3, ("2", "Describe how customer data is deleted at the end of the contract."))):
        t.cell(r, 0).text, t.cell(r, 1).text = ref, text
        t.cell(r + 1, 0).merge(t.cell(r + 1, 1))
    result = read_docx(to_bytes(d))
    assert [(q.ref, q.answer_at) for q in result.questions] == [
        ("1", Locator(table=0, row=2, col=0)), ("2", Locator(table=0, row=4, col=0))]


def test_options_sharing_one_place_are_marked_as_planned():
    """Three checkboxes in one paragraph are one place: the writer marks the
    option the fill plan chose (any spelling of the answer) and clears the others."""
    from ingest.fill import plan_fill

    d = docx.Document()
    append(d, xml_paragraph(run("Do you encrypt backups? ☒ Yes ☐ No ☐ N/A")))
    data = to_bytes(d)
    (q,) = read_docx(data).questions
    writes, _ = plan_fill(AnswerFill(q, "not applicable", None))
    assert [(w.role, w.option) for w in writes] == [("mark", "N/A")]
    out = write_docx(data, [AnswerFill(q, "not applicable", None)])
    assert reopen(out).paragraphs[0].text == "Do you encrypt backups? ☐ Yes ☐ No ☒ N/A"
    assert read_docx(out).questions[0].existing_answer == "N/A"


@pytest.mark.parametrize("headers", [
    ["Nº", "Pregunta", "Puntuación del evaluador", "Respuesta", "Comentarios"],
    ["N°", "Question", "Évaluation", "Réponse", "Commentaires"],
    ["Nr.", "Frage", "Bewertung durch Prüfer", "Antwort", "Bemerkungen"],
])
def test_header_words_in_other_languages_name_the_columns(headers):
    """The header words the spreadsheet reader knows, in every language it lists, name
    a Word table's columns too; the customer's own evaluation column takes no answer."""
    d = docx.Document()
    t = d.add_table(rows=3, cols=5)
    for cell, text in zip(t.rows[0].cells, headers):
        cell.text = text
    for row, (ref, question) in zip(t.rows[1:], [("1", "¿Cifra los datos en reposo?"), ("2", "¿Tiene un plan de respuesta?")]):
        row.cells[0].text = ref
        row.cells[1].text = question
    result = read_docx(to_bytes(d))
    assert [(q.ref, q.answer_at, q.comment_at) for q in result.questions] == [
        ("1", Locator(table=0, row=1, col=3), Locator(table=0, row=1, col=4)),
        ("2", Locator(table=0, row=2, col=3), Locator(table=0, row=2, col=4)),
    ]


def test_an_answer_written_beside_a_label_is_no_header():
    """"Name of controller | Answer: ..." filled in: reading the copy again finds the
    same questions, not a header row naming an answer column."""
    d = docx.Document()
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text = "Name of controller:"
    t.cell(1, 0).text = "Address of controller:"
    data = to_bytes(d)
    questions = read_docx(data).questions
    fills = [AnswerFill(q, None, f"Answer: {text}") for q, text in zip(questions, ["Acme Ltd", "1 High Street"])]
    again = read_docx(write_docx(data, fills)).questions
    assert [(q.text, q.answer_at) for q in again] == [(q.text, q.answer_at) for q in questions]
    assert [q.existing_answer for q in again] == ["Answer: Acme Ltd", "Answer: 1 High Street"]

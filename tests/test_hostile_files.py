"""Issue 13 (security round 2), hostile-file points; SECURITY.md cases 29, 30, 31,
34 and 35. Every hostile file is built here or in tests/hostile_inputs.py."""
from __future__ import annotations

import io
import tracemalloc
import zipfile

import openpyxl
import pytest

from answer_bank.io import BankFileError, read_entries
from ingest import read_questionnaire, write_answers
from ingest.errors import FileTooLarge, UnsafeFile
from ingest.guard import Limits, check_upload
from ingest.macros import strip_macros
from ingest.model import AnswerFill
from tests.hostile_inputs import (
    VBA_BYTES,
    bank_workbook,
    docx_with_document,
    entity_docx,
    hidden_vba,
    member_named,
    many_sheets,
    ratio_bomb_600mb,
    utf7,
)
from tests.ingest_fixtures import minimal_docx, package_members, raw_zip, sheet_xml, simple_questionnaire, stored, xlsx_package

W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _no_vba_left(out: bytes) -> None:
    z = zipfile.ZipFile(io.BytesIO(out))
    for name in z.namelist():
        body = z.read(name)
        assert VBA_BYTES not in body, name
        assert b"vbaProject" not in body, name  # no content type, no relationship
    assert b"macroEnabled" not in z.read("[Content_Types].xml")
    assert check_upload(out, "filled.xlsx").label in ("xlsx", "docx")


# ---- case 29: macros found by relationship and content type ----------------------------------


@pytest.mark.parametrize("plain_type", [False, True], ids=["xlsm type", "plain xlsx type"])
def test_vba_project_under_another_name_is_reported_and_not_exported(plain_type):
    data = hidden_vba(plain_type)
    assert "xl/media/code.bin" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert check_upload(data, "form.xlsx").label == "xlsm"
    result = read_questionnaire(io.BytesIO(data), "form.xlsx")
    assert any("macros" in w for w in result.warnings)
    out = write_answers(data, "form.xlsx", [AnswerFill(result.questions[0], "Yes", None)])
    _no_vba_left(out)
    assert "xl/media/code.bin" not in zipfile.ZipFile(io.BytesIO(out)).namelist()
    assert openpyxl.load_workbook(io.BytesIO(out))["Q"]["C2"].value == "Yes"


def test_docx_vba_reached_by_relationship_only_is_stripped():
    # a plain .docx type, no content-type entry for the part: only the relationship says it is VBA
    base = minimal_docx("<w:p><w:r><w:t>Do you use MFA?</w:t></w:r></w:p>")
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId7" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
            "Target='media/image1.png'/></Relationships>")
    data = raw_zip(package_members(base) + [stored("word/_rels/document.xml.rels", rels.encode()),
                                            stored("word/media/image1.png", VBA_BYTES)])
    assert check_upload(data, "form.docx").label == "docm"
    clean = strip_macros(data)
    assert "word/media/image1.png" not in zipfile.ZipFile(io.BytesIO(clean)).namelist()
    _no_vba_left(clean)


def test_part_names_are_compared_without_case():
    data = hidden_vba(True)
    z = zipfile.ZipFile(io.BytesIO(data))
    ct = z.read("[Content_Types].xml").replace(b"/xl/media/code.bin", b"/XL/Media/CODE.BIN")
    rels = z.read("xl/_rels/workbook.xml.rels").replace(b"vbaProject", b"customXml")  # only the content type says it
    members = [stored(n, ct if n == "[Content_Types].xml" else rels if n == "xl/_rels/workbook.xml.rels" else z.read(n))
               for n in z.namelist()]
    clean = strip_macros(raw_zip(members))
    assert "xl/media/code.bin" not in zipfile.ZipFile(io.BytesIO(clean)).namelist()


# ---- case 30: declarations in any encoding ------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-7"])
def test_entity_declaration_refused_however_encoded(encoding):
    with pytest.raises(UnsafeFile, match="entities"):
        read_questionnaire(io.BytesIO(entity_docx(encoding)), "form.docx")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-7"])
def test_same_document_without_the_declaration_keeps_every_question(encoding):
    doc = (f'<w:document {W_NS}><w:body>'
           "<w:p><w:r><w:t>Do you encrypt data at rest?</w:t></w:r></w:p>"
           "<w:p><w:r><w:t>Do you rotate keys every year?</w:t></w:r></w:p></w:body></w:document>")
    decl = f'<?xml version="1.0" encoding="{encoding[:6].upper()}"?>'
    body = (decl + doc).encode(encoding) if encoding != "utf-7" else decl.encode() + utf7(doc)
    result = read_questionnaire(io.BytesIO(docx_with_document(body)), "form.docx")
    assert [q.text for q in result.questions] == ["Do you encrypt data at rest?", "Do you rotate keys every year?"]


def test_unknown_declared_encoding_is_refused():
    body = b'<?xml version="1.0" encoding="x-made-up"?><w:document/>'
    with pytest.raises(UnsafeFile, match="encoding"):
        read_questionnaire(io.BytesIO(docx_with_document(body)), "form.docx")


# ---- case 31: shape caps ---------------------------------------------------------------------------


@pytest.fixture
def small_limits(monkeypatch):
    def use(**caps):
        monkeypatch.setattr(Limits, "from_env", classmethod(lambda cls: cls(**caps)))
    return use


def test_2400_sheets_refused_before_any_sheet_is_read():
    data = many_sheets()  # 2,400 sheets x 200 questions
    tracemalloc.start()
    try:
        with pytest.raises(FileTooLarge, match="2,400 sheets .the limit is 250"):
            read_questionnaire(io.BytesIO(data), "sheets.xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024  # was 750 MB for 480,000 questions


def test_questions_per_file_capped(small_limits):
    small_limits(max_questions=5)
    with pytest.raises(FileTooLarge, match="6 questions; the limit is 5"):
        read_questionnaire(io.BytesIO(simple_questionnaire(6)), "q.xlsx")
    assert len(read_questionnaire(io.BytesIO(simple_questionnaire(5)), "q.xlsx").questions) == 5
    docx = minimal_docx("".join(f"<w:p><w:r><w:t>Do you test control {i}?</w:t></w:r></w:p>" for i in range(6)))
    with pytest.raises(FileTooLarge, match="questions"):
        read_questionnaire(io.BytesIO(docx), "q.docx")


def test_a_too_wide_sheet_is_skipped_beside_the_questions(small_limits):
    small_limits(max_row_cells=30)
    rows = {1: {1: "ID", 2: "Question", 3: "Answer"}, 2: {1: "Q-1", 2: "Do you use MFA?"}}
    wide = sheet_xml({1: {c: f"v{c}" for c in range(1, 41)}})
    result = read_questionnaire(io.BytesIO(xlsx_package([("Q", sheet_xml(rows)), ("Data", wide)])), "q.xlsx")
    assert [q.text for q in result.questions] == ["Do you use MFA?"]
    assert any("more than 30 filled cells in row 1" in w for w in result.warnings)
    with pytest.raises(FileTooLarge, match="filled cells in row 1"):
        read_questionnaire(io.BytesIO(xlsx_package([("Data", wide)])), "q.xlsx")


def test_cells_counted_by_the_guard(small_limits):
    small_limits(max_cells=50)
    with pytest.raises(FileTooLarge, match="more than 50 cells"):
        read_questionnaire(io.BytesIO(simple_questionnaire(30)), "q.xlsx")


def test_docx_paragraphs_and_table_row_cells_capped(small_limits):
    small_limits(max_docx_paragraphs=100, max_row_cells=10)
    with pytest.raises(FileTooLarge, match="more than 100 paragraphs"):
        read_questionnaire(io.BytesIO(minimal_docx("<w:p/>" * 101)), "q.docx")
    row = "<w:tr>" + "<w:tc><w:p/></w:tc>" * 11 + "</w:tr>"
    with pytest.raises(FileTooLarge, match="more than 10 cells"):
        read_questionnaire(io.BytesIO(minimal_docx(f"<w:tbl>{row}</w:tbl>")), "q.docx")
    nested = "<w:tbl><w:tr><w:tc><w:tbl><w:tr>" + "<w:tc><w:p/></w:tc>" * 3 + "</w:tr></w:tbl>" + "<w:p/></w:tc>" * 1
    ok = minimal_docx(nested + "<w:tc><w:p/></w:tc></w:tr></w:tbl>")  # nested rows count separately
    read_questionnaire(io.BytesIO(ok), "q.docx")


# ---- case 34: bank imports through the guard and the streaming reader ---------------------------


def test_bank_xlsx_forged_dimension_imports_every_row():
    entries = read_entries(io.BytesIO(bank_workbook(5, dimension="A1:A1")), "xlsx")
    assert [e.ext_id for e in entries] == ["E-2", "E-3", "E-4", "E-5", "E-6"]


def test_bank_xlsx_bomb_refused_with_bounded_memory():
    data = ratio_bomb_600mb()
    assert len(data) < 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(BankFileError, match="zip bomb"):
            read_entries(io.BytesIO(data), "xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024  # was a 675 MB peak


def test_bank_xlsx_names_the_sheet_row_of_a_bad_entry():
    rows = {1: {1: "id", 2: "question", 3: "answer"}, 2: {1: "A", 2: "Q?", 3: "a"}, 5: {1: "B", 2: "Q2?"}}
    with pytest.raises(BankFileError, match="row 5: answer is empty"):
        read_entries(io.BytesIO(xlsx_package([("bank", sheet_xml(rows))])), "xlsx")


def test_bank_xlsx_date_cell_reads_as_a_date():
    rows = {1: {1: "id", 2: "question", 3: "answer", 4: "review_by"}, 2: {1: "A", 2: "Q?", 3: "a", 4: 46568}}
    [entry] = read_entries(io.BytesIO(xlsx_package([("bank", sheet_xml(rows))])), "xlsx")
    assert entry.review_by == "2027-06-30"


def test_bank_xlsx_that_is_not_a_workbook():
    with pytest.raises(BankFileError, match="not an Excel workbook"):
        read_entries(io.BytesIO(b"id,question,answer\nA,Q?,a\n"), "xlsx")


# ---- case 35: member names ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["../../evil.sh", "xl/../../evil.sh", "/etc/cron.d/evil", "..\\..\\evil.bat", "C:/evil.bat"])
def test_member_names_that_escape_are_refused(bad):
    with pytest.raises(UnsafeFile, match="outside the package"):
        read_questionnaire(io.BytesIO(member_named(bad)()), "slip.xlsx")


def test_writers_never_copy_an_escaping_member_name():
    # the writers run behind the guard; called directly they still drop such a member
    from ingest.docx_xml import _replace_member
    from ingest.xlsx_write import write_xlsx

    data = member_named("../../evil.sh")()
    q = read_questionnaire(io.BytesIO(simple_questionnaire(3)), "q.xlsx").questions[0]
    out = write_xlsx(data, [AnswerFill(q, "Yes", None)])
    assert all(".." not in n for n in zipfile.ZipFile(io.BytesIO(out)).namelist())
    docx = raw_zip(package_members(minimal_docx("<w:p/>")) + [stored("/abs/evil", b"x")])
    out = _replace_member(docx, "word/document.xml", b"<w:document/>")
    assert "/abs/evil" not in zipfile.ZipFile(io.BytesIO(out)).namelist()
    macro = raw_zip(package_members(xlsx_package([("Q", sheet_xml({1: {1: "x"}}))], macro=True))
                    + [stored("..\\evil.bat", b"x")])
    assert "..\\evil.bat" not in zipfile.ZipFile(io.BytesIO(strip_macros(macro))).namelist()


def test_docx_text_over_excel_limit_flagged_like_xlsx():
    long_q = "Do you " + "really " * 5713 + "encrypt?"
    body = ("<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Question</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Answer</w:t></w:r></w:p></w:tc></w:tr>"
            + "".join(f"<w:tr><w:tc><w:p><w:r><w:t>{q}</w:t></w:r></w:p></w:tc><w:tc><w:p/></w:tc></w:tr>"
                      for q in ["Do you use MFA?", long_q]) + "</w:tbl>")
    result = read_questionnaire(io.BytesIO(minimal_docx(body)), "long.docx")
    assert result.questions[1].text == long_q  # read in full, not cut
    assert any("32,767" in w for w in result.warnings)
    assert any("32,767" in n for n in result.questions[1].notes)


def test_embedded_macro_workbook_type_does_not_block_the_export():
    # a Word file with an embedded .xlsm object: its content type says macroEnabled, but it holds no VBA project
    body = "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Question</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Answer</w:t></w:r></w:p></w:tc></w:tr>" \
           "<w:tr><w:tc><w:p><w:r><w:t>Do you use MFA?</w:t></w:r></w:p></w:tc><w:tc><w:p/></w:tc></w:tr></w:tbl>"
    members = package_members(minimal_docx(body))
    members = [stored(n, d.replace(b"</Types>", b'<Default Extension="xlsm" ContentType="application/vnd.ms-excel.sheet.'
                                               b'macroEnabled.12"/></Types>')) if n == "[Content_Types].xml" else (n, d, c, s, m)
               for n, d, c, s, m in members] + [stored("word/embeddings/Book1.xlsm", b"PK\x05\x06" + b"\x00" * 18)]
    data = raw_zip(members)
    result = read_questionnaire(io.BytesIO(data), "form.docx")
    out = write_answers(data, "form.docx", [AnswerFill(result.questions[0], "Yes", None)])
    assert "word/embeddings/Book1.xlsm" in zipfile.ZipFile(io.BytesIO(out)).namelist()


def test_macros_stripped_from_a_package_whose_lists_are_utf16():
    data = hidden_vba(False)
    z = zipfile.ZipFile(io.BytesIO(data))

    def utf16(body: bytes) -> bytes:
        return body.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")

    members = [stored(n, utf16(z.read(n)) if n in ("[Content_Types].xml", "xl/_rels/workbook.xml.rels") else z.read(n))
               for n in z.namelist()]
    clean = strip_macros(raw_zip(members))
    _no_vba_left(clean)
    q = zipfile.ZipFile(io.BytesIO(clean))
    assert b"spreadsheetml.sheet.main+xml" in q.read("[Content_Types].xml")
    assert openpyxl.load_workbook(io.BytesIO(clean))["Q"]["B2"].value == "Do you use MFA?"

"""The upload guard and SECURITY.md cases 1-13, each with a hostile file built here."""
from __future__ import annotations

import io
import tracemalloc
import zipfile
import zlib

import openpyxl
import pytest

from ingest import detect_format, read_questionnaire, write_answers
from ingest.errors import (
    DAMAGED_MESSAGE,
    DamagedFile,
    EncryptedFile,
    FileTooLarge,
    IngestError,
    LegacyFormat,
    UnsafeFile,
    UnsupportedFormat,
)
from ingest.guard import Limits, check_ooxml, check_upload
from ingest.macros import strip_macros
from ingest.ooxml import safe_expat_parser
from ingest.model import AnswerFill
from tests.ingest_fixtures import (
    deflate_repeat,
    fake_ole,
    minimal_docx,
    package_members,
    raw_zip,
    sheet_xml,
    simple_questionnaire,
    stored,
    xlsx_package,
)


def test_openpyxl_uses_defusedxml():
    import ingest.guard  # noqa: F401 - importing it asserts the same

    assert openpyxl.DEFUSEDXML is True


def test_upload_size_limit(monkeypatch):
    monkeypatch.setenv("AIMSQ_MAX_UPLOAD_MB", "0.001")
    with pytest.raises(FileTooLarge, match="limit"):
        read_questionnaire(io.BytesIO(simple_questionnaire(50)), "big.xlsx")


@pytest.mark.parametrize("value", ["abc", "nan", "inf"])
def test_unreadable_upload_limit_means_the_default(monkeypatch, value):
    monkeypatch.setenv("AIMSQ_MAX_UPLOAD_MB", value)
    assert Limits.from_env() == Limits()


def test_empty_file_is_reported():
    with pytest.raises(DamagedFile, match="empty"):
        read_questionnaire(io.BytesIO(b""), "empty.xlsx")


# ---- case 1: zip bombs ---------------------------------------------------------------


@pytest.fixture
def inflated(monkeypatch) -> list[int]:
    """Counts the bytes decompressed from any zip member while a test runs:
    the work a hostile file costs, independent of the machine's speed (the
    time it takes is printed by bench/hostile_bench.py)."""
    count = [0]
    read = zipfile.ZipExtFile.read

    def counting(self, n=-1):
        data = read(self, n)
        count[0] += len(data)
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting)
    return count


def _bomb_member(name: str, gigabytes: float = 2.0) -> tuple[str, bytes, int, int, int]:
    prefix = b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'
    chunk = b"A" * (1 << 20)
    data, crc, size = deflate_repeat(prefix, chunk, int(gigabytes * 1024), b"</t></si></sst>")
    return (name, data, crc, size, 8)


@pytest.mark.parametrize("kind", ["xlsx", "docx"])
def test_zip_bomb_rejected_before_parsing(kind, inflated):
    base = simple_questionnaire(3) if kind == "xlsx" else minimal_docx("<w:p><w:r><w:t>Q?</w:t></w:r></w:p>")
    bomb_name = "xl/sharedStrings.xml" if kind == "xlsx" else "word/footnotes.xml"
    members = [m for m in package_members(base) if m[0] != bomb_name] + [_bomb_member(bomb_name)]
    data = raw_zip(members)
    assert len(data) < 3 * 1024 * 1024  # ~2 MB on disk, 2 GB inflated
    with pytest.raises(UnsafeFile, match="zip bomb"):
        read_questionnaire(io.BytesIO(data), f"bomb.{kind}")
    # Refused from the declared sizes: the 2 GB member is never inflated.
    assert inflated[0] < 1024 * 1024


def test_zip_bomb_by_ratio_under_the_size_caps():
    members = package_members(simple_questionnaire(3)) + [_bomb_member("xl/media/blob.xml", gigabytes=0.05)]
    with pytest.raises(UnsafeFile, match="zip bomb"):
        check_ooxml(raw_zip(members))


def test_zip_header_lying_about_size_is_caught_while_reading():
    # declares 1 KB, inflates to 50 MB: zipfile stops at the declared size, the CRC fails
    name, data, crc, _, method = _bomb_member("xl/sharedStrings.xml", gigabytes=0.05)
    members = [m for m in package_members(simple_questionnaire(3))] + [(name, data, crc, 1024, method)]
    with pytest.raises((DamagedFile, UnsafeFile)):
        read_questionnaire(io.BytesIO(raw_zip(members)), "liar.xlsx")


def test_too_many_members():
    members = package_members(simple_questionnaire(2)) + [stored(f"xl/media/x{i}.bin", b"x") for i in range(60)]
    with pytest.raises(UnsafeFile, match="parts"):
        check_ooxml(raw_zip(members), Limits(max_members=50))


# ---- cases 2-3: entity expansion and external entities -----------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10))
    + ']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>'
)
XXE = ('<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
       '<c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData></worksheet>')


def test_billion_laughs_in_shared_strings_rejected():
    data = xlsx_package([("Q", sheet_xml({1: {1: "Question"}}))], shared_strings=BILLION_LAUGHS)
    with pytest.raises(UnsafeFile, match="entities|document type"):
        read_questionnaire(io.BytesIO(data), "laughs.xlsx")


@pytest.mark.parametrize("where", ["sheet", "docx"])
def test_external_entity_rejected_and_nothing_read(where):
    if where == "sheet":
        data = xlsx_package([("Q", XXE)])
    else:
        members = [m for m in package_members(minimal_docx("<w:p/>")) if m[0] != "word/document.xml"]
        doc = XXE.replace("worksheet", "w:document").encode()
        data = raw_zip(members + [stored("word/document.xml", doc)])
    with pytest.raises(UnsafeFile) as info:
        read_questionnaire(io.BytesIO(data), f"xxe.{'xlsx' if where == 'sheet' else 'docx'}")
    assert "root:" not in str(info.value)


def test_safe_parser_refuses_dtds_even_without_the_guard():
    parser = safe_expat_parser()
    with pytest.raises(UnsafeFile):
        parser.Parse(XXE.encode(), True)


# ---- case 4: DOCX part caps ---------------------------------------------------------------


def test_docx_200mb_text_run_rejected_by_part_cap():
    prefix = (b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
              b"<w:body><w:p><w:r><w:t>")
    data, crc, size = deflate_repeat(prefix, b"A" * (1 << 20), 200, b"</w:t></w:r></w:p></w:body></w:document>")
    members = [m for m in package_members(minimal_docx("<w:p/>")) if m[0] != "word/document.xml"]
    doc = raw_zip(members + [("word/document.xml", data, crc, size, 8)])
    with pytest.raises(UnsafeFile, match="MB"):
        check_upload(doc, "huge.docx")


def test_docx_deep_nesting_rejected():
    body = "<w:tbl><w:tr><w:tc>" * 1700 + "<w:p/>" + "</w:tc></w:tr></w:tbl>" * 1700
    with pytest.raises(UnsafeFile, match="levels deep"):
        check_upload(minimal_docx(body), "deep.docx")


# ---- case 5: a million rows --------------------------------------------------------------------


def _million_rows_xlsx() -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    crc, size, parts = 0, 0, []

    def feed(b: bytes):
        nonlocal crc, size
        crc = zlib.crc32(b, crc)
        size += len(b)
        parts.append(comp.compress(b))

    feed(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
         b'<dimension ref="A1:A1"/><sheetData>')
    for start in range(1, 1_048_577, 65536):
        feed("".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>' for r in range(start, min(start + 65536, 1_048_577))).encode())
    feed(b"</sheetData></worksheet>")
    parts.append(comp.flush())
    members = [m for m in package_members(xlsx_package([("Big", "<x/>")])) if m[0] != "xl/worksheets/sheet1.xml"]
    return raw_zip(members + [("xl/worksheets/sheet1.xml", b"".join(parts), crc & 0xFFFFFFFF, size, 8)])


@pytest.fixture(scope="module")
def million_rows():
    return _million_rows_xlsx()


def test_million_rows_too_many_rows_in_one_pass(million_rows, inflated):
    with pytest.raises(FileTooLarge, match="too many rows"):
        read_questionnaire(io.BytesIO(million_rows), "million.xlsx")
    # The sheet is streamed once at most (no second pass over 56 MB of XML).
    sheet = zipfile.ZipFile(io.BytesIO(million_rows)).getinfo("xl/worksheets/sheet1.xml").file_size
    assert 0 < inflated[0] <= sheet + 64 * 1024


def test_million_rows_memory_is_bounded(million_rows, monkeypatch):
    # The sheet streams through the parser: memory follows the rows kept (the
    # limit, lowered here to keep the traced run short), not the 40 MB of XML.
    monkeypatch.setattr(Limits, "from_env", classmethod(lambda cls: cls(max_sheet_rows=20_000)))
    tracemalloc.start()
    try:
        with pytest.raises(FileTooLarge, match="too many rows"):
            read_questionnaire(io.BytesIO(million_rows), "million.xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 60 * 1024 * 1024


def test_forged_dimension_still_yields_all_rows():
    rows = {1: {1: "ID", 2: "Question", 3: "Answer"}}
    rows.update({r: {1: f"Q{r}", 2: f"Is control {r} in place?"} for r in range(2, 42)})
    data = xlsx_package([("Q", sheet_xml(rows, dimension="A1:A1"))])
    assert len(read_questionnaire(io.BytesIO(data), "forged.xlsx").questions) == 40


# ---- case 6: macros -------------------------------------------------------------------------------


def test_xlsm_read_without_macros_and_written_back_as_xlsx():
    rows = {1: {1: "ID", 2: "Question", 3: "Answer"}, 2: {1: "Q-1", 2: "Do you use MFA?"}}
    data = xlsx_package([("Q", sheet_xml(rows))], macro=True)
    assert check_upload(data, "form.xlsm").label == "xlsm"
    result = read_questionnaire(io.BytesIO(data), "form.xlsm")
    assert any("macros" in w for w in result.warnings)
    out = write_answers(data, "form.xlsm", [AnswerFill(result.questions[0], "Yes", None)])
    z = zipfile.ZipFile(io.BytesIO(out))
    assert not [n for n in z.namelist() if "vba" in n.lower()]
    assert b"macroEnabled" not in z.read("[Content_Types].xml")
    assert b"vbaProject" not in z.read("xl/_rels/workbook.xml.rels")
    assert check_upload(out, "filled.xlsx").label == "xlsx"
    assert openpyxl.load_workbook(io.BytesIO(out))["Q"]["C2"].value == "Yes"


def test_xlsm_type_without_a_vba_part_is_written_back_as_xlsx():
    # Excel keeps the macro-enabled type when the macros are deleted; the copy must still open as .xlsx.
    rows = {1: {1: "ID", 2: "Question", 3: "Answer"}, 2: {1: "Q-1", 2: "Do you use MFA?"}}
    package = zipfile.ZipFile(io.BytesIO(xlsx_package([("Q", sheet_xml(rows))], macro=True)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zout:
        for name in package.namelist():
            if "vba" not in name.lower():
                zout.writestr(name, package.read(name))
    data = buffer.getvalue()
    assert check_upload(data, "form.xlsm").label == "xlsm"
    result = read_questionnaire(io.BytesIO(data), "form.xlsm")
    out = write_answers(data, "form.xlsm", [AnswerFill(result.questions[0], "Yes", None)])
    assert b"macroEnabled" not in zipfile.ZipFile(io.BytesIO(out)).read("[Content_Types].xml")
    assert check_upload(out, "filled.xlsx").label == "xlsx"


def test_docm_macros_stripped():
    data = minimal_docx("<w:p><w:r><w:t>Do you use MFA?</w:t></w:r></w:p>", macro=True)
    assert check_upload(data, "form.docm").label == "docm"
    clean = strip_macros(data)
    z = zipfile.ZipFile(io.BytesIO(clean))
    assert "word/vbaProject.bin" not in z.namelist()
    assert b"macroEnabled" not in z.read("[Content_Types].xml")
    assert check_upload(clean, "form.docx").label == "docx"


# ---- case 7: OLE: encrypted or legacy ------------------------------------------------------------


@pytest.mark.parametrize("streams, error, words", [
    (("EncryptionInfo", "EncryptedPackage"), EncryptedFile, "password"),
    (("Workbook", "SummaryInformation"), LegacyFormat, ".xlsx"),
    (("WordDocument", "1Table"), LegacyFormat, ".docx"),
    (("Something",), LegacyFormat, "old-style"),
])
def test_ole_files(streams, error, words):
    with pytest.raises(error, match=words.replace(".", r"\.")):
        read_questionnaire(io.BytesIO(fake_ole(*streams)), "file.xlsx")


# ---- case 8: type by content ----------------------------------------------------------------------


def test_docx_named_xlsx_is_docx():
    assert detect_format(minimal_docx("<w:p/>"), "questionnaire.xlsx") == "docx"


@pytest.mark.parametrize("body", [
    b"<html><body><table><tr><td>Question</td></tr></table></body></html>",
    b"\xef\xbb\xbf<!DOCTYPE html><html></html>",
])
def test_html_named_xls_rejected(body):
    with pytest.raises(UnsupportedFormat, match="HTML"):
        read_questionnaire(io.BytesIO(body), "report.xls")


def test_xlsx_named_csv_is_read_as_xlsx():
    result = read_questionnaire(io.BytesIO(simple_questionnaire(4)), "export.csv")
    assert result.format == "xlsx" and len(result.questions) == 4


@pytest.mark.parametrize("body, words", [
    (b"%PDF-1.7\n...", "PDF"),
    (b"{\\rtf1\\ansi hello}", "RTF"),
    (b"\x00\x01\x02\x03binary\x00\x00\xff", "not a questionnaire"),
])
def test_other_types_rejected(body, words):
    with pytest.raises(UnsupportedFormat, match=words):
        read_questionnaire(io.BytesIO(body), "file.csv")


def test_zip_that_is_not_office():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(UnsupportedFormat, match="zip archive"):
        read_questionnaire(io.BytesIO(out.getvalue()), "file.xlsx")


# ---- case 9: damaged files: one message -----------------------------------------------------------


def _truncated():
    data = simple_questionnaire(5)
    return data[: len(data) // 2]


def _bad_crc():
    members = package_members(simple_questionnaire(5))
    return raw_zip([(n, d, (c ^ 0xFFFF) if n.endswith("sheet1.xml") else c, s, m) for n, d, c, s, m in members])


def _missing_part():
    members = package_members(simple_questionnaire(5))
    return raw_zip([m for m in members if m[0] != "xl/worksheets/sheet1.xml"])


def _broken_xml():
    members = package_members(simple_questionnaire(5))
    return raw_zip([stored(n, d[: len(d) // 2]) if n.endswith("sheet1.xml") else (n, d, c, s, mm)
                    for n, d, c, s, mm in members])


def _bad_deflate():
    members = package_members(simple_questionnaire(5))
    out = []
    for n, d, c, s, m in members:
        if n.endswith("sheet1.xml"):
            out.append((n, b"\xff\xfe\xfd" * 50, c, s, 8))
        else:
            out.append((n, d, c, s, m))
    return raw_zip(out)


@pytest.mark.parametrize("make", [_truncated, _bad_crc, _missing_part, _broken_xml, _bad_deflate])
def test_damaged_files_one_message(make):
    with pytest.raises(DamagedFile) as info:
        read_questionnaire(io.BytesIO(make()), "damaged.xlsx")
    assert DAMAGED_MESSAGE in str(info.value)


def test_damaged_file_on_write_too():
    with pytest.raises(DamagedFile):
        write_answers(_bad_crc(), "damaged.xlsx", [])


# ---- case 10: formulas and external links -----------------------------------------------------------


def test_formulas_read_as_cached_text_never_evaluated():
    rows = {1: {1: "ID", 2: "Question", 3: "Answer"}, 2: {1: "Q-1"}, 3: {1: "Q-2"}, 4: {1: "Q-3"}}
    formulas = {
        (2, 2): ('VLOOKUP(A2,Values!$A$1:$B$9,2,FALSE)'),
        (3, 2): ('WEBSERVICE("http://127.0.0.1:9/steal")'),
        (4, 2): ("'[1]Ext'!B2"),
    }
    # cached values: what Excel last computed; aimsq never computes or fetches
    cached = {2: {2: "Do you log access?"}, 3: {2: "Do you rotate keys?"}, 4: {2: "Do you back up?"}}
    for r, cells in cached.items():
        rows[r].update(cells)
    data = xlsx_package([("Q", sheet_xml(rows, formulas=formulas, x14_validations=[("C2:C4", "[1]Values!$A$1:$A$3")]))])
    result = read_questionnaire(io.BytesIO(data), "formulas.xlsx")
    assert [q.text for q in result.questions] == ["Do you log access?", "Do you rotate keys?", "Do you back up?"]
    assert any("another workbook" in w for w in result.warnings)
    assert all(q.options is None for q in result.questions)


def test_formula_without_saved_value_is_reported():
    rows = {1: {1: "ID", 2: "Question", 3: "Answer"}, 2: {1: "Q-1", 2: "Do you log access?"}, 3: {1: "Q-2"}}
    data = xlsx_package([("Q", sheet_xml(rows, formulas={(3, 2): "VLOOKUP(A3,X!A:B,2,0)"}))])
    result = read_questionnaire(io.BytesIO(data), "nocache.xlsx")
    assert len(result.questions) == 1
    assert any("without a saved result" in w for w in result.warnings)


# ---- case 11: hidden sheets, hidden rows, merged cells -----------------------------------------------


def test_hidden_rows_and_sheets_merges_each_question_once():
    rows = {1: {1: "ID", 2: "Question", 4: "Answer", 5: "Comments"}}
    for r in range(2, 6):
        rows[r] = {1: f"H-{r}", 2: f"Is safeguard {r} documented?"}
    main = sheet_xml(rows, hidden_rows={3}, merges=["B2:C2", "B3:C3", "B4:C4", "B5:C5", "D4:D5"])
    copy = sheet_xml(rows)  # a hidden sheet with the same questions (a lookup copy)
    data = xlsx_package([("Vendor", main), ("Lookup", copy)], states={"Lookup": "hidden"})
    result = read_questionnaire(io.BytesIO(data), "hidden.xlsx")
    assert [q.ref for q in result.questions] == ["H-2", "H-3", "H-4", "H-5"]
    assert [q.hidden for q in result.questions] == [False, True, False, False]
    assert result.questions[3].answer_at.cell == "D4"  # merged D4:D5: top-left
    assert any("hidden rows" in w for w in result.warnings)
    assert any("Hidden sheets" in w and "Lookup" in w for w in result.warnings)


# ---- case 12: huge cells, control characters, csv limit ------------------------------------------------


def test_40000_char_cell_and_control_characters_flagged_not_cut():
    long_q = "Do you " + "really " * 5713 + "encrypt?"
    rows = {1: {1: "ID", 2: "Question", 3: "Answer"}, 2: {1: "Q-1", 2: long_q}, 3: {1: "Q-2", 2: "Bell\x07 question?"}}
    xml = sheet_xml(rows).replace("Bell\x07", "Bell_x0007_")
    result = read_questionnaire(io.BytesIO(xlsx_package([("Q", xml)])), "long.xlsx")
    assert len(long_q) > 40_000
    assert result.questions[0].text == long_q
    assert result.questions[1].text == "Bell\x07 question?"
    assert any("32,767" in w for w in result.warnings)
    assert any("control characters" in w for w in result.warnings)


def test_csv_field_over_module_limit_flagged_not_cut():
    big = "x" * 200_000
    data = f'ID,Question,Answer\nQ1,"Do you {big}?",\n'.encode()
    result = read_questionnaire(io.BytesIO(data), "big.csv")
    assert len(result.questions[0].text) == len(big) + 8
    assert any("131,072" in w for w in result.warnings)


# ---- case 13: CSV encodings --------------------------------------------------------------------------------

CSV_TEXT = "ID;Question;Answer\nQ1;¿Cifran los datos en reposo? “Sí”;\nQ2;Données chiffrées — où ?;\n"


@pytest.mark.parametrize("encoded", [
    CSV_TEXT.encode("utf-8"),
    b"\xef\xbb\xbf" + CSV_TEXT.encode("utf-8"),
    CSV_TEXT.encode("utf-16"),
    b"\xff\xfe" + CSV_TEXT.encode("utf-16-le"),
    CSV_TEXT.encode("utf-16-le"),
    CSV_TEXT.encode("cp1252"),
])
def test_csv_encodings_decoded_text_unchanged(encoded):
    result = read_questionnaire(io.BytesIO(encoded), "q.csv")
    assert [q.text for q in result.questions] == ["¿Cifran los datos en reposo? “Sí”", "Données chiffrées — où ?"]


def test_ingest_errors_are_ingest_errors():
    for cls in (FileTooLarge, UnsafeFile, DamagedFile, EncryptedFile, LegacyFormat, UnsupportedFormat):
        assert issubclass(cls, IngestError)

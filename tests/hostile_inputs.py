"""Hostile input files, built in code, for the smoke run (tests/test_hostile_smoke.py)
and its benchmark (bench/hostile_bench.py).

Each `Hostile` names the SECURITY.md case it exercises, a file name to upload
it under, a builder, and what a user must be told: `words` is a regular
expression the message must match (the problem named in plain words). An
`outcome` of "read" means the file is read (with the warning in `words`)
rather than refused — macros are neutralised, not rejected.

To add a case, append a `Hostile(...)` to `CASES`; every check of the smoke
run (CLI ingest, CLI bank import, web upload, memory) picks it up. Builders
are cached: each file is built once per process.
"""
from __future__ import annotations

import functools
import io
import zipfile
import zlib
from dataclasses import dataclass
from typing import Callable

from tests.ingest_fixtures import (
    col_letter,
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

W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
VBA_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
VBA_TYPE = "application/vnd.ms-office.vbaProject"
VBA_BYTES = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b'Attribute VB_Name = "Module1"\nSub Auto_Open()\nEnd Sub\n'


@dataclass(frozen=True)
class Hostile:
    name: str
    case: str  # SECURITY.md case number(s)
    filename: str
    build: Callable[[], bytes]
    words: str  # regex the user's message must match
    outcome: str = "rejected"  # "rejected" | "read" (read with the warning in `words`)
    bank_words: str | None = None  # what `bank import` says, when not `words` (a file safe to read that is no bank)
    bank_format: str = "xlsx"  # how `bank import --format` is told to read it

    def data(self) -> bytes:
        return _built(self.build)

    @property
    def bank_message(self) -> str:
        if self.bank_words:
            return self.bank_words
        return NOT_A_BANK if self.outcome == "read" else self.words


# What a bank import says about a file that is safe to read but is not a bank file.
NOT_A_BANK = r"missing column|answer is empty|question is empty|no entries"


@functools.cache
def _built(build: Callable[[], bytes]) -> bytes:
    return build()


# ---- builders: zip-level -----------------------------------------------------------------


def _replace(data: bytes, member: str, body: bytes) -> bytes:
    """`data` with one member's body replaced (or added), everything else as it was."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in src.namelist():
            if name != member:
                z.writestr(name, src.read(name))
        z.writestr(member, body)
    return out.getvalue()


def bomb_member(name: str, megabytes: int) -> tuple[str, bytes, int, int, int]:
    prefix = b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'
    data, crc, size = deflate_repeat(prefix, b"A" * (1 << 20), megabytes, b"</t></si></sst>")
    return (name, data, crc, size, 8)


def zip_bomb(kind: str) -> bytes:
    base = simple_questionnaire(3) if kind == "xlsx" else minimal_docx("<w:p><w:r><w:t>Q?</w:t></w:r></w:p>")
    member = "xl/sharedStrings.xml" if kind == "xlsx" else "word/footnotes.xml"
    return raw_zip([m for m in package_members(base) if m[0] != member] + [bomb_member(member, 2048)])


def ratio_bomb_600mb() -> bytes:
    """A ~0.6 MB workbook whose shared strings unpack to 600 MB (issue 13, point 7)."""
    members = [m for m in package_members(bank_workbook(3)) if m[0] != "xl/sharedStrings.xml"]
    return raw_zip(members + [bomb_member("xl/sharedStrings.xml", 600)])


def member_named(bad: str) -> Callable[[], bytes]:
    def build() -> bytes:
        return raw_zip(package_members(simple_questionnaire(3)) + [stored(bad, b"planted")])

    build.__name__ = f"member_named_{bad}"
    return build


def truncated() -> bytes:
    data = simple_questionnaire(5)
    return data[: len(data) // 2]


def bad_crc() -> bytes:
    members = package_members(simple_questionnaire(5))
    return raw_zip([(n, d, (c ^ 0xFFFF) if n.endswith("sheet1.xml") else c, s, m) for n, d, c, s, m in members])


# ---- builders: XML -------------------------------------------------------------------------

ENTITY_DOC = ('<?xml version="1.0" encoding="{enc}"?><!DOCTYPE w:document [<!ENTITY e "injected">]>'
              f"<w:document {W_NS}><w:body>"
              "<w:p><w:r><w:t>Do you encrypt data at rest?</w:t></w:r></w:p>"
              "<w:p><w:r><w:t>Do you rotate keys &e;?</w:t></w:r></w:p>"
              "</w:body></w:document>")
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10))
    + ']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>'
)
XXE_SHEET = ('<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
             '<c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData></worksheet>')


def utf7(text: str) -> bytes:
    """UTF-7 with every markup character shifted into base64 (`<` as +ADw-), as an attacker writes it."""
    out = []
    for ch in text:
        if ch.isalnum() or ch in " .\"=?-'":
            out.append(ch.encode("ascii"))
        else:
            out.append(ch.encode("utf-7") if ch == "+" else b"+" + _b64_utf16(ch) + b"-")
    return b"".join(out)


def _b64_utf16(ch: str) -> bytes:
    import base64

    return base64.b64encode(ch.encode("utf-16-be")).rstrip(b"=")


def docx_with_document(body: bytes) -> bytes:
    return _replace(minimal_docx("<w:p/>"), "word/document.xml", body)


def entity_docx(encoding: str) -> bytes:
    """word/document.xml declaring an entity, in UTF-16 with no BOM or in UTF-7 (issue 13, point 3)."""
    if encoding == "utf-7":  # the declaration in ASCII (so a parser can read it), the rest shifted
        decl, _, rest = ENTITY_DOC.format(enc="UTF-7").partition("?>")
        return docx_with_document(decl.encode() + b"?>" + utf7(rest))
    return docx_with_document(ENTITY_DOC.format(enc="UTF-16").encode(encoding))  # utf-16-le/be: no BOM


def entity_sheet_utf16() -> bytes:
    """A worksheet declaring an external entity, in UTF-16 with no BOM."""
    xml = XXE_SHEET.replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    return _replace(xlsx_package([("Q", "<x/>")]), "xl/worksheets/sheet1.xml", xml.encode("utf-16-le"))


# ---- builders: macros ------------------------------------------------------------------------


def hidden_vba(plain_type: bool) -> bytes:
    """A VBA project at xl/media/code.bin, reached by a vbaProject relationship and typed
    by an override (issue 13, point 2); with `plain_type` the workbook says it is a plain .xlsx."""
    rows = {1: {1: "ID", 2: "Question", 3: "Answer"}, 2: {1: "Q-1", 2: "Do you use MFA?"}}
    data = xlsx_package([("Q", sheet_xml(rows))], macro=not plain_type)
    z = zipfile.ZipFile(io.BytesIO(data))
    ct = z.read("[Content_Types].xml").decode()
    ct = ct.replace(f'<Default Extension="bin" ContentType="{VBA_TYPE}"/>', "")
    ct = ct.replace("</Types>", f'<Override PartName="/xl/media/code.bin" ContentType="{VBA_TYPE}"/></Types>')
    rels = z.read("xl/_rels/workbook.xml.rels").decode()
    if 'Target="vbaProject.bin"' in rels:
        rels = rels.replace('Target="vbaProject.bin"', 'Target="media/code.bin"')
    else:
        rels = rels.replace("</Relationships>", f'<Relationship Id="rId99" Type="{VBA_REL}" Target="media/code.bin"/></Relationships>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in z.namelist():
            if name == "xl/vbaProject.bin":
                continue
            body = z.read(name)
            if name == "[Content_Types].xml":
                body = ct.encode()
            elif name == "xl/_rels/workbook.xml.rels":
                body = rels.encode()
            zout.writestr(name, body)
        zout.writestr("xl/media/code.bin", VBA_BYTES)
    return out.getvalue()


def xlsm() -> bytes:
    rows = {1: {1: "ID", 2: "Question", 3: "Answer"}, 2: {1: "Q-1", 2: "Do you use MFA?"}}
    return xlsx_package([("Q", sheet_xml(rows))], macro=True)


# ---- builders: shape -----------------------------------------------------------------------------


def many_sheets(n: int = 2400, per_sheet: int = 200) -> bytes:
    """n sheets of `per_sheet` questions each (issue 13, point 8: 2,400 x 200 = 480,000 questions)."""
    sheet = _sheet_of(per_sheet)
    return xlsx_package([(f"S{i}", sheet) for i in range(1, n + 1)])


@functools.cache
def _sheet_of(n: int) -> str:
    rows = {1: {1: "ID", 2: "Question", 3: "Answer"}}
    rows.update({r: {1: f"Q-{r}", 2: f"Is control {r} in place?"} for r in range(2, n + 2)})
    return sheet_xml(rows)


def too_many_questions(n: int = 10_001) -> bytes:
    return xlsx_package([("Q", _sheet_of(n))])


def wide_row(cells: int = 5000, rows: int = 50) -> bytes:
    body = "".join(
        f'<row r="{r}">' + "".join(f'<c r="{col_letter(c)}{r}"><v>{c}</v></c>' for c in range(1, cells + 1)) + "</row>"
        for r in range(1, rows + 1))
    return _stream_sheet(body)


def cells_flood(rows: int = 90_000, cols: int = 20) -> bytes:
    """1,800,000 small cells in rows of ordinary width: over the cells cap, under the rows cap."""
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    crc, size, parts = 0, 0, []

    def feed(b: bytes):
        nonlocal crc, size
        crc = zlib.crc32(b, crc)
        size += len(b)
        parts.append(comp.compress(b))

    feed(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
    letters = [col_letter(c) for c in range(1, cols + 1)]
    for start in range(1, rows + 1, 5000):
        feed("".join(f'<row r="{r}">' + "".join(f'<c r="{x}{r}"><v>1</v></c>' for x in letters) + "</row>"
                     for r in range(start, min(start + 5000, rows + 1))).encode())
    feed(b"</sheetData></worksheet>")
    parts.append(comp.flush())
    members = [m for m in package_members(xlsx_package([("Data", "<x/>")])) if m[0] != "xl/worksheets/sheet1.xml"]
    return raw_zip(members + [("xl/worksheets/sheet1.xml", b"".join(parts), crc & 0xFFFFFFFF, size, 8)])


def _stream_sheet(body: str) -> bytes:
    xml = ('<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           f"<sheetData>{body}</sheetData></worksheet>")
    return _replace(xlsx_package([("Wide", "<x/>")]), "xl/worksheets/sheet1.xml", xml.encode())


def many_rows(rows: int = 150_000) -> bytes:
    body = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>' for r in range(1, rows + 1))
    return _rows_sheet(body)


def _rows_sheet(body: str) -> bytes:
    xml = ('<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           f'<dimension ref="A1:A1"/><sheetData>{body}</sheetData></worksheet>')
    return _replace(xlsx_package([("Big", "<x/>")]), "xl/worksheets/sheet1.xml", xml.encode())


def docx_paragraph_flood(n: int = 250_000) -> bytes:
    return minimal_docx("".join(f"<w:p><w:r><w:t>Is control {i} in place?</w:t></w:r></w:p>" for i in range(n)))


def docx_wide_table(cells: int = 2000) -> bytes:
    row = "<w:tr>" + "<w:tc><w:p><w:r><w:t>x</w:t></w:r></w:p></w:tc>" * cells + "</w:tr>"
    return minimal_docx(f"<w:tbl>{row * 3}</w:tbl>")


def docx_deep() -> bytes:
    return minimal_docx("<w:tbl><w:tr><w:tc>" * 1700 + "<w:p/>" + "</w:tc></w:tr></w:tbl>" * 1700)


# ---- builders: bank files ------------------------------------------------------------------------------


def bank_workbook(n: int, dimension: str | None = None) -> bytes:
    """A bank file (id | question | answer) with n entries, as a plain package."""
    rows = {1: {1: "id", 2: "question", 3: "answer"}}
    rows.update({r: {1: f"E-{r}", 2: f"Do you test control {r}?", 3: f"Yes, control {r} is tested yearly."}
                 for r in range(2, n + 2)})
    return xlsx_package([("bank", sheet_xml(rows, dimension=dimension))])


CSV_TEXT = "ID,Question,Answer\nQ-1,Do you encrypt data at rest?,\nQ-2,Do you log access?,\n"


def wide_csv(columns: int) -> bytes:
    return (",".join(f"c{i}" for i in range(columns)) + "\n").encode()


def csv_cell_flood() -> bytes:
    """1,100 rows of 1,000 short fields: under the column cap, over the cell cap."""
    row = ",".join("x" for _ in range(1_000)) + "\n"
    return ("id,question,answer" + "," * 997 + "\n" + row * 1_100).encode()


def random_bytes() -> bytes:
    import random

    return random.Random(7).randbytes(20_000)


# ---- the table --------------------------------------------------------------------------------------

DAMAGED = "damaged"
CASES: list[Hostile] = [
    Hostile("zip bomb xlsx", "1", "bomb.xlsx", lambda: zip_bomb("xlsx"), "zip bomb"),
    Hostile("zip bomb docx", "1", "bomb.docx", lambda: zip_bomb("docx"), "zip bomb"),
    Hostile("600 MB shared strings", "1, 34", "bank.xlsx", ratio_bomb_600mb, "zip bomb"),
    Hostile("billion laughs", "2", "laughs.xlsx",
            lambda: xlsx_package([("Q", sheet_xml({1: {1: "Question"}}))], shared_strings=BILLION_LAUGHS),
            "entities|document type"),
    Hostile("external entity", "3", "xxe.xlsx", lambda: xlsx_package([("Q", XXE_SHEET)]), "entities|document type"),
    Hostile("deep nesting docx", "4", "deep.docx", docx_deep, "levels deep"),
    # a bank may have 200,000 rows: this one is read, and is no bank
    Hostile("150,000 rows, forged dimension", "5", "rows.xlsx", many_rows, "too many rows", bank_words=NOT_A_BANK),
    Hostile("xlsm", "6", "form.xlsm", xlsm, "macros", outcome="read"),
    Hostile("VBA under another name", "29", "form.xlsm", lambda: hidden_vba(False), "macros", outcome="read"),
    Hostile("VBA in a plain .xlsx", "29", "form.xlsx", lambda: hidden_vba(True), "macros", outcome="read"),
    Hostile("encrypted", "7", "secret.xlsx", lambda: fake_ole("EncryptionInfo", "EncryptedPackage"), "password"),
    Hostile("legacy xls", "7", "old.xlsx", lambda: fake_ole("Workbook"), r"old Excel format"),
    Hostile("legacy doc", "7", "old.docx", lambda: fake_ole("WordDocument"), r"old Word format"),
    Hostile("html named xls", "8", "report.xls", lambda: b"<html><body><table><tr><td>Q</td></tr></table></body></html>",
            "HTML"),
    Hostile("pdf named xlsx", "8", "form.xlsx", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
    Hostile("truncated", "9", "cut.xlsx", truncated, DAMAGED),
    Hostile("bad crc", "9", "crc.xlsx", bad_crc, DAMAGED),
    Hostile("entities in UTF-16 without BOM", "30", "u16.docx", lambda: entity_docx("utf-16-le"), "entities|document type"),
    Hostile("entities in UTF-16BE without BOM", "30", "u16be.docx", lambda: entity_docx("utf-16-be"),
            "entities|document type"),
    Hostile("entities in UTF-7", "30", "u7.docx", lambda: entity_docx("utf-7"), "entities|document type"),
    Hostile("sheet entities in UTF-16 without BOM", "30", "u16.xlsx", entity_sheet_utf16, "entities|document type"),
    Hostile("2,400 sheets", "31", "sheets.xlsx", many_sheets, "sheets"),
    Hostile("10,001 questions", "31", "questions.xlsx", too_many_questions, "questions", bank_words=NOT_A_BANK),
    Hostile("5,000 cells in a row", "31", "wide.xlsx", wide_row, "filled cells in row"),
    Hostile("1,800,000 cells", "31", "cells.xlsx", cells_flood, "cells"),
    Hostile("250,000 paragraphs", "31", "long.docx", docx_paragraph_flood, "paragraphs"),
    Hostile("2,000-cell table row", "31", "table.docx", docx_wide_table, "cells"),
    Hostile("member ../../x", "35", "slip.xlsx", member_named("../../evil.sh"), "outside the package"),
    Hostile("member /etc/x", "35", "abs.xlsx", member_named("/etc/cron.d/evil"), "outside the package"),
    Hostile("member with backslash", "35", "bs.xlsx", member_named("..\\..\\evil.bat"), "outside the package"),
    Hostile("200,000 columns", "31", "wide.csv", lambda: wide_csv(200_000), "200,000 columns", bank_format="csv"),
    Hostile("1,100,000 CSV cells", "31", "flood.csv", csv_cell_flood, "cells", bank_format="csv"),
    Hostile("UTF-32 with BOM", "13", "u32.csv", lambda: CSV_TEXT.encode("utf-32"), "UTF-32", bank_format="csv"),
    Hostile("UTF-32 without BOM", "13", "u32le.csv", lambda: CSV_TEXT.encode("utf-32-le"), "UTF-32",
            bank_format="csv"),
    Hostile("binary named csv", "8", "noise.csv", random_bytes, "binary|not a questionnaire",
            bank_words="binary", bank_format="csv"),
]

"""Builders for the ingest tests: small questionnaires and hostile files, made in code.

Nothing here is downloaded. `xlsx_package` writes the package XML by hand so
a test controls every byte (x14 validations, forged dimensions, inline
strings); `openpyxl_workbook` is for ordinary fixtures; `raw_zip` and
`deflate_repeat` build archives whose headers or sizes a test chooses.
"""
from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from answer_bank.model import BankEntry

CT_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
CT_MACRO = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ' \
     'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
X14_NS = 'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main" ' \
         'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main"'


def col_letter(i: int) -> str:
    out = ""
    while i:
        i, rem = divmod(i - 1, 26)
        out = chr(65 + rem) + out
    return out


def cells_xml(rows: dict[int, dict[int, object]], styles: dict[tuple[int, int], int] | None = None,
              hidden_rows: set[int] = frozenset(), formulas: dict[tuple[int, int], str] | None = None) -> str:
    """<sheetData> with inline strings (str), numbers, and formulas with cached values."""
    styles = styles or {}
    formulas = formulas or {}
    out = ["<sheetData>"]
    for r in sorted(set(rows) | {k[0] for k in formulas} | {k[0] for k in styles}):
        attrs = f' r="{r}"' + (' hidden="1"' if r in hidden_rows else "")
        out.append(f"<row{attrs}>")
        cols = set(rows.get(r, {})) | {c for (rr, c) in formulas if rr == r} | {c for (rr, c) in styles if rr == r}
        for c in sorted(cols):
            ref = f"{col_letter(c)}{r}"
            s = f' s="{styles[(r, c)]}"' if (r, c) in styles else ""
            value = rows.get(r, {}).get(c)
            f = formulas.get((r, c))
            if f is not None:
                cached = "" if value is None else f"<v>{escape(str(value))}</v>"
                t = ' t="str"' if isinstance(value, str) else ""
                out.append(f'<c r="{ref}"{s}{t}><f>{escape(f)}</f>{cached}</c>')
            elif value is None:
                out.append(f'<c r="{ref}"{s}/>')
            elif isinstance(value, (int, float)):
                out.append(f'<c r="{ref}"{s}><v>{value}</v></c>')
            else:
                out.append(f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{escape(str(value))}</t></is></c>')
        out.append("</row>")
    out.append("</sheetData>")
    return "".join(out)


def sheet_xml(rows: dict[int, dict[int, object]], *, merges: list[str] = (), validations: list[tuple[str, str]] = (),
              x14_validations: list[tuple[str, str]] = (), hidden_rows: set[int] = frozenset(),
              formulas: dict | None = None, dimension: str | None = None, cols: str = "",
              styles: dict | None = None) -> str:
    """A worksheet part. validations: (sqref, formula1); x14_validations: (sqref, formula)."""
    parts = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {NS}>']
    if dimension:
        parts.append(f'<dimension ref="{dimension}"/>')
    if cols:
        parts.append(cols)
    parts.append(cells_xml(rows, styles, hidden_rows, formulas))
    if merges:
        parts.append(f'<mergeCells count="{len(merges)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merges) + "</mergeCells>")
    if validations:
        parts.append(f'<dataValidations count="{len(validations)}">' + "".join(
            f'<dataValidation type="list" allowBlank="1" showErrorMessage="1" sqref="{sq}"><formula1>{escape(f)}</formula1></dataValidation>'
            for sq, f in validations) + "</dataValidations>")
    if x14_validations:
        parts.append(
            f'<extLst><ext uri="{{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}}" {X14_NS}>'
            f'<x14:dataValidations count="{len(x14_validations)}">'
            + "".join(
                f'<x14:dataValidation type="list" allowBlank="1" showErrorMessage="1"><x14:formula1><xm:f>{escape(f)}</xm:f>'
                f'</x14:formula1><xm:sqref>{sq}</xm:sqref></x14:dataValidation>'
                for sq, f in x14_validations)
            + "</x14:dataValidations></ext></extLst>"
        )
    parts.append("</worksheet>")
    return "".join(parts)


STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet {NS}><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1"><alignment wrapText="1"/></xf></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


def xlsx_package(sheets: list[tuple[str, str]], *, states: dict[str, str] | None = None,
                 defined_names: list[tuple[str, str, int | None]] = (), shared_strings: str | None = None,
                 macro: bool = False, extra_parts: dict[str, bytes] | None = None, calc_chain: str | None = None) -> bytes:
    """An XLSX (or XLSM) package from (sheet name, worksheet xml) pairs."""
    states = states or {}
    ct = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
    ]
    if macro:
        ct.append('<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>')
    ct.append(f'<Override PartName="/xl/workbook.xml" ContentType="{CT_MACRO if macro else CT_MAIN}"/>')
    ct.append('<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>')
    rels = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">']
    wb_sheets = []
    files: dict[str, bytes] = {}
    for i, (name, xml) in enumerate(sheets, start=1):
        ct.append(f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>')
        rels.append(f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
                    f'Target="worksheets/sheet{i}.xml"/>')
        state = f' state="{states[name]}"' if name in states else ""
        wb_sheets.append(f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{i}"{state} r:id="rId{i}"/>')
        files[f"xl/worksheets/sheet{i}.xml"] = xml.encode("utf-8")
    n = len(sheets)
    rels.append(f'<Relationship Id="rId{n + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>')
    if shared_strings is not None:
        ct.append('<Override PartName="/xl/sharedStrings.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
        rels.append(f'<Relationship Id="rId{n + 2}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>')
        files["xl/sharedStrings.xml"] = shared_strings.encode("utf-8")
    if macro:
        rels.append(f'<Relationship Id="rId{n + 3}" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/>')
        files["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"Attribute VB_Name = \"Module1\"\nSub AutoOpen()\nEnd Sub\n"
    if calc_chain is not None:
        ct.append('<Override PartName="/xl/calcChain.xml" '
                  'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"/>')
        rels.append(f'<Relationship Id="rId{n + 4}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/calcChain" Target="calcChain.xml"/>')
        files["xl/calcChain.xml"] = calc_chain.encode("utf-8")
    rels.append("</Relationships>")
    ct.append("</Types>")
    names_xml = ""
    if defined_names:
        names_xml = "<definedNames>" + "".join(
            f'<definedName name="{nm}"' + (f' localSheetId="{scope}"' if scope is not None else "") + f">{escape(ref)}</definedName>"
            for nm, ref, scope in defined_names) + "</definedNames>"
    workbook = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook {NS}>'
                f'<sheets>{"".join(wb_sheets)}</sheets>{names_xml}<calcPr calcId="191029"/></workbook>')
    root_rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                 '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                 '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
                 "</Relationships>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "".join(ct))
        z.writestr("_rels/.rels", root_rels)
        z.writestr("xl/workbook.xml", workbook)
        z.writestr("xl/_rels/workbook.xml.rels", "".join(rels))
        z.writestr("xl/styles.xml", STYLES)
        for name, body in files.items():
            z.writestr(name, body)
        for name, body in (extra_parts or {}).items():
            z.writestr(name, body)
    return out.getvalue()


def simple_questionnaire(n: int = 5, *, with_dv: bool = True, x14: bool = False, comment: bool = True) -> bytes:
    """ID | Question | Answer | Comments, n questions, a Yes/No/N/A dropdown on the answers."""
    rows = {1: {1: "ID", 2: "Question", 3: "Answer", 4: "Comments"} if comment else {1: "ID", 2: "Question", 3: "Answer"}}
    for i in range(1, n + 1):
        rows[i + 1] = {1: f"Q-{i:02d}", 2: f"Do you encrypt data category {i} at rest?"}
    dv = [(f"C2:C{n + 1}", '"Yes,No,N/A"')] if with_dv and not x14 else []
    x = [(f"C2:C{n + 1}", '"Yes,No,N/A"')] if with_dv and x14 else []
    return xlsx_package([("Questions", sheet_xml(rows, validations=dv, x14_validations=x))])


def openpyxl_workbook(build) -> bytes:
    """Bytes of a workbook made by `build(wb)` with openpyxl."""
    from openpyxl import Workbook

    wb = Workbook()
    build(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---- raw archives -----------------------------------------------------------------------


def deflate_repeat(prefix: bytes, chunk: bytes, times: int, suffix: bytes) -> tuple[bytes, int, int]:
    """A raw deflate stream of prefix + chunk*times + suffix without building it:
    independently flushed pieces concatenate into one valid stream.
    Returns (compressed, crc32, uncompressed size)."""

    def piece(data: bytes, final: bool) -> bytes:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)

    head = piece(prefix, False)
    body = piece(chunk, False)
    tail = piece(suffix, True)
    crc = zlib.crc32(prefix)
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(suffix, crc)
    return head + body * times + tail, crc & 0xFFFFFFFF, len(prefix) + len(chunk) * times + len(suffix)


def raw_zip(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip from (name, stored bytes, crc, declared uncompressed size, method) —
    a test may declare any size or CRC it likes."""
    out = io.BytesIO()
    central = []
    for name, data, crc, usize, method in members:
        offset = out.tell()
        nb = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), usize, len(nb), 0))
        out.write(nb)
        out.write(data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data), usize,
                                   len(nb), 0, 0, 0, 0, 0, offset) + nb)
    start = out.tell()
    for c in central:
        out.write(c)
    size = out.tell() - start
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), size, start, 0))
    return out.getvalue()


def stored(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    return (name, data, zlib.crc32(data) & 0xFFFFFFFF, len(data), 0)


def package_members(data: bytes) -> list[tuple[str, bytes, int, int, int]]:
    """The members of a zip as stored (uncompressed) raw members."""
    z = zipfile.ZipFile(io.BytesIO(data))
    return [stored(i.filename, z.read(i.filename)) for i in z.infolist()]


def fake_ole(*stream_names: str) -> bytes:
    """Bytes that start like an OLE compound file and carry directory names."""
    body = b"".join(n.encode("utf-16-le") + b"\x00\x00" for n in stream_names)
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + body + b"\x00" * 1024


def minimal_docx(body_xml: str, *, macro: bool = False) -> bytes:
    """A minimal DOCX/DOCM package around a <w:body> content."""
    main = ("application/vnd.ms-word.document.macroEnabled.main+xml" if macro else
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          + ('<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>' if macro else "")
          + f'<Override PartName="/word/document.xml" ContentType="{main}"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
            "</Relationships>")
    doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           f"<w:body>{body_xml}</w:body></w:document>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", rels)
        z.writestr("word/document.xml", doc)
        if macro:
            z.writestr("word/_rels/document.xml.rels",
                       '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                       '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                       '<Relationship Id="rId9" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/>'
                       "</Relationships>")
            z.writestr("word/vbaProject.bin", b"\xd0\xcf\x11\xe0macro")
    return out.getvalue()


# ---- a FAKE matcher for unit tests ------------------------------------------------------------


@dataclass
class FakeCandidate:
    entry: BankEntry
    score: float


@dataclass
class FakeResult:
    tier: str
    answer: BankEntry | None
    score: float
    candidates: list = field(default_factory=list)
    reasons: list = field(default_factory=list)


class FakeMatcher:
    """FAKE: the first keyword found in the question decides entry and tier."""

    def __init__(self, rules: dict[str, tuple[str, BankEntry]]):
        self.rules = rules
        self.calls = 0

    def match_many(self, questions, top_k=5):
        self.calls += 1
        out = []
        for q in questions:  # ingested questions (autofill) or texts
            text = q if isinstance(q, str) else q.text
            for word, (tier, entry) in self.rules.items():
                if word in text.lower():
                    answer = entry if tier in ("high", "medium") else None
                    out.append(FakeResult(tier, answer, {"high": 0.9, "medium": 0.7, "low": 0.4}[tier],
                                          [FakeCandidate(entry, 0.5)], [f"fake {tier}"]))
                    break
            else:
                out.append(FakeResult("none", None, 0.0, [], ["no bank entry resembles this question"]))
        return out


YES_NO = '"Yes,No,N/A"'


def hecvat_like(start: str = "START HERE", tabs: tuple[str, str] = ("Company", "Data"), evaluation: str = "Institution Evaluation",
                backend: str = "(backend)", pulled_answers: bool = True) -> bytes:
    """A start sheet with general and qualifying questions, two response tabs whose
    general rows mirror the start sheet by VLOOKUP, an evaluation sheet for the
    receiving side (answers pulled by formula, a "Compliant Override" dropdown), and a
    hidden back-end sheet that holds every question."""
    gen = [("GNRL-01", "Solution Provider Name", "Acme Ltd"), ("GNRL-02", "Solution Name", "Acme Cloud"),
           ("GNRL-03", "Country of Company Headquarters", "Ireland")]
    req = [("REQU-01", "Are you offering a cloud-based product?", "Yes"),
           ("REQU-02", "Does your solution have AI features?", "No")]
    start_rows: dict[int, dict[int, object]] = {
        1: {1: "Vendor Response - Start Here"},
        2: {1: "Date Completed"},
        4: {1: "General Information", 3: "Answer", 4: "Additional Information", 5: "Guidance", 6: "Analyst Notes"},
    }
    for i, (ref, text, ans) in enumerate(gen, start=5):
        start_rows[i] = {1: ref, 2: text, 3: ans}
    start_rows[9] = {1: "Required Questions", 3: "Answer", 4: "Additional Information", 5: "Guidance", 6: "Analyst Notes"}
    for i, (ref, text, ans) in enumerate(req, start=10):
        start_rows[i] = {1: ref, 2: text, 3: ans}
    start_xml = sheet_xml(start_rows, validations=[("C10:C11", YES_NO)])
    own = {tabs[0]: [("COMP-01", "Do you have a dedicated information security office?", "Yes"),
                     ("COMP-02", "Describe your organization's ownership structure.", None),
                     ("COMP-03", "Have you operated without unplanned disruptions in the past 3 years?", None)],
           tabs[1]: [("DATA-01", "Is customer data encrypted at rest?", None),
                     ("DATA-02", "Is customer data encrypted in transit?", "Yes"),
                     ("DATA-03", "Do you overwrite customer data when it is deleted?", None)]}
    tab_xml = {}
    for tab, questions in own.items():
        rows: dict[int, dict[int, object]] = {1: {1: f"Vendor Response - {tab}"},
                                              2: {1: "General Information", 3: "Answer"}}
        formulas = {}
        for i, (ref, text, ans) in enumerate(gen[:2], start=3):
            rows[i] = {1: ref, 2: text, 3: ans}
            formulas[(i, 3)] = f"VLOOKUP($A{i},'{start}'!$A$5:$C$7,3,0)&\"\""
        rows[5] = {1: "Required Questions", 3: "Answer", 4: "Additional Information", 5: "Guidance"}
        rows[6] = {1: req[0][0], 2: req[0][1], 3: req[0][2]}
        formulas[(6, 3)] = f"VLOOKUP($A6,'{start}'!$A$10:$F$11,3,0)&\"\""
        rows[7] = {1: "Section questions", 3: "Answer", 4: "Additional Information", 5: "Guidance", 6: "Analyst Notes"}
        for i, (ref, text, ans) in enumerate(questions, start=8):
            rows[i] = {1: ref, 2: text, 3: ans, 5: "Describe the details."}
            formulas[(i, 5)] = f'IF($C{i}="Yes","Describe the details.","")'
        tab_xml[tab] = sheet_xml(rows, formulas=formulas, validations=[("C8:C10", YES_NO)])
    # the evaluation sheet: every question, the answer pulled from where the vendor typed it
    ev_rows: dict[int, dict[int, object]] = {1: {1: "Institution Evaluation - for analysts"},
                                             2: {1: "ID", 2: "Question", 3: "Answer", 4: "Additional Information",
                                                 7: "Compliant Response", 8: "Compliant Override"}}
    ev_formulas = {}
    everything = [(start, 5 + i, ref, text, ans) for i, (ref, text, ans) in enumerate(gen)] + \
                 [(start, 10 + i, ref, text, ans) for i, (ref, text, ans) in enumerate(req)] + \
                 [(tab, 8 + i, ref, text, ans) for tab, qs in own.items() for i, (ref, text, ans) in enumerate(qs)]
    for r, (sheet, src_row, ref, text, ans) in enumerate(everything, start=3):
        if pulled_answers:
            ev_rows[r] = {1: ref, 2: text, 3: ans or "", 7: "Yes"}
            ev_formulas[(r, 3)] = f"'{sheet}'!$C${src_row}&\"\""
            ev_formulas[(r, 7)] = f"VLOOKUP($A{r},'{backend}'!$A$2:$C$40,3,0)"
        else:  # only the questions are pulled (ids by reference, texts by lookup); the override is typed
            ev_rows[r] = {1: ref, 2: text}
            ev_formulas[(r, 1)] = f"'{sheet}'!$A${src_row}"
            ev_formulas[(r, 2)] = f"VLOOKUP($A{r},'{sheet}'!$A$1:$C$20,2,0)"
    n_ev = 2 + len(everything)
    ev_xml = sheet_xml(ev_rows, formulas=ev_formulas, validations=[(f"H3:H{n_ev}", '"Mark as Compliant,Mark as Non-Compliant"')])
    be_rows = {1: {1: "ID", 2: "Question", 3: "Compliant Response"}}
    for r, (_, _, ref, text, _) in enumerate(everything, start=2):
        be_rows[r] = {1: ref, 2: text, 3: "Yes"}
    sheets = [(start, start_xml)] + [(t, tab_xml[t]) for t in tabs] + [(evaluation, ev_xml), (backend, sheet_xml(be_rows))]
    return xlsx_package(sheets, states={backend: "hidden"})


def xlsx_cell_values(data: bytes) -> dict[tuple[str, str], object]:
    """{(sheet, cell): value} of every non-empty cell of a workbook, read by openpyxl."""
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    out = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None and cell.value != "":
                    out[(ws.title, cell.coordinate)] = cell.value
    wb.close()
    return out

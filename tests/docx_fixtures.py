"""Word documents built in code for the DOCX tests: building blocks (runs,
checkboxes, content controls, raw WordprocessingML where python-docx has no
API) and one fixture per layout. Shared by tests/test_ingest_docx*.py."""
from __future__ import annotations

import io
import re
import zipfile

import docx
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Pt

W14 = 'xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml"'


# ---- building blocks ----------------------------------------------------------------


def to_bytes(document) -> bytes:
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def reopen(data: bytes):
    return docx.Document(io.BytesIO(data))


def xml_paragraph(inner: str, ppr: str = ""):
    return parse_xml(f"<w:p {nsdecls('w')} {W14}>{ppr}{inner}</w:p>")


def run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


def legacy_checkbox(name: str, checked: bool = False) -> str:
    return (
        '<w:r><w:fldChar w:fldCharType="begin"><w:ffData>'
        f'<w:name w:val="{name}"/><w:enabled/><w:calcOnExit w:val="0"/>'
        f'<w:checkBox><w:sizeAuto/><w:default w:val="{1 if checked else 0}"/></w:checkBox>'
        '</w:ffData></w:fldChar></w:r>'
        '<w:r><w:instrText xml:space="preserve"> FORMCHECKBOX </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )


def sdt_checkbox(checked: bool = False) -> str:
    glyph = "☒" if checked else "☐"
    return (
        "<w:sdt><w:sdtPr><w14:checkbox>"
        f'<w14:checked w14:val="{1 if checked else 0}"/>'
        '<w14:checkedState w14:val="2612" w14:font="MS Gothic"/>'
        '<w14:uncheckedState w14:val="2610" w14:font="MS Gothic"/>'
        f"</w14:checkbox></w:sdtPr><w:sdtContent><w:r><w:t>{glyph}</w:t></w:r></w:sdtContent></w:sdt>"
    )


def append(document, element) -> None:
    """Add a raw block at the end of the body (before the section properties)."""
    document.element.body.sectPr.addprevious(element)


def set_cell_xml(cell, inner: str) -> None:
    """Replace the cell's paragraphs with raw paragraph XML."""
    tc = cell._tc
    for p in list(tc.iterchildren(qn("w:p"))):
        tc.remove(p)
    tc.append(xml_paragraph(inner))


def add_numbering(document, abstract_id: int, num_ids: dict[int, int | None], levels: list[tuple[str, str]]) -> None:
    """An abstract list with `levels` (numFmt, lvlText) and nums pointing at it (num id -> start override)."""
    numbering = document.part.numbering_part.element
    lvls = "".join(
        f'<w:lvl w:ilvl="{i}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/><w:lvlText w:val="{text}"/></w:lvl>'
        for i, (fmt, text) in enumerate(levels)
    )
    abstract = parse_xml(f'<w:abstractNum {nsdecls("w")} w:abstractNumId="{abstract_id}">{lvls}</w:abstractNum>')
    first_num = numbering.find(qn("w:num"))
    if first_num is not None:
        first_num.addprevious(abstract)
    else:
        numbering.append(abstract)
    for num_id, start in num_ids.items():
        override = (
            f'<w:lvlOverride w:ilvl="0"><w:startOverride w:val="{start}"/></w:lvlOverride>' if start else ""
        )
        numbering.append(parse_xml(
            f'<w:num {nsdecls("w")} w:numId="{num_id}"><w:abstractNumId w:val="{abstract_id}"/>{override}</w:num>'
        ))


def numbered(document, text: str, num_id: int, level: int):
    p = document.add_paragraph(text)
    ppr = p._p.get_or_add_pPr()
    ppr.append(parse_xml(
        f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>'
    ))
    return p


def member_map(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i.filename) for i in zf.infolist()}


def assert_only_document_changed(before: bytes, after: bytes) -> None:
    a, b = member_map(before), member_map(after)
    assert list(a) == list(b)
    changed = [name for name in a if a[name] != b[name]]
    assert changed in ([], ["word/document.xml"])


def assert_bookmarks_paired(data: bytes) -> None:
    xml = member_map(data)["word/document.xml"].decode()
    starts = re.findall(r'<w:bookmarkStart w:id="(\d+)"', xml)
    ends = re.findall(r'<w:bookmarkEnd w:id="(\d+)"', xml)
    assert sorted(starts) == sorted(ends) and len(set(starts)) == len(starts)


def table_shape(document) -> list:
    """Rows, grid columns, spans and merges of every table: the structure that must not change."""
    out = []
    for t in document.tables:
        rows = []
        for tr in t._tbl.tr_lst:
            rows.append([(tc.grid_span, tc.vMerge) for tc in tr.tc_lst])
        out.append((len(t.columns), rows))
    return out


def by_text(result, fragment: str):
    matches = [q for q in result.questions if fragment in q.text]
    assert len(matches) == 1, [q.text for q in result.questions]
    return matches[0]


# ---- fixtures: one per layout -----------------------------------------------------------


def beside_doc() -> bytes:
    d = docx.Document()
    d.add_heading("Company details", level=1)
    d.add_paragraph("Supplier contact:")
    t = d.add_table(rows=3, cols=2)
    for row, label in zip(t.rows, ["Name:", "Email address:", "Phone:"]):
        row.cells[0].text = label
    # the answer cell carries the formatting the answer must keep
    r = t.cell(1, 1).paragraphs[0].add_run("")
    r.font.size = Pt(9)
    r.font.name = "Arial"
    d.add_heading("Security", level=1)
    t2 = d.add_table(rows=4, cols=4)
    for cell, text in zip(t2.rows[0].cells, ["ID", "Question", "Response", "Comments"]):
        cell.text = text
    data = [("SEC-1", "Do you encrypt customer data at rest?"), ("SEC-2", "Do you run annual penetration tests?"),
            ("SEC-3", "Describe your vulnerability management process.")]
    for row, (ref, question) in zip(t2.rows[1:], data):
        row.cells[0].text = ref
        row.cells[1].text = question
    return to_bytes(d)


def below_doc() -> bytes:
    d = docx.Document()
    d.add_heading("Step 1: The project", level=1)
    for prompt in ["Explain broadly what the project aims to achieve.",
                   "Describe the nature of the processing: how will you collect and store data?"]:
        t = d.add_table(rows=2, cols=1)
        t.cell(0, 0).text = prompt
        d.add_paragraph("")
    return to_bytes(d)


def small_tables_doc() -> bytes:
    d = docx.Document()
    d.add_heading("Access control", level=1)
    for ref, question in [("1.1", "Do you enforce multi-factor authentication for administrators?"),
                          ("1.2", "How often are access rights reviewed?")]:
        t = d.add_table(rows=2, cols=2)
        t.cell(0, 0).text = ref
        t.cell(0, 1).text = question
        t.cell(1, 0).merge(t.cell(1, 1))
        d.add_paragraph("")
    return to_bytes(d)


def yes_no_doc() -> bytes:
    d = docx.Document()
    t = d.add_table(rows=4, cols=7)
    for cell, text in zip(t.rows[0].cells, ["Topic", "No.", "Question", "Yes", "No", "N/A", "Comments"]):
        cell.text = text
    rows = [("2.1", "Does your company employ children?"), ("2.2", "Do you have an anti-bribery policy?"),
            ("2.3", "Is there a whistle-blowing channel?")]
    for row, (ref, question) in zip(t.rows[1:], rows):
        row.cells[1].text = ref
        row.cells[2].text = question
    topic = t.cell(1, 0).merge(t.cell(3, 0))  # one vertically merged topic cell
    topic.text = "Ethics"
    t.cell(2, 4).text = "X"  # 2.2 is already answered "No"
    return to_bytes(d)


def numbered_doc() -> bytes:
    d = docx.Document()
    add_numbering(d, 90, {90: None, 91: 5}, [("decimal", "%1."), ("decimal", "%1.%2."), ("lowerLetter", "(%3)")])
    d.add_heading("Questionnaire", level=1)
    numbered(d, "Governance", 90, 0)
    numbered(d, "Do you have an approved information security policy?", 90, 1)
    numbered(d, "Describe how the policy is reviewed and by whom.", 90, 1)
    numbered(d, "Operations", 90, 0)
    numbered(d, "Is customer data encrypted at rest?", 90, 1)
    numbered(d, "Which algorithms and key lengths are used?", 90, 2)
    numbered(d, "Which key management system is used?", 90, 2)
    d.add_paragraph("Additional questions")
    numbered(d, "Do you carry cyber insurance?", 91, 0)
    return to_bytes(d)


def checkbox_doc() -> bytes:
    d = docx.Document()
    add_numbering(d, 92, {92: None}, [("decimal", "%1."), ("decimal", "%1.%2.")])
    d.add_heading("Requirements", level=1)
    numbered(d, "Personnel", 92, 0)
    numbered(d, "Screen individuals prior to authorizing access to systems.", 92, 1)
    d.add_paragraph("")
    t = d.add_table(rows=2, cols=3)
    for col, (name, label) in enumerate([("Check1", "Implemented"), ("Check2", "Planned to be Implemented"),
                                         ("Check3", "Not Applicable")]):
        set_cell_xml(t.cell(0, col), legacy_checkbox(name) + run(" " + label))
    details = t.cell(1, 0).merge(t.cell(1, 2))
    set_cell_xml(details, '<w:r><w:rPr><w:b/><w:color w:val="FF0000"/></w:rPr>'
                          '<w:t>Implementation details. If “Not Applicable,” provide rationale.</w:t></w:r>')
    d.add_paragraph("")
    append(d, xml_paragraph(run("Do you use multi-factor authentication? ☐ Yes ☐ No")))
    d.add_paragraph("Have you appointed a data protection officer?")
    append(d, xml_paragraph(run("☐ Yes")))
    append(d, xml_paragraph(run("☒ No")))
    d.add_paragraph("")
    t2 = d.add_table(rows=1, cols=2)
    t2.cell(0, 0).text = "Is a penetration test performed annually?"
    set_cell_xml(t2.cell(0, 1), sdt_checkbox() + run(" Yes ") + sdt_checkbox() + run(" No"))
    return to_bytes(d)


def no_space_doc() -> bytes:
    d = docx.Document()
    d.add_heading("General", level=1)
    d.add_paragraph("Please answer every question below; attach evidence where asked.")
    d.add_paragraph("Do you have a documented incident response plan?")
    d.add_paragraph("Company registration number: [Enter the registration number]")
    d.add_paragraph("Describe the system boundary and its interconnections.")
    d.add_paragraph("[Insert a narrative and a diagram of the system boundary.]")
    d.add_paragraph("Is all hardware owned by the organisation? [Yes/No - If no, explain:]")
    d.add_paragraph("Thank you for completing this questionnaire.")
    return to_bytes(d)


def standard_doc() -> bytes:
    d = docx.Document()
    d.add_heading("V1 Architecture", level=1)
    d.add_paragraph("Why does architecture matter? Because design flaws are expensive to fix later.")
    n = 0
    for chapter in range(1, 4):
        t = d.add_table(rows=11, cols=6)
        for cell, text in zip(t.rows[0].cells, ["#", "Description", "L1", "L2", "L3", "CWE"]):
            cell.text = text
        for row in t.rows[1:]:
            n += 1
            cells = row.cells
            cells[0].text = f"{chapter}.{n}"
            cells[1].text = f"Verify that the application component number {n} enforces the security control."
            cells[2].text = "✓" if n % 2 else ""
            cells[3].text = "✓"
            cells[4].text = "✓"
            cells[5].text = str(200 + n)
    return to_bytes(d)


def hints_doc() -> bytes:
    d = docx.Document()
    t = d.add_table(rows=3, cols=3)
    for cell, text in zip(t.rows[0].cells, ["Statement", "Vendor position", "Remarks"]):
        cell.text = text
    t.cell(1, 0).text = "Backups are tested every quarter"
    t.cell(2, 0).text = "Logs are retained for one year"
    t.cell(1, 1).text = "Agreed"
    t.cell(2, 1).text = "Agreed"
    return to_bytes(d)

"""Control-implementation templates (SSP style) in Word: one question per control.

The fixtures are built here with python-docx in the layout of a system security
plan's control appendix: a heading per control ("AC-2 Account Management"), its
requirement statement, guidance, a summary table (responsible role, parameters,
implementation status and control origination as checkbox lists) and a table
asking how the control is implemented, with a row per part (Part a, Part b) or a
single answer cell.
"""
from __future__ import annotations

import io
import zipfile

import docx
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn

from ingest.docx_format import read_docx, write_docx
from ingest.model import AnswerFill, Locator

W14 = 'xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml"'


def to_bytes(document) -> bytes:
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def sdt_checkbox(checked: bool = False) -> str:
    glyph = "☒" if checked else "☐"
    return (
        "<w:sdt><w:sdtPr><w14:checkbox>"
        f'<w14:checked w14:val="{1 if checked else 0}"/>'
        '<w14:checkedState w14:val="2612" w14:font="MS Gothic"/>'
        '<w14:uncheckedState w14:val="2610" w14:font="MS Gothic"/>'
        f"</w14:checkbox></w:sdtPr><w:sdtContent><w:r><w:t>{glyph}</w:t></w:r></w:sdtContent></w:sdt>"
    )


def legacy_checkbox(name: str, checked: bool = False) -> str:
    return (
        '<w:r><w:fldChar w:fldCharType="begin"><w:ffData>'
        f'<w:name w:val="{name}"/><w:enabled/><w:calcOnExit w:val="0"/>'
        f'<w:checkBox><w:sizeAuto/><w:default w:val="{1 if checked else 0}"/></w:checkBox>'
        '</w:ffData></w:fldChar></w:r>'
        '<w:r><w:instrText xml:space="preserve"> FORMCHECKBOX </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )


def run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


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


def solution_table(document, header: str, parts: list[str] | None):
    """The implementation table: a merged header row, then "Part x" | answer rows or one answer row."""
    if parts:
        t = document.add_table(rows=1 + len(parts), cols=2)
        for r, part in enumerate(parts, start=1):
            t.cell(r, 0).text = part
    else:
        t = document.add_table(rows=2, cols=1)
    t.style = "Table Grid"
    head = t.cell(0, 0).merge(t.cell(0, len(t.columns) - 1)) if len(t.columns) > 1 else t.cell(0, 0)
    head.text = header
    repeat_header(t.rows[0])
    return t


def control(document, heading: str, statement: list[str], guidance: list[str], cid: str, parameters: list[str],
            header: str, parts: list[str] | None, box: str = "glyph"):
    document.add_heading(heading, level=3)
    for text in statement:
        document.add_paragraph(text)
    for text in guidance:
        document.add_paragraph(text)
    document.add_paragraph()
    summary_table(document, cid, parameters, box)
    document.add_paragraph()
    solution_table(document, header, parts)
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
             "c. Provides a rationale for why the event types are adequate."],
            [], "AU-2", ["AU-2(a)"], "AU-2 Control implementation description",
            ["Part a:", "Part b:", "Part c:"])
    control(d, "AU-3 Content of Audit Records", [], [], "AU-3", [],
            "AU-3 What is the solution and how is it implemented?", None)
    d.add_heading("Configuration Management (CM)", level=2)
    control(d, "CM-7 (2) Prevent Program Execution (M)(H)",
            ["The information system prevents program execution in accordance with policies regarding "
             "software program usage and restrictions."],
            [], "CM-7 (2)", ["CM-7(2)"], "CM-7 (2) Describe how the solution is implemented.", ["Part 1", "Part 2"])
    return to_bytes(d)

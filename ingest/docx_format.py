"""Word questionnaires (.docx, and .docm read without its macros).

`read_docx` finds the questions a vendor must answer and where each answer
goes; `write_docx` writes answers into a copy of the customer's own file and
changes nothing else: only `word/document.xml` is rewritten (under its
original XML declaration), every other zip member is copied unchanged, and
inside the document only the answer places are touched. What is written
where follows `ingest.fill.plan_fill`, the policy every format shares.

The code is split by role: `docx_xml` (element names, opening and saving the
package, a paragraph's text and checkboxes), `docx_styles` (styles and list
numbers), `docx_cells` (table grids, cells and the header words),
`docx_read` (the walk over the document), `docx_tables` (one table's
layout), `docx_paragraphs` (questions in paragraphs), `docx_controls`
(control-implementation templates) and `docx_write` (the writer).

Layouts read
------------
Each top-level table is classified on its own (first match wins):

- header columns: a header row naming a question column ("Question",
  "Requirement", "Control", "Description", "Item", ...) and an answer
  column ("Answer", "Response", "Compliant (Yes/No)", ...), Yes / No / N/A
  mark columns (the answer is a mark in one of them: ``Locator.marks`` maps
  option -> cell), a comment column, a reference column ("#", "No.",
  "Question number", or a column of ids under "Control") and a section
  column ("Topic", "Category", "Domain", ...). Full-width rows between are
  section rows. Without an answer or Yes/No column, a column that is empty
  in the data rows takes the answers. A header the English names above do
  not cover is named by the header words the spreadsheet reader uses
  (`ingest.layout.header_role`: Spanish, French, German, Portuguese, ...),
  when the row names two columns or more; a column for the customer's own
  evaluators ("Puntuación del evaluador", "Reviewer notes") never takes
  an answer.
- register: a header row over two or more empty rows (a change log, a risk
  register): no questions, a warning.
- column form: a header row over exactly one entry row whose cells are empty
  or hold hints ("Remote, possible or probable", "Yes/no"): one question per
  column, answered in the cell below; a hint that lists choices becomes the
  options. A 2x1 prompt/answer table is the one-column case.
- rows: each row on its own: a label with the answer cell beside it
  ("Name: | ____", with an optional reference cell before it and a comment
  cell after it), or a prompt row with the answer row below it (one small
  table per question with a number and a merged answer row). A full-width
  row ending with ":" inside such a form ("Summary of DPO advice:") holds
  its own answer, added as a paragraph after the label in that cell
  (``insert_after=True`` on a table locator); a full-width "Comments:" row
  is the comment place of the question above it.
- answer area: a table with no questions of its own that holds checkboxes,
  or only empty cells (an answer box), answers the paragraph just before it
  (NIST SP 800-171: an auto-numbered requirement, then an Implemented /
  Planned / Not Applicable checkbox table whose merged details row is the
  comment place).

In cells, a dropdown content control gives the options (and takes the
option, with its w:lastValue); a text content control or a Word placeholder
is filled in place, the control kept. Short labels ("Name:") get the caption
paragraph or title row of their table as a prefix ("Responsible
Organization: Name").

Control-implementation templates (SSP style: a heading per control, a
summary table, a "What is the solution and how is it implemented?" table with
Part a/b rows) are read first, by ``ingest.docx_controls``: one question per
control, answered in the solution cell; the tables it claims are not read by
the layouts above.

Paragraphs:

- numbered list paragraphs take their reference from Word's numbering
  (numPr / numbering.xml, numbering inherited from the paragraph style,
  counters shared by the lists of one abstract numbering, start overrides,
  legal-style numbering): "3.1.1", never from the text; a number typed in
  the text ("1.2 ...", "Q3.") is used when there is none. Numbered cells
  count too.
- checkboxes: legacy form fields (``w:fldChar`` with ``w:ffData/w:checkBox``),
  content-control checkboxes (``w14:checkbox``), Wingdings box symbols and
  the glyphs ☐ ☒ ☑ □, in a cell or a paragraph ("Do you ...? ☐ Yes ☐ No",
  or a prompt followed by paragraphs of options). An option is the text
  after its box (or before it when every box ends its label).
- a paragraph is a question by itself when it asks one ("...?" with at most a
  short tail), carries an instruction placeholder ("[Insert the system
  identifier]", "[Yes/No - If no, explain:]"), is followed by a paragraph
  that is only such a placeholder or by a "Response:" paragraph, or is a
  numbered item asking for something ("Describe ...", "Company name:"). A
  paragraph that introduces a table of questions is a caption, not a
  question.
- section: the nearest heading before the question (with its list number);
  for a numbered question, its parent list item when that comes later.

Where the answer goes when there is no answer space
---------------------------------------------------
A new paragraph is inserted right after the question paragraph (after the
placeholder paragraph when one follows the question): ``Locator(paragraph=i,
insert_after=True)``. Template text, placeholders included, is never
deleted. The new paragraph takes the question paragraph's properties without
numbering, heading style, outline level or section break, and its run
properties without emphasis (bold, italic, colour, ...), so it reads as body
text under the question. Such a place is free text, so a "[Yes/No]" hint
makes the answer kind yes_no_na without fixed options: "No. <explanation>"
goes there. Every paragraph aimsq writes carries a hidden bookmark named
``_aimsqA<n>``: reading a filled file again reports it as the existing
answer (not as a question), and filling it again replaces it instead of
inserting a second one. Inserted paragraphs shift later paragraph indices in
the *filled* copy only; locators always refer to the file that was read.

Indices
-------
``table`` and ``paragraph`` count exactly as python-docx's
``document.tables`` / ``document.paragraphs``: top-level body elements only.
``row`` is the row index (``table.rows``), ``col`` the grid column (as in
``table.cell(row, col)``; rows with ``w:gridBefore`` are placed on the
grid). A merged cell is reported at its top-left cell. Nested tables are not
read as question tables (these indices cannot address them) and content
controls at the top level of the body are skipped, as python-docx skips
them; both are reported in the warnings.

A document that is a standard rather than a questionnaire (many
requirements in tables whose mark columns are already filled several to a
row, like OWASP ASVS with ✓ in L1/L2/L3, and no place for answers) gives
``IngestResult(kind="standard", questions=[])`` and a warning saying what was
found and what to do.

Hints: ``question_col`` / ``answer_col`` / ``comment_col`` name a table
column by header text, by letter ("B" = second column) or by its 0-based grid
index as shown in ``answer_at.col``; tables whose header matches are read
with those columns. ``sheet`` does not apply to Word documents (a warning).
"""
from __future__ import annotations

from ingest.cells import flag_odd_text
from ingest.docx_read import _Reader
from ingest.docx_write import _Writer
from ingest.docx_xml import MARKER_PREFIX, _open_document, _replace_member, _serialize
from ingest.errors import UnsupportedFormat
from ingest.guard import OoxmlInfo, check_ooxml
from ingest.macros import strip_macros
from ingest.ooxml import open_zip
from ingest.model import AnswerFill, IngestHints, IngestResult

__all__ = ["MARKER_PREFIX", "read_docx", "write_docx", "write_docx_report"]


# ---- public API ----------------------------------------------------------------


def read_docx(data: bytes, hints: IngestHints | None = None, checked: OoxmlInfo | None = None) -> IngestResult:
    """Read the questions of a Word questionnaire and where each answer goes.

    `data` is the whole file; `checked` is what the upload guard already
    found in exactly these bytes (else the guard runs here). Raises
    DamagedFile, UnsafeFile, FileTooLarge, EncryptedFile or UnsupportedFormat
    (from the upload guard or when the package is not a Word document), each
    with a message a person can act on.
    """
    data, warnings = _checked_package(data, checked)
    doc = _open_document(data)
    reader = _Reader(doc, hints or IngestHints())
    result = reader.read()
    result.warnings[:0] = warnings
    flag_odd_text(result.questions, result.warnings, _where_in_document)
    return result


def _where_in_document(q) -> str:
    return repr(q.ref or " ".join(q.text.split())[:40])


def write_docx(data: bytes, fills: list[AnswerFill], checked: OoxmlInfo | None = None) -> bytes:
    """A copy of the document with each fill written where its question says;
    see write_docx_report."""
    return write_docx_report(data, fills, checked)[0]


def write_docx_report(data: bytes, fills: list[AnswerFill], checked: OoxmlInfo | None = None) -> tuple[bytes, "ExportReport"]:
    """A copy of the document with each fill written where its question says,
    and what happened to every fill (written where / kept / skipped and why).

    Only word/document.xml changes; every other member is copied unchanged. A
    macro-enabled file (.docm) comes back as a .docx without its macros.
    A text equal to what the place already holds is not written ("kept").
    Raises ExportError when an answer cannot be written (a short answer that
    is not one of a checkbox / mark question's options, control characters
    Word cannot store, a locator that does not exist in this file), and the
    guard's errors when the file itself is unsafe or damaged. `checked` is as
    for read_docx.
    """
    data, _ = _checked_package(data, checked)
    doc = _open_document(data)
    writer = _Writer(doc)
    report = writer.apply(fills)
    if not report.cells_written:
        return data, report
    main = doc.part.partname.lstrip("/")
    xml = _serialize(doc.element, open_zip(data).read(main))
    return _replace_member(data, main, xml), report


# ---- opening -----------------------------------------------------------------------


def _checked_package(data: bytes, checked: OoxmlInfo | None = None) -> tuple[bytes, list[str]]:
    """Run the upload guard over the package unless `checked` says it already
    ran (part sizes and nesting depth are capped before python-docx, which
    parses with huge_tree=True, sees it); strip the macros from a .docm."""
    warnings: list[str] = []
    info = checked or check_ooxml(data)
    if info.kind != "docx":
        raise UnsupportedFormat("This file is an Excel workbook, not a Word document; read it as .xlsx.")
    if info.macro_enabled:
        data = strip_macros(data)
        warnings.append("The document contains macros; they were not run, and the filled copy is saved without them (.docx).")
    return data, warnings

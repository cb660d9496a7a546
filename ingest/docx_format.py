"""Word questionnaires (.docx, and .docm read without its macros).

`read_docx` finds the questions a vendor must answer and where each answer
goes; `write_docx` writes answers into a copy of the customer's own file and
changes nothing else: only `word/document.xml` is rewritten (under its
original XML declaration), every other zip member is copied unchanged, and
inside the document only the answer places are touched. What is written
where follows `ingest.fill.plan_fill`, the policy every format shares.

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
  in the data rows takes the answers.
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

import copy
import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Iterable

from ingest.errors import DamagedFile, ExportError, IngestError, UnsupportedFormat
from ingest.fill import match_option, plan_fill
from ingest.guard import OoxmlInfo, check_ooxml, copy_zipinfo, open_zip, safe_member_name, strip_macros
from ingest.model import AnswerFill, IngestHints, IngestResult, Locator, Question
from ingest.cells import flag_odd_text

# ---- names -----------------------------------------------------------------

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14_NS = "http://schemas.microsoft.com/office/word/2010/wordml"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
XML_NS = "http://www.w3.org/XML/1998/namespace"


def _w(tag: str) -> str:
    return f"{{{W_NS}}}{tag}"


_P, _R, _T, _TBL, _TR, _TC = _w("p"), _w("r"), _w("t"), _w("tbl"), _w("tr"), _w("tc")
_PPR, _RPR, _TCPR, _TRPR = _w("pPr"), _w("rPr"), _w("tcPr"), _w("trPr")
_SDT, _SDTPR, _SDTCONTENT, _CUSTOMXML = _w("sdt"), _w("sdtPr"), _w("sdtContent"), _w("customXml")
_TAB, _BR, _CR, _NBH, _SYM = _w("tab"), _w("br"), _w("cr"), _w("noBreakHyphen"), _w("sym")
_FLDCHAR, _FFDATA, _CHECKBOX = _w("fldChar"), _w("ffData"), _w("checkBox")
_BM_START, _BM_END = _w("bookmarkStart"), _w("bookmarkEnd")
_VAL = _w("val")
_W14_CHECKBOX, _W14_CHECKED = f"{{{W14_NS}}}checkbox", f"{{{W14_NS}}}checked"
_W14_VAL = f"{{{W14_NS}}}val"
_SKIP_ANCESTORS = {f"{{{MC_NS}}}Fallback", _w("txbxContent"), _w("del"), _w("moveFrom")}

MARKER_PREFIX = "_aimsqA"  # hidden bookmark on every paragraph aimsq writes

_UNCHECKED_GLYPHS = {"☐", "□"}
_CHECKED_GLYPHS = {"☒", "☑"}
_GLYPHS = re.compile("[☐□☒☑]")
_MARKS = {"x", "✓", "✔", "√", "☒", "☑", "✗", "✘", "•", "●", "■", "v"}
_SYM_BOXES = {  # (font family, char code) -> checked?
    ("wingdings", 0xA8): False, ("wingdings", 0x6F): False, ("wingdings", 0xFE): True,
    ("wingdings", 0xFD): True, ("wingdings", 0x78): True,
    ("wingdings 2", 0xA3): False, ("wingdings 2", 0x2A): False, ("wingdings 2", 0x52): True,
    ("wingdings 2", 0x53): True, ("wingdings 2", 0x54): True,
}
_SYM_SET = {"wingdings": (0xFD, 0xA8), "wingdings 2": (0x54, 0xA3)}  # checked, unchecked

_INTERROGATIVES = {
    "do", "does", "did", "is", "are", "was", "were", "has", "have", "had", "can", "could", "will",
    "would", "should", "shall", "may", "might", "must", "what", "which", "who", "whom", "whose",
    "when", "where", "why", "how", "please",
}
_IMPERATIVES = {
    "describe", "explain", "provide", "list", "identify", "consider", "outline", "detail", "specify",
    "state", "indicate", "confirm", "summarise", "summarize", "give", "include", "document", "attach",
    "enter", "insert", "select", "submit", "share", "define", "justify", "clarify", "elaborate",
    "demonstrate", "type", "add", "fill", "write", "choose", "note", "supply", "upload", "name",
}
_NOT_QUESTION_HEADS = {"note", "notes", "example", "for", "see", "source", "tip", "warning"}

_QUESTION_HEADERS = re.compile(
    r"^(?:questions?|question text|questionnaire|requirements?|requirement text|controls?|control (?:question|"
    r"description|requirement|text)|description|items?|query|queries|criteria|criterion|"
    r"(?:security|assessment|compliance|vendor|supplier|due diligence) questions?|request|statement)$"
)
_REF_HEADERS = re.compile(
    r"^(?:#|no|nr|num|number|id|ref|reference|item (?:no|#|number)|"
    r"(?:question|questions|q|control|requirement|req|criteria) ?(?:no|nr|#|number|id|ref))$"
)
_SECTION_HEADERS = re.compile(r"^(?:topic|section|category|domain|area|group|theme|chapter|control (?:domain|family)|family)$")
_ANSWER_HEADERS = re.compile(
    r"^(?:(?:your |vendor |supplier |provider |company |bidder )?(?:answer|answers|response|responses|reply)"
    r"(?: \(.*\))?|(?:yes ?/ ?no|y ?/ ?n)(?: ?/ ?n ?/? ?a)?|status|compliant\??|compliance|implemented\??|"
    r"implementation status|selection|choice)$"
)
_COMMENT_HEADERS = re.compile(
    r"^(?:comments?|remarks?|explanation|justification|details?|evidence|supporting evidence|"
    r"additional (?:information|comments|details)|(?:vendor |supplier )?comments?(?: ?/ ?evidence)?|"
    r"notes?|narrative|description of (?:implementation|control)|implementation details?)$"
)
_WEAK_COMMENT_HEADERS = {"note", "notes", "details", "detail"}  # often hold guidance: only when empty
_OPTION_WORDS = {
    "yes": "yes", "no": "no", "n/a": "na", "na": "na", "n.a.": "na", "not applicable": "na", "y": "yes",
    "n": "no", "partial": "partial", "partially": "partial", "in progress": "partial", "true": "yes",
    "false": "no", "implemented": "implemented", "planned": "planned", "not implemented": "no",
    "compliant": "yes", "non-compliant": "no", "not compliant": "no", "partially compliant": "partial",
    "unknown": "unknown", "don't know": "unknown", "in place": "yes", "not in place": "no",
}
_YES_NO_NA = {"yes", "no", "na"}
_COMMENT_LABEL = re.compile(
    r"^(?:comments?|remarks?|notes?|explanation|details?|justification|if (?:no|yes|not)[^:]{0,40})\s*:?$", re.I
)
_ANSWER_LABEL = re.compile(r"^\s*((?:your |vendor |supplier )?(?:answer|response|reply))\s*[:：\-–]\s*(.*)$", re.I | re.S)
_BRACKETS = re.compile(r"\[([^\[\]]{2,400})\]")
_PLACEHOLDER_TEXT = re.compile(
    r"^(?:\[[^\[\]]*\]|<[^<>]*>|\{[^{}]*\}|«[^«»]*»|_{3,}|\.{4,}|…+|"
    r"click (?:or tap )?here to enter (?:a )?(?:text|date)\.?|enter (?:your )?(?:text|answer|response) here\.?|"
    r"type (?:here|your answer)\.?|insert (?:text|answer) here\.?|choose an item\.?|select (?:an? )?(?:item|option)\.?)$",
    re.I,
)
_CELL_REF = re.compile(
    r"^\(?(?:[A-Za-z]{1,6}[-&. ]?)?\d{1,3}(?:[.\-]\d{1,3}){0,4}[a-z]?[.):]?$|^\(?[A-Za-z][.)]$|^\(?[ivxIVX]{1,5}[.)]$"
)
_LEAD_REF = re.compile(
    r"^\s*((?:Q(?:uestion)?\s?)\d{1,3}(?:\.\d{1,3})*[a-z]?[.):]?|\d{1,3}(?:\.\d{1,3})+\.?[a-z]?[.)]?|\d{1,3}[a-z]?[.)]|"
    r"[A-Z]{1,5}[-.]\d{1,3}(?:[.\-]\d{1,3})*[.):]?|\(?[a-z]\))\s+(?=\S)"
)
_YES_NO_HINT = re.compile(r"\b(yes)\s*/\s*(no)\b(?:\s*/\s*(n/?a|not applicable))?", re.I)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_HEADING_NAME = re.compile(r"^heading\s*([1-9])$", re.I)


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


def _open_document(data: bytes):
    import docx
    from lxml import etree

    try:
        return docx.Document(io.BytesIO(data))
    except IngestError:
        raise
    except ValueError as e:
        if "template" in str(e):
            raise UnsupportedFormat("This is a Word template (.dotx/.dotm). Open it in Word, save it as a document (.docx) and upload that.") from e
        if "content type" in str(e):
            raise UnsupportedFormat("This file is not a Word document (.docx). Save it as .docx and upload it again.") from e
        raise DamagedFile("The Word document is damaged and cannot be read. Open it in Word, save it again and re-upload.") from e
    except (KeyError, etree.XMLSyntaxError, zipfile.BadZipFile, OSError, EOFError, AttributeError, TypeError) as e:
        raise DamagedFile("The Word document is damaged and cannot be read. Open it in Word, save it again and re-upload.") from e


def _related_part(doc, reltype_suffix: str):
    """A part related to the document part, without python-docx creating a default one."""
    for rel in doc.part.rels.values():
        if rel.reltype.endswith(reltype_suffix) and not rel.is_external:
            return rel.target_part
    return None


def _part_element(part):
    if part is None:
        return None
    element = getattr(part, "element", None)
    if element is not None:
        return element
    from docx.oxml.parser import parse_xml

    return parse_xml(part.blob)


def _serialize(element, original: bytes) -> bytes:
    """The part's XML, under the original XML declaration."""
    from lxml import etree

    body = etree.tostring(element, encoding="UTF-8", xml_declaration=False)
    head = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    if original.startswith(b"<?xml"):
        end = original.find(b"?>") + 2
        while end < len(original) and original[end:end + 1] in b"\r\n \t":
            end += 1
        head = original[:end]
    return head + body


def _replace_member(data: bytes, member: str, body: bytes) -> bytes:
    zin = open_zip(data)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if not safe_member_name(info.filename):
                continue  # a name like ../x could escape a folder when unpacked: never copied
            content = body if info.filename == member else zin.read(info.filename)
            zout.writestr(copy_zipinfo(info), content)
    return out.getvalue()


# ---- text and checkboxes -------------------------------------------------------------


@dataclass
class _Box:
    """One checkbox: a legacy form field, a content control, a symbol or a glyph."""

    kind: str  # "field" | "sdt" | "sym" | "glyph"
    checked: bool
    element: Any  # w:checkBox | w:sdt | w:sym | w:t
    index: int = 0  # glyph: position in element.text
    pos: int = 0  # where the box sits in the scanned text
    label: str = ""


@dataclass
class _Scan:
    text: str  # the paragraph's text without its boxes
    boxes: list[_Box]
    marker: bool  # carries an aimsq answer bookmark
    placeholder: bool  # a Word placeholder is showing


def _skip_run(run, stop) -> tuple[bool, Any]:
    """(skip?, checkbox content control around the run or None)."""
    el = run.getparent()
    sdt = None
    while el is not None and el is not stop:
        tag = el.tag
        if tag in _SKIP_ANCESTORS:
            return True, None
        if tag == _SDT and sdt is None:
            pr = el.find(_SDTPR)
            if pr is not None and pr.find(_W14_CHECKBOX) is not None:
                sdt = el
        el = el.getparent()
    return False, sdt


def _scan_paragraph(p) -> _Scan:
    parts: list[str] = []
    boxes: list[_Box] = []
    length = 0
    fields: list[bool] = []  # open fields; True for a checkbox field
    seen_sdts: list[Any] = []
    marker = False
    placeholder = False
    for el in p.iter(_R, _BM_START, _SDTPR):
        tag = el.tag
        if tag == _BM_START:
            if (el.get(_w("name")) or "").startswith(MARKER_PREFIX):
                marker = True
            continue
        if tag == _SDTPR:
            if el.find(_w("showingPlcHdr")) is not None:
                placeholder = True
            continue
        skip, sdt = _skip_run(el, p)
        if skip:
            continue
        if sdt is not None:
            if not any(sdt is seen for seen in seen_sdts):
                seen_sdts.append(sdt)
                state = sdt.find(_SDTPR).find(_W14_CHECKBOX).find(_W14_CHECKED)
                checked = state is not None and state.get(_W14_VAL, "1") in ("1", "true")
                boxes.append(_Box("sdt", checked, sdt, pos=length))
            continue
        for child in el:
            ctag = child.tag
            if ctag == _FLDCHAR:
                kind = child.get(_w("fldCharType"))
                if kind == "begin":
                    ff = child.find(_FFDATA)
                    cb = ff.find(_CHECKBOX) if ff is not None else None
                    fields.append(cb is not None)
                    if cb is not None:
                        boxes.append(_Box("field", _field_checked(cb), cb, pos=length))
                elif kind == "end" and fields:
                    fields.pop()
            elif ctag == _T:
                if any(fields):
                    continue
                text = child.text or ""
                if _GLYPHS.search(text):
                    for i, ch in enumerate(text):
                        if ch in _UNCHECKED_GLYPHS or ch in _CHECKED_GLYPHS:
                            boxes.append(_Box("glyph", ch in _CHECKED_GLYPHS, child, index=i, pos=length))
                        else:
                            parts.append(ch)
                            length += 1
                else:
                    parts.append(text)
                    length += len(text)
            elif ctag == _TAB:
                parts.append("\t")
                length += 1
            elif ctag in (_BR, _CR):
                parts.append("\n")
                length += 1
            elif ctag == _NBH:
                parts.append("-")
                length += 1
            elif ctag == _SYM:
                box = _sym_box(child)
                if box is not None:
                    box.pos = length
                    boxes.append(box)
    text = "".join(parts)
    _label_boxes(text, boxes)
    return _Scan(text, boxes, marker, placeholder)


def _field_checked(cb) -> bool:
    checked = cb.find(_w("checked"))
    if checked is not None:
        return checked.get(_VAL, "1") not in ("0", "false")
    default = cb.find(_w("default"))
    return default is not None and default.get(_VAL, "0") not in ("0", "false")


def _sym_box(sym) -> _Box | None:
    font = (sym.get(_w("font")) or "").strip().lower()
    try:
        code = int(sym.get(_w("char")) or "", 16) & 0xFF
    except ValueError:
        return None
    state = _SYM_BOXES.get((font, code))
    return None if state is None else _Box("sym", state, sym)


def _label_boxes(text: str, boxes: list[_Box]) -> None:
    """Each box's option text: what follows it, or what precedes it when every box ends its label."""
    if not boxes:
        return
    after = []
    for i, box in enumerate(boxes):
        end = boxes[i + 1].pos if i + 1 < len(boxes) else len(text)
        after.append(_clean(text[box.pos:end]))
    before = []
    start = 0
    for box in boxes:
        before.append(_clean(text[start:box.pos]))
        start = box.pos
    if all(after) or not all(before) or after[-1]:
        labels = after
    else:
        labels = before
    for box, label in zip(boxes, labels):
        box.label = label.rstrip(":").strip()


def _clean(text: str) -> str:
    return " ".join(text.split())


def _norm_option(text: str) -> str:
    t = " ".join(text.lower().replace("’", "'").split()).strip(" .:;")
    return _OPTION_WORDS.get(t, t)


# ---- styles and numbering ---------------------------------------------------------------


class _Styles:
    """Paragraph styles: names, outline levels and numbering, with basedOn inheritance."""

    def __init__(self, styles_el):
        self._raw: dict[str, dict[str, Any]] = {}
        self.default_id: str | None = None
        if styles_el is None:
            return
        for st in styles_el.iterchildren(_w("style")):
            if st.get(_w("type")) not in (None, "paragraph"):
                continue
            sid = st.get(_w("styleId"))
            if not sid:
                continue
            name_el = st.find(_w("name"))
            based = st.find(_w("basedOn"))
            ppr = st.find(_PPR)
            info: dict[str, Any] = {
                "name": name_el.get(_VAL) if name_el is not None else sid,
                "based": based.get(_VAL) if based is not None else None,
                "outline": None,
                "numId": None,
                "ilvl": None,
            }
            if ppr is not None:
                ol = ppr.find(_w("outlineLvl"))
                if ol is not None:
                    info["outline"] = _int(ol.get(_VAL))
                numpr = ppr.find(_w("numPr"))
                if numpr is not None:
                    nid, lvl = numpr.find(_w("numId")), numpr.find(_w("ilvl"))
                    info["numId"] = nid.get(_VAL) if nid is not None else None
                    info["ilvl"] = _int(lvl.get(_VAL)) if lvl is not None else None
            self._raw[sid] = info
            if st.get(_w("default")) in ("1", "true"):
                self.default_id = sid
        self._cache: dict[str, dict[str, Any]] = {}

    def get(self, sid: str | None) -> dict[str, Any]:
        sid = sid or self.default_id
        if sid is None or sid not in self._raw:
            return {"name": "", "outline": None, "numId": None, "ilvl": None}
        if sid in self._cache:
            return self._cache[sid]
        chain = []
        cur = sid
        while cur in self._raw and cur not in chain and len(chain) < 30:
            chain.append(cur)
            cur = self._raw[cur]["based"]
        out = {"name": self._raw[sid]["name"], "outline": None, "numId": None, "ilvl": None}
        for key in ("outline", "numId", "ilvl"):
            for cid in chain:
                if self._raw[cid][key] is not None:
                    out[key] = self._raw[cid][key]
                    break
        # a heading's level comes from its built-in name even without outlineLvl
        m = _HEADING_NAME.match(out["name"] or "")
        if m and out["outline"] is None:
            out["outline"] = int(m.group(1)) - 1
        self._cache[sid] = out
        return out


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class _Numbering:
    """Displayed list numbers ("3.1.1.") computed the way Word does for the usual cases."""

    def __init__(self, numbering_el, styles: _Styles):
        self.styles = styles
        self.abstracts: dict[str, Any] = {}
        self.nums: dict[str, tuple[str, dict[int, Any], dict[int, int]]] = {}
        self.counters: dict[str, list[int | None]] = {}
        self.started: set[str] = set()
        self._level_cache: dict[str, Any] = {}
        if numbering_el is None:
            return
        for an in numbering_el.iterchildren(_w("abstractNum")):
            self.abstracts[an.get(_w("abstractNumId"))] = an
        for num in numbering_el.iterchildren(_w("num")):
            aid_el = num.find(_w("abstractNumId"))
            if aid_el is None:
                continue
            lvl_over: dict[int, Any] = {}
            start_over: dict[int, int] = {}
            for ov in num.iterchildren(_w("lvlOverride")):
                ilvl = _int(ov.get(_w("ilvl")), 0)
                so = ov.find(_w("startOverride"))
                if so is not None:
                    start_over[ilvl] = _int(so.get(_VAL), 0)
                lvl = ov.find(_w("lvl"))
                if lvl is not None:
                    lvl_over[ilvl] = lvl
            self.nums[num.get(_w("numId"))] = (aid_el.get(_VAL), lvl_over, start_over)

    def _abstract(self, aid: str, depth: int = 0):
        an = self.abstracts.get(aid)
        if an is None or depth > 3:
            return aid, an
        link = an.find(_w("numStyleLink"))
        if link is not None:
            sid = link.get(_VAL)
            num_id = self.styles.get(sid)["numId"] if sid else None
            if num_id and num_id in self.nums:
                return self._abstract(self.nums[num_id][0], depth + 1)
        return aid, an

    def _levels(self, num_id: str) -> tuple[str, dict[int, Any], dict[int, int]] | None:
        if num_id not in self._level_cache:
            self._level_cache[num_id] = self._compute_levels(num_id)
        return self._level_cache[num_id]

    def _compute_levels(self, num_id: str) -> tuple[str, dict[int, Any], dict[int, int]] | None:
        entry = self.nums.get(num_id)
        if entry is None:
            return None
        aid, lvl_over, start_over = entry
        key, an = self._abstract(aid)
        levels: dict[int, Any] = {}
        if an is not None:
            for lvl in an.iterchildren(_w("lvl")):
                levels[_int(lvl.get(_w("ilvl")), 0)] = lvl
        levels.update(lvl_over)
        return key, levels, start_over

    def list_key(self, num_id: str) -> str | None:
        """The list a num belongs to (its abstract numbering): paragraphs of one list share counters."""
        found = self._levels(num_id)
        return found[0] if found else None

    def label(self, num_id: str, ilvl: int) -> str | None:
        """Advance the list counters for one numbered paragraph; its displayed number, or None for bullets."""
        found = self._levels(num_id)
        if found is None:
            return None
        key, levels, start_over = found
        counters = self.counters.setdefault(key, [None] * 9)
        ilvl = max(0, min(8, ilvl))
        if num_id not in self.started:
            self.started.add(num_id)
            for lvl_idx, start in start_over.items():
                if 0 <= lvl_idx < 9:
                    counters[lvl_idx] = start - 1
                    for deeper in range(lvl_idx + 1, 9):
                        counters[deeper] = None
        cur = counters[ilvl]
        counters[ilvl] = self._start(levels, ilvl) if cur is None else cur + 1
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = None
        lvl = levels.get(ilvl)
        if lvl is None:
            return None
        fmt = _child_val(lvl, "numFmt") or "decimal"
        if fmt == "bullet":
            return None
        text = _child_val(lvl, "lvlText")
        if text is None:
            return None
        legal = lvl.find(_w("isLgl")) is not None

        def render(m: re.Match) -> str:
            k = int(m.group(1)) - 1
            value = counters[k] if counters[k] is not None else self._start(levels, k)
            level_fmt = "decimal" if legal else (_child_val(levels.get(k), "numFmt") or "decimal")
            return _format_number(value, level_fmt)

        return re.sub(r"%([1-9])", render, text)

    @staticmethod
    def _start(levels: dict[int, Any], ilvl: int) -> int:
        return _int(_child_val(levels.get(ilvl), "start"), 0)


def _child_val(el, tag: str) -> str | None:
    if el is None:
        return None
    child = el.find(_w(tag))
    return child.get(_VAL) if child is not None else None


def _format_number(n: int, fmt: str) -> str:
    if fmt in ("decimal", "decimalEnclosedCircle", "decimalFullWidth", "decimalHalfWidth"):
        return str(n)
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("lowerLetter", "upperLetter"):
        if n <= 0:
            return str(n)
        letter = chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt in ("lowerRoman", "upperRoman"):
        roman = _roman(n)
        return roman if fmt == "upperRoman" else roman.lower()
    if fmt == "ordinal":
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"{n}{suffix}"
    if fmt == "none":
        return ""
    return str(n)


def _roman(n: int) -> str:
    if n <= 0 or n >= 4000:
        return str(n)
    out = []
    for value, sym in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                       (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out.append(sym)
            n -= value
    return "".join(out)


def _ref_from_label(label: str | None) -> str | None:
    if not label:
        return None
    ref = label.strip().strip("()[]").rstrip(".):").strip()
    return ref or None


# ---- tables ----------------------------------------------------------------------


def _block_paragraphs(container) -> tuple[list[Any], bool]:
    """Paragraphs of a cell (content controls unwrapped), and whether it holds a nested table."""
    out: list[Any] = []
    nested = False
    stack = [iter(container)]
    while stack:
        el = next(stack[-1], None)
        if el is None:
            stack.pop()
            continue
        tag = el.tag
        if tag == _P:
            out.append(el)
        elif tag == _TBL:
            nested = True
        elif tag == _SDT:
            content = el.find(_SDTCONTENT)
            if content is not None:
                stack.append(iter(content))
        elif tag == _CUSTOMXML:
            stack.append(iter(el))
    return out, nested


class _Cell:
    """A cell of the layout grid (the top-left cell of a merge)."""

    def __init__(self, tc, row: int, col: int, span: int):
        self.tc = tc
        self.row = row
        self.col = col
        self.span = span
        self.paras, self.nested = _block_paragraphs(tc)
        self.scans = [_scan_paragraph(p) for p in self.paras]
        self.boxes = [b for s in self.scans for b in s.boxes]
        self.marker = any(s.marker for s in self.scans)
        self.showing_placeholder = any(s.placeholder for s in self.scans)
        self.text = "\n".join(s.text for s in self.scans).strip()
        self.flat = _clean(self.text)
        self.dropdown = _dropdown_options(tc)

    @property
    def empty(self) -> bool:
        return not self.flat and not self.boxes and not self.nested

    @property
    def placeholder(self) -> bool:
        return self.showing_placeholder or bool(self.flat and _PLACEHOLDER_TEXT.match(self.flat))

    @property
    def mark(self) -> bool:
        return self.flat.lower() in _MARKS

    @property
    def hint_options(self) -> list[str] | None:
        return None if self.marker or self.boxes or self.dropdown else _options_hint(self.flat)

    @property
    def answerish(self) -> bool:
        """Empty, a placeholder, checkboxes, a dropdown or an answer aimsq wrote: a place for an answer."""
        return self.empty or self.placeholder or bool(self.boxes) or self.marker or bool(self.dropdown)

    @property
    def answer_slot(self) -> bool:
        """A place for an answer when it sits where answers go (a hint listing choices counts too)."""
        return self.answerish or self.hint_options is not None

    @property
    def texty(self) -> bool:
        return bool(self.flat) and not self.answerish

    @property
    def label(self) -> str:
        """Text the cell holds before any answer written into it (a label like "Comments:")."""
        label = self.label_and_answer()[0]
        return "" if _PLACEHOLDER_TEXT.match(label or "-") else label

    def label_and_answer(self) -> tuple[str, str | None]:
        """For a cell that holds its own label: (label, text written after it)."""
        texts = [s.text.strip() for s in self.scans]
        marked = [i for i, s in enumerate(self.scans) if s.marker]
        if marked:
            first = marked[0]
            label = _clean(" ".join(texts[:first]))
            answer = "\n".join(t for t in texts[first:] if t).strip()
            return label, answer or None
        nonempty = [i for i, t in enumerate(texts) if t]
        if not nonempty:
            return "", None
        label = _clean(texts[nonempty[0]])
        rest = [texts[i] for i in nonempty[1:] if not _PLACEHOLDER_TEXT.match(_clean(texts[i]))]
        return label, ("\n".join(rest).strip() or None)


class _Grid:
    """A table's rows placed on its layout grid, merges resolved to their top-left cell."""

    def __init__(self, tbl):
        self.tbl = tbl
        self.trs = list(tbl.iterchildren(_TR))
        grid_cols = tbl.find(_w("tblGrid"))
        ncols = len(grid_cols.findall(_w("gridCol"))) if grid_cols is not None else 0
        rows: list[list[_Cell | None]] = []
        for r, tr in enumerate(self.trs):
            trpr = tr.find(_TRPR)
            c = _int(_child_val(trpr, "gridBefore"), 0) if trpr is not None else 0
            row: list[_Cell | None] = [None] * c
            for tc in tr.iterchildren(_TC):
                tcpr = tc.find(_TCPR)
                span = max(1, _int(_child_val(tcpr, "gridSpan"), 1)) if tcpr is not None else 1
                vmerge = tcpr.find(_w("vMerge")) if tcpr is not None else None
                above = rows[r - 1][c] if r > 0 and c < len(rows[r - 1]) else None
                if vmerge is not None and vmerge.get(_VAL, "continue") == "continue" and above is not None:
                    cell = above
                else:
                    cell = _Cell(tc, r, c, span)
                row.extend([cell] * span)
                c += span
            rows.append(row)
            ncols = max(ncols, len(row))
        for row in rows:
            row.extend([None] * (ncols - len(row)))
        self.rows = rows
        self.ncols = ncols

    def row_cells(self, r: int) -> list[_Cell]:
        """The cells that start in row r (merges counted once), left to right."""
        out: list[_Cell] = []
        for cell in self.rows[r]:
            if cell is not None and cell.row == r and (not out or out[-1] is not cell):
                out.append(cell)
        return out

    def cell(self, r: int, c: int) -> _Cell | None:
        if 0 <= r < len(self.rows) and 0 <= c < self.ncols:
            return self.rows[r][c]
        return None

    def full_width(self, r: int) -> bool:
        cells = self.row_cells(r)
        return len(cells) == 1 and cells[0].span >= self.ncols and self.ncols > 0

    def all_cells(self) -> Iterable[_Cell]:
        for r in range(len(self.rows)):
            yield from self.row_cells(r)


_STOPWORDS = {"of", "the", "and", "to", "for", "in", "on", "by", "with", "a", "an", "at", "from", "is", "are", "be"}


def _options_hint(text: str) -> list[str] | None:
    """Choices written into an answer cell as a hint: "Yes/no", "Remote, possible or probable", "Low medium high"."""
    t = text.strip().strip("[]()").strip()
    if not t or len(t) > 60 or any(ch in t for ch in "?:.;") and not t.lower().startswith("n.a"):
        return None
    words = t.split()
    if len(words) > 8 or any(w.lower() in _STOPWORDS for w in words):
        return None
    parts = [p.strip() for p in re.split(r"\s*(?:/|,|\||\bor\b)\s*", t) if p.strip()]
    if len(parts) < 2:
        if 3 <= len(words) <= 5 and all(w.isalpha() and len(w) <= 12 for w in words):
            parts = words
        else:
            return None
    if not 2 <= len(parts) <= 6 or any(len(p.split()) > 2 for p in parts):
        return None
    # "n/a" split on "/" gives "n" and "a"
    merged: list[str] = []
    for p in parts:
        if merged and merged[-1].lower() == "n" and p.lower() == "a":
            merged[-1] = merged[-1] + "/" + p
        else:
            merged.append(p)
    if len(merged) < 2:
        return None
    return [m[:1].upper() + m[1:] for m in merged]


def _kind_for(options: list[str]) -> str:
    return "yes_no_na" if options and {_norm_option(o) for o in options} <= _YES_NO_NA else "choice"


def _promptish(text: str) -> bool:
    t = text.strip()
    if not t:
        return False
    if t.endswith(("?", ":")) or "?" in t:
        return True
    first = re.sub(r"[^a-z']", "", t.split()[0].lower())
    return first in _INTERROGATIVES or first in _IMPERATIVES


def _header_key(text: str) -> str:
    t = _clean(text).lower().replace("’", "'")
    t = t.strip(" :*")
    if t.endswith(".") and t not in _OPTION_WORDS:
        t = t[:-1]
    return t


# ---- reading --------------------------------------------------------------------


@dataclass
class _Found:
    """A question found, with its place in document order for sorting."""

    key: tuple[int, int, int]
    question: Question


@dataclass
class _TableResult:
    layout: str
    found: list[_Found] = field(default_factory=list)
    requirement_rows: int = 0
    requirement_example: str | None = None
    prefilled_columns: list[str] = field(default_factory=list)
    answer_area: dict[str, Any] | None = None  # for a table answering the paragraph before it


class _Reader:
    def __init__(self, doc, hints: IngestHints):
        self.doc = doc
        self.hints = hints
        self.body = doc.element.body
        self.styles = _Styles(_part_element(_related_part(doc, "/styles")))
        self.numbering = _Numbering(_part_element(_related_part(doc, "/numbering")), self.styles)
        self.warnings: list[str] = []
        self.layout: dict[str, Any] = {"tables": {}}
        self.hint_used = False

    # -- document walk --

    def read(self) -> IngestResult:
        hints = self.hints
        if hints.sheet:
            self.warnings.append(f"--sheet {hints.sheet!r} applies to spreadsheets; a Word document has no sheets, so it was ignored.")
        self.list_levels: dict[Any, tuple[str | None, int]] = {}
        self.labels = self._list_labels()
        self.blocks: list[tuple[str, int, Any]] = []
        p_idx = t_idx = 0
        skipped_sdt = 0
        for el in self.body.iterchildren():
            if el.tag == _P:
                self.blocks.append(("p", p_idx, el))
                p_idx += 1
            elif el.tag == _TBL:
                self.blocks.append(("t", t_idx, el))
                t_idx += 1
            elif el.tag == _SDT:
                content = el.find(_SDTCONTENT)
                # (python-docx's elements make itertext() slow and doubled: read the w:t nodes directly)
                if content is not None and (content.find(f".//{_TBL}") is not None
                                            or any("?" in (t.text or "") for t in content.iter(_T))):
                    skipped_sdt += 1
        if skipped_sdt:
            self.warnings.append(
                f"{skipped_sdt} content control(s) at the top level of the document hold text or tables that were "
                "not read (they have no paragraph or table number). Remove the content controls in Word "
                "(keep the content) if they hold questions."
            )
        self.pinfo: dict[int, dict[str, Any]] = {}
        for pos, (kind, idx, el) in enumerate(self.blocks):
            if kind == "p":
                self.pinfo[pos] = self._paragraph_info(el)
        self.consumed: set[int] = set()  # block positions of paragraphs used by a question
        self.grids: dict[int, _Grid] = {}
        from ingest.docx_controls import read_controls  # control-implementation templates (SSP style)

        controls = read_controls(self, self._grid)
        self.consumed.update(controls.paragraphs)
        found: list[_Found] = list(controls.found)
        if controls.found:
            self.layout["controls"] = len(controls.found)
        table_results: dict[int, _TableResult] = {}
        nested_tables = 0
        for pos, (kind, idx, el) in enumerate(self.blocks):
            if kind != "t":
                continue
            if pos in controls.tables:
                table_results[pos] = _TableResult(controls.tables[pos])
                self.layout["tables"][idx] = controls.tables[pos]
                continue
            if el.find(f"{_TR}/{_TC}//{_TBL}") is not None:
                nested_tables += 1
            result = self._read_table(pos, idx, el)
            table_results[pos] = result
            self.layout["tables"][idx] = result.layout
            found.extend(result.found)
        if nested_tables:
            self.warnings.append(
                f"{nested_tables} table(s) contain nested tables; questions inside a nested table are not read. "
                "If some are missing, move them out of the enclosing table in Word."
            )
        self.table_results = table_results
        # answer areas answer the paragraph just before them
        for pos, result in table_results.items():
            if result.answer_area is None:
                continue
            prompt = self._prompt_before(pos)
            if prompt is None:
                self.layout["tables"][self.blocks[pos][1]] = "unused answer area"
                continue
            self.consumed.add(prompt)
            found.append(self._question_from_area(prompt, pos, result.answer_area))
        found.extend(self._read_paragraphs())
        found.sort(key=lambda f: f.key)
        questions = [f.question for f in found]
        requirement_rows = sum(r.requirement_rows for r in table_results.values())
        result = IngestResult(format="docx", questions=questions, warnings=self.warnings, layout=self.layout)
        self.layout["paragraph_questions"] = sum(1 for q in questions if q.answer_at.paragraph is not None)
        if requirement_rows >= 20 and requirement_rows >= 3 * len(questions) and not self.hint_used:
            self._standard(result, table_results, requirement_rows)
        elif self._hint_given() and not self.hint_used:
            self.warnings.append("The column hints did not match any table's header; the layout was detected as usual.")
        if not result.questions and result.kind != "standard":
            self.warnings.append(
                "No questions were found in this document. If it is a questionnaire, check that the questions are "
                "in tables or numbered paragraphs, or pass --question-col / --answer-col to name the table columns."
            )
        return result

    def _hint_given(self) -> bool:
        h = self.hints
        return bool(h.question_col or h.answer_col or h.comment_col)

    def _standard(self, result: IngestResult, table_results, requirement_rows: int) -> None:
        tables = [r for r in table_results.values() if r.requirement_rows]
        example = next((r.requirement_example for r in tables if r.requirement_example), None)
        cols: list[str] = []
        for r in tables:
            for c in r.prefilled_columns:
                if c not in cols:
                    cols.append(c)
        marks = f", with the {', '.join(sorted(cols)[:6])} columns already marked" if cols else ""
        sample = f" (for example “{example}”)" if example else ""
        result.kind = "standard"
        result.questions = []
        result.warnings.append(
            f"This document looks like a standard or a list of requirements, not a questionnaire: "
            f"{requirement_rows} requirements in {len(tables)} tables{sample}{marks}, and no place for answers. "
            "No questions were taken from it. If a customer asked you to answer it, ask for their questionnaire "
            "(or a copy with an answer column), or name the columns to read with --question-col and --answer-col."
        )
        self.layout["standard"] = {"requirements": requirement_rows, "tables": len(tables)}

    def _list_labels(self) -> dict[Any, str]:
        """Displayed list number of every numbered paragraph in the body, cells included, in order.

        Keyed by the element itself: holding it keeps lxml's proxy (and its identity) alive."""
        labels: dict[Any, str] = {}
        for p in self.body.iter(_P):
            ppr = p.find(_PPR)
            num_id = ilvl = style_id = None
            if ppr is not None:
                ps = ppr.find(_w("pStyle"))
                style_id = ps.get(_VAL) if ps is not None else None
                numpr = ppr.find(_w("numPr"))
                if numpr is not None:
                    nid, lvl = numpr.find(_w("numId")), numpr.find(_w("ilvl"))
                    num_id = nid.get(_VAL) if nid is not None else None
                    ilvl = _int(lvl.get(_VAL)) if lvl is not None else None
            if num_id is None or ilvl is None:
                style = self.styles.get(style_id)  # numbering inherited from the paragraph style
                if num_id is None:
                    num_id = style["numId"]
                if ilvl is None:
                    ilvl = style["ilvl"] or 0
            if num_id in (None, "0") or _skip_run(p, self.body)[0]:
                continue
            label = self.numbering.label(num_id, ilvl)
            if label:
                labels[p] = label
                self.list_levels[p] = (self.numbering.list_key(num_id), ilvl)
        return labels

    def _paragraph_info(self, p) -> dict[str, Any]:
        scan = _scan_paragraph(p)
        ppr = p.find(_PPR)
        style_id = None
        outline = None
        if ppr is not None:
            ps = ppr.find(_w("pStyle"))
            style_id = ps.get(_VAL) if ps is not None else None
            ol = ppr.find(_w("outlineLvl"))
            if ol is not None:
                outline = _int(ol.get(_VAL))
        style = self.styles.get(style_id)
        if outline is None:
            outline = style["outline"]
        heading = outline is not None and 0 <= outline < 9
        label = self.labels.get(p)
        flat = _clean(scan.text)
        return {"scan": scan, "flat": flat, "heading": heading and bool(flat), "label": label,
                "outline": outline if heading else None}

    def _section_before(self, pos: int) -> str | None:
        """The nearest heading before block `pos` (with its list number when it has one)."""
        if not hasattr(self, "_sections"):
            self._sections: list[str | None] = []
            current = None
            for k in range(len(self.blocks)):
                self._sections.append(current)
                info = self.pinfo.get(k)
                if info is not None and info["heading"]:
                    text = info["flat"].rstrip(" :")
                    current = f"{info['label']} {text}".strip() if info["label"] else text
        return self._sections[pos] if 0 <= pos < len(self._sections) else None

    def _section_of_paragraph(self, pos: int) -> str | None:
        """A numbered question's section: its parent list item ("3.13. System and Communications
        Protection") when that comes after the nearest heading, else the heading."""
        el = self.blocks[pos][2]
        mine = self.list_levels.get(el)
        if mine is not None and mine[1] > 0:
            level = mine[1]
            for k in range(pos - 1, -1, -1):
                if self.blocks[k][0] != "p":
                    continue
                info = self.pinfo[k]
                if info["heading"]:
                    break
                other = self.list_levels.get(self.blocks[k][2])
                if other is None or other[0] != mine[0] or other[1] >= level or not info["flat"]:
                    continue
                if "?" in info["flat"] or _BRACKETS.search(info["flat"]):
                    level = other[1]  # a question is no section title: look further up
                    continue
                return f"{info['label']} {info['flat'].rstrip(' :')}"
        return self._section_before(pos)

    def _caption_before(self, pos: int) -> str | None:
        """A short paragraph right before a table that introduces it."""
        empties = 0
        for k in range(pos - 1, max(-1, pos - 6), -1):
            if self.blocks[k][0] != "p":
                return None
            info = self.pinfo[k]
            if not info["flat"]:
                empties += 1
                if empties > 3:
                    return None
                continue
            if (info["heading"] or info["scan"].boxes or info["scan"].marker or len(info["flat"].split()) > 40
                    or info["flat"].endswith("?")):
                return None  # a question of its own (or an answer aimsq wrote) is no caption
            return _strip_brackets(info["flat"]).strip() or None
        return None

    def _prompt_before(self, pos: int) -> int | None:
        """The block position of the paragraph a table of answer places answers."""
        empties = 0
        for k in range(pos - 1, max(-1, pos - 6), -1):
            if self.blocks[k][0] != "p":
                return None
            info = self.pinfo[k]
            if not info["flat"] and not info["scan"].boxes:
                empties += 1
                if empties > 3:
                    return None
                continue
            if k in self.consumed or info["scan"].marker:
                return None
            return k
        return None

    # -- tables --

    def _grid(self, pos: int) -> _Grid:
        """The layout grid of the table at block position pos, built once."""
        if pos not in self.grids:
            self.grids[pos] = _Grid(self.blocks[pos][2])
        return self.grids[pos]

    def _read_table(self, pos: int, t_idx: int, tbl) -> _TableResult:
        grid = self._grid(pos)
        if not grid.rows or grid.ncols == 0:
            return _TableResult("empty")
        section = self._section_before(pos)
        reader = _TableReader(self, grid, t_idx, pos, section)
        return reader.read()

    def _question_from_area(self, ppos: int, tpos: int, area: dict[str, Any]) -> _Found:
        info = self.pinfo[ppos]
        text, ref = self._text_and_ref(info)
        q = Question(
            text=text,
            answer_at=area["answer_at"],
            ref=ref,
            section=self._section_of_paragraph(ppos),
            answer_kind=area["kind"],
            options=area.get("options"),
            comment_at=area.get("comment_at"),
            existing_answer=area.get("existing"),
            existing_comment=area.get("existing_comment"),
        )
        return _Found((ppos, 0, 0), q)

    def _text_and_ref(self, info: dict[str, Any]) -> tuple[str, str | None]:
        text = info["flat"]
        ref = _ref_from_label(info["label"])
        if ref is None:
            m = _LEAD_REF.match(text)
            if m:
                ref = _ref_from_label(m.group(1).replace("Question", "Q").replace(" ", ""))
                text = text[m.end():]
        return text.strip(), ref

    # -- paragraphs --

    def _next_paragraph(self, pos: int, max_empty: int = 2) -> int | None:
        """The next non-empty paragraph right after pos (no table between)."""
        empties = 0
        for k in range(pos + 1, len(self.blocks)):
            if self.blocks[k][0] != "p":
                return None
            info = self.pinfo[k]
            if info["flat"] or info["scan"].boxes or info["scan"].marker:
                return k
            empties += 1
            if empties > max_empty:
                return None
        return None

    def _introduces_table(self, pos: int) -> bool:
        """Whether the paragraph at pos introduces the table of questions after it: it comes right
        before the table, or it says "below" with at most one short caption in between."""
        text = self.pinfo[pos]["flat"].lower()
        allowed = 1 if re.search(r"\bbelow\b", text) else 0
        captions = 0
        empties = 0
        for k in range(pos + 1, min(len(self.blocks), pos + 8)):
            kind = self.blocks[k][0]
            if kind == "t":
                result = self.table_results.get(k)
                return bool(result and result.found)
            info = self.pinfo[k]
            if not info["flat"]:
                empties += 1
                if empties > 3:
                    return False
                continue
            captions += 1
            if captions > allowed or len(info["flat"].split()) > 15:
                return False
        return False

    def _read_paragraphs(self) -> list[_Found]:
        out: list[_Found] = []
        positions = [k for k, b in enumerate(self.blocks) if b[0] == "p"]
        for pos in positions:
            if pos in self.consumed:
                continue
            info = self.pinfo[pos]
            scan: _Scan = info["scan"]
            flat = info["flat"]
            if scan.marker or (not flat and not scan.boxes):
                continue
            if scan.boxes:
                q = self._inline_choice(pos, info)
                if q is not None:
                    self.consumed.add(pos)
                    out.append(_Found((pos, 0, 0), q))
                continue
            if info["heading"] and not flat.endswith("?"):
                continue
            nxt = self._next_paragraph(pos)
            # a prompt followed by paragraphs of options
            if nxt is not None and nxt not in self.consumed:
                group = self._option_group(nxt)
                if group:
                    q = self._question_with_option_paragraphs(pos, info, group)
                    self.consumed.update([pos, *group])
                    out.append(_Found((pos, 0, 0), q))
                    continue
            anchor = pos
            follows_placeholder = False
            if nxt is not None and self._placeholder_paragraph(nxt):
                anchor = nxt
                follows_placeholder = True
            # a paragraph "Response: ..." below, or our own answer paragraph right after the anchor
            existing = None
            label_answer = None
            if nxt is not None and not follows_placeholder and _ANSWER_LABEL.match(self.pinfo[nxt]["scan"].text):
                label_answer = nxt
            after = anchor + 1
            if (label_answer is None and after < len(self.blocks) and self.blocks[after][0] == "p"
                    and self.pinfo[after]["scan"].marker):
                existing = self.pinfo[after]["scan"].text.strip() or None
            asks, kind, options = _paragraph_asks(flat, numbered=info["label"] is not None)
            if not (asks or follows_placeholder or existing is not None or label_answer is not None):
                continue
            if asks and not follows_placeholder and existing is None and label_answer is None:
                if not flat.rstrip().endswith("?") and self._introduces_table(pos):
                    continue  # a caption for the table of questions below
            text, ref = self._text_and_ref(info)
            if label_answer is not None:
                m = _ANSWER_LABEL.match(self.pinfo[label_answer]["scan"].text)
                rest = _clean(m.group(2)) if m else ""
                locator = Locator(paragraph=self.blocks[label_answer][1])
                existing = rest if rest and not _PLACEHOLDER_TEXT.match(rest) else None
                self.consumed.add(label_answer)
            else:
                locator = Locator(paragraph=self.blocks[anchor][1], insert_after=True)
            if follows_placeholder:
                self.consumed.add(anchor)
            self.consumed.add(pos)
            q = Question(
                text=text,
                answer_at=locator,
                ref=ref,
                section=self._section_of_paragraph(pos),
                answer_kind=kind,
                options=options,
                existing_answer=existing,
            )
            out.append(_Found((pos, 0, 0), q))
        return out

    def _placeholder_paragraph(self, pos: int) -> bool:
        info = self.pinfo[pos]
        scan = info["scan"]
        if scan.boxes or scan.marker:
            return False
        flat = info["flat"]
        if scan.placeholder and flat:
            return True
        m = re.fullmatch(r"\[([^\[\]]+)\]\.?", flat)
        return bool(m and _instruction(m.group(1))) or bool(flat and _PLACEHOLDER_TEXT.match(flat) and not flat.startswith("["))

    def _option_group(self, start: int) -> list[int]:
        """Consecutive paragraphs that hold only checkbox options, from start."""
        group: list[int] = []
        k = start
        while k < len(self.blocks) and self.blocks[k][0] == "p":
            info = self.pinfo[k]
            scan = info["scan"]
            if not scan.boxes:
                if info["flat"] or not group:
                    break
                k += 1
                continue
            if not _options_only(scan):
                break
            group.append(k)
            k += 1
        return group

    def _question_with_option_paragraphs(self, pos: int, info, group: list[int]) -> Question:
        marks: list[tuple[str, Locator]] = []
        checked: list[str] = []
        for k in group:
            loc = Locator(paragraph=self.blocks[k][1])
            for box in self.pinfo[k]["scan"].boxes:
                if box.label and box.label not in dict(marks):
                    marks.append((box.label, loc))
                    if box.checked:
                        checked.append(box.label)
        options = [m[0] for m in marks]
        text, ref = self._text_and_ref(info)
        first = marks[0][1] if marks else Locator(paragraph=self.blocks[group[0]][1])
        return Question(
            text=text,
            answer_at=Locator(paragraph=first.paragraph, marks=tuple(marks)),
            ref=ref,
            section=self._section_of_paragraph(pos),
            answer_kind=_kind_for(options),
            options=options,
            existing_answer="; ".join(checked) or None,
        )

    def _inline_choice(self, pos: int, info) -> Question | None:
        """"Do you ...? ☐ Yes ☐ No" in one paragraph."""
        scan: _Scan = info["scan"]
        first = scan.boxes[0]
        before = _clean(scan.text[: first.pos])
        labels = [b.label for b in scan.boxes]
        if len(before.split()) < 2 or not all(labels) or before.endswith(tuple(labels)):
            return None
        loc = Locator(paragraph=self.blocks[pos][1])
        marks = tuple((b.label, loc) for b in scan.boxes)
        options = [b.label for b in scan.boxes]
        fake = dict(info)
        fake["flat"] = before
        text, ref = self._text_and_ref(fake)
        return Question(
            text=text,
            answer_at=Locator(paragraph=loc.paragraph, marks=marks),
            ref=ref,
            section=self._section_of_paragraph(pos),
            answer_kind=_kind_for(options),
            options=options,
            existing_answer="; ".join(b.label for b in scan.boxes if b.checked) or None,
        )


def _dropdown_options(tc) -> list[str] | None:
    """The items of a dropdown (or combo box) content control in the cell, without Word's "Choose an item." prompt."""
    for pr in tc.iter(_SDTPR):
        lst = pr.find(_w("dropDownList"))
        if lst is None:
            lst = pr.find(_w("comboBox"))
        if lst is None:
            continue
        items = []
        for item in lst.iterchildren(_w("listItem")):
            shown = item.get(_w("displayText")) or item.get(_w("value")) or ""
            if shown.strip() and item.get(_w("value"), shown) != "" and not _PLACEHOLDER_TEXT.match(shown.strip()):
                items.append(shown.strip())
        return items or None
    return None


def _written(cell: _Cell | None) -> str | None:
    """What a person (or aimsq) wrote in an answer or comment cell: not a placeholder or a hint."""
    if cell is None or not cell.flat or cell.placeholder or cell.boxes or cell.hint_options:
        return None
    return cell.text


def _options_only(scan: _Scan) -> bool:
    """A paragraph of checkboxes and their short labels, nothing else."""
    if not scan.boxes:
        return False
    before = _clean(scan.text[: scan.boxes[0].pos])
    return len(before.split()) <= 1 and all(b.label and len(b.label.split()) <= 8 for b in scan.boxes)


def _instruction(text: str) -> bool:
    t = text.strip()
    if not t:
        return False
    if _YES_NO_HINT.search(t):
        return True
    first = re.sub(r"[^a-z]", "", t.split()[0].lower())
    return first in _IMPERATIVES or first in {"insert", "enter", "type", "state", "fill", "write", "yes"}


def _strip_brackets(text: str) -> str:
    return _clean(_BRACKETS.sub(" ", text))


def _paragraph_asks(flat: str, numbered: bool) -> tuple[bool, str, list[str] | None]:
    """Whether a paragraph is a question by itself; its answer kind and options."""
    t = flat
    m = _LEAD_REF.match(t)
    if m:
        t = t[m.end():]
        numbered = True
    options: list[str] | None = None
    kind = "text"
    hint = None
    for inner in _BRACKETS.findall(t):
        yn = _YES_NO_HINT.search(inner)
        if yn:
            hint = [g for g in yn.groups() if g]
            break
    if hint:
        kind = "yes_no_na"  # the place is free text: "No. <explanation>" goes there, so no fixed options
    words = t.split()
    if len(words) < 2:
        return False, kind, options
    head = re.sub(r"[^a-z]", "", words[0].lower())
    if head in _NOT_QUESTION_HEADS and not t.rstrip().endswith("?"):
        return False, kind, options
    qpos = t.rfind("?")
    if qpos >= 0:
        before = t[:qpos]
        tail = _strip_brackets(t[qpos + 1 :])
        if len(before.split()) >= 3 and len(tail.split()) <= 12:
            return True, kind, options
    if any(_instruction(b) for b in _BRACKETS.findall(t)):
        return True, kind, options
    if numbered:
        if head in _IMPERATIVES and len(words) >= 3:
            return True, kind, options
        if t.rstrip().endswith(":") and len(words) <= 15:
            return True, kind, options
    return False, kind, options


class _TableReader:
    """Reads one top-level table."""

    def __init__(self, reader: _Reader, grid: _Grid, t_idx: int, pos: int, section: str | None):
        self.reader = reader
        self.grid = grid
        self.t = t_idx
        self.pos = pos
        self.section = section
        self.result = _TableResult("none")
        self.pending_requirements: tuple | None = None

    def loc(self, cell: _Cell, insert_after: bool = False) -> Locator:
        return Locator(table=self.t, row=cell.row, col=cell.col, insert_after=insert_after)

    def add(self, row: int, col: int, q: Question) -> None:
        self.result.found.append(_Found((self.pos, row, col), q))

    def read(self) -> _TableResult:
        for attempt in (self._by_hints, self._by_header, self._register, self._column_form, self._by_rows):
            if attempt():
                return self.result
        if self.pending_requirements is not None:
            self._requirements(*self.pending_requirements)
            return self.result
        self._answer_area()
        return self.result

    # -- header columns --

    def _header_row(self) -> int | None:
        g = self.grid
        for r in range(min(3, len(g.rows))):
            if g.full_width(r):
                continue
            cells = g.row_cells(r)
            if len(cells) < 2:
                return None
            return r
        return None

    def _roles(self, hr: int) -> dict[str, Any]:
        """Column roles from the header row (and a second header row of options under a merged header)."""
        g = self.grid
        headers: dict[int, str] = {}
        for cell in g.row_cells(hr):
            headers[cell.col] = _header_key(cell.text)
        data_start = hr + 1
        if hr + 1 < len(g.rows):
            sub = g.row_cells(hr + 1)
            if sub and all(_header_key(c.text) in _OPTION_WORDS for c in sub if c.flat) and sum(1 for c in sub if c.flat) >= 2:
                for c in sub:
                    if c.flat:
                        headers[c.col] = _header_key(c.text)
                data_start = hr + 2
        roles: dict[str, Any] = {"question": None, "ref": None, "section": [], "answer": None, "comment": None,
                                 "options": [], "headers": headers, "data_start": data_start}
        question_cols: list[int] = []
        option_cols = [col for col, h in headers.items() if h in _OPTION_WORDS and not self._ref_column(col, data_start)]
        if len(option_cols) < 2:
            option_cols = []  # a lone "No" header is a number column, not a Yes/No pair
        for col, h in sorted(headers.items()):
            if not h:
                continue
            if col in option_cols:
                roles["options"].append(col)
            elif _QUESTION_HEADERS.match(h) or ("question" in h and not _REF_HEADERS.match(h) and len(h.split()) <= 4):
                question_cols.append(col)
            elif roles["ref"] is None and _REF_HEADERS.match(h):
                roles["ref"] = col
            elif _SECTION_HEADERS.match(h):
                roles["section"].append(col)
            elif roles["answer"] is None and _ANSWER_HEADERS.match(h):
                roles["answer"] = col
            elif roles["comment"] is None and _COMMENT_HEADERS.match(h):
                roles["comment"] = col
        # "Control | Description": the column of ids is the reference, the longest text the question
        rows = self._data_rows(data_start)
        for col in list(question_cols):
            if len(question_cols) > 1 and self._ref_column(col, data_start):
                question_cols.remove(col)
                if roles["ref"] is None:
                    roles["ref"] = col
        if question_cols:
            roles["question"] = max(question_cols, key=lambda c: (sum(len(x.flat) for x in self._column_cells(c, rows)), -c))
        return roles

    def _ref_column(self, col: int, start: int) -> bool:
        """A column of numbers ("No." over 2.1, 2.2, ...), not a column of marks."""
        cells = [c for c in self._column_cells(col, self._data_rows(start)) if c.flat]
        return bool(cells) and sum(1 for c in cells if _CELL_REF.match(c.flat)) * 2 >= len(cells)

    def _data_rows(self, start: int) -> list[int]:
        return list(range(start, len(self.grid.rows)))

    def _column_cells(self, col: int, rows: list[int]) -> list[_Cell]:
        out = []
        for r in rows:
            cell = self.grid.cell(r, col)
            if cell is not None and cell.row == r and cell.col == col:
                out.append(cell)
        return out

    def _multi_marks(self, rows: list[int]) -> list[int]:
        """Columns that hold marks (✓) several to a row: levels or applicability, not answers."""
        g = self.grid
        mark_cols: dict[int, int] = {}
        multi_rows = 0
        for r in rows:
            cells = [c for c in g.row_cells(r) if c.mark]
            if len(cells) >= 2:
                multi_rows += 1
            for c in cells:
                mark_cols[c.col] = mark_cols.get(c.col, 0) + 1
        if rows and multi_rows >= max(1, len(rows) // 5):
            return sorted(mark_cols)
        return []

    def _by_hints(self) -> bool:
        h = self.reader.hints
        if not (h.question_col or h.answer_col or h.comment_col):
            return False
        hr = self._header_row()
        if hr is None:
            return False
        roles = self._roles(hr)
        resolved = {}
        for key, value in (("question", h.question_col), ("answer", h.answer_col), ("comment", h.comment_col)):
            if not value:
                continue
            col = self._resolve_hint(value, roles["headers"])
            if col is None:
                return False
            resolved[key] = col
        if "question" not in resolved and roles["question"] is None:
            return False
        roles.update(resolved)
        if "answer" in resolved:
            roles["options"] = [c for c in roles["options"] if c != resolved["answer"]]
        self.reader.hint_used = True
        self._read_with_roles(roles, layout="header columns (from hints)")
        if not self.result.found:
            self.result.layout = "header columns (from hints), no rows"
        return True

    def _resolve_hint(self, value: str, headers: dict[int, str]) -> int | None:
        v = value.strip()
        key = _header_key(v)
        for col, h in headers.items():
            if h == key:
                return col
        if v.isdigit():
            col = int(v)
            return col if col < self.grid.ncols else None
        if re.fullmatch(r"[A-Za-z]{1,2}", v):
            col = 0
            for ch in v.upper():
                col = col * 26 + (ord(ch) - 64)
            col -= 1
            return col if col < self.grid.ncols else None
        return None

    def _by_header(self) -> bool:
        hr = self._header_row()
        if hr is None:
            return False
        roles = self._roles(hr)
        rows = self._data_rows(roles["data_start"])
        if not rows:
            return False
        q_col = roles["question"]
        if q_col is None and roles["answer"] is not None:
            # the longest text column that is not the answer is the question
            q_col = self._longest_text_col(rows, exclude={roles["answer"], roles["comment"], roles["ref"], *roles["options"], *roles["section"]})
            roles["question"] = q_col
        if q_col is None:
            return False
        multi = self._multi_marks(rows)
        if set(roles["options"]) & set(multi):
            roles["options"] = []  # several marks to a row: levels, not an answer
        comment = roles["comment"]
        if comment is not None and roles["headers"].get(comment) in _WEAK_COMMENT_HEADERS:
            cells = self._column_cells(comment, rows)
            if cells and sum(1 for c in cells if c.answerish) < len(cells) / 2:
                roles["comment"] = None
        if roles["answer"] is None and not roles["options"]:
            if multi:
                self._requirements(roles, rows, multi)
                return True
            empty_col = self._empty_col(rows, exclude={q_col, roles["ref"], roles["comment"], *roles["section"]})
            if empty_col is None:
                if roles["comment"] is not None:
                    roles["answer"], roles["comment"] = roles["comment"], None
                else:
                    # no place for answers in the columns: maybe rows below the questions hold them;
                    # if nothing else reads the table, its rows count as requirements
                    self.pending_requirements = (roles, rows, multi)
                    return False
            else:
                roles["answer"] = empty_col
        self._read_with_roles(roles, layout="header columns")
        return bool(self.result.found)

    def _longest_text_col(self, rows: list[int], exclude: set) -> int | None:
        best, best_len = None, 0
        for col in range(self.grid.ncols):
            if col in exclude:
                continue
            cells = self._column_cells(col, rows)
            total = sum(len(c.flat) for c in cells if c.texty)
            if total > best_len:
                best, best_len = col, total
        return best

    def _empty_col(self, rows: list[int], exclude: set) -> int | None:
        for col in range(self.grid.ncols):
            if col in exclude:
                continue
            cells = self._column_cells(col, rows)
            if not cells:
                continue
            answerish = sum(1 for c in cells if c.answer_slot)
            if answerish >= max(1, 0.8 * len(cells)):
                return col
        return None

    def _requirements(self, roles, rows: list[int], multi: list[int]) -> None:
        q_col = roles["question"]
        count = 0
        example = None
        for r in rows:
            cell = self.grid.cell(r, q_col)
            if cell is None or cell.row != r or len(cell.flat.split()) < 5:
                continue
            count += 1
            if example is None:
                ref_cell = self.grid.cell(r, roles["ref"]) if roles["ref"] is not None else None
                ref = ref_cell.flat if ref_cell is not None else ""
                example = (f"{ref} " if ref else "") + (cell.flat[:80] + ("…" if len(cell.flat) > 80 else ""))
        self.result.layout = "requirements (no answer column)"
        self.result.requirement_rows = count
        self.result.requirement_example = example
        self.result.prefilled_columns = [roles["headers"].get(c, "").upper() or f"column {c}" for c in multi]

    def _read_with_roles(self, roles, layout: str) -> None:
        g = self.grid
        q_col = roles["question"]
        section = self.section
        seen: set[int] = set()
        for r in self._data_rows(roles["data_start"]):
            cells = g.row_cells(r)
            if not cells:
                continue
            q_cell = g.cell(r, q_col)
            if g.full_width(r):
                only = cells[0]
                label = only.label
                if label:
                    if self.result.found and _COMMENT_LABEL.match(label) and self.result.found[-1].question.comment_at is None:
                        prev = self.result.found[-1].question
                        prev.comment_at = self.loc(only, insert_after=True)
                        prev.existing_comment = only.label_and_answer()[1]
                        continue
                    if label.endswith(":") and self.result.found:
                        label, existing = only.label_and_answer()
                        self.add(r, only.col, self._question(label, None, self.loc(only, True), existing=existing))
                        continue
                    section = label
                continue
            if q_cell is None or q_cell.row != r or id(q_cell) in seen:
                continue
            seen.add(id(q_cell))
            if not q_cell.texty:
                continue
            row_section = section
            for sc in roles["section"]:
                cell = g.cell(r, sc)
                if cell is not None and cell.flat and not re.fullmatch(r"[\d.]+", cell.flat):
                    row_section = cell.flat
                    break
            ref = None
            if roles["ref"] is not None:
                ref_cell = g.cell(r, roles["ref"])
                if ref_cell is not None and ref_cell.flat:
                    ref = ref_cell.flat.rstrip(".")
            text = q_cell.flat
            if ref is None:
                ref = next((_ref_from_label(self.reader.labels[p]) for p in q_cell.paras if p in self.reader.labels), None)
            if ref is None:
                m = _LEAD_REF.match(text)
                if m:
                    ref = _ref_from_label(m.group(1))
                    text = text[m.end():].strip()
            comment_at = None
            if roles["comment"] is not None:
                cc = g.cell(r, roles["comment"])
                if cc is not None and cc is not q_cell and cc.row == r:
                    comment_at = self.loc(cc)
            if roles["options"]:
                marks = []
                checked = []
                for col in roles["options"]:
                    cell = g.cell(r, col)
                    if cell is None or cell.row != r or cell is q_cell:
                        continue
                    label = g.cell(roles["data_start"] - 1, col)
                    option = _clean(label.text) if label is not None else roles["headers"][col]
                    marks.append((option, self.loc(cell)))
                    if cell.mark or any(b.checked for b in cell.boxes):
                        checked.append(option)
                if len(marks) < 2:
                    continue
                options = [m[0] for m in marks]
                answer_at = Locator(table=self.t, row=marks[0][1].row, col=marks[0][1].col, marks=tuple(marks))
                existing = "; ".join(checked) or None
                q = Question(text=text, answer_at=answer_at, ref=ref, section=row_section,
                             answer_kind=_kind_for(options), options=options, comment_at=comment_at,
                             existing_answer=existing, existing_comment=_written(g.cell(r, roles["comment"]) if comment_at else None))
                self.add(r, q_col, q)
                continue
            a_col = roles["answer"]
            a_cell = g.cell(r, a_col) if a_col is not None else None
            if a_cell is None or a_cell is q_cell or a_cell.row != r:
                continue  # no answer cell of its own (merged from the row above)
            q = self._question(text, ref, None, cell=a_cell, section=row_section, comment_at=comment_at,
                               header=roles["headers"].get(a_col, ""), source=q_cell)
            if comment_at is not None:
                q.existing_comment = _written(g.cell(r, roles["comment"]))
            self.add(r, q_col, q)
        self.result.layout = layout

    def _question(self, text: str, ref: str | None, locator: Locator | None, *, cell: _Cell | None = None,
                  existing: str | None = None, section: str | None = None, comment_at: Locator | None = None,
                  header: str = "", source: _Cell | None = None) -> Question:
        """A question whose answer goes in `cell` (or at `locator` when the cell holds its own label);
        `source` is the cell the question text comes from (its list number is the reference)."""
        kind, options = "text", None
        if ref is None and source is not None:
            ref = next((_ref_from_label(self.reader.labels[p]) for p in source.paras if p in self.reader.labels), None)
        if cell is not None:
            if cell.boxes:
                loc = self.loc(cell)
                marks = tuple((b.label, loc) for b in cell.boxes if b.label)
                options = [m[0] for m in marks]
                kind = _kind_for(options) if options else "text"
                existing = "; ".join(b.label for b in cell.boxes if b.checked) or None
                locator = Locator(table=self.t, row=cell.row, col=cell.col, marks=marks or None)
            else:
                locator = self.loc(cell)
                hint = cell.hint_options
                if cell.dropdown:
                    options = cell.dropdown
                    kind = _kind_for(options)
                elif hint:
                    options = hint
                    kind = _kind_for(hint)
                elif _YES_NO_HINT.search(header or ""):
                    yn = [g for g in _YES_NO_HINT.search(header).groups() if g]
                    options = ["Yes", "No"] + (["N/A"] if len(yn) == 3 else [])
                    kind = "yes_no_na"
                if cell.marker or not (cell.empty or cell.placeholder or hint):
                    existing = cell.text or None
        if ref is None:
            m = _LEAD_REF.match(text)
            if m:
                ref = _ref_from_label(m.group(1))
                text = text[m.end():].strip()
        return Question(text=text, answer_at=locator, ref=ref, section=section or self.section,
                        answer_kind=kind, options=options, comment_at=comment_at, existing_answer=existing)

    # -- registers, column forms --

    def _register(self) -> bool:
        g = self.grid
        hr = self._header_row()
        if hr is None:
            return False
        header = g.row_cells(hr)
        rows = range(hr + 1, len(g.rows))
        if len(rows) < 2 or not all(c.texty for c in header):
            return False
        if all(all(c.empty for c in g.row_cells(r)) for r in rows):
            self.result.layout = "register (rows to fill in, no questions)"
            names = ", ".join(_clean(c.text) for c in header)
            self.reader.warnings.append(
                f"Table {self.t} ({names}) is a register with {len(rows)} empty rows to fill in, not a list of "
                "questions; it was left out."
            )
            return True
        return False

    def _column_form(self) -> bool:
        """A header row over exactly one entry row: one question per column."""
        g = self.grid
        rows = [r for r in range(len(g.rows)) if not (g.full_width(r) and r < len(g.rows) - 1 and r == 0)]
        title = None
        if rows and rows[0] != 0:
            title = g.row_cells(0)[0].flat
        if len(rows) != 2:
            return False
        head, entry = g.row_cells(rows[0]), g.row_cells(rows[1])
        if len(head) != len(entry) or any((a.col, a.span) != (b.col, b.span) for a, b in zip(head, entry)):
            return False
        if not all(c.texty for c in head):
            return False
        if not all(c.answer_slot for c in entry) and not all(_promptish(c.flat) for c in head):
            return False
        labels = [c.flat for c in head]
        prefix = self._prefix(labels, title)
        for h, e in zip(head, entry):
            text = f"{prefix}: {h.flat.rstrip(' :')}" if prefix else h.flat
            q = self._question(text, None, None, cell=e, source=h)
            self.add(e.row, e.col, q)
        self.result.layout = "prompt above answer" if len(head) == 1 else "column form"
        return True

    def _prefix(self, labels: list[str], title: str | None) -> str | None:
        """Caption to put before short labels ("Name:") so the question says what it is about."""
        if not labels:
            return None
        lengths = sorted(len(l.split()) for l in labels)
        if lengths[len(lengths) // 2] > 4 or any(l.rstrip().endswith("?") for l in labels):
            return None
        caption = title or self.reader._caption_before(self.pos)
        if not caption:
            return None
        return caption.rstrip(" :")

    # -- row by row --

    def _by_rows(self) -> bool:
        g = self.grid
        pending: list[tuple[int, int, Question, bool]] = []  # row, col, question, from a beside row
        multi_rows = 0
        beside_rows = 0
        full_labels: list[tuple[int, _Cell]] = []
        r = 0
        nrows = len(g.rows)
        while r < nrows:
            cells = g.row_cells(r)
            if not cells:
                r += 1
                continue
            if len(cells) >= 2:
                multi_rows += 1
            texty = [c for c in cells if c.texty]
            if not texty:
                if len(cells) == 1 and g.full_width(r) and cells[0].label:
                    full_labels.append((r, cells[0]))  # a label with the answer written after it
                r += 1
                continue
            # prompt row with the answer row below it (empty, or already answered below a prompt)
            if r + 1 < nrows and all(not c.answerish for c in cells):
                below = g.row_cells(r + 1)
                prompt = " ".join(c.flat for c in texty)
                answered = (len(below) == 1 and below[0].texty and _promptish(prompt)
                            and not _promptish(below[0].flat) and not below[0].flat.endswith(":"))
                if below and (all(c.answer_slot for c in below) or answered) and (len(below) == 1 or len(below) <= len(cells)):
                    ref, text = self._ref_and_text(texty)
                    if text:
                        q = self._question(text, ref, None, cell=below[0], source=texty[-1])
                        pending.append((below[0].row, below[0].col, q, False))
                        r += 2
                        continue
            # label with the answer beside it
            beside = self._beside(cells)
            if beside is not None:
                beside_rows += 1
                pending.append(beside)
                r += 1
                continue
            if len(cells) == 1 and g.full_width(r):
                full_labels.append((r, cells[0]))
            r += 1
        accepted = beside_rows >= max(1, 0.6 * multi_rows)
        found = [(row, col, q) for row, col, q, is_beside in pending
                 if not is_beside or accepted or _promptish(q.text)]
        if not found:
            return False
        # labels in full-width rows of a form hold their own answer
        for r, cell in full_labels:
            label = cell.label
            if _COMMENT_LABEL.match(label):
                prev = [f for f in found if f[0] < r]
                if prev and prev[-1][2].comment_at is None:
                    prev[-1][2].comment_at = self.loc(cell, insert_after=True)
                    prev[-1][2].existing_comment = cell.label_and_answer()[1]
                    continue
            if label.endswith(":") and len(label.split()) <= 12:
                label, existing = cell.label_and_answer()
                found.append((r, cell.col, self._question(label, None, self.loc(cell, True), existing=existing)))
        found.sort(key=lambda f: (f[0], f[1]))
        labels = [q.text for _, _, q in found if q.answer_at.insert_after is False]
        prefix = self._prefix(labels, None)
        for row, col, q in found:
            if prefix and not q.answer_at.insert_after:
                q.text = f"{prefix}: {q.text.rstrip(' :')}"
            self.add(row, col, q)
        self.result.layout = "rows"
        return True

    def _ref_and_text(self, texty: list[_Cell]) -> tuple[str | None, str]:
        ref = None
        parts = []
        for c in texty:
            if ref is None and not parts and _CELL_REF.match(c.flat) and len(texty) > 1:
                ref = c.flat.strip("()").rstrip(".):")
                continue
            parts.append(c.flat)
        return ref, " ".join(parts).strip()

    def _beside(self, cells: list[_Cell]):
        """[ref] label | answer [| comment] [| guidance]."""
        i = 0
        ref = None
        if len(cells) >= 3 and _CELL_REF.match(cells[0].flat) and cells[1].texty:
            ref = cells[0].flat.strip("()").rstrip(".):")
            i = 1
        if i >= len(cells) or not cells[i].texty or i + 1 >= len(cells):
            return None
        label = cells[i]
        answer = cells[i + 1]
        answered = label.flat.endswith((":", "?")) and answer.texty and not answer.flat.endswith((":", "?"))
        if not (answer.answer_slot or answered):
            return None
        comment_at = None
        if i + 2 < len(cells) and cells[i + 2].answerish and not cells[i + 2].boxes:
            comment_at = self.loc(cells[i + 2])
        q = self._question(label.flat, ref, None, cell=answer, comment_at=comment_at, source=label)
        if comment_at is not None:
            q.existing_comment = _written(cells[i + 2])
        return (answer.row, label.col, q, True)

    # -- a table that answers the paragraph before it --

    def _answer_area(self) -> None:
        g = self.grid
        cells = list(g.all_cells())
        boxes = [c for c in cells if c.boxes]
        # besides its boxes and empty cells, an answer area holds at most a label or instruction row
        texts = [c for c in cells if c.texty and not c.boxes]
        if len(texts) > 1 or any(not g.full_width(c.row) for c in texts):
            return
        if boxes:
            marks: list[tuple[str, Locator]] = []
            checked: list[str] = []
            for c in boxes:
                for b in c.boxes:
                    if b.label and b.label not in dict(marks):
                        marks.append((b.label, self.loc(c)))
                        if b.checked:
                            checked.append(b.label)
            if not marks:
                return
            options = [m[0] for m in marks]
            comment_at = None
            existing_comment = None
            for c in cells:
                if c.boxes or not g.full_width(c.row):
                    continue  # the details place is a full-width row
                if c.label:
                    comment_at = self.loc(c, insert_after=True)
                    existing_comment = c.label_and_answer()[1]
                    break
                if c.empty or c.placeholder or c.marker:
                    comment_at = self.loc(c)
                    existing_comment = _written(c)
                    break
            first = marks[0][1]
            area = {
                "answer_at": Locator(table=self.t, row=first.row, col=first.col, marks=tuple(marks)),
                "kind": _kind_for(options),
                "options": options,
                "comment_at": comment_at,
                "existing": "; ".join(checked) or None,
                "existing_comment": existing_comment,
            }
            self.result.answer_area = area
            self.result.layout = "answer area (checkboxes)"
            return
        if all(c.answerish for c in cells) or len(cells) == 1 and (cells[0].marker or cells[0].placeholder):
            first = cells[0]
            area = {
                "answer_at": self.loc(first),
                "kind": "text",
                "existing": first.text if first.marker else None,
            }
            self.result.answer_area = area
            self.result.layout = "answer area"


# ---- writing ------------------------------------------------------------------------


_EMPHASIS = {"b", "bCs", "i", "iCs", "u", "color", "highlight", "shd", "strike", "dstrike", "caps", "smallCaps",
             "vanish", "specVanish", "rStyle", "em", "effect", "emboss", "imprint", "outline", "shadow", "rPrChange",
             "ins", "del", "moveFrom", "moveTo"}
_DROP_PPR = {"numPr", "sectPr", "pageBreakBefore", "rPr", "pPrChange", "outlineLvl", "framePr", "keepNext"}
_KEEP_IN_PARAGRAPH = {_BM_START, _BM_END, _w("commentRangeStart"), _w("commentRangeEnd"), _w("permStart"), _w("permEnd")}


class _Writer:
    def __init__(self, doc):
        self.doc = doc
        self.body = doc.element.body
        self.styles = _Styles(_part_element(_related_part(doc, "/styles")))
        self.paragraphs = list(self.body.iterchildren(_P))
        self.tables = list(self.body.iterchildren(_TBL))
        self.grids: dict[int, _Grid] = {}
        ids = [_int(b.get(_w("id")), 0) for b in doc.element.iter(_BM_START)]
        self.next_id = max(ids, default=0) + 1

    # -- resolving locators against the original document --

    def _grid(self, t: int) -> _Grid:
        if t not in self.grids:
            self.grids[t] = _Grid(self.tables[t])
        return self.grids[t]

    def _resolve(self, loc: Locator, question: Question):
        try:
            if loc.table is not None:
                if not 0 <= loc.table < len(self.tables):
                    raise IndexError
                cell = self._grid(loc.table).cell(loc.row or 0, loc.col or 0)
                if cell is None:
                    raise IndexError
                return ("cell", cell.tc)
            if loc.paragraph is not None:
                if not 0 <= loc.paragraph < len(self.paragraphs):
                    raise IndexError
                return ("p", self.paragraphs[loc.paragraph])
        except IndexError:
            pass
        raise ExportError(f"{_name(question)}: its place ({loc.to_json()}) does not exist in this document; "
                          "was the answer file made from a different version?")

    def apply(self, fills: list[AnswerFill]) -> "ExportReport":
        """Write what `ingest.fill.plan_fill` plans for every fill (the policy the autofill
        report shows) and say what changed. Every place is resolved against the
        original document first, so inserted paragraphs do not shift later ones."""
        from ingest.fill import ExportReport, ExportTally, PlannedWrite, plan_export

        def q_marks(tally):
            return tally.fill.question.answer_at.marks or ()

        steps = []
        tallies = []
        for fill in fills:
            q = fill.question
            writes, notes, refusal = plan_export(fill)
            tally = ExportTally(fill, notes, refusal)
            tallies.append(tally)
            for write in writes:
                if _CONTROL_CHARS.search(write.value):
                    raise ExportError(f"{_name(q)}: the answer contains control characters Word cannot store; "
                                      "remove them and export again.")
                if write.role == "mark":
                    labels = [opt for opt, _ in q.answer_at.marks or ()]
                    chosen = next((opt for opt, loc in q.answer_at.marks or () if loc == write.at), None)
                    if sum(1 for _, loc in q.answer_at.marks or () if loc == write.at) > 1:
                        chosen = match_option(fill.short_answer, labels)  # several options in one place
                    places = [(opt, self._resolve(loc, q)) for opt, loc in q.answer_at.marks or ()]
                    steps.append(("mark", chosen, places, None, tally, write))
                else:
                    steps.append(("text", write.value, self._resolve(write.at, q), write.at, tally, write))
        claimed: dict[tuple, Question] = {}
        for kind, value, target, loc, tally, write in steps:
            elements = [el for _, (_, el) in target] if kind == "mark" else [target[1]]
            key = (kind, tuple(id(el) for el in elements), bool(loc and loc.insert_after))
            if key in claimed and claimed[key] is not tally.fill.question:
                tally.refuse(write, f"the same place takes the answer to {_name(claimed[key]).lower()}")
                continue
            claimed[key] = tally.fill.question
            after_p = kind == "text" and target[0] == "p" and loc is not None and loc.insert_after
            if after_p:  # the answer is the paragraph after this one (inserted, or ours from an earlier export)
                elements = [el for el in (target[1], _next_paragraph(target[1])) if el is not None]
            before = [_place_state(el) for el in elements]
            if kind == "mark":
                self._mark(value, target)
            elif (held := _place_text(target, loc)) is not None and _clean(held) == _clean(value):
                tally.same.append(write)
                continue
            else:
                self._write_text(target, loc, value)
            if after_p:
                elements = [target[1], _next_paragraph(target[1])]
            after = [_place_state(el) for el in elements]
            if kind == "mark":  # each place that changed: the chosen box checked, another one cleared
                changed, seen = [], set()
                for (opt, (_, el)), (_, loc_), b, a in zip(target, q_marks(tally), before, after):
                    if b != a and id(el) not in seen:
                        seen.add(id(el))
                        changed.append(PlannedWrite(loc_, "X", "mark") if opt == value else PlannedWrite(loc_, "", "clear"))
                if changed:
                    tally.changed.extend(changed)
                else:
                    tally.same.append(write)
                continue
            (tally.changed if before != after else tally.same).append(write)
        return ExportReport([t.result() for t in tallies])

    # -- marks and checkboxes --

    def _mark(self, chosen: str | None, places) -> None:
        """Check the chosen option and clear the others of the same question."""
        for opt, (kind, el) in places:
            on = opt == chosen
            scans = [_scan_paragraph(p) for p in (_block_paragraphs(el)[0] if kind == "cell" else [el])]
            boxes = [b for s in scans for b in s.boxes]
            if boxes:
                box = next((b for b in boxes if _norm_option(b.label) == _norm_option(opt)), None)
                if box is None and len(boxes) == 1:
                    box = boxes[0]
                if box is not None:
                    _set_box(box, on)
                continue
            if kind == "cell":
                text = _clean("\n".join(s.text for s in scans))
                if on:
                    self._write_cell(el, "X", marker=False)
                elif text.lower() in _MARKS:
                    self._write_cell(el, "", marker=False)

    # -- text --

    def _write_text(self, target, loc: Locator, text: str) -> None:
        kind, el = target
        if kind == "cell":
            if loc.insert_after:
                self._write_after_label(el, text)
            else:
                self._write_cell(el, text)
        elif loc.insert_after:
            self._write_after_paragraph(el, text)
        else:
            self._write_label_paragraph(el, text)

    def _marker_pair(self):
        from docx.oxml.parser import OxmlElement

        n = self.next_id
        self.next_id += 1
        start = OxmlElement("w:bookmarkStart")
        start.set(_w("id"), str(n))
        start.set(_w("name"), f"{MARKER_PREFIX}{n}")
        end = OxmlElement("w:bookmarkEnd")
        end.set(_w("id"), str(n))
        return start, end

    def _fill_paragraph(self, p, text: str, rpr, marker: bool = True) -> None:
        """Replace the paragraph's content with `text` (inside its text content control when it has
        one), keeping bookmarks and comment ranges that are not ours."""
        ours = self._marker_ids(p)
        sdt = _text_control(p)
        container = p
        if sdt is not None:
            container = sdt.find(_SDTCONTENT)
            _select_list_item(sdt.find(_SDTPR), text)
        for control in [sdt, *p.iterancestors(_SDT)]:
            pr = control.find(_SDTPR) if control is not None else None
            if pr is not None:
                for ph in pr.findall(_w("showingPlcHdr")):
                    pr.remove(ph)
        for child in list(container):
            if child.tag == _PPR or child is sdt:
                continue
            if child.tag in _KEEP_IN_PARAGRAPH and child.get(_w("id")) not in ours:
                continue
            container.remove(child)
        if not text:
            return
        runs = _make_runs(text, rpr)
        if marker:
            start, end = self._marker_pair()
            container.append(start)
            for r in runs:
                container.append(r)
            container.append(end)
        else:
            for r in runs:
                container.append(r)

    @staticmethod
    def _marker_ids(p) -> set[str]:
        return {b.get(_w("id")) for b in p.iter(_BM_START) if (b.get(_w("name")) or "").startswith(MARKER_PREFIX)}

    def _write_cell(self, tc, text: str, marker: bool = True) -> None:
        paras, _ = _block_paragraphs(tc)
        if not paras:
            from docx.oxml.parser import OxmlElement

            p = OxmlElement("w:p")
            tc.append(p)
            paras = [p]
        first = paras[0]
        scans = [_scan_paragraph(p) for p in paras]
        cell_text = _clean("\n".join(s.text for s in scans))
        placeholder = any(s.placeholder for s in scans) or bool(cell_text and _PLACEHOLDER_TEXT.match(cell_text))
        rpr = _first_run_rpr(first)
        if rpr is None:
            rpr = _mark_rpr(first)
        elif placeholder:
            rpr = _plain_rpr(rpr)
        self._fill_paragraph(first, text, rpr, marker=marker)
        for p in paras[1:]:
            p.getparent().remove(p)
        _ensure_cell_ends_with_paragraph(tc)

    def _write_after_label(self, tc, text: str) -> None:
        paras, _ = _block_paragraphs(tc)
        scans = [_scan_paragraph(p) for p in paras]
        marked = [i for i, s in enumerate(scans) if s.marker]
        if marked:
            label_idx = marked[0] - 1
        else:
            nonempty = [i for i, s in enumerate(scans) if s.text.strip()]
            label_idx = nonempty[0] if nonempty else -1
        label = paras[label_idx] if label_idx >= 0 else None
        after = paras[label_idx + 1 :]
        if after:
            target = after[0]
            for p in after[1:]:
                if _scan_paragraph(p).text.strip():
                    p.getparent().remove(p)
            rpr = _first(_first_run_rpr(target), _plain_rpr(_first_run_rpr(label)))
            self._fill_paragraph(target, text, rpr)
            return
        if label is None:
            self._write_cell(tc, text)
            return
        new_p = _new_paragraph_like(label, self.styles)
        label.addnext(new_p)
        self._fill_paragraph(new_p, text, _plain_rpr(_first(_first_run_rpr(label), _mark_rpr(label))))

    def _write_after_paragraph(self, p, text: str) -> None:
        nxt = p.getnext()
        while nxt is not None and nxt.tag in _KEEP_IN_PARAGRAPH | {_w("proofErr")}:
            nxt = nxt.getnext()
        if nxt is not None and nxt.tag == _P and _scan_paragraph(nxt).marker:
            self._fill_paragraph(nxt, text, _first(_first_run_rpr(nxt), _plain_rpr(_first_run_rpr(p))))
            return
        new_p = _new_paragraph_like(p, self.styles)
        p.addnext(new_p)
        self._fill_paragraph(new_p, text, _plain_rpr(_first(_first_run_rpr(p), _mark_rpr(p))))

    def _write_label_paragraph(self, p, text: str) -> None:
        """A paragraph "Answer: ____": keep the label (in its own formatting), replace what follows it."""
        m = _ANSWER_LABEL.match(_scan_paragraph(p).text)
        label_rpr = _first_run_rpr(p)
        if not m or _text_control(p) is not None:  # the answer goes into the control, the label stays
            self._fill_paragraph(p, text, _first(label_rpr, _mark_rpr(p)))
            return
        label = m.group(0)[: m.start(2)].rstrip() + " "
        label_rpr = copy.deepcopy(label_rpr) if label_rpr is not None else None
        self._fill_paragraph(p, text, _plain_rpr(label_rpr))
        marker = next(b for b in p.iter(_BM_START) if (b.get(_w("name")) or "").startswith(MARKER_PREFIX))
        for run_ in _make_runs(label, label_rpr):
            marker.addprevious(run_)


def _place_state(el) -> tuple | None:
    """What a person sees at a place: its text and the state of its checkboxes."""
    if el is None:
        return None
    paras = _block_paragraphs(el)[0] if el.tag == _TC else [el]
    scans = [_scan_paragraph(p) for p in paras]
    return (_clean("\n".join(s.text for s in scans)), tuple(b.checked for s in scans for b in s.boxes))


def _next_paragraph(p):
    nxt = p.getnext()
    while nxt is not None and nxt.tag in _KEEP_IN_PARAGRAPH | {_w("proofErr")}:
        nxt = nxt.getnext()
    return nxt if nxt is not None and nxt.tag == _P else None


def _place_text(target, loc: Locator) -> str | None:
    """The answer a text place holds now: the cell's text, what follows the
    "Answer:" label of a paragraph, or the paragraph an earlier export put
    after a question; None when that cannot be told (always written)."""
    kind, el = target
    if loc.insert_after:
        if kind == "p":
            nxt = _next_paragraph(el)
            return _scan_paragraph(nxt).text if nxt is not None and _scan_paragraph(nxt).marker else None
        return None
    text = _place_state(el)[0]
    if kind == "p":
        m = _ANSWER_LABEL.match(text)
        return m.group(2) if m else text
    return text


def _name(q: Question) -> str:
    short = q.text if len(q.text) <= 60 else q.text[:57] + "…"
    return f"Question {q.ref} ({short})" if q.ref else f"Question “{short}”"


def _set_box(box: _Box, on: bool) -> None:
    if box.kind == "field":
        cb = box.element
        default = cb.find(_w("default"))
        if default is None:
            from docx.oxml.parser import OxmlElement

            default = OxmlElement("w:default")
            cb.append(default)
        default.set(_VAL, "1" if on else "0")
        checked = cb.find(_w("checked"))
        if checked is not None:
            checked.set(_VAL, "1" if on else "0")
    elif box.kind == "glyph":
        t = box.element
        text = t.text or ""
        i = box.index
        if i < len(text):
            t.text = text[:i] + ("☒" if on else "☐") + text[i + 1 :]
    elif box.kind == "sym":
        font = (box.element.get(_w("font")) or "").strip().lower()
        checked_code, unchecked_code = _SYM_SET.get(font, (0xFD, 0xA8))
        box.element.set(_w("char"), f"F0{checked_code if on else unchecked_code:02X}")
    elif box.kind == "sdt":
        sdt = box.element
        cb = sdt.find(_SDTPR).find(_W14_CHECKBOX)
        state = cb.find(_W14_CHECKED)
        if state is None:
            from lxml import etree

            state = etree.SubElement(cb, _W14_CHECKED)
            cb.insert(0, state)
        state.set(_W14_VAL, "1" if on else "0")
        which = cb.find(f"{{{W14_NS}}}{'checkedState' if on else 'uncheckedState'}")
        code = which.get(_W14_VAL) if which is not None else None
        glyph = chr(int(code, 16)) if code else ("☒" if on else "☐")
        content = sdt.find(_SDTCONTENT)
        if content is not None:
            for t in content.iter(_T):
                t.text = glyph
                break


def _text_control(p):
    """A text, dropdown or combo box content control inside the paragraph, if any (not a checkbox)."""
    for sdt in p.iter(_SDT):
        pr = sdt.find(_SDTPR)
        if pr is not None and pr.find(_W14_CHECKBOX) is None and sdt.find(_SDTCONTENT) is not None:
            return sdt
    return None


def _select_list_item(pr, text: str) -> None:
    """A dropdown keeps the value of its selected item in w:lastValue."""
    if pr is None:
        return
    lst = pr.find(_w("dropDownList"))
    if lst is None:
        lst = pr.find(_w("comboBox"))
    if lst is None:
        return
    for item in lst.iterchildren(_w("listItem")):
        if (item.get(_w("displayText")) or item.get(_w("value")) or "").strip() == text:
            lst.set(_w("lastValue"), item.get(_w("value")) or text)
            return


def _first(*elements):
    """The first element that is not None (lxml elements are falsy when they have no children)."""
    return next((e for e in elements if e is not None), None)


def _first_run_rpr(p):
    if p is None:
        return None
    for run in p.iter(_R):
        rpr = run.find(_RPR)
        if rpr is not None:
            return rpr
        return None
    return None


def _mark_rpr(p):
    """The paragraph mark's run properties: what Word uses for text typed into an empty paragraph."""
    ppr = p.find(_PPR) if p is not None else None
    rpr = ppr.find(_RPR) if ppr is not None else None
    if rpr is None:
        return None
    out = copy.deepcopy(rpr)
    for child in list(out):
        if child.tag in (_w("ins"), _w("del"), _w("moveFrom"), _w("moveTo"), _w("rPrChange")):
            out.remove(child)
    return out


def _plain_rpr(rpr):
    """Run properties without emphasis: answers under a bold or red label read as body text."""
    if rpr is None:
        return None
    out = copy.deepcopy(rpr)
    for child in list(out):
        local = child.tag.rsplit("}", 1)[-1]
        if local in _EMPHASIS:
            out.remove(child)
    return out if len(out) else None


def _make_runs(text: str, rpr) -> list[Any]:
    from docx.oxml.parser import OxmlElement

    run = OxmlElement("w:r")
    if rpr is not None:
        new = copy.deepcopy(rpr)
        new.tag = _RPR
        run.append(new)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for n, line in enumerate(lines):
        if n:
            run.append(OxmlElement("w:br"))
        pieces = line.split("\t")
        for k, piece in enumerate(pieces):
            if k:
                run.append(OxmlElement("w:tab"))
            if piece:
                t = OxmlElement("w:t")
                t.text = piece
                _preserve(t)
                run.append(t)
    return [run]


def _preserve(t) -> None:
    t.set(f"{{{XML_NS}}}space", "preserve")


def _new_paragraph_like(p, styles: _Styles):
    """An empty paragraph with `p`'s paragraph properties, minus numbering, heading level and breaks."""
    from docx.oxml.parser import OxmlElement

    new_p = OxmlElement("w:p")
    ppr = p.find(_PPR)
    if ppr is not None:
        new_ppr = copy.deepcopy(ppr)
        for child in list(new_ppr):
            if child.tag.rsplit("}", 1)[-1] in _DROP_PPR:
                new_ppr.remove(child)
        ps = new_ppr.find(_w("pStyle"))
        if ps is not None:
            style = styles.get(ps.get(_VAL))
            if style["outline"] is not None or style["numId"] not in (None, "0"):
                new_ppr.remove(ps)
        if len(new_ppr):
            new_p.append(new_ppr)
    return new_p


def _ensure_cell_ends_with_paragraph(tc) -> None:
    last = tc[-1] if len(tc) else None
    if last is None or last.tag not in (_P, _SDT, _CUSTOMXML):
        from docx.oxml.parser import OxmlElement

        tc.append(OxmlElement("w:p"))

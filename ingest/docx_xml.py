"""Word XML underneath the docx reader and writer: element names, opening and
saving the package, and the text and checkboxes of one paragraph.

`_scan_paragraph` gives a paragraph's visible text (runs in deleted text,
fallbacks and text boxes skipped; tabs, breaks and non-breaking hyphens as
characters) and its checkboxes (legacy form fields, content-control
checkboxes, Wingdings symbols and the glyphs ☐ ☒ ☑ □), each labelled with the
option text beside it. See ingest/docx_format.py for the layouts read.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from ingest.errors import DamagedFile, IngestError, UnsupportedFormat
from ingest.ooxml import copy_zipinfo, open_zip, safe_member_name


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


# ---- opening and saving ------------------------------------------------------------


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


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _child_val(el, tag: str) -> str | None:
    if el is None:
        return None
    child = el.find(_w(tag))
    return child.get(_VAL) if child is not None else None


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

"""Writing answers into a copy of a Word document: text into cells and
paragraphs (after a label, after a question, in place of a placeholder or
inside a content control), marks and checkboxes, each written paragraph
carrying the hidden `_aimsqA<n>` bookmark. See ingest/docx_format.py."""
from __future__ import annotations

import copy
import re
from typing import Any

from ingest.docx_cells import _PLACEHOLDER_TEXT, _Grid, _norm_option
from ingest.docx_styles import _Styles
from ingest.docx_xml import (MARKER_PREFIX, W14_NS, XML_NS, _BM_END, _BM_START, _CUSTOMXML, _MARKS, _P, _PPR, _R, _RPR,
                             _SDT, _SDTCONTENT, _SDTPR, _SYM_SET, _T, _TBL, _TC, _VAL, _W14_CHECKBOX, _W14_CHECKED,
                             _W14_VAL, _Box, _block_paragraphs, _clean, _int, _part_element, _related_part,
                             _scan_paragraph, _w)
from ingest.errors import ExportError
from ingest.model import AnswerFill, Locator, Question
from ingest.vocabulary import ANSWER_LABEL


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


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
                if write.role == "mark":  # the plan chose the option; here only its box is found
                    places = [(opt, self._resolve(loc, q)) for opt, loc in q.answer_at.marks or ()]
                    steps.append(("mark", write.option, places, None, tally, write))
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
        m = ANSWER_LABEL.match(_scan_paragraph(p).text)
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
        m = ANSWER_LABEL.match(text)
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

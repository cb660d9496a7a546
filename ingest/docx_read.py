"""The docx reader's walk over the document: body blocks in order, list
numbers, headings and sections, then the control templates, every top-level
table (`ingest.docx_tables`), answer areas and the paragraphs
(`ingest.docx_paragraphs`). See ingest/docx_format.py for the layouts read."""
from __future__ import annotations

from typing import Any

from ingest.docx_cells import _BRACKETS, _LEAD_REF, _Found, _Grid, _TableResult
from ingest.docx_paragraphs import _ParagraphReader, _strip_brackets
from ingest.docx_styles import _Numbering, _ref_from_label, _Styles
from ingest.docx_tables import _TableReader
from ingest.docx_xml import (_P, _PPR, _SDT, _SDTCONTENT, _T, _TBL, _TC, _TR, _VAL, _int, _part_element,
                             _related_part, _clean, _scan_paragraph, _skip_run, _w)
from ingest.model import IngestHints, IngestResult, Question


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
        found.extend(_ParagraphReader(self).read())
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

    def _paragraph_before(self, pos: int, empty) -> int | None:
        """The block position of the nearest paragraph before block `pos` that is not
        `empty(info)`: at most five blocks back, past at most three empty paragraphs, no table."""
        empties = 0
        for k in range(pos - 1, max(-1, pos - 6), -1):
            if self.blocks[k][0] != "p":
                return None
            if empty(self.pinfo[k]):
                empties += 1
                if empties > 3:
                    return None
                continue
            return k
        return None

    def _caption_before(self, pos: int) -> str | None:
        """A short paragraph right before a table that introduces it."""
        k = self._paragraph_before(pos, lambda info: not info["flat"])
        if k is None:
            return None
        info = self.pinfo[k]
        if (info["heading"] or info["scan"].boxes or info["scan"].marker or len(info["flat"].split()) > 40
                or info["flat"].endswith("?")):
            return None  # a question of its own (or an answer aimsq wrote) is no caption
        return _strip_brackets(info["flat"]).strip() or None

    def _prompt_before(self, pos: int) -> int | None:
        """The block position of the paragraph a table of answer places answers."""
        k = self._paragraph_before(pos, lambda info: not info["flat"] and not info["scan"].boxes)
        if k is None or k in self.consumed or self.pinfo[k]["scan"].marker:
            return None
        return k

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

"""One top-level Word table read as questions: header columns (answer,
Yes/No mark, comment, reference and section columns), a register, a column
form, row by row, or an answer area for the paragraph before it. See
ingest/docx_format.py for the layouts read."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ingest.docx_cells import (_CELL_REF, _LEAD_REF, _Cell, _Found, _Grid, _TableResult, _header_key, _kind_for,
                               _promptish, _written)
from ingest.docx_styles import _ref_from_label
from ingest.docx_xml import _clean
from ingest.model import Locator, Question
from ingest.vocabulary import (ANSWER_HEADERS, COMMENT_HEADERS, COMMENT_LABEL, OPTION_WORDS, QUESTION_HEADERS,
                               REF_HEADERS, SECTION_HEADERS, WEAK_COMMENT_HEADERS, YES_NO_HINT, header_role)
from ingest.xlsx_refs import col_index

if TYPE_CHECKING:
    from ingest.docx_read import _Reader


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
            if sub and all(_header_key(c.text) in OPTION_WORDS for c in sub if c.flat) and sum(1 for c in sub if c.flat) >= 2:
                for c in sub:
                    if c.flat:
                        headers[c.col] = _header_key(c.text)
                data_start = hr + 2
        roles: dict[str, Any] = {"question": None, "ref": None, "section": [], "answer": None, "comment": None,
                                 "options": [], "exclude": [], "headers": headers, "data_start": data_start}
        question_cols: list[int] = []
        other_words: dict[int, str] = {}
        option_cols = [col for col, h in headers.items() if h in OPTION_WORDS and not self._ref_column(col, data_start)]
        if len(option_cols) < 2:
            option_cols = []  # a lone "No" header is a number column, not a Yes/No pair
        for col, h in sorted(headers.items()):
            if not h:
                continue
            if col in option_cols:
                roles["options"].append(col)
            elif QUESTION_HEADERS.match(h) or ("question" in h and not REF_HEADERS.match(h) and len(h.split()) <= 4):
                question_cols.append(col)
            elif roles["ref"] is None and REF_HEADERS.match(h):
                roles["ref"] = col
            elif SECTION_HEADERS.match(h):
                roles["section"].append(col)
            elif roles["answer"] is None and ANSWER_HEADERS.match(h):
                roles["answer"] = col
            elif roles["comment"] is None and COMMENT_HEADERS.match(h):
                roles["comment"] = col
            elif (role := header_role(h)) is not None and not g.cell(hr, col).marker:
                other_words[col] = role  # the header words XLSX and CSV use, in every language they list
        self._other_header_words(roles, question_cols, other_words)
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

    @staticmethod
    def _other_header_words(roles: dict[str, Any], question_cols: list[int], other_words: dict[int, str]) -> None:
        """Roles from the shared header words (`ingest.layout.header_role`) for the columns
        the English header names above left unnamed; counted only when the row names two
        columns or more, as a header row does (one answer aimsq wrote is no header)."""
        named = set(question_cols) | set(roles["options"]) | set(roles["section"])
        named |= {roles[k] for k in ("ref", "answer", "comment") if roles[k] is not None}
        if len(named | set(other_words)) < 2:
            return
        for col, role in sorted(other_words.items()):
            if role == "question":
                question_cols.append(col)
            elif role in ("exclude", "section"):
                roles[role].append(col)
            elif roles[role] is None:
                roles[role] = col

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
            col = col_index(v) - 1
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
            q_col = self._longest_text_col(rows, exclude={roles["answer"], roles["comment"], roles["ref"], *roles["options"],
                                                          *roles["section"], *roles["exclude"]})
            roles["question"] = q_col
        if q_col is None:
            return False
        multi = self._multi_marks(rows)
        if set(roles["options"]) & set(multi):
            roles["options"] = []  # several marks to a row: levels, not an answer
        comment = roles["comment"]
        if comment is not None and roles["headers"].get(comment) in WEAK_COMMENT_HEADERS:
            cells = self._column_cells(comment, rows)
            if cells and sum(1 for c in cells if c.answerish) < len(cells) / 2:
                roles["comment"] = None
        if roles["answer"] is None and not roles["options"]:
            if multi:
                self._requirements(roles, rows, multi)
                return True
            empty_col = self._empty_col(rows, exclude={q_col, roles["ref"], roles["comment"], *roles["section"], *roles["exclude"]})
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
                    if self.result.found and COMMENT_LABEL.match(label) and self.result.found[-1].question.comment_at is None:
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
                elif YES_NO_HINT.search(header or ""):
                    yn = [g for g in YES_NO_HINT.search(header).groups() if g]
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
            if COMMENT_LABEL.match(label):
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

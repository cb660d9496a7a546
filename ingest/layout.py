"""Finding questions in a grid of cells: the heuristics XLSX and CSV share.

A questionnaire sheet is a table: a reference column (`A&A-01.1`, `DOCU-01`,
`1.2.3`), a question column, an answer column (often a dropdown), sometimes
a comment column, with header rows (once at the top, or once per section),
section title rows and instruction rows in between. Nothing here knows a
particular questionnaire; the evidence is generic:

- header rows: short cells naming roles ("Question", "Answer", "Comments",
  "ID", "Domain"; English, Spanish, French, German, Portuguese), where a
  header row below the first one starts a block that may move the columns;
- the reference column: the column where most cells look like an id;
- the question column: the column whose text reads most like questions
  (question marks, interrogative or imperative openings, requirement
  statements, length), weighted by header and by references on the row;
- the answer column: a header that says so, else a list validation
  (dropdown) on the question rows, else Yes/No-like values, else the first
  free column right of the questions (with a warning);
- columns meant for the customer's analysts (analyst, reviewer, score,
  guidance, ...) never take an answer.

`detect_questions(grid, hints)` returns rows with their roles; the format
module turns them into `Question`s with its own locators. The words it reads
by (header roles, Yes/No spellings, question openings, guidance labels) are
in `ingest.vocabulary`, shared with the Word reader.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from ingest.vocabulary import (GUIDANCE_CELL, GUIDANCE_LABEL, REQUIREMENT, YES_NO_FAMILIES, asks, header_role, norm,
                               question_score, short_answer_family)

# ---- text classification ---------------------------------------------------------

_REF = re.compile(
    r"""^(?:
        [A-Z][A-Za-z0-9&]{0,11}(?:[-_.][A-Za-z0-9&]{1,8}){0,3}[-_. ]?\d{1,4}(?:[.\-]\d{1,4}){0,4}[a-z]?
        (?:\(\w{1,3}\))?                                            # A&A-01.1, DOCU-01, RG-PS-01, Q12, AC-2(1)
      | \d{1,3}(?:\.\d{1,3}){1,5}\.?[a-z]?                       # 1.2.3
      | \d{1,4}[a-z]?[.)]?                                        # 12, 3a, 4)
      | [A-Z](?:\d{1,3}|\.\d{1,3})(?:\.\d{1,3}){0,4}[.)]?         # A1, A.1, B.2.3
      | [A-Z][.)]                                                 # A. B)
      | [IVX]{1,5}\.\d{0,3}                                       # IV.2
    )$""",
    re.VERBOSE,
)



def is_ref(text: str | None) -> bool:
    return bool(text) and len(text) <= 24 and bool(_REF.match(text.strip()))




def is_title(text: str) -> bool:
    """A section title: short, a few words, not a sentence or a question."""
    t = text.strip()
    if not t or len(t) > 90 or "?" in t or "\n" in t.strip():
        return False
    if t[0] in "{[(<*" or t.endswith((".", ";", ",", ":")) or "; " in t or "__" in t:
        return False
    words = t.split()
    return 1 <= len(words) <= 12 and any(ch.isalpha() for ch in t)



# ---- the grid the detector reads -------------------------------------------------------


@dataclass
class Grid:
    """One sheet (or a CSV) as the detector sees it. Rows and columns are 1-based."""

    name: str
    rows: dict[int, dict[int, str]]  # non-empty, non-blank cell texts
    hidden_rows: set[int] = field(default_factory=set)
    hidden_cols: set[int] = field(default_factory=set)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2
    options_at: Callable[[int, int], list[str] | None] = lambda r, c: None
    col_name: Callable[[int], str] = lambda c: str(c)  # for messages ("C" or the CSV header)
    _anchor: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict, init=False, repr=False)
    _big: list[tuple[int, int, int, int]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self):
        for r1, c1, r2, c2 in self.merges:
            if (r2 - r1 + 1) * (c2 - c1 + 1) > 5000:
                self._big.append((r1, c1, r2, c2))
                continue
            for r in range(r1, r2 + 1):
                for c in range(c1, c2 + 1):
                    self._anchor[(r, c)] = (r1, c1)

    def anchor(self, r: int, c: int) -> tuple[int, int]:
        """The top-left cell of the merge covering (r, c), or (r, c) itself."""
        hit = self._anchor.get((r, c))
        if hit:
            return hit
        for r1, c1, r2, c2 in self._big:
            if r1 <= r <= r2 and c1 <= c <= c2:
                return (r1, c1)
        return (r, c)

    def text(self, r: int, c: int) -> str | None:
        return self.rows.get(r, {}).get(c)

    def merged_text(self, r: int, c: int) -> str | None:
        """The text shown at (r, c): a merged cell shows its anchor's text."""
        ar, ac = self.anchor(r, c)
        return self.text(ar, ac)


# ---- detection -----------------------------------------------------------------------------


@dataclass
class Roles:
    ref: int | None = None
    question: int | None = None
    answer: int | None = None
    comment: int | None = None
    section: int | None = None
    answer_guessed: bool = False
    marks: dict[int, str] | None = None  # Yes / No / N/A columns where a mark goes: col -> label

    def copy(self) -> "Roles":
        return Roles(self.ref, self.question, self.answer, self.comment, self.section, self.answer_guessed,
                     dict(self.marks) if self.marks else None)


@dataclass
class ColumnHints:
    """Resolved column numbers a person gave (CLI flags / review app)."""

    question: int | None = None
    answer: int | None = None
    comment: int | None = None

    def any(self) -> bool:
        return any(v is not None for v in (self.question, self.answer, self.comment))

    @classmethod
    def resolved(cls, hints, resolve: Callable[[str, str, str], int | None]) -> "ColumnHints":
        """The question / answer / comment column hints of an `IngestHints`, each
        given that is not blank resolved by `resolve(stripped value, value, flag)`
        (which raises IngestError naming the flag when there is no such column)."""
        def one(value: str | None, flag: str) -> int | None:
            if value is None or not str(value).strip():
                return None
            return resolve(str(value).strip(), value, flag)

        return cls(question=one(hints.question_col, "--question-col"), answer=one(hints.answer_col, "--answer-col"),
                   comment=one(hints.comment_col, "--comment-col"))


@dataclass
class FoundQuestion:
    row: int
    text: str
    ref: str | None
    section: str | None
    answer_cell: tuple[int, int] | None
    comment_cell: tuple[int, int] | None
    existing_answer: str | None
    existing_comment: str | None
    options: list[str] | None
    hidden: bool
    notes: list[str] = field(default_factory=list)
    marks: list[tuple[str, tuple[int, int]]] | None = None  # label -> cell, when the answer is a mark


@dataclass
class SheetLayout:
    name: str
    roles: Roles
    questions: list[FoundQuestion]
    warnings: list[str]
    header_rows: list[int]
    score: float


def mark_columns(cells: dict[int, str]) -> dict[int, str]:
    """Header cells "Yes" | "No" | "N/A" side by side: the answer is a mark in one of them."""
    words = {w for ws in YES_NO_FAMILIES.values() for w in ws if len(w) > 1}
    marks = {c: t.strip() for c, t in cells.items() if norm(t) in words}  # "No." is a number column
    families = {short_answer_family(t) for t in marks.values()}
    return marks if {"yes", "no"} <= families and len(families) == len(marks) else {}


def header_roles(grid: Grid, r: int) -> dict[int, str]:
    """col -> role for a header row (merged header cells name every column they cover)."""
    out: dict[int, str] = {}
    marks = mark_columns(grid.rows.get(r, {}))
    for c in marks:
        out[c] = "mark"
    for c, text in grid.rows.get(r, {}).items():
        if c in marks:
            continue
        role = header_role(text)
        if role:
            ar, ac = grid.anchor(r, c)
            out[c] = role
            # a header merged across columns names them all
            for r1, c1, r2, c2 in grid.merges:
                if r1 <= r <= r2 and c1 == c and r1 == ar:
                    for cc in range(c1 + 1, c2 + 1):
                        out.setdefault(cc, role)
    return out


def find_header_rows(grid: Grid) -> dict[int, dict[int, str]]:
    found: dict[int, dict[int, str]] = {}
    for r, cells in grid.rows.items():
        if len(cells) < 2:
            continue
        # a header is short labels, not a question row with an answer that says "No"
        if any(question_score(t) >= 3 or len(t) > 100 for t in cells.values()):
            continue
        if any(is_ref(t) and header_role(t) is None for t in cells.values()):
            continue
        if sum(1 for t in cells.values() if len(t) <= 60) < 0.6 * len(cells):
            continue
        roles = header_roles(grid, r)
        named = {c: role for c, role in roles.items() if c in cells}  # cells, not merge-expanded columns
        distinct = set(named.values()) - {"exclude"}
        strong = {"question", "answer", "comment", "mark"} & distinct
        if len(distinct) >= 2 and strong or ("answer" in distinct and len(named) >= 2):
            found[r] = roles
    return found


def _is_candidate_question(text: str | None, has_ref: bool) -> bool:
    if not text:
        return False
    if has_ref:
        return len(text.strip()) >= 2
    return question_score(text) >= 3


def _choose_roles(grid: Grid, headers: dict[int, dict[int, str]], hints: ColumnHints) -> tuple[Roles, list[str]]:
    """Sheet-level roles from header votes and column text statistics."""
    warnings: list[str] = []
    header_set = set(headers)
    body = [(r, cells) for r, cells in grid.rows.items() if r not in header_set]
    votes: dict[int, dict[str, int]] = {}
    for roles in headers.values():
        for c, role in roles.items():
            votes.setdefault(c, {}).setdefault(role, 0)
            votes[c][role] += 1

    def voted(c: int, role: str) -> int:
        return votes.get(c, {}).get(role, 0)

    def excluded(c: int) -> bool:
        v = votes.get(c, {})
        return v.get("exclude", 0) > 0 and v.get("exclude", 0) >= max(v.values())

    # reference column: most id-like cells, leftmost on ties
    # (distinct values: ids are unique, a depth or score column repeats itself)
    ref_values: dict[int, set[str]] = {}
    for _, cells in body:
        for c, t in cells.items():
            if is_ref(t):
                ref_values.setdefault(c, set()).add(t.strip())
    ref_counts = {c: len(v) for c, v in ref_values.items()}
    ref_col = None
    best = 0
    for c in sorted(ref_counts):
        n = ref_counts[c] + 3 * voted(c, "ref")
        if n > best:
            ref_col, best = c, n
    if ref_col is not None and ref_counts.get(ref_col, 0) < 2 and not voted(ref_col, "ref"):
        ref_col = None

    # question column: text that reads like questions, rows with references
    q_scores: dict[int, float] = {}
    for r, cells in body:
        row_ref = ref_col is not None and is_ref(cells.get(ref_col))
        for c, t in cells.items():
            if c == ref_col or is_ref(t):
                continue
            s = question_score(t)
            if row_ref:
                s += 1.5
            if s:
                q_scores[c] = q_scores.get(c, 0.0) + s
    for c in list(q_scores):
        if voted(c, "question"):
            q_scores[c] *= 1.5
        if excluded(c) or voted(c, "answer") or voted(c, "comment"):
            q_scores[c] *= 0.2
    for c, v in votes.items():
        if v.get("question") and c not in q_scores and c != ref_col:
            q_scores[c] = 0.1
    if hints.question is not None:
        q_col = hints.question
    elif q_scores:
        q_col = max(sorted(q_scores), key=lambda c: q_scores[c])
    else:
        return Roles(ref=ref_col), warnings
    if ref_col is not None and ref_col == q_col:
        ref_col = None

    # candidate question rows, for the answer-column statistics
    cand = [r for r, cells in body if _is_candidate_question(cells.get(q_col), ref_col is not None and is_ref(cells.get(ref_col)))]

    roles = Roles(ref=ref_col, question=q_col)
    taken = {q_col} | ({ref_col} if ref_col else set())
    # answer column
    if hints.answer is not None:
        roles.answer = hints.answer
    else:
        answer_votes = sorted((c for c in votes if voted(c, "answer") and c not in taken and not excluded(c)),
                              key=lambda c: (-voted(c, "answer"), c < q_col, c))
        mark_rows = [mark_columns(grid.rows[r]) for r in sorted(headers) if "mark" in headers[r].values()]
        mark_rows = [m for m in mark_rows if m and min(m) > q_col]
        if answer_votes:
            roles.answer = answer_votes[0]
        elif mark_rows:
            roles.marks = max(mark_rows, key=len)
            taken |= set(roles.marks)
        else:
            dv: dict[int, int] = {}
            yn: dict[int, int] = {}
            for r in cand:
                for c in _columns_right(grid, r, q_col):
                    if c in taken or excluded(c):
                        continue
                    ar, ac = grid.anchor(r, c)
                    if ac != c:
                        continue
                    if grid.options_at(ar, ac):
                        dv[c] = dv.get(c, 0) + 1
                    if short_answer_family(grid.text(ar, ac)):
                        yn[c] = yn.get(c, 0) + 1
            n = max(len(cand), 1)
            if dv and max(dv.values()) >= max(1, 0.2 * n):
                roles.answer = max(sorted(dv), key=lambda c: dv[c])
            elif yn and max(yn.values()) >= max(2, 0.4 * n):
                roles.answer = max(sorted(yn), key=lambda c: yn[c])
            else:
                roles.answer = _first_free_column(grid, cand, q_col, taken, votes)
                roles.answer_guessed = roles.answer is not None
    if roles.answer is not None:
        taken.add(roles.answer)
    # comment column: a header that says so, preferably right of the answer
    if hints.comment is not None:
        roles.comment = hints.comment
    else:
        comment_votes = sorted((c for c in votes if voted(c, "comment") and c not in taken and not excluded(c)),
                               key=lambda c: (roles.answer is not None and c < roles.answer, -voted(c, "comment"), c))
        if comment_votes and (roles.answer is None or comment_votes[0] > q_col):
            roles.comment = comment_votes[0]
    section_votes = [c for c in sorted(votes) if voted(c, "section") and c not in taken and c != roles.comment]
    roles.section = section_votes[0] if section_votes else None
    return roles, warnings


def _columns_right(grid: Grid, r: int, q_col: int) -> list[int]:
    return [c for c in range(q_col + 1, q_col + 12)]


def _first_free_column(grid: Grid, cand: list[int], q_col: int, taken: set[int], votes) -> int | None:
    """The first column right of the questions that is not part of the question cell
    and not claimed by another role: where a blank form expects the answer."""
    if not cand:
        return None
    for c in range(q_col + 1, q_col + 6):
        if c in taken or any(v in ("exclude", "comment", "section", "ref") for v in votes.get(c, {})):
            continue
        covered = sum(1 for r in cand if grid.anchor(r, c) == (r, q_col) or grid.anchor(r, c)[1] < c and grid.anchor(r, c)[1] == q_col)
        if covered > 0.5 * len(cand):
            continue
        if c in grid.hidden_cols:
            continue
        return c
    return None


def _block_roles(base: Roles, grid: Grid, r: int, roles_here: dict[int, str], hints: ColumnHints) -> tuple[Roles, str | None]:
    """Roles for the rows under a header row: what it names overrides the sheet's."""
    roles = base.copy()
    named: dict[str, list[int]] = {}
    for c, role in sorted(roles_here.items()):
        named.setdefault(role, []).append(c)
    if "answer" in named and hints.answer is None:
        cols = [c for c in named["answer"] if c not in (roles.question, roles.ref) and grid.anchor(r, c)[1] == c
                and (roles.question is None or c > roles.question)]
        if cols:
            roles.answer = cols[0]
            roles.answer_guessed = False
            roles.marks = None
    elif "mark" in named and hints.answer is None:
        marks = mark_columns(grid.rows.get(r, {}))
        if marks and (roles.question is None or min(marks) > roles.question):
            roles.marks, roles.answer, roles.answer_guessed = marks, None, False
    if "comment" in named and hints.comment is None:
        cols = [c for c in named["comment"] if c not in (roles.question, roles.answer) and grid.anchor(r, c)[1] == c
                and (roles.question is None or c > roles.question)]  # a block title left of the questions is no column
        if cols:
            roles.comment = cols[0]
    elif hints.comment is None and roles.comment is not None:
        # the sheet's comment column does not apply if this header gives it another role
        if roles_here.get(roles.comment) not in (None, "comment") or grid.anchor(r, roles.comment) != (r, roles.comment):
            roles.comment = None
    if "question" in named and hints.question is None:
        cols = [c for c in named["question"] if grid.anchor(r, c)[1] == c and c != roles.answer]
        if cols and cols[0] != roles.question and base.question not in named.get("question", []):
            # keep the sheet's question column unless this header clearly names another
            if len(grid.rows.get(r + 1, {})) and question_score(grid.text(r + 1, cols[0]) or "") >= 2:
                roles.question = cols[0]
    # the first unnamed text at or left of the question column is the section title,
    # when the header does not label the question column itself (HECVAT: "Company Overview")
    title = None
    labelled = roles.question is not None and grid.anchor(r, roles.question) == (r, roles.question) \
        and grid.text(r, roles.question)
    for c, text in sorted(grid.rows.get(r, {}).items()) if not labelled else []:
        if roles.question is not None and c > roles.question:
            break
        if c not in roles_here and is_title(text):
            title = text.strip()
            break
    return roles, title


def _placeholder(answer: str, question: str) -> bool:
    """Sample text a blank form shows in its answer cells ("Vendor Name", "mm/dd/yyyy")."""
    a = norm(answer)
    q = norm(question)
    if not a:
        return True
    if a == q or a.startswith(("e.g.", "e.g ", "i.e.", "ex:", "example:", "{", "[", "<")):
        return True
    if re.fullmatch(r"(mm|dd|yyyy|yy|m|d)([./\- ](mm|dd|yyyy|yy|m|d)){2}", a):
        return True
    if re.fullmatch(r"(\d)\1{2}[- .]\1{3}[- .]\1{4}", a) or re.fullmatch(r"x{3}[- .]?x{3}[- .]?x{4}", a):
        return True
    if "see instructions" in a or "enter text" in a or "click here" in a or "type here" in a:
        return True
    if a.startswith(("brief summary", "brief description", "enter ", "insert ", "type your", "your answer",
                     "provide ", "describe ", "name of ", "select ", "choose ")):
        return True
    if re.search(r"\b(example|vendor)\.(com|domain|org)\b", a) or "www.vendor." in a:
        return True
    words_q = {w for w in re.findall(r"\w+", q.replace("-", "")) if len(w) > 2}
    words_a = {w for w in re.findall(r"\w+", a.replace("-", "")) if len(w) > 2}
    return bool(words_q) and len(a) <= 80 and words_q <= words_a


def detect_questions(grid: Grid, hints: ColumnHints | None = None) -> SheetLayout:
    """Find the questions in one grid. Never raises on odd content."""
    hints = hints or ColumnHints()
    headers = find_header_rows(grid)
    roles, warnings = _choose_roles(grid, headers, hints)
    if roles.question is None:
        return SheetLayout(grid.name, roles, [], warnings, sorted(headers), 0.0)
    if roles.answer is None and not roles.marks:
        warnings.append(
            f"{grid.name}: no answer column found; give one with --answer-col"
        )
    elif roles.answer_guessed:
        warnings.append(
            f"{grid.name}: no column is labelled as the answer; answers will go in column "
            f"{grid.col_name(roles.answer)} (right of the questions). Use --answer-col to choose another."
        )
    questions: list[FoundQuestion] = []
    block = roles.copy()
    section: str | None = None
    seen_anchor: dict[tuple[int, int], int] = {}
    yn_values: list[str] = []
    for r in sorted(grid.rows):
        cells = grid.rows[r]
        if r in headers:
            # a header row starts a block: its own title (HECVAT) or none yet; a
            # title above the first header is the document's, not a section
            block, section = _block_roles(roles, grid, r, headers[r], hints)
            continue
        q_col = block.question
        q_anchor = grid.anchor(r, q_col)
        q_text = cells.get(q_col) if q_anchor == (r, q_col) else None
        ref_text = cells.get(block.ref) if block.ref is not None else None
        has_ref = is_ref(ref_text)
        if q_text is None or not q_text.strip():
            title = _row_title(grid, r, cells, block)
            if title:
                section = title
            continue
        q_text = q_text.strip()
        if header_role(q_text) == "question" and len(q_text) < 30:
            continue
        if " " not in q_text and "_" in q_text:  # an identifier (unique_choice), not a question
            continue
        lines = [ln for ln in q_text.splitlines() if ln.strip()]
        if len(lines) > 1 and all(short_answer_family(ln) for ln in lines):  # a list of options
            continue
        answer_cell = grid.anchor(r, block.answer) if block.answer is not None else None
        marks = [(label, grid.anchor(r, c)) for c, label in sorted(block.marks.items())] if block.marks else None
        if marks and any(cell[1] <= q_col for _, cell in marks):
            continue  # the question text spans the mark columns: a title or instruction row
        spans_answer = answer_cell is not None and answer_cell[1] <= q_col
        qs = question_score(q_text)
        if spans_answer:
            is_question = False
        elif has_ref:
            is_question = True
        else:
            is_question = qs >= 3 or (qs >= 2 and block.ref is None and (answer_cell or marks) is not None
                                      and not is_title(q_text))
        if not is_question:
            if is_title(q_text) and not has_ref:
                section = q_text
            continue
        if not has_ref and any(c != q_col and c != block.answer and GUIDANCE_CELL.match(t) for c, t in cells.items()):
            continue  # a cell on the row labels it as guidance ("Quality criteria") for the question above
        if block.section is not None:
            sec = grid.merged_text(r, block.section)
            if sec and sec.strip():
                section = sec.strip()
        comment_cell = grid.anchor(r, block.comment) if block.comment is not None else None
        if comment_cell is not None and (comment_cell == answer_cell or comment_cell[1] <= q_col or comment_cell == (r, q_col)
                                         or (marks and comment_cell in [cell for _, cell in marks])):
            comment_cell = None
        notes: list[str] = []
        if answer_cell is not None:
            if answer_cell in seen_anchor:
                notes.append(f"shares its answer cell with the question on row {seen_anchor[answer_cell]}")
            seen_anchor.setdefault(answer_cell, r)
        existing = grid.text(*answer_cell) if answer_cell else None
        existing = existing.strip() if existing and existing.strip() else None
        if marks:
            marked = [label for label, cell in marks if (grid.text(*cell) or "").strip()]
            existing = marked[0] if len(marked) == 1 else None
            if len(marked) > 1:
                notes.append(f"several options are marked ({', '.join(marked)})")
        if existing and _placeholder(existing, q_text):
            notes.append(f"sample text in the answer cell: {existing[:60]!r}")
            existing = None
        existing_comment = grid.text(*comment_cell) if comment_cell else None
        existing_comment = existing_comment.strip() if existing_comment and existing_comment.strip() else None
        if existing_comment and _placeholder(existing_comment, q_text):
            existing_comment = None
        options = grid.options_at(*answer_cell) if answer_cell else ([label for label, _ in marks] if marks else None)
        if existing and short_answer_family(existing):
            yn_values.append(existing)
        questions.append(FoundQuestion(
            row=r, text=q_text, ref=ref_text.strip() if has_ref else None, section=section,
            answer_cell=answer_cell, comment_cell=comment_cell, existing_answer=existing,
            existing_comment=existing_comment, options=options, hidden=r in grid.hidden_rows, notes=notes,
            marks=marks,
        ))
    questions = _without_guidance(questions)
    n = len(questions)
    with_dv = sum(1 for q in questions if q.options)
    labelled = roles.marks or not (roles.answer_guessed or roles.answer is None)
    score = n * (1.0 + (1.0 if labelled else 0) + (with_dv / n if n else 0))
    return SheetLayout(grid.name, roles, questions, warnings, sorted(headers), score)




def _without_guidance(questions: list[FoundQuestion]) -> list[FoundQuestion]:
    """Drop rows that explain or grade the question above them (quality criteria,
    guidance, scoring notes): a guidance label at the start, or, where questions
    carry a dropdown, a recurring row under a question with no reference, no
    dropdown and no answer that does not itself ask anything."""
    out = [q for q in questions if q.ref is not None or not GUIDANCE_LABEL.match(q.text)]
    with_dv = [q for q in out if q.options]
    asking = [q for q in out if q.options or q.ref is not None or asks(q.text)]
    if len(with_dv) < 3 or len(with_dv) < 0.6 * len(asking):
        return out
    under: set[int] = set()
    prev: FoundQuestion | None = None
    for q in out:
        if prev is not None and q.ref is None and not q.existing_answer and not q.marks and not asks(q.text):
            if not q.options and (prev.options or prev.row in under):
                under.add(q.row)
            # a dropdown laid over the whole column: the row is guidance only under a
            # question that asks, and when it states no requirement of its own
            elif q.options and (prev.row in under or (prev.options and asks(prev.text))) \
                    and not REQUIREMENT.search(q.text):
                under.add(q.row)
        prev = q
    if len(under) >= max(2, 0.2 * len(with_dv)):
        out = [q for q in out if q.row not in under]
    return out


def _row_title(grid: Grid, r: int, cells: dict[int, str], block: Roles) -> str | None:
    """A section title on a row with no question text."""
    for c, text in sorted(cells.items()):
        if grid.anchor(r, c) != (r, c):
            continue
        t = text.strip()
        if is_ref(t) or re.fullmatch(r"[\d.,\s%]+", t):
            continue
        if block.answer is not None and c == block.answer:
            continue
        if is_title(t):
            return t
        return None
    return None

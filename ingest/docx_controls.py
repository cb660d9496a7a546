"""Control-implementation templates in Word (system security plans and their kin).

A control-implementation template lists controls, each with the same block:

- a control heading with its id and title ("AC-2 Account Management",
  "AC-2 (1) Automated System Account Management", "3.1.1 ...", "A.5.1 ..."),
- its requirement statement (paragraphs), often followed by guidance
  ("Additional Requirements and Guidance:", "Discussion:", "Note:"),
- usually a summary table: the id and "Control Summary Information", then
  rows labelled responsible role, parameter ..., implementation status and
  control origination, the last two as checkbox lists,
- a solution table: a header asking how the control is implemented ("What is
  the solution and how is it implemented?", "How is the control
  implemented?", "Control implementation description", "Describe how ... is
  met"), then either one answer cell or one row per part of the requirement
  ("Part a" | answer, "Part b" | answer, "a." | answer, "Part 1" | ...).

Each control is read as one question: ref = the control id ("AC-2(1)"), text =
the title plus the requirement statement (guidance left out; a solution
header that asks about something of its own, "How is encryption at rest
implemented?", ends the text), section = the
control family (the heading above the control headings), answer = the
solution cell. With part rows, the answer goes in the answer cell of the
first part: one narrative per control, written where a reader starts; the
question's notes name the other parts, which are left as they are. Without
an answer cell (the header row is the last row), the answer is added as a
paragraph under the header text in that cell. The summary rows (role,
parameters, status, origination), the header rows and the guidance are not
questions: the tables of a control are claimed here and not read by the
general table reader.

Recognition is structural: a table is a solution table when a header cell
(at most 30 words) asks how the solution / control is implemented and the
table is made for one control (only summary rows before the header, only
its answer rows after it). The control's title is a paragraph between the
previous control's solution table and this one that starts with a control id
(the id in the tables, when there is one, must agree); a control record
table may instead give the id, title and requirement as rows of its own. A
solution table with no control id anywhere is left to the general reader.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingest.docx_cells import _Found, _written
from ingest.model import Locator, Question
from ingest.vocabulary import CONTROL_GUIDANCE_PHRASES, CONTROL_GUIDANCE_WORDS

if TYPE_CHECKING:  # pragma: no cover
    from ingest.docx_cells import _Cell, _Grid
    from ingest.docx_read import _Reader

# A control id at the start of a text: AC-2, AC-2 (1), AC-2(1)(a), IA-5.1, PR.AC-1, GV.OC-01, CC6.1,
# AC.L2-3.1.1, A.5.1, A.9.2.1, 3.1.1, 03.01.01 (optionally after "Control" / "Requirement" / "Practice").
_ID = (
    r"(?:[A-Z]{1,5}(?:\.[A-Z]{1,5})?[-.\u2010\u2011\u2013]?\d{1,3}(?:[.\-\u2010\u2011]\d{1,3}){0,4}"
    r"(?:\s?\(\s?(?:\d{1,3}|[a-z])\s?\))*"
    r"|\d{1,3}(?:\.\d{1,3}){1,3})"
)
_LEAD_ID = re.compile(
    rf"^\s*(?:(?i:control|requirement|practice|safeguard)\s+)?({_ID})(?=$|[\s:.\-–—])\.?\s*[:.\-–—]?\s*")
_SOLUTION = re.compile(
    r"\bwhat is the solution\b"
    r"|\bsolution (?:description|statement|narrative|details)\b"
    r"|\bhow (?:is|are|will|does|do|was|has) (?:the |this |each |your |it |they )?(?:\w+[ -]){0,4}?"
    r"(?:be |been )?(?:implemented|met|satisfied|addressed|achieved|fulfill?ed|implements?|meets?|satisfy|"
    r"satisfies|address|addresses|achieves?|fulfill?s?|compl(?:y|ies))\b"
    r"|\bdescribe how (?:\w+[ -]){0,6}?(?:is |are |will be |has been )?(?:implemented|met|satisfied|addressed|"
    r"achieved|fulfilled)\b"
    # a label naming the implementation text, at the start of the cell: "Control implementation description"
    rf"|^(?:{_ID}\s+)?(?:(?:control|security|requirement|practice|system)\s+)?implementation\s+"
    r"(?:description|statement|narrative|details?|explanation)\b",
    re.I | re.M,
)
_PART = re.compile(
    r"^(?:(?:part|item|element|req(?:uirement)?\.?|objective)\s*[\w().\- ]{1,12}|\(?[a-z]\)|[a-z][.)]|"
    r"\(?\d{1,2}\)|\d{1,2}[.)]|\(?[ivx]{1,4}\))\s*:?$",
    re.I,
)
# labels of the summary rows: who is responsible, parameters, status, origination, dates ...
_SUMMARY = re.compile(
    r"^(?:control summary|summary information|responsib|role|parameter|implementation (?:status|date|type)|"
    r"status|control (?:origination|inheritance|owner|type|provider)|origination|inherit|"
    r"(?:planned |target |estimated )?(?:completion |implementation )?date|customer responsibilit|"
    r"shared responsibilit|assessment|evidence location|common control|hybrid|"
    r"(?:control |security )?(?:id|identifier|ref|reference|number|no\.?|family|domain|objective)\s*:?$)",
    re.I,
)
# rows of a control record table that carry the control itself: "Control" | "AC-2", "Title" | ...,
# "Requirement" | the statement
_ID_LABEL = re.compile(r"^(?:control|requirement|practice|safeguard)?\s*(?:id|identifier|ref|reference|number|no\.?)?"
                       r"\s*:?$", re.I)
_TITLE_LABEL = re.compile(r"^(?:control |requirement |practice |safeguard )?(?:title|name)\s*:?$", re.I)
_STATEMENT_LABEL = re.compile(
    r"^(?:control |security |practice |safeguard )?(?:requirement|statement|description|text)"
    r"(?: (?:text|statement|description))?\s*:?$", re.I)
_BASELINE_MARKS = re.compile(r"(?:\s*\((?:[A-Z]{1,2}|[LMH](?:\s*,\s*[LMH])*|li-saas|low|moderate|high)\))+\s*$", re.I)


def norm_id(text: str) -> str:
    """ "AC-2 (1)" -> "AC-2(1)", a non-breaking or en dash hyphen -> "-"; otherwise as written."""
    return re.sub(r"[\u2010\u2011\u2013]", "-", re.sub(r"\s+", "", text)).rstrip(".")


def lead_id(text: str) -> tuple[str, str] | None:
    """(id, rest) when the text starts with a control id followed by a space, a colon or nothing."""
    m = _LEAD_ID.match(text)
    if not m:
        return None
    cid = m.group(1)
    # a bare number ("12", "2024") is no control id
    if re.fullmatch(r"\d+", cid):
        return None
    return norm_id(cid), text[m.end():].strip()


@dataclass
class _Solution:
    table_pos: int
    answer: "_Cell"
    insert_after: bool
    parts: list[str]
    existing: str | None
    table_id: str | None
    fields: dict[str, str] = field(default_factory=dict)  # title / statement given in the table itself
    header: str = ""  # the solution header's text without the id


@dataclass
class Controls:
    """What the control reader found: questions, and the tables and paragraphs it claimed."""

    found: list[Any] = field(default_factory=list)  # docx_cells._Found
    tables: dict[int, str] = field(default_factory=dict)  # block position -> layout name
    paragraphs: set[int] = field(default_factory=set)


def _table_text(tbl, limit: int = 20000) -> str:
    """The text of a table's paragraphs, one a line, cut after about `limit` characters."""
    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    out: list[str] = []
    size = 0
    for p in tbl.iter(f"{w}p"):
        text = "".join(t.text or "" for t in p.iter(f"{w}t"))
        if text:
            out.append(text)
            size += len(text)
            if size > limit:
                break
    return "\n".join(out)


def _cell_label(cell: "_Cell") -> str:
    """The first line of a cell (a label like "Responsible Role:")."""
    for s in cell.scans:
        t = " ".join(s.text.split())
        if t:
            return t
    return ""


def _summary_row(grid: "_Grid", r: int) -> bool:
    """A row of a control's summary: a role / parameter / status / origination label, checkboxes, the
    control id alone, or the "Control Summary Information" title."""
    cells = grid.row_cells(r)
    labels = [_cell_label(c) for c in cells if c.flat]
    if not labels and not any(c.boxes for c in cells):
        return True  # an empty row
    if any(c.boxes for c in cells):
        return True
    for lb in labels:
        lead = lead_id(lb)
        if _SUMMARY.match(lb) or "summary" in lb.lower() or (lead and (not lead[1] or _SUMMARY.match(lead[1]))):
            return True
    return bool(_record_fields(grid, r))


def _record_fields(grid: "_Grid", r: int) -> dict[str, str]:
    """What a row says about the control itself: {"id", "title", "statement"} from rows "Control" | "AC-2",
    "Title" | ..., "Requirement" | ..., or a title row "AC-2 Account Management" / "AC-2" | "Account
    Management" (every cell filled, a short title that asks nothing)."""
    cells = grid.row_cells(r)
    texty = [c for c in cells if c.flat]
    if not texty or len(texty) > 2:
        return {}
    first = _cell_label(texty[0])
    if len(texty) == 2:
        value = texty[1].flat
        lead = lead_id(value)
        if _ID_LABEL.match(first) and lead and not lead[1]:
            return {"id": lead[0]}
        if _TITLE_LABEL.match(first):
            return {"title": value}
        if _STATEMENT_LABEL.match(first):
            return {"statement": value}
    if len(texty) != len(cells):
        return {}  # an empty cell beside: a question and its answer place, not a title row
    lead = lead_id(first)
    if lead is None:
        return {}
    title = lead[1] if len(texty) == 1 else (texty[1].flat if not lead[1] else "")
    if (not title or len(title.split()) > 12 or "?" in title or _SUMMARY.match(title) or "summary" in title.lower()
            or _SOLUTION.search(title)):
        return {} if lead[1] else {"id": lead[0]}  # "AC-2" | "Control Summary Information": the id alone
    return {"id": lead[0], "title": title}


def _answer_row(grid: "_Grid", r: int) -> bool:
    """One cell, or only answer places, and not another solution header."""
    cells = grid.row_cells(r)
    return bool(cells) and (len(cells) == 1 or all(c.answerish for c in cells)) and not _SOLUTION.search(
        _cell_label(cells[0]))


def _blank_row(grid: "_Grid", r: int) -> bool:
    return all(c.empty for c in grid.row_cells(r))


def _solution_in(grid: "_Grid", pos: int) -> _Solution | None:
    """The solution place of a table made for one control: summary rows (if any), then a header asking
    how the control is implemented, then its answer cell or part rows, then nothing but empty rows."""
    rows = len(grid.rows)
    for r in range(rows):
        cells = grid.row_cells(r)
        texty = [c for c in cells if c.flat]
        if not texty:
            continue
        head = texty[0]
        label = _cell_label(head)
        if len(label.split()) > 30 or not _SOLUTION.search(label):
            if _summary_row(grid, r):
                continue
            return None  # a row of another kind before the solution header: not a control's table
        lead = lead_id(label)
        table_id = lead[0] if lead else None
        fields: dict[str, str] = {}
        for k in range(r):
            for key, value in _record_fields(grid, k).items():
                fields.setdefault(key, value)
        if table_id is None:
            table_id = fields.get("id")
        if table_id is None and r > 0:
            first = grid.row_cells(0)
            if first:
                lead0 = lead_id(_cell_label(first[0]))
                table_id = lead0[0] if lead0 and not lead0[1] or lead0 and _SUMMARY.match(lead0[1]) else None
        beside = [c for c in cells if c is not head]
        # part rows below: "Part a" | answer, or "Part a:" alone in a full-width row
        parts: list[tuple[str, _Cell, bool]] = []  # (label, answer cell, answer under the label in that cell)
        end = r + 1
        while end < rows:
            rc = grid.row_cells(end)
            first_label = rc[0].label if rc else ""  # (the text before any answer aimsq wrote)
            if len(rc) >= 2 and _PART.match(rc[0].flat or "-"):
                parts.append((rc[0].flat.rstrip(" :"), rc[1], False))
                end += 1
                continue
            if len(rc) == 1 and _PART.match(first_label or "-"):
                parts.append((first_label.rstrip(" :"), rc[0], True))
                end += 1
                continue
            if parts and rc and first_label == label:
                end += 1  # the header row repeated (a table continued on the next page)
                continue
            break
        if parts:
            answer, insert_after = parts[0][1], parts[0][2]
            written = [(p, c.label_and_answer()[1] if below else _written(c)) for p, c, below in parts]
            if any(w for _, w in written[1:]):
                existing = "\n".join(f"{p}: {w}" for p, w in written if w) or None
            else:
                existing = written[0][1]
        elif beside and (label.endswith(":") or not (all(c.empty for c in beside) and end < rows
                                                       and _answer_row(grid, end))):
            # "Implementation description:" | answer; an empty cell beside a header that is not a label,
            # over an answer row, is only the rest of the header row
            answer, insert_after = beside[0], False
            existing = _written(answer)
            if not (answer.answerish or existing):
                return None
        elif end < rows and _answer_row(grid, end):
            answer = grid.row_cells(end)[0]  # one answer row (its first cell when it is not merged)
            first_label = answer.label
            insert_after = first_label.endswith(":") and len(first_label.split()) <= 12
            existing = answer.label_and_answer()[1] if insert_after else _written(answer)
            end += 1
        else:  # no answer row: under the header text in its own cell
            answer, insert_after = head, True
            existing = head.label_and_answer()[1]
        if any(not _blank_row(grid, k) for k in range(end, rows)):
            return None  # more rows of another kind after the answer: a table of questions
        header = lead[1] if lead else label
        if insert_after and head is answer:
            header = header.rstrip(" :")
        return _Solution(pos, answer, insert_after, [p for p, _, _ in parts], existing, table_id, fields, header)
    return None


def _summary_like(grid: "_Grid") -> bool:
    """A control's summary table: at least half of its rows are summary rows (see _summary_row)."""
    rows = len(grid.rows)
    return rows > 0 and sum(1 for r in range(rows) if _summary_row(grid, r)) * 2 >= rows


def _guidance_start(text: str) -> bool:
    """A paragraph that starts the guidance: "AC-2 Additional Requirements and Guidance:", "Discussion: ...",
    "Note: ...": a short label (at most 7 words, before a colon or alone) naming guidance. A requirement
    item ("c. Test the plan [Assignment: ...]") is not one."""
    t = text
    lead = lead_id(t)
    if lead:
        t = lead[1]
    if ":" in t[:80]:
        head = t.split(":", 1)[0].strip()
    elif len(t.split()) <= 8:
        head = t.strip()
    else:
        return False
    if not head or "[" in head or len(head.split()) > 7 or re.match(r"^\(?[a-z0-9]{1,3}[.)]\s", head, re.I):
        return False
    words = set(re.findall(r"[a-z]+", head.lower()))
    return bool(words & CONTROL_GUIDANCE_WORDS) or bool(CONTROL_GUIDANCE_PHRASES.search(head))


def read_controls(reader: "_Reader", grid_for) -> Controls:
    """The controls of a control-implementation template. `grid_for(pos)` gives a table's layout grid."""
    out = Controls()
    blocks = reader.blocks
    solutions: list[_Solution] = []
    for pos, (kind, _idx, el) in enumerate(blocks):
        if kind != "t":
            continue
        if not _SOLUTION.search(_table_text(el)):
            continue
        sol = _solution_in(grid_for(pos), pos)
        if sol is not None:
            solutions.append(sol)
    start = 0
    for sol in solutions:
        control = _control_for(reader, sol, start, grid_for)
        if control is None:
            start = sol.table_pos + 1
            continue
        title_pos, cid, title, statement = control
        if title_pos is None:  # everything is in the table
            title_pos = sol.table_pos
        # the tables between the title and the solution table belong to the control (summary, parameters,
        # a requirement table); when a heading stands between them, only the summary-like ones
        span = range(title_pos + 1, sol.table_pos)
        headed = any(blocks[k][0] == "p" and reader.pinfo[k]["heading"] for k in span)
        for k in span:
            if blocks[k][0] == "t" and k not in out.tables:
                summary = _summary_like(grid_for(k))
                if summary or not headed:
                    out.tables[k] = "control summary" if summary else "control details"
            elif blocks[k][0] == "p":
                out.paragraphs.add(k)
        if blocks[title_pos][0] == "p":
            out.paragraphs.add(title_pos)
        elif title_pos != sol.table_pos:  # the control's first table holds its title
            out.tables[title_pos] = "control summary" if _summary_like(grid_for(title_pos)) else "control details"
        out.tables[sol.table_pos] = "control implementation"
        text = title
        if statement:
            text = f"{title}: {statement}" if title else statement
        if _specific(sol.header):  # "Describe how backups are encrypted": the header is the question
            text = f"{text}: {sol.header}" if text else sol.header
        loc = Locator(table=blocks[sol.table_pos][1], row=sol.answer.row, col=sol.answer.col,
                      insert_after=sol.insert_after)
        q = Question(text=text or sol.header or cid, answer_at=loc, ref=cid, section=_family(reader, title_pos),
                     answer_kind="text", existing_answer=sol.existing)
        if len(sol.parts) > 1:
            q.notes.append(f"the control has parts {', '.join(sol.parts)}; the answer is written in the "
                           f"{sol.parts[0]} row")
        out.found.append(_Found((title_pos, 0, 0), q))
        start = sol.table_pos + 1
    return out


def _control_for(reader: "_Reader", sol: _Solution, start: int, grid_for):
    """(title position, id, title, statement) of the control a solution table answers, or None. The title
    position is a table's (the first of the control's tables) or None (the solution table) when the tables
    give the id, title and requirement."""
    blocks = reader.blocks
    candidates: list[tuple[int, str, str]] = []
    for k in range(start, sol.table_pos):
        if blocks[k][0] != "p":
            continue
        info = reader.pinfo[k]
        flat = info["flat"]
        if not flat or len(flat.split()) > 40:
            continue
        lead = lead_id(flat)
        if lead is None and info.get("label") and info["heading"]:
            lead = lead_id(f"{info['label']} {flat}")
        if lead is not None:
            candidates.append((k, lead[0], lead[1]))
    # the summary table's first cell may carry the id too
    # the control's other tables right above (only empty paragraphs between) may name it too
    fields = dict(sol.fields)
    top = None  # the first of those tables
    for k in range(sol.table_pos - 1, start - 1, -1):
        if blocks[k][0] == "p":
            if reader.pinfo[k]["flat"]:
                break
            continue
        top = k
        grid = grid_for(k)
        for r in range(len(grid.rows)):
            for key, value in _record_fields(grid, r).items():
                fields.setdefault(key, value)
    sol.fields = fields
    table_id = sol.table_id or fields.get("id")
    # The title: the nearest heading starting with the id the tables give; else the first such paragraph
    # after the last heading that does not start guidance (a requirement item may start with the id too,
    # and a table of contents lists the ids before that heading); else a heading with an id of the same
    # kind (a typo is more likely in a copied table header than in the heading).
    matching = candidates if table_id is None else [c for c in candidates if c[1].lower() == table_id.lower()]
    pick = next((c for c in reversed(matching) if reader.pinfo[c[0]]["heading"]), None)
    if pick is None:
        last_heading = next((k for k in range(sol.table_pos - 1, start - 1, -1)
                             if blocks[k][0] == "p" and reader.pinfo[k]["heading"]), start - 1)
        plain = [c for c in matching if not _guidance_start(reader.pinfo[c[0]]["flat"])]
        pick = next((c for c in plain if c[0] > last_heading), None) or (plain[-1] if plain else None)
    if pick is None and table_id is not None:
        # the same kind of id (AC-2(3) / AC-2(4), A.5.4 / A.5.40), not a numbered section heading
        same_kind = [c for c in candidates if _skeleton(c[1]) == _skeleton(table_id)]
        pick = next((c for c in reversed(same_kind) if reader.pinfo[c[0]]["heading"]), None) or next(
            (c for c in reversed(same_kind) if not _guidance_start(reader.pinfo[c[0]]["flat"])), None)
    if pick is None and (sol.fields.get("title") or sol.fields.get("statement")) and table_id is not None:
        # a control record table: the id, title and requirement are rows of the table itself
        title = _BASELINE_MARKS.sub("", sol.fields.get("title", "")).strip(" :–—-")
        return top, table_id, title, sol.fields.get("statement", "")
    if pick is None:
        if table_id is None:
            return None
        # the id only in the tables: the title is the nearest paragraph just above them that reads like a
        # title (short, not a sentence, not guidance, not a section heading); without one the table says it all
        title_pos = None
        for k in range(sol.table_pos - 1, max(start, sol.table_pos - 12) - 1, -1):
            if blocks[k][0] != "p" or not reader.pinfo[k]["flat"]:
                continue
            flat = reader.pinfo[k]["flat"]
            if _guidance_start(flat):
                continue
            if not reader.pinfo[k]["heading"] and len(flat.split()) <= 15 and not flat.endswith((".", "?", ":")):
                title_pos = k
            break
        if title_pos is None:
            return top, table_id, "", ""
        pick = (title_pos, table_id, reader.pinfo[title_pos]["flat"])
    title_pos, cid, title = pick
    title = _BASELINE_MARKS.sub("", title).strip(" :–—-")
    statement: list[str] = []
    for k in range(title_pos + 1, sol.table_pos):
        if blocks[k][0] != "p":
            break
        flat = reader.pinfo[k]["flat"]
        if not flat:
            continue
        if reader.pinfo[k]["heading"] or _guidance_start(flat):
            break
        label = reader.pinfo[k].get("label")
        statement.append(f"{label} {flat}" if label and not flat.startswith(label) else flat)
    return title_pos, cid, title, " ".join(statement)


_GENERIC_SUBJECT = re.compile(
    r"\b(?:solution|control|controls|requirement|requirements|practice|safeguard|measure|objective|it|this|"
    r"they|these)\b|^(?:\w+\s+)?implementation\b", re.I)


def _specific(header: str) -> bool:
    """Whether a solution header asks about something of its own ("Describe how backups are encrypted")
    rather than the control in general ("What is the solution and how is it implemented?")."""
    return bool(header) and not _GENERIC_SUBJECT.search(header)


def _skeleton(cid: str) -> str:
    return re.sub(r"\d+", "0", cid.upper())


def _family(reader: "_Reader", title_pos: int) -> str | None:
    """The control family: the nearest heading above the control heading at a higher level, or, when
    the control title is not a heading, the nearest heading that is not itself a control."""
    info = reader.pinfo.get(title_pos)
    level = info.get("outline") if info and info["heading"] else None
    for k in range(title_pos - 1, -1, -1):
        if reader.blocks[k][0] != "p":
            continue
        other = reader.pinfo[k]
        if not other["heading"]:
            continue
        if level is not None:
            if other.get("outline") is None or other["outline"] >= level:
                continue
        elif lead_id(other["flat"]) and not re.match(r"^\d", other["flat"]):
            continue
        text = other["flat"].rstrip(" :")
        return f"{other['label']} {text}".strip() if other.get("label") else text
    return None

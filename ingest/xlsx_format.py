"""XLSX / XLSM: read the questions, write the answers back into a copy.

Reading does not use openpyxl. One streaming pass per sheet over the package
XML (expat with defusedxml's protections, `ooxml.safe_expat_parser`) gives
what a questionnaire needs and openpyxl loses or makes slow:

- the cached value of every formula cell AND the fact that it is a formula
  (HECVAT builds its question text with VLOOKUP) in the same pass, where
  openpyxl needs two full loads (`data_only` and not);
- list validations from both `<dataValidations>` and the x14 extension
  (`<x14:dataValidation>`, which openpyxl drops with a warning), with list
  sources inline (`"Yes,No,NA"`), as a range (`Values!$A$4:$A$5`) or a
  defined name (`yes`), resolved against the workbook; an external or
  computed source is reported, never fetched or evaluated;
- rows counted as they stream (a forged `<dimension>` changes nothing) and
  the read stopped at `Limits.max_sheet_rows`;
- merged ranges, hidden rows, columns and sheets.
Loading the 15-sheet HECVAT this way takes a fraction of a second where
openpyxl takes six.

Writing patches the XML of the sheets that receive answers and copies every
other member of the package unchanged, because a load-and-save through
openpyxl would drop x14 validations, conditional-format extensions, slicers
and anything else it does not model. In a patched sheet only the target
`<c>` elements change: each becomes an inline string (`t="inlineStr"`), so an
answer starting with `=`, `+`, `-` or `@` can never become a formula (no
`<f>` element), the shared-string table is untouched, and the cell keeps its
style. A missing cell or row is inserted in order with the column's style.
A cell holding a formula is never written: the question is reported as
skipped ("formula cell"), so a sheet's computed cells (scores, guidance,
mirrored answers) keep working. When the workbook has formulas
`fullCalcOnLoad` is set so results that depend on the answers are
recalculated on opening. `write_xlsx_report` says, per fill, what was
written where, kept or skipped and why (`ingest.fill.ExportReport`).

Macros: an .xlsm is read without running or keeping anything from its VBA
project, and the filled copy is written as a plain .xlsx package (VBA
project removed, main part re-typed), so it must be saved with a .xlsx name.

This module is the reader (`read_xlsx`, `sheet_rows`); the rest is split by
role: `xlsx_refs` (cell references and formula text), `xlsx_package` (the
package parts and the streaming sheet parser), `xlsx_formulas` (what a
formula cell shows, what a dropdown offers), `xlsx_write` (`write_xlsx`,
`write_xlsx_report` and the sheet patcher). Where a question's answer goes
is decided in `ingest.layout`, shared with CSV.
"""
from __future__ import annotations

import re
from typing import Iterable

from ingest.cells import flag_odd_text
from ingest.errors import IngestError
from ingest.guard import Limits
from ingest.layout import ColumnHints, Grid, SheetLayout, detect_questions
from ingest.model import IngestHints, IngestResult, Locator, Question, SkippedSheet
from ingest.vocabulary import asks, is_yes_no_options, norm, short_answer_family
from ingest.xlsx_formulas import _dedupe, _Options, formula_source
from ingest.xlsx_package import SheetData, SheetInfo, TooManyRows, _Package
from ingest.xlsx_refs import cell_name, col_index, col_letter, formula_sheets

# Sheet names that hold no questions for a vendor to answer; read only when no
# other sheet has questions (or when named with --sheet).
_NOT_QUESTION_SHEET = re.compile(
    r"instruc|introduc|read ?me|guid(e|ance)|scor(e|es|ing)\b|summary|report|analyst|dashboard|change ?log|"
    r"revision|history|acknowledg|glossary|definitions?\b|lookup|^values?$|^lists?$|drop ?-?downs?|crosswalk|"
    r"mapping|^cover|^about|contents|legend|^config|^settings|^library|^metadata|^data ?validation",
    re.IGNORECASE,
)
_QUESTION_SHEET_WORDS = re.compile(r"question|pregunta|assessment|response|survey|cuestionario|fragebogen", re.IGNORECASE)


# ---- reading ------------------------------------------------------------------------------


def sheet_rows(data: bytes, limits: Limits, prefer: str | None = None) -> tuple[str, dict[int, dict[int, str]]]:
    """(sheet name, {row: {column: text}}) of one sheet of a package that passed
    the guard: the sheet named `prefer` when there is one, else the first
    worksheet. The same streaming reader as questionnaires, so rows are counted
    as they come (a forged `<dimension>` changes nothing) and every cap of
    `limits` applies. Raises DamagedFile, FileTooLarge or IngestError."""
    pkg = _Package(data, limits)
    if not pkg.sheets:
        raise IngestError("The workbook has no worksheets.")
    info = (pkg.sheet_by_name(prefer) if prefer else None) or pkg.sheets[0]
    return info.name, pkg.sheet_data(info).rows


def read_xlsx(data: bytes, hints: IngestHints | None = None, limits: Limits | None = None) -> IngestResult:
    """Questions from an XLSX/XLSM package that passed the guard.

    Raises DamagedFile, FileTooLarge (too many rows / cells) or IngestError
    (an unknown --sheet or column hint).
    """
    hints = hints or IngestHints()
    limits = limits or Limits.from_env()
    pkg = _Package(data, limits)
    warnings: list[str] = []
    if pkg.has_macros:
        warnings.append("The workbook contains macros; they were not run, and the filled copy is saved without them (.xlsx).")
    if not pkg.sheets:
        raise IngestError("The workbook has no worksheets.")

    skipped: dict[str, tuple[str, int]] = {}  # sheet -> (reason, question-like rows)
    chosen = _chosen_sheets(pkg, hints)
    if chosen is not None:
        first, later = chosen, []
        for s in pkg.sheets:
            if s not in chosen:
                skipped[s.name] = ("not among the sheets chosen to read", 0)
    else:
        first, later = [], []
        for s in pkg.sheets:
            if s.state != "visible":
                skipped[s.name] = ("hidden in the workbook (a back-end or helper sheet)", 0)
                continue
            looks_aside = _NOT_QUESTION_SHEET.search(s.name) and not _QUESTION_SHEET_WORDS.search(s.name)
            (later if looks_aside else first).append(s)
        hidden = [s.name for s in pkg.sheets if s.state != "visible"]
        if hidden:
            warnings.append(
                "Hidden sheets were not read: " + ", ".join(f"'{n}'" for n in hidden)
                + " (use --sheet NAME to read one)."
            )

    layouts: list[tuple[SheetInfo, SheetLayout, SheetData, _Options]] = []
    too_big: list[TooManyRows] = []
    for group in (first, later):
        if layouts:
            for info in group:
                skipped[info.name] = ("named like instructions, scoring or reference material, "
                                      "and other sheets hold the questions", 0)
            continue
        for info in group:
            try:
                sheet = pkg.sheet_data(info)
            except TooManyRows as e:
                too_big.append(e)
                skipped[info.name] = ("too many rows for a questionnaire", 0)
                continue
            options = _Options(pkg, info, sheet, warnings)
            grid = Grid(
                info.name, sheet.rows, sheet.hidden_rows, sheet.hidden_cols, sheet.merges,
                options_at=options.at, col_name=col_letter,
            )
            col_hints = _column_hints(grid, hints)
            layout = detect_questions(grid, col_hints)
            if layout.questions:
                layouts.append((info, layout, sheet, options))
            else:
                skipped[info.name] = ("no question rows found", 0)
    if not layouts and too_big:
        raise too_big[0]
    for e in too_big:
        warnings.append(str(e) + " It was skipped.")

    # A sheet that defines the answer types of another one is not a questionnaire.
    definition_sheets: set[str] = set()
    for info, layout, _, _ in layouts:
        definition_sheets |= _apply_answer_codes(pkg, layout, layout.questions, warnings)
    for t in layouts:
        if t[0].name in definition_sheets:
            skipped[t[0].name] = ("it defines the answer types another sheet uses", len(t[1].questions))
    layouts = [t for t in layouts if t[0].name not in definition_sheets]
    if chosen is None:
        layouts = _vendor_facing(pkg, layouts, skipped, warnings)

    # Formula answer cells: a mirror of another question's answer cell is dropped
    # (that question is answered once, where the vendor types); any other formula
    # cell is kept and marked not writable.
    formula_notes = _formula_answers(pkg, layouts)

    questions: list[Question] = []
    seen: set[tuple[str | None, str]] = set()
    # Keep each question once: the best-scoring sheet wins a duplicate.
    keep: dict[int, set[int]] = {}
    for i, (info, layout, _, _) in sorted(enumerate(layouts), key=lambda t: -t[1][1].score):
        rows = set()
        for fq in layout.questions:
            note = formula_notes.get((info.name, fq.row))
            if note is not None and note[0] == "mirror":
                continue
            key = (fq.ref, norm(fq.text))
            if key in seen:
                continue
            seen.add(key)
            rows.add(fq.row)
        keep[i] = rows
    layout_report: dict[str, dict] = {}
    for i, (info, layout, sheet, options) in enumerate(layouts):
        kept = [fq for fq in layout.questions if fq.row in keep[i]]
        mirrors = sum(1 for fq in layout.questions if formula_notes.get((info.name, fq.row), ("",))[0] == "mirror")
        if not kept:
            skipped[info.name] = ("its questions are all answered on other sheets", len(layout.questions))
            continue
        warnings.extend(layout.warnings)
        kind_default = _column_kind(kept)
        if len(layouts) > 1:  # one sheet per domain: the sheet name is the section when the sheet has none
            for fq in kept:
                fq.section = fq.section or info.name
        for fq in kept:
            q = _to_question(info, fq, kind_default, sheet)
            note = formula_notes.get((info.name, fq.row))
            if note is not None:
                q.not_writable = note[1]
                q.notes = [n for n in q.notes if "holds a formula" not in n] + [f"not writable: {note[1]}"]
            questions.append(q)
        hidden_rows = [fq.row for fq in kept if fq.hidden]
        if hidden_rows:
            warnings.append(
                f"{info.name}: {len(hidden_rows)} question(s) are in hidden rows "
                f"({_row_list(hidden_rows)}); they are included and marked 'hidden in source'."
            )
        for role, col in (("question", layout.roles.question), ("answer", layout.roles.answer)):
            if col is not None and col in sheet.hidden_cols:
                warnings.append(f"{info.name}: the {role} column {col_letter(col)} is hidden in the file.")
        no_value = sorted(r for r, c in sheet.formulas_without_value if c == layout.roles.question)
        if no_value:
            warnings.append(
                f"{info.name}: {len(no_value)} question cell(s) are formulas without a saved result "
                f"({_row_list(no_value)}); open the file in Excel, save it, and upload it again."
            )
        layout_report[info.name] = {
            "ref_col": col_letter(layout.roles.ref) if layout.roles.ref else None,
            "question_col": col_letter(layout.roles.question) if layout.roles.question else None,
            "answer_col": col_letter(layout.roles.answer) if layout.roles.answer else None,
            "comment_col": col_letter(layout.roles.comment) if layout.roles.comment else None,
            "header_rows": layout.header_rows,
            "questions": len(kept),
            "mirrors": mirrors,
            "not_writable": sum(1 for fq in kept if (info.name, fq.row) in formula_notes),
        }
    _flag_odd_text(questions, warnings)
    if not questions:
        warnings.append(
            "No questions were found. If the workbook is a questionnaire, name the sheet and columns "
            "with --sheet, --question-col and --answer-col."
        )
    order = {s.name: i for i, s in enumerate(pkg.sheets)}
    skipped_list = [SkippedSheet(name, reason, n) for name, (reason, n) in
                    sorted(skipped.items(), key=lambda kv: order.get(kv[0], 0)) if name not in layout_report]
    layout = {"sheets": layout_report, "skipped": [s.to_json() for s in skipped_list]}
    return IngestResult("xlsx", questions, warnings, layout=layout, skipped_sheets=skipped_list)


def _chosen_sheets(pkg: _Package, hints: IngestHints) -> list[SheetInfo] | None:
    """The sheets a person named (--sheet / the review app's choice), in workbook order, or None."""
    names = list(hints.sheets or []) + ([hints.sheet] if hints.sheet else [])
    if not names:
        return None
    out: list[SheetInfo] = []
    for name in names:
        info = pkg.sheet_by_name(name)
        if info is None:
            listed = ", ".join(f"'{s.name}'" for s in pkg.sheets)
            raise IngestError(f"There is no sheet named '{name}'. The sheets are: {listed}.")
        if info not in out:
            out.append(info)
    return sorted(out, key=lambda s: s.index)


# Column headers that are field identifiers (ig_id, control_text): a data table for a program
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
# A sheet whose answer cells are this share formulas shows answers, it does not collect them
_FORMULA_SHEET_SHARE = 0.8


def _vendor_facing(pkg: _Package, layouts: list, skipped: dict[str, tuple[str, int]], warnings: list[str]) -> list:
    """The sheets meant for the vendor's answers; the others go to `skipped` with the reason.

    Evidence, per sheet, that holds for any workbook: its answer cells are
    formulas (an evaluation or summary view of answers typed elsewhere); other
    sheets look values up in it while it has no answer column of its own (a
    lookup table); its columns are named by field identifiers (a data table);
    a couple of question-like rows without an answer column beside real
    questionnaire sheets (notes).
    """
    out = []
    names = {t[0].name.lower() for t in layouts}
    for t in layouts:
        info, layout, sheet, _ = t
        copied_from = _copied_from(pkg, info, layout, sheet, names)
        if copied_from and len(layouts) > 1:
            skipped[info.name] = (
                f"its questions are copied by formula from {_name_list(copied_from)}: "
                "it shows that sheet again (for evaluation or reporting), it does not collect answers",
                len(layout.questions))
            continue
        cells = [fq.answer_cell for fq in layout.questions if fq.answer_cell]
        formulas = sum(1 for c in cells if c in sheet.formulas)
        if cells and formulas >= _FORMULA_SHEET_SHARE * len(cells) and len(layouts) > 1:
            sources = set()
            for c in cells:
                sources |= formula_sheets(sheet.formula_text.get(c, ""))
            where = f" from {_name_list(sources)}" if sources else ""
            skipped[info.name] = (
                f"its answer cells are formulas ({formulas} of {len(cells)}) that show values{where}: "
                "it reports or evaluates answers (for the receiving side), it does not collect them",
                len(layout.questions))
            continue
        out.append(t)
    if not out:  # every sheet's answers are formulas: nothing better to read, so read them (marked not writable)
        for t in layouts:
            skipped.pop(t[0].name, None)
        out = list(layouts)
    labelled = [t for t in out if t[1].roles.marks or (t[1].roles.answer is not None and not t[1].roles.answer_guessed)]
    if not labelled:
        return out
    referenced: dict[str, set[str]] = {}
    for info, layout, sheet, _ in out:
        texts = list(sheet.formula_text.values()) + [v.formula1 or "" for v in sheet.validations]
        for text in texts:
            for name in formula_sheets(text) | _named_sheets(pkg, text):
                if name.lower() != info.name.lower():
                    referenced.setdefault(name.lower(), set()).add(info.name)
    open_answers = sum(1 for t in labelled for fq in t[1].questions if not fq.existing_answer)
    labelled_open = open_answers >= 0.5 * max(1, sum(len(t[1].questions) for t in labelled))
    kept = []
    for t in out:
        info, layout, sheet, _ = t
        if t in labelled:
            kept.append(t)
            continue
        n = len(layout.questions)
        filled = sum(1 for fq in layout.questions if fq.existing_answer)
        users = referenced.get(info.name.lower())
        if users:
            skipped[info.name] = (
                f"other sheets ({_name_list(users)}) look values up in it and it has no answer column: "
                "a lookup table", n)
        elif _identifier_headers(sheet):
            skipped[info.name] = ("its columns are named by field identifiers and it has no answer column: "
                                  "a data table", n)
        elif labelled_open and n >= 3 and filled >= 0.9 * n:
            skipped[info.name] = ("every row is already filled in and it has no answer column, while the "
                                  "questionnaire's answers are still open: reference content", n)
        elif sum(1 for fq in layout.questions if asks(fq.text)) < 0.5 * n and not _column_used(sheet, layout.roles.answer):
            skipped[info.name] = ("its rows state things rather than ask, and no column is there for answers: "
                                  "reference content", n)
        elif n <= 2:
            warnings.append(f"Sheet '{info.name}' has {n} question-like row(s) but no answer column; it was not read.")
            skipped[info.name] = (f"{n} question-like row(s) and no answer column", n)
        else:
            kept.append(t)
    return kept


def _name_list(names: Iterable[str], limit: int = 3) -> str:
    names = sorted(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more


def _copied_from(pkg: _Package, info: SheetInfo, layout: SheetLayout, sheet: SheetData, names: set[str]) -> set[str]:
    """The other question sheets this sheet's questions are pulled from by formula, when
    most of them are (an evaluation view repeats the questionnaire); else empty."""
    n = len(layout.questions)
    if n < 3:
        return set()
    sources: set[str] = set()
    copied = 0
    for fq in layout.questions:
        for col in (layout.roles.ref, layout.roles.question):
            text = sheet.formula_text.get((fq.row, col)) if col is not None else None
            src = formula_source(pkg, info.name, text) if text else None
            if src is not None and src[0].lower() in names and src[0].lower() != info.name.lower():
                sources.add(src[0])
                copied += 1
                break
    return sources if copied >= _FORMULA_SHEET_SHARE * n else set()


def _column_used(sheet: SheetData, col: int | None) -> bool:
    """Any cell of the column holds something (a heading, an answer)."""
    return col is not None and any(col in cells for cells in sheet.rows.values())


def _named_sheets(pkg: _Package, text: str) -> set[str]:
    """Sheets behind a defined name used as a list source (=yes_no)."""
    f = text.strip().lstrip("=")
    if not re.fullmatch(r"[A-Za-z_\\][\w.\\]*", f):
        return set()
    low = f.lower()
    return set().union(*[formula_sheets(t) for n, _, t in pkg.defined_names if n.lower() == low] or [set()])


def _identifier_headers(sheet: SheetData) -> bool:
    for r in sorted(sheet.rows)[:5]:
        cells = [t.strip() for t in sheet.rows[r].values() if t.strip()]
        if len(cells) >= 2:
            return sum(1 for t in cells if _IDENTIFIER.match(t)) >= 0.6 * len(cells)
    return False


def _formula_answers(pkg: _Package, layouts: list) -> dict[tuple[str, int], tuple[str, str]]:
    """(sheet, row) -> ("mirror" | "formula", reason) for questions whose answer cell is a formula."""
    typed: dict[tuple[str, tuple[int, int]], str] = {}
    for info, layout, sheet, _ in layouts:
        for fq in layout.questions:
            if fq.answer_cell and fq.answer_cell not in sheet.formulas:
                typed[(info.name.lower(), fq.answer_cell)] = info.name
    out: dict[tuple[str, int], tuple[str, str]] = {}
    for info, layout, sheet, _ in layouts:
        for fq in layout.questions:
            cell = fq.answer_cell
            if not cell or cell not in sheet.formulas:
                continue
            here = f"{info.name}!{cell_name(*cell)}"
            text = sheet.formula_text.get(cell)
            src = formula_source(pkg, info.name, text) if text else None
            if src is not None:
                target = pkg.sheet_by_name(src[0])
                where = f"{target.name if target else src[0]}!{cell_name(*src[1])}"
                if target is not None and (target.name.lower(), src[1]) in typed:
                    out[(info.name, fq.row)] = ("mirror", f"its answer cell {here} shows the answer given at {where}")
                    continue
                out[(info.name, fq.row)] = (
                    "formula", f"the answer cell {here} is a formula that shows {where}; "
                    "Excel fills it in, so it is left as it is")
            else:
                out[(info.name, fq.row)] = (
                    "formula", f"the answer cell {here} is a formula whose value Excel computes; "
                    "it is left as it is")
    return out


def _row_list(rows: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def _column_hints(grid: Grid, hints: IngestHints) -> ColumnHints:
    def resolve(v: str, value: str, flag: str) -> int:
        if re.fullmatch(r"[A-Za-z]{1,3}", v):
            return col_index(v)
        if v.isdigit():
            return int(v)
        low = norm(v)
        for r in sorted(grid.rows)[:200]:
            for c, text in sorted(grid.rows[r].items()):
                if norm(text) == low:
                    return c
        for r in sorted(grid.rows)[:200]:
            for c, text in sorted(grid.rows[r].items()):
                if len(text) < 80 and low in norm(text):
                    return c
        raise IngestError(f"{flag} {value!r}: no column with that letter or heading in sheet '{grid.name}'.")

    return ColumnHints.resolved(hints, resolve)


def _column_kind(found) -> str:
    """yes_no_na for an answer column without a dropdown whose answers are Yes/No-like."""
    answers = [fq.existing_answer for fq in found if fq.existing_answer]
    if len(answers) >= 3 and sum(1 for a in answers if short_answer_family(a)) >= 0.8 * len(answers):
        return "yes_no_na"
    return "text"


def _to_question(info: SheetInfo, fq, kind_default: str, sheet: SheetData) -> Question:
    options = fq.options
    if options:
        kind = "yes_no_na" if is_yes_no_options(options) else "choice"
    else:
        kind = kind_default
    notes = list(fq.notes)
    if fq.marks:
        marks = tuple((label, Locator(sheet=info.name, cell=cell_name(*cell))) for label, cell in fq.marks)
        answer_at = Locator(sheet=info.name, cell=marks[0][1].cell, marks=marks)
        kind = "yes_no_na" if is_yes_no_options(options) else "choice"
    elif fq.answer_cell:
        answer_at = Locator(sheet=info.name, cell=cell_name(*fq.answer_cell))
    else:
        answer_at = Locator(sheet=info.name)
    comment_at = Locator(sheet=info.name, cell=cell_name(*fq.comment_cell)) if fq.comment_cell else None
    if fq.answer_cell and fq.answer_cell in sheet.formulas:
        notes.append("the answer cell holds a formula; writing an answer replaces it")
    return Question(
        text=fq.text, answer_at=answer_at, ref=fq.ref, section=fq.section, answer_kind=kind,
        options=list(options) if options else None, comment_at=comment_at,
        existing_answer=fq.existing_answer, existing_comment=fq.existing_comment,
        hidden=fq.hidden or info.state != "visible", notes=notes,
    )


def _apply_answer_codes(pkg: _Package, layout: SheetLayout, found, warnings: list[str]) -> set[str]:
    """An 'answer' column that holds answer-type codes (RESP01, TEXT) defined in another
    sheet, as GRC library templates do: the codes give the options, not answers.
    Returns the names of the sheets that define the codes."""
    values = [fq.existing_answer for fq in found if fq.existing_answer]
    if len(values) < 3 or len(found) < 3:
        return set()
    codes = set(values)
    if len(codes) > 12 or not all(re.fullmatch(r"[A-Z][A-Z0-9_\-]{2,30}", v) for v in codes):
        return set()
    if len(values) < 0.8 * len(found) or short_answer_family(next(iter(codes))):
        return set()
    definitions: dict[str, tuple[list[str] | None, str]] = {}
    sources: set[str] = set()
    for info in pkg.sheets:
        if info.name == layout.name:
            continue
        try:
            data = pkg.sheet_data(info)
        except IngestError:
            continue
        if data.row_count > 2000:
            continue
        header = data.rows.get(min(data.rows), {}) if data.rows else {}
        choice_cols = [c for c, t in header.items() if re.search(r"choice|option|values|opciones|valores", t, re.I)]
        type_cols = [c for c, t in header.items() if re.search(r"type|tipo", t, re.I)]
        for r, cells in data.rows.items():
            code = (cells.get(min(cells)) or "").strip() if cells else ""
            if code in codes:
                choices = None
                for c in choice_cols:
                    raw = cells.get(c)
                    if raw:
                        choices = _dedupe(p.strip() for p in re.split(r"[\n;|]", raw) if p.strip())
                kind = " ".join(cells.get(c, "") for c in type_cols).lower()
                definitions[code] = (choices, kind)
                sources.add(info.name)
    if not codes <= set(definitions):
        return set()
    for fq in found:
        code = fq.existing_answer
        if code in definitions:
            choices, kind = definitions[code]
            fq.existing_answer = None
            fq.options = choices if choices and "text" not in kind else None
    warnings.append(
        f"{layout.name}: column {col_letter(layout.roles.answer)} holds answer-type codes "
        f"({', '.join(sorted(codes))}) defined in another sheet; their options are used, and answers "
        "are written in that column in place of the code."
    )
    return sources


def _flag_odd_text(questions: list[Question], warnings: list[str]) -> None:
    flag_odd_text(questions, warnings, _where)


def _where(q: Question) -> str:
    loc = q.answer_at
    return f"{q.ref or q.text[:40]!r} in sheet '{loc.sheet}'"

"""`aimsq ingest`, `aimsq autofill` and `aimsq bank import-questionnaire`.

Registered on the `aimsq` and `bank` groups in cli/__init__.py. Library
errors (IngestError, BankError) become one line on stderr and a non-zero
exit, never a traceback.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import click

from cli.core import cli_user, clip, get_bank, get_matcher


def _hint_options(func):
    func = click.option("--comment-col", metavar="C", help="Column for comments/explanations (letter or heading).")(func)
    func = click.option("--answer-col", metavar="C", help="Column the answers go in (letter or heading).")(func)
    func = click.option("--question-col", metavar="C", help="Column holding the questions (letter or heading).")(func)
    func = click.option("--sheet", metavar="NAME", help="Read only this sheet (XLSX).")(func)
    return func


def _hints(sheet, question_col, answer_col, comment_col):
    from ingest.model import IngestHints

    return IngestHints(sheet=sheet, question_col=question_col, answer_col=answer_col, comment_col=comment_col)


def _read(path: str) -> bytes:
    from ingest.errors import FileTooLarge
    from ingest.guard import Limits

    limit = Limits.from_env().max_upload_bytes
    with open(path, "rb") as fp:
        data = fp.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(f"{Path(path).name} is larger than {limit / 1048576:.0f} MB; that is not a questionnaire.")
    return data


def _warn(lines):
    for line in lines:
        click.echo(f"warning: {line}", err=True)


def _where(loc) -> str:
    if loc is None:
        return "-"
    if loc.sheet is not None:
        return f"{loc.sheet}!{loc.cell}" if loc.cell else loc.sheet
    if loc.table is not None:
        return f"table {loc.table} r{loc.row} c{loc.col}"
    if loc.paragraph is not None:
        return f"after ¶{loc.paragraph}" if loc.insert_after else f"¶{loc.paragraph}"
    return f"row {loc.row} '{loc.column}'"


@click.command("ingest")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (format, questions, warnings, skipped_sheets).")
@_hint_options
def ingest_command(file, as_json, sheet, question_col, answer_col, comment_col):
    """List the questions found in a questionnaire FILE (.xlsx, .xlsm, .csv, .docx)
    and where each answer goes."""
    from ingest import read_questionnaire

    result = read_questionnaire(_read(file), Path(file).name, _hints(sheet, question_col, answer_col, comment_col))
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=1))
        return
    for q in result.questions:
        mark = " (hidden in source)" if q.hidden else ""
        mark += " (not writable: formula cell)" if q.not_writable else ""
        kind = q.answer_kind if not q.options else f"{q.answer_kind}: {'/'.join(q.options)[:30]}"
        click.echo(f"{(q.ref or '-'):<12} {_where(q.answer_at):<24} {kind:<22} {clip(q.text, 70)}{mark}")
    for s in result.skipped_sheets:
        click.echo(f"sheet '{s.sheet}' not read: {s.reason} (--sheet '{s.sheet}' reads it)", err=True)
    _warn(result.warnings)
    click.echo(f"{len(result.questions)} questions in {Path(file).name} ({result.format})", err=True)


@click.command("autofill")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="Where to write the filled copy (never the original).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--min-tier", type=click.Choice(["high", "medium", "low"]), default="medium", show_default=True,
              help="Write answers whose match is at least this confident.")
@click.option("--overwrite", is_flag=True, help="Replace answers already in the file.")
@_hint_options
@click.pass_context
def autofill_command(ctx, file, output, as_json, min_tier, overwrite, sheet, question_col, answer_col, comment_col):
    """Answer FILE from the bank and write the filled copy to OUTPUT.

    Only matches of tier medium or better are written; the others are left
    blank and listed. Everything else in the file stays as it was.
    """
    from ingest import output_suffix
    from questionnaire.autofill import autofill

    src, dst = Path(file), Path(output)
    if dst.exists() and dst.resolve() == src.resolve():
        raise click.ClickException("the output must be a new file; aimsq never overwrites the original questionnaire")
    data = _read(file)
    suffix = output_suffix(data, src.name)
    if dst.suffix.lower() in (".xlsm", ".docm", ".xltm", ".dotm"):
        raise click.ClickException(
            f"the filled copy is saved without macros, so it must be named {suffix} (not {dst.suffix})"
        )
    if dst.suffix.lower() != suffix:
        click.echo(f"warning: the filled copy is a {suffix} file but is named {dst.name}", err=True)
    report = autofill(data, src.name, _LazyMatcher(ctx), _hints(sheet, question_col, answer_col, comment_col),
                      min_tier=min_tier, overwrite=overwrite)
    _write_atomically(dst, report.output)
    if as_json:
        out = report.to_json()
        out["output"] = str(dst)
        click.echo(json.dumps(out, ensure_ascii=False, indent=1))
        return
    _warn(report.warnings)
    for o in report.outcomes:
        if o.outcome == "written" and not o.notes:
            continue
        q = o.question
        why = "; ".join(o.notes) if o.outcome == "written" else (o.reason or "")
        click.echo(f"{o.outcome:<8} {(q.ref or '-'):<12} {clip(why, 60):<60} {clip(q.text, 50)}")
    total = len(report.outcomes)
    click.echo(
        f"Wrote {len(report.written)} of {total} answers (tier {min_tier} or better, "
        f"{report.cells_written} cells changed) to {dst}; {len(report.kept)} kept, {len(report.skipped)} skipped",
        err=True,
    )


class _LazyMatcher:
    """Opens the matcher (and loads the model) only when there is something to match."""

    def __init__(self, ctx):
        self.ctx = ctx

    def match_many(self, texts, top_k: int = 5):
        return get_matcher(self.ctx).match_many(texts, top_k=top_k)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".aimsq-", suffix=path.suffix, dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@click.command("import-questionnaire")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--approve", is_flag=True, help="Approve the imported entries (default: drafts for the trust team).")
@_hint_options
@click.pass_context
def import_questionnaire_command(ctx, file, approve, sheet, question_col, answer_col, comment_col):
    """Add each answered question of a completed questionnaire FILE to the bank
    as a draft entry (question, answer, short answer, source file)."""
    from ingest import read_questionnaire

    name = Path(file).name
    result = read_questionnaire(_read(file), name, _hints(sheet, question_col, answer_col, comment_col))
    rows = questionnaire_entries(result, name)
    if not rows:
        raise click.ClickException(f"{name} has no answered questions; nothing was imported")
    from answer_bank.io import entry_from_mapping

    entries = []
    skipped: list[str] = []
    for row in rows:
        try:
            entries.append(entry_from_mapping(row))
        except ValueError as e:
            skipped.append(f"{row['id']}: {e}")
    _warn(f"skipped {s}" for s in skipped)
    report = get_bank(ctx).import_entries(entries, approve=approve, user=cli_user(), source=name)
    state = "approved" if approve else "draft"
    click.echo(f"Imported {len(entries)} answered questions from {name} as {state} entries: {report.summary()}")


def questionnaire_entries(result, source: str) -> list[dict]:
    """Bank rows (id, question, answer, short_answer, tags, source) for the
    answered questions of an IngestResult."""
    from ingest.fill import CANONICAL
    from ingest.layout import short_answer_family

    stem = re.sub(r"[^A-Za-z0-9]+", "-", Path(source).stem).strip("-").lower()[:60] or "questionnaire"
    rows: list[dict] = []
    used: set[str] = set()
    for n, q in enumerate(result.questions, start=1):
        answer, comment = q.existing_answer, q.existing_comment
        if not answer and not comment:
            continue
        family = short_answer_family(answer) if answer else None
        short = CANONICAL[family] if family else None
        narrative = comment or (answer if family is None else None) or short
        ext_id = f"{stem}:{q.ref or f'q{n}'}"
        if ext_id in used:
            ext_id = f"{ext_id}-{n}"
        used.add(ext_id)
        rows.append({
            "id": ext_id,
            "question": q.text,
            "answer": narrative,
            "short_answer": short,
            "tags": [q.section] if q.section else [],
            "source": source,
            # Where it was asked: the next copy of this questionnaire is answered
            # by ref and section as well as by text (docs/matching.md, "Repeats").
            "origin_family": source,
            "origin_ref": q.ref,
            "origin_section": q.section,
        })
    return rows

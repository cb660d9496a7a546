"""The `aimsq` group, what every command shares (the bank, the matcher, the
audit user), and the core commands: init, bank import/export/list, match,
serve. Commands are registered on the groups in cli/__init__.py.

A thin layer: library errors become one clear line on stderr and a non-zero
exit (click.ClickException); no traceback reaches a user.
"""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import click

import aimsq_settings

DEFAULT_DB = aimsq_settings.DEFAULT_CLI_DB


def db_path_from(option: str | None) -> str:
    return option or aimsq_settings.db_path() or DEFAULT_DB


class FriendlyGroup(click.Group):
    """Turns the errors a user can act on into ClickException, once, here."""

    def invoke(self, ctx: click.Context):
        from answer_bank.embeddings import ModelNotFound
        from answer_bank.io import BankFileError
        from answer_bank.store import BankError

        user_errors: tuple[type[BaseException], ...] = (BankError, BankFileError, ModelNotFound,
                                                         aimsq_settings.SettingError)
        try:
            from ingest.errors import IngestError

            user_errors += (IngestError,)
        except ImportError:  # pragma: no cover - ingest is part of the package
            pass
        try:
            return super().invoke(ctx)
        except user_errors as e:
            raise click.ClickException(str(e)) from None
        except OSError as e:
            name = f" {e.filename}" if getattr(e, "filename", None) else ""
            raise click.ClickException(f"{e.strerror or e}{name}") from None
        except Exception as e:  # noqa: BLE001 - the last net: one line, never a traceback
            if isinstance(e, (click.ClickException, click.exceptions.Exit, click.Abort)):
                raise
            if aimsq_settings.debug():
                raise
            raise click.ClickException(
                f"unexpected error ({type(e).__name__}: {e}); set AIMSQ_DEBUG=1 for details"
            ) from None


@click.group(cls=FriendlyGroup)
@click.option("--db", "db_option", metavar="PATH", help=f"Bank database (default: $AIMSQ_DB, else {DEFAULT_DB}).")
@click.option("--model", "model_option", metavar="DIR",
              help="Local sentence-transformers model directory (default: $AIMSQ_MODEL, else the bundled all-MiniLM-L6-v2).")
@click.version_option(package_name="aimsq")
@click.pass_context
def main(ctx: click.Context, db_option: str | None, model_option: str | None):
    """aimsq answers AI-risk and security questionnaires from a bank of approved answers."""
    ctx.ensure_object(dict)
    ctx.obj["db_path"] = db_path_from(db_option)
    ctx.obj["model_path"] = model_option


def get_bank(ctx: click.Context):
    """The opened bank (created with its schema if the file is new)."""
    from answer_bank.store import Bank

    root = ctx.find_root()
    if "bank" not in root.obj:
        root.obj["bank"] = Bank.open(root.obj["db_path"])
    return root.obj["bank"]


def get_embedder(ctx: click.Context):
    """The model directory given with --model, as an embedder (loaded on first
    use); None without --model: the library's default applies ($AIMSQ_MODEL,
    else the bundled model). Raises ModelNotFound for a directory that holds
    no model."""
    root = ctx.find_root()
    # Tests may inject an embedder through obj={"embedder": ...}.
    if root.obj.get("embedder") is None and root.obj.get("model_path"):
        from answer_bank.embeddings import SentenceTransformerEmbedder

        root.obj["embedder"] = SentenceTransformerEmbedder(root.obj["model_path"])
    return root.obj.get("embedder")


def get_matcher(ctx: click.Context):
    from answer_bank.matching import Matcher

    root = ctx.find_root()
    if "matcher" not in root.obj:
        root.obj["matcher"] = Matcher(get_bank(ctx), embedder=get_embedder(ctx))
    return root.obj["matcher"]


def cli_user() -> str:
    return aimsq_settings.audit_user()


# ---- init ---------------------------------------------------------------


@click.command()
@click.option("--demo", is_flag=True, help="Load the starter AIMS bank, approved, and the starter glossary.")
@click.option("--if-missing", is_flag=True, help="Do nothing when the database already exists.")
@click.pass_context
def init(ctx: click.Context, demo: bool, if_missing: bool):
    """Create the bank database (empty, or with the starter AIMS bank and glossary)."""
    path = Path(ctx.obj["db_path"])
    if if_missing and path.exists():
        click.echo(f"Using the existing bank at {path}")
        return
    bank = get_bank(ctx)
    if demo:
        from answer_bank.starter import starter_entries, starter_glossary_pairs

        report = bank.import_entries(starter_entries(), approve=True, user="aimsq-init", source="starter AIMS bank")
        click.echo(f"Starter AIMS bank loaded into {path}: {report.summary()}")
        added = bank.add_glossary_pairs(starter_glossary_pairs(), user="aimsq-init")
        click.echo(f"Starter glossary: {len(added)} pairs added")
        index_bank(ctx)
    else:
        click.echo(f"Bank ready at {path} ({bank.count()} entries)")


# ---- bank ---------------------------------------------------------------


@click.group()
def bank():
    """Import, export and list bank entries."""


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--approve", is_flag=True,
              help="Approve every imported entry (on the audit trail). Without it, rows marked approved are drafts.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), help="Default: from the file name.")
@click.pass_context
def bank_import(ctx: click.Context, file: str, approve: bool, fmt: str | None):
    """Import entries from CSV, XLSX or JSON (all rows or none).

    Required columns: id, question, answer. Optional: short_answer, variants,
    evidence (title|ref), frameworks, tags (';'-separated lists), owner,
    status (draft/approved/retired; default draft), review_by, source.
    A row marked approved stays a draft unless --approve is given or it is
    exactly the entry's stored approved content.
    """
    from answer_bank.io import format_of, read_entries

    fmt = fmt or format_of(file)
    warnings: list[str] = []
    with open(file, "rb") as fp:
        entries = read_entries(fp, fmt, warnings)
    for w in warnings:
        click.echo(f"Warning: {w}", err=True)
    report = get_bank(ctx).import_entries(entries, approve=approve, user=cli_user(), source=Path(file).name)
    click.echo(f"Imported {Path(file).name}: {report.summary()}")
    if report.held_as_draft:
        click.echo("an approver approves them (aimsq bank approve), or import again with --approve", err=True)
    if report.added or report.updated:
        index_bank(ctx)


def index_bank(ctx: click.Context) -> None:
    """Embed the approved entries now, so the first match does not wait for it."""
    from answer_bank.embeddings import ModelNotFound

    try:
        matcher = get_matcher(ctx)
        click.echo("Indexing approved entries…", err=True)
        embedded = matcher.refresh()
    except ModelNotFound as e:
        click.echo(f"Warning: entries stored but not indexed: {e}", err=True)
        return
    click.echo(f"Indexed: {embedded} new texts embedded; {matcher.adapter_summary()}", err=True)


@click.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json"]), help="Default: from the file name.")
@click.option("--status", type=click.Choice(["draft", "approved", "retired"]), multiple=True,
              help="Only entries with this status (repeatable). Default: all.")
@click.pass_context
def bank_export(ctx: click.Context, file: str, fmt: str | None, status: tuple[str, ...]):
    """Export the bank to CSV, XLSX or JSON (the columns `bank import` reads)."""
    from answer_bank.io import format_of, write_entries

    fmt = fmt or format_of(file)
    entries = get_bank(ctx).list_entries(status=status or None)
    buffer = io.BytesIO()
    write_entries(entries, buffer, fmt)
    Path(file).write_bytes(buffer.getvalue())
    click.echo(f"Exported {len(entries)} entries to {file}")


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of entries.")
@click.option("--status", type=click.Choice(["draft", "approved", "retired"]), multiple=True)
@click.pass_context
def bank_list(ctx: click.Context, as_json: bool, status: tuple[str, ...]):
    """List bank entries."""
    entries = get_bank(ctx).list_entries(status=status or None)
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in entries], ensure_ascii=False, indent=1))
        return
    for e in entries:
        overdue = "  (review overdue)" if e.is_overdue() else ""
        click.echo(f"{e.ext_id:<18} {e.status:<9} {e.short_answer or '-':<8} {clip(e.question, 80)}{overdue}")
    click.echo(f"{len(entries)} entries", err=True)


# ---- match --------------------------------------------------------------


@click.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--question", "-q", help="Match one question instead of a file.")
@click.option("--top-k", type=click.IntRange(1, 50), default=5, show_default=True, help="Alternatives per question.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def match(ctx: click.Context, file: str | None, question: str | None, top_k: int, as_json: bool):
    """Match questions against the approved bank entries.

    FILE is a CSV with columns qid,question and optionally section (other
    columns ignored), in UTF-8, UTF-16 or a Windows code page (a guessed
    encoding is named on stderr); the qid is the question's ref. With -q, the
    alternatives (the suggestions when nothing is answered) and the reasons
    follow the answer line. With --json each line is {"qid", "answer", "tier",
    "matches": [{"id", "score", "matched"}]}, plus "repeat",
    "short_answer_withheld" and "kept_apart": {"question", "entry"} where they apply.
    """
    if bool(file) == bool(question):
        raise click.UsageError("give either FILE or --question TEXT")
    if question is not None:
        if not question.strip():
            raise click.UsageError("--question is empty")
        items = [("1", question, None)]
    else:
        items = read_question_csv(Path(file))
    from answer_bank.matching import QuestionIn

    # The qid is the question's ref; a `section` column, when given, tells
    # apart questions worded alike under different headings.
    asked = [QuestionIn(text, ref=qid if file else None, section=section) for qid, text, section in items]
    matcher = get_matcher(ctx)
    results = []
    batch = 64
    show = sys.stderr.isatty() and len(items) > batch
    with click.progressbar(length=len(items), label="Matching", file=sys.stderr, hidden=not show) as bar:
        for start in range(0, len(items), batch):
            chunk = asked[start : start + batch]
            results.extend(matcher.match_many(chunk, top_k=top_k))
            bar.update(len(chunk))
    for (qid, text, _), result in zip(items, results):
        if as_json:
            click.echo(json.dumps(result.to_json(qid), ensure_ascii=False))
        else:
            answer = result.answer.ext_id if result.answer else "—"
            click.echo(f"{qid:<12} {result.tier:<6} {answer:<18} {result.score:5.2f}  {clip(text, 70)}")
            if question is None:
                continue
            # One question: what else to read (the suggestions when nothing is answered), and why.
            label, shown = ("alt", result.candidates[1:3]) if result.answer else ("sugg", result.suggestions)
            for c in shown:
                click.echo(f"{'':<12} {label:<6} {c.entry.ext_id:<18} {c.score:5.2f}  {clip(c.entry.question, 70)}")
            for reason in result.reasons:
                click.echo(f"{'':<12} why    {reason}")


def read_question_csv(path: Path) -> list[tuple[str, str, str | None]]:
    """(qid, question, section) of each row; read as every CSV aimsq reads (one
    decoder, the same caps), a warning on stderr when the encoding was inferred."""
    from ingest.csv_format import decode, parse
    from ingest.errors import IngestError
    from ingest.guard import Limits

    try:
        decoded = decode(path.read_bytes())
        records, _ = parse(decoded, Limits.from_env())
    except IngestError as e:
        raise click.ClickException(f"{path.name}: {e}") from None
    if decoded.warning:
        click.echo(f"Warning: {path.name}: {decoded.warning}", err=True)
    fields = [f.strip().lower() for f in (records[0] if records else [])]
    if "question" not in fields or "qid" not in fields:
        raise click.ClickException(f"{path.name} needs the columns qid,question (found: {', '.join(fields) or 'none'})")
    col = {name: fields.index(name) for name in ("qid", "question", "section") if name in fields}

    def cell(rec: list[str], name: str) -> str:
        i = col.get(name)
        return rec[i] if i is not None and i < len(rec) else ""

    items = []
    for n, rec in enumerate(records[1:], start=2):
        text = cell(rec, "question").strip()
        if text:
            qid = cell(rec, "qid").strip() or str(n)
            section = " ".join(cell(rec, "section").split()) or None
            items.append((qid, " ".join(text.split()), section))
    if not items:
        raise click.ClickException(f"{path.name} has no questions")
    return items


# ---- serve --------------------------------------------------------------


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, threads: int):
    """Serve the web app (waitress WSGI server)."""
    from waitress import serve as waitress_serve

    from cli.users import ensure_first_admin
    from web import create_app

    config = {"AIMSQ_DB": ctx.obj["db_path"]}
    embedder = get_embedder(ctx)
    if embedder is not None:
        config["AIMSQ_EMBEDDER"] = embedder
    app = create_app(config)
    password = ensure_first_admin(ctx.obj["db_path"])
    if password:
        click.echo("No users yet: created the first admin.")
        click.echo(f"  Sign in at http://{host}:{port}/login as  admin  with password  {password}")
        click.echo("  (shown once; change it under your name at the top right, and add users with `aimsq user add NAME --role editor`)")
    click.echo(f"aimsq is serving on http://{host}:{port}/  (Ctrl+C to stop)")
    app.extensions["aimsq_matcher"].warm_in_background()  # model + bank index, before the first search
    waitress_serve(app, host=host, port=port, threads=threads, ident="aimsq")


def clip(text: str | None, width: int) -> str:
    """The text on one line, cut to `width` characters with an ellipsis."""
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


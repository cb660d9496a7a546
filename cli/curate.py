"""`aimsq` commands for the trust team: history, approval, review cycles,
checks, coverage, the response pack, backup and restore.

Registered on the `main` / `bank` groups in cli/__init__.py; library errors
(BankError subclasses) become one line on stderr in the group (cli/core.py).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cli.core import cli_user, clip, get_bank, get_embedder

FRAMEWORK_CHOICE = click.Choice(["iso42001", "nist-ai-rmf", "eu-ai-act"])


def _echo_json(payload) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, indent=1))


# ---- versions, approval -----------------------------------------------------


@click.command("history")
@click.argument("entry_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def bank_history(ctx: click.Context, entry_id: str, as_json: bool):
    """List the versions of an entry, oldest first."""
    versions = get_bank(ctx).versions(entry_id)
    if as_json:
        _echo_json([{k: v[k] for k in ("version", "created_at", "created_by", "note")}
                    | {"status": v["content"].get("status")} for v in versions])
        return
    for v in versions:
        click.echo(f"v{v['version']:<4} {v['created_at']}  {v['created_by']:<16} "
                   f"{v['content'].get('status', ''):<9} {v['note'] or ''}")


@click.command("diff")
@click.argument("entry_id")
@click.argument("from_version", type=int, required=False)
@click.argument("to_version", type=int, required=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def bank_diff(ctx: click.Context, entry_id: str, from_version: int | None, to_version: int | None, as_json: bool):
    """Show what changed between two versions (default: previous → current)."""
    from answer_bank.curation import diff_versions, render_diff

    diff = diff_versions(get_bank(ctx), entry_id, from_version, to_version)
    click.echo(json.dumps(diff.to_json(), ensure_ascii=False, indent=1) if as_json else render_diff(diff))


@click.command("restore-version")
@click.argument("entry_id")
@click.argument("version", type=int)
@click.pass_context
def bank_restore_version(ctx: click.Context, entry_id: str, version: int):
    """Make an earlier version of an entry its newest version (history is kept)."""
    from answer_bank.curation import restore_version

    entry = restore_version(get_bank(ctx), entry_id, version, user=cli_user())
    click.echo(f"{entry_id}: version {version} restored as version {entry.version} ({entry.status})")
    if entry.status == "draft":
        click.echo(f"{entry_id} answers no questionnaire until another approver approves it", err=True)


@click.command("approve")
@click.argument("entry_ids", nargs=-1)
@click.option("--all-drafts", is_flag=True, help="Approve every draft (all or none).")
@click.pass_context
def bank_approve(ctx: click.Context, entry_ids: tuple[str, ...], all_drafts: bool):
    """Approve draft entries, all in one transaction. You cannot approve an
    entry you changed since its last approval."""
    from answer_bank.curation import approve_many

    b = get_bank(ctx)
    ids = list(dict.fromkeys(entry_ids))
    if all_drafts:
        ids += [e.ext_id for e in b.list_entries(status="draft") if e.ext_id not in ids]
    if not ids:
        raise click.UsageError("name the entries to approve, or pass --all-drafts")
    # One entry: its own error (not a draft, your own change), not the bulk summary.
    approved = approve_many(b, ids, user=cli_user(), single=len(ids) == 1)
    for e in approved:
        click.echo(f"{e.ext_id}: approved as version {e.version}, review by {e.review_by}")
    click.echo(f"{len(approved)} approved", err=True)


@click.command("retire")
@click.argument("entry_id")
@click.option("--reason", required=True, help="Why it no longer answers (kept in the history).")
@click.pass_context
def bank_retire(ctx: click.Context, entry_id: str, reason: str):
    """Retire an entry: it stops answering; its history stays."""
    from answer_bank.curation import retire

    entry = retire(get_bank(ctx), entry_id, reason, user=cli_user())
    click.echo(f"{entry_id}: retired as version {entry.version} ({entry.retired_reason})")


# ---- review cycles ------------------------------------------------------------


@click.command("due")
@click.option("--days", type=click.IntRange(0, 3660), default=30, show_default=True,
              help="Also list entries due within this many days.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def bank_due(ctx: click.Context, days: int, as_json: bool):
    """Approved entries overdue for review or due soon, by owner."""
    from answer_bank.review_cycle import due_by_owner, due_entries, due_json

    items = due_entries(get_bank(ctx), within_days=days)
    if as_json:
        _echo_json(due_json(items, days))
        return
    for owner, group in due_by_owner(items).items():
        click.echo(owner)
        for i in group:
            when = f"{-i.days_left} days overdue" if i.state == "overdue" else f"due in {i.days_left} days"
            click.echo(f"  {i.entry.ext_id:<18} {i.review_by}  {when:<18} {clip(i.entry.question, 60)}")
    overdue = sum(1 for i in items if i.state == "overdue")
    click.echo(f"{overdue} overdue, {len(items) - overdue} due within {days} days", err=True)


@click.command("reviewed")
@click.argument("entry_ids", nargs=-1, required=True)
@click.pass_context
def bank_reviewed(ctx: click.Context, entry_ids: tuple[str, ...]):
    """Confirm approved entries are still right: sets their next review-by date."""
    from answer_bank.review_cycle import mark_reviewed

    for ext_id in entry_ids:
        entry = mark_reviewed(get_bank(ctx), ext_id, user=cli_user())
        click.echo(f"{ext_id}: next review by {entry.review_by}")


@click.command("review-rule")
@click.option("--tag", help="The rule is for entries with this tag.")
@click.option("--owner", help="The rule is for entries of this owner.")
@click.option("--days", type=int, help="Review period in days.")
@click.option("--remove", is_flag=True, help="Remove the rule.")
@click.option("--schedule", is_flag=True,
              help="Write the rule-derived review-by date into approved entries that have none.")
@click.pass_context
def bank_review_rule(ctx: click.Context, tag: str | None, owner: str | None, days: int | None,
                     remove: bool, schedule: bool):
    """Default review periods per tag or owner (the strictest that applies
    wins; else the `review_days` setting, 365). Without options: list them."""
    from answer_bank.review_cycle import default_days, review_rules, schedule_reviews, set_review_rule

    b = get_bank(ctx)
    if tag and owner:
        raise click.UsageError("a rule is for a tag or an owner, not both")
    if tag or owner:
        if remove == (days is not None):
            raise click.UsageError("give --days N to set the rule, or --remove")
        scope, name = ("tag", tag) if tag else ("owner", owner)
        set_review_rule(b, scope, name, None if remove else days, user=cli_user())
        click.echo(f"{scope} {name}: " + ("rule removed" if remove else f"review every {days} days"))
    elif days is not None or remove:
        raise click.UsageError("name the --tag or --owner the rule is for")
    if schedule:
        changed = schedule_reviews(b, user=cli_user())
        click.echo(f"review-by date set on {len(changed)} entries")
    if not (tag or owner or schedule):
        for rule in review_rules(b):
            click.echo(rule.describe())
        click.echo(f"otherwise: every {default_days(b)} days")


@click.command("setting")
@click.argument("key", required=False)
@click.argument("value", required=False)
@click.option("--unset", is_flag=True)
@click.pass_context
def bank_setting(ctx: click.Context, key: str | None, value: str | None, unset: bool):
    """Show or set a bank setting (organisation, review_days)."""
    from answer_bank.curation_db import SETTINGS, all_settings, get_setting, set_setting

    b = get_bank(ctx)
    if key is None:
        current = all_settings(b)
        for name, doc in SETTINGS.items():
            click.echo(f"{name} = {current.get(name, '(not set)')}    # {doc}")
        return
    if value is None and not unset:
        if key not in SETTINGS:
            raise click.UsageError(f"unknown setting {key!r}; known: {', '.join(SETTINGS)}")
        click.echo(get_setting(b, key) or "(not set)")
        return
    set_setting(b, key, None if unset else value, user=cli_user())
    click.echo(f"{key} = {value if not unset else '(not set)'}")


# ---- checks -------------------------------------------------------------------


@click.command("check")
@click.option("--json", "as_json", is_flag=True, help='{"findings": [{"kind", "entries", ...}]}')
@click.option("--all", "include_dismissed", is_flag=True, help="Include dismissed findings.")
@click.pass_context
def bank_check(ctx: click.Context, as_json: bool, include_dismissed: bool):
    """Find near-duplicate questions and conflicting answers."""
    from answer_bank.checks import find_findings
    from answer_bank.embeddings import embedder_from_env

    embedder = get_embedder(ctx) or embedder_from_env()
    findings = find_findings(get_bank(ctx), embedder, include_dismissed=include_dismissed)
    if as_json:
        _echo_json({"findings": [f.to_json() for f in findings]})
        return
    for f in findings:
        click.echo(f"{f.kind:<9} {f.a.ext_id} ↔ {f.b.ext_id}  ({f.similarity:.2f})")
        click.echo(f"          {clip(f.a.question, 70)}")
        click.echo(f"          {clip(f.b.question, 70)}")
        for reason in f.reasons:
            click.echo(f"          - {reason}")
    conflicts = sum(1 for f in findings if f.kind == "conflict")
    click.echo(f"{conflicts} conflicts, {len(findings) - conflicts} duplicates", err=True)


@click.command("merge")
@click.argument("keep")
@click.argument("merge_away")
@click.pass_context
def bank_merge(ctx: click.Context, keep: str, merge_away: str):
    """Merge MERGE_AWAY into KEEP: KEEP gains its wordings, evidence and
    framework references; MERGE_AWAY is retired. Both histories stay."""
    from answer_bank.checks import merge

    entry = merge(get_bank(ctx), keep, merge_away, user=cli_user())
    click.echo(f"{merge_away} merged into {keep} (now version {entry.version})")


@click.command("dismiss")
@click.argument("kind", type=click.Choice(["duplicate", "conflict"]))
@click.argument("entry_a")
@click.argument("entry_b")
@click.option("--note", help="Why this is not a problem.")
@click.pass_context
def bank_dismiss(ctx: click.Context, kind: str, entry_a: str, entry_b: str, note: str | None):
    """Dismiss a finding of `bank check`; it is not shown again."""
    from answer_bank.checks import dismiss

    dismiss(get_bank(ctx), kind, entry_a, entry_b, user=cli_user(), note=note)
    click.echo(f"{kind} {entry_a} / {entry_b} dismissed")


# ---- coverage and pack ----------------------------------------------------------


@click.command("coverage")
@click.option("--framework", "-f", type=FRAMEWORK_CHOICE, required=True)
@click.option("--json", "as_json", is_flag=True,
              help='{"framework", "controls": [{"id", "title", "state", "entries"}]}')
@click.option("--svg", "svg_file", type=click.Path(dir_okay=False), help="Also write the coverage chart here.")
@click.pass_context
def coverage_cmd(ctx: click.Context, framework: str, as_json: bool, svg_file: str | None):
    """Which framework controls the approved answers cover, which are stale
    (every answer past its review date) and which are gaps."""
    from answer_bank.coverage import coverage, coverage_svg

    report = coverage(get_bank(ctx), framework)
    if svg_file:
        Path(svg_file).write_text(coverage_svg(framework, report=report), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
        return
    for group, cells in report.by_group():
        click.echo(f"{group.id} {group.title}" if len(group.id) <= 10 else group.title)
        for cell in cells:
            ids = ", ".join(e.ext_id for e in cell.entries) or "—"
            click.echo(f"  {cell.control.id:<12} {cell.state:<8} {clip(cell.control.title, 50):<50} {ids}")
    click.echo(report.summary(), err=True)


@click.command("pack")
@click.option("--framework", "-f", type=FRAMEWORK_CHOICE, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FILE.docx or FILE.xlsx")
@click.option("--org", help="Organisation on the cover (default: the `organisation` bank setting).")
@click.pass_context
def pack_cmd(ctx: click.Context, framework: str, output: str, org: str | None):
    """The standardized response pack: approved answers by the framework's
    structure, with evidence, a cover page and the controls not covered."""
    from answer_bank.pack import write_pack

    info = write_pack(get_bank(ctx), framework, output, organisation=org)
    click.echo(f"Wrote {output}: {info.summary()}")
    if info.stale:
        click.echo(f"warning: {len(info.stale)} controls are answered only by entries past their review date "
                   f"({', '.join(info.stale[:10])}{'…' if len(info.stale) > 10 else ''}); see `aimsq bank due`",
                   err=True)


# ---- operations -------------------------------------------------------------------


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@click.pass_context
def backup_cmd(ctx: click.Context, path: str, force: bool):
    """Back up the bank to PATH with SQLite's backup API (safe while the app runs)."""
    from answer_bank.backup import backup

    info = backup(ctx.obj["db_path"], path, overwrite=force)
    click.echo(f"Backed up to {info.summary()}")


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def restore_cmd(ctx: click.Context, path: str, yes: bool):
    """Replace the bank with the backup at PATH (checked first; the current
    bank is saved beside it)."""
    from answer_bank.backup import BANK_MIGRATION_SETS, inspect_bank, restore
    from questionnaire import review_db

    # The review app's tables live in the same file: their schema is checked too.
    sets = (*BANK_MIGRATION_SETS, review_db.migrations)
    info = inspect_bank(path, sets)
    db_path = ctx.obj["db_path"]
    if not yes and sys.stdin.isatty():
        click.confirm(f"Replace the bank at {db_path} with {info.summary()}?", abort=True)
    restored, saved = restore(path, db_path, user=cli_user(), migration_sets=sets)
    if saved:
        click.echo(f"The previous bank is saved as {saved}")
    click.echo(f"Restored {restored.entries} entries, {restored.versions} versions, "
               f"{restored.audit_rows} audit rows into {db_path}")

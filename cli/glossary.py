"""`aimsq bank glossary`: the terms the trust team says mean the same in its
bank ("cloud-based" = "hosted"), and those it says are not the same
("privacy" ≠ "security"). The matcher reads every term of a group
alike in incoming questions and in the bank's texts (docs/curation.md).

Registered on the `bank` group in cli/__init__.py; GlossaryError (a
BankError) becomes one line on stderr in the group (cli/core.py).
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from cli.core import cli_user, get_bank


@click.group("glossary")
def glossary():
    """Terms that mean the same in your questionnaires (e.g. "SSO" = "single sign-on"),
    and terms that are not the same (e.g. "privacy" ≠ "security").

    The matcher reads every term of a group alike, in incoming questions and in
    the bank's texts, and never answers a question about one of two terms
    marked "not the same" with an entry about the other. Changes are audited
    and take effect at the next match."""


@glossary.command("add")
@click.argument("term")
@click.argument("equivalent")
@click.pass_context
def glossary_add(ctx: click.Context, term: str, equivalent: str):
    """Record that TERM and EQUIVALENT mean the same (e.g. "cloud-based" "hosted").

    Case and punctuation do not count ("Multi-Factor" is "multi factor"), and a
    term covers its plural and other word endings ("pen test" covers "pen tests",
    "pen testing"). Terms linked through other pairs form one group."""
    pair = get_bank(ctx).add_glossary_pair(term, equivalent, user=cli_user())
    click.echo(f"Glossary: {pair}")


@glossary.command("list")
@click.option("--json", "as_json", is_flag=True,
              help='{"pairs": [{"term", "equivalent", "created_at", "created_by"}], "groups": [[term, ...]], '
                   '"distinct": [{"term", "other", "created_at", "created_by"}]}')
@click.pass_context
def glossary_list(ctx: click.Context, as_json: bool):
    """List the glossary: its pairs, the groups the matcher reads, then the
    terms marked as not the same."""
    b = get_bank(ctx)
    pairs = b.glossary()
    groups = b.glossary_groups()
    distinct = b.glossary_distinct()
    if as_json:
        click.echo(json.dumps({"pairs": [p.to_json() for p in pairs], "groups": groups,
                               "distinct": [p.to_json() for p in distinct]}, ensure_ascii=False, indent=1))
        return
    for p in pairs + distinct:
        click.echo(f"{p.term} {p.sign} {p.equivalent}    (added by {p.created_by}, {p.created_at})")
    click.echo(f"{len(pairs)} pairs in {len(groups)} groups; {len(distinct)} pairs not the same", err=True)


@glossary.command("remove")
@click.argument("term")
@click.argument("equivalent", required=False)
@click.pass_context
def glossary_remove(ctx: click.Context, term: str, equivalent: str | None):
    """Remove the pair TERM = EQUIVALENT, or, without EQUIVALENT, every pair with TERM."""
    _removed(get_bank(ctx).remove_glossary(term, equivalent, user=cli_user()))


@glossary.command("distinct")
@click.argument("term")
@click.argument("other")
@click.pass_context
def glossary_distinct(ctx: click.Context, term: str, other: str):
    """Record that TERM and OTHER are NOT the same (e.g. "privacy" "security").

    A question that names one of them (and not the other) is then never
    answered by an entry whose questions name only the other: the entry is
    shown as a suggestion, with the reason. Terms are read as in `add`, and a
    term also stands for the terms the glossary says mean the same."""
    pair = get_bank(ctx).add_glossary_distinct(term, other, user=cli_user())
    click.echo(f"Glossary: {pair}")


@glossary.command("remove-distinct")
@click.argument("term")
@click.argument("other", required=False)
@click.pass_context
def glossary_remove_distinct(ctx: click.Context, term: str, other: str | None):
    """Remove the "not the same" pair TERM ≠ OTHER, or, without OTHER, every such pair with TERM."""
    _removed(get_bank(ctx).remove_glossary_distinct(term, other, user=cli_user()))


def _removed(pairs) -> None:
    """One line per removed pair, either kind ("Removed “SSO” = “single sign-on”")."""
    for p in pairs:
        click.echo(f"Removed {p}")


@glossary.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def glossary_import(ctx: click.Context, file: Path):
    """Add the pairs in FILE that the glossary does not have yet.

    FILE is what `aimsq bank glossary list --json` prints (the glossary of
    another bank), or a CSV with the columns term,equivalent and, optionally,
    kind ("same", the default, or "distinct" for terms that are not the same).
    A pair the glossary has, a pair that would contradict it and an empty
    term are skipped and counted; the rest is added in one change per kind, audited."""
    from answer_bank.glossary_file import import_glossary

    click.echo(import_glossary(get_bank(ctx), file.read_bytes(), file.name, user=cli_user()))


@glossary.command("add-starter")
@click.pass_context
def glossary_add_starter(ctx: click.Context):
    """Add the starter glossary's general terms (MFA, SSO, DPIA, pen test, …)
    that the glossary does not have yet; pairs you removed come back."""
    from answer_bank.starter import starter_glossary_pairs

    added = get_bank(ctx).add_glossary_pairs(starter_glossary_pairs(), user=cli_user())
    click.echo(f"Starter glossary: {len(added)} pairs added")

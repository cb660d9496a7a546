"""`aimsq bank glossary`: the terms the trust team says mean the same in its
bank ("cloud-based" = "hosted"). The matcher reads every term of a group
alike in incoming questions and in the bank's texts (docs/curation.md).

Registered on the `bank` group in cli/__init__.py; GlossaryError (a
BankError) becomes one line on stderr in the group (cli/core.py).
"""
from __future__ import annotations

import json

import click

from cli.core import cli_user, get_bank


@click.group("glossary")
def glossary():
    """Terms that mean the same in your questionnaires (e.g. "SSO" = "single sign-on").

    The matcher reads every term of a group alike, in incoming questions and in
    the bank's texts. Changes are audited and take effect at the next match."""


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
    click.echo(f"Glossary: “{pair.term}” = “{pair.equivalent}”")


@glossary.command("list")
@click.option("--json", "as_json", is_flag=True,
              help='{"pairs": [{"term", "equivalent", "created_at", "created_by"}], "groups": [[term, ...]]}')
@click.pass_context
def glossary_list(ctx: click.Context, as_json: bool):
    """List the glossary: its pairs, then the groups the matcher reads."""
    b = get_bank(ctx)
    pairs = b.glossary()
    groups = b.glossary_groups()
    if as_json:
        click.echo(json.dumps({"pairs": [p.to_json() for p in pairs], "groups": groups}, ensure_ascii=False, indent=1))
        return
    for p in pairs:
        click.echo(f"{p.term} = {p.equivalent}    (added by {p.created_by}, {p.created_at})")
    click.echo(f"{len(pairs)} pairs in {len(groups)} groups", err=True)


@glossary.command("remove")
@click.argument("term")
@click.argument("equivalent", required=False)
@click.pass_context
def glossary_remove(ctx: click.Context, term: str, equivalent: str | None):
    """Remove the pair TERM = EQUIVALENT, or, without EQUIVALENT, every pair with TERM."""
    removed = get_bank(ctx).remove_glossary(term, equivalent, user=cli_user())
    for p in removed:
        click.echo(f"Removed “{p.term}” = “{p.equivalent}”")


@glossary.command("add-starter")
@click.pass_context
def glossary_add_starter(ctx: click.Context):
    """Add the starter glossary's general terms (MFA, SSO, DPIA, pen test, …)
    that the glossary does not have yet; pairs you removed come back."""
    from answer_bank.starter import starter_glossary_pairs

    added = get_bank(ctx).add_glossary_pairs(starter_glossary_pairs(), user=cli_user())
    click.echo(f"Starter glossary: {len(added)} pairs added")

"""The `aimsq` command line, the top layer: it may import web, questionnaire,
ingest and answer_bank; nothing imports it (docs/architecture.md).

Every command is registered here, on its group, and nowhere else: a module
under cli/ defines commands, this file decides where they go.
"""
from __future__ import annotations

from cli import core, curate, glossary, ingest, users
from cli.core import bank, main

main.add_command(core.init)
main.add_command(core.match)
main.add_command(core.serve)
main.add_command(ingest.ingest_command)
main.add_command(ingest.autofill_command)
main.add_command(curate.coverage_cmd)
main.add_command(curate.pack_cmd)
main.add_command(curate.backup_cmd)
main.add_command(curate.restore_cmd)
main.add_command(users.user)
main.add_command(bank)

bank.add_command(core.bank_import)
bank.add_command(core.bank_export)
bank.add_command(core.bank_list)
bank.add_command(ingest.import_questionnaire_command)
bank.add_command(curate.bank_history)
bank.add_command(curate.bank_diff)
bank.add_command(curate.bank_restore_version)
bank.add_command(curate.bank_approve)
bank.add_command(curate.bank_retire)
bank.add_command(curate.bank_due)
bank.add_command(curate.bank_reviewed)
bank.add_command(curate.bank_review_rule)
bank.add_command(curate.bank_setting)
bank.add_command(curate.bank_check)
bank.add_command(curate.bank_merge)
bank.add_command(curate.bank_dismiss)
bank.add_command(glossary.glossary)

__all__ = ["main"]

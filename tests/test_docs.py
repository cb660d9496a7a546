"""The README documents every command and every AIMSQ_* setting."""
from __future__ import annotations

import re

import click

from cli import main
from tests.conftest import REPO


def command_paths(group: click.Group, prefix: str = "aimsq"):
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from command_paths(command, path)
        else:
            yield path


def test_every_command_is_in_the_readme():
    readme = (REPO / "README.md").read_text()
    missing = [path for path in command_paths(main) if path not in readme]
    assert not missing, f"undocumented commands: {missing}"


def test_every_setting_is_in_the_readme():
    readme = (REPO / "README.md").read_text()
    used = set(re.findall(r"AIMSQ_[A-Z_]+", (REPO / "aimsq_settings.py").read_text()))
    for package in ("cli", "questionnaire", "answer_bank", "ingest", "web"):
        for path in (REPO / package).rglob("*.py"):
            used |= set(re.findall(r"AIMSQ_[A-Z_]+", path.read_text()))
    missing = sorted(name for name in used if name not in readme)
    assert not missing, f"undocumented settings: {missing}"


def test_the_readme_settings_table_is_the_settings_module():
    """Each row of README's settings table is a setting of aimsq_settings (an
    environment variable, or an app-config key) and each setting has a row."""
    import aimsq_settings

    section = (REPO / "README.md").read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = {name for line in rows for name in re.findall(r"`(AIMSQ_[A-Z_]+)`", line.split("|")[1])}
    known = set(aimsq_settings.SETTINGS) | set(aimsq_settings.APP_CONFIG_ONLY)
    assert documented == known, (f"in README but not in aimsq_settings: {sorted(documented - known)}; "
                                 f"in aimsq_settings but not in README: {sorted(known - documented)}")
    assert all(aimsq_settings.SETTINGS.values()), "every setting needs a docstring line"


def test_every_command_has_help():
    for path in command_paths(main):
        parts = path.split()[1:]
        command = main
        for part in parts:
            command = command.commands[part]
        assert (command.help or "").strip(), f"{path} has no --help text"


def test_the_security_doc_has_every_case_and_names_tests_that_exist():
    text = (REPO / "docs" / "security.md").read_text()
    rows = re.findall(r"^\| (\d+) \| (.*?) \|(.*)\|$", text, re.M)
    assert sorted(int(case) for case, _, _ in rows) == list(range(1, 37))
    for case, how, tests in rows:
        if how.startswith("(pending: branch "):
            continue  # filled in when that branch is merged
        assert how.strip() and tests.strip(), f"case {case} says nothing or names no test"
        for ref in tests.split(";"):
            module, _, name = ref.strip().partition("::")
            source = (REPO / "tests" / module).read_text()
            assert re.search(rf"^def {re.escape(name)}\(", source, re.M), f"case {case}: no test {ref.strip()}"
    readme = (REPO / "README.md").read_text()
    assert "docs/security.md" in readme

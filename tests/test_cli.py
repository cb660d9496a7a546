"""The `aimsq` command-line contract: sub-commands, JSON shapes, errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from questionnaire.cli import main

BANK_CSV = (
    "id,question,answer,short_answer,variants,status\n"
    "ENC-1,Do you encrypt customer data at rest?,Yes: AES-256.,Yes,Is stored data encrypted?,approved\n"
    "TRAIN-1,Do you use customer data to train your AI models?,No.,No,Is client data used for model training?,approved\n"
    "MFA-1,Do you enforce multi-factor authentication for staff?,Yes.,Yes,,approved\n"
    "DRAFT-1,Do you have a bug bounty programme?,Not yet.,No,,draft\n"
)


@pytest.fixture
def run(tmp_path, fake_embedder):
    db = str(tmp_path / "cli.db")

    def invoke(*args, input=None):
        runner = CliRunner()
        return runner.invoke(main, ["--db", db, *args], obj={"embedder": fake_embedder}, input=input,
                             catch_exceptions=False)

    return invoke


@pytest.fixture
def bank_file(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text(BANK_CSV)
    return path


def import_with_statuses(run, bank_file):
    """BANK_CSV as its statuses say: the approved rows need --approve (a file's
    own "approved" is not taken without it), the draft stays a draft."""
    lines = bank_file.read_text().splitlines(keepends=True)
    approved = bank_file.with_name("approved.csv")
    approved.write_text(lines[0] + "".join(line for line in lines[1:] if line.rstrip().endswith(",approved")))
    drafts = bank_file.with_name("drafts.csv")
    drafts.write_text(lines[0] + "".join(line for line in lines[1:] if not line.rstrip().endswith(",approved")))
    assert run("bank", "import", str(approved), "--approve").exit_code == 0
    assert run("bank", "import", str(drafts)).exit_code == 0


def test_init_creates_an_empty_bank(run, tmp_path):
    result = run("init")
    assert result.exit_code == 0 and "0 entries" in result.output
    assert (tmp_path / "cli.db").exists()


def test_init_if_missing_leaves_an_existing_bank_alone(run, bank_file):
    run("bank", "import", str(bank_file))
    result = run("init", "--demo", "--if-missing")
    assert "existing bank" in result.output
    assert len(json.loads(run("bank", "list", "--json").output)) == 4


def test_import_list_export(run, bank_file, tmp_path):
    assert "4 added" in run("bank", "import", str(bank_file)).output
    assert "4 unchanged" in run("bank", "import", str(bank_file)).output
    listed = json.loads(run("bank", "list", "--json").output)
    assert [e["id"] for e in listed] == ["DRAFT-1", "ENC-1", "MFA-1", "TRAIN-1"]
    assert listed[1]["variants"] == ["Is stored data encrypted?"]
    out = tmp_path / "out.json"
    assert "Exported 4 entries" in run("bank", "export", str(out)).output
    assert {e["id"] for e in json.loads(out.read_text())} == {"DRAFT-1", "ENC-1", "MFA-1", "TRAIN-1"}


def test_match_json_lines_follow_the_contract(run, bank_file, tmp_path):
    import_with_statuses(run, bank_file)
    questions = tmp_path / "q.csv"
    questions.write_text("qid,question,notes\nQ1,Is customer data encrypted at rest?,x\n"
                         "Q2,What colour is the CEO's car?,y\nQ3,Do you have a bug bounty programme?,z\n")
    result = run("match", str(questions), "--json", "--top-k", "2")
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["qid"] for line in lines] == ["Q1", "Q2", "Q3"]
    for line in lines:
        assert set(line) == {"qid", "answer", "tier", "matches"}
        assert line["tier"] in ("high", "medium", "low", "none")
        assert len(line["matches"]) <= 2
        scores = [m["score"] for m in line["matches"]]
        assert scores == sorted(scores, reverse=True)
        assert (line["answer"] is None) == (line["tier"] in ("low", "none"))
    assert lines[0]["matches"][0]["id"] == "ENC-1"
    # Draft entries never answer.
    assert all(m["id"] != "DRAFT-1" for line in lines for m in line["matches"])


def test_match_a_single_question(run, bank_file):
    import_with_statuses(run, bank_file)
    result = run("match", "--question", "Is client data used for model training?", "--json")
    line = json.loads(result.output)
    assert line["answer"] == "TRAIN-1" and line["tier"] in ("high", "medium")


@pytest.mark.parametrize(
    "args,message",
    [
        (("bank", "import", "missing.csv"), "No such file"),
        (("bank", "import", "bank.txt"), "cannot tell the format"),
        (("match",), "give either FILE or --question"),
        (("match", "q.csv"), "needs the columns qid,question"),
    ],
)
def test_errors_are_one_line_without_traceback(run, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bank.txt").write_text("x")
    (tmp_path / "q.csv").write_text("id,text\n1,hello\n")
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_bad_import_names_the_row_and_keeps_the_bank(run, bank_file, tmp_path):
    run("bank", "import", str(bank_file))
    bad = tmp_path / "bad.csv"
    bad.write_text("id,question,answer\nNEW-1,A new question?,An answer.\nNEW-2,,Another.\n")
    result = run("bank", "import", str(bad))
    assert result.exit_code == 1
    assert "row 3: question is empty" in result.output
    assert len(json.loads(run("bank", "list", "--json").output)) == 4


@pytest.mark.model
def test_the_installed_command_matches_with_the_real_model(tmp_path, bank_file):
    """Whole process, real bundled model, real SQLite file: what a user runs."""
    env = dict(os.environ, AIMSQ_DB=str(tmp_path / "real.db"))
    aimsq = [sys.executable, "-m", "questionnaire"]
    subprocess.run([*aimsq, "bank", "import", str(bank_file), "--approve"], check=True, env=env, capture_output=True)
    out = subprocess.run([*aimsq, "match", "--question", "Is data stored encrypted?", "--json"],
                         check=True, env=env, capture_output=True, text=True)
    line = json.loads(out.stdout)
    assert line["matches"][0]["id"] == "ENC-1"
    bad = subprocess.run([*aimsq, "match", "nope.csv"], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and bad.stderr.strip().startswith("Error:") and "Traceback" not in bad.stderr

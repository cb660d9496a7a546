"""The `aimsq` command-line contract: sub-commands, JSON shapes, errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


BANK_CSV = (
    "id,question,answer,short_answer,variants,status\n"
    "ENC-1,Do you encrypt customer data at rest?,Yes: AES-256.,Yes,Is stored data encrypted?,approved\n"
    "TRAIN-1,Do you use customer data to train your AI models?,No.,No,Is client data used for model training?,approved\n"
    "MFA-1,Do you enforce multi-factor authentication for staff?,Yes.,Yes,,approved\n"
    "DRAFT-1,Do you have a bug bounty programme?,Not yet.,No,,draft\n"
)


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
    aimsq = [sys.executable, "-m", "cli"]
    subprocess.run([*aimsq, "bank", "import", str(bank_file), "--approve"], check=True, env=env, capture_output=True)
    out = subprocess.run([*aimsq, "match", "--question", "Is data stored encrypted?", "--json"],
                         check=True, env=env, capture_output=True, text=True)
    line = json.loads(out.stdout)
    assert line["matches"][0]["id"] == "ENC-1"
    bad = subprocess.run([*aimsq, "match", "nope.csv"], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and bad.stderr.strip().startswith("Error:") and "Traceback" not in bad.stderr


MATCH_TEXTS = {
    "cp1252": ["Chiffrez-vous les données au repos ?", "Avez-vous désigné un délégué à la protection des données ?"],
    "cp1251": ["Шифруются ли данные при хранении?", "Назначен ли ответственный за защиту данных?"],
    "cp932": ["保存データは暗号化されていますか？", "データ保護責任者は任命されていますか？"],
}


@pytest.mark.parametrize("encoding, label", [("cp1252", "Windows-1252"), ("cp1251", "Windows-1251"),
                                             ("cp932", "Shift-JIS")])
def test_match_reads_a_code_page_csv_and_names_the_encoding(run, bank_file, tmp_path, encoding, label):
    """Issue 9: a cp1252 file given to `aimsq match` was read as UTF-16 (Chinese
    characters); cp1251 / Shift-JIS were refused. Now each is decoded and the
    encoding is named on stderr."""
    from cli.core import read_question_csv

    texts = MATCH_TEXTS[encoding]
    path = tmp_path / "q.csv"
    path.write_bytes(("qid,question\n" + "".join(f"Q{i},{t}\n" for i, t in enumerate(texts, 1))).encode(encoding))
    assert read_question_csv(path) == [(f"Q{i}", t, None) for i, t in enumerate(texts, 1)]
    run("bank", "import", str(bank_file))
    result = run("match", str(path), "--json")
    assert result.exit_code == 0
    assert [json.loads(line)["qid"] for line in result.stdout.splitlines()] == ["Q1", "Q2"]
    assert label in result.stderr and "q.csv" in result.stderr


def test_match_refuses_binary_and_utf32_with_a_message(run, tmp_path):
    (tmp_path / "bin.csv").write_bytes(b"qid,question\n" + bytes(range(256)) * 8)
    (tmp_path / "u32.csv").write_bytes("qid,question\nQ1,Do you encrypt?\n".encode("utf-32"))
    for name, words in (("bin.csv", "binary data"), ("u32.csv", "UTF-32")):
        result = run("match", str(tmp_path / name))
        assert result.exit_code == 1 and words in result.output and "Traceback" not in result.output


def test_bank_import_warns_about_an_inferred_encoding(run, tmp_path):
    path = tmp_path / "bank-cp1252.csv"
    path.write_bytes("id,question,answer\nFR-1,Chiffrez-vous les données ?,Oui — toujours.\n".encode("cp1252"))
    result = run("bank", "import", str(path))
    assert result.exit_code == 0 and "1 added" in result.stdout
    assert "Windows-1252" in result.stderr
    assert json.loads(run("bank", "list", "--json").stdout)[0]["question"] == "Chiffrez-vous les données ?"


def test_bank_export_csv_neutralises_formula_answers(run, tmp_path):
    path = tmp_path / "bank.json"
    path.write_text(json.dumps([{"id": "L-1", "question": "Where is your policy?",
                                 "answer": '=HYPERLINK("http://evil.example","policy")'}]))
    run("bank", "import", str(path))
    out = tmp_path / "out.csv"
    run("bank", "export", str(out))
    assert "'=HYPERLINK(" in out.read_text() and ',=HYPERLINK(' not in out.read_text()
    run("bank", "import", str(out))
    assert json.loads(run("bank", "list", "--json").stdout)[0]["answer"].startswith("=HYPERLINK(")

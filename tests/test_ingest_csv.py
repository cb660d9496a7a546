"""ingest.csv_format: reading and writing CSV questionnaires."""
from __future__ import annotations

import csv
import io

import pytest

from ingest import read_questionnaire, write_answers
from ingest.csv_format import decode, neutralise
from ingest.errors import ExportError, FileTooLarge, IngestError
from ingest.model import AnswerFill, IngestHints


def read(data: bytes, **hints):
    return read_questionnaire(io.BytesIO(data), "q.csv", IngestHints(**hints) if hints else None)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters(delimiter):
    rows = [["ID", "Question", "Answer", "Comment"], ["1.1", "Do you encrypt, at rest; and in transit?", "", ""],
            ["1.2", "Do you log access?", "Yes", "SIEM"]]
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter).writerows(rows)
    result = read(buf.getvalue().encode())
    assert result.layout["delimiter"] == delimiter
    assert [q.text for q in result.questions] == ["Do you encrypt, at rest; and in transit?", "Do you log access?"]
    assert result.questions[1].existing_answer == "Yes" and result.questions[1].existing_comment == "SIEM"
    assert result.questions[0].answer_at.to_json() == {"row": 2, "column": "Answer"}
    assert result.questions[0].comment_at.to_json() == {"row": 2, "column": "Comment"}


def test_multiline_fields_count_as_one_row():
    data = b'ID,Question,Answer\nQ1,"Describe your backups:\nfrequency and retention.",\nQ2,Do you test restores?,\n'
    qs = read(data).questions
    assert qs[0].text == "Describe your backups:\nfrequency and retention."
    assert [q.answer_at.row for q in qs] == [2, 3]


def test_questions_without_answer_column_get_one_appended():
    data = "Question\r\nDo you encrypt backups?\r\nHow often do you patch?\r\n".encode("utf-8-sig")
    result = read(data)
    assert [q.answer_at.to_json() for q in result.questions] == [{"row": 2, "column": "Answer"}, {"row": 3, "column": "Answer"}]
    out = write_answers(data, "q.csv", [AnswerFill(result.questions[0], "Yes", "Nightly, AES-256.")])
    assert out.startswith(b"\xef\xbb\xbf")
    text = out[3:].decode()
    assert text == "Question,Answer\r\nDo you encrypt backups?,\"Yes. Nightly, AES-256.\"\r\nHow often do you patch?\r\n"


def test_write_keeps_encoding_delimiter_and_other_fields():
    original = "ID;Question;Réponse;Commentaire\n1;Chiffrez-vous les données ?;;\n2;Journalisez-vous ?;Oui;\"déjà; fait\"\n"
    data = original.encode("cp1252")
    result = read(data)
    assert decode(data).encoding == "cp1252"
    q = result.questions[0]
    out = write_answers(data, "q.csv", [AnswerFill(q, "Yes", "AES-256 partout.")])
    text = out.decode("cp1252")
    assert text == "ID;Question;Réponse;Commentaire\n1;Chiffrez-vous les données ?;Yes;AES-256 partout.\n2;Journalisez-vous ?;Oui;\"déjà; fait\"\n"


def test_utf16_round_trip_keeps_bom():
    data = "\ufeffID\tQuestion\tAnswer\nA1\t¿Cifran los datos?\t\n".encode("utf-16-le")
    result = read(data)
    out = write_answers(data, "q.csv", [AnswerFill(result.questions[0], "Yes", None)])
    assert out[:2] == b"\xff\xfe"
    assert out.decode("utf-16") == "ID\tQuestion\tAnswer\nA1\t¿Cifran los datos?\tYes\n"


@pytest.mark.parametrize("answer", ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_formula_like_answers_neutralised(answer):
    data = b"ID,Question,Answer\nQ1,Do you use MFA?,\n"
    q = read(data).questions[0]
    out = write_answers(data, "q.csv", [AnswerFill(q, None, answer)])
    row = list(csv.reader(io.StringIO(out.decode(), newline="")))[1]
    assert row[2] == "'" + answer
    assert neutralise("plain") == "plain"


def test_answer_too_long_or_unencodable_fails_loudly():
    data = "ID,Question,Answer\nQ1,Do you use MFA for café staff?,\n".encode("cp1252")
    q = read(data).questions[0]
    with pytest.raises(ExportError, match="Q1.*32,767"):
        write_answers(data, "q.csv", [AnswerFill(q, None, "x" * 40_000)])
    with pytest.raises(ExportError, match="encoding"):
        write_answers(data, "q.csv", [AnswerFill(q, None, "Uses ≥ 2 factors 🔐")])


def test_cp1252_undefined_bytes_round_trip():
    data = b"ID,Question,Answer\nQ1,Odd \x81 byte?,\n"
    q = read(data).questions[0]
    assert q.text == "Odd \x81 byte?"
    out = write_answers(data, "q.csv", [AnswerFill(q, "No", None)])
    assert out == b"ID,Question,Answer\nQ1,Odd \x81 byte?,No\n"


def test_hints_by_name_letter_and_number():
    data = b"Num,Ask,Reply,Why\n1,Is it so?,,\n2,Is that so?,,\n"
    result = read(data, question_col="Ask", answer_col="C", comment_col="4")
    assert result.questions[0].answer_at.column == "Reply" and result.questions[0].comment_at.column == "Why"
    with pytest.raises(IngestError, match="no column"):
        read(data, answer_col="Nope")


def test_big_and_small_files_parsed_at_once_do_not_cut_each_other_off():
    """csv's field limit is process-wide; the web app parses uploads in threads."""
    from concurrent.futures import ThreadPoolExecutor

    big = f'ID,Question,Answer\nQ1,"{"y" * 300_000}?",\n'.encode()
    small = b"ID,Question,Answer\nQ1,Do you encrypt data?,\n"
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(read, [big, small] * 8))
    assert all(len(r.questions) == 1 for r in results)
    assert all(any("300,001 characters" in w for w in r.warnings) for r in results[::2])
    assert csv.field_size_limit() >= 300_000  # raised, never lowered back under another parse


def test_empty_csv():
    result = read(b"\n\n")
    assert result.questions == [] and result.warnings


def test_no_fills_returns_the_file_unchanged():
    data = b'ID,Question,Answer\r\nQ1,"Quoted, unnecessarily?",\r\n'
    assert write_answers(data, "q.csv", []) == data


def test_yes_no_mark_columns():
    data = b"No.,Question,Yes,No,Comments\n1,Do you encrypt laptops?,,X,\n2,Do you use SSO?,,,\n"
    qs = read(data).questions
    assert qs[0].existing_answer == "No" and qs[0].options == ["Yes", "No"]
    assert qs[0].answer_at.to_json()["marks"]["Yes"] == {"row": 2, "column": "Yes"}
    out = write_answers(data, "q.csv", [AnswerFill(qs[0], "Yes", "BitLocker."), AnswerFill(qs[1], "No", None)])
    assert out == b"No.,Question,Yes,No,Comments\n1,Do you encrypt laptops?,X,,BitLocker.\n2,Do you use SSO?,,X,\n"


# ---- shape caps (issue 13 point 4, SECURITY.md case 31) --------------------------------------------------


def test_a_200000_column_csv_is_refused_naming_the_column_limit():
    """1.7 MB, one record of 200,000 fields: held a worker for minutes (column
    names were deduplicated against a list). Refused at the first record; the
    time is measured in bench/ingest_bench.py, not here."""
    data = (",".join(f"c{i}" for i in range(200_000)) + "\n" + ",".join("x" * 7 for _ in range(200_000)) + "\n").encode()
    with pytest.raises(FileTooLarge) as err:
        read(data)
    message = str(err.value)
    assert "200,000 columns" in message and "16,384" in message and "Row 1" in message


def test_total_cells_are_capped():
    """Many rows of many fields: the cell cap (shared with workbooks) names itself."""
    from ingest.csv_format import read_csv
    from ingest.guard import Limits

    rows = "".join(f"Q{i},Question {i}?," + ",".join("x" * 40) + "\n" for i in range(60))
    data = ("ID,Question,Answer," + ",".join(f"c{j}" for j in range(40)) + "\n" + rows).encode()
    with pytest.raises(FileTooLarge, match="more than 1,000 cells"):
        read_csv(data, limits=Limits(max_cells=1_000))
    assert len(read_csv(data, limits=Limits(max_cells=3_000)).questions) == 60


def test_a_csv_at_the_column_limit_is_still_read():
    data = ("ID,Question,Answer," + ",".join(f"Extra {j}" for j in range(16_381)) + "\n"
            "Q-1,Do you encrypt data at rest?,\n").encode()
    result = read(data)
    assert [q.text for q in result.questions] == ["Do you encrypt data at rest?"]


# ---- odd text flagged as in XLSX (issue 13 point 8, SECURITY.md case 35) ----------------------------------


def test_long_questions_and_control_characters_are_flagged_as_in_xlsx():
    long_q = "Do you " + "really " * 5713 + "encrypt?"
    data = f'ID,Question,Answer\nQ-1,"{long_q}",\nQ-2,Bell\x07 question?,\nQ-3,Plain question?,\n'.encode()
    result = read(data)
    texts = [q.text for q in result.questions]
    assert texts == [long_q, "Bell\x07 question?", "Plain question?"]  # read in full, never cut
    assert any("32,767" in w and "Q-1" in w for w in result.warnings)
    assert any("control characters" in w and "Q-2" in w for w in result.warnings)
    notes = [q.notes for q in result.questions]
    assert any("32,767" in n for n in notes[0]) and "the question text contains control characters" in notes[1]
    assert notes[2] == []

"""Reading customer questionnaires and writing the answers back into them.

    read_questionnaire(fp, filename=None, hints=None) -> IngestResult
    write_answers(data, filename, fills) -> bytes
    write_answers_report(data, filename, fills) -> (bytes, ExportReport)
    detect_format(data, filename=None) -> "xlsx" | "csv" | "docx"

Every file goes through the upload guard (`ingest.guard`) first; the type
comes from the content, the file name is only used in messages. Errors are
`ingest.errors.IngestError` subclasses whose message a sales engineer can
act on; low-level parser exceptions never escape (they become DamagedFile).
"""
from __future__ import annotations

import struct
import zipfile
import zlib
from contextlib import contextmanager
from typing import IO, Iterator
from xml.parsers.expat import ExpatError

from ingest.errors import DAMAGED_MESSAGE, DamagedFile, FileTooLarge, IngestError
from ingest.fill import ExportReport
from ingest.guard import Limits, _display_name, check_upload
from ingest.model import AnswerFill, IngestHints, IngestResult

__all__ = ["read_questionnaire", "write_answers", "write_answers_report", "detect_format"]

# What a damaged file makes the parsers raise (python-docx and lxml included).
_LOW_LEVEL = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, ValueError, IndexError, ExpatError,
              UnicodeDecodeError, OSError, struct.error, LookupError, AssertionError)


def detect_format(data: bytes, filename: str | None = None) -> str:
    """"xlsx", "csv" or "docx", from the content (the guard's checks included).

    Raises the guard's errors for files that are none of these or unsafe.
    """
    return check_upload(data, filename).format


def read_questionnaire(fp: IO[bytes] | bytes, filename: str | None = None, hints: IngestHints | None = None) -> IngestResult:
    """The questions of a questionnaire file and where each answer goes.

    `fp` is a binary file object (or bytes). Raises IngestError subclasses:
    FileTooLarge, UnsafeFile, DamagedFile, EncryptedFile, LegacyFormat,
    UnsupportedFormat, or IngestError for a bad hint.
    """
    limits = Limits.from_env()
    data = _read_all(fp, limits)
    info = check_upload(data, filename, limits)
    with _damaged_on_parser_errors():
        if info.format == "xlsx":
            from ingest.xlsx_format import read_xlsx

            result = read_xlsx(data, hints, limits)
        elif info.format == "csv":
            from ingest.csv_format import read_csv

            result = read_csv(data, hints, limits)
        else:
            from ingest.docx_format import read_docx

            result = read_docx(data, hints, checked=info.ooxml)
    if len(result.questions) > limits.max_questions:
        raise FileTooLarge(
            f"{_display_name(filename)} holds {len(result.questions):,} questions; the limit is "
            f"{limits.max_questions:,} per file, far more than any questionnaire. Split it into smaller files "
            "(or delete the sheets that are not questions) and upload it again."
        )
    return result


def write_answers(data: bytes, filename: str | None, fills: list[AnswerFill]) -> bytes:
    """A filled copy of `data`: the answers in place, nothing else changed.

    Macro-enabled files come back without their macros (save them as .xlsx /
    .docx). Raises ExportError when an answer cannot be written (too long for
    the format, a cell that is not there), or the guard's errors. What was
    written, kept and skipped is in `write_answers_report`.
    """
    return write_answers_report(data, filename, fills)[0]


def write_answers_report(data: bytes, filename: str | None, fills: list[AnswerFill]) -> tuple[bytes, ExportReport]:
    """(filled copy, report): as write_answers, plus one outcome per fill, in
    order: "written" (with each place that changed and its value), "kept"
    (the file already holds that answer) or "skipped" (with the reason: a
    dropdown that does not allow the value, a formula cell, a place that
    cannot take an answer, ...). `report.cells_written` is the number of
    places of the file that changed. Raises as write_answers.
    """
    limits = Limits.from_env()
    info = check_upload(data, filename, limits)
    with _damaged_on_parser_errors():
        if info.format == "xlsx":
            from ingest.xlsx_write import write_xlsx_report

            return write_xlsx_report(data, fills, limits)
        if info.format == "csv":
            from ingest.csv_format import write_csv_report

            return write_csv_report(data, fills, limits)
        from ingest.docx_format import write_docx_report

        return write_docx_report(data, fills, checked=info.ooxml)


@contextmanager
def _damaged_on_parser_errors() -> Iterator[None]:
    """What a damaged file makes a parser raise becomes DamagedFile; IngestError passes."""
    try:
        yield
    except IngestError:
        raise
    except _LOW_LEVEL as e:
        raise DamagedFile(DAMAGED_MESSAGE) from e
    except Exception as e:  # lxml's XMLSyntaxError, python-docx's PackageNotFoundError, ...
        if type(e).__module__.split(".")[0] in ("lxml", "docx", "openpyxl"):
            raise DamagedFile(DAMAGED_MESSAGE) from e
        raise


def output_suffix(data: bytes, filename: str | None = None) -> str:
    """The extension a filled copy of `data` must carry: ".xlsx", ".docx" or ".csv"
    (an .xlsm/.docm comes back without macros, so as .xlsx/.docx)."""
    return "." + detect_format(data, filename)


def _read_all(fp: IO[bytes] | bytes, limits: Limits) -> bytes:
    if isinstance(fp, (bytes, bytearray, memoryview)):
        return bytes(fp)
    data = fp.read(limits.max_upload_bytes + 1)
    if isinstance(data, str):
        raise IngestError("Open the file in binary mode ('rb').")
    return data

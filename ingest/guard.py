"""The upload guard: every customer file passes here before any parser sees it.

What it checks (../shared/docs/SECURITY.md cases 1-9):

- size of the upload (`Limits.max_upload_bytes`, env `AIMSQ_MAX_UPLOAD_MB`);
- the type from the content, never from the name: a ZIP package (XLSX, XLSM,
  DOCX, DOCM), an OLE compound file (`D0CF11E0`: an encrypted Office file or
  a legacy .xls/.doc), PDF, HTML, RTF, or plain text (CSV);
- zip bombs: member count, declared uncompressed size per member and in
  total, compression ratio, and a hard byte cap while decompressing (the
  sizes in a zip header are written by the attacker);
- damage: a truncated archive, a bad CRC or a missing part all give the same
  "the file is damaged" message;
- XML parts with a DOCTYPE or entity declaration (billion laughs, XXE) are
  rejected: Office never writes one. The check runs in the encoding a parser
  would use (`xml_encoding`: BOM, UTF-16/32 without one, UTF-7, ...), case 30;
- zip member names that could leave a folder (`..`, a leading `/`, `C:`, a backslash) are
  refused, and never copied by a writer (`safe_member_name`), case 35;
- shape (case 31): worksheets and cells in a workbook; paragraphs, cells per
  table row and a nesting-depth cap for DOCX parts, with a size cap
  (python-docx lifts libxml2's own limits with `huge_tree=True`), see
  `check_ooxml`. The readers cap rows per sheet, filled cells per row and
  questions per file with the same `Limits`;
- macros (case 29): VBA parts are found by relationship type and content
  type, not file name (`ingest.macros.macro_parts`), and `strip_macros`
  removes them.

The zip helpers the guard and the readers share are in `ingest.ooxml`: capped
member reads and a safe expat parser (`safe_expat_parser`) with the
same three protections as defusedxml's parser (no DTD, no entity
declarations, no external references) but without the pure-Python layer
that makes `defusedxml.ElementTree` three times slower on big sheets.
"""
from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass, field

import openpyxl

import aimsq_settings
from ingest.encoding import UTF32_MESSAGE, utf16_order, utf32_order
from ingest.errors import (
    DAMAGED_MESSAGE,
    DamagedFile,
    EncryptedFile,
    FileTooLarge,
    LegacyFormat,
    UnsafeFile,
    UnsupportedFormat,
)
from ingest.macros import macro_parts
from ingest.ooxml import _MAIN_TYPES, _bomb, iter_member, open_zip, read_member, safe_member_name, xml_encoding

# openpyxl parses with the standard library unless defusedxml is installed,
# and does not say so; refuse to run without it (SECURITY.md, "What the
# libraries do by default").
if not openpyxl.DEFUSEDXML:  # pragma: no cover - defusedxml is a dependency
    raise ImportError("openpyxl is not using defusedxml; install defusedxml before reading customer files")

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    """Caps on what a customer file may cost us. Defaults fit real questionnaires
    (the 15-sheet HECVAT is 1.3 MB zipped, 5 MB unzipped) with wide margins."""

    max_upload_bytes: int = 50 * 1024 * 1024
    max_members: int = 5_000
    max_member_bytes: int = 200 * 1024 * 1024  # any one part, uncompressed
    max_total_bytes: int = 500 * 1024 * 1024  # all parts, uncompressed
    max_ratio: int = 200  # uncompressed / compressed, for parts over ratio_floor_bytes
    ratio_floor_bytes: int = 5 * 1024 * 1024
    max_docx_part_bytes: int = 40 * 1024 * 1024  # python-docx lifts libxml2's size limits
    max_docx_depth: int = 256  # python-docx lifts libxml2's depth limit too
    max_sheet_rows: int = 100_000  # per sheet, counted while reading, never from <dimension>
    max_cells: int = 1_000_000  # cells in a workbook (the HECVAT has 20,000 filled); every field of a CSV
    max_csv_rows: int = 100_000
    max_csv_columns: int = 16_384  # fields in one CSV record: Excel's own column limit
    # Shape, not bytes (SECURITY.md case 31): each checked as the file is read,
    # so a file past one is refused after a fraction of its parts.
    max_sheets: int = 250  # worksheets in a workbook (the 15-sheet HECVAT is the largest we know)
    max_row_cells: int = 1_000  # filled cells in one row (XLSX) or cells in one table row (DOCX)
    max_docx_paragraphs: int = 200_000  # paragraphs in a Word part (table cells hold paragraphs too)
    max_questions: int = 10_000  # questions found in one file

    @classmethod
    def from_env(cls) -> "Limits":
        """Defaults, with the upload size from `AIMSQ_MAX_UPLOAD_MB` when set."""
        upload = aimsq_settings.max_upload_bytes()
        return cls() if upload is None else cls(max_upload_bytes=upload)


@dataclass
class OoxmlInfo:
    """What `check_ooxml` found in a package that passed every check."""

    kind: str  # "xlsx" | "docx"
    main_part: str  # e.g. "xl/workbook.xml"
    macro_enabled: bool = False
    members: dict[str, int] = field(default_factory=dict)  # name -> uncompressed size
    content_types: dict[str, str] = field(default_factory=dict)  # "/xl/workbook.xml" -> type (overrides)


@dataclass
class UploadInfo:
    """The result of `check_upload`: the detected format and, for packages, the details."""

    format: str  # "xlsx" | "docx" | "csv"
    macro_enabled: bool = False
    ooxml: OoxmlInfo | None = None

    @property
    def label(self) -> str:
        if self.format == "xlsx" and self.macro_enabled:
            return "xlsm"
        if self.format == "docx" and self.macro_enabled:
            return "docm"
        return self.format


def check_upload(data: bytes, filename: str | None = None, limits: Limits | None = None) -> UploadInfo:
    """Check an uploaded file and detect its type by content.

    Raises FileTooLarge, UnsafeFile, DamagedFile, EncryptedFile, LegacyFormat
    or UnsupportedFormat, each with a message a sales engineer can act on.
    """
    limits = limits or Limits.from_env()
    name = _display_name(filename)
    if len(data) > limits.max_upload_bytes:
        raise FileTooLarge(
            f"{name} is {len(data) / 1048576:.1f} MB; the limit is "
            f"{limits.max_upload_bytes / 1048576:.0f} MB. Remove images or unused sheets and try again."
        )
    if not data:
        raise DamagedFile(f"{name} is empty. " + DAMAGED_MESSAGE)
    head = data[:8]
    if head.startswith(OLE_SIGNATURE):
        _reject_ole(data, name)
    if head[:4] in ZIP_SIGNATURES:
        info = check_ooxml(data, limits, filename=filename)
        return UploadInfo(info.kind, info.macro_enabled, info)
    _reject_other_binary(data, name)
    return UploadInfo("csv")


def check_ooxml(data: bytes, limits: Limits | None = None, filename: str | None = None) -> OoxmlInfo:
    """Check an Office Open XML package (XLSX/XLSM/DOCX/DOCM) before parsing it.

    Every member is decompressed once with a hard byte cap, so the CRC of each
    is verified and no header can lie about sizes. XML parts may not declare a
    DOCTYPE or entities. Word parts must stay under `max_docx_part_bytes` and
    `max_docx_depth` levels of nesting. Callable on its own (the DOCX reader
    does) — raises DamagedFile, UnsafeFile, FileTooLarge or UnsupportedFormat.
    """
    limits = limits or Limits.from_env()
    name = _display_name(filename)
    zf = open_zip(data)
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise UnsafeFile(
            f"{name} holds {len(infos):,} parts (the limit is {limits.max_members:,}); "
            "this is not an ordinary Office file, so it was not opened."
        )
    for info in infos:
        if not safe_member_name(info.filename):
            raise UnsafeFile(
                f"{name} holds a part named {info.filename[:80]!r}, a path that points outside the package "
                "(Office never writes one, and unpacking it could overwrite other files); it was not opened."
            )
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise EncryptedFile(f"{name} is an encrypted archive. Remove the password and upload it again.")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise _bomb(name)
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names:
        raise _not_office(data, names, name)
    content_types = _read_content_types(zf, limits)
    kind, main_part, macro = _main_part(zf, names, content_types, name, limits)
    if kind == "xlsx":
        sheets = sum(1 for n in names if _is_worksheet(n, content_types))
        if sheets > limits.max_sheets:
            raise FileTooLarge(
                f"{name} has {sheets:,} sheets (the limit is {limits.max_sheets:,}), far more than a questionnaire; "
                "it was not read. Delete the sheets that hold no questions and upload it again."
            )
    # Declared sizes first (nothing decompressed yet), then every member read with a cap.
    for info in infos:
        is_word_part = kind == "docx" and info.filename.startswith("word/") and _is_xml_name(info.filename)
        cap = limits.max_docx_part_bytes if is_word_part else limits.max_member_bytes
        if info.file_size > cap:
            raise UnsafeFile(
                f"{name}: the part {info.filename} unpacks to {info.file_size / 1048576:.0f} MB, more than a "
                f"questionnaire ever needs ({cap / 1048576:.0f} MB); it was not opened."
            )
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise _bomb(name)
    members: dict[str, int] = {}
    cells = 0
    for info in infos:
        if info.is_dir():
            continue
        is_word_part = kind == "docx" and info.filename.startswith("word/") and _is_xml_name(info.filename)
        cap = limits.max_docx_part_bytes if is_word_part else limits.max_member_bytes
        if is_word_part:
            part = read_member(zf, info.filename, cap)
            _check_xml_part(part, info.filename, name)
            _check_shape(_as_text(part, info.filename, name), info.filename, name, limits)
        elif _is_xml_name(info.filename):
            # streamed: a 40 MB sheet is never held whole; worksheet cells are counted on the way
            cells += _scan_xml_part(zf, info.filename, name, cap, count_cells=kind == "xlsx" and _is_worksheet(info.filename, content_types))
            if cells > limits.max_cells:
                raise FileTooLarge(
                    f"{name} has more than {limits.max_cells:,} cells — too many rows or columns for a "
                    "questionnaire; it was not read. Delete the unused rows and the sheets that hold data rather "
                    "than questions, and upload it again."
                )
        else:
            for _ in iter_member(zf, info.filename, cap):
                pass  # decompress to verify the CRC; the bytes are not kept
        members[info.filename] = info.file_size
    macro = macro or bool(macro_parts(zf, content_types))
    return OoxmlInfo(kind, main_part, macro, members, content_types)


# ---- internals -------------------------------------------------------------------


def _display_name(filename: str | None) -> str:
    if not filename:
        return "The file"
    return os.path.basename(str(filename).replace("\\", "/")) or "The file"


def _is_xml_name(member: str) -> bool:
    return member.endswith((".xml", ".rels", ".vml")) or member == "[Content_Types].xml"


def _as_text(part: bytes, member: str, name: str, encoding: str | None = None) -> bytes:
    """The part as UTF-8 bytes when its encoding is not ASCII-compatible (UTF-16
    with or without a mark, UTF-32, UTF-7, EBCDIC), else the part itself."""
    encoding = encoding if encoding is not None else xml_encoding(part[:256])
    if encoding is None:
        return part
    try:
        return part.decode(encoding, "replace").lstrip("\ufeff").encode("utf-8")
    except LookupError:
        raise UnsafeFile(
            f"{name}: the part {member} is written in a text encoding ({encoding}) that Office never uses; "
            "it was not opened. Open the file in Excel or Word, save it again and upload that copy."
        ) from None


def _check_xml_part(part: bytes, member: str, name: str) -> None:
    # The bytes as they are, and decoded when the encoding is not ASCII-compatible:
    # a declaration found either way is refused.
    if _DECLARATION.search(part) or _DECLARATION.search(_as_text(part, member, name)):
        raise UnsafeFile(
            f"{name}: the part {member} declares an XML document type or entities, which Office never "
            "writes (this is how 'billion laughs' and external-entity attacks work); it was not opened."
        )


def _scan_xml_part(zf: zipfile.ZipFile, member: str, name: str, cap: int, count_cells: bool = False) -> int:
    """_check_xml_part over a stream, in chunks that overlap by a few bytes.
    With `count_cells`, returns how many `<c>` elements (worksheet cells) it holds."""
    tail = b""
    first = True
    cells = 0
    for block in iter_member(zf, member, cap):
        if first and xml_encoding(block[:256]) is not None:
            # UTF-16, UTF-7 and the like (rare): check it whole, decoded (the cap bounds it)
            text = _as_text(b"".join(iter_member(zf, member, cap)), member, name)
            _check_xml_part(text, member, name)
            return text.count(b"<c ") + text.count(b"<c>") if count_cells else 0
        first = False
        window = tail + block
        if _DECLARATION.search(window):
            _check_xml_part(window, member, name)
        if count_cells:  # a tag split between two blocks is missed: the reader counts exactly
            cells += block.count(b"<c ") + block.count(b"<c>")
        tail = window[-16:]
    return cells


def _is_worksheet(member: str, content_types: dict[str, str]) -> bool:
    ctype = content_types.get("/" + member, "")
    return ctype.endswith(".worksheet+xml") or (not ctype and member.startswith("xl/worksheets/"))


_SHAPE_TAG = re.compile(rb"<(/?)(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)\b[^>]*?(/?)>")


def _check_shape(part: bytes, member: str, name: str, limits: Limits) -> None:
    """Nesting depth, paragraphs, and cells per table row of a Word part, in one
    pass over the tags (python-docx would parse all of it first)."""
    depth = paragraphs = 0
    row_cells: list[int] = []  # a count per open table row (tables nest)
    if part.count(b"<w:p>") + part.count(b"<w:p ") > limits.max_docx_paragraphs:
        paragraphs = limits.max_docx_paragraphs  # the usual prefix, counted fast: refused at the first <p> below
    for m in _SHAPE_TAG.finditer(part):
        closing, local, empty = m.group(1), m.group(2), m.group(3)
        if closing:
            depth -= 1
            if local == b"tr" and row_cells:
                row_cells.pop()
            continue
        if local == b"p":
            paragraphs += 1
            if paragraphs > limits.max_docx_paragraphs:
                raise FileTooLarge(
                    f"{name}: the part {member} holds more than {limits.max_docx_paragraphs:,} paragraphs, far more "
                    "than a questionnaire; it was not read. Split the document and upload the questionnaire part."
                )
        elif local == b"tr" and not empty:
            row_cells.append(0)
        elif local == b"tc" and row_cells:
            row_cells[-1] += 1
            if row_cells[-1] > limits.max_row_cells:
                raise FileTooLarge(
                    f"{name}: a table in {member} has a row of more than {limits.max_row_cells:,} cells (Word allows "
                    "63 columns); it was not read. Ask the sender for the original document."
                )
        if not empty:
            depth += 1
            if depth > limits.max_docx_depth:
                raise UnsafeFile(
                    f"{name}: the part {member} nests elements more than {limits.max_docx_depth} levels deep, "
                    "far beyond any real document; it was not opened."
                )


def _read_content_types(zf: zipfile.ZipFile, limits: Limits) -> dict[str, str]:
    import defusedxml.ElementTree as DET

    raw = read_member(zf, "[Content_Types].xml", limits.max_member_bytes)
    _check_xml_part(raw, "[Content_Types].xml", "The file")
    try:
        root = DET.fromstring(raw, forbid_dtd=True)
    except Exception as e:  # ParseError and defusedxml's own errors
        if isinstance(e, (DET.DTDForbidden, DET.EntitiesForbidden, DET.ExternalReferenceForbidden)):
            raise UnsafeFile("The file declares XML entities (a known attack); it was not opened.") from e
        raise DamagedFile(DAMAGED_MESSAGE) from e
    out: dict[str, str] = {}
    for el in root:
        local = el.tag.rsplit("}", 1)[-1]
        if local == "Override" and el.get("PartName"):
            out[el.get("PartName")] = el.get("ContentType", "")
        elif local == "Default" and el.get("Extension"):
            out["*." + el.get("Extension").lower()] = el.get("ContentType", "")
    return out


def _main_part(zf, names, content_types, name, limits) -> tuple[str, str, bool]:
    """(kind, main part name, macro-enabled) from _rels/.rels and the content types."""
    import defusedxml.ElementTree as DET

    target = None
    if "_rels/.rels" in names:
        raw = read_member(zf, "_rels/.rels", limits.max_member_bytes)
        _check_xml_part(raw, "_rels/.rels", name)
        try:
            root = DET.fromstring(raw, forbid_dtd=True)
        except Exception as e:
            raise DamagedFile(DAMAGED_MESSAGE) from e
        for rel in root:
            if rel.get("Type", "").endswith("/officeDocument") and rel.get("TargetMode") != "External":
                target = rel.get("Target", "").lstrip("/")
                break
    if target is None:
        for guess in ("xl/workbook.xml", "word/document.xml"):
            if guess in names:
                target = guess
                break
    if target is None:
        raise _not_office(b"", names, name)
    if target not in names:
        raise DamagedFile(DAMAGED_MESSAGE)
    ctype = content_types.get("/" + target, "")
    if ctype in _MAIN_TYPES:
        kind, macro = _MAIN_TYPES[ctype]
    elif "spreadsheetml" in ctype or "ms-excel" in ctype or target.startswith("xl/"):
        if target.endswith(".bin") or "binary" in ctype:
            raise UnsupportedFormat(
                f"{name} is an Excel binary workbook (.xlsb). Open it in Excel and save it as .xlsx."
            )
        kind, macro = "xlsx", "macroEnabled" in ctype
    elif "wordprocessingml" in ctype or "ms-word" in ctype or target.startswith("word/"):
        kind, macro = "docx", "macroEnabled" in ctype
    elif "presentationml" in ctype or target.startswith("ppt/"):
        raise UnsupportedFormat(f"{name} is a PowerPoint presentation, not a questionnaire. Upload an .xlsx, .docx or .csv file.")
    else:
        raise _not_office(b"", names, name)
    return kind, target, macro


def _not_office(data: bytes, names: set[str], name: str) -> UnsupportedFormat:
    if "mimetype" in names or "content.xml" in names:
        return UnsupportedFormat(
            f"{name} is an OpenDocument file (LibreOffice/OpenOffice). Save it as .xlsx or .docx and upload it again."
        )
    return UnsupportedFormat(
        f"{name} is a zip archive, not an Excel or Word file. Upload the questionnaire itself (.xlsx, .docx or .csv)."
    )


def _reject_ole(data: bytes, name: str) -> None:
    """OLE compound file: encrypted OOXML or a legacy binary Office file; never read."""

    def has(stream: str) -> bool:
        return stream.encode("utf-16-le") in data

    if has("EncryptedPackage") or has("EncryptionInfo"):
        raise EncryptedFile(
            f"{name} is password-protected (encrypted). Open it, remove the password "
            "(File > Info > Protect > Encrypt with Password), save, and upload it again."
        )
    if has("Workbook") or has("Book"):
        raise LegacyFormat(
            f"{name} is in the old Excel format (.xls). Open it in Excel and save it as .xlsx, then upload it again."
        )
    if has("WordDocument"):
        raise LegacyFormat(
            f"{name} is in the old Word format (.doc). Open it in Word and save it as .docx, then upload it again."
        )
    raise LegacyFormat(
        f"{name} is an old-style Office file (OLE), not .xlsx, .docx or .csv. Save it in a current format and upload it again."
    )


def _reject_other_binary(data: bytes, name: str) -> None:
    """Anything that is not a package must be text to be read as CSV."""
    head = data[:2048]
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith(b"%pdf"):
        raise UnsupportedFormat(f"{name} is a PDF. Ask for the questionnaire as .xlsx or .docx, or copy it into one.")
    if stripped.startswith(b"{\\rtf"):
        raise UnsupportedFormat(f"{name} is an RTF document. Open it in Word and save it as .docx.")
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")) or utf32_order(head):
        raise UnsupportedFormat(UTF32_MESSAGE.format(name=name))
    text_head = head
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text_head = head[2 : 2 + (len(head) - 2) // 2 * 2].decode("utf-16-le" if head[:2] == b"\xff\xfe" else "utf-16-be", "replace").encode("utf-8", "replace")
        except LookupError:  # pragma: no cover
            text_head = head
    low = text_head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if low.startswith((b"<!doctype html", b"<html")) or b"<html" in low[:1024] or b"<table" in low[:1024]:
        raise UnsupportedFormat(
            f"{name} is a web page (HTML), not a spreadsheet, even if its name says otherwise. "
            "Open it in Excel and save it as .xlsx, then upload it again."
        )
    if low.startswith(b"<?xml") and (b"urn:schemas-microsoft-com:office:spreadsheet" in low or b"<workbook" in low):
        raise UnsupportedFormat(
            f"{name} is an 'XML Spreadsheet 2003' file. Open it in Excel and save it as .xlsx, then upload it again."
        )
    if b"\x00" in head and head[:2] not in (b"\xff\xfe", b"\xfe\xff") and not utf16_order(head):
        raise UnsupportedFormat(
            f"{name} is not a questionnaire file aimsq can read. Upload an .xlsx, .docx or .csv file."
        )

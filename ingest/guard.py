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
  rejected: Office never writes one;
- DOCX parts: a size cap and a nesting-depth cap (python-docx lifts libxml2's
  own limits with `huge_tree=True`), see `check_ooxml`.

It also gives the parsers a safe expat parser (`safe_expat_parser`) with the
same three protections as defusedxml's parser (no DTD, no entity
declarations, no external references) but without the pure-Python layer
that makes `defusedxml.ElementTree` three times slower on big sheets.
"""
from __future__ import annotations

import io
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Iterator
from xml.parsers import expat

import openpyxl

from ingest.encoding import UTF32_MESSAGE, utf16_order, utf32_order
from ingest.errors import (
    DamagedFile,
    EncryptedFile,
    FileTooLarge,
    LegacyFormat,
    UnsafeFile,
    UnsupportedFormat,
)

# openpyxl parses with the standard library unless defusedxml is installed,
# and does not say so; refuse to run without it (SECURITY.md, "What the
# libraries do by default").
if not openpyxl.DEFUSEDXML:  # pragma: no cover - defusedxml is a dependency
    raise ImportError("openpyxl is not using defusedxml; install defusedxml before reading customer files")

DAMAGED_MESSAGE = (
    "The file is damaged and cannot be read (it may be incomplete or corrupted). "
    "Ask the sender for a fresh copy, or open it in Excel or Word and save it again."
)

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")

_MAIN_TYPES = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": ("xlsx", False),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": ("xlsx", False),
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": ("xlsx", True),
    "application/vnd.ms-excel.template.macroEnabled.main+xml": ("xlsx", True),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": ("docx", False),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml": ("docx", False),
    "application/vnd.ms-word.document.macroEnabled.main+xml": ("docx", True),
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml": ("docx", True),
}
_PLAIN_MAIN_TYPE = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
}
_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_TAG = re.compile(rb"<(/?)[A-Za-z_][^>]*?(/?)>")


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
    max_cells: int = 2_000_000  # non-empty cells in a workbook; every field of a CSV
    max_csv_rows: int = 100_000
    max_csv_columns: int = 16_384  # fields in one CSV record: Excel's own column limit

    @classmethod
    def from_env(cls) -> "Limits":
        """Defaults, with the upload size from `AIMSQ_MAX_UPLOAD_MB` when set."""
        value = os.environ.get("AIMSQ_MAX_UPLOAD_MB")
        if value:
            try:
                return cls(max_upload_bytes=int(float(value) * 1024 * 1024))
            except (ValueError, OverflowError):  # "abc", "nan", "inf": the default, as when unset
                pass
        return cls()


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
    for info in infos:
        if info.is_dir():
            continue
        is_word_part = kind == "docx" and info.filename.startswith("word/") and _is_xml_name(info.filename)
        cap = limits.max_docx_part_bytes if is_word_part else limits.max_member_bytes
        if is_word_part:
            part = read_member(zf, info.filename, cap)
            _check_xml_part(part, info.filename, name)
            _check_depth(part, info.filename, name, limits.max_docx_depth)
        elif _is_xml_name(info.filename):
            _scan_xml_part(zf, info.filename, name, cap)  # streamed: a 40 MB sheet is never held whole
        else:
            for _ in iter_member(zf, info.filename, cap):
                pass  # decompress to verify the CRC; the bytes are not kept
        members[info.filename] = info.file_size
    return OoxmlInfo(kind, main_part, macro, members, content_types)


# ---- zip helpers the readers share ---------------------------------------------


def open_zip(data: bytes) -> zipfile.ZipFile:
    """A ZipFile over `data`, or DamagedFile."""
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as e:
        raise DamagedFile(DAMAGED_MESSAGE) from e


def iter_member(zf: zipfile.ZipFile, member: str, cap: int, chunk: int = 1 << 16) -> Iterator[bytes]:
    """Decompress one member in chunks, stopping with UnsafeFile past `cap` bytes.

    zipfile checks the CRC when the member ends; any low-level error
    (truncation, bad CRC, bad deflate stream) becomes DamagedFile.
    """
    seen = 0
    try:
        with zf.open(member) as fp:
            while True:
                block = fp.read(chunk)
                if not block:
                    return
                seen += len(block)
                if seen > cap:
                    raise _bomb(None)
                yield block
    except KeyError as e:
        raise DamagedFile(DAMAGED_MESSAGE) from e
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as e:
        raise DamagedFile(DAMAGED_MESSAGE) from e


def read_member(zf: zipfile.ZipFile, member: str, cap: int) -> bytes:
    """The whole member, read with a hard byte cap (see iter_member)."""
    return b"".join(iter_member(zf, member, cap))


def safe_expat_parser(namespaces: bool = True) -> "expat.XMLParserType":
    """A pyexpat parser with defusedxml's protections: DTDs, entity declarations
    and external references raise UnsafeFile. With `namespaces`, element names
    arrive as "uri local" (or "local" when unqualified)."""
    parser = expat.ParserCreate(namespace_separator=" ") if namespaces else expat.ParserCreate()

    def forbid_dtd(*_args):
        raise UnsafeFile("The file contains an XML document type declaration, which Office never writes; it was not opened.")

    def forbid_entity(*_args):
        raise UnsafeFile("The file declares XML entities (a known attack); it was not opened.")

    def forbid_external(*_args):
        raise UnsafeFile("The file refers to external XML entities (a known attack); it was not opened.")

    parser.StartDoctypeDeclHandler = forbid_dtd
    parser.EntityDeclHandler = forbid_entity
    parser.UnparsedEntityDeclHandler = forbid_entity
    parser.ExternalEntityRefHandler = forbid_external
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    return parser


def strip_macros(data: bytes) -> bytes:
    """A copy of an XLSM/DOCM package without its VBA project, typed as XLSX/DOCX.

    Removes vbaProject.bin, its signatures and vbaData.xml, the relationships
    and content-type entries that point at them, and switches the main part to
    the macro-free content type. Every other member is copied unchanged.
    A package without macros is returned as it is.
    """
    zf = open_zip(data)
    if not has_macros(zf):
        return data
    vba = {n for n in zf.namelist() if _is_vba_part(n)}
    vba_targets = {n.rsplit("/", 1)[-1] for n in vba}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zf.infolist():
            if info.filename in vba:
                continue
            body = zf.read(info.filename)
            if info.filename == "[Content_Types].xml":
                body = _strip_vba_content_types(body)
            elif info.filename.endswith(".rels") and any(t.encode() in body for t in vba_targets):
                body = _strip_vba_relationships(body, vba_targets)
            zout.writestr(_copy_info(info), body)
    return out.getvalue()


def has_macros(zf: zipfile.ZipFile) -> bool:
    """Whether the package holds a VBA part or a macro-enabled content type:
    what `strip_macros` removes (Excel keeps the .xlsm type with no macros left)."""
    names = zf.namelist()
    if any(_is_vba_part(n) for n in names):
        return True
    return "[Content_Types].xml" in names and b"macroEnabled" in zf.read("[Content_Types].xml")


def _copy_info(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    new = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    new.compress_type = info.compress_type if info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) else zipfile.ZIP_DEFLATED
    new.external_attr = info.external_attr
    new.create_system = info.create_system
    new.comment = info.comment
    new.extra = b""
    return new


copy_zipinfo = _copy_info


# ---- internals -------------------------------------------------------------------


def _display_name(filename: str | None) -> str:
    if not filename:
        return "The file"
    return os.path.basename(str(filename).replace("\\", "/")) or "The file"


def _bomb(name: str | None) -> UnsafeFile:
    who = name or "The file"
    return UnsafeFile(
        f"{who} expands to far more data than a questionnaire holds (a 'zip bomb' or a damaged "
        "archive), so it was not opened. Ask the sender for the original file."
    )


def _is_xml_name(member: str) -> bool:
    return member.endswith((".xml", ".rels", ".vml")) or member == "[Content_Types].xml"


def _is_vba_part(member: str) -> bool:
    base = member.rsplit("/", 1)[-1].lower()
    return base.startswith("vbaproject") and base.endswith(".bin") or base in ("vbadata.xml", "vbaprojectsignature.bin")


def _check_xml_part(part: bytes, member: str, name: str) -> None:
    text = part
    if part[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = part.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as e:
            raise DamagedFile(DAMAGED_MESSAGE) from e
    if _DECLARATION.search(text):
        raise UnsafeFile(
            f"{name}: the part {member} declares an XML document type or entities, which Office never "
            "writes (this is how 'billion laughs' and external-entity attacks work); it was not opened."
        )


def _scan_xml_part(zf: zipfile.ZipFile, member: str, name: str, cap: int) -> None:
    """_check_xml_part over a stream, in chunks that overlap by a few bytes."""
    tail = b""
    utf16 = None
    for block in iter_member(zf, member, cap):
        if utf16 is None:
            utf16 = block[:2] in (b"\xff\xfe", b"\xfe\xff")
        if utf16:  # rare: check it whole (the cap bounds it)
            rest = b"".join(iter_member(zf, member, cap))
            _check_xml_part(rest, member, name)
            return
        window = tail + block
        if _DECLARATION.search(window):
            _check_xml_part(window, member, name)
        tail = window[-16:]


def _check_depth(part: bytes, member: str, name: str, max_depth: int) -> None:
    depth = 0
    for m in _TAG.finditer(part):
        if m.group(1):
            depth -= 1
        elif not m.group(2):
            depth += 1
            if depth > max_depth:
                raise UnsafeFile(
                    f"{name}: the part {member} nests elements more than {max_depth} levels deep, "
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
    macro = macro or any(_is_vba_part(n) for n in names)
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


def _strip_vba_content_types(body: bytes) -> bytes:
    body = re.sub(rb'<Override\b[^>]*PartName="[^"]*vba[^"]*"[^>]*/>', b"", body, flags=re.IGNORECASE)
    body = re.sub(rb'<Default\b[^>]*ContentType="application/vnd\.ms-office\.vbaProject"[^>]*/>', b"", body)
    for macro_type, (kind, is_macro) in _MAIN_TYPES.items():
        if is_macro:
            body = body.replace(macro_type.encode(), _PLAIN_MAIN_TYPE[kind].encode())
    return body


def _strip_vba_relationships(body: bytes, targets: set[str]) -> bytes:
    def keep(m: re.Match) -> bytes:
        target = re.search(rb'Target="([^"]*)"', m.group(0))
        if target and target.group(1).rsplit(b"/", 1)[-1].decode("utf-8", "replace") in targets:
            return b""
        return m.group(0)

    return re.sub(rb"<Relationship\b[^>]*/>", keep, body)

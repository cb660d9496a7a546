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
  type, not file name (`macro_parts`), and `strip_macros` removes them.

It also gives the parsers a safe expat parser (`safe_expat_parser`) with the
same three protections as defusedxml's parser (no DTD, no entity
declarations, no external references) but without the pure-Python layer
that makes `defusedxml.ElementTree` three times slower on big sheets.
"""
from __future__ import annotations

import codecs
import io
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Iterator
from xml.parsers import expat

import openpyxl

import aimsq_settings
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

    The VBA parts are found by what the package says they are (relationship
    type and content type, `macro_parts`), not by their file names: a VBA
    project stored as xl/media/code.bin is removed like xl/vbaProject.bin.
    Removes those parts and their own relationship files, the relationships
    and content-type entries that point at them, and switches the main part
    to the macro-free content type. Every other member is copied unchanged
    (member names that could escape a folder are dropped, see
    `safe_member_name`). A package without macros is returned as it is.
    Raises UnsafeFile when the copy would still hold a VBA part.
    """
    zf = open_zip(data)
    vba = macro_parts(zf)
    if not vba and not _macro_enabled_type(zf):
        return data
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zf.infolist():
            if info.filename in vba or not safe_member_name(info.filename):
                continue
            body = zf.read(info.filename)
            if info.filename == "[Content_Types].xml":
                body = _strip_vba_content_types(_utf8_xml(body), vba)
            elif info.filename.lower().endswith(".rels"):
                body = _strip_vba_relationships(_utf8_xml(body), _rels_folder(info.filename), vba)
            zout.writestr(_copy_info(info), body)
    result = out.getvalue()
    check = open_zip(result)
    types = read_member(check, "[Content_Types].xml", 1 << 24).lower() if "[Content_Types].xml" in check.namelist() else b""
    if macro_parts(check) or any(t.lower().encode() in types for t, (_, macro) in _MAIN_TYPES.items() if macro):
        raise UnsafeFile(
            "The file's macros could not be removed safely (its package is written in an unusual way), "
            "so no copy was written. Open it in Excel or Word, save it as .xlsx or .docx and try again."
        )
    return result


def has_macros(zf: zipfile.ZipFile) -> bool:
    """Whether the package holds a VBA part (by name, relationship type or
    content type) or a macro-enabled content type: what `strip_macros`
    removes (Excel keeps the .xlsm type with no macros left)."""
    return bool(macro_parts(zf)) or _macro_enabled_type(zf)


def macro_parts(zf: zipfile.ZipFile, content_types: dict[str, str] | None = None) -> set[str]:
    """The members that hold a VBA project or belong to one, plus their own
    relationship files. A part counts when its content type (override, or
    default for its extension) is a VBA type, when any relationship of a VBA
    type points at it, or when it has a VBA file name."""
    names = [n for n in zf.namelist() if not n.endswith("/")]
    if content_types is None:
        content_types = {}
        if "[Content_Types].xml" in names:
            for local, attrs in _small_part_elements(zf, "[Content_Types].xml"):
                if local == "Override" and attrs.get("PartName"):
                    content_types[attrs["PartName"]] = attrs.get("ContentType", "")
                elif local == "Default" and attrs.get("Extension"):
                    content_types["*." + attrs["Extension"].lower()] = attrs.get("ContentType", "")
    # Part names are case-insensitive in a package (ECMA-376 part 2), so compare in lower case.
    by_lower = {n.lower(): n for n in names}
    types = {k.lower(): v for k, v in content_types.items()}
    found = {n.lower() for n in names if _is_vba_part(n)}
    for n in by_lower:
        ctype = types.get("/" + n)
        if ctype is None and "." in n.rsplit("/", 1)[-1]:
            ctype = types.get("*." + n.rsplit(".", 1)[-1])
        if ctype and _is_vba_type(ctype):
            found.add(n)
    for rels in (n for n in names if n.lower().endswith(".rels")):
        folder = _rels_folder(rels)
        for local, attrs in _small_part_elements(zf, rels):
            if local == "Relationship" and attrs.get("TargetMode") != "External" and _is_vba_rel(attrs.get("Type", "")):
                found.add(_resolve_part(folder, attrs.get("Target", "")).lower())
    found |= {_rels_of(n) for n in found}
    return {by_lower[n] for n in found if n in by_lower}


def safe_member_name(member: str) -> bool:
    """False for a zip member name that could leave the folder it is unpacked
    in: an absolute path, a drive letter, a backslash or a `..` step. Office
    never writes one; readers refuse such a package and writers never copy one."""
    if not member or member.startswith("/") or "\\" in member or "\x00" in member:
        return False
    if re.match(r"[A-Za-z]:", member):
        return False
    return ".." not in member.split("/")


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


_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_ASCII_FAMILY = {"utf-8", "utf_8", "ascii", "us-ascii"}


def xml_encoding(head: bytes) -> str | None:
    """The encoding an XML parser would read a part in, from its first bytes
    (XML 1.0 appendix F): a byte-order mark, the byte pattern of `<?` in
    UTF-16/UTF-32/EBCDIC with no mark, else the declaration's `encoding`.
    None means an ASCII-compatible encoding, where markup such as `<!ENTITY`
    appears as the same bytes, so a byte search finds it."""
    boms = ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
            (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"))
    for bom, codec in boms:
        if head.startswith(bom):
            return codec
    patterns = ((b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"),
                (b"\x4c\x6f\xa7\x94", "cp037"))
    for pattern, codec in patterns:
        if head.startswith(pattern):
            return codec
    if head[:1] == b"\x00" and head[1:2] != b"\x00":
        return "utf-16-be"
    if head[1:2] == b"\x00" and head[:1] != b"\x00":
        return "utf-16-le"
    m = _XML_ENCODING.match(head.lstrip(b"\xef\xbb\xbf"))
    if not m:
        return None
    declared = m.group(1).decode("ascii").lower()
    if declared in _ASCII_FAMILY:
        return None
    try:
        codec = codecs.lookup(declared).name
        probe = "<!DOCTYPE <!ENTITY <!doctype <!entity >".encode(codec)
    except (LookupError, UnicodeError, ValueError):
        return declared  # unknown to Python: _as_text refuses it
    if probe == b"<!DOCTYPE <!ENTITY <!doctype <!entity >" and codec not in ("utf-7",):
        return None
    return codec


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


_VBA_CONTENT_TYPES = ("vbaproject", "vbadata")  # vbaProject, vbaProjectSignature(Agile|V3), vbaData+xml
_ATTR = r"\b{}\s*=\s*(?:\"([^\"]*)\"|'([^']*)')"


def _is_vba_type(ctype: str) -> bool:
    low = ctype.lower()
    return any(t in low for t in _VBA_CONTENT_TYPES)


def _is_vba_rel(rtype: str) -> bool:
    last = rtype.rstrip("/").rsplit("/", 1)[-1].lower()
    return last.startswith("vba") or last == "wordvbadata"


def _macro_enabled_type(zf: zipfile.ZipFile) -> bool:
    if "[Content_Types].xml" not in zf.namelist():
        return False
    return b"macroenabled" in read_member(zf, "[Content_Types].xml", 1 << 24).lower()


def _small_part_elements(zf: zipfile.ZipFile, member: str) -> list[tuple[str, dict[str, str]]]:
    """(local name, attributes) of every element of a small XML part (16 MB cap)."""
    out: list[tuple[str, dict[str, str]]] = []
    parser = safe_expat_parser()
    parser.StartElementHandler = lambda name, attrs: out.append(
        (name.rsplit(" ", 1)[-1], {k.rsplit(" ", 1)[-1]: v for k, v in attrs.items()}))
    try:
        parser.Parse(read_member(zf, member, 1 << 24), True)
    except (UnsafeFile, DamagedFile, FileTooLarge):
        raise
    except Exception as e:  # ExpatError: a broken part
        raise DamagedFile(DAMAGED_MESSAGE) from e
    return out


def _rels_folder(rels: str) -> str:
    """The folder relationship targets in `rels` are relative to: "xl" for xl/_rels/workbook.xml.rels."""
    folder = rels.rsplit("/", 1)[0] if "/" in rels else ""
    if folder == "_rels":
        return ""
    return folder[: -len("/_rels")] if folder.endswith("/_rels") else folder


def _rels_of(part: str) -> str:
    folder, _, base = part.rpartition("/")
    return f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"


def _resolve_part(folder: str, target: str) -> str:
    path = target.lstrip("/") if target.startswith("/") else (f"{folder}/{target}" if folder else target)
    parts: list[str] = []
    for piece in path.split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece and piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _utf8_xml(body: bytes) -> bytes:
    """A small XML part in UTF-8 (re-declared so) when it is in UTF-16 or another
    encoding that is not ASCII-compatible, so byte patterns can edit it."""
    encoding = xml_encoding(body[:256])
    if encoding is None:
        return body
    try:
        text = body.decode(encoding).lstrip("\ufeff")
    except (LookupError, UnicodeDecodeError) as e:
        raise DamagedFile(DAMAGED_MESSAGE) from e
    text = re.sub(r"""^(<\?xml[^>]*?\bencoding\s*=\s*["'])[^"']*""", r"\1UTF-8", text)
    return text.encode("utf-8")


def _attr(tag: bytes, name: str) -> str | None:
    m = re.search(_ATTR.format(name).encode(), tag)
    if not m:
        return None
    return (m.group(1) if m.group(1) is not None else m.group(2)).decode("utf-8", "replace")


def _strip_vba_content_types(body: bytes, parts: set[str]) -> bytes:
    lower = {p.lower() for p in parts}

    def keep(m: re.Match) -> bytes:
        tag = m.group(0)
        ctype = _attr(tag, "ContentType") or ""
        part = (_attr(tag, "PartName") or "").lstrip("/")
        if _is_vba_type(ctype) or part.lower() in lower:
            return b""
        return tag

    body = re.sub(rb"<(?:[\w.-]+:)?(?:Override|Default)\b[^>]*?(?:/>|>\s*</(?:[\w.-]+:)?(?:Override|Default)\s*>)", keep, body)
    for macro_type, (kind, is_macro) in _MAIN_TYPES.items():
        if is_macro:
            body = re.sub(re.escape(macro_type).encode(), _PLAIN_MAIN_TYPE[kind].encode(), body, flags=re.IGNORECASE)
    return body


def _strip_vba_relationships(body: bytes, folder: str, parts: set[str]) -> bytes:
    lower = {p.lower() for p in parts}

    def keep(m: re.Match) -> bytes:
        tag = m.group(0)
        if _is_vba_rel(_attr(tag, "Type") or ""):
            return b""
        target = _attr(tag, "Target")
        if target is not None and _attr(tag, "TargetMode") != "External" and _resolve_part(folder, target).lower() in lower:
            return b""
        return tag

    return re.sub(rb"<(?:[\w.-]+:)?Relationship\b[^>]*?(?:/>|>\s*</(?:[\w.-]+:)?Relationship\s*>)", keep, body)

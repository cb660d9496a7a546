"""Office packages (zip) as every reader and writer opens them: members
decompressed under a hard byte cap, a safe expat parser, member names that
cannot leave a folder, the encoding an XML part is read in, and the main
part's content types. The upload guard (`ingest.guard`) checks a package
with these before any parser sees it."""
from __future__ import annotations

import codecs
import io
import re
import zipfile
import zlib
from typing import Iterator
from xml.parsers import expat

from ingest.errors import DAMAGED_MESSAGE, DamagedFile, FileTooLarge, UnsafeFile

# main part content type -> (format, macro-enabled)
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


def _bomb(name: str | None) -> UnsafeFile:
    who = name or "The file"
    return UnsafeFile(
        f"{who} expands to far more data than a questionnaire holds (a 'zip bomb' or a damaged "
        "archive), so it was not opened. Ask the sender for the original file."
    )


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


def resolve_part(folder: str, target: str) -> str:
    """The package part a relationship target names, from the folder of its source part."""
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

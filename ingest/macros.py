"""VBA macros in an Office package: found by relationship type and content
type, not by file name (`macro_parts`), and removed from a copy
(`strip_macros`), SECURITY.md case 29."""
from __future__ import annotations

import io
import re
import zipfile

from ingest.errors import UnsafeFile
from ingest.ooxml import (_MAIN_TYPES, _PLAIN_MAIN_TYPE, _rels_folder, _rels_of, resolve_part, _small_part_elements,
                          _utf8_xml, copy_zipinfo, open_zip, read_member, safe_member_name)


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
            zout.writestr(copy_zipinfo(info), body)
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
                found.add(resolve_part(folder, attrs.get("Target", "")).lower())
    found |= {_rels_of(n) for n in found}
    return {by_lower[n] for n in found if n in by_lower}


def _is_vba_part(member: str) -> bool:
    base = member.rsplit("/", 1)[-1].lower()
    return base.startswith("vbaproject") and base.endswith(".bin") or base in ("vbadata.xml", "vbaprojectsignature.bin")


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
        if target is not None and _attr(tag, "TargetMode") != "External" and resolve_part(folder, target).lower() in lower:
            return b""
        return tag

    return re.sub(rb"<(?:[\w.-]+:)?Relationship\b[^>]*?(?:/>|>\s*</(?:[\w.-]+:)?Relationship\s*>)", keep, body)

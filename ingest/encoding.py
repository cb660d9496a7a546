"""Bytes of a text file (every CSV aimsq reads) to text, and back.

Order: a byte-order mark decides (UTF-8, UTF-16 LE/BE; UTF-32 is refused);
UTF-32 and UTF-16 without a mark are recognised by where their NUL bytes
fall; then strict UTF-8. Anything else is a legacy code page, detected by
charset-normalizer from the lines that hold non-ASCII bytes (where code
pages differ), among the pages programs still write. Windows-1252, what
Excel writes on Western Windows, is taken unless another page reads those
lines with clearly less mess or Windows-1252 puts symbols inside words
where another single-byte page puts letters (short Western text fits
several pages equally well); its five undefined bytes map 1:1 as in
Latin-1, both ways. Data that fits no encoding, or
decodes to mostly control characters, is refused as binary.

An encoding inferred from the bytes (no mark, not UTF-8) comes with a
warning naming it, for the user to check the text.
"""
from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

from ingest.cells import CONTROL
from ingest.errors import IngestError, UnsupportedFormat

UTF32_MESSAGE = (  # .format(name=...)
    "{name} is saved as UTF-32 text, which spreadsheets do not write and aimsq does not read. "
    "Save it as 'CSV UTF-8' and try again."
)
BINARY_MESSAGE = (
    "The file holds binary data, not text, so it cannot be read as CSV. "
    "Check that it is the right file; a spreadsheet can save a sheet as 'CSV UTF-8'."
)
_BOMS = (
    (b"\xff\xfe\x00\x00", None), (b"\x00\x00\xfe\xff", None),  # UTF-32: refused
    (b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"),
)
# Code pages that programs in use still write (Excel's "CSV" by Windows
# locale, and the East Asian ones). Old DOS, Mac and ISO pages are left out:
# on short text they tie with these and would win by accident.
CODE_PAGES = ["cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
              "cp874", "cp932", "euc_jp", "gb18030", "big5", "cp949", "koi8_r", "koi8_u"]
_SINGLE_BYTE = {"cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
                "cp874", "koi8_r", "koi8_u"}
_SAMPLE_BYTES = 64 * 1024
_BINARY_SHARE = 0.05  # control characters in the first 64K characters of real text: a few, never 5 %
_LABELS = {
    "utf_8": "UTF-8", "utf_16_le": "UTF-16 (little-endian)", "utf_16_be": "UTF-16 (big-endian)",
    "cp1250": "Windows-1250 (Central European)", "cp1251": "Windows-1251 (Cyrillic)",
    "cp1252": "Windows-1252 (Western European)", "cp1253": "Windows-1253 (Greek)",
    "cp1254": "Windows-1254 (Turkish)", "cp1255": "Windows-1255 (Hebrew)", "cp1256": "Windows-1256 (Arabic)",
    "cp1257": "Windows-1257 (Baltic)", "cp1258": "Windows-1258 (Vietnamese)",
    "cp932": "Shift-JIS (Japanese)", "shift_jis": "Shift-JIS (Japanese)", "euc_jp": "EUC-JP (Japanese)",
    "euc_jis_2004": "EUC-JP (Japanese)", "gb18030": "GB18030 (Chinese)", "gbk": "GBK (Chinese)",
    "gb2312": "GB2312 (Chinese)", "big5": "Big5 (Traditional Chinese)", "cp949": "Windows-949 (Korean)",
    "euc_kr": "EUC-KR (Korean)", "koi8_r": "KOI8-R (Cyrillic)", "koi8_u": "KOI8-U (Cyrillic)",
    "latin_1": "ISO-8859-1 (Western European)", "iso8859_15": "ISO-8859-15 (Western European)",
    "iso8859_2": "ISO-8859-2 (Central European)", "mac_roman": "Mac Roman",
}


@dataclass
class DecodedText:
    text: str
    encoding: str  # Python codec that encodes the text back to the file's bytes
    bom: bytes = b""
    inferred: bool = False  # no byte-order mark and not UTF-8: taken from how the bytes look

    @property
    def label(self) -> str:
        return encoding_label(self.encoding)

    @property
    def warning(self) -> str | None:
        """For the user when the encoding was inferred, else None."""
        if not self.inferred:
            return None
        return (
            f"The file is not in UTF-8; its text was read as {self.label}, the encoding its bytes fit best. "
            "If any letters look wrong, save the file as 'CSV UTF-8' and load it again."
        )

    def encode(self, text: str) -> bytes:
        """`text` in the file's encoding, BOM first. Raises UnicodeEncodeError."""
        errors = "aimsq-cp1252" if self.encoding == "cp1252" else "strict"
        return self.bom + text.encode(self.encoding, errors=errors)


def decode_text(data: bytes) -> DecodedText:
    """The text of a CSV (or other text) file, its encoding and BOM.

    Raises UnsupportedFormat for UTF-32 and binary data, IngestError for
    UTF-16 (or a detected code page) the bytes do not decode in.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            if encoding is None:
                raise UnsupportedFormat(UTF32_MESSAGE.format(name="The file"))
            if encoding == "utf-8":
                try:
                    decoded = DecodedText(data[len(bom):].decode("utf-8"), encoding, bom)
                except UnicodeDecodeError:  # a BOM on text saved in a code page after all
                    decoded = _legacy(data[len(bom):])
                    decoded.bom = bom
            else:
                decoded = DecodedText(_strict(data[len(bom):], encoding), encoding, bom)
            break
    else:
        if utf32_order(data[:4096]):
            raise UnsupportedFormat(UTF32_MESSAGE.format(name="The file"))
        order = utf16_order(data[:4096])
        if order:
            encoding = f"utf-16-{order}"
            decoded = DecodedText(_strict(data, encoding), encoding, inferred=True)
        else:
            try:
                decoded = DecodedText(data.decode("utf-8"), "utf-8")
            except UnicodeDecodeError:
                decoded = _legacy(data)
    sample = decoded.text[:65536]
    if sample and len(CONTROL.findall(sample)) > _BINARY_SHARE * len(sample):
        raise UnsupportedFormat(BINARY_MESSAGE)
    return decoded


def encoding_label(encoding: str) -> str:
    """A name people know: "Windows-1251 (Cyrillic)", "UTF-16 (little-endian)"."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        name = encoding
    key = name.replace("-", "_")
    return _LABELS.get(key) or _LABELS.get(encoding.replace("-", "_")) or name.upper().replace("_", "-")


def utf16_order(head: bytes) -> str | None:
    """"le" / "be" for UTF-16 text without a BOM: the NUL high halves of
    ASCII characters fall on one side only."""
    head = head[: len(head) // 2 * 2]
    if len(head) < 4:
        return None
    half = len(head) // 2
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if odd >= 0.2 * half and even <= 0.05 * odd:
        return "le"
    if even >= 0.2 * half and odd <= 0.05 * even:
        return "be"
    return None


def utf32_order(head: bytes) -> str | None:
    """"le" / "be" for UTF-32 text without a BOM: two of every four bytes NUL."""
    head = head[: len(head) // 4 * 4]
    if len(head) < 8:
        return None
    quarter = len(head) // 4
    nuls = [head[i::4].count(0) for i in range(4)]
    if nuls[2] >= 0.95 * quarter and nuls[3] >= 0.95 * quarter and nuls[0] < 0.5 * quarter:
        return "le"
    if nuls[0] >= 0.95 * quarter and nuls[1] >= 0.95 * quarter and nuls[3] < 0.5 * quarter:
        return "be"
    return None


def _strict(body: bytes, encoding: str) -> str:
    try:
        return body.decode(encoding)
    except UnicodeDecodeError:
        raise IngestError(
            "The file looks like UTF-16 text but cannot be decoded. Save it as 'CSV UTF-8' and try again."
        ) from None


# ---- legacy code pages ----------------------------------------------------------------------------

_CP1252_GAPS = (0x81, 0x8D, 0x8F, 0x90, 0x9D)


def _cp1252_gaps(err):
    """cp1252 leaves five bytes undefined; map them 1:1 (as Latin-1 does) both ways."""
    if isinstance(err, UnicodeDecodeError) and err.object[err.start] in _CP1252_GAPS:
        return chr(err.object[err.start]), err.start + 1
    if isinstance(err, UnicodeEncodeError) and ord(err.object[err.start]) in _CP1252_GAPS:
        return bytes([ord(err.object[err.start])]), err.start + 1
    raise err


codecs.register_error("aimsq-cp1252", _cp1252_gaps)


def _legacy(body: bytes) -> DecodedText:
    from charset_normalizer import from_bytes

    sample = _non_ascii_lines(body)
    matches = from_bytes(sample, cp_isolation=CODE_PAGES)
    best = matches.best()
    western = from_bytes(sample.translate(None, bytes(_CP1252_GAPS)), cp_isolation=["cp1252"]).best()
    candidates = [m.encoding for m in matches]
    # Windows-1252 unless another page reads the text with clearly less mess.
    # charset-normalizer's language fit is not used: on a questionnaire's few
    # accented words it calls Italian "Czech" as readily as it finds Polish.
    if western is not None and (best is None or western.chaos <= best.chaos + 0.1):
        candidates.insert(0, "cp1252")
    if not candidates:
        raise UnsupportedFormat(BINARY_MESSAGE)
    # Between single-byte pages, one that puts symbols inside words (Polish
    # "są" as "s¹", "ł" as "³") is wrong where another puts letters.
    if candidates[0] in _SINGLE_BYTE:
        odd = {enc: _symbols_in_words(_decode(sample, enc)) for enc in candidates[:4] if enc in _SINGLE_BYTE}
        fewest = min((n for n in odd.values() if n is not None), default=None)
        candidates = [enc for enc in candidates if fewest is not None and odd.get(enc) == fewest] + candidates
    for encoding in candidates:
        text = _decode(body, encoding)
        if text is not None:
            return DecodedText(text, encoding, inferred=True)
    raise IngestError(
        "The file is not UTF-8 and its text encoding cannot be told from its bytes. "
        "Save it as 'CSV UTF-8' and try again."
    )


def _decode(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding, errors="aimsq-cp1252" if encoding == "cp1252" else "strict")
    except (UnicodeDecodeError, LookupError):
        return None


def _symbols_in_words(text: str | None) -> int | None:
    """Non-ASCII characters that are neither letters nor punctuation, right
    after a letter (superscripts, currency, modifier signs: ¹ ³ £ ¥ ¯)."""
    if text is None:
        return None
    count = 0
    for m in _NON_ASCII_AFTER_LETTER.finditer(text):
        category = unicodedata.category(m.group(1))
        if category[0] not in "LMP" and category != "Zs":
            count += 1
    return count


_NON_ASCII_AFTER_LETTER = re.compile(r"(?<=[^\W\d_])([^\x00-\x7f])")


def _non_ascii_lines(body: bytes) -> bytes:
    """The lines holding non-ASCII bytes, up to 64 KB; around the byte, cut
    where no multi-byte character can be split, for a line over 4 KB."""
    out = bytearray()
    done = 0
    for m in re.finditer(rb"[\x80-\xff]", body):
        p = m.start()
        if p < done:
            continue
        start = body.rfind(b"\n", done, p) + 1 or done
        end = body.find(b"\n", p)
        end = len(body) if end < 0 else end + 1
        if end - start > 4096:
            # A byte below 0x40 is never the second byte of a CJK double-byte
            # character: cut just after one on the left, just before one on the right.
            if start < p - 1024:
                start = p - 1024
                while start < p and body[start - 1] >= 0x40:
                    start += 1
            if end > p + 1024:
                end = p + 1024
                while end < len(body) and body[end] >= 0x40:
                    end += 1
        out += body[start:end]
        done = end
        if len(out) >= _SAMPLE_BYTES:
            break
    return bytes(out)

"""Errors a sales engineer can read: each names the problem and what to do."""

DAMAGED_MESSAGE = (
    "The file is damaged and cannot be read (it may be incomplete or corrupted). "
    "Ask the sender for a fresh copy, or open it in Excel or Word and save it again."
)


class IngestError(Exception):
    """Base class: the file cannot be read as a questionnaire."""


class UnsupportedFormat(IngestError):
    pass


class FileTooLarge(IngestError):
    pass


class DamagedFile(IngestError):
    pass


class EncryptedFile(IngestError):
    pass


class LegacyFormat(IngestError):
    pass


class UnsafeFile(IngestError):
    """Zip bombs, entity expansion, oversize parts."""


class ExportError(IngestError):
    """An answer cannot be written back (too long for the format, ...)."""

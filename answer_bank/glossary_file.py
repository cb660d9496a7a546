"""A glossary in a file, to move it between banks: the JSON that
`aimsq bank glossary list --json` prints, or a CSV with the columns
term,equivalent and, optionally, kind ("same", the default, or "distinct").
Read by `aimsq bank glossary import` and the bank page's import form; the
pairs are added by `Bank.add_glossary_pairs` / `add_glossary_distinct_pairs`.
"""
from __future__ import annotations

import json

from typing import TYPE_CHECKING

from answer_bank.glossary_store import GlossaryError

if TYPE_CHECKING:
    from answer_bank.store import Bank

MAX_GLOSSARY_FILE = 5_000_000  # bytes: a glossary is a few thousand pairs at most
EXPECTED = ("expected the JSON of `aimsq bank glossary list --json` or a CSV with the columns "
            "term,equivalent[,kind]")


def read_glossary_file(data: bytes, name: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(pairs that mean the same, pairs that are not the same) of a glossary
    file; a file that is neither form raises one GlossaryError that says what
    is expected."""
    from ingest.csv_format import decode, parse
    from ingest.errors import IngestError
    from ingest.guard import Limits

    if len(data) > MAX_GLOSSARY_FILE:
        raise GlossaryError(f"{name} is over {MAX_GLOSSARY_FILE // 1_000_000} MB: {EXPECTED}")
    if data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"{":  # JSON (a UTF-8 byte order mark is allowed)
        try:
            doc = json.loads(data)
            same = [(p["term"], p["equivalent"]) for p in doc.get("pairs", [])]
            distinct = [(p["term"], p["other"]) for p in doc.get("distinct", [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise GlossaryError(f"{name} is not a glossary: {EXPECTED}") from None
        if not all(isinstance(t, str) for pair in same + distinct for t in pair):
            raise GlossaryError(f"{name} is not a glossary: {EXPECTED}")
        return same, distinct
    try:
        records, _ = parse(decode(data), Limits.from_env())
    except IngestError as e:
        raise GlossaryError(f"{name}: {e}") from None
    fields = [f.strip().lower() for f in (records[0] if records else [])]
    if "term" not in fields or "equivalent" not in fields:
        raise GlossaryError(f"{name} has the columns {', '.join(fields) or 'none'}: {EXPECTED}")
    col = {field: fields.index(field) for field in ("term", "equivalent", "kind") if field in fields}
    same, distinct = [], []
    for n, rec in enumerate(records[1:], start=2):
        cell = {field: rec[i].strip() if i < len(rec) else "" for field, i in col.items()}
        kind = (cell.get("kind") or "same").lower()
        if kind not in ("same", "distinct"):
            raise GlossaryError(f"{name}, row {n}: kind is {cell['kind']!r}; use same or distinct")
        (same if kind == "same" else distinct).append((cell["term"], cell["equivalent"]))
    return same, distinct


def import_glossary(bank: "Bank", data: bytes, name: str, *, user: str) -> str:
    """Add the pairs of a glossary file that the bank lacks (skipping pairs it
    has, pairs that would contradict it and empty terms) and say what was done,
    in one sentence for the CLI and the bank page."""
    same, distinct = read_glossary_file(data, name)
    added = bank.add_glossary_pairs(same, user=user)
    added_distinct = bank.add_glossary_distinct_pairs(distinct, user=user)
    skipped = len(same) + len(distinct) - len(added) - len(added_distinct)
    return (f"Glossary import from {name}: {len(added)} pairs added, {len(added_distinct)} \"not the same\" pairs "
            f"added, {skipped} skipped (already there, contradicting the glossary, or empty)")

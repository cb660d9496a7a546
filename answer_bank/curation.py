"""Curating bank entries: history and diffs, restoring a version, approval by a
second person, retiring with a reason, bulk approval.

Every write here runs in one `transaction(bank.db)` and goes through the
store's own insert/update path, so each change adds an immutable version and
an audit row exactly as `Bank.save_entry` does.
"""
from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from answer_bank.curation_db import ensure_schema
from answer_bank.db import transaction
from answer_bank.model import CONTENT_FIELDS, BankEntry, Evidence
from answer_bank.review_cycle import default_days, review_by_on_approval, review_rules
from answer_bank.store import Bank, BankError, utcnow

LIST_FIELDS = ("variants", "evidence", "frameworks", "tags")
TEXT_FIELDS = ("question", "answer")


class CurationError(BankError):
    """A curation step that cannot be done as asked."""


class SelfApproval(CurationError):
    def __init__(self, ext_id: str, user: str, versions: list[int]):
        which = ", ".join(str(v) for v in versions)
        super().__init__(
            f"{user} wrote version {which} of {ext_id} since it was last approved; "
            "another approver must approve it"
        )
        self.ext_id, self.user, self.versions = ext_id, user, versions


class NotADraft(CurationError):
    def __init__(self, entry: BankEntry):
        super().__init__(f"{entry.ext_id} is {entry.status}, not a draft; only drafts are approved")
        self.entry = entry


class VersionNotFound(CurationError):
    def __init__(self, ext_id: str, version: int):
        super().__init__(f"{ext_id} has no version {version}")


class BulkApprovalRefused(CurationError):
    """Nothing was approved: each problem names its entry."""

    def __init__(self, problems: list[BankError]):
        super().__init__(
            f"nothing approved; {len(problems)} entr{'y' if len(problems) == 1 else 'ies'} cannot be: "
            + "; ".join(str(p) for p in problems)
        )
        self.problems = problems


# ---- history and diffs ----------------------------------------------------


@dataclass
class FieldChange:
    field: str
    before: Any
    after: Any
    # Text fields: word-level segments ("equal" | "delete" | "insert", text).
    segments: list[tuple[str, str]] = field(default_factory=list)
    # List fields: items only in `after` / only in `before`.
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "before": self.before, "after": self.after,
                "added": self.added, "removed": self.removed}


@dataclass
class VersionDiff:
    ext_id: str
    from_version: int
    to_version: int
    changes: list[FieldChange]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.ext_id, "from": self.from_version, "to": self.to_version,
                "changes": [c.to_json() for c in self.changes]}


_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def text_diff(before: str | None, after: str | None) -> list[tuple[str, str]]:
    """Word-level diff: a list of ("equal" | "delete" | "insert", text) segments."""
    a, b = _TOKEN.findall(before or ""), _TOKEN.findall(after or "")
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("equal", "".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            out.append(("delete", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            out.append(("insert", "".join(b[j1:j2])))
    return out


def diff_content(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """Field-by-field changes between two content snapshots (BankEntry.content())."""
    changes = []
    for name in CONTENT_FIELDS:
        old, new = before.get(name), after.get(name)
        if name in LIST_FIELDS:
            old_items, new_items = _list_items(name, old), _list_items(name, new)
            if old_items == new_items:
                continue
            changes.append(FieldChange(
                name, old_items, new_items,
                added=[x for x in new_items if x not in old_items],
                removed=[x for x in old_items if x not in new_items],
            ))
        elif (old or None) != (new or None):
            segments = text_diff(old, new) if name in TEXT_FIELDS else []
            changes.append(FieldChange(name, old, new, segments=segments))
    return changes


def diff_versions(bank: Bank, ext_id: str, from_version: int | None = None,
                  to_version: int | None = None) -> VersionDiff:
    """Diff two stored versions; by default the previous one against the current one.
    Raises EntryNotFound, VersionNotFound."""
    versions = {v["version"]: v for v in bank.versions(ext_id)}
    latest = max(versions)
    to_version = latest if to_version is None else to_version
    from_version = max(to_version - 1, 1) if from_version is None else from_version
    for v in (from_version, to_version):
        if v not in versions:
            raise VersionNotFound(ext_id, v)
    return VersionDiff(ext_id, from_version, to_version,
                       diff_content(versions[from_version]["content"], versions[to_version]["content"]))


def render_diff(diff: VersionDiff) -> str:
    """Plain-text rendering for the terminal: [-removed-] {+added+}."""
    lines = [f"{diff.ext_id}: version {diff.from_version} → {diff.to_version}"]
    if not diff.changes:
        lines.append("  (no differences)")
    for c in diff.changes:
        if c.segments:
            text = "".join(t if op == "equal" else (f"[-{t}-]" if op == "delete" else f"{{+{t}+}}")
                           for op, t in c.segments)
            lines.append(f"  {c.field}: {text}")
        elif c.added or c.removed:
            parts = [f"+ {x}" for x in c.added] + [f"- {x}" for x in c.removed]
            lines.append(f"  {c.field}: " + "; ".join(parts))
        else:
            lines.append(f"  {c.field}: {c.before!r} → {c.after!r}")
    return "\n".join(lines)


def entry_with_content(current: BankEntry, content: dict[str, Any]) -> BankEntry:
    """A copy of `current` whose curated fields are those of a stored snapshot."""
    entry = copy.deepcopy(current)
    for name in CONTENT_FIELDS:
        value = content.get(name)
        if name in LIST_FIELDS:
            value = list(value or [])
        setattr(entry, name, value)
    entry.evidence = [Evidence(e["title"], e.get("ref")) if isinstance(e, dict) else e for e in entry.evidence]
    return entry


# ---- writes ---------------------------------------------------------------


def restore_version(bank: Bank, ext_id: str, version: int, *, user: str,
                    expected_version: int | None = None) -> BankEntry:
    """Make an earlier version's content (status included) the entry's newest version.
    An approved version comes back approved only when it is the content last
    approved; older approved content comes back as a draft, which the person
    who restored it may not approve (four eyes).
    Raises EntryNotFound, VersionNotFound, VersionConflict, CurationError."""
    ensure_schema(bank.db)
    with transaction(bank.db):
        existing = bank.entry_for_update(ext_id, expected_version)
        snapshots = {v["version"]: v["content"] for v in bank.versions(ext_id)}
        if version not in snapshots:
            raise VersionNotFound(ext_id, version)
        restored = entry_with_content(existing, snapshots[version])
        if restored.content() == existing.content():
            raise CurationError(f"version {version} of {ext_id} is the same as the current version {existing.version}")
        note = f"restored version {version}"
        if restored.status == "approved" and restored.content() != last_approved_content(bank, ext_id):
            # Approved once is not approved now: bringing back other content
            # than the entry's last approved one is a change, and a change to
            # approved content needs a second person (SECURITY.md 28).
            restored.status = "draft"
            note += " as a draft for another approver"
        bank.write_version(existing, restored, user, utcnow(), note=note)
        bank.record_event(user, "restore", ext_id=ext_id, entry_id=existing.id,
                          detail=f"version {version} restored as version {restored.version} ({restored.status})")
        bank.bump_revision()
    return bank.get_entry(ext_id)


def last_approved_content(bank: Bank, ext_id: str) -> dict[str, Any] | None:
    """The content of the entry's newest approved version (None if it never was)."""
    approved = [v["content"] for v in bank.versions(ext_id) if v["content"].get("status") == "approved"]
    return approved[-1] if approved else None


def unapproved_authors(bank: Bank, entry: BankEntry) -> dict[str, list[int]]:
    """Who wrote the versions since the entry was last approved: {user: [versions]}.
    None of them may approve it (four eyes)."""
    authors: dict[str, list[int]] = {}
    for v in bank.versions(entry.ext_id):
        if v["content"].get("status") == "approved":
            authors = {}
        else:
            authors.setdefault(v["created_by"], []).append(v["version"])
    return authors


def own_unapproved_versions(bank: Bank, entry: BankEntry, user: str) -> list[int]:
    """The versions `user` wrote since the entry was last approved (names
    compared without case, as the app's user names are). Non-empty: `user`
    may not approve the entry. The one four-eyes rule every approve button,
    page and command uses."""
    me = (user or "").strip().casefold()
    return sorted(v for by, versions in unapproved_authors(bank, entry).items()
                  if (by or "").strip().casefold() == me for v in versions)


def approve(bank: Bank, ext_id: str, *, user: str, expected_version: int | None = None) -> BankEntry:
    """Approve a draft. The approver must not have written any version since
    the entry was last approved. Also starts its next review cycle.
    Raises EntryNotFound, VersionConflict, NotADraft, SelfApproval."""
    return approve_many(bank, [ext_id], user=user,
                        expected_versions={ext_id: expected_version} if expected_version else None,
                        single=True)[0]


def approve_many(bank: Bank, ext_ids: Iterable[str], *, user: str,
                 expected_versions: dict[str, int] | None = None, single: bool = False) -> list[BankEntry]:
    """Approve several drafts in ONE transaction: all of them or none.
    Raises BulkApprovalRefused naming every entry that cannot be approved
    (or, for a single entry, that entry's own error)."""
    ext_ids = list(dict.fromkeys(ext_ids))
    if not ext_ids:
        raise CurationError("no entries to approve")
    ensure_schema(bank.db)
    expected_versions = expected_versions or {}
    with transaction(bank.db):
        problems: list[BankError] = []
        ready: list[BankEntry] = []
        for ext_id in ext_ids:
            try:
                existing = bank.entry_for_update(ext_id, expected_versions.get(ext_id))
                if existing.status != "draft":
                    raise NotADraft(existing)
                authored = own_unapproved_versions(bank, existing, user)
                if authored:
                    raise SelfApproval(ext_id, user, authored)
                ready.append(existing)
            except BankError as e:
                problems.append(e)
        if problems:
            if single:
                raise problems[0]
            raise BulkApprovalRefused(problems)
        now = utcnow()
        rules, fallback_days = review_rules(bank), default_days(bank)
        for existing in ready:
            entry = copy.deepcopy(existing)
            entry.status = "approved"
            entry.retired_reason = None
            entry.review_by = review_by_on_approval(entry, rules, fallback_days)
            bank.write_version(existing, entry, user, now, note="approved")
        bank.bump_revision()
    return [bank.get_entry(e.ext_id) for e in ready]


def retire(bank: Bank, ext_id: str, reason: str, *, user: str, expected_version: int | None = None) -> BankEntry:
    """Retire an entry (it stops answering) with the reason on record.
    Raises EntryNotFound, VersionConflict, CurationError."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise CurationError(f"give a reason for retiring {ext_id}")
    ensure_schema(bank.db)
    with transaction(bank.db):
        existing = bank.entry_for_update(ext_id, expected_version)
        if existing.status == "retired":
            raise CurationError(f"{ext_id} is already retired ({existing.retired_reason})")
        entry = copy.deepcopy(existing)
        entry.status, entry.retired_reason = "retired", reason
        bank.write_version(existing, entry, user, utcnow(), note=f"retired: {reason}")
        bank.bump_revision()
    return bank.get_entry(ext_id)


def _list_items(name: str, value: Any) -> list[str]:
    items = value or []
    if name == "evidence":
        return [Evidence(e["title"], e.get("ref")).to_text() if isinstance(e, dict) else e.to_text()
                for e in items]
    return [str(x) for x in items]

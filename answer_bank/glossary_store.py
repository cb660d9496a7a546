"""The bank's glossary in its SQLite file: `Bank` reads and changes it through
these methods (a mixin of answer_bank.store.Bank, which owns `self.db`).

Two kinds of pair, one table (migration m004):
- **same**: two terms that mean the same here ("MFA" = "multi-factor
  authentication"); linked pairs form groups, which the matcher reads as
  one word on both sides (answer_bank.glossary);
- **distinct**: two terms the trust team says are NOT the same ("privacy" ≠
  "security"): a question about one is never answered by an entry about the
  other (answer_bank.distinct).

Every change is audited and bumps the bank's revision, so the matcher reads
the glossary again at its next match.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from answer_bank import glossary as gl
from answer_bank.db import transaction, utcnow
from answer_bank.errors import BankError

SIGNS = {"same": "=", "distinct": "≠"}
AUDIT_ACTIONS = ("glossary_add", "glossary_remove", "glossary_distinct_add", "glossary_distinct_remove")


class GlossaryError(BankError):
    """A glossary change that cannot be made (empty, duplicate or unknown term)."""


@dataclass
class GlossaryPair:
    """Two terms the trust team says mean the same in this bank (kind "same"),
    or are not the same (kind "distinct": `equivalent` is then the other term)."""

    term: str
    equivalent: str
    created_at: str
    created_by: str
    kind: str = "same"

    @property
    def sign(self) -> str:
        """"=" for terms that mean the same, "≠" for terms that are not the same."""
        return SIGNS[self.kind]

    def __str__(self) -> str:
        return f"“{self.term}” {self.sign} “{self.equivalent}”"

    @property
    def keys(self) -> frozenset[str]:
        return pair_keys(self.term, self.equivalent)

    def to_json(self) -> dict[str, str]:
        if self.kind == "distinct":
            return {"term": self.term, "other": self.equivalent,
                    "created_at": self.created_at, "created_by": self.created_by}
        return {"term": self.term, "equivalent": self.equivalent,
                "created_at": self.created_at, "created_by": self.created_by}


def pair_keys(term: str, other: str) -> frozenset[str]:
    """A pair as the matcher reads it: its two terms' keys, either way round."""
    return frozenset((gl.term_key(term), gl.term_key(other)))


def _key_groups(pairs: Iterable[tuple[str, str]]) -> list[set[str]]:
    """The groups that `pairs` form, each as the set of its terms' keys."""
    return [{gl.term_key(t) for t in g} for g in gl.groups(pairs)]


def _checked_terms(term: str, other: str) -> tuple[str, str]:
    """Both terms cleaned, or GlossaryError naming what is wrong with one."""
    term, other = gl.clean_term(term), gl.clean_term(other)
    for t in (term, other):
        if not gl.term_key(t):
            raise GlossaryError(f"a glossary term needs at least one letter or digit (got {t!r})")
        if len(t) > gl.MAX_TERM_CHARS:
            raise GlossaryError(f"a glossary term has at most {gl.MAX_TERM_CHARS} characters")
    if gl.term_key(term) == gl.term_key(other):
        raise GlossaryError(f"“{term}” and “{other}” are the same term to the matcher "
                            "(case and punctuation do not count)")
    return term, other


def _contradicted(same: list[tuple[str, str]], distinct: list[GlossaryPair]) -> GlossaryPair | None:
    """The first "not the same" pair whose terms the `same` pairs' groups join, if any."""
    groups = _key_groups(same)
    return next((d for d in distinct if any(d.keys <= g for g in groups)), None)


class GlossaryStore:
    # ---- reading -------------------------------------------------------

    def _has_kinds(self) -> bool:
        """False only inside migration m002, before m004 adds the `kind` column
        (m002 gives an upgraded bank the starter glossary through this class)."""
        return any(r[1] == "kind" for r in self.db.execute("PRAGMA table_info(glossary)").fetchall())

    def _glossary_rows(self, kind: str) -> list[GlossaryPair]:
        if not self._has_kinds():
            if kind != "same":
                return []
            where, args = "", []
        else:
            where, args = "WHERE kind = ? ", [kind]
        rows = self.db.execute(
            "SELECT term, equivalent, created_at, created_by FROM glossary " + where +
            "ORDER BY term_key, equivalent_key", args
        ).fetchall()
        return [GlossaryPair(*r, kind=kind) for r in rows]

    def glossary(self) -> list[GlossaryPair]:
        """Every pair of terms that mean the same, by term."""
        return self._glossary_rows("same")

    def glossary_distinct(self) -> list[GlossaryPair]:
        """Every pair of terms the trust team marked as not the same, by term."""
        return self._glossary_rows("distinct")

    def glossary_groups(self) -> list[list[str]]:
        """The glossary as groups of terms that mean the same (what the matcher reads)."""
        return gl.groups((p.term, p.equivalent) for p in self.glossary())

    def glossary_audit(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest glossary changes (both kinds), newest first."""
        cur = self.db.execute(
            "SELECT id, at, user, action, before, after, detail FROM audit_log "
            f"WHERE action IN ({', '.join('?' * len(AUDIT_ACTIONS))}) ORDER BY id DESC LIMIT ?",
            [*AUDIT_ACTIONS, limit],
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def _same_group(self, keys: frozenset[str]) -> list[str] | None:
        """The glossary group that holds both terms of `keys`, if any."""
        for group in self.glossary_groups():
            if keys <= {gl.term_key(t) for t in group}:
                return group
        return None

    def _distinct_row(self, keys: frozenset[str]) -> GlossaryPair | None:
        return next((p for p in self.glossary_distinct() if p.keys == keys), None)

    # ---- terms that mean the same ---------------------------------------

    def add_glossary_pair(self, term: str, equivalent: str, *, user: str) -> GlossaryPair:
        """Record that `term` and `equivalent` mean the same, with an audit row
        and a revision bump (the matcher reads the glossary again). Raises
        GlossaryError for an empty or over-long term, two spellings of one term,
        a pair the glossary already has, directly or through other terms, and a
        pair that would make two terms marked "not the same" mean the same."""
        term, equivalent = _checked_terms(term, equivalent)
        with transaction(self.db):
            existing = self.glossary()
            pairs = [(p.term, p.equivalent) for p in existing]
            keys = pair_keys(term, equivalent)
            if any(p.keys == keys for p in existing):
                raise GlossaryError(f"“{term}” = “{equivalent}” is already in the glossary")
            group = self._same_group(keys)
            if group:
                raise GlossaryError(f"“{term}” and “{equivalent}” already mean the same in the glossary "
                                    f"(through: {', '.join(group)})")
            d = _contradicted(pairs + [(term, equivalent)], self.glossary_distinct())
            if d:
                raise GlossaryError(
                    f"the glossary says “{d.term}” is not the same as “{d.equivalent}”, and this pair would "
                    f"make them mean the same; remove that first "
                    f"(aimsq bank glossary remove-distinct \"{d.term}\" \"{d.equivalent}\")")
            now = utcnow()
            self._insert_glossary_pair(term, equivalent, user, now)
            self.bump_revision()
        return GlossaryPair(term, equivalent, now, user)

    def add_glossary_pairs(self, pairs: Iterable[tuple[str, str]], *, user: str) -> list[tuple[str, str]]:
        """Add many pairs in ONE transaction (the starter glossary); a pair that
        is invalid or that the glossary already has is skipped. Returns what was added."""
        with transaction(self.db):
            return self.insert_glossary_pairs(pairs, user=user)

    def insert_glossary_pairs(self, pairs: Iterable[tuple[str, str]], *, user: str) -> list[tuple[str, str]]:
        """`add_glossary_pairs` inside the caller's transaction (a migration).
        A pair that would make two terms marked "not the same" mean the same
        (directly or through a group) is skipped too."""
        existing = self.glossary()
        same = [(p.term, p.equivalent) for p in existing]
        distinct = self.glossary_distinct()
        have = {p.keys for p in existing + distinct}
        added: list[tuple[str, str]] = []
        now = utcnow()
        for term, equivalent in pairs:
            term, equivalent = gl.clean_term(term), gl.clean_term(equivalent)
            keys = pair_keys(term, equivalent)
            if len(keys) < 2 or "" in keys or keys in have or max(len(term), len(equivalent)) > gl.MAX_TERM_CHARS:
                continue
            if distinct and _contradicted(same + [(term, equivalent)], distinct):
                continue
            same.append((term, equivalent))
            self._insert_glossary_pair(term, equivalent, user, now)
            have.add(keys)
            added.append((term, equivalent))
        if added:
            self.bump_revision()
        return added

    def remove_glossary(self, term: str, equivalent: str | None = None, *, user: str) -> list[GlossaryPair]:
        """Remove the pair `term` = `equivalent` (either way round), or, without
        `equivalent`, every pair with `term`; an audit row per pair and one
        revision bump. Raises GlossaryError when nothing matches."""
        return self._remove_pairs("same", term, equivalent, user)

    # ---- terms that are not the same ------------------------------------

    def add_glossary_distinct(self, term: str, other: str, *, user: str) -> GlossaryPair:
        """Record that `term` and `other` are NOT the same here: a question that
        names one and not the other is never answered by an entry that names
        only the other (answer_bank.distinct). Audited; bumps the revision.
        Raises GlossaryError for a bad term, a pair already marked, and two
        terms the glossary says mean the same."""
        term, other = _checked_terms(term, other)
        keys = pair_keys(term, other)
        with transaction(self.db):
            if self._distinct_row(keys):
                raise GlossaryError(f"“{term}” ≠ “{other}” is already in the glossary")
            group = self._same_group(keys)
            if group:
                raise GlossaryError(f"the glossary says “{term}” and “{other}” mean the same "
                                    f"(through: {', '.join(group)}); remove that pair first "
                                    f"(aimsq bank glossary remove)")
            now = utcnow()
            self._insert_glossary_pair(term, other, user, now, kind="distinct")
            self.bump_revision()
        return GlossaryPair(term, other, now, user, kind="distinct")

    def add_glossary_distinct_pairs(self, pairs: Iterable[tuple[str, str]], *, user: str) -> list[tuple[str, str]]:
        """Add many "not the same" pairs in ONE transaction (a glossary
        import); a pair that is invalid, already marked, or whose terms the
        glossary says mean the same is skipped. Returns what was added."""
        added: list[tuple[str, str]] = []
        with transaction(self.db):
            same = self.glossary()
            have = {p.keys for p in same + self.glossary_distinct()}
            groups = _key_groups((p.term, p.equivalent) for p in same)
            now = utcnow()
            for term, other in pairs:
                try:
                    term, other = _checked_terms(term, other)
                except GlossaryError:
                    continue
                keys = pair_keys(term, other)
                if keys in have or any(keys <= g for g in groups):
                    continue
                self._insert_glossary_pair(term, other, user, now, kind="distinct")
                have.add(keys)
                added.append((term, other))
            if added:
                self.bump_revision()
        return added

    def remove_glossary_distinct(self, term: str, other: str | None = None, *, user: str) -> list[GlossaryPair]:
        """Remove the "not the same" pair `term` ≠ `other`, or, without `other`,
        every such pair with `term`. Raises GlossaryError when nothing matches."""
        return self._remove_pairs("distinct", term, other, user)

    # ---- rows and audit ------------------------------------------------------

    def _remove_pairs(self, kind: str, term: str, other: str | None, user: str) -> list[GlossaryPair]:
        term = gl.clean_term(term)
        key = gl.term_key(term)
        other_key = gl.term_key(other) if other is not None else None
        sign = SIGNS[kind]
        removed: list[GlossaryPair] = []
        with transaction(self.db):
            rows = self.db.execute(
                "SELECT id, term, equivalent, created_at, created_by, term_key, equivalent_key FROM glossary "
                "WHERE kind = ? AND (term_key = ? OR equivalent_key = ?) ORDER BY id", [kind, key, key]
            ).fetchall()
            for row_id, t, e, at, by, tk, ek in rows:
                if other_key is not None and other_key not in (tk, ek):
                    continue
                self.db.execute("DELETE FROM glossary WHERE id = ?", [row_id])
                pair = GlossaryPair(t, e, at, by, kind=kind)
                self._audit_glossary(user, "glossary_remove" if kind == "same" else "glossary_distinct_remove",
                                     {"term": t, "equivalent": e}, None, utcnow(), sign)
                removed.append(pair)
            if not removed:
                if other is not None:
                    raise GlossaryError(f"“{term}” {sign} “{gl.clean_term(other)}” is not in the glossary")
                raise GlossaryError(f"“{term}” is not in the glossary"
                                    + ("" if kind == "same" else " as not the same as another term"))
            self.bump_revision()
        return removed

    def _insert_glossary_pair(self, term: str, equivalent: str, user: str, now: str, kind: str = "same") -> None:
        # A "same" pair takes the column's default (and so can be written before m004 adds it).
        extra = ("", "", []) if kind == "same" else (", kind", ", ?", [kind])
        self.db.execute(
            f"INSERT INTO glossary (term, equivalent, term_key, equivalent_key, created_at, created_by{extra[0]}) "
            f"VALUES (?, ?, ?, ?, ?, ?{extra[1]})",
            [term, equivalent, gl.term_key(term), gl.term_key(equivalent), now, user, *extra[2]],
        )
        self._audit_glossary(user, "glossary_add" if kind == "same" else "glossary_distinct_add", None,
                             {"term": term, "equivalent": equivalent}, now, SIGNS[kind])

    def _audit_glossary(self, user: str, action: str, before: dict | None, after: dict | None, now: str,
                        sign: str = "=") -> None:
        pair = before or after or {}
        self.db.execute(
            "INSERT INTO audit_log (at, user, action, entry_id, ext_id, before, after, detail) "
            "VALUES (?, ?, ?, NULL, NULL, ?, ?, ?)",
            [now, user, action, json.dumps(before, ensure_ascii=False) if before else None,
             json.dumps(after, ensure_ascii=False) if after else None,
             f"{pair.get('term')} {sign} {pair.get('equivalent')}"],
        )

"""Word paragraph styles and list numbering: heading levels and the list
numbers Word displays ("3.1.1."), which give numbered questions their reference."""
from __future__ import annotations

import re
from typing import Any

from ingest.docx_xml import _PPR, _VAL, _child_val, _int, _w


# ---- styles and numbering ---------------------------------------------------------------


_HEADING_NAME = re.compile(r"^heading\s*([1-9])$", re.I)


class _Styles:
    """Paragraph styles: names, outline levels and numbering, with basedOn inheritance."""

    def __init__(self, styles_el):
        self._raw: dict[str, dict[str, Any]] = {}
        self.default_id: str | None = None
        if styles_el is None:
            return
        for st in styles_el.iterchildren(_w("style")):
            if st.get(_w("type")) not in (None, "paragraph"):
                continue
            sid = st.get(_w("styleId"))
            if not sid:
                continue
            name_el = st.find(_w("name"))
            based = st.find(_w("basedOn"))
            ppr = st.find(_PPR)
            info: dict[str, Any] = {
                "name": name_el.get(_VAL) if name_el is not None else sid,
                "based": based.get(_VAL) if based is not None else None,
                "outline": None,
                "numId": None,
                "ilvl": None,
            }
            if ppr is not None:
                ol = ppr.find(_w("outlineLvl"))
                if ol is not None:
                    info["outline"] = _int(ol.get(_VAL))
                numpr = ppr.find(_w("numPr"))
                if numpr is not None:
                    nid, lvl = numpr.find(_w("numId")), numpr.find(_w("ilvl"))
                    info["numId"] = nid.get(_VAL) if nid is not None else None
                    info["ilvl"] = _int(lvl.get(_VAL)) if lvl is not None else None
            self._raw[sid] = info
            if st.get(_w("default")) in ("1", "true"):
                self.default_id = sid
        self._cache: dict[str, dict[str, Any]] = {}

    def get(self, sid: str | None) -> dict[str, Any]:
        sid = sid or self.default_id
        if sid is None or sid not in self._raw:
            return {"name": "", "outline": None, "numId": None, "ilvl": None}
        if sid in self._cache:
            return self._cache[sid]
        chain = []
        cur = sid
        while cur in self._raw and cur not in chain and len(chain) < 30:
            chain.append(cur)
            cur = self._raw[cur]["based"]
        out = {"name": self._raw[sid]["name"], "outline": None, "numId": None, "ilvl": None}
        for key in ("outline", "numId", "ilvl"):
            for cid in chain:
                if self._raw[cid][key] is not None:
                    out[key] = self._raw[cid][key]
                    break
        # a heading's level comes from its built-in name even without outlineLvl
        m = _HEADING_NAME.match(out["name"] or "")
        if m and out["outline"] is None:
            out["outline"] = int(m.group(1)) - 1
        self._cache[sid] = out
        return out


class _Numbering:
    """Displayed list numbers ("3.1.1.") computed the way Word does for the usual cases."""

    def __init__(self, numbering_el, styles: _Styles):
        self.styles = styles
        self.abstracts: dict[str, Any] = {}
        self.nums: dict[str, tuple[str, dict[int, Any], dict[int, int]]] = {}
        self.counters: dict[str, list[int | None]] = {}
        self.started: set[str] = set()
        self._level_cache: dict[str, Any] = {}
        if numbering_el is None:
            return
        for an in numbering_el.iterchildren(_w("abstractNum")):
            self.abstracts[an.get(_w("abstractNumId"))] = an
        for num in numbering_el.iterchildren(_w("num")):
            aid_el = num.find(_w("abstractNumId"))
            if aid_el is None:
                continue
            lvl_over: dict[int, Any] = {}
            start_over: dict[int, int] = {}
            for ov in num.iterchildren(_w("lvlOverride")):
                ilvl = _int(ov.get(_w("ilvl")), 0)
                so = ov.find(_w("startOverride"))
                if so is not None:
                    start_over[ilvl] = _int(so.get(_VAL), 0)
                lvl = ov.find(_w("lvl"))
                if lvl is not None:
                    lvl_over[ilvl] = lvl
            self.nums[num.get(_w("numId"))] = (aid_el.get(_VAL), lvl_over, start_over)

    def _abstract(self, aid: str, depth: int = 0):
        an = self.abstracts.get(aid)
        if an is None or depth > 3:
            return aid, an
        link = an.find(_w("numStyleLink"))
        if link is not None:
            sid = link.get(_VAL)
            num_id = self.styles.get(sid)["numId"] if sid else None
            if num_id and num_id in self.nums:
                return self._abstract(self.nums[num_id][0], depth + 1)
        return aid, an

    def _levels(self, num_id: str) -> tuple[str, dict[int, Any], dict[int, int]] | None:
        if num_id not in self._level_cache:
            self._level_cache[num_id] = self._compute_levels(num_id)
        return self._level_cache[num_id]

    def _compute_levels(self, num_id: str) -> tuple[str, dict[int, Any], dict[int, int]] | None:
        entry = self.nums.get(num_id)
        if entry is None:
            return None
        aid, lvl_over, start_over = entry
        key, an = self._abstract(aid)
        levels: dict[int, Any] = {}
        if an is not None:
            for lvl in an.iterchildren(_w("lvl")):
                levels[_int(lvl.get(_w("ilvl")), 0)] = lvl
        levels.update(lvl_over)
        return key, levels, start_over

    def list_key(self, num_id: str) -> str | None:
        """The list a num belongs to (its abstract numbering): paragraphs of one list share counters."""
        found = self._levels(num_id)
        return found[0] if found else None

    def label(self, num_id: str, ilvl: int) -> str | None:
        """Advance the list counters for one numbered paragraph; its displayed number, or None for bullets."""
        found = self._levels(num_id)
        if found is None:
            return None
        key, levels, start_over = found
        counters = self.counters.setdefault(key, [None] * 9)
        ilvl = max(0, min(8, ilvl))
        if num_id not in self.started:
            self.started.add(num_id)
            for lvl_idx, start in start_over.items():
                if 0 <= lvl_idx < 9:
                    counters[lvl_idx] = start - 1
                    for deeper in range(lvl_idx + 1, 9):
                        counters[deeper] = None
        cur = counters[ilvl]
        counters[ilvl] = self._start(levels, ilvl) if cur is None else cur + 1
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = None
        lvl = levels.get(ilvl)
        if lvl is None:
            return None
        fmt = _child_val(lvl, "numFmt") or "decimal"
        if fmt == "bullet":
            return None
        text = _child_val(lvl, "lvlText")
        if text is None:
            return None
        legal = lvl.find(_w("isLgl")) is not None

        def render(m: re.Match) -> str:
            k = int(m.group(1)) - 1
            value = counters[k] if counters[k] is not None else self._start(levels, k)
            level_fmt = "decimal" if legal else (_child_val(levels.get(k), "numFmt") or "decimal")
            return _format_number(value, level_fmt)

        return re.sub(r"%([1-9])", render, text)

    @staticmethod
    def _start(levels: dict[int, Any], ilvl: int) -> int:
        return _int(_child_val(levels.get(ilvl), "start"), 0)


def _format_number(n: int, fmt: str) -> str:
    if fmt in ("decimal", "decimalEnclosedCircle", "decimalFullWidth", "decimalHalfWidth"):
        return str(n)
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("lowerLetter", "upperLetter"):
        if n <= 0:
            return str(n)
        letter = chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt in ("lowerRoman", "upperRoman"):
        roman = _roman(n)
        return roman if fmt == "upperRoman" else roman.lower()
    if fmt == "ordinal":
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"{n}{suffix}"
    if fmt == "none":
        return ""
    return str(n)


def _roman(n: int) -> str:
    if n <= 0 or n >= 4000:
        return str(n)
    out = []
    for value, sym in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                       (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out.append(sym)
            n -= value
    return "".join(out)


def _ref_from_label(label: str | None) -> str | None:
    if not label:
        return None
    ref = label.strip().strip("()[]").rstrip(".):").strip()
    return ref or None

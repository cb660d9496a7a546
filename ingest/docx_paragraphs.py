"""Questions in the paragraphs of a Word document (outside tables): a
paragraph that asks, one followed by a placeholder or a "Response:"
paragraph, a prompt with checkbox options inline or in the paragraphs below
it. See ingest/docx_format.py for the rules."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ingest.docx_cells import _BRACKETS, _LEAD_REF, _PLACEHOLDER_TEXT, _Found, _kind_for
from ingest.docx_xml import _Scan, _clean
from ingest.model import Locator, Question
from ingest.vocabulary import ANSWER_LABEL, NOT_QUESTION_HEADS, PROMPT_IMPERATIVES, YES_NO_HINT

if TYPE_CHECKING:
    from ingest.docx_read import _Reader


class _ParagraphReader:
    """Reads the paragraphs no table or control claimed, after the tables were read."""

    def __init__(self, reader: "_Reader"):
        self.reader = reader

    def _next_paragraph(self, pos: int, max_empty: int = 2) -> int | None:
        """The next non-empty paragraph right after pos (no table between)."""
        empties = 0
        for k in range(pos + 1, len(self.reader.blocks)):
            if self.reader.blocks[k][0] != "p":
                return None
            info = self.reader.pinfo[k]
            if info["flat"] or info["scan"].boxes or info["scan"].marker:
                return k
            empties += 1
            if empties > max_empty:
                return None
        return None

    def _introduces_table(self, pos: int) -> bool:
        """Whether the paragraph at pos introduces the table of questions after it: it comes right
        before the table, or it says "below" with at most one short caption in between."""
        text = self.reader.pinfo[pos]["flat"].lower()
        allowed = 1 if re.search(r"\bbelow\b", text) else 0
        captions = 0
        empties = 0
        for k in range(pos + 1, min(len(self.reader.blocks), pos + 8)):
            kind = self.reader.blocks[k][0]
            if kind == "t":
                result = self.reader.table_results.get(k)
                return bool(result and result.found)
            info = self.reader.pinfo[k]
            if not info["flat"]:
                empties += 1
                if empties > 3:
                    return False
                continue
            captions += 1
            if captions > allowed or len(info["flat"].split()) > 15:
                return False
        return False

    def read(self) -> list[_Found]:
        out: list[_Found] = []
        positions = [k for k, b in enumerate(self.reader.blocks) if b[0] == "p"]
        for pos in positions:
            if pos in self.reader.consumed:
                continue
            info = self.reader.pinfo[pos]
            scan: _Scan = info["scan"]
            flat = info["flat"]
            if scan.marker or (not flat and not scan.boxes):
                continue
            if scan.boxes:
                q = self._inline_choice(pos, info)
                if q is not None:
                    self.reader.consumed.add(pos)
                    out.append(_Found((pos, 0, 0), q))
                continue
            if info["heading"] and not flat.endswith("?"):
                continue
            nxt = self._next_paragraph(pos)
            # a prompt followed by paragraphs of options
            if nxt is not None and nxt not in self.reader.consumed:
                group = self._option_group(nxt)
                if group:
                    q = self._question_with_option_paragraphs(pos, info, group)
                    self.reader.consumed.update([pos, *group])
                    out.append(_Found((pos, 0, 0), q))
                    continue
            anchor = pos
            follows_placeholder = False
            if nxt is not None and self._placeholder_paragraph(nxt):
                anchor = nxt
                follows_placeholder = True
            # a paragraph "Response: ..." below, or our own answer paragraph right after the anchor
            existing = None
            label_answer = None
            if nxt is not None and not follows_placeholder and ANSWER_LABEL.match(self.reader.pinfo[nxt]["scan"].text):
                label_answer = nxt
            after = anchor + 1
            if (label_answer is None and after < len(self.reader.blocks) and self.reader.blocks[after][0] == "p"
                    and self.reader.pinfo[after]["scan"].marker):
                existing = self.reader.pinfo[after]["scan"].text.strip() or None
            asks, kind, options = _paragraph_asks(flat, numbered=info["label"] is not None)
            if not (asks or follows_placeholder or existing is not None or label_answer is not None):
                continue
            if asks and not follows_placeholder and existing is None and label_answer is None:
                if not flat.rstrip().endswith("?") and self._introduces_table(pos):
                    continue  # a caption for the table of questions below
            text, ref = self.reader._text_and_ref(info)
            if label_answer is not None:
                m = ANSWER_LABEL.match(self.reader.pinfo[label_answer]["scan"].text)
                rest = _clean(m.group(2)) if m else ""
                locator = Locator(paragraph=self.reader.blocks[label_answer][1])
                existing = rest if rest and not _PLACEHOLDER_TEXT.match(rest) else None
                self.reader.consumed.add(label_answer)
            else:
                locator = Locator(paragraph=self.reader.blocks[anchor][1], insert_after=True)
            if follows_placeholder:
                self.reader.consumed.add(anchor)
            self.reader.consumed.add(pos)
            q = Question(
                text=text,
                answer_at=locator,
                ref=ref,
                section=self.reader._section_of_paragraph(pos),
                answer_kind=kind,
                options=options,
                existing_answer=existing,
            )
            out.append(_Found((pos, 0, 0), q))
        return out

    def _placeholder_paragraph(self, pos: int) -> bool:
        info = self.reader.pinfo[pos]
        scan = info["scan"]
        if scan.boxes or scan.marker:
            return False
        flat = info["flat"]
        if scan.placeholder and flat:
            return True
        m = re.fullmatch(r"\[([^\[\]]+)\]\.?", flat)
        return bool(m and _instruction(m.group(1))) or bool(flat and _PLACEHOLDER_TEXT.match(flat) and not flat.startswith("["))

    def _option_group(self, start: int) -> list[int]:
        """Consecutive paragraphs that hold only checkbox options, from start."""
        group: list[int] = []
        k = start
        while k < len(self.reader.blocks) and self.reader.blocks[k][0] == "p":
            info = self.reader.pinfo[k]
            scan = info["scan"]
            if not scan.boxes:
                if info["flat"] or not group:
                    break
                k += 1
                continue
            if not _options_only(scan):
                break
            group.append(k)
            k += 1
        return group

    def _question_with_option_paragraphs(self, pos: int, info, group: list[int]) -> Question:
        marks: list[tuple[str, Locator]] = []
        checked: list[str] = []
        for k in group:
            loc = Locator(paragraph=self.reader.blocks[k][1])
            for box in self.reader.pinfo[k]["scan"].boxes:
                if box.label and box.label not in dict(marks):
                    marks.append((box.label, loc))
                    if box.checked:
                        checked.append(box.label)
        options = [m[0] for m in marks]
        text, ref = self.reader._text_and_ref(info)
        first = marks[0][1] if marks else Locator(paragraph=self.reader.blocks[group[0]][1])
        return Question(
            text=text,
            answer_at=Locator(paragraph=first.paragraph, marks=tuple(marks)),
            ref=ref,
            section=self.reader._section_of_paragraph(pos),
            answer_kind=_kind_for(options),
            options=options,
            existing_answer="; ".join(checked) or None,
        )

    def _inline_choice(self, pos: int, info) -> Question | None:
        """"Do you ...? ☐ Yes ☐ No" in one paragraph."""
        scan: _Scan = info["scan"]
        first = scan.boxes[0]
        before = _clean(scan.text[: first.pos])
        labels = [b.label for b in scan.boxes]
        if len(before.split()) < 2 or not all(labels) or before.endswith(tuple(labels)):
            return None
        loc = Locator(paragraph=self.reader.blocks[pos][1])
        marks = tuple((b.label, loc) for b in scan.boxes)
        options = [b.label for b in scan.boxes]
        fake = dict(info)
        fake["flat"] = before
        text, ref = self.reader._text_and_ref(fake)
        return Question(
            text=text,
            answer_at=Locator(paragraph=loc.paragraph, marks=marks),
            ref=ref,
            section=self.reader._section_of_paragraph(pos),
            answer_kind=_kind_for(options),
            options=options,
            existing_answer="; ".join(b.label for b in scan.boxes if b.checked) or None,
        )


def _options_only(scan: _Scan) -> bool:
    """A paragraph of checkboxes and their short labels, nothing else."""
    if not scan.boxes:
        return False
    before = _clean(scan.text[: scan.boxes[0].pos])
    return len(before.split()) <= 1 and all(b.label and len(b.label.split()) <= 8 for b in scan.boxes)


def _instruction(text: str) -> bool:
    t = text.strip()
    if not t:
        return False
    if YES_NO_HINT.search(t):
        return True
    first = re.sub(r"[^a-z]", "", t.split()[0].lower())
    return first in PROMPT_IMPERATIVES or first in {"insert", "enter", "type", "state", "fill", "write", "yes"}


def _strip_brackets(text: str) -> str:
    return _clean(_BRACKETS.sub(" ", text))


def _paragraph_asks(flat: str, numbered: bool) -> tuple[bool, str, list[str] | None]:
    """Whether a paragraph is a question by itself; its answer kind and options."""
    t = flat
    m = _LEAD_REF.match(t)
    if m:
        t = t[m.end():]
        numbered = True
    options: list[str] | None = None
    kind = "text"
    hint = None
    for inner in _BRACKETS.findall(t):
        yn = YES_NO_HINT.search(inner)
        if yn:
            hint = [g for g in yn.groups() if g]
            break
    if hint:
        kind = "yes_no_na"  # the place is free text: "No. <explanation>" goes there, so no fixed options
    words = t.split()
    if len(words) < 2:
        return False, kind, options
    head = re.sub(r"[^a-z]", "", words[0].lower())
    if head in NOT_QUESTION_HEADS and not t.rstrip().endswith("?"):
        return False, kind, options
    qpos = t.rfind("?")
    if qpos >= 0:
        before = t[:qpos]
        tail = _strip_brackets(t[qpos + 1 :])
        if len(before.split()) >= 3 and len(tail.split()) <= 12:
            return True, kind, options
    if any(_instruction(b) for b in _BRACKETS.findall(t)):
        return True, kind, options
    if numbered:
        if head in PROMPT_IMPERATIVES and len(words) >= 3:
            return True, kind, options
        if t.rstrip().endswith(":") and len(words) <= 15:
            return True, kind, options
    return False, kind, options
